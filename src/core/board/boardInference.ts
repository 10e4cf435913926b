// The Python a board job runs to load a blob and run inputs through cnn_helper, and the parsing
// of what it prints. The outputs come back exactly: the float32 bits as hex of struct.pack, not
// printed decimals; each inference is timed with time.monotonic_ns over several repetitions.
import { CpmlError } from '../errors.js';
import { quoted } from '../text/untrustedText.js';

export interface InferenceJob {
  /** The blob on the board's drive, e.g. "cpml/model.bin" (relative to the drive's root). */
  blob: string;
  /** Raw float32 inputs on the drive. */
  inputs: string[];
  /** Timed runs per input (the outputs of the first are reported). Default 3. */
  repetitions?: number;
}

export interface BoardInference {
  input: string;
  output: Float32Array;
  /** perform_inference of each repetition, in ms, as the board's clock measured it. */
  ms: number[];
}

/** The board's firmware has no cnn_helper module (stock CircuitPython). */
export class NoCnnHelperError extends CpmlError {
  constructor() {
    super('this board\'s CircuitPython has no cnn_helper module', 'Flash a CircuitPython build that includes it (code2k13/cp-cnn-extension)');
  }
}

/** Python literal for a path on the drive: only plain relative paths are accepted. */
function pyPath(path: string): string {
  if (!/^[A-Za-z0-9_./-]{1,200}$/.test(path) || path.startsWith('/') || path.split('/').includes('..')) {
    throw new CpmlError(`${quoted(path)} is not a plain path on the board's drive`);
  }
  return `'${path}'`; // relative: CircuitPython's working folder is the drive's root
}

export function inferenceJobCode(job: InferenceJob): string {
  const reps = Math.max(1, Math.min(100, Math.floor(job.repetitions ?? 3)));
  return [
    'import array, struct, time, binascii',
    'try:',
    '    import cnn_helper',
    'except ImportError:',
    "    print('CPML-NO-CNN-HELPER')",
    'else:',
    `    cnn_helper.load_model(${pyPath(job.blob)})`,
    `    for i, p in enumerate([${job.inputs.map(pyPath).join(', ')}]):`,
    "        with open(p, 'rb') as f:",
    '            data = f.read()',
    "        x = array.array('f', data)",
    '        times = []',
    `        for r in range(${reps}):`,
    '            t = time.monotonic_ns()',
    '            y = cnn_helper.perform_inference(x)',
    '            times.append(time.monotonic_ns() - t)',
    '            if r == 0:',
    "                h = binascii.hexlify(struct.pack('<%df' % len(y), *y)).decode()",
    "        print('CPML-RESULT', i, ','.join(str(v) for v in times), h)",
    '    cnn_helper.unload_model()',
    "print('CPML-DONE')",
    '',
  ].join('\n');
}

/** The results in the job's stdout; refuses output that is not the job's (bounded, escaped). */
export function parseInferenceOutput(stdout: string, job: InferenceJob): BoardInference[] {
  if (/^CPML-NO-CNN-HELPER\r?$/m.test(stdout)) throw new NoCnnHelperError();
  const results: BoardInference[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /^CPML-RESULT (\d+) ([\d,]+) ([0-9a-f]*)$/.exec(line);
    if (!m) continue;
    const index = Number(m[1]);
    if (index !== results.length || index >= job.inputs.length) throw new CpmlError(`the board's results are out of order (result ${index} after ${results.length})`);
    const hex = m[3];
    if (hex.length % 8 !== 0) throw new CpmlError(`the board sent ${hex.length / 2} output bytes for ${quoted(job.inputs[index])}, not whole float32 values`);
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    const view = new DataView(bytes.buffer);
    const output = new Float32Array(bytes.length / 4);
    for (let i = 0; i < output.length; i++) output[i] = view.getFloat32(4 * i, true);
    results.push({ input: job.inputs[index], output, ms: m[2].split(',').map((ns) => Number(ns) / 1e6) });
  }
  if (!/^CPML-DONE\r?$/m.test(stdout) || results.length !== job.inputs.length) {
    throw new CpmlError(`the board ran ${results.length} of ${job.inputs.length} inputs and stopped`, 'See the board\'s error above; the monitor shows the whole output');
  }
  return results;
}
