// Fuzz test: thousands of mutated, truncated and generated ONNX files through convertOnnxBytes,
// and mutated and truncated blobs through validateBlob → loadModel → performInference. Every call
// must return or throw a CpmlError; anything else (TypeError, RangeError, a call over 2 s, a hang,
// running out of memory) fails the test with the offending inputs written to a temp folder. So
// does a blob that computes something else than its ONNX model: every converted model that runs
// is also run by the reference evaluator on a seeded random input (the differential oracle in
// fuzzCases.ts), and every output value must agree within 1e-4 × max(1, max |reference|).
//
//   node tools/run-tests.mjs test/fuzz                       # fixed default seed
//   CPML_FUZZ_SEED=12345 node tools/run-tests.mjs test/fuzz  # another seed (printed on every run)
//   CPML_FUZZ_ITERATIONS=50000 ...                           # more random cases per kind
//   CPML_FUZZ_SLOW_MS=5000 ...                               # per-call time limit (default 2000 ms)
//
// Run from the repository root (as tools/run-tests.mjs does). The cases run in two worker threads (ONNX and blob side by side); a watchdog kills a worker
// whose case runs longer than HANG_MS and names the case, which is rebuilt from (seed, index).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { Worker } from 'node:worker_threads';
import {
  caseCount, iterationsFromEnv, loadCorpus, makeCase, PHASES, runCase, seedFromEnv, SLOW_CALL_MS, type Corpus, type FuzzKind,
} from './fuzzCases.js';
import type { WorkerFailure, WorkerInput, WorkerReport } from './fuzzWorker.js';

/**
 * A call still running after this long is a hang: its worker is terminated. (Calls that finish
 * but take over SLOW_CALL_MS are reported by the worker itself.)
 */
const HANG_MS = Math.max(20_000, SLOW_CALL_MS * 10);
/** Building one case (e.g. a 200,000-node model) may take a while; this is for bugs in the fuzzer itself. */
const BUILD_HANG_MS = 60_000;
/** Heap limit of a worker; beyond it the worker dies with ERR_WORKER_OUT_OF_MEMORY. */
const WORKER_HEAP_MB = 1536;
/** Reproducers written per kind; further failures are only counted. */
const MAX_REPORTED = 5;
/** After this many killed workers (hangs, out-of-memory) of one kind, the rest of its cases are skipped. */
const MAX_RESTARTS = 3;
const CRASHERS_DIR = join('test', 'fuzz', 'crashers');
/**
 * Node 20 does not run `--import tsx` in worker threads, so the worker registers tsx's
 * CommonJS hook itself before loading the TypeScript worker module.
 */
const WORKER_BOOTSTRAP = `require('tsx/cjs'); require(${JSON.stringify(resolve('test', 'fuzz', 'fuzzWorker.ts'))});`;

interface KindResult {
  kind: FuzzKind;
  cases: number;
  outcomes: Record<string, number>;
  failures: WorkerFailure[];
  failureCount: number;
  skipped: number;
  ms: number;
}

type KilledFailure = Omit<WorkerFailure, 'index' | 'origin'>;

const liveWorkers = new Set<Worker>();

