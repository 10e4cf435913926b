// The raw REPL client against a scripted CircuitPython console (the one boundary a test cannot
// reach is a physical board; the same client runs against the virtual Pico in test/sim). The
// device replies byte for byte as CircuitPython 9 / MicroPython's pyexec.c do: the raw prompt,
// raw-paste's "R\x01" + window and "\x01" grants, "OK" in plain raw mode, stdout "\x04" stderr
// "\x04" ">".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SerialSession } from '../../src/core/serial/serialSession.js';
import { runOnBoard, RawReplError } from '../../src/core/serial/rawRepl.js';
import type { OpenPort, PortOpener } from '../../src/core/serial/portOpener.js';

interface ScriptedBoard {
  /** What the job "prints": a function of the code it was sent. */
  run: (code: string) => { stdout: string; stderr: string } | 'forever';
  rawPaste?: boolean;
  window?: number;
  /** Every byte the host sent. */
  received: number[];
  /** Writes chunks the board sent during raw-paste, checked against the window. */
  maxUnacked: number;
  unplug?: () => void;
}

const BANNER = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\r\n>>> ';

function scriptedOpener(board: ScriptedBoard): PortOpener {
  return async (options, listener) => {
    let mode: 'running' | 'press-any-key' | 'repl' | 'raw' | 'paste' = 'running';
    let code: number[] = [];
    let unacked = 0;
    let sinceGrant = 0;
    let runningForever = false;
    const window = board.window ?? 32;
    const send = (text: string | number[]) => setImmediate(() => listener.data(typeof text === 'string' ? Buffer.from(text, 'latin1') : Uint8Array.from(text)));
    const finish = (result: { stdout: string; stderr: string }) => send(`${result.stdout}\x04${result.stderr}\x04>`);
    const execute = () => {
      const text = Buffer.from(code).toString('utf8');
      code = [];
      const result = board.run(text);
      if (result === 'forever') runningForever = true;
      else finish(result);
    };
    send('code.py output:\r\ntick\r\n');
    board.unplug = () => listener.closed(Object.assign(new Error('device disconnected'), { code: 'EIO' }));
    const port: OpenPort = {
      path: options.path,
      async write(bytes) {
        for (const b of bytes) {
          board.received.push(b);
          if (b === 0x03) {
            if (runningForever) {
              runningForever = false;
              finish({ stdout: '', stderr: 'Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n' });
            } else if (mode === 'raw') {
              code = [];
            } else if (mode === 'running') {
              mode = 'press-any-key';
              send('Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\r\nCode done running.\r\n\r\nPress any key to enter the REPL. Use CTRL-D to reload.\r\n');
            }
            continue;
          }
          if (mode === 'running') continue; // typed while code.py runs: it does not read the console
          if (mode === 'press-any-key') { mode = 'repl'; send(`\r\n${BANNER}`); continue; }
          if (mode === 'repl') {
            if (b === 0x01) { mode = 'raw'; send('\r\nraw REPL; CTRL-B to exit\r\n>'); }
            else if (b === 0x04) { mode = 'running'; send('\r\nsoft reboot\r\n\r\ncode.py output:\r\ntick\r\n'); }
            continue;
          }
          if (mode === 'raw') {
            if (b === 0x02) { mode = 'repl'; send(`\r\n${BANNER}`); continue; }
            // pyexec: Ctrl-A after "\x05A" is raw-paste, otherwise it resets the raw REPL.
            if (b === 0x01 && !(code.length === 2 && code[0] === 0x05 && code[1] === 0x41)) { code = []; send('\r\nraw REPL; CTRL-B to exit\r\n>'); continue; }
            if (b === 0x04) { send('OK'); execute(); continue; }
            code.push(b);
            if (code.length === 3 && code[0] === 0x05 && code[1] === 0x41 && code[2] === 0x01) {
              code = [];
              if (board.rawPaste === false) { send('R\x00>'); continue; } // as CircuitPython answers an unknown raw-paste request
              mode = 'paste';
              unacked = 0;
              sinceGrant = 0;
              send([0x52, 0x01, window & 0xff, window >> 8]);
            }
            continue;
          }
          // raw-paste
          if (b === 0x04) { send('\x04'); mode = 'raw'; execute(); continue; }
          code.push(b);
          unacked++;
          board.maxUnacked = Math.max(board.maxUnacked, unacked);
          if (++sinceGrant === window) { sinceGrant = 0; unacked -= window; send([0x01]); }
        }
      },
      async close() {},
    };
    return port;
  };
}

