// The Inference Timing view: the tree provider on a recorder fed with console lines (the source
// module, loaded against the vscode stand-in), and the view inside the activated extension
// (dist/extension.js): registered, restored from the workspace state, exported, cleared.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it, mock } from 'node:test';
import type * as vscodeTypes from 'vscode';
import type { TimingRecorder as TimingRecorderType } from '../../src/core/timing/timingRecorder.js';
import type { TimingNode, TimingTreeProvider as TimingTreeProviderType, TimingView as TimingViewType } from '../../src/extension/timingView.js';
import { createVscodeStub, interceptRequire, type StubRecord } from './vscodeStub.js';

const RUN = `code.py output:
CPML-MODEL v=1 model=model.bin bytes=7312 est_infer_ms=164.210 est_load_ms=17.900 samples=3 keep_loaded=0
File: mnist_samples/sample_00.bin -> Pred: 7 (100.0%)
CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.345 infer_ms=150.200 unload_ms=0.400 mem_free=123456 file=mnist_samples/sample_00.bin
Error: [Errno 2] No such file/directory: mnist_samples/sample_01.bin
CPML-ERROR v=1 i=1 error=OSError: [Errno 2] No such file/directory file=mnist_samples/sample_01.bin
CPML-TIMING v=1 i=2 pred=1 conf=97.5 load_ms=14.0 infer_ms=151.0 unload_ms=0.4 mem_free=120000 file=mnist_samples/sample_02.bin
CPML-SUMMARY v=1 n=2 errors=1 infer_ms_min=150.2 infer_ms_median=150.6 infer_ms_mean=150.6 infer_ms_max=151.0 total_ms=410.5

Code done running.`;

type Item = vscodeTypes.TreeItem & { label: string; iconPath?: { id: string } };

