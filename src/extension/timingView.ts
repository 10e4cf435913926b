// The Inference Timing view (`cpml.timing`): runs → a summary node and one node per sample,
// built by a TimingRecorder from the board's console lines. The tree refreshes at most every
// `throttleMs` however fast the board prints; the runs are kept in the workspace state (written
// at most every few seconds) and come back after a window reload.
import * as vscode from 'vscode';
import { runStatistics, type Statistics } from '../core/timing/statistics.js';
import { baseName, type Run, type Sample } from '../core/timing/run.js';
import { runsToCsv } from '../core/timing/timingCsv.js';
import { TimingRecorder } from '../core/timing/timingRecorder.js';
import { fromJSON, toJSON } from '../core/timing/timingState.js';
import type { Log } from './log.js';

export const TIMING_VIEW_ID = 'cpml.timing';
const STATE_KEY = 'cpml.timing.runs';
/** Samples kept in the workspace state over all runs (the newest runs first). */
const MAX_SAVED_SAMPLES = 2000;
const SAVE_DELAY_MS = 2000;

interface DetailNode { kind: 'detail'; run: Run; key: string; label: string; tooltip?: string }

export type TimingNode =
  | { kind: 'run'; run: Run; newest: boolean }
  | { kind: 'summary'; run: Run }
  | DetailNode
  | { kind: 'sample'; run: Run; sample: Sample; seq: number };

const ms = (value: number) => value.toFixed(1);
const statLine = (s: Statistics) => `n ${s.n} · min ${ms(s.min)} · median ${ms(s.median)} · mean ${ms(s.mean)} · p95 ${ms(s.p95)} · max ${ms(s.max)} ms`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

const END_TEXT: Record<string, string> = {
  done: 'finished',
  error: 'ended by an exception',
  reload: 'stopped by a reload',
  stopped: 'stopped',
};

export class TimingTreeProvider implements vscode.TreeDataProvider<TimingNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<TimingNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly unsubscribe: () => void;
  private timer?: NodeJS.Timeout;
  private pending = false;

  constructor(readonly recorder: TimingRecorder, private readonly throttleMs = 200) {
    this.unsubscribe = recorder.onChange(() => this.refresh());
  }

  /** Redraws the tree now, or at the end of the current throttle window. */
  refresh(): void {
    if (this.timer) {
      this.pending = true;
      return;
    }
    this.changed.fire(undefined);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.pending) return;
      this.pending = false;
      this.refresh();
    }, this.throttleMs);
  }

  getChildren(node?: TimingNode): TimingNode[] {
    if (!node) {
      const runs = [...this.recorder.runs].reverse();
      return runs.map((run, i) => ({ kind: 'run', run, newest: i === 0 }));
    }
    const { run } = node;
    if (node.kind === 'run') {
      const first = run.droppedSamples;
      return [{ kind: 'summary', run }, ...run.samples.map((sample, i): TimingNode => ({ kind: 'sample', run, sample, seq: first + i }))];
    }
    if (node.kind === 'summary') return summaryDetails(run);
    return [];
  }

  getTreeItem(node: TimingNode): vscode.TreeItem {
    switch (node.kind) {
      case 'run': return runItem(node.run, node.newest);
      case 'summary': return summaryItem(node.run);
      case 'sample': return sampleItem(node.run, node.sample, node.seq);
      case 'detail': {
        const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
        item.id = `run-${node.run.id}/summary/${node.key}`;
        item.tooltip = node.tooltip;
        return item;
      }
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.unsubscribe();
    this.changed.dispose();
  }
}

