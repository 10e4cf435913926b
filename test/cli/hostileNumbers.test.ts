// Hostile numbers through the command line: blobs whose sizes wrap in the firmware's 32-bit
// arithmetic, compute bombs, inputs and weights that overflow float32, and inputs of the wrong
// size. Each gets exit 1 and one paragraph naming what and how to fix it, never a stack trace,
// and nothing is written where it was refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { floatBytes } from '../support/blobBuilder.js';
import { convBombBlob, wrappingFlattenBlob } from '../support/hostileBlobs.js';
import { buildModel } from '../support/onnxBuilder.js';
import { makeDrive, snapshot } from '../deploy/deploySupport.js';
import { cpml, EXAMPLE } from './cliHarness.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cpml-hostile-'));
const SAMPLE = `${EXAMPLE}/mnist_samples/sample_00.bin`;

function file(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** One paragraph on stderr, no stack trace. */
function assertOneParagraph(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at |Error: /, stderr);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
}

/** Gemm 4 → 3 whose first weight is `w0`. */
function denseOnnx(w0: number): Uint8Array {
  return buildModel({
    inputs: [{ name: 'x', dims: [1, 4] }],
    outputs: [{ name: 'y', dims: [1, 3] }],
    initializers: [{ name: 'fc.weight', dims: [3, 4], data: [w0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1] }, { name: 'fc.bias', dims: [3], data: [0, 0, 0] }],
    nodes: [{ op: 'Gemm', name: 'fc', inputs: ['x', 'fc.weight', 'fc.bias'], outputs: ['y'], attributes: { transB: 1 } }],
  });
}

describe('blobs that overflow the firmware\'s 32-bit size arithmetic', () => {
  it('inspect: exit 1 with "would crash the board", the product and what it wraps to; no MemoryError warning', async () => {
    const blob = file(tmp(), 'wrap.bin', wrappingFlattenBlob());
    const r = await cpml('inspect', blob);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /error: layer 0: would crash the board: scratch buffers .*1073741825 elements × 4 bytes = 4294967300, which the firmware computes in 32 bits \(size_t\) as 4: load_model would allocate only 4 bytes/);
    assert.doesNotMatch(r.stdout, /MemoryError/);
    const json = JSON.parse((await cpml('inspect', blob, '--json')).stdout);
    assert.ok(json.errors.some((e: string) => /would crash the board/.test(e)));
  });

  it('run: exit 1, one paragraph, before reading any input', async () => {
    const dir = tmp();
    const blob = file(dir, 'wrap.bin', wrappingFlattenBlob());
    const r = await cpml('run', blob, '--input', file(dir, 'x.bin', new Uint8Array(4)), '--heap', '16384');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /would crash the board: scratch buffers .* as 4/);
    assertOneParagraph(r.stderr);
  });

  it('deploy: refused, and the drive is left exactly as it was', async () => {
    const blob = file(tmp(), 'wrap.bin', wrappingFlattenBlob());
    const drive = makeDrive('print("mine")\n');
    const before = snapshot(drive);
    const r = await cpml('deploy', blob, '--drive', drive, '--heap', '16384');
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /wrap\.bin must not be deployed: layer 0: would crash the board: scratch buffers/);
    assert.deepEqual(snapshot(drive), before);
  });

  it('convert: an ONNX Flatten of 2^30 + 1 values is refused naming the node; no blob is written', async () => {
    const dir = tmp();
    const onnx = file(dir, 'wide.onnx', buildModel({
      inputs: [{ name: 'x', dims: [1, 205, 305, 17173] }],
      outputs: [{ name: 'y', dims: [1, 205 * 305 * 17173] }],
      nodes: [{ op: 'Flatten', name: 'flat', inputs: ['x'], outputs: ['y'] }],
    }));
    const r = await cpml('convert', onnx, '-o', join(dir, 'wide.bin'));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /node 'flat' \(#0, Flatten\): would crash the board: scratch buffers .* as 4/);
    assertOneParagraph(r.stderr);
    assert.deepEqual(readdirSync(dir), ['wide.onnx']);
  });
});

