// A console session with a CircuitPython board: opens the serial port, decodes what the board
// prints (ConsoleDecoder: UTF-8, control sequences, line ends), reports the run state from the
// window title, sends keys, and reconnects when the board resets or is unplugged and plugged in
// again. Every failure ends up as an `error` event or a rejected write: nothing here throws into
// the host's event loop.
//
// Lifecycle: new SerialSession(options) → start() → … → dispose(). Events:
//   text    decoded console text, as it arrives
//   line    each complete line (without "\n")
//   status  the board's run state from its window title
//   state   connecting | connected | disconnected | reconnecting | closed, and a message
//   error   a SerialError whose message says what to do
//   job     a board job (raw REPL) took or gave back the line: 'start' | 'end' and what it does
import { EventEmitter } from 'node:events';
import { ConsoleDecoder, type DecodedOutput } from './consoleDecoder.js';
import { openSerialPort, type OpenPort, type PortOpener } from './portOpener.js';
import { describeSerialError, NotConnectedError, SerialError, type SerialErrorKind } from './serialErrors.js';
import type { BoardStatus } from './statusTitle.js';

export type SessionState = 'connecting' | 'connected' | 'disconnected' | 'reconnecting' | 'closed';

export interface SerialSessionEvents {
  text: [text: string];
  line: [line: string];
  status: [status: BoardStatus];
  /** The message is for people: "connected to /dev/ttyACM0", "reconnected to /dev/ttyACM1", … */
  state: [state: SessionState, message: string];
  error: [error: SerialError];
  /** A board job holds the line (its bytes are not console text) or gave it back. */
  job: [phase: 'start' | 'end', what: string];
}

/** What a board job gets while it holds the line (see SerialSession.claim). */
export interface LineClaim {
  /** The board's bytes while the claim lasts. */
  readonly bytes: AsyncIterable<Uint8Array>;
  write(data: string | Uint8Array): Promise<void>;
  /** Gives the line back to the console: bytes from now on are decoded as before. */
  release(message?: string): void;
}

export interface SerialSessionOptions {
  path: string;
  baudRate?: number;
  /** How to open a port (tests and the virtual board may pass their own). */
  openPort?: PortOpener;
  /** Reopen the port after it closes unexpectedly (reset, unplug). Default true. */
  reconnect?: boolean;
  /** USB serial number of the board, to find it again under a new path after replugging. */
  serialNumber?: string;
  findPortBySerial?: (serialNumber: string) => Promise<string | undefined>;
  /** Reconnect delays: the first, doubled after each failed attempt up to the maximum. */
  retryDelayMs?: { initial: number; max: number };
  /** Silence after which held-back text (a trailing "\r", an unfinished sequence) is released. */
  quietFlushMs?: number;
}

/** CircuitPython's control keys (docs/circuitpython-board.md). */
export const CTRL_C = '\x03';
export const CTRL_D = '\x04';

/** Errors after which trying again cannot help until the user does something. */
const FATAL_ON_FIRST_OPEN: ReadonlySet<SerialErrorKind> = new Set(['permission', 'unavailable', 'not-a-port', 'other']);

interface Link {
  port?: OpenPort;
  path: string;
}

export class SerialSession extends EventEmitter<SerialSessionEvents> {
  private readonly baudRate: number;
  private readonly openPort: PortOpener;
  private readonly reconnect: boolean;
  private readonly retry: { initial: number; max: number };
  private readonly quietFlushMs: number;
  private currentPath: string;
  private currentState: SessionState = 'closed';
  private link?: Link;
  private started = false;
  private disposed = false;
  private everConnected = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private retryTimer?: NodeJS.Timeout;
  private lastErrorMessage?: string;
  /** Writes waiting for the first connection attempt to end. */
  private settled: (() => void)[] = [];

  private readonly decoder = new ConsoleDecoder();
  private quietTimer?: NodeJS.Timeout;
  /** The board job holding the line, if any: its queue of bytes and how to end it. */
  private claimed?: { push: (bytes: Uint8Array) => void; fail: (error: Error) => void };

  constructor(private readonly options: SerialSessionOptions) {
    super();
    this.currentPath = options.path;
    this.baudRate = options.baudRate ?? 115200;
    this.openPort = options.openPort ?? openSerialPort;
    this.reconnect = options.reconnect ?? true;
    this.retry = options.retryDelayMs ?? { initial: 250, max: 2000 };
    this.quietFlushMs = options.quietFlushMs ?? 30;
  }

  /** The port in use (it can change when a replugged board comes back under a new name). */
  get path(): string {
    return this.currentPath;
  }

  get state(): SessionState {
    return this.currentState;
  }

