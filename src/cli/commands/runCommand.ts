import { jsonForTerminal, quoted } from '../../core/text/untrustedText.js';
import { assertWithinComputeBudget, DEFAULT_MAX_MACS } from '../../core/engine/computeBudget.js';
import { HOST_HEAP_BYTES, loadModel, performInference } from '../../core/engine/firmwareEngine.js';
import { argmaxOrNull, countNonFinite, describeNonFinite } from '../../core/engine/nonFinite.js';
import { readModelInput } from '../../core/engine/readModelInput.js';
import { readModelFile } from '../../core/modelFile.js';
import { UsageError } from '../cliIo.js';
import { heapOption, integerOption, MAX_HEAP_KB, stringList, type CommandSpec } from '../commandSpec.js';
import { formatFloat32 } from '../format.js';

/**
 * Largest --heap: 16 MB, twice the RAM of the biggest RP2350 board (8 MB of PSRAM). The host
 * engine really allocates the scratch buffers, so this also bounds what a run can allocate.
 */

export const runCommand: CommandSpec = {
  name: 'run',
  summary: 'run a model on the host engine, exactly as the firmware would',
  usage: 'run <model.bin|model.onnx> --input x.bin [--input y.bin …] [--heap KB] [--max-macs N] [--json]',
  details: [
    '--input FILE    raw little-endian float32 input (as read into array(\'f\') on the board); repeatable',
    `--heap KB       heap load_model may use (default ${HOST_HEAP_BYTES / 1024}, the SRAM of the largest Pico; at most ${MAX_HEAP_KB}); beyond it MemoryError`,
    `--max-macs N    refuse, before running, a model needing more than N MACs per inference (default ${DEFAULT_MAX_MACS}, about`,
    '                5 minutes on a Pico; every kernel or pooling-window position the loops visit counts as one)',
    '--json          print outputs and argmax as JSON; when an output is NaN or infinite, "argmax" is null,',
    '                such outputs are null and "nonFinite" says which they were',
    'Prints the outputs one per line (with several inputs, each block starts with "# FILE");',
    'NaN or infinite outputs are named on stderr.',
  ].join('\n'),
  options: {
    input: { type: 'string', short: 'i', multiple: true }, heap: { type: 'string' }, 'max-macs': { type: 'string' }, json: { type: 'boolean' },
  },
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('run takes exactly one model file');
    const inputs = stringList(args, 'input');
    if (!inputs.length) throw new UsageError('run needs --input FILE');
    const heapBytes = heapOption(args, HOST_HEAP_BYTES / 1024);
    const maxMacs = integerOption(args, 'max-macs', DEFAULT_MAX_MACS, 1, Number.MAX_SAFE_INTEGER);
    const model = loadModel(readModelFile(args.positionals[0]).blob, { heapBytes });
    assertWithinComputeBudget(model.blob.records, maxMacs);
    // Every input is checked before the first runs: a wrong one is named, and nothing is printed.
    const files = inputs.map((path) => ({ path, bytes: readModelInput(path, model.inputElements) }));
    const results = files.map(({ path, bytes }) => {
      const outputs = Array.from(performInference(model, bytes));
      return { path, outputs, argmax: argmaxOrNull(outputs), nonFinite: describeNonFinite(countNonFinite(outputs)) };
    });
    for (const r of results) {
      if (r.nonFinite) io.err(`cpml run: warning: the outputs for ${quoted(r.path)} are not finite (${r.nonFinite}): no argmax\n`);
    }
    if (args.values.json) {
      // JSON has no NaN or Infinity: such outputs print as null, and "nonFinite" says which they were.
      const json = results.map((r) => ({ input: r.path, outputs: r.outputs, argmax: r.argmax, ...(r.nonFinite === undefined ? {} : { nonFinite: r.nonFinite }) }));
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
