import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTimingLine } from '../../src/core/timing/timingLine.js';

describe('parseTimingLine: the generated code.py (v=1)', () => {
  it('reads the model line', () => {
    assert.deepEqual(parseTimingLine('CPML-MODEL v=1 model=model.bin bytes=7312 est_infer_ms=164.210 est_load_ms=17.900 samples=20 keep_loaded=0'), {
      kind: 'model', version: 1, name: 'model.bin', bytes: 7312, estInferMs: 164.21, estLoadMs: 17.9, samples: 20, keepLoaded: false, simulated: false,
    });
    const sim = parseTimingLine('CPML-MODEL v=1 model=digits.bin bytes=100 est_infer_ms=5 est_load_ms=1 samples=3 keep_loaded=1 simulated=1');
    assert.equal(sim?.kind === 'model' && sim.simulated, true);
    assert.equal(sim?.kind === 'model' && sim.keepLoaded, true);
  });

  it('reads a timing line, its file name with spaces to the end of the line', () => {
    assert.deepEqual(parseTimingLine('CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.345 infer_ms=150.200 unload_ms=0.400 mem_free=123456 file=mnist_samples/sample_00.bin'), {
      kind: 'sample', version: 1, index: 0, file: 'mnist_samples/sample_00.bin', pred: 7, conf: 100, loadMs: 12.345, inferMs: 150.2, unloadMs: 0.4, memFree: 123456,
    });
    const spaced = parseTimingLine('CPML-TIMING v=1 i=3 pred=1 conf=88.5 infer_ms=1 file=my samples/digit one = 1.bin');
    assert.equal(spaced?.kind === 'sample' && spaced.file, 'my samples/digit one = 1.bin');
  });

  it('ignores unknown keys and keys in another order, and accepts a later version', () => {
    const r = parseTimingLine('CPML-TIMING v=2 cpu_mhz=125 infer_ms=9.5 i=4 temp=31.2 pred=2 conf=51 flag file=a.bin');
    assert.deepEqual(r, { kind: 'sample', version: 2, index: 4, file: 'a.bin', pred: 2, conf: 51, inferMs: 9.5, loadMs: undefined, unloadMs: undefined, memFree: undefined });
  });

  it('reads an error line: the error is free text up to file=', () => {
    assert.deepEqual(parseTimingLine('CPML-ERROR v=1 i=5 error=OSError: [Errno 2] No such file/directory file=mnist_samples/sample_05.bin'), {
      kind: 'error', version: 1, index: 5, file: 'mnist_samples/sample_05.bin', error: 'OSError: [Errno 2] No such file/directory',
    });
    const odd = parseTimingLine('CPML-ERROR v=1 i=6 error=ValueError: bad key=value pair file=x.bin');
    assert.equal(odd?.kind === 'error' && odd.error, 'ValueError: bad key=value pair');
  });

  it('reads the summary line', () => {
    assert.deepEqual(parseTimingLine('CPML-SUMMARY v=1 n=19 errors=1 infer_ms_min=149.8 infer_ms_median=150.2 infer_ms_mean=150.3 infer_ms_max=151.0 total_ms=3210.5'), {
      kind: 'summary', version: 1, n: 19, errors: 1, inferMsMin: 149.8, inferMsMedian: 150.2, inferMsMean: 150.3, inferMsMax: 151, totalMs: 3210.5,
    });
  });

  it('leaves out values that are not numbers, and ignores a trailing CR', () => {
    const r = parseTimingLine('CPML-TIMING v=1 i=1 pred=x conf=nan load_ms=inf infer_ms=1e2 file=s.bin\r');
    assert.deepEqual(r, { kind: 'sample', version: 1, index: 1, file: 's.bin', pred: undefined, conf: undefined, loadMs: undefined, inferMs: 100, unloadMs: undefined, memFree: undefined });
  });

  it('refuses lines cut short or without a usable version or index', () => {
    for (const line of [
      'CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.3', // no file=: cut off
      'CPML-TIMING v=1 i=0 pred=7 file=',
      'CPML-ERROR v=1 i=5 error=OSError: [Errno 2] No such',
      'CPML-ERROR v=1 i=5 file=x.bin', // no error=
      'CPML-TIMING i=0 pred=7 file=a.bin', // no version
      'CPML-TIMING v=0 i=0 file=a.bin',
      'CPML-TIMING v=1.5 i=0 file=a.bin',
      'CPML-TIMING v=1 i=-1 file=a.bin',
      'CPML-TIMING v=1 i=2.5 file=a.bin',
      'CPML-MODEL v=1 bytes=7312',
      'CPML-TIMINGS v=1 i=0 file=a.bin',
      'CPML-',
    ]) {
      assert.equal(parseTimingLine(line), null, line);
    }
  });
});

describe('parseTimingLine: plain upstream output and console messages', () => {
  it('reads prediction and error lines', () => {
    assert.deepEqual(parseTimingLine('File: mnist_samples/sample_00.bin -> Pred: 7 (99.1%)'), { kind: 'prediction', file: 'mnist_samples/sample_00.bin', pred: 7, conf: 99.1 });
    assert.deepEqual(parseTimingLine('File: my samples/a b.bin -> Pred: 3 (nan%)'), { kind: 'prediction', file: 'my samples/a b.bin', pred: 3, conf: undefined });
    assert.deepEqual(parseTimingLine('Error: [Errno 2] No such file/directory: mnist_samples/sample_05.bin'), { kind: 'upstreamError', error: '[Errno 2] No such file/directory: mnist_samples/sample_05.bin' });
  });

  it('recognises the start and end of a run', () => {
    assert.deepEqual(parseTimingLine('code.py output:'), { kind: 'runStart', program: 'code.py' });
    assert.deepEqual(parseTimingLine('main.py output:'), { kind: 'runStart', program: 'main.py' });
    assert.deepEqual(parseTimingLine('Code done running.'), { kind: 'runEnd', reason: 'done' });
    assert.deepEqual(parseTimingLine('Code stopped by auto-reload. Reloading soon.'), { kind: 'runEnd', reason: 'reload' });
    assert.deepEqual(parseTimingLine('soft reboot'), { kind: 'runEnd', reason: 'reload' });
    assert.deepEqual(parseTimingLine('Traceback (most recent call last):'), { kind: 'runEnd', reason: 'error', traceback: true });
    assert.deepEqual(parseTimingLine('>>> import code'), { kind: 'runEnd', reason: 'done' });
  });

  it('returns null for everything else', () => {
    for (const line of [
      '', '   ', 'Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.',
      'Press any key to enter the REPL. Use CTRL-D to reload.', 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040',
      'hello world', 'File: x.bin -> Pred: seven (9%)', 'File: -> Pred: 7 (9%)', '\u0000\u00ff garbage CPML-TIMING v=1 i=0 file=a.bin',
      'ValueError: wrong input size', '  File "code.py", line 12, in <module>', 'code.py output: extra', 'CPML-TIMING-v=1',
    ]) {
      assert.equal(parseTimingLine(line), null, JSON.stringify(line));
    }
  });
});
