// The board indicator: no board / "Pico · CP 9.2.1 · CIRCUITPY" / connected / running /
// deploying / bootloader mode. Clicking it offers the board actions.
import * as vscode from 'vscode';
import { boardSummary, type Board } from '../core/board/pairBoards.js';
import type { RunState } from '../core/serial/statusTitle.js';

export interface IndicatorState {
  board?: Board;
  boardCount: number;
  virtual: boolean;
  connection: 'closed' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected';
  run?: RunState;
  errorLine?: string;
  deploying: boolean;
}

export class BoardStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('cpml.board', vscode.StatusBarAlignment.Left, 50);

  constructor() {
    this.item.name = 'CircuitPython Board';
    this.item.command = 'cpml.boardActions';
    this.update({ boardCount: 0, virtual: false, connection: 'closed', deploying: false });
    this.item.show();
  }

  update(s: IndicatorState): void {
    const { board } = s;
    let icon = '$(circuit-board)';
    let text: string;
    let detail = '';
    if (!board) {
      text = 'No board';
    } else if (board.kind === 'bootloader') {
      icon = '$(warning)';
      text = `${board.name}`;
      detail = 'The board runs its UF2 bootloader, not CircuitPython: copy a CircuitPython .uf2 with cnn_helper onto its drive.';
    } else {
      text = (s.virtual ? 'Virtual ' : '') + boardSummary(board);
      if (s.virtual) icon = '$(vm)';
      if (s.deploying) { icon = '$(sync~spin)'; text += ' · deploying'; }
      else if (s.connection === 'reconnecting') { icon = '$(sync~spin)'; text += ' · reconnecting'; }
      else if (s.connection === 'connected') {
        if (s.run === 'running') { icon = '$(play)'; text += ' · running'; }
        else if (s.run === 'error') { icon = '$(error)'; text += ' · error'; }
        else if (s.run === 'stopped') { icon = '$(debug-stop)'; text += ' · stopped'; }
        else if (s.run === 'repl') { icon = '$(terminal)'; text += ' · REPL'; }
        else { icon = s.virtual ? '$(vm-active)' : '$(plug)'; text += ' · connected'; }
      }
    }
    if (s.boardCount > 1) text += ` (+${s.boardCount - 1})`;
    this.item.text = `${icon} ${text}`;
    this.item.tooltip = tooltip(s, detail);
    this.item.backgroundColor = board?.kind === 'bootloader' || s.run === 'error'
      ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}

function tooltip(s: IndicatorState, detail: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString(undefined, true);
  const b = s.board;
  if (!b) {
    md.appendMarkdown('**No CircuitPython board found.**\n\nPlug in a Pico running CircuitPython with `cnn_helper`, or start a virtual one.\n\n');
  } else {
    md.appendMarkdown(`**${s.virtual ? 'Virtual ' : ''}${b.name}**\n\n`);
    const rows: [string, string | undefined][] = [
      ['Firmware', b.version ? `CircuitPython ${b.version}` : undefined],
      ['Drive', b.drive ? `${b.drive.label} — \`${b.drive.path}\`` : 'not mounted'],
      ['Serial port', b.port ? `\`${b.port.path}\` (${s.connection})` : 'none'],
      ['UID', b.uid],
      ['Program', s.run && s.run !== 'unknown' ? s.run + (s.errorLine ? ` — ${s.errorLine}` : '') : undefined],
    ];
    for (const [k, v] of rows) if (v) md.appendMarkdown(`${k}: ${v}  \n`);
    if (detail) md.appendMarkdown(`\n${detail}\n`);
  }
  if (s.boardCount > 1) md.appendMarkdown(`\n${s.boardCount} boards attached — click to choose.\n`);
  md.appendMarkdown('\nClick for board actions.');
  return md;
}
