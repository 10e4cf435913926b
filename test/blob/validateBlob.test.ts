// validateBlob: everything that would make the firmware read outside the file or its buffers,
// fault, or compute nonsense is an error naming the layer; a wrong magic is only a warning.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertValidBlob, validateBlob, type BlobIssue } from '../../src/core/blob/validateBlob.js';
import { decodeBlob } from '../../src/core/blob/decodeBlob.js';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { loadModel } from '../../src/core/engine/firmwareEngine.js';
import { BlobFormatError, CpmlError, FirmwareError } from '../../src/core/errors.js';
import { encodeRecords, shape, type RecordSpec } from '../support/blobBuilder.js';
import { readBytes, upstreamPath } from '../support/fixtures.js';

const { Conv2D, ReLU, Flatten, Linear, Softmax, MaxPool2D } = LayerType;
const upstream = readBytes(upstreamPath('model.bin'));

/** Upstream model.bin with one field of record `layer` overwritten. */
function patchUpstream(layer: number, offset: number, size: 1 | 2 | 4, value: number): Uint8Array {
  const bytes = upstream.slice();
  const view = new DataView(bytes.buffer);
  const at = 8 + 22 * layer + offset;
  if (size === 1) view.setUint8(at, value);
  else if (size === 2) view.setUint16(at, value, true);
  else view.setUint32(at, value, true);
  return bytes;
}

function errorsOf(bytes: Uint8Array): BlobIssue[] {
  return validateBlob(bytes).errors;
}

function assertError(bytes: Uint8Array, layerIndex: number | undefined, pattern: RegExp): void {
  const errors = errorsOf(bytes);
  assert.ok(errors.some((e) => e.layerIndex === layerIndex && pattern.test(e.message)),
    `no error for layer ${layerIndex} matching ${pattern}: ${JSON.stringify(errors)}`);
  // assertValidBlob throws it as a BlobFormatError naming the layer.
  assert.throws(() => assertValidBlob(bytes), (e: unknown) => {
    assert.ok(e instanceof BlobFormatError);
    if (layerIndex !== undefined && e.layerIndex === layerIndex) assert.match(e.message, new RegExp(`^layer ${layerIndex}: `));
    return true;
  });
}

function blob(records: RecordSpec[], weights?: ArrayLike<number>): Uint8Array {
  return encodeRecords({ records, weights });
}

describe('the upstream model.bin', () => {
  it('is valid, without warnings', () => {
    const v = validateBlob(upstream);
    assert.deepEqual(v.errors, []);
    assert.deepEqual(v.warnings, []);
    assert.equal(v.blob.records.length, 11);
  });

  it('every truncation (0 … 7311 bytes) is caught', () => {
    assert.equal(upstream.length, 7312);
    for (let n = 0; n < upstream.length; n++) {
      const part = upstream.slice(0, n);
      let errors: number;
      try {
        errors = validateBlob(part).errors.length;
      } catch (error) {
        assert.ok(error instanceof BlobFormatError, `${n} bytes: ${String(error)}`);
        errors = 1;
      }
      assert.ok(errors > 0, `a ${n}-byte truncation passes validation`);
      assert.throws(() => loadModel(part), CpmlError, `${n} bytes: loadModel accepted it`);
    }
  });

  it('a truncation inside the weights names the last layer whose parameters no longer fit', () => {
    const errors = errorsOf(upstream.slice(0, 7300));
    assert.equal(errors.length, 1);
    assert.equal(errors[0].layerIndex, 10);
    assert.match(errors[0].message, /Linear bias .*past the end of the file \(7300 bytes\)/);
  });

  it('a wrong magic is only a warning (the firmware never checks it)', () => {
    const bytes = upstream.slice();
    new DataView(bytes.buffer).setUint32(0, 0x12345678, true);
    const v = validateBlob(bytes);
    assert.deepEqual(v.errors, []);
    assert.equal(v.warnings.length, 1);
    assert.match(v.warnings[0].message, /magic is 0x12345678/);
    assert.doesNotThrow(() => assertValidBlob(bytes));
    assert.doesNotThrow(() => loadModel(bytes));
  });
});

describe('parameter ranges', () => {
  it('weights past the end of the file', () => {
    // Layer 0 (Conv 1→4, k3): weight offset moved to the end of the file.
    assertError(patchUpstream(0, 14, 4, 7312 - 8 - 704), 0, /weights .*past the end of the file/);
    // A huge offset (would wrap a 32-bit pointer on the board).
    assertError(patchUpstream(10, 14, 4, 0xfffffff0), 10, /Linear weights .*past the end/);
    assertError(patchUpstream(3, 18, 4, 0xfffffff0), 3, /Conv2D bias .*past the end/);
  });

  it('unaligned weight or bias offsets', () => {
    assertError(patchUpstream(0, 14, 4, 2), 0, /weights offset 2 is not 4-byte aligned/);
    assertError(patchUpstream(10, 18, 4, 6174 + 1), 10, /bias offset \d+ is not 4-byte aligned/);
  });
});