describe('TimingTreeProvider', () => {
  let hooks: { restore(): void };
  let TimingRecorder: typeof TimingRecorderType;
  let TimingTreeProvider: typeof TimingTreeProviderType;
  let TimingView: typeof TimingViewType;
  let record: StubRecord;

  before(() => {
    const stub = createVscodeStub();
    record = stub.record;
    hooks = interceptRequire({ vscode: () => stub.vscode });
    // After the stand-in is in place: the module requires 'vscode' when it loads.
    /* eslint-disable @typescript-eslint/no-require-imports */
    ({ TimingTreeProvider, TimingView } = require('../../src/extension/timingView.ts') as typeof import('../../src/extension/timingView.js'));
    ({ TimingRecorder } = require('../../src/core/timing/timingRecorder.ts') as typeof import('../../src/core/timing/timingRecorder.js'));
    /* eslint-enable @typescript-eslint/no-require-imports */
  });
  after(() => hooks.restore());
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  function setup() {
    let t = new Date(2025, 0, 15, 14, 2, 11).getTime();
    const recorder = new TimingRecorder({ now: () => new Date((t += 60_000) - 60_000) });
    const provider = new TimingTreeProvider(recorder);
    const feed = (text: string) => { for (const line of text.split('\n')) recorder.push(line); };
    const item = (node: TimingNode) => provider.getTreeItem(node) as Item;
    return { recorder, provider, feed, item };
  }

  it('shows runs newest first, with a label, the median and an icon by state', () => {
    const { provider, feed, item } = setup();
    feed(RUN);
    feed('code.py output:\nCPML-MODEL v=1 model=model.bin samples=20 simulated=1\nCPML-TIMING v=1 i=0 pred=7 conf=99.0 infer_ms=150.0 file=a.bin');
    const runs = provider.getChildren();
    assert.equal(runs.length, 2);
    const [newest, older] = runs.map(item);
    assert.equal(newest.label, '14:03:11 · model.bin · 1/20 samples · simulated');
    assert.equal(newest.iconPath?.id, 'sync~spin');
    assert.equal(newest.collapsibleState, 2, 'the newest run is expanded');
    assert.equal(older.label, '14:02:11 · model.bin · 3 samples');
    assert.equal(older.description, 'median 150.6 ms');
    assert.equal(older.iconPath?.id, 'error', 'a run with a failed sample');
    assert.equal(older.collapsibleState, 1);
    assert.match(String(older.tooltip), /Model model\.bin \(7312 bytes\)/);
    assert.notEqual(newest.id, older.id);
  });

  it('gives a run a summary node first (statistics, host estimate), then its samples', () => {
    const { provider, feed, item } = setup();
    feed(RUN);
    const [run] = provider.getChildren();
    const children = provider.getChildren(run);
    assert.deepEqual(children.map((c) => c.kind), ['summary', 'sample', 'sample', 'sample']);
    const summary = item(children[0]);
    assert.equal(summary.label, 'n 2 · min 150.2 · median 150.6 · mean 150.6 · p95 151.0 · max 151.0 ms');
    assert.equal(summary.description, 'host estimate 164.2 ms · measured/estimate 0.92×');
    const details = provider.getChildren(children[0]).map((d) => item(d).label);
    assert.deepEqual(details, [
      'load n 2 · min 12.3 · median 13.2 · mean 13.2 · p95 14.0 · max 14.0 ms',
      'host estimate 164.2 ms · measured/estimate 0.92×',
      'board summary: n 2 · 1 error · median 150.6 ms · total 410.5 ms',
    ]);
    const [ok, failed] = children.slice(1).map(item);
    assert.equal(ok.label, '#0 sample_00.bin → 7 (100.0%)');
    assert.equal(ok.description, 'infer 150.2 ms · load 12.3 ms');
    assert.match(String(ok.tooltip), /mnist_samples\/sample_00\.bin[\s\S]*inference 150\.2 ms[\s\S]*unload 0\.4 ms[\s\S]*free memory 123456 bytes/);
    assert.equal(failed.label, '#1 sample_01.bin');
    assert.equal(failed.description, 'OSError: [Errno 2] No such file/directory');
    assert.equal(failed.iconPath?.id, 'error');
  });

  it('shows plain upstream output as predictions without timings', () => {
    const { provider, feed, item } = setup();
    feed('code.py output:\nFile: mnist_samples/sample_00.bin -> Pred: 7 (99.1%)\nError: [Errno 2] No such file/directory\n\nCode done running.');
    const [run] = provider.getChildren();
    assert.equal(item(run).iconPath?.id, 'error');
    assert.equal(item(run).description, 'no timings');
    const [summary, sample, error] = provider.getChildren(run).map(item);
    assert.equal(summary.label, 'no timing lines · 1 prediction · 1 error');
    assert.equal(summary.description, undefined);
    assert.equal(sample.label, '#0 sample_00.bin → 7 (99.1%)');
    assert.equal(sample.description, undefined);
    assert.equal(error.label, '#1 sample');
  });

  it('marks a finished run as passed and an interrupted one as stopped', () => {
    const { provider, feed, item } = setup();
    feed('code.py output:\nCPML-TIMING v=1 i=0 pred=7 infer_ms=150.0 file=a.bin\nCode done running.');
    feed('code.py output:\nCPML-TIMING v=1 i=0 pred=7 infer_ms=150.0 file=a.bin\nCode stopped by auto-reload. Reloading soon.');
    assert.deepEqual(provider.getChildren().map((n) => item(n).iconPath?.id), ['circle-slash', 'pass']);
  });

  it('refreshes at most once per 200 ms however fast lines come, and once more for the last ones', () => {
    const { provider, feed } = setup();
    let fired = 0;
    provider.onDidChangeTreeData(() => fired++);
    feed('code.py output:');
    assert.equal(fired, 1, 'the first change is shown at once');
    for (let i = 0; i < 500; i++) feed(`CPML-TIMING v=1 i=${i} pred=1 infer_ms=1 file=s.bin`);
    assert.equal(fired, 1);
    mock.timers.tick(200);
    assert.equal(fired, 2, 'what came during the window, together');
    mock.timers.tick(200);
    assert.equal(fired, 2, 'nothing more to show');
    feed('Code done running.');
    assert.equal(fired, 3);
    provider.dispose();
    mock.timers.tick(1000);
    assert.equal(fired, 3);
  });

  it('TimingView keeps the runs in the workspace state, written at most every 2 s and on dispose', () => {
    const saved = new Map<string, unknown>();
    const memento = { get: (k: string) => saved.get(k), update: async (k: string, v: unknown) => { saved.set(k, v); }, keys: () => [...saved.keys()] } as unknown as vscodeTypes.Memento;
    const log = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, show() {} };
    const first = new TimingView(memento, log);
    assert.ok(record.treeViews.has('cpml.timing'));
    for (const line of RUN.split('\n')) first.push(line);
    assert.equal(saved.size, 0, 'not written at every line');
    mock.timers.tick(2000);
    const data = saved.get('cpml.timing.runs') as { runs: { id: number; samples: unknown[] }[] };
    assert.deepEqual(data.runs.map((r) => [r.id, r.samples.length]), [[1, 3]]);
    first.push('code.py output:');
    first.push('CPML-TIMING v=1 i=0 pred=7 infer_ms=150.0 file=a.bin');
    first.dispose();
    assert.equal(record.treeViews.has('cpml.timing'), false);
    const again = new TimingView(memento, log);
    const runs = again.recorder.runs;
    assert.deepEqual(runs.map((r) => [r.id, r.samples.length, r.ended]), [[1, 3, true], [2, 1, true]]);
    again.push('code.py output:');
    assert.equal(again.recorder.runs.at(-1)!.id, 3);
    again.dispose();
  });
});

