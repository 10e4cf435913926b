// The compute budget: a blob of a few KB can ask for days of work. Run, validate and the virtual
// Pico refuse it before they start (ComputeBudgetError with the board time and the layer), unless
// the limit is raised; every real model is far below the default limit.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { validateBlob } from '../../src/core/blob/validateBlob.js';
import { convertGraph, convertOnnxFile } from '../../src/core/convert.js';
import { assertWithinComputeBudget, ComputeBudgetError, DEFAULT_MAX_MACS, estimateCompute, formatDuration } from '../../src/core/engine/computeBudget.js';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { loadModel } from '../../src/core/engine/firmwareEngine.js';
import { randomSamples, validateModel } from '../../src/core/engine/validateModel.js';
import { record, shape } from '../support/blobBuilder.js';
import { fixturePath, readBytes, readManifest, upstreamPath } from '../support/fixtures.js';
import { convBombBlob, convBombLayerTaps } from '../support/hostileBlobs.js';
import { graphOf } from '../support/onnxBuilder.js';

const budgetError = (check: (e: ComputeBudgetError) => void) => (e: unknown) => {
  assert.ok(e instanceof ComputeBudgetError, String(e));
  check(e);
  return true;
};

describe('compute budget', () => {
  it('refuses the 128 KB blob of 1000 Conv layers (127×127 kernels on 200×200) with the board time and the layer', () => {
    const bytes = convBombBlob();
    assert.ok(bytes.length < 130 * 1024);
    const { records } = validateBlob(bytes).blob;
    assert.deepEqual(validateBlob(bytes).errors, []);
    assert.doesNotThrow(() => loadModel(bytes)); // it fits a Pico: only the work is absurd
    assert.throws(() => assertWithinComputeBudget(records), budgetError((e) => {
      assert.equal(e.macs, 1000 * convBombLayerTaps());
      assert.equal(e.limitMacs, DEFAULT_MAX_MACS);
      assert.match(e.message, /^the model needs 645,160,000,000 MACs \(188,568,576,000 of them padding taps, pooling windows or element operations the loops also visit\) per inference, more than the limit of 250,000,000: estimated [\d,.]+ hours per inference on the board; layer 0 \(Conv2D 1×200×200 → 1×200×200, kernel 127, stride 1, padding 63\) does 0\.1% of the work, as do 999 more layers$/);
      assert.match(e.hint ?? '', /--max-macs 645160000000/);
    }));
  });

  it('names the layer doing most of the work', () => {
    const records = [
      record({ type: LayerType.Flatten, in: shape(1, 200, 200), out: shape(1, 200, 200) }),
      record({ type: LayerType.Conv2D, in: shape(1, 200, 200), out: shape(1, 200, 200), kernel: 127, padding: 63 }),
      record({ type: LayerType.ReLU, in: shape(1, 200, 200), out: shape(1, 200, 200) }),
    ];
    assert.throws(() => assertWithinComputeBudget(records), budgetError((e) => {
      assert.equal(e.layerIndex, 1);
      assert.match(e.message, /layer 1 \(Conv2D .*\) does 100% of the work$/);
    }));
  });

  it('counts what the loops visit: padding taps and pooling windows, not only multiply-accumulates', () => {
    // 1×1 input, 255×255 kernel, padding 254: one real MAC per output, 65025 taps visited.
    const padded = record({ type: LayerType.Conv2D, in: shape(1, 1, 1), out: shape(255, 255, 255), kernel: 255, padding: 254 });
    assert.equal(estimateCompute([padded]).macs, 255 * 255 * 255 * 255 * 255);
    assert.throws(() => assertWithinComputeBudget([padded]), ComputeBudgetError);
    const pool = record({ type: LayerType.MaxPool2D, in: shape(255, 300, 300), out: shape(255, 46, 46), kernel: 255, stride: 1 });
    assert.throws(() => assertWithinComputeBudget([pool]), budgetError((e) => assert.match(e.message, /MaxPool2D 255×300×300 → 255×46×46, window 255, stride 1/)));
    const relus = Array.from({ length: 5000 }, () => record({ type: LayerType.ReLU, in: shape(1, 1, 65535), out: shape(1, 1, 65535) }));
    assert.throws(() => assertWithinComputeBudget(relus), ComputeBudgetError);
  });

  it('a raised limit lets the model through; the limit is inclusive', () => {
    const { records } = validateBlob(convBombBlob(2)).blob;
    const macs = 2 * convBombLayerTaps();
    assert.equal(assertWithinComputeBudget(records, macs).macs, macs);
    assert.throws(() => assertWithinComputeBudget(records, macs - 1), ComputeBudgetError);
    assert.throws(() => assertWithinComputeBudget(records, 1, 'custom advice'), (e: unknown) => e instanceof ComputeBudgetError && e.hint === 'custom advice');
  });

  it('every real model is far below the default limit', () => {
    const models = [
      convertOnnxFile(upstreamPath('model.onnx')).records,
      validateBlob(readBytes(upstreamPath('model.bin'))).blob.records,
      ...readManifest().filter((f) => f.kind === 'ok').map((f) => convertOnnxFile(fixturePath(f.name, '.onnx')).records),
    ];
    for (const records of models) {
      const estimate = assertWithinComputeBudget(records);
      assert.ok(estimate.macs < DEFAULT_MAX_MACS / 100, `${estimate.macs} MACs`);
    }
  });

  it('formats board time in ms, seconds, minutes and hours', () => {
    assert.deepEqual([formatDuration(950), formatDuration(12_500), formatDuration(252_000), formatDuration(620_174_034)],
      ['950 ms', '12.5 seconds', '4.2 minutes', '172.3 hours']);
  });
});

