// Estimated inference time on an RP2040 (Cortex-M0+, no FPU) from per-layer-type costs.
//
// Where the constants come from (docs/circuitpython-board.md, "RP2040 speed"):
//  - Float routines: the RP2040 boot ROM's float library (a version of Qfplib-M0) — about
//    62 cycles for fmul and 76 for fadd including call overhead.
//  - The C loops add loads, index arithmetic and bounds checks: about 12 cycles per Conv2D
//    MAC and 7 per Linear MAC (Cortex-M0+: 1–2 cycles per ALU op / load, 3 per taken branch),
//    plus about 14 cycles for every kernel tap visited, including padding taps that are skipped.
//  - Comparisons (ReLU, MaxPool) go through the ROM's float compare, about 20 cycles.
//  - expf is not in the ROM: newlib's soft-float expf costs several hundred cycles.
// These are estimates; measured timings from a board calibrate them (calibrateCostModel).
import { LayerType, type LayerRecord } from '../blob/blobFormat.js';
import { layerWork } from './layerCosts.js';

export interface CostModel {
  label: string;
  clockHz: number;
  convCyclesPerMac: number;
  convCyclesPerTap: number;
  linearCyclesPerMac: number;
  poolCyclesPerCompare: number;
  poolCyclesPerTap: number;
  reluCyclesPerElement: number;
  flattenCyclesPerElement: number;
  softmaxCyclesPerElement: number;
  /** Per output element of Conv2D/Linear/MaxPool: the store and the outer loops. */
  cyclesPerOutput: number;
  /** Dispatch per layer. */
  cyclesPerLayer: number;
  /** perform_inference itself: argument parsing, input copy per element, list building per output. */
  callCycles: number;
  copyCyclesPerElement: number;
  /** load_model reading the blob from the CIRCUITPY filesystem (assumed, to be calibrated). */
  loadBytesPerSecond: number;
  /** Multiplies every cycle count; 1 until calibrated against a board. */
  scale: number;
  sources: string[];
}

export const RP2040_COST_MODEL: CostModel = {
  label: 'RP2040 @ 125 MHz, CircuitPython (estimate, not calibrated)',
  clockHz: 125_000_000,
  convCyclesPerMac: 62 + 76 + 12,
  convCyclesPerTap: 14,
  linearCyclesPerMac: 62 + 76 + 7,
  poolCyclesPerCompare: 20 + 6,
  poolCyclesPerTap: 14,
  reluCyclesPerElement: 20 + 10,
  flattenCyclesPerElement: 8,
  softmaxCyclesPerElement: 600,
  cyclesPerOutput: 20,
  cyclesPerLayer: 200,
  callCycles: 3000,
  copyCyclesPerElement: 6,
  loadBytesPerSecond: 400 * 1024,
  scale: 1,
  sources: [
    'Qfplib-M0 / RP2040 boot ROM float routines: fmul ≈ 62, fadd ≈ 76 cycles with call overhead',
    'Cortex-M0+ instruction timings for loop, load and bounds-check overhead',
    'newlib soft-float expf for Softmax',
    'load throughput: assumed until calibrated with measured load times',
  ],
};

export interface LayerEstimate {
  index: number;
  cycles: number;
  ms: number;
}

export interface LatencyEstimate {
  model: string;
  layers: LayerEstimate[];
  /** perform_inference, all layers plus call overhead. */
  inferMs: number;
  /** load_model: reading the blob and allocating the scratch buffers. */
  loadMs: number;
}

export function layerCycles(r: LayerRecord, m: CostModel): number {
  const w = layerWork(r);
  let cycles = m.cyclesPerLayer;
  switch (r.type) {
    case LayerType.Conv2D: cycles += w.macs * m.convCyclesPerMac + w.taps * m.convCyclesPerTap + w.outputElements * m.cyclesPerOutput; break;
    case LayerType.Linear: cycles += w.macs * m.linearCyclesPerMac + w.outputElements * m.cyclesPerOutput; break;
    case LayerType.MaxPool2D: cycles += w.compares * m.poolCyclesPerCompare + w.taps * m.poolCyclesPerTap + w.outputElements * m.cyclesPerOutput; break;
    case LayerType.ReLU: cycles += w.outputElements * m.reluCyclesPerElement; break;
    case LayerType.Flatten: cycles += w.outputElements * m.flattenCyclesPerElement; break;
    case LayerType.Softmax: cycles += w.outputElements * m.softmaxCyclesPerElement; break;
  }
  return cycles * m.scale;
}

export function estimateLatency(records: readonly LayerRecord[], blobBytes: number, m: CostModel = RP2040_COST_MODEL): LatencyEstimate {
  const toMs = (cycles: number) => (cycles / m.clockHz) * 1000;
  const layers = records.map((r, index) => {
    const cycles = layerCycles(r, m);
    return { index, cycles, ms: toMs(cycles) };
  });
  const first = records[0], last = records[records.length - 1];
  const ioElements = first.in.c * first.in.h * first.in.w + last.out.c * last.out.h * last.out.w;
  const callCycles = (m.callCycles + ioElements * m.copyCyclesPerElement) * m.scale;
  const inferMs = toMs(callCycles) + layers.reduce((sum, l) => sum + l.ms, 0);
  const loadMs = (blobBytes / m.loadBytesPerSecond) * 1000 * m.scale;
  return { model: m.label, layers, inferMs, loadMs };
}

/** One measured run: what the board reported for a model (median inference time in ms). */
export interface TimingObservation {
  records: readonly LayerRecord[];
  blobBytes: number;
  measuredInferMs: number;
}

/**
 * Scales the model so its estimates match measurements (least squares on the ratio, one
 * factor). Per-layer-type factors need measurements of models with different layer mixes;
 * a single factor is what one deployed model can support.
 */
export function calibrateCostModel(base: CostModel, observations: readonly TimingObservation[]): CostModel {
  const pairs = observations
    .map((o) => ({ estimate: estimateLatency(o.records, o.blobBytes, { ...base, scale: 1 }).inferMs, measured: o.measuredInferMs }))
    .filter((p) => p.estimate > 0 && p.measured > 0);
  if (!pairs.length) return base;
  const num = pairs.reduce((s, p) => s + p.estimate * p.measured, 0);
  const den = pairs.reduce((s, p) => s + p.estimate * p.estimate, 0);
  return { ...base, scale: num / den, label: `${base.label.replace(/ \(estimate.*\)$/, '')} (calibrated on ${pairs.length} measurement${pairs.length > 1 ? 's' : ''})` };
}
