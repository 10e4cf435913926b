// Timing helper for the benchmarks: warm-up runs, then repeated timed runs; reports the median
// and the minimum (the median is what to compare across commits, the minimum the best case).

export interface MeasureOptions {
  /** Untimed runs first (JIT warm-up, caches). Default 3. */
  warmup?: number;
  /** Keep warming up (beyond warmup runs) until this much time has passed, in ms. Default 0. */
  warmupMs?: number;
  /** Timed runs. Default 10. */
  reps?: number;
  /** Keep repeating (beyond reps) until this much time was spent timing, in ms. Default 0. */
  minTotalMs?: number;
  /** Never more timed runs than this. Default 10,000. */
  maxReps?: number;
}

export interface Measurement {
  /** Milliseconds per run, in the order measured. */
  samples: number[];
  medianMs: number;
  minMs: number;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function summarize(samples: number[]): Measurement {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { samples, medianMs, minMs: sorted[0] };
}

/** Times a synchronous function. */
export function measure(fn: () => unknown, options: MeasureOptions = {}): Measurement {
  const { warmup = 3, warmupMs = 0, reps = 10, minTotalMs = 0, maxReps = 10_000 } = options;
  const warmupStart = nowMs();
  for (let i = 0; i < warmup || (nowMs() - warmupStart < warmupMs && i < maxReps); i++) fn();
  const samples: number[] = [];
  let total = 0;
  while (samples.length < maxReps && (samples.length < reps || total < minTotalMs)) {
    const start = nowMs();
    fn();
    const ms = nowMs() - start;
    samples.push(ms);
    total += ms;
  }
  return summarize(samples);
}