  get connected(): boolean {
    return this.currentState === 'connected' && this.link?.port !== undefined;
  }

  /** Opens the port (in the background: watch `state` and `error`). Calling it again does nothing. */
  start(): void {
    if (this.started || this.disposed) return;
    this.started = true;
    this.setState('connecting', `connecting to ${this.currentPath}`);
    this.loop = this.connectLoop(false).catch(ignoreListenerFailure);
  }

  /** Closes the port and stops reconnecting. Safe to call more than once. */
  async dispose(): Promise<void> {
    if (this.disposed) {
      await this.loop;
      return;
    }
    this.disposed = true;
    clearTimeout(this.retryTimer);
    this.wake?.();
    const link = this.link;
    this.link = undefined;
    this.releaseHeldText(true);
    await link?.port?.close();
    await this.loop;
    this.setState('closed', `closed ${this.currentPath}`);
    this.removeAllListeners();
  }

  /**
   * Sends bytes to the board. While the first connection is being made the write waits for
   * it; otherwise, without a connection, it rejects with NotConnectedError (a failed write
   * rejects with a described SerialError).
   */
  async write(data: string | Uint8Array): Promise<void> {
    if (this.currentState === 'connecting') await new Promise<void>((resolve) => this.settled.push(resolve));
    const port = this.link?.port;
    if (!port || this.currentState !== 'connected') throw new NotConnectedError(this.currentPath, this.describeState());
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (!bytes.length) return;
    try {
      await port.write(bytes);
    } catch (error) {
      throw describeSerialError(error, port.path);
    }
  }