describe('validateModel and the reference evaluator are bounded too', () => {
  // One Conv 1 → 1, 127×127, padding 63, on 200×200: 645 million taps, over the default limit.
  const heavy = () => graphOf({
    inputs: [{ name: 'x', dims: [1, 1, 200, 200] }],
    outputs: [{ name: 'y', dims: [1, 1, 200, 200] }],
    initializers: [{ name: 'w', dims: [1, 1, 127, 127], data: new Float32Array(127 * 127).fill(1e-4) }, { name: 'b', dims: [1], data: [0] }],
    nodes: [{ op: 'Conv', name: 'big', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { pads: [63, 63, 63, 63], kernel_shape: [127, 127] } }],
  });

  it('validateModel refuses before evaluating anything', () => {
    const conversion = convertGraph(heavy());
    assert.throws(() => validateModel(conversion, randomSamples(40000, 1, 1)), budgetError((e) => assert.equal(e.macs, convBombLayerTaps())));
    assert.throws(() => validateModel(conversion, randomSamples(40000, 1, 1), 1e-4, { maxMacs: 1000 }), ComputeBudgetError);
  });

  it('validateModel passes a small model under a limit it meets, and refuses it under a lower one', () => {
    const conversion = convertOnnxFile(upstreamPath('model.onnx'));
    const macs = estimateCompute(conversion.records).macs;
    assert.equal(validateModel(conversion, randomSamples(900, 1, 1), 1e-4, { maxMacs: macs }).pass, true);
    assert.throws(() => validateModel(conversion, randomSamples(900, 1, 1), 1e-4, { maxMacs: macs - 1 }), ComputeBudgetError);
  });

  it('the evaluator runs only the nodes the output needs (dead nodes cost nothing, even unsupported ones)', () => {
    const g = graphOf({
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      initializers: [{ name: 'a', dims: [64, 64], data: new Float32Array(64 * 64) }],
      nodes: [
        { op: 'MatMul', name: 'dead', inputs: ['a', 'a'], outputs: ['unused'] },
        { op: 'Frobnicate', name: 'dead too', inputs: ['unused'], outputs: ['unused2'] },
        { op: 'Relu', name: 'live', inputs: ['x'], outputs: ['y'] },
      ],
    });
    assert.deepEqual(Array.from(evaluateOnnx(g, Float32Array.from([-1, 2, -3, 4])).output), [0, 2, 0, 4]);
  });
});
