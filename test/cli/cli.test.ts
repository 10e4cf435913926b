import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cpml, EXAMPLE } from './cliHarness.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cpml-cli-'));
const firmwareOutputs = new Map(readFileSync(`${EXAMPLE}/firmware_outputs.txt`, 'utf8').trim().split('\n').map((line) => {
  const [name, ...values] = line.trim().split(/\s+/);
  return [name, values.map(Number)] as const;
}));

describe('cpml basics', () => {
  it('prints its version from package.json', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
    const r = await cpml('--version');
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `cpml ${version}\n`);
  });

  it('lists every command in --help and exits 0', async () => {
    const r = await cpml('--help');
    assert.equal(r.status, 0);
    for (const name of ['convert', 'inspect', 'validate', 'run']) assert.match(r.stdout, new RegExp(`^  ${name} `, 'm'));
  });

  it('shows usage on stderr with status 2 when called without a command', async () => {
    const r = await cpml();
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Usage: cpml <command>/);
  });

  it('suggests a command for a typo', async () => {
    const r = await cpml('conver', 'x.onnx');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'conver' \(did you mean 'convert'\?\)/);
  });

  it('refuses unknown options and missing arguments with the usage line', async () => {
    const unknown = await cpml('convert', `${EXAMPLE}/model.onnx`, '--frobnicate');
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /--frobnicate/);
    assert.match(unknown.stderr, /Usage: cpml convert <model.onnx>/);
    const missing = await cpml('run', `${EXAMPLE}/model.bin`);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /needs --input/);
    const badNumber = await cpml('inspect', `${EXAMPLE}/model.onnx`, '--heap', 'lots');
    assert.equal(badNumber.status, 2);
    assert.match(badNumber.stderr, /--heap must be a positive number/);
  });

  it('prints per-command help', async () => {
    const r = await cpml('validate', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /Usage: cpml validate <model.onnx>/);
    assert.match(r.stdout, /--tolerance/);
  });
});

describe('cpml convert', () => {
  it('writes the reference converter\'s bytes next to the model by default', async () => {
    const dir = tmp();
    copyFileSync(`${EXAMPLE}/model.onnx`, join(dir, 'digits.onnx'));
    const r = await cpml('convert', join(dir, 'digits.onnx'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /11 layers, 7.1 KB/);
    assert.deepEqual(readFileSync(join(dir, 'digits.bin')), readFileSync(`${EXAMPLE}/model.bin`));
  });

  it('refuses an unsupported model naming the node, and writes nothing', async () => {
    const dir = tmp();
    const out = join(dir, 'out.bin');
    const r = await cpml('convert', 'test/fixtures/models/refuse_sigmoid.onnx', '-o', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /node '\/1\/Sigmoid' \(#1, Sigmoid\): operator Sigmoid is not supported by the firmware/);
    assert.doesNotMatch(r.stderr, /at .*\.ts:\d+/, 'no stack trace');
    assert.deepEqual(readdirSync(dir), []);
  });

  it('explains a file that is not ONNX without a stack trace', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'notes.onnx'), 'this is a text file, not a model\n');
    const r = await cpml('convert', join(dir, 'notes.onnx'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /notes.onnx is not a valid ONNX file/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.deepEqual(readdirSync(dir), ['notes.onnx']);
  });

  it('names a missing file', async () => {
    const r = await cpml('convert', 'no/such/model.onnx');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot read 'no\/such\/model.onnx': no such file/);
  });

  it('refuses to overwrite its input', async () => {
    const r = await cpml('convert', `${EXAMPLE}/model.onnx`, '-o', `${EXAMPLE}/model.onnx`);
    assert.equal(r.status, 2);
    assert.ok(existsSync(`${EXAMPLE}/model.onnx`));
  });
});

describe('cpml inspect', () => {
  it('reports layers, memory and an estimate for the example', async () => {
    const r = await cpml('inspect', `${EXAMPLE}/model.onnx`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /model.onnx: 11 layers \(converted from ONNX\)/);
    assert.match(r.stdout, /^10 +Linear +72×1×1 +10×1×1 .* Gemm '\/fc\/Gemm'$/m);
    assert.match(r.stdout, /fits the heap budget of 150.0 KB/);
    assert.match(r.stdout, /estimated [\d.]+ ms per inference/);
  });

  it('lists the rewrites of ops the firmware has no layer for, with their cost', async () => {
    const r = await cpml('inspect', 'test/fixtures/torch2/depthwise_separable.dynamo.onnx');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^rewrite: depthwise Conv '[^']+' \(#\d+\) runs as a full Conv 8→8 \(zero weights between the 8 groups\): 8× the MACs \([\d,]+\), \+[\d.]+ KB of weights$/m);
    const json = JSON.parse((await cpml('inspect', 'test/fixtures/torch2/lenet5.legacy.onnx', '--json')).stdout) as { rewrites: string[] };
    assert.equal(json.rewrites.filter((w) => /^AveragePool .* runs as a Conv/.test(w)).length, 2);
    const converted = await cpml('convert', 'test/fixtures/torch2/lenet5.legacy.onnx', '-o', join(tmp(), 'lenet.bin'));
    assert.equal(converted.status, 0, converted.stderr);
    assert.match(converted.stdout, /^ {2}rewrite: AveragePool/m);
  });

  it('gives the same numbers as JSON, for a blob too', async () => {
    const onnx = JSON.parse((await cpml('inspect', `${EXAMPLE}/model.onnx`, '--json')).stdout);
    const blob = JSON.parse((await cpml('inspect', `${EXAMPLE}/model.bin`, '--json')).stdout);
    assert.equal(onnx.totals.blobBytes, 7312);
    assert.equal(blob.kind, 'blob');
    assert.deepEqual(blob.totals, onnx.totals);
    assert.deepEqual(blob.memory, onnx.memory);
    assert.equal(onnx.layers.length, 11);
    assert.equal(onnx.layers[0].macs, 4 * 28 * 28 * 9 + 4 * (4 * 28 * 6 + 4 * 4)); // 3×3, padding 1: border taps skipped
  });

  it('warns when the model does not fit the heap budget', async () => {
    const r = await cpml('inspect', `${EXAMPLE}/model.onnx`, '--heap', '20');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /DOES NOT FIT the heap budget of 20.0 KB/);
    assert.match(r.stdout, /warning: needs [\d.]+ KB of RAM but the heap budget is 20.0 KB: [\d.]+ KB short/);
  });

  it('fails on a blob that would read outside itself', async () => {
    const dir = tmp();
    const bytes = readFileSync(`${EXAMPLE}/model.bin`);
    writeFileSync(join(dir, 'cut.bin'), bytes.subarray(0, 5000));
    const r = await cpml('inspect', join(dir, 'cut.bin'));
    assert.equal(r.status, 1);
    assert.match(r.stdout, /error: layer 10: Linear weights .* past the end of the file \(5000 bytes\)/);
  });
});

