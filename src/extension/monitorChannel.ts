// The serial monitor panel: an output channel with its own language (coloured by
// syntaxes/cpml-monitor.tmLanguage.json), fed in batches so a board printing at full USB speed
// neither freezes VS Code nor grows memory without bound.
import * as vscode from 'vscode';
import { OutputBatcher } from '../core/serial/outputBatcher.js';

export class MonitorChannel implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel('CircuitPython Serial Monitor', 'cpml-monitor');
  private readonly batcher = new OutputBatcher({ write: (text) => this.channel.append(text) });
  private atLineStart = true;

  /** Console text from the board. */
  append(text: string): void {
    if (!text) return;
    this.batcher.push(text);
    this.atLineStart = text.endsWith('\n');
  }

  /** One of our own status lines, e.g. "[cpml] connected to /dev/ttyACM0". */
  status(message: string): void {
    this.batcher.push(`${this.atLineStart ? '' : '\n'}[cpml] ${message}\n`);
    this.atLineStart = true;
  }

  show(preserveFocus = true): void {
    this.channel.show(preserveFocus);
  }

  dispose(): void {
    this.batcher.dispose();
    this.channel.dispose();
  }
}
