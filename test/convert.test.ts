// The conversion pipeline against the PyTorch fixtures (manifest-driven), the upstream
// reference converter's exact output, and convertOnnxFileTo's atomic write.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertOnnxBytes, convertOnnxFile, convertOnnxFileTo } from '../src/core/convert.js';
import { runBlob } from '../src/core/engine/firmwareEngine.js';
import { CpmlError, FileError, OnnxReadError, UnsupportedModelError } from '../src/core/errors.js';
import { loadOnnxFile } from '../src/core/onnx/loadOnnxFile.js';
import { validateBlob } from '../src/core/blob/validateBlob.js';
import { fixturePath, maxAbsError, prng, readBytes, readFloat32File, readManifest, upstreamPath } from './support/fixtures.js';
import { evaluateOnnx } from '../src/core/engine/evaluateOnnx.js';

const manifest = readManifest();
const okFixtures = manifest.filter((f) => f.kind === 'ok');
const refuseFixtures = manifest.filter((f) => f.kind === 'refuse');
const convertsFixtures = manifest.filter((f) => f.kind === 'converts');
const TOLERANCE = 1e-4;

/** Refusals about one node: the op the error must name. The others concern the whole graph. */
const REFUSED_NODE_OPS: Record<string, string[]> = {
  refuse_sigmoid: ['Sigmoid'],
  // The branch: either consumer of the shared tensor is a fair node to name.
  refuse_residual: ['Conv', 'Add'],
  refuse_channels_300: ['Conv'],
  refuse_relu_too_big: ['Relu'],
  refuse_softmax_axis: ['Softmax'],
  refuse_maxpool_pads: ['MaxPool'],
};
const GRAPH_LEVEL_REFUSALS = new Set(['refuse_two_inputs', 'refuse_two_outputs', 'refuse_batch2', 'refuse_dynamic_hw']);

/** Fixtures the README documents as sharing weights, so their blobs must be byte-identical. */
const SAME_BLOB_GROUPS: string[][] = [
  ['mnist_cnn_op11', 'mnist_cnn_op13', 'mnist_cnn_op17', 'opset18_cnn', 'init_float_data', 'init_float64', 'external_data', 'batch_dynamic_op13'],
  ['simple_model_op11', 'view_size0_op11'],
  ['view_size0_shape_chain_op11', 'view_size0_nofold_op11'],
];

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected an error, but the call succeeded');
}

describe('manifest', () => {
  it('lists ok and refuse fixtures whose files exist', () => {
    assert.ok(okFixtures.length >= 30, `only ${okFixtures.length} ok fixtures`);
    assert.ok(refuseFixtures.length >= 10, `only ${refuseFixtures.length} refuse fixtures`);
    assert.ok(convertsFixtures.length >= 7, `only ${convertsFixtures.length} converts fixtures`);
    for (const f of okFixtures) {
      for (const suffix of ['.onnx', '.input.bin', '.expected.bin']) assert.ok(existsSync(fixturePath(f.name, suffix)), `${f.name}${suffix} missing`);
    }
    for (const f of refuseFixtures) {
      assert.ok(existsSync(fixturePath(f.name, '.onnx')), `${f.name}.onnx missing`);
      assert.equal(typeof f.expect, 'string');
      assert.ok(f.name in REFUSED_NODE_OPS || GRAPH_LEVEL_REFUSALS.has(f.name), `${f.name}: new refuse fixture, classify it in this test`);
    }
  });
});

describe('fixtures the first converter refused now convert, and agree with the ONNX evaluator', () => {
  for (const f of convertsFixtures) {
    it(f.name, () => {
      const graph = loadOnnxFile(fixturePath(f.name, '.onnx'));
      const conversion = convertOnnxFile(fixturePath(f.name, '.onnx'));
      assert.deepEqual(validateBlob(conversion.blob).errors, []);
      const n = f.input_shape.reduce((a, b) => a * b, 1);
      const random = prng(n);
      const input = Float32Array.from({ length: n }, () => Math.fround(random() * 2 - 1));
      const expected = evaluateOnnx(graph, input).output;
      const out = runBlob(conversion.blob, input);
      assert.equal(out.length, expected.length);
      for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])), `${f.name}[${i}]: ${out[i]} vs ${expected[i]}`);
    });
  }
});