describe('Inference Timing view in the activated extension', () => {
  const EXTENSION = resolve('dist/extension.js');
  const manifest = JSON.parse(readFileSync('package.json', 'utf8'));

  function activate(saved?: unknown) {
    const { vscode, record } = createVscodeStub();
    const hooks = interceptRequire({ vscode: () => vscode });
    after(() => hooks.restore());
    delete require.cache[EXTENSION];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ext = require(EXTENSION) as { activate(context: unknown): void };
    const state = new Map<string, unknown>(saved === undefined ? [] : [['cpml.timing.runs', saved]]);
    const subscriptions: { dispose(): void }[] = [];
    ext.activate({
      subscriptions,
      workspaceState: { get: (k: string) => state.get(k), update: async (k: string, v: unknown) => { if (v === undefined) state.delete(k); else state.set(k, v); } },
      extension: { packageJSON: manifest },
    });
    const view = () => record.treeViews.get('cpml.timing')?.treeDataProvider as vscodeTypes.TreeDataProvider<unknown> | undefined;
    return { vscode, record, state, view, dispose: () => { for (const s of subscriptions) s.dispose(); } };
  }

  const saved = {
    version: 1,
    runs: [{
      id: 7, startedAt: '2025-01-15T12:00:00.000Z', label: 'stale', droppedSamples: 0, ended: true, endReason: 'done',
      model: { name: 'model.bin', estInferMs: 164.21, simulated: false },
      samples: [
        { index: 0, file: 'mnist_samples/sample_00.bin', pred: 7, conf: 100, loadMs: 12.345, inferMs: 150.2, unloadMs: 0.4, memFree: 123456 },
        { index: 1, file: 'mnist_samples/sample, "01".bin', error: 'OSError: [Errno 2]' },
      ],
    }],
  };

  it('registers the view and restores the runs saved in the workspace state', async () => {
    const a = activate(saved);
    try {
      const provider = a.view();
      assert.ok(provider, 'cpml.timing is registered');
      const runs = await provider.getChildren!();
      assert.equal(runs?.length, 1);
      const item = await provider.getTreeItem(runs![0]) as Item;
      assert.match(item.label, / · model\.bin · 2 samples$/);
      assert.equal(item.description, 'median 150.2 ms');
    } finally {
      a.dispose();
    }
  });

  it('starts empty when the saved state is corrupt', async () => {
    const a = activate({ version: 1, runs: [{ id: 'x' }] });
    try {
      assert.deepEqual(await a.view()!.getChildren!(), []);
    } finally {
      a.dispose();
    }
  });

  it('exports CSV to the file chosen in the save dialog, and clears the runs and the saved state', async () => {
    const a = activate(saved);
    try {
      const file = join(mkdtempSync(join(tmpdir(), 'cpml-timing-')), 'timings.csv');
      a.record.saveDialogAnswer = (a.vscode.Uri as typeof vscodeTypes.Uri).file(file);
      await a.record.commands.get('cpml.timing.exportCsv')!();
      assert.equal(a.record.saveDialogs.length, 1);
      assert.deepEqual(a.record.saveDialogs[0].filters, { 'CSV files': ['csv'] });
      assert.deepEqual(readFileSync(file, 'utf8').split('\r\n'), [
        'run_id,run_start,model,sample,file,pred,conf,load_ms,infer_ms,unload_ms,mem_free,error',
        '7,2025-01-15T12:00:00.000Z,model.bin,0,mnist_samples/sample_00.bin,7,100,12.345,150.2,0.4,123456,',
        '7,2025-01-15T12:00:00.000Z,model.bin,1,"mnist_samples/sample, ""01"".bin",,,,,,,OSError: [Errno 2]',
        '',
      ]);
      assert.match(a.record.messages.at(-1)!.text, /Exported 2 samples of 1 run to .*timings\.csv/);

      // Cancelled: nothing written, no message.
      a.record.saveDialogAnswer = undefined;
      const messages = a.record.messages.length;
      await a.record.commands.get('cpml.timing.exportCsv')!();
      assert.equal(a.record.messages.length, messages);

      await a.record.commands.get('cpml.timing.clear')!();
      assert.deepEqual(await a.view()!.getChildren!(), []);
      assert.equal(a.state.has('cpml.timing.runs'), false, 'the saved runs are gone');
      await a.record.commands.get('cpml.timing.exportCsv')!();
      assert.match(a.record.messages.at(-1)!.text, /No inference timings to export yet/);
      assert.equal(a.record.saveDialogs.length, 2, 'no dialog without anything to export');
      assert.ok(!a.record.messages.some((m) => m.level === 'error'), JSON.stringify(a.record.messages));
    } finally {
      a.dispose();
    }
  });
});
