import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { calibrateCostModel, estimateLatency, layerCycles, RP2040_COST_MODEL } from '../../src/core/analysis/latencyModel.js';
import { layerWork } from '../../src/core/analysis/layerCosts.js';
import { DEFAULT_HEAP_BUDGET_BYTES, memoryPlan } from '../../src/core/analysis/memoryPlan.js';
import { buildModelReport } from '../../src/core/analysis/modelReport.js';
import { LayerType, type LayerRecord } from '../../src/core/blob/blobFormat.js';
import { decodeBlob } from '../../src/core/blob/decodeBlob.js';
import { convertOnnxFile } from '../../src/core/convert.js';
import { validateBlob } from '../../src/core/blob/validateBlob.js';
import { readBytes, upstreamPath } from '../support/fixtures.js';
import { convBombBlob, wrappingFlattenBlob } from '../support/hostileBlobs.js';

const record = (type: LayerType, inShape: [number, number, number], outShape: [number, number, number], kernel = 0, stride = 1, padding = 0): LayerRecord => ({
  type, in: { c: inShape[0], h: inShape[1], w: inShape[2] }, out: { c: outShape[0], h: outShape[1], w: outShape[2] }, kernel, stride, padding, weightOffset: 0, biasOffset: 0,
});

describe('layer work', () => {
  it('counts only the conv taps the firmware executes (padding taps are skipped)', () => {
    // 3×3 input, 3×3 kernel, padding 1: per axis the valid taps are 2, 3, 2 → 7 × 7 = 49 per channel pair.
    const w = layerWork(record(LayerType.Conv2D, [2, 3, 3], [4, 3, 3], 3, 1, 1));
    assert.equal(w.macs, 4 * 2 * 49);
    assert.equal(w.taps, 4 * 3 * 3 * 2 * 9);
    assert.equal(w.parameters, 4 * 2 * 9 + 4);
    assert.equal(w.weightBytes, (4 * 2 * 9 + 4) * 4);
    assert.equal(w.outputElements, 36);
  });

  it('counts strided convs, pooling compares and linear MACs', () => {
    assert.equal(layerWork(record(LayerType.Conv2D, [1, 5, 5], [1, 2, 2], 3, 2, 0)).macs, 4 * 9);
    const pool = layerWork(record(LayerType.MaxPool2D, [3, 4, 4], [3, 2, 2], 2, 2));
    assert.equal(pool.compares, 3 * 16);
    assert.equal(pool.macs, 0);
    const fc = layerWork(record(LayerType.Linear, [72, 1, 1], [10, 1, 1]));
    assert.deepEqual([fc.macs, fc.parameters], [720, 730]);
  });
});

describe('layer work on any record', () => {
  /** Σ over output positions of the taps inside the input, position by position. */
  const naiveTaps = (out: number, k: number, s: number, p: number, size: number) => {
    let total = 0;
    for (let o = 0; o < out; o++) total += Math.max(0, Math.min(o * s - p + k, size) - Math.max(o * s - p, 0));
    return total;
  };

  it('counts the same valid taps as a position-by-position sum, for consistent and inconsistent records', () => {
    const random = (n: number) => Math.floor(Math.random() * n);
    for (let i = 0; i < 20000; i++) {
      const k = 1 + random(12), s = 1 + random(5), p = random(14), size = 1 + random(30), out = random(60);
      const r = record(LayerType.Conv2D, [1, size, 1], [1, out, 1], k, s, p);
      assert.equal(layerWork(r).macs, naiveTaps(out, k, s, p, size) * naiveTaps(1, k, s, p, 1), JSON.stringify({ k, s, p, size, out }));
    }
    // The largest sizes a record can claim (inspect reports on invalid blobs too).
    const huge = record(LayerType.Conv2D, [1, 3, 65535], [1, 65535, 65535], 255, 1, 255);
    assert.equal(layerWork(huge).macs, naiveTaps(65535, 255, 1, 255, 3) * naiveTaps(65535, 255, 1, 255, 65535));
    const pool = record(LayerType.MaxPool2D, [2, 65535, 7], [2, 65535, 65535], 255, 3);
    assert.equal(layerWork(pool).compares, 2 * naiveTaps(65535, 255, 3, 0, 65535) * naiveTaps(65535, 255, 3, 0, 7));
  });
});