function runWorker(input: Omit<WorkerInput, 'progress'>, onKilled: (index: number, failure: KilledFailure) => void):
  Promise<{ report?: WorkerReport; resumeAt?: number }> {
  const progress = new SharedArrayBuffer(12);
  const cells = new Int32Array(progress);
  cells[0] = -1;
  const worker = new Worker(WORKER_BOOTSTRAP, {
    eval: true,
    workerData: { ...input, progress } satisfies WorkerInput,
    // About the main thread's stack (V8's default ~1 MB), where the CLI and the extension run
    // the same code: a worker's default 4 MB would hide stack overflows.
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB, stackSizeMb: 1 },
  });
  return new Promise((resolve) => {
    let settled = false;
    let report: WorkerReport | undefined;
    let lastKey = '';
    let lastChange = Date.now();
    const finish = (value: { report?: WorkerReport; resumeAt?: number }) => {
      if (settled) return;
      settled = true;
      clearInterval(watchdog);
      resolve(value);
    };
    const current = () => Atomics.load(cells, 0);
    const phase = () => PHASES[Atomics.load(cells, 1)] ?? 'convert';
    // The clock restarts whenever the worker moves on to another call (phase) or case.
    const watchdog = setInterval(() => {
      const key = `${Atomics.load(cells, 2)}:${Atomics.load(cells, 1)}`;
      if (key !== lastKey || current() < 0) {
        lastKey = key;
        lastChange = Date.now();
        return;
      }
      const stalled = Date.now() - lastChange;
      const building = Atomics.load(cells, 1) < 0;
      if (stalled > (building ? BUILD_HANG_MS : HANG_MS)) {
        const index = current();
        onKilled(index, {
          phase: phase(), reason: 'hang', name: 'Hang',
          message: `${building ? 'building the case (a bug in the fuzzer)' : 'the call'} still running after ${stalled} ms; worker terminated`,
          stack: '', ms: stalled,
        });
        void worker.terminate();
        finish({ resumeAt: index + 1 });
      }
    }, 250);
    // Never keep the process alive for the watchdog alone; the test's after() hook ends stray workers.
    watchdog.unref();
    liveWorkers.add(worker);
    worker.on('exit', () => liveWorkers.delete(worker));
    worker.on('message', (message: WorkerReport) => {
      report = message;
    });
    worker.on('error', (error: Error & { code?: string }) => {
      const index = current();
      const oom = error.code === 'ERR_WORKER_OUT_OF_MEMORY';
      onKilled(index, {
        phase: phase(), reason: oom ? 'out-of-memory' : 'worker-crash', name: oom ? 'OutOfMemory' : error.name,
        message: oom ? `worker ran out of memory (heap limit ${WORKER_HEAP_MB} MB): ${error.message}` : error.message,
        stack: error.stack ?? '', ms: 0,
      });
      finish({ resumeAt: index < 0 ? input.end : index + 1 });
    });
    worker.on('exit', (code) => {
      if (report) finish({ report });
      else if (!settled) {
        const index = current();
        onKilled(index, { phase: phase(), reason: 'worker-crash', name: 'WorkerExit', message: `worker exited with code ${code} before finishing`, stack: '', ms: 0 });
        finish({ resumeAt: index < 0 ? input.end : index + 1 });
      }
    });
  });
}

async function fuzzKind(corpus: Corpus, kind: FuzzKind, seed: number, iterations: number): Promise<KindResult> {
  const total = caseCount(corpus, kind, iterations);
  const result: KindResult = { kind, cases: total, outcomes: {}, failures: [], failureCount: 0, skipped: 0, ms: 0 };
  const t0 = performance.now();
  let start = 0;
  let restarts = 0;
  while (start < total) {
    const { report, resumeAt } = await runWorker(
      { kind, seed, iterations, start, end: total, maxFailures: MAX_REPORTED },
      (index, failure) => {
        result.failureCount++;
        const origin = index >= 0 ? describeCase(corpus, kind, seed, iterations, index) : 'worker start-up';
        if (result.failures.length < MAX_REPORTED) result.failures.push({ ...failure, index, origin });
      },
    );
    if (report) {
      for (const [k, n] of Object.entries(report.outcomes)) result.outcomes[k] = (result.outcomes[k] ?? 0) + n;
      for (const f of report.failures) if (result.failures.length < MAX_REPORTED) result.failures.push(f);
      result.failureCount += report.failureCount;
      break;
    }
    start = resumeAt ?? total;
    if (++restarts > MAX_RESTARTS) {
      result.skipped = total - start;
      break;
    }
  }
  result.ms = performance.now() - t0;
  return result;
}

function describeCase(corpus: Corpus, kind: FuzzKind, seed: number, iterations: number, index: number): string {
  try {
    return makeCase(corpus, kind, seed, iterations, index).origin;
  } catch (error) {
    return `(the fuzzer failed to build this case: ${(error as Error).stack})`;
  }
}

