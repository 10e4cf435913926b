// The RP2040 latency model against the measured cycle counts it was fitted to
// (test/fixtures/rp2040-cycles/calibration.json, a copy of ../shared/rp2040-cycles/).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { calibrateCostModel, estimateLatency, layerCycles, RP2040_COST_MODEL } from '../../src/core/analysis/latencyModel.js';
import { LAYER_TYPE_NAMES, LayerType } from '../../src/core/blob/blobFormat.js';
import { decodeBlob } from '../../src/core/blob/decodeBlob.js';
import { fitCostModel, readCalibration, toRecord } from '../../tools/fit_latency_model.js';
import { readBytes, upstreamPath } from '../support/fixtures.js';

const FIXTURE = 'test/fixtures/rp2040-cycles/calibration.json';
const SHARED = '../shared/rp2040-cycles/calibration.json';
const CYCLES_PER_MS = 125_000;

const entries = readCalibration(FIXTURE);
const residual = (estimate: number, measured: number) => (estimate - measured) / measured;
const pct = (r: number) => `${r >= 0 ? '+' : ''}${(r * 100).toFixed(2)}%`;

const layers = entries.filter((e) => e.kind === 'layer').map((e) => {
  const r = toRecord(e.record!);
  return { id: e.id, type: LAYER_TYPE_NAMES[r.type as LayerType], r: residual(layerCycles(r, RP2040_COST_MODEL), e.cycles) };
});
const models = entries.filter((e) => e.kind === 'model').map((e) => {
  const records = e.records!.map(toRecord);
  const estimate = estimateLatency(records, 0);
  return { id: e.id, records, estimate, measuredMs: e.cycles / CYCLES_PER_MS, r: residual(estimate.engineMs, e.cycles / CYCLES_PER_MS) };
});
const worst = <T extends { r: number }>(list: T[]) => list.reduce((a, b) => (Math.abs(b.r) > Math.abs(a.r) ? b : a));
const worstLayer = worst(layers), worstModel = worst(models);

describe('latency model against RP2040 cycle counts', () => {
  it('has the calibration data: 178 single layers of all six types and 3 whole models', () => {
    assert.equal(entries.length, 181);
    assert.equal(models.length, 3);
    assert.deepEqual(new Set(layers.map((l) => l.type)), new Set(Object.values(LAYER_TYPE_NAMES)));
    // The copy is the project's data, unchanged (where ../shared exists: not on a clean clone).
    if (existsSync(SHARED)) assert.equal(readFileSync(FIXTURE, 'utf8'), readFileSync(SHARED, 'utf8'), `${FIXTURE} differs from ${SHARED}: copy it again and rerun tools/fit_latency_model.ts`);
  });

  it(`puts every single layer within 5% (worst ${pct(worstLayer.r)}: ${worstLayer.id}, ${worstLayer.type})`, (t) => {
    for (const type of new Set(layers.map((l) => l.type))) {
      const w = worst(layers.filter((l) => l.type === type));
      t.diagnostic(`${type}: worst ${pct(w.r)} (${w.id})`);
    }
    const outside = layers.filter((l) => Math.abs(l.r) > 0.05);
    assert.deepEqual(outside.map((l) => `${l.id} ${pct(l.r)}`), []);
  });

  it(`puts the whole models within 3% (worst ${pct(worstModel.r)}: ${worstModel.id})`, (t) => {
    for (const m of models) {
      t.diagnostic(`${m.id}: ${m.estimate.engineMs.toFixed(2)} ms estimated, ${m.measuredMs.toFixed(2)} ms measured (${pct(m.r)})`);
      assert.ok(Math.abs(m.r) <= 0.03, `${m.id}: ${pct(m.r)}`);
      // A model is the sum of its layers, each with its own dispatch.
      assert.ok(Math.abs(m.estimate.layers.reduce((s, l) => s + l.ms, 0) - m.estimate.engineMs) < 1e-9);
    }
  });

  it('uses the constants tools/fit_latency_model.ts fits from this data', () => {
    const { model, fits } = fitCostModel(entries);
    assert.deepEqual(RP2040_COST_MODEL.layerTerms, model.layerTerms);
    for (const fit of Object.values(fits)) assert.ok(fit.coefficients.every((c) => c >= 0), `negative cost in ${JSON.stringify(fit)}`);
  });

  it('prices the example: 240.8 ms in the engine (238.6 measured) plus the estimated perform_inference overhead', () => {
    const records = decodeBlob(readBytes(upstreamPath('model.bin'))).records;
    const e = estimateLatency(records, 7312);
    assert.equal(e.engineMs.toFixed(1), '240.8');
    const measured = models.find((m) => m.id === 'upstream_example')!;
    assert.deepEqual(measured.records, records.map((r) => ({ ...r, weightOffset: 0, biasOffset: 0 })));
    // The overhead around the engine: 3000 cycles plus 6 per input and output element (estimate).
    assert.equal(e.overheadMs, ((3000 + (900 + 10) * 6) / 125_000_000) * 1000);
    assert.equal(e.inferMs, e.engineMs + e.overheadMs);
    assert.equal(e.inferMs.toFixed(3), '240.886');
    assert.equal(e.loadMs.toFixed(3), '17.852');
  });

  it('labels what is not measured an estimate, also once calibrated', () => {
    assert.match(RP2040_COST_MODEL.label, /estimate: engine fitted to RP2040 cycle counts, perform_inference overhead and load_model assumed/);
    assert.ok(RP2040_COST_MODEL.sources.some((s) => /perform_inference overhead.*estimate/.test(s)));
    assert.ok(RP2040_COST_MODEL.sources.some((s) => /load_model.*estimate/.test(s)));
    const records = decodeBlob(readBytes(upstreamPath('model.bin'))).records;
    const calibrated = calibrateCostModel(RP2040_COST_MODEL, [{ records, blobBytes: 7312, measuredInferMs: 250 }]);
    assert.equal(calibrated.label, 'RP2040 @ 125 MHz, CircuitPython (calibrated on 1 measurement)');
  });

  it('prices a record of no known type as the dispatch alone', () => {
    const r = { ...toRecord({ type: 'ReLU', in: [1, 1, 4], out: [1, 1, 4], kernel: 0, stride: 1, padding: 0 }), type: 9 };
    assert.equal(layerCycles(r, RP2040_COST_MODEL), RP2040_COST_MODEL.unknownLayerCycles);
  });
});