describe('compute bombs', () => {
  it('inspect: exit 0 with a loud warning (board time in hours, the layer)', async () => {
    const r = await cpml('inspect', file(tmp(), 'bomb.bin', convBombBlob()));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^warning: VERY SLOW: estimated [\d,.]+ hours per inference on the board; layer 0 \(Conv2D 1×200×200 → 1×200×200, kernel 127, stride 1, padding 63\) does 0\.1% of the work, as do 999 more layers; 645,160,000,000 MACs/m);
  });

  it('run and validate refuse before running, with the estimate and the flag to pass', async () => {
    const dir = tmp();
    const started = Date.now();
    const r = await cpml('run', file(dir, 'bomb.bin', convBombBlob()), '--input', file(dir, 'x.bin', new Uint8Array(40000 * 4)));
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /the model needs 645,160,000,000 MACs \(188,568,576,000 of them padding taps, pooling windows or element operations the loops also visit\) per inference, more than the limit of 250,000,000: estimated [\d,.]+ hours per inference on the board; layer 0 \(Conv2D .*\) does 0\.1% of the work.*--max-macs 645160000000/);
    assertOneParagraph(r.stderr);
    assert.ok(Date.now() - started < 60_000, 'it ran the model instead of refusing it');
    // One Conv 1 → 1 with a 127×127 kernel on 200×200 as ONNX: 645 million taps.
    const onnx = file(dir, 'heavy.onnx', buildModel({
      inputs: [{ name: 'x', dims: [1, 1, 200, 200] }],
      outputs: [{ name: 'y', dims: [1, 1, 200, 200] }],
      initializers: [{ name: 'w', dims: [1, 1, 127, 127], data: new Float32Array(127 * 127) }, { name: 'b', dims: [1], data: [0] }],
      nodes: [{ op: 'Conv', name: 'big', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { pads: [63, 63, 63, 63], kernel_shape: [127, 127] } }],
    }));
    const v = await cpml('validate', onnx, '--samples', '1');
    assert.equal(v.status, 1, v.stdout + v.stderr);
    assert.match(v.stderr, /645,160,000 MACs \([\d,]+ of them .*\) per inference, more than the limit of 250,000,000: estimated [\d.]+ minutes per inference on the board; layer 0 \(Conv2D/);
  });

  it('--max-macs sets the limit: the example is refused under its own count and runs at it', async () => {
    const refused = await cpml('run', `${EXAMPLE}/model.bin`, '--input', SAMPLE, '--max-macs', '1000');
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /MACs \([\d,]+ of them .*\) per inference, more than the limit of 1,000/);
    const needed = Number(/--max-macs (\d+)/.exec(refused.stderr)?.[1]);
    assert.equal((await cpml('run', `${EXAMPLE}/model.bin`, '--input', SAMPLE, '--max-macs', String(needed))).status, 0);
    assert.equal((await cpml('run', `${EXAMPLE}/model.bin`, '--input', SAMPLE, '--max-macs', String(needed - 1))).status, 1);
    assert.equal((await cpml('validate', `${EXAMPLE}/model.onnx`, '--samples', '1', '--max-macs', '1000')).status, 1);
    for (const bad of ['1e9', '0', '-5', 'lots', '2.5']) {
      const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', SAMPLE, `--max-macs=${bad}`);
      assert.equal(r.status, 2, bad);
      assert.match(r.stderr, /--max-macs must be a whole number from 1 to/);
    }
  });

  it('--heap is bounded (the host engine really allocates the scratch buffers)', async () => {
    const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', SAMPLE, '--heap', '1e12');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--heap must be a positive number of kilobytes, at most 16384/);
  });
});

