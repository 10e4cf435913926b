// Real serial devices for tests: a socat pair of linked pseudo-terminals. The test plays the
// board on one end (`board`, opened with serialport like any port) and the code under test
// opens the other (`host`). Stopping socat is a real unplug; starting it again with the same
// link paths is the board coming back.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

/** Why the pty tests cannot run here, or undefined when they can. */
export function socatMissing(): string | undefined {
  if (process.platform === 'win32') return 'pseudo-terminals need Linux or macOS';
  const probe = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  return probe.error || probe.status !== 0 ? 'socat is not installed (apt-get install -y socat; .ci/run installs it)' : undefined;
}

export class PtyPair {
  readonly board: string;
  readonly host: string;
  private socat?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(readonly dir: string, names = { board: 'board', host: 'host' }) {
    this.board = join(dir, names.board);
    this.host = join(dir, names.host);
  }

  /** A started pair in a new temporary folder. */
  static async create(): Promise<PtyPair> {
    const pair = new PtyPair(mkdtempSync(join(tmpdir(), 'cpml-pty-')));
    await pair.start();
    return pair;
  }

  /** Another pair in the same folder, e.g. the board coming back under a new name. */
  sibling(names: { board: string; host: string }): PtyPair {
    return new PtyPair(this.dir, names);
  }

  get running(): boolean {
    return this.socat !== undefined;
  }

  /** Starts socat and resolves once both links exist (socat says so before it relays). */
  async start(): Promise<void> {
    if (this.socat) return;
    const socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.board}`, `pty,raw,echo=0,link=${this.host}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.socat = socat;
    this.exited = new Promise((resolve) => socat.once('exit', () => resolve()));
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('starting data transfer loop')) {
          socat.stderr!.off('data', onData);
          socat.stderr!.resume();
          resolve();
        }
      };
      socat.stderr!.on('data', onData);
      socat.once('error', reject);
      socat.once('exit', (code) => reject(new Error(`socat exited (${code}) before its ptys were ready: ${log}`)));
    });
    if (!existsSync(this.board) || !existsSync(this.host)) throw new Error(`socat is relaying but ${this.board} or ${this.host} is missing`);
  }

  /** Stops socat (an unplug); resolves when it has exited and removed its links. */
  async stop(): Promise<void> {
    const socat = this.socat;
    if (!socat) return;
    this.socat = undefined;
    socat.kill('SIGTERM');
    await this.exited;
  }

  /** Stops socat and removes the folder (for `after` hooks: never throws). */
  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** The board's end of a pair: what the host sent, and a way to print like the board. */
export class BoardEnd {
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      for (const wake of this.waiters.splice(0)) wake();
    });
    port.on('error', () => undefined);
  }

  static async open(path: string): Promise<BoardEnd> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    return new BoardEnd(port);
  }

  get received(): Buffer {
    return this.data;
  }

  /** Resolves with everything received once at least `count` bytes have come. */
  async waitForBytes(count: number, timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.data.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the board end received ${this.data.length} of ${count} bytes: ${JSON.stringify(this.data.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.data;
  }

  /** Writes and resolves once the bytes are in the pseudo-terminal. */
  write(data: string | Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data), (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.port.isOpen ? this.port.close(() => resolve()) : resolve()));
  }
}

/**
 * Resolves with the arguments of the first `event` that satisfies `accept`; rejects after
 * `timeoutMs` saying what it waited for.
 */
export function nextEvent<A extends unknown[]>(emitter: EventEmitter | { on: EventEmitter['on']; off: EventEmitter['off'] }, event: string, accept: (...args: A) => boolean = () => true, timeoutMs = 5000): Promise<A> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]) => {
      if (!accept(...(args as A))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}
