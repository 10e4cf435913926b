// The recorder on console output as the board prints it (after SerialSession has split it into
// lines: no line ends, control sequences stripped).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clockTime } from '../../src/core/timing/run.js';
import { TimingRecorder, type TimingRecorderOptions } from '../../src/core/timing/timingRecorder.js';

const lines = (text: string) => text.replace(/^\n/, '').split('\n');

/** A recorder whose clock gives 12:00:00, 12:00:01, … (local time). */
function recorder(options: TimingRecorderOptions = {}) {
  let t = new Date(2025, 0, 15, 12, 0, 0).getTime();
  const r = new TimingRecorder({ now: () => new Date((t += 1000) - 1000), ...options });
  const feed = (text: string) => { for (const line of lines(text)) r.push(line); };
  return { r, feed };
}

const INSTRUMENTED = `
Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.

code.py output:
CPML-MODEL v=1 model=model.bin bytes=7312 est_infer_ms=164.210 est_load_ms=17.900 samples=3 keep_loaded=0
File: mnist_samples/sample_00.bin -> Pred: 7 (100.0%)
CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.345 infer_ms=150.200 unload_ms=0.400 mem_free=123456 file=mnist_samples/sample_00.bin
Error: [Errno 2] No such file/directory: mnist_samples/sample_01.bin
CPML-ERROR v=1 i=1 error=OSError: [Errno 2] No such file/directory file=mnist_samples/sample_01.bin
File: mnist_samples/sample_02.bin -> Pred: 1 (97.5%)
CPML-TIMING v=1 i=2 pred=1 conf=97.5 load_ms=12.1 infer_ms=149.8 unload_ms=0.4 mem_free=120000 file=mnist_samples/sample_02.bin
CPML-SUMMARY v=1 n=2 errors=1 infer_ms_min=149.8 infer_ms_median=150.0 infer_ms_mean=150.0 infer_ms_max=150.2 total_ms=410.5

Code done running.

Press any key to enter the REPL. Use CTRL-D to reload.`;

const PLAIN = `
code.py output:
File: mnist_samples/sample_00.bin -> Pred: 7 (99.1%)
Error: [Errno 2] No such file/directory: mnist_samples/sample_01.bin
File: mnist_samples/sample_02.bin -> Pred: 1 (97.5%)

Code done running.`;

