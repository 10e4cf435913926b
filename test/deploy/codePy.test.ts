// The generated code.py, run to the end on real MicroPython (WebAssembly build from npm) with
// cnn_helper backed by the host engine: what a board would print.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { executeDeploy } from '../../src/core/deploy/executeDeploy.js';
import { planDeploy, type DeployPlan, type DeployRequest } from '../../src/core/deploy/planDeploy.js';
import { loadModel, performInference } from '../../src/core/engine/firmwareEngine.js';
import { copySamples, EXAMPLE_BLOB, EXAMPLE_ONNX, EXAMPLE_SAMPLES, makeDrive, tempDir } from './deploySupport.js';
import { runCodePy, type BoardRun } from './micropythonHarness.js';

const MS = '\\d+\\.\\d{3}';
const TIMING = new RegExp(`^CPML-TIMING v=1 i=(\\d+) pred=(\\d+) conf=(\\d+\\.\\d) load_ms=(${MS}) infer_ms=(${MS}) unload_ms=(${MS}) mem_free=(-?\\d+) file=(.+)$`);
const ERROR = /^CPML-ERROR v=1 i=(\d+) error=(\w+): (.*) file=(.+)$/;
const MODEL = new RegExp(`^CPML-MODEL v=1 model=(\\S+) bytes=(\\d+) est_infer_ms=(${MS}) est_load_ms=(${MS}) samples=(\\d+) keep_loaded=([01]) simulated=([01])$`);
const SUMMARY = new RegExp(`^CPML-SUMMARY v=1 n=(\\d+) errors=(\\d+)(?: infer_ms_min=(${MS}) infer_ms_median=(${MS}) infer_ms_mean=(${MS}) infer_ms_max=(${MS}))? unload_ms=(${MS}) total_ms=(${MS})$`);
const PRED = /^File: (.+) -> Pred: (\d+) \((\d+\.\d)%\)$/;

interface Timing { i: number; pred: number; conf: string; loadMs: number; inferMs: number; unloadMs: number; memFree: number; file: string }

function timings(run: BoardRun): Timing[] {
  return run.lines.filter((l) => l.startsWith('CPML-TIMING')).map((l) => {
    const m = TIMING.exec(l);
    assert.ok(m, `malformed timing line: ${l}`);
    return { i: +m[1], pred: +m[2], conf: m[3], loadMs: +m[4], inferMs: +m[5], unloadMs: +m[6], memFree: +m[7], file: m[8] };
  });
}

function summary(run: BoardRun) {
  const lines = run.lines.filter((l) => l.startsWith('CPML-SUMMARY'));
  assert.equal(lines.length, 1, 'one summary line');
  const m = SUMMARY.exec(lines[0]);
  assert.ok(m, `malformed summary: ${lines[0]}`);
  return { n: +m[1], errors: +m[2], min: m[3] && +m[3], median: m[4] && +m[4], mean: m[5] && +m[5], max: m[6] && +m[6], unloadMs: +m[7], totalMs: +m[8] };
}

async function deployTo(request: Omit<DeployRequest, 'drive'>): Promise<{ drive: string; plan: DeployPlan }> {
  const drive = makeDrive('print("my own program")\n');
  const plan = await planDeploy({ ...request, drive });
  await executeDeploy(plan);
  return { drive, plan };
}

/** What the host engine (bit-exact with the firmware) predicts, and the upstream softmax confidence. */
function hostPrediction(sample: string): { pred: number; conf: number } {
  const out = Array.from(performInference(loadModel(new Uint8Array(readFileSync(EXAMPLE_BLOB))), new Uint8Array(readFileSync(sample))));
  let pred = 0;
  for (let i = 1; i < out.length; i++) if (out[i] > out[pred]) pred = i;
  const exps = out.map((v) => Math.exp(v - out[pred]));
  return { pred, conf: (exps[pred] / exps.reduce((a, b) => a + b, 0)) * 100 };
}

