// The extension's log: a LogOutputChannel ("CircuitPython ML"). User-facing messages go to
// notifications; details (stack traces, timings) go here.
import * as vscode from 'vscode';

export type Log = Pick<vscode.LogOutputChannel, 'info' | 'warn' | 'error' | 'debug' | 'trace' | 'show'>;

export function createLog(): vscode.LogOutputChannel {
  return vscode.window.createOutputChannel('CircuitPython ML', { log: true });
}
