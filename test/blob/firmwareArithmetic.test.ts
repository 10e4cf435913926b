// Sizes the firmware computes in 32 bits (size_t in load_model/perform_inference, int in the
// engine's indices): a blob whose products wrap would make the board allocate the wrapped size
// and overwrite its memory. validateBlob, assertValidBlob (so loadModel) and checkLimits refuse
// them, naming the product, its true value and what it wraps to.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryPlan } from '../../src/core/analysis/memoryPlan.js';
import { checkLimits } from '../../src/core/blob/checkLimits.js';
import { LayerType, type Layer } from '../../src/core/blob/blobFormat.js';
import { blobProducts, fitsIn, overflows, recordProducts, wrapI32, wrapU32 } from '../../src/core/blob/firmwareArithmetic.js';
import { validateBlob } from '../../src/core/blob/validateBlob.js';
import { loadModel } from '../../src/core/engine/firmwareEngine.js';
import { BlobFormatError, FirmwareError, FirmwareLimitError } from '../../src/core/errors.js';
import { encodeRecords, record, shape, type RecordSpec } from '../support/blobBuilder.js';
import { readBytes, upstreamPath } from '../support/fixtures.js';

const { Conv2D, MaxPool2D, ReLU, Flatten, Linear } = LayerType;

/** One Flatten of 205×305×17173 = 2^30 + 1 values: 4 × that is 2^32 + 4, which wraps to 4. */
const FLATTEN_2_30_PLUS_1: RecordSpec = { type: Flatten, in: shape(205, 305, 17173), out: shape(205, 305, 17173) };

function crashErrors(records: RecordSpec[], weights?: ArrayLike<number>) {
  return validateBlob(encodeRecords({ records, weights })).errors.filter((e) => e.wouldCrashBoard);
}

describe('32-bit helpers', () => {
  it('wrap like the RP2040: size_t modulo 2^32, int to the signed range', () => {
    assert.equal(wrapU32(2 ** 32 + 4), 4);
    assert.equal(wrapU32(2 ** 32 - 1), 2 ** 32 - 1);
    assert.equal(wrapI32(2 ** 31), -(2 ** 31));
    assert.equal(wrapI32(2 ** 31 - 1), 2 ** 31 - 1);
    assert.equal(wrapI32(255 * 65535 * 65535 - 1), -33423106);
    assert.equal(fitsIn(2 ** 32 - 1, 'size_t'), true);
    assert.equal(fitsIn(2 ** 32, 'size_t'), false);
    assert.equal(fitsIn(2 ** 31, 'int'), false);
  });
});

