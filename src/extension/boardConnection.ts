// The extension's one view of "the board": discovery (BoardWatcher), the user's choice among
// several boards (remembered per workspace), and the console session to the chosen one.
import * as vscode from 'vscode';
import { BoardWatcher } from '../core/board/boardWatcher.js';
import { loadDriveLister } from '../core/board/driveLister.js';
import { CpmlError } from '../core/errors.js';
import { defaultPortLister } from '../core/board/listPorts.js';
import { chooseBoard, type Board } from '../core/board/pairBoards.js';
import { parseIdPairs } from '../core/board/usbIds.js';
import { loadSerialPort, type PortOpener } from '../core/serial/portOpener.js';
import { SerialSession } from '../core/serial/serialSession.js';
import type { BoardStatus } from '../core/serial/statusTitle.js';
import type { Config } from './config.js';
import type { Log } from './log.js';
import type { MonitorChannel } from './monitorChannel.js';
import type { IndicatorState } from './statusBar.js';
import { errorMessage, isUserError } from './userErrors.js';

const SELECTED_KEY = 'cpml.selectedBoard';

/** The virtual Pico as discovery sees it: its port (or an in-process opener), drive and UID. */
export interface VirtualBoard {
  port: string;
  drive: string;
  key: string;
  openPort?: PortOpener;
}