/** Writes each reported input to `dir` and returns a readable report for the assertion message. */
function writeReproducers(dir: string, corpus: Corpus, seed: number, iterations: number, result: KindResult): string {
  const lines: string[] = [];
  for (const f of result.failures) {
    const file = join(dir, `${result.kind}-case${f.index}.${result.kind === 'onnx' ? 'onnx' : 'bin'}`);
    try {
      if (f.index >= 0) writeFileSync(file, makeCase(corpus, result.kind, seed, iterations, f.index).bytes);
    } catch {
      // Reported through the origin text.
    }
    lines.push(
      `--- ${result.kind} case ${f.index} (${f.origin})`,
      `    input: ${f.index >= 0 ? file : '(none)'}`,
      `    ${f.phase}: ${f.reason} ${f.name}: ${f.message} [${f.ms.toFixed(0)} ms]`,
      ...(f.stack ? f.stack.split('\n').map((l) => `    ${l}`) : []),
    );
  }
  return lines.join('\n');
}

function formatOutcomes(result: KindResult): string {
  const parts = Object.entries(result.outcomes).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`);
  return `${result.kind}: ${result.cases} cases in ${(result.ms / 1000).toFixed(1)} s — ${parts.join(', ')}`;
}

describe('fuzzing the converter and the blob checks', () => {
  after(async () => {
    await Promise.all([...liveWorkers].map((w) => w.terminate()));
  });

  it('every mutated ONNX file and blob is handled or refused with a CpmlError', { timeout: 300_000 }, async (t: TestContext) => {
    const seed = seedFromEnv();
    const iterations = iterationsFromEnv();
    t.diagnostic(`CPML_FUZZ_SEED=${seed} (set it to reproduce or vary this run), ${iterations} random cases per kind`);
    const corpus = loadCorpus();
    const results = await Promise.all((['onnx', 'blob'] as const).map((kind) => fuzzKind(corpus, kind, seed, iterations)));
    for (const r of results) t.diagnostic(formatOutcomes(r));

    const failed = results.filter((r) => r.failureCount > 0 || r.skipped > 0);
    if (failed.length) {
      const dir = mkdtempSync(join(tmpdir(), 'cpml-fuzz-'));
      const report = failed.map((r) => writeReproducers(dir, corpus, seed, iterations, r)).join('\n');
      const counts = failed.map((r) => `${r.kind}: ${r.failureCount} failing case(s)${r.skipped ? `, ${r.skipped} skipped after repeated worker kills` : ''}`).join('; ');
      writeFileSync(join(dir, 'report.txt'), `seed ${seed}\n${counts}\n${report}\n`);
      assert.fail(`fuzzing found inputs not handled with a CpmlError (seed ${seed}; ${counts}).\n` +
        `Reproducers in ${dir} (report.txt has everything); rerun with CPML_FUZZ_SEED=${seed}.\n${report}`);
    }
    // The minimum the run promises: 10,000+ cases of each kind, with both outcomes exercised.
    for (const r of results) assert.ok(r.cases >= 10_000 || iterations < 10_000, `${r.kind}: only ${r.cases} cases`);
  });

  it('replays the saved crash inputs in test/fuzz/crashers', (t: TestContext) => {
    const files = existsSync(CRASHERS_DIR) ? readdirSync(CRASHERS_DIR).filter((f) => f.endsWith('.onnx') || f.endsWith('.bin')).sort() : [];
    if (!files.length) {
      t.skip('no saved crash inputs');
      return;
    }
    for (const f of files) {
      const bytes = new Uint8Array(readFileSync(join(CRASHERS_DIR, f)));
      const { failure } = runCase(f.endsWith('.onnx') ? 'onnx' : 'blob', bytes);
      assert.equal(failure, undefined, `${join(CRASHERS_DIR, f)}: ${failure?.phase} ${failure?.reason} ${failure?.name}: ${failure?.message}\n${failure?.stack}`);
    }
  });
});