describe('cpml run', () => {
  it('prints the firmware\'s outputs, one per line, bit for bit', async () => {
    for (const name of ['sample_00.bin', 'sample_14.bin']) {
      const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', `${EXAMPLE}/mnist_samples/${name}`);
      assert.equal(r.status, 0, r.stderr);
      const got = r.stdout.trim().split('\n').map(Number);
      assert.deepEqual(got.map(Math.fround), firmwareOutputs.get(name)!.map(Math.fround));
    }
  });

  it('runs an ONNX model by converting it in memory, with --json', async () => {
    const r = await cpml('run', `${EXAMPLE}/model.onnx`, '--input', `${EXAMPLE}/mnist_samples/sample_00.bin`, '--json');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.argmax, 7);
    assert.equal(json.outputs.length, 10);
  });

  it('reports the firmware\'s error for an input of the wrong size', async () => {
    const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', `${EXAMPLE}/mnist_samples/sample_00.rgb`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the firmware raises ValueError\("wrong input size"\): The model expects 900 float32 values \(3600 bytes\), got 1800 bytes/);
  });
});

describe('cpml validate', () => {
  it('passes the example on its samples and on random inputs', async () => {
    const files = ['sample_00.bin', 'sample_14.bin'].map((n) => `${EXAMPLE}/mnist_samples/${n}`);
    const r = await cpml('validate', `${EXAMPLE}/model.onnx`, ...files.flatMap((f) => ['--input', f]));
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Overall \(2 samples\).*argmax agreement 2\/2/);
    assert.match(r.stdout, /^PASS/m);
    const random = JSON.parse((await cpml('validate', `${EXAMPLE}/model.onnx`, '--samples', '3', '--seed', '7', '--json')).stdout);
    assert.equal(random.samples.length, 3);
    assert.equal(random.pass, true);
    assert.ok(random.overall.maxAbsError < 1e-4 && random.overall.maxAbsError > 0);
  });

  it('fails with status 1 when the tolerance is impossible', async () => {
    const r = await cpml('validate', `${EXAMPLE}/model.onnx`, '--samples', '2', '--tolerance', '0');
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^FAIL: 2 sample\(s\) exceed tolerance 0/m);
  });
});

describe('dist/cli.js as a process', () => {
  it('keeps results on stdout, reasons on stderr, and sets the exit status', () => {
    const ok = spawnSync(process.execPath, ['dist/cli.js', 'run', `${EXAMPLE}/model.bin`, '--input', `${EXAMPLE}/mnist_samples/sample_00.bin`], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stdout.trim().split('\n').length, 10);
    assert.equal(ok.stderr, '');
    const refused = spawnSync(process.execPath, ['dist/cli.js', 'convert', 'test/fixtures/models/refuse_sigmoid.onnx', '-o', join(tmp(), 'x.bin')], { encoding: 'utf8' });
    assert.equal(refused.status, 1);
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, /operator Sigmoid is not supported/);
  });
});
