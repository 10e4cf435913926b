// Summary statistics of a run's timings, and the host's latency estimate beside them.
import type { Run } from './run.js';

export interface Statistics {
  n: number;
  /** NaN when n is 0, like the other values. */
  min: number;
  /** The middle value; for an even n the mean of the two middle values. */
  median: number;
  mean: number;
  /** Nearest-rank 95th percentile: the value at rank ⌈0.95·n⌉ of the sorted values (1-based). */
  p95: number;
  max: number;
}

/** Statistics of the finite values (NaN and infinities are left out). */
export function statistics(values: readonly number[]): Statistics {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const n = sorted.length;
  if (!n) return { n: 0, min: NaN, median: NaN, mean: NaN, p95: NaN, max: NaN };
  const middle = n >> 1;
  return {
    n,
    min: sorted[0],
    median: n % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2,
    mean: sorted.reduce((sum, v) => sum + v, 0) / n,
    p95: sorted[Math.ceil(0.95 * n) - 1],
    max: sorted[n - 1],
  };
}

export interface RunStatistics {
  /** Of the samples' inference times. */
  infer: Statistics;
  /** Of the samples' model load times. */
  load: Statistics;
  /** Samples with a prediction / with an error (of those kept). */
  predictions: number;
  errors: number;
  /** The host's estimate from the model line, when the program printed one. */
  estInferMs?: number;
  /** measured median / estimate: above 1 the board is slower than estimated. */
  ratio?: number;
}

export function runStatistics(run: Run): RunStatistics {
  const infer = statistics(run.samples.flatMap((s) => (s.inferMs === undefined ? [] : [s.inferMs])));
  const load = statistics(run.samples.flatMap((s) => (s.loadMs === undefined ? [] : [s.loadMs])));
  const stats: RunStatistics = {
    infer,
    load,
    predictions: run.samples.filter((s) => s.pred !== undefined).length,
    errors: run.samples.filter((s) => s.error !== undefined).length,
  };
  const estimate = run.model?.estInferMs;
  if (estimate !== undefined) {
    stats.estInferMs = estimate;
    if (infer.n && estimate > 0) stats.ratio = infer.median / estimate;
  }
  return stats;
}