describe('ok fixtures convert and reproduce PyTorch', () => {
  for (const f of okFixtures) {
    it(f.name, () => {
      const conversion = convertOnnxFile(fixturePath(f.name, '.onnx'));
      const input = readFloat32File(fixturePath(f.name, '.input.bin'));
      const expected = readFloat32File(fixturePath(f.name, '.expected.bin'));
      const inputCount = f.input_shape.reduce((a, b) => a * b, 1);
      assert.equal(input.length, inputCount);
      assert.equal(expected.length, f.output_len);

      const { errors, warnings } = validateBlob(conversion.blob);
      assert.deepEqual(errors, []);
      assert.deepEqual(warnings, []);

      const output = runBlob(conversion.blob, input);
      assert.equal(output.length, f.output_len);
      const error = maxAbsError(output, expected);
      assert.ok(error <= TOLERANCE, `${f.name}: max abs error ${error} > ${TOLERANCE}`);
    });
  }
});

describe('refuse fixtures are refused with a useful error', () => {
  for (const f of refuseFixtures) {
    it(`${f.name} (expect "${f.expect}")`, () => {
      const path = fixturePath(f.name, '.onnx');
      const error = catchError(() => convertOnnxFile(path));
      assert.ok(error instanceof CpmlError, `${f.name}: ${String(error)} is not a CpmlError`);
      assert.notEqual(error.constructor, CpmlError, 'a CpmlError subclass is expected');
      assert.ok(error instanceof UnsupportedModelError, `${f.name}: ${error.name} is not an UnsupportedModelError`);
      assert.ok(error.message.toLowerCase().includes(f.expect!.toLowerCase()),
        `${f.name}: message "${error.message}" lacks "${f.expect}"`);
      assert.ok(typeof error.hint === 'string' && error.hint.length > 10, `${f.name}: no hint`);

      const ops = REFUSED_NODE_OPS[f.name];
      if (ops) {
        const node = error.node;
        assert.ok(node, `${f.name}: the error does not name a node`);
        assert.ok(ops.includes(node.op), `${f.name}: names ${node.op}, expected one of ${ops.join(', ')}`);
        // The reference is the real node of the file.
        const graph = loadOnnxFile(path);
        const real = graph.nodes[node.index];
        assert.equal(real.op, node.op);
        assert.equal(real.name, node.name);
        assert.ok(error.message.includes(`#${node.index}`), error.message);
        assert.ok(error.message.includes(node.op), error.message);
        if (node.name) assert.ok(error.message.includes(node.name), error.message);
      } else {
        assert.equal(error.node, undefined, `${f.name}: a graph-level refusal should not blame a node`);
      }
    });
  }

  it('the same refusal comes from convertOnnxBytes', () => {
    const error = catchError(() => convertOnnxBytes(readBytes(fixturePath('refuse_sigmoid', '.onnx')), 'refuse_sigmoid.onnx'));
    assert.ok(error instanceof UnsupportedModelError);
    assert.match(error.message, /sigmoid/i);
  });
});

describe('fixtures with the same weights give byte-identical blobs', () => {
  for (const group of SAME_BLOB_GROUPS) {
    it(group.join(' = '), () => {
      const [first, ...rest] = group.map((name) => ({ name, blob: convertOnnxFile(fixturePath(name, '.onnx')).blob }));
      assert.ok(first.blob.length > 100);
      for (const other of rest) {
        assert.equal(other.blob.length, first.blob.length, `${other.name} vs ${first.name}: length`);
        assert.ok(Buffer.from(other.blob).equals(Buffer.from(first.blob)), `${other.name} differs from ${first.name}`);
      }
    });
  }
});