describe('memory plan', () => {
  it('adds blob, two scratch buffers, input array and output list in 16-byte GC blocks', () => {
    const records = decodeBlob(readBytes(upstreamPath('model.bin'))).records;
    const plan = memoryPlan(records, 7312);
    assert.equal(plan.scratchElements, 3600);
    assert.equal(plan.blobBytes, 7312);
    assert.equal(plan.scratchBytes, 2 * 14400);
    assert.equal(plan.inputArrayBytes, 16 + 3600);
    assert.equal(plan.outputListBytes, 16 + 48); // 10 items × 4 bytes → 3 blocks
    assert.equal(plan.totalBytes, 7312 + 28800 + 3616 + 64);
    assert.equal(plan.heapBudgetBytes, DEFAULT_HEAP_BUDGET_BYTES);
    assert.equal(plan.fits, true);
    const tight = memoryPlan(records, 7312, 30 * 1024);
    assert.equal(tight.fits, false);
    assert.equal(tight.marginBytes, 30 * 1024 - plan.totalBytes);
  });
});

describe('latency estimate', () => {
  it('prices each layer type from the documented constants', () => {
    const m = RP2040_COST_MODEL;
    const fc = record(LayerType.Linear, [72, 1, 1], [10, 1, 1]);
    const linear = m.layerTerms[LayerType.Linear];
    assert.equal(layerCycles(fc, m), linear.layer! + 10 * linear.outputElements! + 720 * linear.macs!);
    const relu = record(LayerType.ReLU, [4, 30, 30], [4, 30, 30]);
    assert.equal(layerCycles(relu, m), m.layerTerms[LayerType.ReLU].layer! + 3600 * m.layerTerms[LayerType.ReLU].outputElements!);
    // Conv2D: per layer, output channel, output element, input channel loop, kernel row, tap visited and MAC done.
    const conv = record(LayerType.Conv2D, [2, 3, 3], [4, 3, 3], 3, 1, 1);
    const c = m.layerTerms[LayerType.Conv2D];
    assert.ok(Math.abs(layerCycles(conv, m) - (c.layer! + 4 * c.planes! + 36 * c.outputElements! + 72 * c.channelLoops! + 216 * c.kernelRows! + 648 * c.taps! + 392 * c.macs!)) < 1e-6);
    assert.ok(m.sources.length >= 3);
  });

  it('estimates the example in the range a soft-float M0+ gives (tens to hundreds of ms)', () => {
    const records = decodeBlob(readBytes(upstreamPath('model.bin'))).records;
    const e = estimateLatency(records, 7312);
    assert.equal(e.layers.length, 11);
    assert.ok(e.inferMs > 20 && e.inferMs < 1000, `${e.inferMs} ms`);
    const convShare = (e.layers[0].ms + e.layers[3].ms + e.layers[6].ms) / e.inferMs;
    assert.ok(convShare > 0.8, 'convolutions dominate');
    assert.ok(e.loadMs > 0);
  });

  it('calibrates to measurements with one least-squares factor', () => {
    const records = decodeBlob(readBytes(upstreamPath('model.bin'))).records;
    const base = estimateLatency(records, 7312).inferMs;
    const calibrated = calibrateCostModel(RP2040_COST_MODEL, [{ records, blobBytes: 7312, measuredInferMs: base * 1.5 }]);
    assert.ok(Math.abs(calibrated.scale - 1.5) < 1e-9);
    assert.ok(Math.abs(estimateLatency(records, 7312, calibrated).inferMs - base * 1.5) < 1e-6);
    assert.match(calibrated.label, /calibrated on 1 measurement/);
    assert.equal(calibrateCostModel(RP2040_COST_MODEL, []), RP2040_COST_MODEL);
  });
});

