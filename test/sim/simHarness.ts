// Test support for the virtual Pico: a board on a drive folder of given files, a console session
// on its real pseudo-terminal (the monitor's SerialSession) or the raw bytes of that port, and
// ways to wait for what the board prints.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { SerialSession, type SessionState } from '../../src/core/serial/serialSession.js';
import type { BoardStatus } from '../../src/core/serial/statusTitle.js';
import { findRelay } from '../../src/sim/ptyRelay.js';
import { VirtualPico, type PicoState, type VirtualPicoInfo, type VirtualPicoOptions } from '../../src/sim/virtualPico.js';
import { BoardEnd, nextEvent } from '../serial/ptyPair.js';

export const RELAY = findRelay();
/** Why the pseudo-terminal tests cannot run here (a skip reason), or false. */
export const NO_PTY = RELAY ? false : 'neither socat nor python3 is installed: the virtual Pico cannot make a serial port here';

export const LINE_CLEAR = '\x1b[2K\x1b[0G';
export const title = (status: string) => `\x1b]0;🐍${status} | 9.2.1\x1b\\`;
export const BANNER = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040';
export const AUTO_RELOAD = `\r\n${LINE_CLEAR}Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.\r\n`;
export const PRESS_ANY_KEY = '\r\nPress any key to enter the REPL. Use CTRL-D to reload.\r\n';

export type DriveFiles = Record<string, string | Uint8Array>;

export function makeDrive(files: DriveFiles): string {
  const drive = mkdtempSync(join(tmpdir(), 'cpml-sim-test-'));
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(dirname(join(drive, name)), { recursive: true });
    writeFileSync(join(drive, name), data);
  }
  return drive;
}

/** A started board (with everything it needs cleaned up by `cleanup`). */
export interface TestBoard {
  pico: VirtualPico;
  info: VirtualPicoInfo;
  drive: string;
  /** Every byte the board printed, from before it booted. */
  output(): string;
  waitForState(state: PicoState, timeoutMs?: number): Promise<void>;
  /** Resolves once the board's whole output so far (after `from`) contains `text`. */
  waitForOutput(text: string, from?: number, timeoutMs?: number): Promise<void>;
}

export async function startBoard(files: DriveFiles, options: VirtualPicoOptions, cleanups: (() => unknown)[]): Promise<TestBoard> {
  const drive = makeDrive(files);
  cleanups.push(() => rmSync(drive, { recursive: true, force: true }));
  const pico = new VirtualPico({ drive, ...options });
  cleanups.push(() => pico.dispose());
  let output = '';
  pico.on('output', (bytes) => { output += Buffer.from(bytes).toString('utf8'); });
  const info = await pico.start();
  const waitForState = async (state: PicoState, timeoutMs = 10_000) => {
    if (pico.state === state) return;
    await nextEvent<[PicoState]>(pico, 'state', (s) => s === state, timeoutMs);
  };
  const waitForOutput = async (text: string, from = 0, timeoutMs = 10_000) => {
    if (output.indexOf(text, from) !== -1) return;
    await nextEvent(pico, 'output', () => output.indexOf(text, from) !== -1, timeoutMs).catch(() => {
      throw new Error(`expected ${JSON.stringify(text)} in the board's output: ${JSON.stringify(output.slice(from).slice(-600))}`);
    });
  };
  return { pico, info, drive, output: () => output, waitForState, waitForOutput };
}

export interface ConsoleLog {
  text: string;
  lines: string[];
  statuses: BoardStatus[];
}

/** The monitor's session on the board's pseudo-terminal, connected. */
export async function openConsole(path: string, cleanups: (() => unknown)[], options: Partial<ConstructorParameters<typeof SerialSession>[0]> = {}) {
  const session = new SerialSession({ path, reconnect: false, ...options });
  cleanups.push(() => session.dispose());
  const log: ConsoleLog = { text: '', lines: [], statuses: [] };
  session.on('text', (t) => { log.text += t; });
  session.on('line', (l) => log.lines.push(l));
  session.on('status', (s) => log.statuses.push(s));
  const up = nextEvent<[SessionState, string]>(session, 'state', (s) => s === 'connected' || s === 'disconnected');
  session.start();
  const [state, message] = await up;
  if (state !== 'connected') throw new Error(`could not open ${path}: ${message}`);
  const waitForText = async (expected: string | RegExp, timeoutMs = 10_000) => {
    const seen = () => (typeof expected === 'string' ? log.text.includes(expected) : expected.test(log.text));
    if (seen()) return;
    await nextEvent(session, 'text', seen, timeoutMs).catch(() => {
      throw new Error(`expected ${String(expected)} on the console: ${JSON.stringify(log.text.slice(-600))}`);
    });
  };
  return { session, log, waitForText };
}

