// encodeBlob / decodeBlob: the layout of the firmware contract, and round trips.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBlob } from '../../src/core/blob/encodeBlob.js';
import { decodeBlob } from '../../src/core/blob/decodeBlob.js';
import { validateBlob } from '../../src/core/blob/validateBlob.js';
import { BLOB_MAGIC, LayerType, type Layer, type LayerRecord, weightsStart } from '../../src/core/blob/blobFormat.js';
import { BlobFormatError, FirmwareLimitError } from '../../src/core/errors.js';
import { encodeRecords, shape } from '../support/blobBuilder.js';
import { readBytes, upstreamPath } from '../support/fixtures.js';

const src = (op: string, index: number) => [{ name: `n${index}`, index, op }];

function sampleLayers(): Layer[] {
  const seq = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.fround((i + 1) * scale));
  return [
    { type: LayerType.Conv2D, in: shape(1, 6, 6), out: shape(2, 6, 6), kernel: 3, stride: 1, padding: 1, weights: seq(18, 0.01), bias: seq(2, -0.5), sources: src('Conv', 0) },
    { type: LayerType.ReLU, in: shape(2, 6, 6), out: shape(2, 6, 6), kernel: 0, stride: 1, padding: 0, sources: src('Relu', 1) },
    { type: LayerType.MaxPool2D, in: shape(2, 6, 6), out: shape(2, 3, 3), kernel: 2, stride: 2, padding: 0, sources: src('MaxPool', 2) },
    { type: LayerType.Conv2D, in: shape(2, 3, 3), out: shape(3, 2, 2), kernel: 2, stride: 1, padding: 0, weights: seq(24, 0.1), bias: seq(3, 1), sources: src('Conv', 3) },
    { type: LayerType.Flatten, in: shape(3, 2, 2), out: shape(12), kernel: 0, stride: 1, padding: 0, sources: src('Flatten', 4) },
    { type: LayerType.Linear, in: shape(12), out: shape(5), kernel: 0, stride: 1, padding: 0, weights: seq(60, -0.02), bias: seq(5, 0.3), sources: src('Gemm', 5) },
    { type: LayerType.Softmax, in: shape(5), out: shape(5), kernel: 0, stride: 1, padding: 0, sources: src('Softmax', 6) },
  ];
}

function floatsAt(bytes: Uint8Array, at: number, n: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: n }, (_, i) => view.getFloat32(at + i * 4, true));
}

describe('encodeBlob layout', () => {
  const layers = sampleLayers();
  const { bytes, records } = encodeBlob(layers);
  const view = new DataView(bytes.buffer);

  it('writes the header: magic and layer count', () => {
    assert.equal(view.getUint32(0, true), BLOB_MAGIC);
    assert.equal(view.getUint32(4, true), 7);
  });

  it('reserves 64 bytes a layer, records packed at 22 bytes, zero padding after them', () => {
    assert.equal(weightsStart(7), 8 + 64 * 7);
    for (let at = 8 + 22 * 7; at < 8 + 64 * 7; at++) assert.equal(bytes[at], 0, `padding byte ${at}`);
    // Record 1 (ReLU) starts right after record 0.
    assert.equal(bytes[8 + 22], LayerType.ReLU);
    assert.equal(bytes[8], LayerType.Conv2D);
  });

  it('appends weights then bias per Conv/Linear, in order, 4-byte aligned', () => {
    const expected = [
      { w: 0, b: 72 }, { w: 0, b: 0 }, { w: 0, b: 0 }, { w: 80, b: 176 }, { w: 0, b: 0 }, { w: 188, b: 428 }, { w: 0, b: 0 },
    ];
    assert.deepEqual(records.map((r) => ({ w: r.weightOffset, b: r.biasOffset })), expected);
    assert.equal(bytes.length, 8 + 64 * 7 + 428 + 20);
    const base = weightsStart(7);
    layers.forEach((layer, i) => {
      if (!layer.weights) return;
      assert.deepEqual(floatsAt(bytes, base + records[i].weightOffset, layer.weights.length), layer.weights);
      assert.deepEqual(floatsAt(bytes, base + records[i].biasOffset, layer.bias!.length), layer.bias);
    });
  });

  it('records without weights carry 0 offsets, the pool kernel/stride, padding 0', () => {
    const pool = records[2];
    assert.deepEqual(pool, { type: 2, in: shape(2, 6, 6), out: shape(2, 3, 3), kernel: 2, stride: 2, padding: 0, weightOffset: 0, biasOffset: 0 });
    assert.deepEqual(records[1], { type: 3, in: shape(2, 6, 6), out: shape(2, 6, 6), kernel: 0, stride: 1, padding: 0, weightOffset: 0, biasOffset: 0 });
  });

  it('refuses (FirmwareLimitError) instead of wrapping a u8 field', () => {
    const bad = sampleLayers();
    bad[0] = { ...bad[0], out: shape(256, 6, 6), bias: new Float32Array(256), weights: new Float32Array(256 * 9) };
    assert.throws(() => encodeBlob(bad), (e: unknown) => e instanceof FirmwareLimitError && /255/.test(e.message));
    assert.throws(() => encodeBlob([]), FirmwareLimitError);
  });
});

