// The one object that owns everything the extension creates; disposing it undoes activation.
import * as vscode from 'vscode';
import { BoardConnection } from './boardConnection.js';
import { readConfig, type Config } from './config.js';
import type { Log } from './log.js';
import { MonitorChannel } from './monitorChannel.js';
import { BoardStatusBar } from './statusBar.js';
import { TimingView } from './timingView.js';

export class ExtensionState implements vscode.Disposable {
  readonly monitor = new MonitorChannel();
  readonly statusBar = new BoardStatusBar();
  readonly board: BoardConnection;
  readonly timing: TimingView;
  config: Config = readConfig();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(readonly context: vscode.ExtensionContext, readonly log: Log) {
    this.board = new BoardConnection(context.workspaceState, log, this.monitor, this.config);
    this.timing = new TimingView(context.workspaceState, log);
    this.disposables.push(this.timing);
    this.board.onDidReceiveLine((line) => this.timing.push(line), undefined, this.disposables);
    this.board.onDidChange(() => {
      this.statusBar.update(this.board.indicator());
      void vscode.commands.executeCommand('setContext', 'cpml.boardConnected', Boolean(this.board.session));
    }, undefined, this.disposables);
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('cpml')) return;
      this.config = readConfig();
      this.board.reconfigure(this.config);
    }, undefined, this.disposables);
  }

  push(...items: vscode.Disposable[]): void {
    this.disposables.push(...items);
  }

  dispose(): void {
    for (const d of this.disposables.splice(0).reverse()) d.dispose();
    this.board.dispose();
    this.statusBar.dispose();
    this.monitor.dispose();
  }
}