describe('record consistency', () => {
  it('chain mismatch: a layer\'s input is not the previous output', () => {
    // Layer 1 (ReLU) claims 4×30×31.
    const bytes = patchUpstream(1, 8, 2, 31);
    assertError(bytes, 1, /does not match the previous layer's output/);
    const hand = blob([
      { type: Flatten, in: shape(1, 2, 3), out: shape(6) },
      { type: ReLU, in: shape(5), out: shape(5) },
    ]);
    assertError(hand, 1, /input 5×1×1 \(5 values\) does not match the previous layer's output 6×1×1 \(6 values\)/);
  });

  it('only the element counts have to agree (a Flatten may re-factor the shape)', () => {
    const hand = blob([
      { type: ReLU, in: shape(4, 30, 30), out: shape(4, 30, 30) },
      { type: Flatten, in: shape(4, 30, 30), out: shape(1, 60, 60) },
      { type: ReLU, in: shape(1, 1, 3600), out: shape(1, 1, 3600) },
    ]);
    assert.deepEqual(errorsOf(hand), []);
  });

  it('unknown layer types (0, 7, 255)', () => {
    for (const type of [0, 7, 255]) {
      assertError(patchUpstream(1, 0, 1, type), 1, new RegExp(`unknown layer type ${type}`));
    }
  });

  it('Conv2D output dims that do not follow from input, kernel, stride and padding', () => {
    // Upstream layer 0: 1×30×30, k3, s1, p1 → 4×30×30. Claim 29×30.
    assertError(patchUpstream(0, 10, 2, 29), 0, /output 29×30 does not follow from input 30×30, kernel 3, stride 1, padding 1 \(expected 30×30\)/);
    // Stride 0.
    assertError(patchUpstream(0, 4, 1, 0), 0, /stride is 0/);
    // Kernel 0.
    assertError(patchUpstream(0, 3, 1, 0), 0, /does not follow/);
  });

  it('MaxPool2D output dims that do not follow, and a channel mismatch', () => {
    // Upstream layer 2: 4×30×30, k2 s2 → 4×15×15.
    assertError(patchUpstream(2, 12, 2, 16), 2, /output 15×16 does not follow from input 30×30, kernel 2, stride 2 \(expected 15×15\)/);
    assertError(patchUpstream(2, 4, 1, 0), 2, /stride is 0/);
    const mismatch = patchUpstream(2, 2, 1, 3); // out_channels 3 while in_channels 4
    assertError(mismatch, 2, /output channels 3 differ from input channels 4/);
  });

  it('accepts MaxPool2D outputs of PyTorch\'s ceil_mode (the firmware clips the last windows), nothing larger', () => {
    // 7×7, k2 s2: floor 3×3, ceil 4×4 (the last window hangs over the edge and is clipped).
    const pool = (out: number) => blob([
      { type: Flatten, in: shape(2, 7, 7), out: shape(2, 7, 7) },
      { type: MaxPool2D, in: shape(2, 7, 7), out: shape(2, out, out), kernel: 2, stride: 2 },
    ]);
    for (const out of [3, 4]) assert.deepEqual(validateBlob(pool(out)).errors, [], `${out}×${out}`);
    assertError(pool(5), 1, /output 5×5 does not follow from input 7×7, kernel 2, stride 2 \(expected 3×3 or 4×4 in ceil mode\)/);
    // k1 s3 on 5: ceil would add a window starting past the edge, which PyTorch drops: only 2.
    const k1 = (out: number) => blob([
      { type: Flatten, in: shape(1, 5, 5), out: shape(1, 5, 5) },
      { type: MaxPool2D, in: shape(1, 5, 5), out: shape(1, out, out), kernel: 1, stride: 3 },
    ]);
    assert.deepEqual(validateBlob(k1(2)).errors, []);
    assert.ok(validateBlob(k1(3)).errors.some((e) => /does not follow/.test(e.message)));
  });

  it('element counts above 65535 for ReLU, Softmax and Linear', () => {
    for (const type of [ReLU, Softmax]) {
      const bytes = blob([
        { type: Flatten, in: shape(2, 1, 40000), out: shape(2, 1, 40000) },
        { type, in: shape(2, 1, 40000), out: shape(2, 1, 40000) },
      ]);
      assertError(bytes, 1, /element count 80000 exceeds 65535: the firmware counts it in 16 bits and would process only 14464/);
    }
    const wideIn = blob([
      { type: Flatten, in: shape(2, 1, 40000), out: shape(2, 1, 40000) },
      { type: Linear, in: shape(2, 1, 40000), out: shape(1), weightOffset: 0, biasOffset: 0 },
    ], new Float32Array(14464 + 1));
    assertError(wideIn, 1, /Linear in_features 80000 exceeds 65535/);
    const wideOut = blob([
      { type: Linear, in: shape(1), out: shape(2, 1, 40000), weightOffset: 0, biasOffset: 0 },
    ], new Float32Array(14464));
    assertError(wideOut, 0, /Linear out_features 80000 exceeds 65535/);
    // 65535 itself is fine.
    assert.deepEqual(errorsOf(blob([{ type: ReLU, in: shape(1, 1, 65535), out: shape(1, 1, 65535) }])), []);
  });

  it('an input bigger than every layer output (scratch too small)', () => {
    const bytes = blob([{ type: Linear, in: shape(8), out: shape(2), weightOffset: 0, biasOffset: 64 }], new Float32Array(18));
    const errors = errorsOf(bytes);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].layerIndex, undefined);
    assert.match(errors[0].message, /input \(8 values\) is larger than every layer's output \(2\).*model scratch too small/);
    assert.ok(errors[0].hint);
    assert.throws(() => assertValidBlob(bytes), BlobFormatError);
    // The engine defers it to inference, like the firmware.
    assert.doesNotThrow(() => assertValidBlob(bytes, { allowScratchTooSmall: true }));
  });

  it('zero dimensions', () => {
    for (const [offset, size] of [[1, 1], [2, 1], [6, 2], [8, 2], [10, 2], [12, 2]] as const) {
      assertError(patchUpstream(4, offset, size, 0), 4, /has a zero dimension/);
    }
  });

  it('reports every problem, and assertValidBlob counts the rest', () => {
    const bytes = blob([
      { type: 9, in: shape(1), out: shape(1) },
      { type: ReLU, in: shape(2), out: shape(2) },
    ]);
    const errors = errorsOf(bytes);
    assert.equal(errors.length, 2);
    assert.throws(() => assertValidBlob(bytes), (e: unknown) => e instanceof BlobFormatError && e.layerIndex === 0
      && /^layer 0: unknown layer type 9 \(the firmware knows 1–6\) \(and 1 more problem\)$/.test(e.message));
  });
});

describe('bias overlapping weights (the reference converter\'s bias=False bug)', () => {
  it('is a warning, not an error', () => {
    const bytes = blob([
      { type: Flatten, in: shape(1, 2, 2), out: shape(1, 2, 2) },
      { type: Conv2D, in: shape(1, 2, 2), out: shape(2, 2, 2), kernel: 1, stride: 1, weightOffset: 0, biasOffset: 0 },
    ], [1, 2]);
    const v = validateBlob(bytes);
    assert.deepEqual(v.errors, []);
    assert.equal(v.warnings.length, 1);
    assert.equal(v.warnings[0].layerIndex, 1);
    assert.match(v.warnings[0].message, /Conv2D bias \(offset 0\) overlaps its weights/);
  });

  it('also when a later layer\'s bias lands on an earlier layer\'s weights', () => {
    // The upstream model with layer 10 (Linear) rewritten as bias=False: bias offset 0.
    const v = validateBlob(patchUpstream(10, 18, 4, 0));
    assert.deepEqual(v.errors, []);
    assert.equal(v.warnings.length, 1);
    assert.equal(v.warnings[0].layerIndex, 10);
    assert.match(v.warnings[0].message, /overlaps the weights of layer 0/);
  });

  it('is not raised for disjoint parameters', () => {
    assert.deepEqual(validateBlob(upstream).warnings, []);
    const { records } = decodeBlob(upstream);
    const offsets = records.filter((r) => r.type === Conv2D || r.type === Linear).map((r) => [r.weightOffset, r.biasOffset]);
    assert.deepEqual(offsets[0], [0, 144]);
  });
});

describe('very many records', () => {
  it('150 000 ReLU records validate, load and run (no stack overflow)', () => {
    const n = 150_000;
    const records = Array.from({ length: n }, () => ({ type: ReLU, in: shape(1, 1, 2), out: shape(1, 1, 2) }));
    const bytes = encodeRecords({ records, padTable: false });
    const v = validateBlob(bytes);
    assert.deepEqual(v.errors, []);
    // A 3.3 MB blob is more than any Pico's heap: give the host engine room to load it anyway.
    const model = loadModel(bytes, { heapBytes: 8 * 1024 * 1024 });
    assert.equal(model.scratchElements, 2);
    assert.throws(() => loadModel(bytes), (e: unknown) => e instanceof FirmwareError && e.pythonType === 'MemoryError');
  });
});
