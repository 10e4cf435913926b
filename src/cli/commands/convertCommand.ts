import { jsonForTerminal } from '../../core/text/untrustedText.js';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { convertOnnxFileTo } from '../../core/convert.js';
import { UsageError } from '../cliIo.js';
import { stringOption, type CommandSpec } from '../commandSpec.js';
import { formatBytes } from '../format.js';

export function defaultBlobPath(onnxPath: string): string {
  const ext = extname(onnxPath);
  return join(dirname(onnxPath), basename(onnxPath, ext) + '.bin');
}

export const convertCommand: CommandSpec = {
  name: 'convert',
  summary: 'convert an ONNX model to a cnn_helper blob',
  usage: 'convert <model.onnx> [-o out.bin] [--json]',
  details: [
    '-o, --output FILE   where to write the blob (default: next to the model, .bin)',
    '--json              print the result as JSON',
  ].join('\n'),
  options: { output: { type: 'string', short: 'o' }, json: { type: 'boolean' } },
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('convert takes exactly one model file');
    const input = args.positionals[0];
    const output = stringOption(args, 'output') ?? defaultBlobPath(input);
    if (resolve(output) === resolve(input)) throw new UsageError('the output would overwrite the input model; choose another -o');
    const c = convertOnnxFileTo(input, output);
    if (args.values.json) {
      io.out(jsonForTerminal({ input, output, layers: c.layers.length, bytes: c.blob.length, notes: c.notes }) + '\n');
    } else {
      io.out(`Converted ${input} → ${output} (${c.layers.length} layers, ${formatBytes(c.blob.length)})\n`);
      for (const note of c.notes) io.out(`  note: ${note}\n`);
    }
    return 0;
  },
};
