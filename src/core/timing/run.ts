// The data of the Inference Timing view: a run is one execution of the board's program (from
// "code.py output:" to "Code done running.", a traceback or a reset), made of samples — one per
// input the program classified. Plain data: what the recorder builds, the view shows, the CSV
// export writes and the workspace state keeps.

/** Why a run ended: the program finished, raised, was reloaded (auto-reload, soft reboot) or was stopped (Ctrl-C, reset, a new run without an end). */
export type EndReason = 'done' | 'error' | 'reload' | 'stopped';

export const END_REASONS: readonly EndReason[] = ['done', 'error', 'reload', 'stopped'];

/** What the generated code.py says about the model it runs (its `CPML-MODEL` line). */
export interface RunModel {
  /** File name of the blob on the board, e.g. `model.bin`. */
  name: string;
  bytes?: number;
  /** The host's latency estimates, for comparison with the measurement. */
  estInferMs?: number;
  estLoadMs?: number;
  /** How many samples the program will classify. */
  expectedSamples?: number;
  keepLoaded?: boolean;
  /** The timings come from the virtual Pico, not from a real board. */
  simulated: boolean;
}

export interface Sample {
  /** The program's sample number (`i=`), or the position in the run for plain upstream output. */
  index: number;
  /** The input file on the board; unknown for a plain upstream `Error:` line. */
  file?: string;
  pred?: number;
  /** Confidence in percent. */
  conf?: number;
  loadMs?: number;
  inferMs?: number;
  unloadMs?: number;
  /** `gc.mem_free()` after the sample, in bytes. */
  memFree?: number;
  error?: string;
}

/** The program's own summary line (`CPML-SUMMARY`). */
export interface RunSummary {
  n?: number;
  errors?: number;
  inferMsMin?: number;
  inferMsMedian?: number;
  inferMsMean?: number;
  inferMsMax?: number;
  totalMs?: number;
}

export interface Run {
  /** Unique among the runs of a recorder (and across restores of its saved state). */
  id: number;
  startedAt: Date;
  /** `14:02:11 · model.bin · 20 samples · simulated`: kept up to date by the recorder. */
  label: string;
  model?: RunModel;
  /** In the order the board printed them; the oldest are dropped beyond the recorder's limit. */
  samples: Sample[];
  /** Samples dropped from the front of `samples` to stay within the limit. */
  droppedSamples: number;
  summary?: RunSummary;
  ended: boolean;
  endReason?: EndReason;
  /** The last line of the traceback that ended the run, e.g. `ValueError: wrong input size`. */
  exception?: string;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local wall-clock time, `14:02:11`. */
export function clockTime(date: Date): string {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** `14:02:11 · model.bin · 20 samples` (`3/20 samples` while fewer than announced), `· simulated` for the virtual Pico. */
export function runLabel(run: Run): string {
  const count = run.samples.length + run.droppedSamples;
  const expected = run.model?.expectedSamples;
  const samples = expected !== undefined && expected !== count ? `${count}/${expected} samples` : `${count} sample${count === 1 ? '' : 's'}`;
  return [clockTime(run.startedAt), run.model?.name ?? 'code.py', samples, run.model?.simulated && 'simulated'].filter(Boolean).join(' · ');
}

/** The file name without its folders: `mnist_samples/sample_00.bin` → `sample_00.bin`. */
export function baseName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1) || file;
}
