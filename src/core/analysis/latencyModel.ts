// Estimated inference time on an RP2040 (Cortex-M0+ @ 125 MHz, no FPU) from per-layer-type costs.
//
// The engine (cnn_helper's tiny_predict and its layer loops) is FITTED to measurements:
//  - Data: ../shared/rp2040-cycles/calibration.json (copy: test/fixtures/rp2040-cycles/), cycle
//    counts of the firmware's unchanged tiny_inference.c built with CircuitPython's RP2040 flags,
//    floats through the boot ROM routines as CircuitPython links them, counted on an RP2040
//    emulator with the B1 boot ROM: 178 single layers of all six types and 3 whole models.
//  - Fit: tools/fit_latency_model.ts (`node --import tsx tools/fit_latency_model.ts`), one
//    least-squares fit per layer type on the relative error, over layerWork()'s counts. Each
//    term is cycles per iteration of one loop of the C code, outermost first:
//      layer          per layer: tiny_predict's dispatch (≈ 110 cycles) and the layer's setup
//      planes         per output channel (Conv2D) / channel (MaxPool2D): the outermost loop
//      outputElements per output element: its loops, the bias load, the store (ReLU, Flatten,
//                     Softmax: per element; Softmax's ≈ 977 are mostly the ROM's expf, ≈ 539,
//                     plus a compare, fsub, fadd and fdiv; the first element has no compare)
//      channelLoops   per output element × input channel (Conv2D)
//      kernelRows     per kernel/window row visited, rows outside the input included
//      taps           per kernel/window position visited, whether used or skipped at the border
//      macs           per multiply-accumulate done (fmul + fadd through the ROM, ≈ 187 of them)
//      compares       per MaxPool2D float compare done (ROM fcmpgt ≈ 45)
//    Conv2D's per-layer term (18.5 ± 84) is poorly determined (the data hardly tell it from
//    the per-output-channel term); the others are determined within a few cycles (the script
//    prints standard errors). test/analysis/latencyModel.test.ts checks that these constants
//    are what the script fits, and every entry's residual.
//  - Residuals, (estimate − measured) / measured: single layers within ±2.1% (Conv2D 2.1%,
//    Linear 2.1% — all-zero inputs, ReLU 1.6% — all-negative inputs, Softmax 1.3%, MaxPool2D
//    1.1%, Flatten 0.0%); whole models (Σ of their layers): upstream example +0.93%
//    (240.8 ms estimated, 238.6 ms measured), small CNN −0.29%, MLP +0.05%.
//  - Not included in the measurements, so not in these terms: flash XIP cache misses (the code
//    runs from flash; a cold cache costs extra on a board), interrupts, and the float routines'
//    dependence on the data (all-zero inputs make Conv2D/Linear 2–3% faster).
// ESTIMATES, not measured: CircuitPython's own perform_inference work around the engine
// (argument parsing, copying the input in, building the output list: callCycles and
// copyCyclesPerElement) and load_model (loadBytesPerSecond). Measured timings from a board
// calibrate the whole (calibrateCostModel).
import { LayerType, type LayerRecord } from '../blob/blobFormat.js';
import { layerWork, type LayerWork } from './layerCosts.js';

/** A count a cost term multiplies: one per layer, or one of layerWork()'s counts. */
export type CostTerm = 'layer' | keyof Pick<LayerWork, 'planes' | 'outputElements' | 'channelLoops' | 'kernelRows' | 'taps' | 'macs' | 'compares'>;

/** Cycles per unit of each count, for one layer type. */
export type LayerCostTerms = Partial<Record<CostTerm, number>>;

export interface CostModel {
  label: string;
  clockHz: number;
  /** tiny_predict's cycles per layer, by layer type: Σ coefficient × count (fitted, see above). */
  layerTerms: Record<LayerType, LayerCostTerms>;
  /** A record of no known type (an invalid blob, which inspect still reports on): the dispatch only. */
  unknownLayerCycles: number;
  /** ESTIMATE (not measured): perform_inference's own work, argument parsing and the call. */
  callCycles: number;
  /** ESTIMATE (not measured): per input element copied in and per output element put in the result list. */
  copyCyclesPerElement: number;
  /** ESTIMATE (not measured): load_model reading the blob from the CIRCUITPY filesystem. */
  loadBytesPerSecond: number;
  /** Multiplies every cycle count; 1 until calibrated against a board. */
  scale: number;
  sources: string[];
}

export const RP2040_COST_MODEL: CostModel = {
  label: 'RP2040 @ 125 MHz, CircuitPython (estimate: engine fitted to RP2040 cycle counts, perform_inference overhead and load_model assumed)',
  clockHz: 125_000_000,
  layerTerms: {
    [LayerType.Conv2D]: { layer: 18.53, planes: 383.6, outputElements: 40.3, channelLoops: 36.39, kernelRows: 40.46, taps: 16.25, macs: 216.12 },
    [LayerType.MaxPool2D]: { layer: 126.84, planes: 139.14, outputElements: 66.86, kernelRows: 11.41, taps: 9.38, compares: 80.27 },
    [LayerType.Linear]: { layer: 167.1, outputElements: 34.58, macs: 209.55 },
    [LayerType.ReLU]: { layer: 112.28, outputElements: 65.95 },
    [LayerType.Flatten]: { layer: 109, outputElements: 10 },
    [LayerType.Softmax]: { layer: 30.72, outputElements: 976.77 },
  },
  unknownLayerCycles: 110,
  callCycles: 3000,
  copyCyclesPerElement: 6,
  loadBytesPerSecond: 400 * 1024,
  scale: 1,
  sources: [
    'engine: least-squares fit (tools/fit_latency_model.ts) to 181 RP2040 cycle counts of tiny_inference.c (../shared/rp2040-cycles): layers within 2.1%, models within 1%',
    'float routines: RP2040 boot ROM via the Pico SDK wrappers, as CircuitPython links them (fmul ≈ 94, fadd ≈ 93, fcmpgt ≈ 45, expf ≈ 539 cycles per call)',
    'perform_inference overhead (argument parsing, input copy, output list): estimate, not measured',
    'load_model throughput: estimate, assumed until calibrated with measured load times',
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
  /** The engine (tiny_predict): all layers, from the fitted costs. */
  engineMs: number;
  /** perform_inference's own work around the engine: an estimate, not measured. */
  overheadMs: number;
  /** perform_inference: engineMs + overheadMs. */
  inferMs: number;
  /** load_model: reading the blob and allocating the scratch buffers (an estimate, not measured). */
  loadMs: number;
}

/** tiny_predict's cycles for one layer (its dispatch included), times the model's scale. */
export function layerCycles(r: LayerRecord, m: CostModel): number {
  const terms = m.layerTerms[r.type as LayerType] as LayerCostTerms | undefined;
  if (!terms) return m.unknownLayerCycles * m.scale;
  const w = layerWork(r);
  let cycles = 0;
  for (const term in terms) {
    const perUnit = terms[term as CostTerm] ?? 0;
    cycles += perUnit * (term === 'layer' ? 1 : w[term as Exclude<CostTerm, 'layer'>]);
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
  const overheadMs = toMs((m.callCycles + ioElements * m.copyCyclesPerElement) * m.scale);
  const engineMs = layers.reduce((sum, l) => sum + l.ms, 0);
  const loadMs = (blobBytes / m.loadBytesPerSecond) * 1000 * m.scale;
  return { model: m.label, layers, engineMs, overheadMs, inferMs: overheadMs + engineMs, loadMs };
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
