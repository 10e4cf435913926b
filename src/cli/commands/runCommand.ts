import { jsonForTerminal } from '../../core/text/untrustedText.js';
import { HOST_HEAP_BYTES, loadModel, performInference } from '../../core/engine/firmwareEngine.js';
import { readFileChecked } from '../../core/files/readFileChecked.js';
import { UsageError } from '../cliIo.js';
import { numberOption, stringList, type CommandSpec } from '../commandSpec.js';
import { formatFloat32 } from '../format.js';
import { readModelArgument } from '../modelArgument.js';

export const runCommand: CommandSpec = {
  name: 'run',
  summary: 'run a model on the host engine, exactly as the firmware would',
  usage: 'run <model.bin|model.onnx> --input x.bin [--input y.bin …] [--heap KB] [--json]',
  details: [
    '--input FILE   raw little-endian float32 input (as read into array(\'f\') on the board); repeatable',
    `--heap KB      heap load_model may use (default ${HOST_HEAP_BYTES / 1024}, the SRAM of the largest Pico); beyond it MemoryError`,
    '--json         print outputs and argmax as JSON',
    'Prints the outputs one per line (with several inputs, each block starts with "# FILE").',
  ].join('\n'),
  options: { input: { type: 'string', short: 'i', multiple: true }, heap: { type: 'string' }, json: { type: 'boolean' } },
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('run takes exactly one model file');
    const inputs = stringList(args, 'input');
    if (!inputs.length) throw new UsageError('run needs --input FILE');
    const heapKb = numberOption(args, 'heap', HOST_HEAP_BYTES / 1024, (n) => n > 0, 'a positive number of kilobytes');
    const model = loadModel(readModelArgument(args.positionals[0]).blob, { heapBytes: Math.round(heapKb * 1024) });
    const results = inputs.map((path) => ({ path, outputs: Array.from(performInference(model, readFileChecked(path))) }));
    if (args.values.json) {
      const json = results.map((r) => ({ input: r.path, outputs: r.outputs, argmax: argmax(r.outputs) }));
      io.out(jsonForTerminal(json.length === 1 ? json[0] : json) + '\n');
      return 0;
    }
    for (const r of results) {
      if (results.length > 1) io.out(`# ${r.path}\n`);
      io.out(r.outputs.map(formatFloat32).join('\n') + '\n');
    }
    return 0;
  },
};

function argmax(values: number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