describe('blobs whose sizes wrap in 32 bits', () => {
  it('a Flatten of 2^30 + 1 values: the scratch allocation (and the input size check) wrap to 4 bytes', () => {
    const errors = crashErrors([FLATTEN_2_30_PLUS_1]);
    const scratch = errors.find((e) => /scratch buffers/.test(e.message));
    assert.ok(scratch, JSON.stringify(errors));
    assert.match(scratch.message, /^would crash the board: scratch buffers .*1073741825 elements × 4 bytes = 4294967300, which the firmware computes in 32 bits \(size_t\) as 4: load_model would allocate only 4 bytes for each and the first layer would overwrite the board's memory$/);
    assert.ok(scratch.hint);
    assert.ok(errors.some((e) => /input size check .* = 4294967300, .* as 4: perform_inference would accept an input of 4 bytes/.test(e.message)));
  });

  it('the boundary: 2^30 values (4 × = 2^32) wrap to 0, 2^30 − 1 values do not wrap', () => {
    const at = crashErrors([{ type: Flatten, in: shape(64, 4096, 4096), out: shape(64, 4096, 4096) }]);
    assert.ok(at.some((e) => /= 4294967296, .* as 0: load_model would allocate only 0 bytes/.test(e.message)), JSON.stringify(at));
    // 99 × 331 × 32767 = 2^30 − 1: representable, so only too big for the heap (MemoryError).
    const below = { type: Flatten, in: shape(99, 331, 32767), out: shape(99, 331, 32767) };
    assert.equal(99 * 331 * 32767, 2 ** 30 - 1);
    assert.deepEqual(crashErrors([below]), []);
    assert.throws(() => loadModel(encodeRecords({ records: [below] })), (e: unknown) => e instanceof FirmwareError && e.pythonType === 'MemoryError');
  });

  it('a layer whose own element count wraps (255 × 65535 × 65535) is named, even when another layer sets the scratch size', () => {
    const big = { type: ReLU, in: shape(255, 65535, 65535), out: shape(255, 65535, 65535) };
    const errors = crashErrors([{ type: Flatten, in: shape(255, 65535, 65535), out: shape(255, 65535, 65535) }, big]);
    assert.ok(errors.some((e) => e.layerIndex === 1 && /output element count .*65535 × 65535 × 255 = 1095183237375, .*as 4261544191/.test(e.message)), JSON.stringify(errors));
  });

  it('Conv2D and MaxPool2D indices computed in int: input, weights, output', () => {
    // 1×1 kernel, 255 → 255 channels on 65535×65535: the weights (65025 floats) fit in the file.
    const conv = { type: Conv2D, in: shape(255, 65535, 65535), out: shape(255, 65535, 65535), kernel: 1, stride: 1, weightOffset: 0, biasOffset: 65025 * 4 };
    const convErrors = crashErrors([conv], new Float32Array(65025 + 255));
    for (const what of ['Conv2D input index', 'Conv2D output index']) {
      assert.ok(convErrors.some((e) => e.layerIndex === 0 && e.message.includes(what) && /in a 32-bit int as -33423106/.test(e.message)), `${what}: ${JSON.stringify(convErrors)}`);
    }
    const pool = { type: MaxPool2D, in: shape(200, 65535, 65535), out: shape(200, 32767, 32767), kernel: 2, stride: 2 };
    const poolErrors = crashErrors([pool]);
    assert.ok(poolErrors.some((e) => /MaxPool2D input index/.test(e.message)), JSON.stringify(poolErrors));
    assert.ok(poolErrors.some((e) => /MaxPool2D output index/.test(e.message)), JSON.stringify(poolErrors));
  });

  it('weight indices: Conv2D oc × in_ch × k × k and Linear out × in beyond 2^31', () => {
    const conv = recordProducts(record({ type: Conv2D, in: shape(255, 255, 255), out: shape(255, 1, 1), kernel: 255 }));
    const [convWeights] = overflows(conv).filter((p) => p.what.startsWith('Conv2D weight index'));
    assert.equal(convWeights?.value, 255 ** 4 - 1);
    const linear = recordProducts(record({ type: Linear, in: shape(1, 1, 65535), out: shape(1, 1, 65535) }));
    assert.deepEqual(overflows(linear).map((p) => [p.what, p.value]), [['Linear weight index (o × in_features + i)', 65535 * 65535 - 1]]);
  });

  it('weight and bias pointers computed in 32 bits', () => {
    const products = blobProducts([record({ type: Linear, in: shape(4), out: shape(2) })],
      [{ weightOffset: 2 ** 32 - 40, biasOffset: 0, hasParameters: true }]); // 72 + offset = 2^32 + 32
    const wraps = overflows(products);
    assert.deepEqual(wraps.map((p) => p.what), ['Linear weight pointer (8 + 64 × num_layers + offset)']);
    assert.equal(wraps[0].layerIndex, 0);
  });

  it('loadModel refuses them before allocating anything, however large the heap', () => {
    for (const records of [[FLATTEN_2_30_PLUS_1], [{ type: Flatten, in: shape(64, 4096, 4096), out: shape(64, 4096, 4096) }]]) {
      assert.throws(() => loadModel(encodeRecords({ records }), { heapBytes: 2 ** 50 }),
        (e: unknown) => e instanceof BlobFormatError && /would crash the board: scratch buffers/.test(e.message));
    }
  });

  it('the memory plan only adds numbers (no allocation) for them', () => {
    const plan = memoryPlan([record(FLATTEN_2_30_PLUS_1)], 100);
    assert.equal(plan.scratchElements, 2 ** 30 + 1);
    assert.equal(plan.fits, false);
  });

  it('a valid model has no wrapping product', () => {
    const { blob } = validateBlob(readBytes(upstreamPath('model.bin')));
    assert.deepEqual(blob.records.flatMap((r) => overflows(recordProducts(r))), []);
    assert.deepEqual(overflows(blobProducts(blob.records, blob.records.map((r) => ({ ...r, hasParameters: true })))), []);
  });
});

describe('checkLimits refuses the same layers at conversion', () => {
  const flatten = (s: ReturnType<typeof shape>): Layer => ({ type: Flatten, in: s, out: s, kernel: 0, stride: 1, padding: 0, sources: [{ name: 'flat', index: 2, op: 'Flatten' }] });

  it('names the ONNX node and the product', () => {
    assert.throws(() => checkLimits([flatten(shape(205, 305, 17173))]), (e: unknown) => e instanceof FirmwareLimitError
      && /^node 'flat' \(#2, Flatten\): would crash the board: scratch buffers .* = 4294967300, .* as 4/.test(e.message) && Boolean(e.hint));
  });

  it('names the layer (index and type) when no node made it, and refuses a wrapping count even in a long valid chain', () => {
    const s = shape(64, 4096, 4096);
    const pool: Layer = { type: MaxPool2D, in: s, out: shape(64, 2048, 2048), kernel: 2, stride: 2, padding: 0, sources: [] };
    assert.throws(() => checkLimits([{ ...flatten(s), sources: [] }, pool]),
      (e: unknown) => e instanceof FirmwareLimitError && /^layer 0 \(Flatten\): would crash the board: scratch buffers .* as 0/.test(e.message));
  });
});
