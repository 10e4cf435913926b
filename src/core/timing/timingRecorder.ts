// Builds runs from the board's console, one complete line at a time (SerialSession's `line`
// event). State: `idle` (no program output expected), `running` (a run is open and takes
// samples), `traceback` (a traceback ended the run; the exception line that closes it is read
// into the run). Bounded: the last `maxRuns` runs, the last `maxSamplesPerRun` samples of each.
//
// Rules, beyond the start and end messages (timingLine.ts):
// - Timing lines outside a run (the monitor was connected mid-run, or code run from the REPL)
//   open a run of their own.
// - A `CPML-MODEL` line in a run that already has a model or samples starts a new run: the board
//   restarted the program and its start message was missed.
// - In a run of the generated code.py both the plain line and the `CPML-*` line for a sample are
//   printed: the plain line is recorded only until its `CPML-*` line replaces it, and once the run
//   is known to be instrumented plain lines are ignored.
import { parseTimingLine, type TimingRecord } from './timingLine.js';
import { runLabel, type EndReason, type Run, type Sample } from './run.js';

export interface TimingRecorderOptions {
  /** Runs kept (oldest dropped first). Default 20. */
  maxRuns?: number;
  /** Samples kept per run (oldest dropped first). Default 1000. */
  maxSamplesPerRun?: number;
  /** The clock runs are stamped with (tests pass their own). */
  now?: () => Date;
}

export type RecorderState = 'idle' | 'running' | 'traceback';

/** Called after every change; `run` is the run that changed, undefined when the whole list did. */
export type TimingListener = (run: Run | undefined) => void;

export class TimingRecorder {
  readonly maxRuns: number;
  readonly maxSamplesPerRun: number;
  private readonly now: () => Date;
  private readonly list: Run[] = [];
  private readonly listeners: TimingListener[] = [];
  private stateNow: RecorderState = 'idle';
  /** The open run (state `running`), or the run a traceback just ended (state `traceback`). */
  private current?: Run;
  /** The last sample of `current`, while it comes from a plain line that a `CPML-*` line may replace. */
  private provisional?: Sample;
  /** `current` prints `CPML-*` lines: its plain lines are redundant. */
  private instrumented = false;
  private nextId = 1;

  constructor(options: TimingRecorderOptions = {}) {
    this.maxRuns = Math.max(1, options.maxRuns ?? 20);
    this.maxSamplesPerRun = Math.max(1, options.maxSamplesPerRun ?? 1000);
    this.now = options.now ?? (() => new Date());
  }

  get state(): RecorderState {
    return this.stateNow;
  }

  /** Oldest first. */
  get runs(): readonly Run[] {
    return this.list;
  }

  /** The run that is taking samples now. */
  get activeRun(): Run | undefined {
    return this.stateNow === 'running' ? this.current : undefined;
  }