describe('decodeBlob', () => {
  it('round-trips the records encodeBlob wrote', () => {
    const { bytes, records } = encodeBlob(sampleLayers());
    const decoded = decodeBlob(bytes);
    assert.equal(decoded.magic, BLOB_MAGIC);
    assert.deepEqual(decoded.records, records);
    assert.equal(decoded.weightsStart, 8 + 64 * 7);
    assert.equal(decoded.bytes, bytes);
  });

  it('round-trips hand-encoded records with every field at its maximum', () => {
    const rec: LayerRecord = {
      type: 5, in: { c: 255, h: 65535, w: 65534 }, out: { c: 254, h: 1, w: 65535 },
      kernel: 255, stride: 254, padding: 253, weightOffset: 0xfffffffc, biasOffset: 0x12345678,
    };
    const bytes = encodeRecords({ records: [rec, { ...rec, type: 1, weightOffset: 4 }], magic: 0xdeadbeef });
    const decoded = decodeBlob(bytes);
    assert.equal(decoded.magic, 0xdeadbeef);
    assert.deepEqual(decoded.records, [rec, { ...rec, type: 1, weightOffset: 4 }]);
  });

  it('reads the upstream model.bin: 11 layers of the upstream CNN', () => {
    const decoded = decodeBlob(readBytes(upstreamPath('model.bin')));
    assert.deepEqual(decoded.records.map((r) => r.type), [1, 3, 2, 1, 3, 2, 1, 3, 2, 4, 5]);
    assert.deepEqual(decoded.records[0].in, shape(1, 30, 30));
    assert.deepEqual(decoded.records[10].out, shape(10, 1, 1));
    assert.deepEqual(decoded.records[9], { type: 4, in: shape(8, 3, 3), out: shape(72, 1, 1), kernel: 0, stride: 1, padding: 0, weightOffset: 0, biasOffset: 0 });
  });

  it('decode → layers → encode reproduces the upstream model.bin byte for byte', () => {
    const original = readBytes(upstreamPath('model.bin'));
    const { records, weightsStart: base } = decodeBlob(original);
    const layers: Layer[] = records.map((r, i) => {
      const layer: Layer = { type: r.type, in: r.in, out: r.out, kernel: r.kernel, stride: r.stride, padding: r.padding, sources: [{ name: `l${i}`, index: i, op: 'x' }] };
      if (r.type === LayerType.Conv2D || r.type === LayerType.Linear) {
        const inN = r.in.c * r.in.h * r.in.w, outN = r.out.c * r.out.h * r.out.w;
        const nw = r.type === LayerType.Conv2D ? r.out.c * r.in.c * r.kernel * r.kernel : inN * outN;
        const nb = r.type === LayerType.Conv2D ? r.out.c : outN;
        layer.weights = floatsAt(original, base + r.weightOffset, nw);
        layer.bias = floatsAt(original, base + r.biasOffset, nb);
      }
      return layer;
    });
    assert.deepEqual(encodeBlob(layers).bytes, original);
  });

  it('refuses what cannot be read as records', () => {
    const upstream = readBytes(upstreamPath('model.bin'));
    assert.throws(() => decodeBlob(new Uint8Array(0)), (e: unknown) => e instanceof BlobFormatError && /empty/.test(e.message));
    assert.throws(() => decodeBlob(upstream.slice(0, 29)), (e: unknown) => e instanceof BlobFormatError && /fewer than a header/.test(e.message));
    const zero = upstream.slice();
    new DataView(zero.buffer).setUint32(4, 0, true);
    assert.throws(() => decodeBlob(zero), (e: unknown) => e instanceof BlobFormatError && /0 layers/.test(e.message));
    const many = upstream.slice();
    new DataView(many.buffer).setUint32(4, 0xffffffff, true);
    assert.throws(() => decodeBlob(many), (e: unknown) => e instanceof BlobFormatError && /too short/.test(e.message));
  });

  it('validateBlob accepts the encoded sample layers without issues', () => {
    const v = validateBlob(encodeBlob(sampleLayers()).bytes);
    assert.deepEqual(v.errors, []);
    assert.deepEqual(v.warnings, []);
  });
});