describe('upstream reference converter', () => {
  it('model.onnx converts to exactly model.bin', () => {
    const expected = readBytes(upstreamPath('model.bin'));
    assert.equal(expected.length, 7312);
    const conversion = convertOnnxFile(upstreamPath('model.onnx'));
    assert.equal(conversion.blob.length, expected.length);
    const firstDiff = conversion.blob.findIndex((b, i) => b !== expected[i]);
    assert.equal(firstDiff, -1, `first differing byte at ${firstDiff}`);
    assert.equal(conversion.records.length, 11);
  });

  it('convertOnnxBytes gives the same bytes as convertOnnxFile', () => {
    const fromBytes = convertOnnxBytes(readBytes(upstreamPath('model.onnx')), 'model.onnx');
    assert.deepEqual(fromBytes.blob, readBytes(upstreamPath('model.bin')));
  });

  it('convertOnnxBytes cannot read external data and says so', () => {
    const error = catchError(() => convertOnnxBytes(readBytes(fixturePath('external_data', '.onnx'))));
    assert.ok(error instanceof OnnxReadError);
    assert.match(error.message, /external/);
  });
});

describe('convertOnnxFileTo', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'cpml-convert-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const freshFolder = (name: string) => {
    const folder = join(dir, name);
    mkdirSync(folder);
    return folder;
  };

  it('writes the blob on success and leaves no temporary file', () => {
    const folder = freshFolder('ok');
    const out = join(folder, 'model.bin');
    const conversion = convertOnnxFileTo(upstreamPath('model.onnx'), out);
    assert.deepEqual(readdirSync(folder), ['model.bin']);
    assert.deepEqual(readBytes(out), conversion.blob);
    assert.deepEqual(readBytes(out), readBytes(upstreamPath('model.bin')));
  });

  it('leaves nothing behind when the model is refused', () => {
    const folder = freshFolder('refused');
    const out = join(folder, 'model.bin');
    assert.throws(() => convertOnnxFileTo(fixturePath('refuse_sigmoid', '.onnx'), out), UnsupportedModelError);
    assert.deepEqual(readdirSync(folder), []);
  });

  it('leaves nothing behind when the input is not ONNX', () => {
    const folder = freshFolder('junk');
    const model = join(folder, 'junk.onnx');
    writeFileSync(model, 'this is not a model\n');
    assert.throws(() => convertOnnxFileTo(model, join(folder, 'out.bin')), OnnxReadError);
    assert.deepEqual(readdirSync(folder), ['junk.onnx']);
  });

  it('keeps an existing output untouched when the model is refused', () => {
    const folder = freshFolder('refused-existing');
    const out = join(folder, 'model.bin');
    const old = new Uint8Array(1000).fill(7);
    writeFileSync(out, old);
    assert.throws(() => convertOnnxFileTo(fixturePath('refuse_channels_300', '.onnx'), out), UnsupportedModelError);
    assert.deepEqual(readdirSync(folder), ['model.bin']);
    assert.deepEqual(readBytes(out), old);
  });

  it('replaces an existing (larger) output whole', () => {
    const folder = freshFolder('replace');
    const out = join(folder, 'model.bin');
    writeFileSync(out, new Uint8Array(100_000).fill(0xab));
    const conversion = convertOnnxFileTo(fixturePath('mnist_cnn_op13', '.onnx'), out);
    assert.ok(conversion.blob.length < 100_000);
    const written = readBytes(out);
    assert.equal(written.length, conversion.blob.length);
    assert.deepEqual(written, conversion.blob);
    assert.deepEqual(readdirSync(folder), ['model.bin']);
  });

  it('fails with a FileError and no temporary file when the output cannot be written', () => {
    const folder = freshFolder('unwritable');
    mkdirSync(join(folder, 'model.bin')); // a folder where the file should go
    const error = catchError(() => convertOnnxFileTo(upstreamPath('model.onnx'), join(folder, 'model.bin')));
    assert.ok(error instanceof FileError, String(error));
    assert.deepEqual(readdirSync(folder), ['model.bin']);
    assert.deepEqual(readdirSync(join(folder, 'model.bin')), []);

    const missing = join(folder, 'no-such-folder', 'model.bin');
    assert.throws(() => convertOnnxFileTo(upstreamPath('model.onnx'), missing), FileError);
    assert.deepEqual(readdirSync(folder), ['model.bin']);
  });
});