  onChange(listener: TimingListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at !== -1) this.listeners.splice(at, 1);
    };
  }

  /** One complete console line (without its line end). */
  push(line: string): void {
    if (this.stateNow === 'traceback' && this.readTracebackLine(line)) return;
    const record = parseTimingLine(line);
    if (record) this.apply(record);
  }

  /** Forgets every run (an open run too: its further samples start a new one). */
  clear(): void {
    this.list.length = 0;
    this.reset();
    this.notify(undefined);
  }

  /** Replaces the runs with saved ones (fromJSON): all ended, oldest first. */
  restore(runs: readonly Run[]): void {
    this.list.length = 0;
    this.reset();
    for (const run of runs.slice(-this.maxRuns)) {
      this.list.push(run);
      this.nextId = Math.max(this.nextId, run.id + 1);
    }
    this.notify(undefined);
  }

  private reset(): void {
    this.stateNow = 'idle';
    this.current = undefined;
    this.provisional = undefined;
    this.instrumented = false;
  }

  /** True when the line belonged to the traceback. */
  private readTracebackLine(line: string): boolean {
    const run = this.current!;
    if (!line.trim() || /^\s/.test(line)) return true; // `  File "code.py", line 12, in <module>`
    const record = parseTimingLine(line);
    this.stateNow = 'idle';
    this.current = undefined;
    if (record && record.kind !== 'upstreamError' && record.kind !== 'prediction') return false;
    // The exception: `ValueError: wrong input size`, or `KeyboardInterrupt:` after Ctrl-C.
    run.exception = line.trim();
    if (/^KeyboardInterrupt\b/.test(run.exception)) run.endReason = 'stopped';
    this.changed(run);
    return true;
  }

  private apply(record: TimingRecord): void {
    switch (record.kind) {
      case 'runStart':
        this.start();
        return;
      case 'runEnd':
        if (this.stateNow !== 'running') return;
        this.end(record.reason);
        if (record.traceback) this.stateNow = 'traceback';
        else this.current = undefined;
        return;
      case 'model': {
        let run = this.open();
        if (run.model || run.samples.length || run.droppedSamples) run = this.start('stopped');
        run.model = defined({
          name: record.name, bytes: record.bytes, estInferMs: record.estInferMs, estLoadMs: record.estLoadMs,
          expectedSamples: record.samples, keepLoaded: record.keepLoaded, simulated: record.simulated,
        });
        this.instrumented = true;
        this.changed(run);
        return;
      }
      case 'sample':
      case 'error': {
        const run = this.open();
        const sample: Sample = record.kind === 'sample'
          ? defined({ index: record.index, file: record.file, pred: record.pred, conf: record.conf, loadMs: record.loadMs, inferMs: record.inferMs, unloadMs: record.unloadMs, memFree: record.memFree })
          : { index: record.index, file: record.file, error: record.error };
        const replaced = this.provisional;
        if (replaced && (replaced.file === undefined || replaced.file === record.file) && (replaced.error !== undefined) === (record.kind === 'error')) {
          run.samples[run.samples.length - 1] = sample;
        } else {
          this.add(run, sample);
        }
        this.provisional = undefined;
        this.instrumented = true;
        this.changed(run);
        return;
      }
      case 'prediction':
      case 'upstreamError': {
        // A plain `Error:` line alone is too common to open a run with.
        if (record.kind === 'upstreamError' && this.stateNow !== 'running') return;
        const run = this.open();
        if (this.instrumented) return;
        const index = run.samples.length + run.droppedSamples;
        const sample: Sample = record.kind === 'prediction' ? defined({ index, file: record.file, pred: record.pred, conf: record.conf }) : { index, error: record.error };
        this.add(run, sample);
        this.provisional = sample;
        this.changed(run);
        return;
      }
      case 'summary': {
        const run = this.activeRun;
        if (!run) return;
        run.summary = defined({
          n: record.n, errors: record.errors, inferMsMin: record.inferMsMin, inferMsMedian: record.inferMsMedian,
          inferMsMean: record.inferMsMean, inferMsMax: record.inferMsMax, totalMs: record.totalMs,
        });
        this.changed(run);
        return;
      }
    }
  }

  /** The open run, or a new one for output that came without a start message. */
  private open(): Run {
    return this.stateNow === 'running' ? this.current! : this.start();
  }

  /** Ends the open run (with `reason`) and starts a new one. */
  private start(reason: EndReason = 'stopped'): Run {
    if (this.stateNow === 'running') this.end(reason);
    const run: Run = { id: this.nextId++, startedAt: this.now(), label: '', samples: [], droppedSamples: 0, ended: false };
    run.label = runLabel(run);
    this.list.push(run);
    if (this.list.length > this.maxRuns) this.list.splice(0, this.list.length - this.maxRuns);
    this.reset();
    this.stateNow = 'running';
    this.current = run;
    this.changed(run);
    return run;
  }

  private end(reason: EndReason): void {
    const run = this.current!;
    run.ended = true;
    run.endReason = reason;
    this.stateNow = 'idle';
    this.provisional = undefined;
    this.changed(run);
  }

  private add(run: Run, sample: Sample): void {
    run.samples.push(sample);
    if (run.samples.length > this.maxSamplesPerRun) {
      const excess = run.samples.length - this.maxSamplesPerRun;
      run.samples.splice(0, excess);
      run.droppedSamples += excess;
    }
  }

  private changed(run: Run): void {
    run.label = runLabel(run);
    this.notify(run);
  }

  private notify(run: Run | undefined): void {
    for (const listener of [...this.listeners]) listener(run);
  }
}

/** The object without its undefined properties (runs stay plain data: equal runs compare equal, JSON keeps them). */
function defined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}
