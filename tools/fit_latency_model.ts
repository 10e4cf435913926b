// Fits the RP2040 cost model of src/core/analysis/latencyModel.ts to measured cycle counts.
//
//   node --import tsx tools/fit_latency_model.ts [calibration.json]
//
// The data: ../shared/rp2040-cycles/calibration.json (a copy is test/fixtures/rp2040-cycles/),
// cycles of cnn_helper's C engine (tiny_predict) counted on an RP2040 emulator with the real boot
// ROM; see that folder's README for what is and is not included. One least-squares fit per layer
// type over its single-layer entries, minimising the relative error (each row divided by its
// measured cycles), on the work counts of layerWork() — the same counts the product prices.
// Prints the constants to paste into RP2040_COST_MODEL and the residuals of every entry and of
// the whole models (the sum of their layers' estimates against the measured tiny_predict).
// test/analysis/latencyModel.test.ts imports fitCostModel and checks that RP2040_COST_MODEL holds
// exactly these constants.
import { readFileSync, existsSync } from 'node:fs';
import { LayerType, type LayerRecord } from '../src/core/blob/blobFormat.js';
import { layerWork } from '../src/core/analysis/layerCosts.js';
import { layerCycles, RP2040_COST_MODEL, type CostTerm, type CostModel } from '../src/core/analysis/latencyModel.js';

interface JsonRecord { type: string; in: number[]; out: number[]; kernel: number; stride: number; padding: number }
export interface CalibrationEntry { kind: 'layer' | 'model'; id: string; record?: JsonRecord; records?: JsonRecord[]; input?: string; cycles: number }

/** The terms fitted for each layer type: the loops of tiny_inference.c, outermost first. */
const FITTED_TERMS: Record<LayerType, CostTerm[]> = {
  [LayerType.Conv2D]: ['layer', 'planes', 'outputElements', 'channelLoops', 'kernelRows', 'taps', 'macs'],
  [LayerType.MaxPool2D]: ['layer', 'planes', 'outputElements', 'kernelRows', 'taps', 'compares'],
  [LayerType.Linear]: ['layer', 'outputElements', 'macs'],
  [LayerType.ReLU]: ['layer', 'outputElements'],
  [LayerType.Flatten]: ['layer', 'outputElements'],
  [LayerType.Softmax]: ['layer', 'outputElements'],
};

const TYPES: Record<string, LayerType> = { Conv2D: LayerType.Conv2D, MaxPool2D: LayerType.MaxPool2D, ReLU: LayerType.ReLU, Flatten: LayerType.Flatten, Linear: LayerType.Linear, Softmax: LayerType.Softmax };

export function toRecord(j: JsonRecord): LayerRecord {
  const type = TYPES[j.type];
  if (type === undefined) throw new Error(`unknown layer type ${j.type}`);
  const shape = (s: number[]) => ({ c: s[0], h: s[1], w: s[2] });
  return { type, in: shape(j.in), out: shape(j.out), kernel: j.kernel, stride: j.stride, padding: j.padding, weightOffset: 0, biasOffset: 0 };
}

/** The count a term multiplies, for one record. */
function termValue(r: LayerRecord, term: CostTerm): number {
  return term === 'layer' ? 1 : layerWork(r)[term];
}

/** Least squares min |A x - b| by Householder QR (A: rows × n, n small). */
function leastSquares(A: number[][], b: number[]): number[] {
  const m = A.length, n = A[0].length;
  const R = A.map((row) => row.slice()), y = b.slice();
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < m; i++) norm += R[i][k] * R[i][k];
    norm = Math.sqrt(norm);
    if (norm === 0) throw new Error(`column ${k} is zero: the data cannot determine this term`);
    const alpha = R[k][k] > 0 ? -norm : norm;
    const v = new Array<number>(m).fill(0);
    for (let i = k; i < m; i++) v[i] = R[i][k];
    v[k] -= alpha;
    let vv = 0;
    for (let i = k; i < m; i++) vv += v[i] * v[i];
    if (vv === 0) continue;
    for (let j = k; j < n; j++) {
      let d = 0;
      for (let i = k; i < m; i++) d += v[i] * R[i][j];
      const f = (2 * d) / vv;
      for (let i = k; i < m; i++) R[i][j] -= f * v[i];
    }
    let d = 0;
    for (let i = k; i < m; i++) d += v[i] * y[i];
    const f = (2 * d) / vv;
    for (let i = k; i < m; i++) y[i] -= f * v[i];
  }
  const x = new Array<number>(n).fill(0);
  for (let k = n - 1; k >= 0; k--) {
    let s = y[k];
    for (let j = k + 1; j < n; j++) s -= R[k][j] * x[j];
    x[k] = s / R[k][k];
  }
  return x;
}