export class BoardConnection implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly lineReceived = new vscode.EventEmitter<string>();
  /** Each complete console line of the connected board (without its line end). */
  readonly onDidReceiveLine = this.lineReceived.event;
  private watcher?: BoardWatcher;
  private sessionNow?: SerialSession;
  private connection: IndicatorState['connection'] = 'closed';
  private status?: BoardStatus;
  private deployingNow = false;
  private sessionPath?: string;
  /** Set by the virtual Pico: it overrides discovery, and its board is shown as virtual. */
  private virtual?: VirtualBoard;
  /** Discovery fails the same way on every poll (serialport missing): logged once. */
  private lastDiscoveryError?: string;

  constructor(
    private readonly state: vscode.Memento,
    private readonly log: Log,
    private readonly monitor: MonitorChannel,
    private config: Config,
  ) {}

  /** Starts discovery (once). */
  start(): void {
    if (this.watcher) return;
    const extra = parseIdPairs(this.config.extraUsbIds);
    if (extra.invalid.length) this.log.warn(`ignoring invalid cpml.board.extraUsbIds entries: ${extra.invalid.join(', ')}`);
    this.warnAboutSettings(this.config);
    // The native modules load here, after activation: serialport on first use (its failure is a
    // SerialPortUnavailableError, a warning with the fix), drivelist now (or the fallback).
    const drives = loadDriveLister();
    this.log.info(`board discovery: looking for CIRCUITPY drives ${drives.description}`);
    this.watcher = new BoardWatcher({
      ports: defaultPortLister(loadSerialPort),
      mountPoints: () => drives.mountPoints(),
      extraIds: extra.pairs,
      ...this.overrides(),
    });
    this.watcher.on('change', (boards) => {
      this.log.info(`boards: ${boards.length ? boards.map((b) => `${b.name} [${b.port?.path ?? 'no port'}, ${b.drive?.path ?? 'no drive'}]`).join('; ') : 'none'}`);
      this.onBoardsChanged();
    });
    this.watcher.on('error', (e) => {
      const message = errorMessage(e);
      if (message === this.lastDiscoveryError) return;
      this.lastDiscoveryError = message;
      if (isUserError(e)) this.log.warn(`board discovery: ${message}`);
      else this.log.error(`board discovery: ${e.stack ?? message}`);
    });
    this.watcher.start();
  }

  /**
   * Points discovery at the virtual Pico (or back at real boards with undefined) and resolves once
   * discovery has seen the change, so that connect() right after finds it. Without a
   * pseudo-terminal (Windows) its console is reached in-process through `openPort`.
   */
  async useVirtualBoard(virtual: VirtualBoard | undefined): Promise<void> {
    this.disconnect();
    this.virtual = virtual;
    if (!this.watcher) this.start();
    await this.watcher?.reconfigure(this.overrides());
  }

  reconfigure(config: Config): void {
    const moved = !this.virtual && (config.port !== this.config.port || config.drive !== this.config.drive);
    this.warnAboutSettings(config, this.config);
    this.config = config;
    void this.watcher?.reconfigure({ extraIds: parseIdPairs(config.extraUsbIds).pairs, ...this.overrides() });
    if (moved) this.disconnect();
  }

  /** Settings that fell back to their default: a warning each, once (not again on every settings change). */
  private warnAboutSettings(config: Config, previous?: Config): void {
    for (const warning of config.warnings) {
      if (previous?.warnings.includes(warning)) continue;
      this.log.warn(warning);
      void vscode.window.showWarningMessage(warning.charAt(0).toUpperCase() + warning.slice(1));
    }
  }

  /** The virtual Pico while it runs, else the port and drive settings. */
  private overrides(): { overridePort?: string; overrideDrive?: string } {
    return {
      overridePort: this.virtual?.port ?? (this.config.port || undefined),
      overrideDrive: this.virtual?.drive ?? (this.config.drive || undefined),
    };
  }

  get boards(): readonly Board[] {
    return this.watcher?.boards ?? [];
  }

  /** The board commands act on: the one chosen, or the only one. */
  get board(): Board | undefined {
    return chooseBoard(this.boards, this.state.get<string>(SELECTED_KEY));
  }

  get session(): SerialSession | undefined {
    return this.sessionNow;
  }

  get deploying(): boolean {
    return this.deployingNow;
  }

  set deploying(value: boolean) {
    this.deployingNow = value;
    this.changed.fire();
  }

  async refresh(): Promise<readonly Board[]> {
    return (await this.watcher?.refresh()) ?? [];
  }

  async select(key: string): Promise<void> {
    await this.state.update(SELECTED_KEY, key);
    if (this.sessionNow && this.board?.port?.path !== this.sessionPath) this.disconnect();
    this.changed.fire();
  }

  /** Opens the console of the current board (or returns the open one). */
  connect(): SerialSession {
    const board = this.board;
    if (!board) {
      throw new CpmlError(this.boards.length > 1 ? 'Several boards are attached: choose one with "Select Board…"' : 'No CircuitPython board found. Plug in a Pico running CircuitPython, set cpml.board.port, or start a virtual Pico.');
    }
    if (!board.port) throw new CpmlError(`${board.name} has no serial port${board.drive ? ` (only its drive ${board.drive.path} was found)` : ''}. Set cpml.board.port if it uses an unusual one.`);
    if (this.sessionNow && this.sessionPath === board.port.path) return this.sessionNow;
    this.disconnect();
    const session = new SerialSession({
      path: board.port.path,
      openPort: board.key === this.virtual?.key ? this.virtual.openPort : undefined,
      baudRate: this.config.baudRate,
      serialNumber: board.port.serialNumber,
      findPortBySerial: async (serial) => (await this.refresh()).find((b) => b.port?.serialNumber === serial)?.port?.path,
    });
    session.on('text', (text) => this.monitor.append(text));
    session.on('line', (line) => this.lineReceived.fire(line));
    session.on('status', (status) => { this.status = status; this.changed.fire(); });
    // A board job (raw REPL) holds the line: say so instead of showing its framing.
    session.on('job', (phase, what) => this.monitor.status(`[cpml] board job${phase === 'end' ? ' finished' : ''}: ${what}`));
    session.on('state', (state, message) => {
      this.connection = state === 'closed' ? 'closed' : state;
      if (message) this.monitor.status(message);
      this.log.info(`serial ${board.port?.path}: ${state}${message ? ` — ${message}` : ''}`);
      this.changed.fire();
    });
    // Session errors are SerialErrors, user-facing: the message with its fix, no stack.
    session.on('error', (error) => {
      const message = errorMessage(error, { sentence: true });
      this.monitor.status(message);
      this.log.warn(`serial: ${message}`);
      void vscode.window.showErrorMessage(message);
    });
    this.sessionNow = session;
    this.sessionPath = board.port.path;
    session.start();
    return session;
  }

  disconnect(): void {
    if (!this.sessionNow) return;
    this.sessionNow.dispose();
    this.sessionNow = undefined;
    this.sessionPath = undefined;
    this.connection = 'closed';
    this.status = undefined;
    this.changed.fire();
  }

  indicator(): IndicatorState {
    const board = this.board;
    return {
      board,
      boardCount: this.boards.length,
      virtual: Boolean(board && board.key === this.virtual?.key),
      connection: this.sessionNow ? this.connection : 'closed',
      run: this.status?.state,
      errorLine: this.status?.exception ? `${this.status.exception} at line ${this.status.line} of ${this.status.file}` : undefined,
      deploying: this.deployingNow,
    };
  }

  private onBoardsChanged(): void {
    const board = this.board;
    if (board && !this.sessionNow && this.config.openMonitorOnConnect && board.port) {
      this.connect();
      this.monitor.show();
    }
    this.changed.fire();
  }

  dispose(): void {
    this.disconnect();
    this.watcher?.dispose();
    this.changed.dispose();
    this.lineReceived.dispose();
  }
}