/** The port's raw bytes, as a terminal program sees them. */
export async function openRaw(path: string, cleanups: (() => unknown)[]) {
  const end = await BoardEnd.open(path);
  cleanups.push(() => end.close());
  const waitForBytes = async (expected: string, from = 0, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (end.received.toString('utf8').indexOf(expected, from) === -1) {
      if (Date.now() > deadline) throw new Error(`expected ${JSON.stringify(expected)} on the port: ${JSON.stringify(end.received.toString('utf8').slice(from).slice(-600))}`);
      await end.waitForBytes(end.received.length + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
  };
  return { end, text: () => end.received.toString('utf8'), waitForBytes };
}

/** Child processes of this process (pgrep), to check that nothing is left running. */
export function childProcesses(): number[] {
  const out = spawnSync('pgrep', ['-P', String(process.pid)], { encoding: 'utf8' });
  if (out.error) return [];
  return out.stdout.split('\n').filter(Boolean).map(Number).filter((pid) => {
    // pgrep itself has exited by now; anything else is ours.
    const check = spawnSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' });
    return check.status === 0 && check.stdout.trim() !== '';
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The raw REPL's banner, as Ctrl-A at the prompt prints it. */
export const RAW_BANNER = 'raw REPL; CTRL-B to exit\r\n>';

/** One raw-REPL reply split as a host splits it: the acknowledgement ("OK", or \x04 in raw-paste mode), stdout, stderr. */
export interface RawReply {
  ack: string;
  stdout: string;
  stderr: string;
}

/**
 * The port's raw bytes for a raw-REPL host (as pyboard.py and mpremote speak to a board), read as
 * latin1 (one char per byte) with positions in bytes.
 */
export async function openRawRepl(path: string, cleanups: (() => unknown)[]) {
  const raw = await openRaw(path, cleanups);
  const { end } = raw;
  /** The position of the next byte the board sends. */
  const mark = () => end.received.length;
  const since = (from: number) => end.received.subarray(from).toString('latin1');
  /** Waits until the bytes after `from` satisfy `done`. */
  const waitUntil = async (done: (text: string) => boolean, from: number, what: string, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done(since(from))) {
      if (Date.now() > deadline) throw new Error(`expected ${what} on the port: ${JSON.stringify(since(from).slice(-600))}`);
      await end.waitForBytes(end.received.length + 1, Math.max(1, deadline - Date.now())).catch(() => undefined);
    }
  };
  const waitFor = (expected: string, from: number, timeoutMs?: number) => waitUntil((text) => text.includes(expected), from, JSON.stringify(expected), timeoutMs);
  /** Waits for a whole raw-REPL reply after `from` (ack, stdout, \x04, stderr, \x04, ">") and splits it. */
  const reply = async (from: number, timeoutMs?: number): Promise<RawReply> => {
    const ends = (text: string) => {
      const first = text.indexOf('\x04', 1);
      return { first, second: first === -1 ? -1 : text.indexOf('\x04', first + 1) };
    };
    await waitUntil((text) => {
      const { second } = ends(text);
      return second !== -1 && text.length > second + 1;
    }, from, 'a raw-REPL reply', timeoutMs);
    const text = since(from);
    const ack = text.startsWith('OK') ? 'OK' : text.slice(0, 1);
    const { first, second } = ends(text);
    if ((ack !== 'OK' && ack !== '\x04') || text.slice(second + 1) !== '>') throw new Error(`not a raw-REPL reply: ${JSON.stringify(text.slice(0, 600))}`);
    return { ack, stdout: text.slice(ack.length, first), stderr: text.slice(first + 1, second) };
  };
  /** Sends a block in the plain raw REPL and returns the reply. */
  const exec = async (code: string, timeoutMs?: number): Promise<RawReply> => {
    const from = mark();
    await end.write(`${code}\x04`);
    return reply(from, timeoutMs);
  };

  /**
   * Sends a block in raw-paste mode the way mpremote does: "\x05A\x01", then no more than the
   * window the board granted (the window in its header, plus one more for each \x01), then \x04.
   * Checks on the way that the board grants a window only once it has taken that much (the
   * grants never run ahead of the bytes sent). Resolves once the board has acknowledged the end
   * with \x04; its output follows.
   */
  const rawPaste = async (code: Buffer, options: { endWith?: string } = {}) => {
    const from = mark();
    await end.write('\x05A\x01');
    await waitUntil((text) => text.length >= 5, from, 'the raw-paste header');
    const header = since(from).slice(0, 5);
    if (!header.startsWith('R\x01')) throw new Error(`raw paste refused: ${JSON.stringify(header)}`);
    const window = end.received.readUInt16LE(from + 2);
    let cursor = from + 4;
    let granted = window;
    let grants = 0;
    let sent = 0;
    /** Reads what the board sent since the last look: only grants may come while the code is sent. */
    const take = () => {
      for (; cursor < end.received.length; cursor++) {
        const byte = end.received[cursor];
        if (byte !== 0x01) throw new Error(`unexpected byte 0x${byte.toString(16)} from the board during raw paste after ${sent} bytes: ${JSON.stringify(since(from).slice(0, 200))}`);
        // (The header's own \x01 is the second window, not a grant for bytes taken.)
        if (cursor > from + 4) {
          grants++;
          if (grants * window > sent) throw new Error(`the board granted window ${grants} after only ${sent} bytes`);
        }
        granted += window;
      }
    };
    while (sent < code.length) {
      take();
      if (granted - sent <= 0) {
        await end.waitForBytes(cursor + 1, 10_000);
        continue;
      }
      const chunk = code.subarray(sent, Math.min(code.length, granted));
      await end.write(chunk);
      sent += chunk.length;
    }
    await end.write(options.endWith ?? '\x04');
    // Grants for the last bytes may still come, then the board's \x04.
    await waitUntil((text) => [...text.slice(cursor - from)].some((c) => c !== '\x01'), from, 'the end of the raw paste');
    while (end.received[cursor] === 0x01) {
      grants++;
      if (grants * window > sent) throw new Error(`the board granted window ${grants} after only ${sent} bytes`);
      cursor++;
    }
    if (end.received[cursor] !== 0x04) throw new Error(`the board did not acknowledge the end of the raw paste: ${JSON.stringify(since(cursor).slice(0, 200))}`);
    return { header, window, grants, sent, output: cursor };
  };
  return { ...raw, mark, since, waitFor, waitUntil, reply, exec, rawPaste };
}