/** Standard errors of the fitted coefficients: √(s² · diag((AᵀA)⁻¹)), s² the residual variance. */
function standardErrors(A: number[][], b: number[], x: number[]): number[] {
  const m = A.length, n = x.length;
  const r = A.map((row, i) => row.reduce((s, a, j) => s + a * x[j], 0) - b[i]);
  const s2 = r.reduce((s, v) => s + v * v, 0) / Math.max(1, m - n);
  // Gauss-Jordan on [AᵀA | I].
  const M = Array.from({ length: n }, (_, i) => [...Array.from({ length: n }, (_, j) => A.reduce((s, row) => s + row[i] * row[j], 0)), ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(M[i][k]) > Math.abs(M[p][k])) p = i;
    [M[k], M[p]] = [M[p], M[k]];
    const d = M[k][k];
    for (let j = 0; j < 2 * n; j++) M[k][j] /= d;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const f = M[i][k];
      for (let j = 0; j < 2 * n; j++) M[i][j] -= f * M[k][j];
    }
  }
  return Array.from({ length: n }, (_, i) => Math.sqrt(s2 * M[i][n + i]));
}

export interface TermFit { terms: CostTerm[]; coefficients: number[]; standardErrors: number[]; entries: number }

export function readCalibration(path: string): CalibrationEntry[] {
  return JSON.parse(readFileSync(path, 'utf8')) as CalibrationEntry[];
}

/** Fits every layer type's terms to the single-layer entries; the constants rounded to 0.01 cycle. */
export function fitCostModel(entries: readonly CalibrationEntry[]): { model: CostModel; fits: Record<LayerType, TermFit> } {
  const layers = entries.filter((e) => e.kind === 'layer').map((e) => ({ ...e, r: toRecord(e.record!) }));
  const layerTerms = { ...RP2040_COST_MODEL.layerTerms };
  const fits = {} as Record<LayerType, TermFit>;
  for (const type of Object.values(TYPES)) {
    const rows = layers.filter((e) => e.r.type === type);
    const terms = FITTED_TERMS[type];
    // Relative error: every row divided by its measurement.
    const A = rows.map((e) => terms.map((t) => termValue(e.r, t) / e.cycles));
    const ones = rows.map(() => 1);
    const x = leastSquares(A, ones);
    const coefficients = x.map((v) => Math.round(v * 100) / 100);
    layerTerms[type] = Object.fromEntries(terms.map((t, i) => [t, coefficients[i]]));
    fits[type] = { terms, coefficients, standardErrors: standardErrors(A, ones, x), entries: rows.length };
  }
  return { model: { ...RP2040_COST_MODEL, layerTerms, scale: 1 }, fits };
}

function main(): void {
  const path = process.argv[2] ?? ['../shared/rp2040-cycles/calibration.json', 'test/fixtures/rp2040-cycles/calibration.json'].find((p) => existsSync(p));
  if (!path) throw new Error('no calibration.json: pass its path');
  const entries = readCalibration(path);
  const layers = entries.filter((e) => e.kind === 'layer').map((e) => ({ ...e, r: toRecord(e.record!) }));
  console.log(`${path}: ${layers.length} single layers, ${entries.length - layers.length} models\n`);
  const { model, fits } = fitCostModel(entries);
  for (const type of Object.values(TYPES)) {
    const f = fits[type];
    const negative = f.terms.filter((_, i) => f.coefficients[i] < 0);
    console.log(`${LayerType[type]} (${f.entries} entries): ${f.terms.map((t, i) => `${t} ${f.coefficients[i]} ± ${f.standardErrors[i].toFixed(1)}`).join(', ')}${negative.length ? `  NEGATIVE: ${negative.join(', ')}` : ''}`);
  }
  const residual = (estimate: number, measured: number) => (estimate - measured) / measured;
  const pct = (r: number) => `${r >= 0 ? '+' : ''}${(r * 100).toFixed(2)}%`;

  console.log('\nWorst single-layer residuals (estimate − measured) / measured:');
  const res = layers.map((e) => ({ id: e.id, type: LayerType[e.r.type], input: e.input, r: residual(layerCycles(e.r, model), e.cycles) }));
  for (const e of [...res].sort((a, b) => Math.abs(b.r) - Math.abs(a.r)).slice(0, 10)) console.log(`  ${pct(e.r).padStart(7)}  ${e.id} (${e.type}, ${e.input})`);
  console.log('\nMax |residual| per layer type:');
  for (const name of Object.keys(TYPES)) {
    const of = res.filter((e) => e.type === name);
    const rms = Math.sqrt(of.reduce((s, e) => s + e.r * e.r, 0) / of.length);
    console.log(`  ${name.padEnd(9)} max ${(Math.max(...of.map((e) => Math.abs(e.r))) * 100).toFixed(2)}%, rms ${(rms * 100).toFixed(2)}%`);
  }
  console.log('\nWhole models (Σ layers against the measured tiny_predict):');
  for (const e of entries.filter((x) => x.kind === 'model')) {
    const estimate = e.records!.map(toRecord).reduce((s, r) => s + layerCycles(r, model), 0);
    console.log(`  ${pct(residual(estimate, e.cycles)).padStart(7)}  ${e.id}: ${(estimate / 125_000).toFixed(2)} ms estimated, ${(e.cycles / 125_000).toFixed(2)} ms measured`);
  }
  console.log('\nlayerTerms for RP2040_COST_MODEL:');
  for (const type of Object.values(TYPES)) {
    console.log(`    [LayerType.${LayerType[type]}]: { ${Object.entries(model.layerTerms[type]).map(([t, v]) => `${t}: ${v}`).join(', ')} },`);
  }
}

// Run as a script (not when a test imports fitCostModel).
if (/fit_latency_model\.[jt]s$/.test(process.argv[1] ?? '')) main();
