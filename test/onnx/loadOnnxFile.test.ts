// loadOnnxFile: external data next to the model is read; anything outside the model's folder
// (.., absolute paths, symlinks) is refused; truncated or missing data files are clean errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadOnnxFile } from '../../src/core/onnx/loadOnnxFile.js';
import { convertOnnxFile } from '../../src/core/convert.js';
import { CpmlError, FileError, OnnxReadError } from '../../src/core/errors.js';
import { buildModel, externalize, type ModelSpec } from '../support/onnxBuilder.js';
import { fixturePath } from '../support/fixtures.js';

const WEIGHTS = Float32Array.from({ length: 18 }, (_, i) => Math.fround((i - 9) / 7));
const BIAS = Float32Array.of(0.25, -0.5);

/** Conv 1→2 (k3, pad 1) on 1×1×4×4, then Relu. */
function convSpec(): ModelSpec {
  return {
    opset: 13,
    inputs: [{ name: 'x', dims: [1, 1, 4, 4] }],
    outputs: [{ name: 'y', dims: [1, 2, 4, 4] }],
    initializers: [
      { name: 'w', dims: [2, 1, 3, 3], data: WEIGHTS },
      { name: 'b', dims: [2], data: BIAS },
    ],
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: ['c'], outputs: ['y'] },
    ],
  };
}

/** The model with its initializers in an external file at `location` (bytes returned, not written). */
function externalModel(location: string): { model: Uint8Array; weights: Uint8Array } {
  const { spec, weights } = externalize(convSpec(), location);
  return { model: buildModel(spec), weights };
}

function refusedOutside(error: unknown): boolean {
  assert.ok(error instanceof OnnxReadError, String(error));
  assert.match(error.message, /outside the model's folder; refusing to read it/);
  assert.ok(error.hint);
  return true;
}

describe('loadOnnxFile with external data', () => {
  let root: string;
  let n = 0;
  /** A fresh folder holding model.onnx (and whatever the test writes next to it). */
  const folder = () => {
    const dir = join(root, `case${n++}`, 'model');
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'cpml-external-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('reads a data file in the model\'s folder (and a subfolder)', () => {
    for (const location of ['model.weights', 'data/model.weights', './model.weights']) {
      const dir = folder();
      const { model, weights } = externalModel(location);
      mkdirSync(join(dir, 'data'));
      writeFileSync(join(dir, 'model.onnx'), model);
      writeFileSync(join(dir, location), weights);
      const graph = loadOnnxFile(join(dir, 'model.onnx'));
      assert.deepEqual(graph.initializers.get('w'), { kind: 'float', dims: [2, 1, 3, 3], data: WEIGHTS });
      assert.deepEqual(graph.initializers.get('b'), { kind: 'float', dims: [2], data: BIAS });
    }
  });

  it('converts to the same blob as the inline model', () => {
    const dir = folder();
    const { model, weights } = externalModel('w.bin');
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, 'w.bin'), weights);
    const inline = join(dir, 'inline.onnx');
    writeFileSync(inline, buildModel(convSpec()));
    assert.deepEqual(convertOnnxFile(join(dir, 'model.onnx')).blob, convertOnnxFile(inline).blob);
  });

  it('works when the model is given by a relative path', () => {
    const graph = loadOnnxFile(fixturePath('external_data', '.onnx'));
    assert.equal(graph.initializers.size, 8);
  });

  it('refuses ../x.weights even though the file exists', () => {
    const dir = folder();
    const { model, weights } = externalModel('../x.weights');
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, '..', 'x.weights'), weights);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
    // A path that leaves and comes back in is inside.
    const back = externalModel('../model/back.weights');
    writeFileSync(join(dir, 'back.onnx'), back.model);
    writeFileSync(join(dir, 'back.weights'), back.weights);
    assert.equal(loadOnnxFile(join(dir, 'back.onnx')).initializers.size, 2);
  });

  it('refuses an absolute path, even to a file in the folder', () => {
    const dir = folder();
    const target = resolve(dir, 'abs.weights');
    const { model, weights } = externalModel(target);
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(target, weights);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
    const outside = externalModel('/etc/passwd');
    writeFileSync(join(dir, 'passwd.onnx'), outside.model);
    assert.throws(() => loadOnnxFile(join(dir, 'passwd.onnx')), refusedOutside);
  });

  it('refuses a symlink in the folder that points outside it', () => {
    const dir = folder();
    const { model, weights } = externalModel('link.weights');
    const outsideFile = join(dir, '..', 'secret.weights');
    writeFileSync(outsideFile, weights);
    symlinkSync(outsideFile, join(dir, 'link.weights'));
    writeFileSync(join(dir, 'model.onnx'), model);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
  });

  it('refuses a symlinked subfolder that leads outside', () => {
    const dir = folder();
    const { model, weights } = externalModel('sub/w.weights');
    const elsewhere = join(dir, '..', 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'w.weights'), weights);
    symlinkSync(elsewhere, join(dir, 'sub'));
    writeFileSync(join(dir, 'model.onnx'), model);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
  });

  it('accepts a symlink that stays inside the folder, and a model folder reached through a symlink', () => {
    const dir = folder();
    const { model, weights } = externalModel('link.weights');
    writeFileSync(join(dir, 'real.weights'), weights);
    symlinkSync(join(dir, 'real.weights'), join(dir, 'link.weights'));
    writeFileSync(join(dir, 'model.onnx'), model);
    assert.equal(loadOnnxFile(join(dir, 'model.onnx')).initializers.size, 2);
    const alias = join(dir, '..', 'alias');
    symlinkSync(dir, alias);
    assert.equal(loadOnnxFile(join(alias, 'model.onnx')).initializers.size, 2);
  });

  it('a truncated data file is an OnnxReadError', () => {
    const dir = folder();
    const { model, weights } = externalModel('model.weights');
    writeFileSync(join(dir, 'model.onnx'), model);
    for (const cut of [1, 4, weights.length - 8, weights.length]) {
      writeFileSync(join(dir, 'model.weights'), weights.subarray(0, weights.length - cut));
      assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), (e: unknown) => {
        assert.ok(e instanceof OnnxReadError, String(e));
        assert.match(e.message, /tensor '[wb]' needs bytes \d+–\d+ of 'model.weights', which has only \d+/);
        return true;
      }, `cut ${cut}`);
    }
  });

  it('a data file longer than needed is fine (offset/length select the bytes)', () => {
    const dir = folder();
    const { model, weights } = externalModel('model.weights');
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, 'model.weights'), Buffer.concat([weights, Buffer.alloc(100, 0xff)]));
    assert.deepEqual(loadOnnxFile(join(dir, 'model.onnx')).initializers.get('b')?.data, BIAS);
  });

  it('a missing data file is a FileError naming the path', () => {
    const dir = folder();
    writeFileSync(join(dir, 'model.onnx'), externalModel('missing.weights').model);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), (e: unknown) => {
      assert.ok(e instanceof FileError, String(e));
      assert.match(e.message, /missing\.weights': no such file/);
      return true;
    });
  });

  it('a missing or unreadable model file is a CpmlError, not a raw system error', () => {
    const dir = folder();
    assert.throws(() => loadOnnxFile(join(dir, 'nope.onnx')), (e: unknown) => e instanceof FileError && /no such file/.test(e.message));
    assert.throws(() => loadOnnxFile(dir), (e: unknown) => e instanceof CpmlError);
  });
});
