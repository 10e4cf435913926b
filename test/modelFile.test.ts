// readModelFile: the one decision "blob, ONNX model or something else", on real files, and the
// answers the CLI (inspect, run) and deploy give with it.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { planDeploy } from '../src/core/deploy/planDeploy.js';
import { BlobFormatError, CpmlError, OnnxReadError } from '../src/core/errors.js';
import { modelKindOf, modelReportFor, NotAModelError, readModelFile } from '../src/core/modelFile.js';
import { cpml } from './cli/cliHarness.js';
import { makeDrive, snapshot } from './deploy/deploySupport.js';

const EXAMPLE = join('examples', 'mnist');
const ONNX = join(EXAMPLE, 'model.onnx');
const BLOB = join(EXAMPLE, 'model.bin');
const SAMPLE = join(EXAMPLE, 'mnist_samples', 'sample_00.bin');
const tmp = () => mkdtempSync(join(tmpdir(), 'cpml-modelfile-'));

describe('readModelFile', () => {
  it('reads the reference blob as a blob and the ONNX model converted to the same bytes', () => {
    const blob = readModelFile(BLOB);
    assert.equal(blob.kind, 'blob');
    assert.equal(blob.name, 'model.bin');
    const onnx = readModelFile(ONNX);
    assert.equal(onnx.kind, 'onnx');
    assert.deepEqual(Buffer.from(onnx.blob), readFileSync(BLOB));
    // One report for both kinds: the same layers and memory plan.
    const [a, b] = [modelReportFor(blob, 150 * 1024), modelReportFor(onnx, 150 * 1024)];
    assert.equal(a.kind, 'blob');
    assert.equal(b.kind, 'onnx');
    assert.deepEqual(a.memory, b.memory);
    assert.equal(a.totals.layers, 11);
    assert.deepEqual(b.errors, []);
  });

  it('calls a sample input a sample input of N float32 values, not a broken model', () => {
    assert.throws(() => readModelFile(SAMPLE), (e: unknown) => {
      assert.ok(e instanceof NotAModelError && e instanceof CpmlError);
      assert.equal(e.sampleValues, 900);
      assert.equal(e.message, "'sample_00.bin' looks like a sample input of 900 float32 values, not a model (it has no blob header)");
      assert.match(e.userMessage, /Choose the model instead \(the \.onnx file, or the model\.bin converted from it\)/);
      assert.doesNotMatch(e.userMessage, /layers/);
      return true;
    });
  });

  it('decides by content first: a blob named .onnx, an ONNX model named .bin or without extension', () => {
    const dir = tmp();
    copyFileSync(BLOB, join(dir, 'blob.onnx'));
    copyFileSync(ONNX, join(dir, 'model-onnx.bin'));
    copyFileSync(ONNX, join(dir, 'model'));
    assert.equal(readModelFile(join(dir, 'blob.onnx')).kind, 'blob');
    assert.equal(readModelFile(join(dir, 'model-onnx.bin')).kind, 'onnx');
    assert.equal(readModelFile(join(dir, 'model')).kind, 'onnx');
  });

  it('keeps a blob without the magic a blob (the firmware does not check it), and broken blobs broken', () => {
    const dir = tmp();
    const noMagic = new Uint8Array(readFileSync(BLOB));
    noMagic.fill(0, 0, 4);
    writeFileSync(join(dir, 'nomagic.bin'), noMagic);
    const model = readModelFile(join(dir, 'nomagic.bin'));
    assert.equal(model.kind, 'blob');
    assert.match(modelReportFor(model).warnings.join('\n'), /magic is 0x00000000/);

    // Empty, and a size that is no whole number of float32 values: the blob reader's answers.
    writeFileSync(join(dir, 'empty.bin'), '');
    assert.throws(() => modelReportFor(readModelFile(join(dir, 'empty.bin'))), (e: unknown) => e instanceof BlobFormatError && /empty/.test(e.message));
    writeFileSync(join(dir, 'odd.bin'), new Uint8Array(3601));
    assert.throws(() => modelReportFor(readModelFile(join(dir, 'odd.bin'))), (e: unknown) => e instanceof BlobFormatError && /0 layers/.test(e.message));
    // A blob whose header claims more layers than the file holds (truncated): still a broken blob.
    const truncated = new Uint8Array(readFileSync(BLOB)).slice(0, 101);
    writeFileSync(join(dir, 'truncated.bin'), truncated);
    assert.throws(() => modelReportFor(readModelFile(join(dir, 'truncated.bin'))), BlobFormatError);
  });

  it('reads what is not a .bin and has no magic as ONNX, whose reader says what is wrong', () => {
    const dir = tmp();
    copyFileSync(SAMPLE, join(dir, 'sample.onnx'));
    assert.throws(() => readModelFile(join(dir, 'sample.onnx')), OnnxReadError);
    assert.deepEqual(modelKindOf('x.dat', new Uint8Array(16)), { kind: 'onnx' });
    assert.deepEqual(modelKindOf('x.bin', new Uint8Array(16)), { kind: 'sample', values: 4 });
  });
});

describe('a sample input given as the model', () => {
  it('cpml inspect and cpml run answer with the sample message (exit 1, no stack)', async () => {
    for (const argv of [['inspect', SAMPLE], ['run', SAMPLE, '--input', SAMPLE]]) {
      const r = await cpml(...argv);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /'sample_00\.bin' looks like a sample input of 900 float32 values, not a model/);
      assert.doesNotMatch(r.stderr, /0 layers|invalid model|\n\s+at /);
    }
  });

  it('deploy refuses it with the sample message, before touching the drive', async () => {
    const drive = makeDrive('print("mine")\n');
    const before = snapshot(drive);
    await assert.rejects(planDeploy({ model: SAMPLE, drive }), (e: unknown) => e instanceof NotAModelError && /sample input of 900 float32 values/.test(e.message));
    assert.deepEqual(snapshot(drive), before);
  });
});
