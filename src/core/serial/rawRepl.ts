// Runs Python on the board through CircuitPython's raw REPL, on the serial session the monitor
// already has (SerialSession.claim: no second open of the port). The protocol is MicroPython's:
//   Ctrl-C (twice) stops a running program; "\r" enters the REPL at "Press any key"; Ctrl-A
//   enters the raw REPL ("raw REPL; CTRL-B to exit\r\n>"); the code goes in raw-paste mode
//   ("\x05A\x01" → "R\x01" + a 16-bit window; "\x01" from the board grants another window;
//   "\x04" ends it and the board acknowledges with "\x04") or, when the board answers "R\x00",
//   in plain raw mode (the code, "\x04", then "OK"); the board then writes stdout, "\x04",
//   stderr, "\x04" and ">". Ctrl-B leaves the raw REPL. A program that was running is started
//   again afterwards (Ctrl-D reloads code.py).
import { CpmlError } from '../errors.js';
import type { RunState } from './statusTitle.js';
import type { LineClaim, SerialSession } from './serialSession.js';

export type RawReplFailure = 'timeout' | 'protocol' | 'lost' | 'too-much-output';

export class RawReplError extends CpmlError {
  constructor(readonly failure: RawReplFailure, message: string, hint?: string) {
    super(message, hint);
  }
}

export interface BoardJobOptions {
  /** What the job does, for the monitor: "[cpml] board job: validate model.bin". */
  what: string;
  /** How long the code may run before it is interrupted. Default 60 s. */
  timeoutMs?: number;
  /**
   * The board's run state before the job, if known (the session's status): running → code.py is
   * restarted afterwards. Without it, what the board prints when Ctrl-C stops it decides.
   */
  stateBefore?: RunState;
  /** Largest stdout + stderr kept. Default 32 MB. */
  maxOutputBytes?: number;
}

export interface BoardJobResult {
  stdout: string;
  stderr: string;
  mode: 'raw-paste' | 'raw';
  /** True when code.py was running before and has been reloaded. */
  restarted: boolean;
}

const RAW_PROMPT = 'raw REPL; CTRL-B to exit\r\n>';
const SETTLE_MS = 5_000;

/** Runs `code` on the board and gives its stdout and stderr apart. */
export async function runOnBoard(session: SerialSession, code: string, options: BoardJobOptions): Promise<BoardJobResult> {
  const claim = session.claim(options.what);
  const reader = new ClaimReader(claim, options.maxOutputBytes ?? 32 * 1024 * 1024);
  let restart = options.stateBefore === 'running';
  let ok = false;
  let lost = false;
  try {
    const stopped = await enterRawRepl(claim, reader);
    // A running program answers Ctrl-C with its KeyboardInterrupt and "Press any key…".
    restart ||= options.stateBefore === undefined && /KeyboardInterrupt/.test(stopped) && /Press any key to enter the REPL/.test(stopped);
    const result = await execute(claim, reader, code, options.timeoutMs ?? 60_000);
    ok = true;
    return { ...result, restarted: restart };
  } catch (error) {
    lost = error instanceof RawReplError && error.failure === 'lost';
    throw error;
  } finally {
    // Put the board back as it was, whatever happened (unless it is gone).
    if (!lost) {
      await claim.write('\x02').catch(() => undefined); // back to the friendly REPL: banner and ">>> "
      await reader.readUntil('>>> ', 2_000).catch(() => '');
      if (restart) await claim.write('\x04').catch(() => undefined); // soft reboot: code.py runs again
    }
    reader.stop();
    const how = ok ? 'done' : 'failed';
    claim.release(`${options.what}: ${how}${restart && !lost ? '; code.py restarted' : ''}`);
  }
}

/** Gets to the raw REPL; returns what the board printed on the way. */
async function enterRawRepl(claim: LineClaim, reader: ClaimReader): Promise<string> {
  // Ctrl-C twice (the first may land in a try/except), "\r" for "Press any key", Ctrl-A.
  await claim.write('\r\x03');
  await delay(50);
  await claim.write('\x03');
  await delay(50);
  await claim.write('\r\x01');
  try {
    return await reader.readUntil(RAW_PROMPT, SETTLE_MS);
  } catch (error) {
    if (error instanceof RawReplError && error.failure === 'timeout') {
      throw new RawReplError('protocol', `the board did not enter the raw REPL within ${SETTLE_MS / 1000} s`,
        'Is this a CircuitPython or MicroPython board? Press the reset button, then try again');
    }
    throw error;
  }
}

