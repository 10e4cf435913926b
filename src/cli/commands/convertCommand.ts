import { describeRewrites } from '../../core/onnx/lowerGraph.js';
import { statSync } from 'node:fs';
import { jsonForTerminal, quoted } from '../../core/text/untrustedText.js';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { convertOnnxFileTo } from '../../core/convert.js';
import { UsageError } from '../cliIo.js';
import { stringOption, type CommandSpec } from '../commandSpec.js';
import { formatBytes } from '../format.js';

export function defaultBlobPath(onnxPath: string): string {
  const ext = extname(onnxPath);
  return join(dirname(onnxPath), basename(onnxPath, ext) + '.bin');
}

/** The same file by path, or through a symlink or hard link (same device and inode). */
function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    const sa = statSync(a), sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false; // one of them does not exist (yet): not the same file
  }
}

export const convertCommand: CommandSpec = {
  name: 'convert',
  summary: 'convert an ONNX model to a cnn_helper blob',
  usage: 'convert <model.onnx> [-o out.bin] [--force] [--json]',
  details: [
    '-o, --output FILE   where to write the blob (default: next to the model, .bin);',
    '                    only a regular file is written or replaced, never a folder, device or FIFO',
    '--force             replace an existing output even if it is read-only (it keeps its mode)',
    '--json              print the result as JSON',
  ].join('\n'),
  options: { output: { type: 'string', short: 'o' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('convert takes exactly one model file');
    const input = args.positionals[0];
    const output = stringOption(args, 'output') ?? defaultBlobPath(input);
    if (output === '') throw new UsageError('-o needs a file name');
    if (sameFile(output, input)) throw new UsageError(`the output ${quoted(output, 500)} is the input model; choose another -o`);
    const c = convertOnnxFileTo(input, output, { force: args.values.force === true, forceHint: 'pass --force to replace it' });
    if (args.values.json) {
      io.out(jsonForTerminal({ input, output, layers: c.layers.length, bytes: c.blob.length, rewrites: describeRewrites(c.rewrites), notes: c.notes, warnings: c.warnings }) + '\n');
    } else {
      io.out(`Converted ${input} → ${output} (${c.layers.length} layers, ${formatBytes(c.blob.length)})\n`);
      for (const rewrite of describeRewrites(c.rewrites)) io.out(`  rewrite: ${rewrite}\n`);
      for (const note of c.notes) io.out(`  note: ${note}\n`);
      for (const warning of c.warnings) io.out(`  warning: ${warning}\n`);
    }
    return 0;
  },
};