function runItem(run: Run, newest: boolean): vscode.TreeItem {
  const item = new vscode.TreeItem(run.label, newest ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
  item.id = `run-${run.id}`;
  item.contextValue = 'cpml.timing.run';
  const stats = runStatistics(run);
  item.description = stats.infer.n ? `median ${ms(stats.infer.median)} ms` : stats.predictions ? 'no timings' : undefined;
  const failed = run.endReason === 'error' || stats.errors > 0;
  item.iconPath = !run.ended ? new vscode.ThemeIcon('sync~spin')
    : failed ? new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'))
      : run.endReason === 'done' ? new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'))
        : new vscode.ThemeIcon('circle-slash');
  const m = run.model;
  item.tooltip = [
    `Run started ${run.startedAt.toLocaleString()}${m?.simulated ? ' on the virtual Pico (simulated timings)' : ''}`,
    m && `Model ${m.name}${m.bytes !== undefined ? ` (${m.bytes} bytes)` : ''}${m.keepLoaded ? ', kept loaded' : ''}`,
    `${plural(run.samples.length + run.droppedSamples, 'sample')}${m?.expectedSamples !== undefined ? ` of ${m.expectedSamples}` : ''}, ${plural(stats.errors, 'error')}`,
    run.ended ? `${END_TEXT[run.endReason ?? ''] ?? 'ended'}${run.exception ? `: ${run.exception}` : ''}` : 'running…',
  ].filter(Boolean).join('\n');
  return item;
}

function summaryItem(run: Run): vscode.TreeItem {
  const stats = runStatistics(run);
  const label = stats.infer.n ? statLine(stats.infer)
    : run.samples.length ? `no timing lines · ${plural(stats.predictions, 'prediction')} · ${plural(stats.errors, 'error')}`
      : 'no samples yet';
  const details = summaryDetails(run);
  const item = new vscode.TreeItem(label, details.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  item.id = `run-${run.id}/summary`;
  item.iconPath = new vscode.ThemeIcon('graph');
  item.description = estimateText(run);
  item.tooltip = [stats.infer.n ? `Inference: ${statLine(stats.infer)}` : label, ...details.map((d) => d.label)].join('\n');
  return item;
}

function estimateText(run: Run): string | undefined {
  const stats = runStatistics(run);
  if (stats.estInferMs === undefined) return undefined;
  return `host estimate ${ms(stats.estInferMs)} ms${stats.ratio !== undefined ? ` · measured/estimate ${stats.ratio.toFixed(2)}×` : ''}`;
}

function summaryDetails(run: Run): DetailNode[] {
  const stats = runStatistics(run);
  const details: DetailNode[] = [];
  const add = (key: string, label: string, tooltip?: string) => details.push({ kind: 'detail', run, key, label, tooltip });
  if (stats.load.n) add('load', `load ${statLine(stats.load)}`, 'Model load time (cnn_helper.load_model)');
  const estimate = estimateText(run);
  if (estimate) add('estimate', estimate, 'The host\'s latency estimate for one inference, and the measured median divided by it');
  const b = run.summary;
  if (b) {
    const parts = [b.n !== undefined && `n ${b.n}`, b.errors !== undefined && plural(b.errors, 'error'), b.inferMsMedian !== undefined && `median ${ms(b.inferMsMedian)} ms`, b.totalMs !== undefined && `total ${ms(b.totalMs)} ms`];
    add('board', `board summary: ${parts.filter(Boolean).join(' · ') || 'empty'}`, 'The summary line the program printed');
  }
  if (run.droppedSamples) add('dropped', `first ${plural(run.droppedSamples, 'sample')} not kept`, 'Only the latest samples of a run are kept');
  if (run.exception) add('exception', run.exception, 'The exception that ended the run');
  return details;
}

function sampleItem(run: Run, s: Sample, seq: number): vscode.TreeItem {
  const name = s.file !== undefined ? baseName(s.file) : 'sample';
  const prediction = s.pred !== undefined ? ` → ${s.pred}${s.conf !== undefined ? ` (${s.conf.toFixed(1)}%)` : ''}` : '';
  const item = new vscode.TreeItem(`#${s.index} ${name}${prediction}`, vscode.TreeItemCollapsibleState.None);
  item.id = `run-${run.id}/sample-${seq}`;
  item.contextValue = s.error !== undefined ? 'cpml.timing.sampleError' : 'cpml.timing.sample';
  if (s.error !== undefined) {
    item.iconPath = new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    item.description = s.error;
  } else {
    item.iconPath = new vscode.ThemeIcon('circle-small-filled');
    item.description = [s.inferMs !== undefined && `infer ${ms(s.inferMs)} ms`, s.loadMs !== undefined && `load ${ms(s.loadMs)} ms`].filter(Boolean).join(' · ') || undefined;
  }
  item.tooltip = [
    `Sample #${s.index}${s.file !== undefined ? `: ${s.file}` : ''}`,
    s.pred !== undefined && `prediction ${s.pred}${s.conf !== undefined ? ` (${s.conf.toFixed(1)}% confidence)` : ''}`,
    s.loadMs !== undefined && `load ${s.loadMs} ms`,
    s.inferMs !== undefined && `inference ${s.inferMs} ms`,
    s.unloadMs !== undefined && `unload ${s.unloadMs} ms`,
    s.memFree !== undefined && `free memory ${s.memFree} bytes`,
    s.error !== undefined && `error: ${s.error}`,
    run.model?.simulated && 'timings simulated by the virtual Pico',
  ].filter(Boolean).join('\n');
  return item;
}

/**
 * The view and what it needs: the recorder (fed by ExtensionState with every console line), the
 * tree, persistence in the workspace state, and the two commands of its title bar.
 */
export class TimingView implements vscode.Disposable {
  readonly recorder = new TimingRecorder();
  readonly provider = new TimingTreeProvider(this.recorder);
  private readonly disposables: vscode.Disposable[] = [];
  private saveTimer?: NodeJS.Timeout;

  constructor(private readonly state: vscode.Memento, private readonly log: Log) {
    this.recorder.restore(fromJSON(state.get(STATE_KEY)));
    const unsubscribe = this.recorder.onChange(() => this.scheduleSave());
    this.disposables.push(
      { dispose: unsubscribe },
      this.provider,
      vscode.window.createTreeView(TIMING_VIEW_ID, { treeDataProvider: this.provider, showCollapseAll: true }),
    );
  }

  /** One console line from the board. */
  push(line: string): void {
    try {
      this.recorder.push(line);
    } catch (error) {
      // A bug here must not break the serial session that delivers the line.
      this.log.error(`inference timing: ${(error as Error).stack ?? error}`);
    }
  }

  async clear(): Promise<void> {
    this.recorder.clear();
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.state.update(STATE_KEY, undefined);
  }

  async exportCsv(): Promise<void> {
    const runs = this.recorder.runs.filter((r) => r.samples.length);
    if (!runs.length) {
      void vscode.window.showInformationMessage('No inference timings to export yet. Deploy a model, or start a virtual Pico, and let it run.');
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const uri = await vscode.window.showSaveDialog({
      title: 'Export Inference Timing',
      saveLabel: 'Export',
      defaultUri: folder ? vscode.Uri.joinPath(folder, 'inference-timing.csv') : undefined,
      filters: { 'CSV files': ['csv'] },
    });
    if (!uri) return;
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(runsToCsv(runs)));
    const samples = runs.reduce((n, r) => n + r.samples.length, 0);
    this.log.info(`inference timing: exported ${samples} samples of ${runs.length} runs to ${uri.fsPath}`);
    const choice = await vscode.window.showInformationMessage(`Exported ${plural(samples, 'sample')} of ${plural(runs.length, 'run')} to ${vscode.workspace.asRelativePath(uri)}.`, 'Open');
    if (choice === 'Open') await vscode.window.showTextDocument(uri);
  }

  /** Writes the runs to the workspace state at most every SAVE_DELAY_MS. */
  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, SAVE_DELAY_MS);
  }

  private save(): void {
    const data = toJSON(this.recorder.runs, { maxSamples: MAX_SAVED_SAMPLES });
    this.state.update(STATE_KEY, data.runs.length ? data : undefined).then(undefined, (error: unknown) => {
      this.log.warn(`inference timing: runs not saved: ${(error as Error).message}`);
    });
  }

  dispose(): void {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.save();
    }
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
  }
}