describe('TimingRecorder', () => {
  it('builds a run of the generated code.py: model, samples (each once), error, summary, end', () => {
    const { r, feed } = recorder();
    feed(INSTRUMENTED);
    assert.equal(r.runs.length, 1);
    const [run] = r.runs;
    assert.equal(run.id, 1);
    assert.deepEqual(run.startedAt, new Date(2025, 0, 15, 12, 0, 0));
    assert.deepEqual(run.model, { name: 'model.bin', bytes: 7312, estInferMs: 164.21, estLoadMs: 17.9, expectedSamples: 3, keepLoaded: false, simulated: false });
    assert.deepEqual(run.samples, [
      { index: 0, file: 'mnist_samples/sample_00.bin', pred: 7, conf: 100, loadMs: 12.345, inferMs: 150.2, unloadMs: 0.4, memFree: 123456 },
      { index: 1, file: 'mnist_samples/sample_01.bin', error: 'OSError: [Errno 2] No such file/directory' },
      { index: 2, file: 'mnist_samples/sample_02.bin', pred: 1, conf: 97.5, loadMs: 12.1, inferMs: 149.8, unloadMs: 0.4, memFree: 120000 },
    ]);
    assert.deepEqual(run.summary, { n: 2, errors: 1, inferMsMin: 149.8, inferMsMedian: 150, inferMsMean: 150, inferMsMax: 150.2, totalMs: 410.5 });
    assert.equal(run.ended, true);
    assert.equal(run.endReason, 'done');
    assert.equal(run.label, '12:00:00 · model.bin · 3 samples');
    assert.equal(r.state, 'idle');
  });

  it('builds a run of the plain upstream output: predictions and errors without timings', () => {
    const { r, feed } = recorder();
    feed(PLAIN);
    const [run] = r.runs;
    assert.equal(run.model, undefined);
    assert.deepEqual(run.samples, [
      { index: 0, file: 'mnist_samples/sample_00.bin', pred: 7, conf: 99.1 },
      { index: 1, error: '[Errno 2] No such file/directory: mnist_samples/sample_01.bin' },
      { index: 2, file: 'mnist_samples/sample_02.bin', pred: 1, conf: 97.5 },
    ]);
    assert.equal(run.endReason, 'done');
    assert.equal(run.label, '12:00:00 · code.py · 3 samples');
  });

  it('labels runs of the virtual Pico as simulated, and counts samples against those announced', () => {
    const { r, feed } = recorder();
    feed(`
code.py output:
CPML-MODEL v=1 model=model.bin bytes=7312 est_infer_ms=164.210 est_load_ms=17.900 samples=20 keep_loaded=0 simulated=1
CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.345 infer_ms=150.200 unload_ms=0.400 mem_free=123456 file=mnist_samples/sample_00.bin`);
    assert.equal(r.runs[0].label, '12:00:00 · model.bin · 1/20 samples · simulated');
    assert.equal(r.activeRun, r.runs[0]);
  });

  it('ends a run at auto-reload and at soft reboot, and starts the next at code.py output:', () => {
    const { r, feed } = recorder();
    feed(`
code.py output:
CPML-MODEL v=1 model=model.bin samples=20
CPML-TIMING v=1 i=0 pred=7 conf=100.0 infer_ms=150.2 file=a.bin

Code stopped by auto-reload. Reloading soon.
soft reboot

Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.
code.py output:
CPML-MODEL v=1 model=model.bin samples=20
CPML-TIMING v=1 i=0 pred=7 conf=100.0 infer_ms=151.0 file=a.bin
soft reboot

code.py output:
File: a.bin -> Pred: 7 (99.0%)`);
    assert.deepEqual(r.runs.map((run) => [run.id, run.ended, run.endReason, run.samples.length]), [
      [1, true, 'reload', 1],
      [2, true, 'reload', 1],
      [3, false, undefined, 1],
    ]);
    assert.equal(r.runs[1].samples[0].inferMs, 151);
  });

  it('ends a run at a traceback and keeps its exception; Ctrl-C counts as stopped', () => {
    const { r, feed } = recorder();
    feed(`
code.py output:
CPML-MODEL v=1 model=model.bin samples=20
CPML-TIMING v=1 i=0 pred=7 infer_ms=150.2 file=a.bin
Traceback (most recent call last):
  File "code.py", line 12, in <module>
  File "cnn_helper.py", line 3, in load
ValueError: wrong input size

Code done running.
code.py output:
CPML-TIMING v=1 i=0 pred=7 infer_ms=150.2 file=a.bin
Traceback (most recent call last):
  File "code.py", line 30, in <module>
KeyboardInterrupt: 

Code done running.`);
    const [first, second] = r.runs;
    assert.equal(first.endReason, 'error');
    assert.equal(first.exception, 'ValueError: wrong input size');
    assert.equal(first.samples.length, 1);
    assert.equal(second.endReason, 'stopped');
    assert.equal(second.exception, 'KeyboardInterrupt:');
    assert.equal(r.runs.length, 2);
  });

  it('does not let a traceback in the REPL touch the last run', () => {
    const { r, feed } = recorder();
    feed(`${PLAIN}
>>> 1/0
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
ZeroDivisionError: division by zero
>>> `);
    assert.equal(r.runs.length, 1);
    assert.equal(r.runs[0].endReason, 'done');
    assert.equal(r.runs[0].exception, undefined);
  });

  it('ends an interrupted run (no end message) when the next one starts, with a new model line or a start message', () => {
    const { r, feed } = recorder();
    feed(`
code.py output:
CPML-MODEL v=1 model=model.bin samples=20
CPML-TIMING v=1 i=0 pred=7 infer_ms=150.2 file=a.bin
CPML-TIMING v=1 i=1 pred=2 inf
code.py output:
CPML-MODEL v=1 model=model.bin samples=20
CPML-TIMING v=1 i=0 pred=7 infer_ms=150.2 file=a.bin
CPML-MODEL v=1 model=other.bin samples=5
CPML-TIMING v=1 i=0 pred=3 infer_ms=10 file=b.bin`);
    assert.deepEqual(r.runs.map((run) => [run.model?.name, run.ended, run.endReason, run.samples.length]), [
      ['model.bin', true, 'stopped', 1],
      ['model.bin', true, 'stopped', 1],
      ['other.bin', false, undefined, 1],
    ]);
  });

  it('opens a run for timing lines that come without a start (monitor connected mid-run), replacing the plain line', () => {
    const { r, feed } = recorder();
    feed(`
File: mnist_samples/sample_04.bin -> Pred: 4 (90.0%)
CPML-TIMING v=1 i=4 pred=4 conf=90.0 infer_ms=150.2 file=mnist_samples/sample_04.bin
File: mnist_samples/sample_05.bin -> Pred: 1 (80.0%)
CPML-TIMING v=1 i=5 pred=1 conf=80.0 infer_ms=150.4 file=mnist_samples/sample_05.bin

Code done running.`);
    assert.equal(r.runs.length, 1);
    assert.deepEqual(r.runs[0].samples.map((s) => [s.index, s.inferMs]), [[4, 150.2], [5, 150.4]]);
    assert.equal(r.runs[0].endReason, 'done');
  });

  it('ignores garbage, partial lines, REPL lines and unrelated prints', () => {
    const { r, feed } = recorder();
    feed(`
>>> print("hello")
hello
Error: not in a run
CPML-SUMMARY v=1 n=3
code.py output:
starting up…
CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.3
\u0000\u0001\u00ff����
CPML-TIMING v=1 i=1 pred=7 infer_ms=1.5 file=ok.bin
Done: 3 + 4 = 7
i=2 pred=7 file=x.bin
Code done running.`);
    assert.equal(r.runs.length, 1);
    assert.deepEqual(r.runs[0].samples, [{ index: 1, file: 'ok.bin', pred: 7, inferMs: 1.5 }]);
  });

  it('keeps the last maxRuns runs and the last maxSamplesPerRun samples of each', () => {
    const { r, feed } = recorder({ maxRuns: 3, maxSamplesPerRun: 4 });
    for (let run = 0; run < 5; run++) {
      feed('code.py output:');
      for (let i = 0; i < 10; i++) feed(`CPML-TIMING v=1 i=${i} pred=1 infer_ms=${i} file=s${i}.bin`);
      feed('Code done running.');
    }
    assert.deepEqual(r.runs.map((run) => run.id), [3, 4, 5]);
    for (const run of r.runs) {
      assert.deepEqual(run.samples.map((s) => s.index), [6, 7, 8, 9]);
      assert.equal(run.droppedSamples, 6);
      assert.match(run.label, / · 10 samples$/);
    }
  });

  it('tells its listeners about every change, until they unsubscribe; clear and restore', () => {
    const { r, feed } = recorder();
    const seen: (number | undefined)[] = [];
    const stop = r.onChange((run) => seen.push(run?.id));
    feed('code.py output:\nCPML-TIMING v=1 i=0 pred=1 infer_ms=2 file=a.bin\nunrelated');
    assert.ok(seen.length >= 2);
    assert.ok(seen.every((id) => id === 1));
    const count = seen.length;
    r.clear();
    assert.equal(r.runs.length, 0);
    assert.equal(seen.length, count + 1);
    assert.equal(seen.at(-1), undefined);
    stop();
    feed('code.py output:');
    assert.equal(seen.length, count + 1);
    assert.equal(r.runs[0].id, 2, 'ids are not reused');
    // Restored runs keep their ids; new ones continue after them.
    r.restore([{ ...r.runs[0], id: 41, ended: true }]);
    assert.equal(r.state, 'idle');
    feed('code.py output:');
    assert.deepEqual(r.runs.map((run) => run.id), [41, 42]);
  });

  it('labels runs with the local start time', () => {
    assert.equal(clockTime(new Date(2025, 5, 1, 9, 5, 7)), '09:05:07');
  });
});