describe('model report', () => {
  it('names the ONNX nodes behind each layer and the layers the converter added', () => {
    const c = convertOnnxFile('test/fixtures/models/batchnorm_linear_op13.onnx');
    const r = buildModelReport({ source: 'x.onnx', kind: 'onnx', records: c.records, blobBytes: c.blob.length, layers: c.layers, notes: c.notes });
    assert.equal(r.layers[0].type, 'Flatten');
    assert.match(r.layers[0].note ?? '', /scratch/);
    assert.deepEqual(r.layers[0].sources, []);
    assert.deepEqual(r.layers[1].sources, ["Gemm '/0/Gemm'", "BatchNormalization '/1/BatchNormalization'"]);
    assert.equal(r.totals.blobBytes, c.blob.length);
    assert.equal(r.totals.macs, 12 * 6 + 6 * 3);
    assert.equal(r.latency.estimated, true);
    assert.ok(r.notes.some((n) => /added a Flatten/.test(n)));
  });

  it('warns when the budget is missed and passes blob issues through', () => {
    const records = decodeBlob(readBytes(upstreamPath('model.bin'))).records;
    const r = buildModelReport({ source: 'm.bin', kind: 'blob', records, blobBytes: 7312, heapBudgetBytes: 20 * 1024,
      issues: { errors: [{ layerIndex: 3, message: 'bad', hint: 'fix it' }], warnings: [] } });
    assert.match(r.warnings[0], /KB short \(MemoryError on the board\)/);
    assert.deepEqual(r.errors, ['layer 3: bad. fix it']);
  });

  it('warns loudly about a compute bomb: board time in hours, the layer, and that run/validate refuse it', () => {
    const bytes = convBombBlob();
    const v = validateBlob(bytes);
    const r = buildModelReport({ source: 'bomb.bin', kind: 'blob', records: v.blob.records, blobBytes: bytes.length, issues: v });
    assert.deepEqual(r.errors, []);
    const warning = r.warnings.find((w) => w.startsWith('VERY SLOW'));
    assert.match(warning ?? '', /^VERY SLOW: estimated [\d,.]+ hours per inference on the board; layer 0 \(Conv2D 1×200×200 → 1×200×200, kernel 127, stride 1, padding 63\) does 0\.1% of the work, as do 999 more layers; 645,160,000,000 MACs \(188,568,576,000 of them padding taps, pooling windows or element operations the loops also visit\) per inference is over the limit of 250,000,000, so cpml run, cpml validate and the virtual Pico refuse it \(--max-macs to override\)$/);
    assert.deepEqual(r.compute, { macs: 645_160_000_000, limitMacs: 250_000_000, withinLimit: false, heaviestLayer: 0, heaviestShare: 0.001 });
    // A slow model within the limit gets the board time only.
    const slow = buildModelReport({ source: 's.bin', kind: 'blob', records: v.blob.records.slice(0, 1), blobBytes: 0, limitMacs: 1e12 });
    assert.match(slow.warnings.join('\n'), /^slow: estimated [\d.]+ minutes per inference on the board; layer 0 \(Conv2D .*\) does 100% of the work$/m);
    const example = buildModelReport({ source: 'm.bin', kind: 'blob', records: decodeBlob(readBytes(upstreamPath('model.bin'))).records, blobBytes: 7312 });
    assert.deepEqual(example.warnings, []);
    assert.equal(example.compute.withinLimit, true);
  });

  it('a blob whose sizes wrap gets "would crash the board" errors, not a MemoryError warning', () => {
    const bytes = wrappingFlattenBlob();
    const v = validateBlob(bytes);
    const r = buildModelReport({ source: 'wrap.bin', kind: 'blob', records: v.blob.records, blobBytes: bytes.length, issues: v });
    assert.ok(r.errors.length >= 1 && r.errors.every((e) => /would crash the board/.test(e)), r.errors.join('\n'));
    assert.ok(!r.warnings.some((w) => /MemoryError/.test(w)), r.warnings.join('\n'));
  });
});
