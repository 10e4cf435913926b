// How much work one inference is, and the limit the host tools put on it. A blob of a few KB can
// ask for days of computing (1000 Conv layers with 127×127 kernels sharing one weight array), so
// the host engine, the reference evaluator and the virtual Pico refuse such a model before they
// start, with what it would cost on the board; inspect only warns.
import { estimateLatency, RP2040_COST_MODEL, type CostModel } from '../analysis/latencyModel.js';
import { layerWork } from '../analysis/layerCosts.js';
import { formatShape, LAYER_TYPE_NAMES, LayerType, type LayerRecord } from '../blob/blobFormat.js';
import { CpmlError } from '../errors.js';

/**
 * Default limit of MACs per inference: 250 million. A Pico needs about 1.7 µs per MAC (latencyModel.ts), so that
 * is about 7 minutes for one inference on the board, far beyond any model someone would run
 * there (the example MNIST CNN needs 0.13 million; a Pico's 150 KB of heap keep real models in
 * the tens of millions at most). On the host it is one to a few seconds per inference.
 */
export const DEFAULT_MAX_MACS = 250_000_000;

/** Estimated board time above which inspect warns even when the model is within the limit. */
export const SLOW_INFERENCE_MS = 60_000;

export interface LayerShare {
  index: number;
  steps: number;
  /** Fraction of the model's work (0–1). */
  share: number;
  /** Layers doing exactly as much work (itself included). */
  alike: number;
}

export interface ComputeEstimate {
  /** MACs per inference, as the budget counts them (see LayerWork.steps). */
  macs: number;
  /** Of those, the multiply-accumulates proper (the rest: padding taps, pooling windows, element operations). */
  multiplyAccumulates: number;
  /** Estimated time of one inference on the board (RP2040 cost model). */
  boardMs: number;
  heaviest: LayerShare;
}

export interface EstimateOptions {
  /** Cost model for the board time (default RP2040_COST_MODEL). */
  costModel?: CostModel;
  /** The board time, when the caller has already estimated it (the model report). */
  boardMs?: number;
}

export function estimateCompute(records: readonly LayerRecord[], options: EstimateOptions = {}): ComputeEstimate {
  let macs = 0, multiplyAccumulates = 0;
  let heaviest = { index: 0, steps: -1, share: 0, alike: 0 };
  records.forEach((r, index) => {
    const work = layerWork(r);
    const steps = work.steps;
    macs += steps;
    multiplyAccumulates += work.macs;
    if (steps > heaviest.steps) heaviest = { index, steps, share: 0, alike: 1 };
    else if (steps === heaviest.steps) heaviest.alike++;
  });
  heaviest.share = macs > 0 ? heaviest.steps / macs : 0;
  const boardMs = options.boardMs ?? estimateLatency(records, 0, options.costModel ?? RP2040_COST_MODEL).inferMs;
  return { macs, multiplyAccumulates, boardMs, heaviest };
}

/** The model needs more MACs per inference than the limit allows. */
export class ComputeBudgetError extends CpmlError {
  readonly macs: number;
  readonly limitMacs: number;
  readonly layerIndex: number;
  constructor(estimate: ComputeEstimate, limitMacs: number, records: readonly LayerRecord[], hint?: string) {
    super(`the model needs ${describeMacs(estimate)} per inference, more than the limit of ${count(limitMacs)}: ${describeCompute(estimate, records)}`,
      hint ?? `Make the model smaller (fewer or smaller layers); to run it on the host anyway, raise the limit with --max-macs ${estimate.macs}`);
    this.macs = estimate.macs;
    this.limitMacs = limitMacs;
    this.layerIndex = estimate.heaviest.index;
  }
}

/**
 * Refuses, before anything runs, a model whose inference needs more than `limitMacs` MACs.
 * `hint` replaces the default advice (which names the --max-macs flag of cpml run/validate).
 */
export function assertWithinComputeBudget(records: readonly LayerRecord[], limitMacs: number = DEFAULT_MAX_MACS, hint?: string): ComputeEstimate {
  const estimate = estimateCompute(records);
  if (estimate.macs > limitMacs) throw new ComputeBudgetError(estimate, limitMacs, records, hint);
  return estimate;
}

/**
 * "645,160,000,000 MACs (188,568,576,000 of them padding taps, …)": what the limit counts, and
 * how much of it is not multiply-accumulates, so it can be told apart from inspect's MAC total.
 */
export function describeMacs(estimate: ComputeEstimate): string {
  const other = estimate.macs - estimate.multiplyAccumulates;
  return `${count(estimate.macs)} MACs` + (other > 0 ? ` (${count(other)} of them padding taps, pooling windows or element operations the loops also visit)` : '');
}

/** "estimated 29.4 hours per inference on the board; layer 3 (Conv2D …) does 0.1% of the work (1000 layers alike)". */
export function describeCompute(estimate: ComputeEstimate, records: readonly LayerRecord[]): string {
  const h = estimate.heaviest;
  const percent = h.share >= 0.995 ? '100' : h.share >= 0.1 ? (h.share * 100).toFixed(0) : String(Number((h.share * 100).toPrecision(2)));
  const alike = h.alike > 1 ? `, as do ${count(h.alike - 1)} more layer${h.alike > 2 ? 's' : ''}` : '';
  return `estimated ${formatDuration(estimate.boardMs)} per inference on the board; layer ${h.index} (${describeLayer(records[h.index])}) does ${percent}% of the work${alike}`;
}

/** "Conv2D 1×200×200 → 1×74×74, kernel 127, stride 1, padding 0". */
export function describeLayer(r: LayerRecord): string {
  const name = LAYER_TYPE_NAMES[r.type as LayerType] ?? `type ${r.type}`;
  const shapes = `${formatShape(r.in)} → ${formatShape(r.out)}`;
  if (r.type === LayerType.Conv2D) return `${name} ${shapes}, kernel ${r.kernel}, stride ${r.stride}, padding ${r.padding}`;
  if (r.type === LayerType.MaxPool2D) return `${name} ${shapes}, window ${r.kernel}, stride ${r.stride}`;
  return `${name} ${shapes}`;
}

/** 950 ms, 12.5 seconds, 4.2 minutes, 29.4 hours. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} seconds`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} minutes`;
  return `${count(Number((ms / 3_600_000).toFixed(1)))} hours`;
}

const count = (n: number) => n.toLocaleString('en-US');