async function execute(claim: LineClaim, reader: ClaimReader, code: string, timeoutMs: number): Promise<Omit<BoardJobResult, 'restarted'>> {
  const bytes = new TextEncoder().encode(code);
  await claim.write('\x05A\x01');
  const answer = await reader.readBytes(2, SETTLE_MS);
  let mode: 'raw-paste' | 'raw';
  if (answer[0] === 0x52 && answer[1] === 0x01) {
    mode = 'raw-paste';
    await rawPaste(claim, reader, bytes);
  } else {
    // "R\x00" (no raw-paste) or an older board that ignores it: plain raw mode.
    mode = 'raw';
    // Boards follow "R\x00" with ">" or with the whole raw prompt again: let it arrive, drop it.
    await delay(300);
    reader.discard();
    for (let i = 0; i < bytes.length; i += 256) {
      await claim.write(bytes.subarray(i, i + 256));
      await delay(10);
    }
    await claim.write('\x04');
    const ok = await reader.readBytes(2, SETTLE_MS);
    if (ok[0] !== 0x4f || ok[1] !== 0x4b) throw new RawReplError('protocol', `the board answered ${JSON.stringify(String.fromCharCode(...ok))} instead of OK to the code`);
  }
  try {
    const stdout = await reader.readUntil('\x04', timeoutMs);
    const stderr = await reader.readUntil('\x04', SETTLE_MS);
    await reader.readUntil('>', SETTLE_MS);
    return { stdout: stdout.slice(0, -1), stderr: stderr.slice(0, -1), mode };
  } catch (error) {
    if (error instanceof RawReplError && error.failure === 'timeout') {
      await claim.write('\x03').catch(() => undefined); // KeyboardInterrupt: the job ends, the board stays usable
      await reader.readUntil('\x04', SETTLE_MS).catch(() => '');
      await reader.readUntil('>', SETTLE_MS).catch(() => '');
      throw new RawReplError('timeout', `the job did not finish within ${(timeoutMs / 1000).toFixed(0)} s, so it was interrupted (Ctrl-C)`, 'Give it more time, or check that the code cannot wait forever');
    }
    throw error;
  }
}

/** Sends the code in windows the board grants; the board ends it early with "\x04" (e.g. out of memory). */
async function rawPaste(claim: LineClaim, reader: ClaimReader, bytes: Uint8Array): Promise<void> {
  const header = await reader.readBytes(2, SETTLE_MS);
  const window = header[0] | (header[1] << 8);
  if (window < 1) throw new RawReplError('protocol', 'the board granted a raw-paste window of 0 bytes');
  let remain = window;
  let i = 0;
  while (i < bytes.length) {
    while (remain === 0 || reader.available > 0) {
      const [flag] = await reader.readBytes(1, SETTLE_MS);
      if (flag === 0x01) remain += window;
      else if (flag === 0x04) {
        await claim.write('\x04');
        return;
      } else throw new RawReplError('protocol', `the board sent byte 0x${flag.toString(16).padStart(2, '0')} during raw-paste`);
    }
    const part = bytes.subarray(i, i + remain);
    await claim.write(part);
    remain -= part.length;
    i += part.length;
  }
  await claim.write('\x04');
  for (;;) {
    const [flag] = await reader.readBytes(1, SETTLE_MS);
    if (flag === 0x04) return;
    if (flag !== 0x01) throw new RawReplError('protocol', `the board did not acknowledge the end of the code (0x${flag.toString(16)})`);
  }
}

/** The claimed bytes in one growing buffer (appends amortised O(1): a job may print megabytes), with bounded waits. */
class ClaimReader {
  private buf = new Uint8Array(4096);
  private start = 0;
  private end = 0;
  private waiter?: () => void;
  private failure?: Error;
  private stopped = false;
  private total = 0;

  constructor(claim: LineClaim, private readonly maxBytes: number) {
    void this.pump(claim);
  }

  get available(): number {
    return this.end - this.start;
  }

  /** Drops what has arrived so far. */
  discard(): void {
    this.start = this.end;
  }

  stop(): void {
    this.stopped = true;
    this.waiter?.();
  }

  private append(bytes: Uint8Array): void {
    if (this.end + bytes.length > this.buf.length) {
      const live = this.end - this.start;
      const size = Math.max(this.buf.length, (live + bytes.length) * 2);
      const next = size === this.buf.length ? this.buf : new Uint8Array(size);
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = next;
      this.start = 0;
      this.end = live;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  private async pump(claim: LineClaim): Promise<void> {
    try {
      for await (const bytes of claim.bytes) {
        if (this.stopped) return;
        this.total += bytes.length;
        if (this.total > this.maxBytes) this.failure = new RawReplError('too-much-output', `the job wrote more than ${this.maxBytes} bytes`, 'Print less');
        else this.append(bytes);
        this.waiter?.();
      }
    } catch (error) {
      this.failure = new RawReplError('lost', `the board went away during the job: ${(error as Error).message}`, 'Plug the board in again; the monitor reconnects by itself');
      this.waiter?.();
    }
  }

  private take(n: number): Uint8Array {
    const out = this.buf.slice(this.start, this.start + n);
    this.start += n;
    return out;
  }

  private async wait(deadline: number, what: string): Promise<void> {
    if (this.failure) throw this.failure;
    const left = deadline - Date.now();
    if (left <= 0) throw new RawReplError('timeout', `no ${what} from the board in time`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, left);
      this.waiter = () => { clearTimeout(timer); this.waiter = undefined; resolve(); };
    });
    if (this.failure) throw this.failure;
  }

  async readBytes(n: number, timeoutMs: number): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.available < n) await this.wait(deadline, `${n}-byte answer`);
    return this.take(n);
  }

  /** Everything up to and including `marker`, as text. */
  async readUntil(marker: string, timeoutMs: number): Promise<string> {
    const needle = new TextEncoder().encode(marker);
    const deadline = Date.now() + timeoutMs;
    let from = this.start;
    for (;;) {
      const at = indexOf(this.buf, needle, from, this.end);
      if (at >= 0) return new TextDecoder().decode(this.take(at + needle.length - this.start));
      from = Math.max(this.start, this.end - needle.length + 1);
      const shift = this.start;
      await this.wait(deadline, JSON.stringify(marker));
      from -= shift - this.start; // the buffer may have been compacted meanwhile
    }
  }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number, end: number): number {
  outer: for (let i = from; i + needle.length <= end; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