const labels = readFileSync(join(EXAMPLE_SAMPLES, 'labels.txt'), 'utf8').trim().split('\n').map(Number);
const expected = Array.from({ length: 20 }, (_, i) => hostPrediction(join(EXAMPLE_SAMPLES, `sample_${String(i).padStart(2, '0')}.bin`)));

describe('generated code.py on MicroPython', () => {
  let example: { drive: string; plan: DeployPlan };
  let run: BoardRun;
  before(async () => {
    example = await deployTo({ model: EXAMPLE_ONNX });
    run = await runCodePy({ driveFolder: example.drive });
  });

  it('predicts what the host engine predicts for the 20 samples, 19 of them right', () => {
    assert.equal(run.uncaught, undefined, run.uncaught?.message);
    const preds = run.lines.filter((l) => l.startsWith('File: ')).map((l) => {
      const m = PRED.exec(l);
      assert.ok(m, `malformed prediction line: ${l}`);
      return { file: m[1], pred: +m[2], conf: +m[3] };
    });
    assert.equal(preds.length, 20);
    preds.forEach((p, i) => {
      assert.equal(p.file, `mnist_samples/sample_${String(i).padStart(2, '0')}.bin`);
      assert.equal(p.pred, expected[i].pred, `sample ${i}`);
      assert.ok(Math.abs(p.conf - expected[i].conf) <= 0.051, `sample ${i}: confidence ${p.conf} vs ${expected[i].conf}`);
    });
    assert.equal(preds.filter((p, i) => p.pred === labels[i]).length, 19);
    assert.deepEqual(run.calls, { load: 20, infer: 20, unload: 20 });
  });

  it('prints a CPML-MODEL line with the host estimate, then one CPML-TIMING line per sample after its plain line', () => {
    const m = MODEL.exec(run.lines[0]);
    assert.ok(m, `first line: ${run.lines[0]}`);
    const { model } = example.plan;
    assert.deepEqual(m.slice(1), ['model.bin', '7312', model.latency.inferMs.toFixed(3), model.latency.loadMs.toFixed(3), '20', '0', '0']);
    const t = timings(run);
    assert.equal(t.length, 20);
    t.forEach((s, i) => {
      assert.equal(s.i, i);
      assert.equal(s.file, `mnist_samples/sample_${String(i).padStart(2, '0')}.bin`);
      assert.equal(s.pred, expected[i].pred);
      assert.ok(s.loadMs >= 0 && s.inferMs >= 0 && s.unloadMs >= 0, JSON.stringify(s)); // the wasm port's clocks tick in whole ms
      assert.ok(s.memFree > 0);
      const at = run.lines.findIndex((l) => l.startsWith(`CPML-TIMING v=1 i=${i} `));
      assert.equal(run.lines[at - 1], `File: ${s.file} -> Pred: ${s.pred} (${s.conf}%)`);
    });
  });

  it('ends with a CPML-SUMMARY of the inference times', () => {
    const s = summary(run);
    const infer = timings(run).map((t) => t.inferMs).sort((a, b) => a - b);
    assert.equal(s.n, 20);
    assert.equal(s.errors, 0);
    assert.equal(s.min, infer[0]);
    assert.equal(s.max, infer[19]);
    assert.ok(Math.abs(Number(s.median) - (infer[9] + infer[10]) / 2) <= 0.0011);
    assert.ok(Number(s.mean) >= infer[0] && Number(s.mean) <= infer[19]);
    assert.ok(s.totalMs >= infer.reduce((a, b) => a + b, 0) - 0.02);
    assert.equal(run.lines.at(-1), run.lines.find((l) => l.startsWith('CPML-SUMMARY')));
  });

  it('reports an unreadable sample with Error: and CPML-ERROR, and carries on', async () => {
    const broken = await runCodePy({ driveFolder: example.drive, omit: ['mnist_samples/sample_05.bin'] });
    assert.equal(broken.uncaught, undefined);
    const at = broken.lines.findIndex((l) => l.startsWith('CPML-ERROR'));
    assert.match(broken.lines[at - 1], /^Error: /);
    const m = ERROR.exec(broken.lines[at]);
    assert.ok(m, broken.lines[at]);
    assert.deepEqual([m[1], m[2], m[4]], ['5', 'OSError', 'mnist_samples/sample_05.bin']);
    assert.deepEqual(timings(broken).map((t) => t.i), [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    assert.deepEqual([summary(broken).n, summary(broken).errors], [19, 1]);
  });

  it('reports a sample of the wrong size and the firmware\'s own errors', async () => {
    const drive = makeDrive();
    const samples = copySamples(tempDir());
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive, samples });
    await executeDeploy(plan);
    writeFileSync(join(drive, 'mnist_samples', 'sample_02.bin'), new Uint8Array(100)); // changed on the drive after the deploy
    const short = await runCodePy({ driveFolder: drive });
    assert.ok(short.lines.includes('CPML-ERROR v=1 i=2 error=ValueError: sample has 100 bytes, the model takes 3600 file=mnist_samples/sample_02.bin'));
    assert.ok(short.lines.includes('Error: sample has 100 bytes, the model takes 3600'));

    // A board with too little heap: load_model raises MemoryError, as cnn_helper does, every time.
    const starved = await runCodePy({ driveFolder: drive, heapBytes: 4096 });
    assert.equal(starved.uncaught, undefined);
    const errors = starved.lines.filter((l) => l.startsWith('CPML-ERROR'));
    assert.equal(errors.length, 20);
    assert.match(errors[0], /^CPML-ERROR v=1 i=0 error=MemoryError: memory allocation failed, allocating 7312 bytes file=mnist_samples\/sample_00\.bin$/);
    assert.ok(starved.lines.includes('Error: memory allocation failed, allocating 7312 bytes'));
    const s = summary(starved);
    assert.deepEqual([s.n, s.errors, s.min], [0, 20, undefined]);
  });

  it('keep-loaded loads the model once and unloads it once', async () => {
    const kept = await deployTo({ model: EXAMPLE_ONNX, keepLoaded: true });
    const r = await runCodePy({ driveFolder: kept.drive });
    assert.equal(r.uncaught, undefined);
    assert.deepEqual(r.calls, { load: 1, infer: 20, unload: 1 });
    assert.match(r.lines[0], / keep_loaded=1 simulated=0$/);
    const t = timings(r);
    assert.deepEqual(t.map((s) => s.pred), expected.map((e) => e.pred));
    assert.ok(t.slice(1).every((s) => s.loadMs === 0 && s.unloadMs === 0));
    assert.ok(t.every((s) => s.unloadMs === 0));
    assert.equal(summary(r).n, 20);
  });

  it('runs CircuitPython\'s clock path (time.monotonic_ns)', async () => {
    const r = await runCodePy({ driveFolder: example.drive, circuitPythonTime: true });
    assert.equal(r.uncaught, undefined);
    assert.equal(timings(r).length, 20);
    assert.equal(summary(r).n, 20);
    assert.ok(summary(r).totalMs > 0); // (time_ns here ticks in whole ms: single inferences may read 0.000)
  });

  it('survives sample paths with spaces, quotes and backslashes', async () => {
    const folder = tempDir();
    const samples = copySamples(folder, 'my samples');
    const odd = 'a "quoted" \'one\' \\ back.bin';
    writeFileSync(join(samples, odd), readFileSync(join(samples, 'sample_00.bin')));
    const deployed = await deployTo({ model: EXAMPLE_ONNX, samples });
    const r = await runCodePy({ driveFolder: deployed.drive });
    assert.equal(r.uncaught, undefined);
    const t = timings(r);
    assert.equal(t.length, 21);
    assert.equal(t[0].file, `my samples/${odd}`);
    assert.equal(t[0].pred, expected[0].pred);
    assert.equal(t[1].file, 'my samples/sample_00.bin');
  });
});