  /**
   * Hands the line to a board job (the raw REPL client): until release(), the board's bytes go to
   * the job, not to the console decoder, so the monitor shows `[cpml] board job: …` instead of
   * raw-REPL framing. Text the decoder held (a trailing CR) is released first, so nothing of the
   * console is lost before or after. One job at a time; a lost connection ends the job's bytes
   * with the error.
   */
  claim(what: string): LineClaim {
    if (this.claimed) {
      throw new SerialError(`another board job is using ${this.currentPath}`, { path: this.currentPath, kind: 'busy', hint: 'Wait for it to finish, then try again' });
    }
    if (!this.connected) throw new NotConnectedError(this.currentPath, this.describeState());
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    this.deliver(this.decoder.pause());
    const queue: Uint8Array[] = [];
    let waiting: (() => void) | undefined;
    let failure: Error | undefined;
    let done = false;
    const wake = () => { waiting?.(); waiting = undefined; };
    const claim = {
      push: (bytes: Uint8Array) => { queue.push(bytes); wake(); },
      fail: (error: Error) => { failure = error; wake(); },
    };
    this.claimed = claim;
    this.emit('job', 'start', what);
    const bytes: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({
        next: async (): Promise<IteratorResult<Uint8Array>> => {
          while (!queue.length && !failure && !done) await new Promise<void>((resolve) => { waiting = resolve; });
          if (queue.length) return { value: queue.shift()!, done: false };
          if (failure) throw failure;
          return { value: undefined, done: true };
        },
      }),
    };
    return {
      bytes,
      write: (data) => this.write(data),
      release: (message = what) => {
        if (done) return;
        done = true;
        wake();
        if (this.claimed === claim) this.claimed = undefined;
        this.emit('job', 'end', message);
      },
    };
  }

  /** Ctrl-C: KeyboardInterrupt in the running program. */
  sendCtrlC(): Promise<void> {
    return this.write(CTRL_C);
  }

  /** Ctrl-D: soft reboot at the REPL, reload at "Press any key…". */
  sendCtrlD(): Promise<void> {
    return this.write(CTRL_D);
  }

  /**
   * Gets to the `>>> ` prompt from any state: Ctrl-C stops a running program, which then
   * waits at "Press any key to enter the REPL"; the "\r" is that key. The firmware takes Ctrl-C
   * out of the input as it arrives and keeps the "\r" buffered, so both can go at once. If the
   * board was already at the REPL (or at "Press any key"), the result is the same prompt.
   */
  async enterRepl(): Promise<void> {
    await this.write(CTRL_C);
    await this.write('\r');
  }

  /** A line of input as typed at the REPL (Enter is "\r"). */
  sendLine(text: string): Promise<void> {
    return this.write(`${text}\r`);
  }

  // --- connecting -------------------------------------------------------------------------

  private describeState(): string {
    switch (this.currentState) {
      case 'connecting': return 'still connecting';
      case 'reconnecting': return 'the board went away; reconnecting';
      case 'closed': return this.disposed ? 'the session is closed' : 'not started';
      default: return this.currentState;
    }
  }

  private async connectLoop(afterLoss: boolean): Promise<void> {
    let delay = this.retry.initial;
    // A board that just reset needs a moment to come back; and the old port must be gone.
    if (afterLoss) await this.sleep(delay);
    while (!this.disposed) {
      const path = await this.nextPath();
      if (this.disposed) return;
      const link: Link = { path };
      this.link = link;
      try {
        const port = await this.openPort({ path, baudRate: this.baudRate }, {
          data: (bytes) => { if (this.link === link) this.receive(bytes); },
          closed: (error) => { if (this.link === link) this.lost(link, error); },
        });
        if (this.disposed || this.link !== link) {
          await port.close();
          return;
        }
        link.port = port;
        this.currentPath = path;
        this.lastErrorMessage = undefined;
        const again = afterLoss || this.everConnected;
        this.everConnected = true;
        this.setState('connected', `${again ? 'reconnected' : 'connected'} to ${path}`);
        return;
      } catch (raw) {
        if (this.link === link) this.link = undefined;
        if (this.disposed) return;
        const error = describeSerialError(raw, path);
        const retrying = this.reconnect && error.kind !== 'unavailable' && (afterLoss || this.everConnected || !FATAL_ON_FIRST_OPEN.has(error.kind));
        // While waiting for an unplugged board to come back, "no such port" is expected.
        const expected = afterLoss && (error.kind === 'not-found' || error.kind === 'disconnected');
        if (!expected && error.message !== this.lastErrorMessage) {
          this.lastErrorMessage = error.message;
          this.emitError(error);
          if (this.disposed) return;
        }
        if (!retrying) {
          this.setState('disconnected', `could not open ${path}`);
          return;
        }
        if (this.currentState !== 'reconnecting') {
          this.setState('reconnecting', afterLoss ? `lost ${path}; reconnecting…` : `waiting for ${path}…`);
        }
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.retry.max);
      }
    }
  }

  /** The path to try next: the same one, unless the board's serial number now shows up elsewhere. */
  private async nextPath(): Promise<string> {
    const { serialNumber, findPortBySerial } = this.options;
    if (!serialNumber || !findPortBySerial || !this.everConnected) return this.currentPath;
    try {
      return (await findPortBySerial(serialNumber)) ?? this.currentPath;
    } catch {
      return this.currentPath;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.disposed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.retryTimer);
        this.wake = undefined;
        resolve();
      };
      this.retryTimer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private lost(link: Link, error?: Error): void {
    this.link = undefined;
    this.releaseHeldText(true);
    this.claimed?.fail(describeSerialError(error ?? new Error('the port closed'), link.path));
    if (this.disposed) return;
    const path = link.path;
    const described = error ? describeSerialError(error, path) : undefined;
    if (described && described.kind !== 'disconnected') this.emitError(described);
    if (!this.reconnect) {
      this.setState('disconnected', `lost the connection to ${path} (board reset or unplugged?)`);
      return;
    }
    this.setState('reconnecting', `lost the connection to ${path} (board reset or unplugged?); reconnecting…`);
    this.loop = this.connectLoop(true).catch(ignoreListenerFailure);
  }

  private setState(state: SessionState, message: string): void {
    if (this.disposed && state !== 'closed') return;
    this.currentState = state;
    if (state !== 'connecting') for (const resolve of this.settled.splice(0)) resolve();
    this.emit('state', state, message);
  }

  private emitError(error: SerialError): void {
    // An EventEmitter throws an 'error' nobody listens to: that must not take the host down.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  // --- receiving --------------------------------------------------------------------------

  private receive(bytes: Uint8Array): void {
    if (this.claimed) {
      this.claimed.push(bytes.slice());
      return;
    }
    this.deliver(this.decoder.push(bytes));
    // After a pause the decoder releases a trailing "\r" (a prompt must not stay hidden).
    if (this.quietTimer) this.quietTimer.refresh();
    else this.quietTimer = setTimeout(() => { this.quietTimer = undefined; this.deliver(this.decoder.pause()); }, this.quietFlushMs);
  }

  /** The stream ended (port lost or closed): release everything, even a broken character. */
  private releaseHeldText(emit: boolean): void {
    clearTimeout(this.quietTimer);
    this.quietTimer = undefined;
    const end = this.decoder.end();
    if (emit) this.deliver(end);
  }

  private deliver(out: DecodedOutput): void {
    for (const status of out.statuses) this.emit('status', status);
    if (out.text) this.emit('text', out.text);
    for (const line of out.lines) this.emit('line', line);
  }
}

/** connectLoop fails only when an event listener throws; that must not become an unhandled rejection. */
function ignoreListenerFailure(): void {
  // The listener's owner has a bug; the session itself is in a consistent state.
}