describe('non-finite numbers', () => {
  it('validate with huge inputs: FAIL with the reason, exit 1; JSON says pass false with a reason', async () => {
    const dir = tmp();
    const huge = file(dir, 'huge.bin', floatBytes(new Float32Array(900).fill(3.4e38)));
    const r = await cpml('validate', `${EXAMPLE}/model.onnx`, '--input', huge);
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stdout, /FAIL \(the ONNX reference outputs are not finite \(.* values\)\)/);
    assert.match(r.stdout, /^FAIL: 1 sample\(s\) fail, 1 with NaN or infinite values/m);
    assert.doesNotMatch(r.stdout, /^PASS/m);
    const j = await cpml('validate', `${EXAMPLE}/model.onnx`, '--input', huge, '--json');
    assert.equal(j.status, 1);
    const json = JSON.parse(j.stdout);
    assert.equal(json.pass, false);
    assert.equal(json.samples[0].pass, false);
    assert.match(json.samples[0].reason, /not finite/);
    assert.equal(json.overall.nonFiniteSamples, 1);
  });

  it('run --json: argmax null and the non-finite outputs named when the weights are NaN; a warning on stderr in text mode', async () => {
    const dir = tmp();
    const onnx = file(dir, 'nan.onnx', denseOnnx(NaN));
    const input = file(dir, 'x.bin', floatBytes([1, 2, 3, 4]));
    const j = await cpml('run', onnx, '--input', input, '--json');
    assert.equal(j.status, 0, j.stderr);
    const json = JSON.parse(j.stdout);
    assert.equal(json.argmax, null);
    assert.deepEqual(json.outputs, [null, 10, 10]);
    assert.equal(json.nonFinite, 'NaN in 1 of 3 values');
    const t = await cpml('run', onnx, '--input', input);
    assert.deepEqual(t.stdout.trim().split('\n'), ['nan', '10', '10']);
    assert.match(t.stderr, /warning: the outputs for '.*x\.bin' are not finite \(NaN in 1 of 3 values\): no argmax/);
    // Finite outputs keep their argmax.
    assert.equal(JSON.parse((await cpml('run', file(dir, 'ok.onnx', denseOnnx(5)), '--input', input, '--json')).stdout).argmax, 0);
  });

  it('convert and inspect warn about NaN and infinite weights, naming the tensor and the node', async () => {
    const dir = tmp();
    const onnx = file(dir, 'inf.onnx', denseOnnx(Infinity));
    const c = await cpml('convert', onnx, '-o', join(dir, 'inf.bin'));
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /warning: initializer 'fc\.weight', read by node 'fc' \(#0, Gemm\), holds \+Infinity in 1 of 12 values/);
    assert.ok(existsSync(join(dir, 'inf.bin')));
    const cj = JSON.parse((await cpml('convert', onnx, '-o', join(dir, 'inf2.bin'), '--json')).stdout);
    assert.match(cj.warnings[0], /'fc\.weight'/);
    const i = await cpml('inspect', onnx);
    assert.equal(i.status, 0);
    assert.match(i.stdout, /^warning: initializer 'fc\.weight', read by node 'fc' \(#0, Gemm\), holds \+Infinity/m);
  });
});

describe('inputs of the wrong size', () => {
  it('run with several --input names the one of the wrong size, and prints no outputs', async () => {
    const dir = tmp();
    const short = file(dir, 'short.bin', new Uint8Array(100));
    const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', SAMPLE, '--input', short, '--input', SAMPLE);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /ValueError\("wrong input size"\): The model expects 900 float32 values \(3600 bytes\), got 100 bytes in '.*short\.bin'/);
    assertOneParagraph(r.stderr);
  });

  it('a huge input file is refused by its size, without reading it', async () => {
    const dir = tmp();
    const big = join(dir, 'big.bin');
    writeFileSync(big, '');
    spawnSync('truncate', ['-s', '2G', big]);
    const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', big);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /got 2147483648 bytes in '.*big\.bin'/);
    const v = await cpml('validate', `${EXAMPLE}/model.onnx`, '--input', big);
    assert.equal(v.status, 1);
    assert.match(v.stderr, /got 2147483648 bytes in '.*big\.bin'/);
  });
});

describe('the same through dist/cli.js', () => {
  it('exit 1 and one paragraph for a wrapping blob and a bomb (no stack trace, not 70)', { skip: !existsSync('dist/cli.js') && 'run npm run build first' }, () => {
    const dir = tmp();
    for (const [name, bytes] of [['wrap.bin', wrappingFlattenBlob()], ['bomb.bin', convBombBlob()]] as const) {
      const blob = file(dir, name, bytes);
      const r = spawnSync(process.execPath, ['dist/cli.js', 'run', blob, '--input', file(dir, 'x.bin', new Uint8Array(4))], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 1, `${name}: ${r.stderr}`);
      assertOneParagraph(r.stderr);
    }
  });
});