async function connected(board: ScriptedBoard): Promise<SerialSession> {
  const session = new SerialSession({ path: '/dev/scripted', openPort: scriptedOpener(board), reconnect: false, quietFlushMs: 5 });
  const up = new Promise<void>((resolve) => session.on('state', (s) => { if (s === 'connected') resolve(); }));
  session.start();
  await up;
  return session;
}

describe('raw REPL client (scripted CircuitPython console)', () => {
  it('stops code.py, runs the job in raw-paste mode within the board\'s window, and starts code.py again', async () => {
    const board: ScriptedBoard = { received: [], maxUnacked: 0, window: 32, run: (code) => ({ stdout: `ran ${code.length} bytes\r\n`, stderr: '' }) };
    const session = await connected(board);
    const jobs: string[] = [];
    const text: string[] = [];
    session.on('job', (phase, what) => jobs.push(`${phase}: ${what}`));
    session.on('text', (t) => text.push(t));
    const code = `x = ${'1 + '.repeat(100)}1\nprint(x)\n`;
    const result = await runOnBoard(session, code, { what: 'test job', stateBefore: 'running' });
    assert.equal(result.mode, 'raw-paste');
    assert.equal(result.stdout, `ran ${code.length} bytes\r\n`);
    assert.equal(result.stderr, '');
    assert.equal(result.restarted, true);
    assert.ok(board.maxUnacked <= 32, `sent ${board.maxUnacked} bytes beyond the window`);
    assert.deepEqual(jobs, ['start: test job', 'end: test job: done; code.py restarted']);
    // The soft reboot's output reaches the console again, and no raw-REPL framing did.
    await new Promise((r) => setTimeout(r, 30));
    assert.match(text.join(''), /soft reboot\n/);
    assert.ok(!text.join('').includes('raw REPL') && !text.join('').includes('\x04'), 'raw-REPL framing reached the console');
    await session.dispose();
  });

  it('falls back to plain raw mode when the board answers R\\x00, and keeps stderr apart', async () => {
    const board: ScriptedBoard = { received: [], maxUnacked: 0, rawPaste: false, run: () => ({ stdout: 'partial\r\n', stderr: 'Traceback (most recent call last):\r\nValueError: wrong input size\r\n' }) };
    const session = await connected(board);
    const result = await runOnBoard(session, 'import cnn_helper\n', { what: 'raises', stateBefore: 'repl' });
    assert.equal(result.mode, 'raw');
    assert.equal(result.stdout, 'partial\r\n');
    assert.match(result.stderr, /ValueError: wrong input size/);
    assert.equal(result.restarted, false);
    // Nothing after the job: the board stays at the REPL (no Ctrl-D sent after the Ctrl-B).
    const afterB = board.received.slice(board.received.lastIndexOf(0x02) + 1);
    assert.deepEqual(afterB, []);
    await session.dispose();
  });

  it('interrupts a job that runs too long, and the board is usable again', async () => {
    const board: ScriptedBoard = { received: [], maxUnacked: 0, run: (code) => (code.includes('while True') ? 'forever' : { stdout: 'ok\r\n', stderr: '' }) };
    const session = await connected(board);
    await assert.rejects(runOnBoard(session, 'while True: pass\n', { what: 'loop', timeoutMs: 300 }),
      (e: unknown) => e instanceof RawReplError && e.failure === 'timeout' && /interrupted \(Ctrl-C\)/.test(e.message));
    const again = await runOnBoard(session, 'print("ok")\n', { what: 'next' });
    assert.equal(again.stdout, 'ok\r\n');
    await session.dispose();
  });

  it('reports a board unplugged mid-job clearly, and one job at a time', async () => {
    const board: ScriptedBoard = { received: [], maxUnacked: 0, run: () => 'forever' };
    const session = await connected(board);
    const job = runOnBoard(session, 'while True: pass\n', { what: 'long' });
    await new Promise((r) => setTimeout(r, 200));
    assert.throws(() => session.claim('second'), /another board job is using/);
    board.unplug!();
    await assert.rejects(job, (e: unknown) => e instanceof RawReplError && e.failure === 'lost' && /went away during the job/.test(e.message));
    await session.dispose();
  });
});
