import { jsonForTerminal } from '../../core/text/untrustedText.js';
import { basename } from 'node:path';
import { convertGraph } from '../../core/convert.js';
import { DEFAULT_MAX_MACS } from '../../core/engine/computeBudget.js';
import { readModelInput } from '../../core/engine/readModelInput.js';
import { DEFAULT_TOLERANCE, inputElementsOf, randomSamples, validateModel, type ValidationSample } from '../../core/engine/validateModel.js';
import { loadOnnxFile } from '../../core/onnx/loadOnnxFile.js';
import { UsageError } from '../cliIo.js';
import { integerOption, numberOption, stringList, type CommandSpec } from '../commandSpec.js';
import { formatSci, formatTable } from '../format.js';

export const validateCommand: CommandSpec = {
  name: 'validate',
  summary: 'compare the ONNX model with its converted blob on the host',
  usage: 'validate <model.onnx> [--input x.bin …] [--samples N] [--seed S] [--tolerance T] [--max-macs N] [--json]',
  details: [
    '--input FILE      a float32 input to compare on; repeatable (default: seeded random inputs in [0, 1))',
    '--samples N       number of random inputs when no --input is given (default 8)',
    '--seed S          seed of the random inputs (default 1)',
    `--tolerance T     allowed max abs error, relative to max(1, max |reference output|) (default ${DEFAULT_TOLERANCE})`,
    `--max-macs N      refuse, before running, a model needing more than N MACs per inference (default ${DEFAULT_MAX_MACS})`,
    '--json            print the comparison as JSON (a failing sample says why in "reason")',
    'The reference runs the original ONNX graph op by op in float64; the candidate is the converted',
    'blob on the host engine (float32, bit-faithful to the firmware). Exit status 1 when it fails;',
    'NaN or infinite outputs (reference or blob) always fail.',
  ].join('\n'),
  options: {
    input: { type: 'string', short: 'i', multiple: true }, samples: { type: 'string' }, seed: { type: 'string' },
    tolerance: { type: 'string' }, 'max-macs': { type: 'string' }, json: { type: 'boolean' },
  },
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('validate takes exactly one .onnx model');
    const count = numberOption(args, 'samples', 8, (n) => Number.isInteger(n) && n > 0 && n <= 10000, 'an integer from 1 to 10000');
    const seed = numberOption(args, 'seed', 1, Number.isInteger, 'an integer');
    const tolerance = numberOption(args, 'tolerance', DEFAULT_TOLERANCE, (n) => n >= 0, 'a non-negative number');
    const maxMacs = integerOption(args, 'max-macs', DEFAULT_MAX_MACS, 1, Number.MAX_SAFE_INTEGER);
    const path = args.positionals[0];
    const conversion = convertGraph(loadOnnxFile(path));
    const n = inputElementsOf(conversion);
    const files = stringList(args, 'input');
    const samples: ValidationSample[] = files.length
      ? files.map((file) => ({ label: basename(file), input: new Float32Array(readModelInput(file, n).buffer, 0, n) }))
      : randomSamples(n, count, seed);
    const result = validateModel(conversion, samples, tolerance, { maxMacs });
    if (args.values.json) {
      io.out(jsonForTerminal({ model: path, ...result }) + '\n');
      return result.pass ? 0 : 1;
    }
    io.out(`Validating ${basename(path)}: ONNX reference (float64) vs the converted blob on the host engine (float32, as the firmware)\n\n`);
    io.out(formatTable(['sample', 'max abs err', 'RMSE', 'rel L2', 'cosine', 'argmax', 'result'],
      result.samples.map((s) => [
        s.label, formatSci(s.maxAbsError), formatSci(s.rmse), formatSci(s.relativeL2), s.cosine.toFixed(7),
        `${s.argmaxCandidate ?? 'none'} ${s.argmaxAgrees ? '=' : '≠'} ${s.argmaxReference ?? 'none'}`,
        s.pass ? 'ok' : `FAIL (${s.reason})`,
      ]), 'lrrrrll'));
    const o = result.overall;
    io.out(`\nOverall (${o.samples} samples): max abs error ${formatSci(o.maxAbsError)}, RMSE ${formatSci(o.rmse)}, relative L2 ${formatSci(o.relativeL2)}, cosine ≥ ${o.cosineMin.toFixed(7)}, argmax agreement ${Math.round(o.argmaxAgreement * o.samples)}/${o.samples}\n`);
    const failed = result.samples.filter((s) => !s.pass).length;
    io.out(result.pass
      ? `PASS: every sample within tolerance ${tolerance} × max(1, max |reference|)\n`
      : o.nonFiniteSamples
        ? `FAIL: ${failed} sample(s) fail, ${o.nonFiniteSamples} with NaN or infinite values (the reasons are in the table)\n`
        : `FAIL: ${failed} sample(s) exceed tolerance ${tolerance} × max(1, max |reference|)\n`);
    return result.pass ? 0 : 1;
  },
};
