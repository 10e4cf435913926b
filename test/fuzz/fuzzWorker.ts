// Worker thread of the fuzz test: runs cases [start, end) of one kind and reports back. Before
// each case it publishes the case index in shared memory, so the test's watchdog can name the
// input if a case hangs or exhausts memory and the worker has to be killed.
import { parentPort, workerData } from 'node:worker_threads';
import { loadCorpus, makeCase, onPhase, PHASES, runCase, type CaseFailure, type FuzzKind } from './fuzzCases.js';

export interface WorkerInput {
  kind: FuzzKind;
  seed: number;
  iterations: number;
  start: number;
  end: number;
  /** Int32Array view: [0] index of the case running, [1] its phase (index into PHASES; -1 while the case is built), [2] cases done. */
  progress: SharedArrayBuffer;
  /** Stop collecting details after this many failures (they are still counted). */
  maxFailures: number;
}

export interface WorkerFailure extends CaseFailure {
  index: number;
  origin: string;
}

export interface WorkerReport {
  outcomes: Record<string, number>;
  failures: WorkerFailure[];
  failureCount: number;
  ms: number;
}

const input = workerData as WorkerInput;
const progress = new Int32Array(input.progress);
onPhase((phase) => Atomics.store(progress, 1, PHASES.indexOf(phase)));
const corpus = loadCorpus();
const outcomes: Record<string, number> = {};
const failures: WorkerFailure[] = [];
let failureCount = 0;
const t0 = performance.now();
for (let index = input.start; index < input.end; index++) {
  Atomics.store(progress, 0, index);
  Atomics.store(progress, 1, -1);
  const c = makeCase(corpus, input.kind, input.seed, input.iterations, index);
  const result = runCase(input.kind, c.bytes, { sampleOracle: c.fromCorpus });
  Atomics.add(progress, 2, 1);
  outcomes[result.outcome] = (outcomes[result.outcome] ?? 0) + 1;
  if (result.failure) {
    failureCount++;
    if (failures.length < input.maxFailures) failures.push({ ...result.failure, index, origin: c.origin });
  }
}
const report: WorkerReport = { outcomes, failures, failureCount, ms: performance.now() - t0 };
parentPort!.postMessage(report);
