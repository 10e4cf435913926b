// The console session against real pseudo-terminals (socat) through the real serialport.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { describeSerialError, NotConnectedError, type SerialError } from '../../src/core/serial/serialErrors.js';
import { openSerialPort } from '../../src/core/serial/portOpener.js';
import { SerialSession, type SessionState } from '../../src/core/serial/serialSession.js';
import type { BoardStatus } from '../../src/core/serial/statusTitle.js';
import { BoardEnd, nextEvent, PtyPair, socatMissing } from './ptyPair.js';

const missing = socatMissing();
if (missing) console.log(`# serial session tests on pseudo-terminals skipped: ${missing}`);

/** Everything a session reports, and ways to wait for it. */
function record(session: SerialSession) {
  const log = { text: '', lines: [] as string[], statuses: [] as BoardStatus[], states: [] as [SessionState, string][], errors: [] as SerialError[] };
  session.on('text', (t) => { log.text += t; });
  session.on('line', (l) => log.lines.push(l));
  session.on('status', (s) => log.statuses.push(s));
  session.on('state', (s, m) => log.states.push([s, m]));
  session.on('error', (e) => log.errors.push(e));
  return log;
}

const untilState = (session: SerialSession, state: SessionState, timeoutMs = 5000) =>
  nextEvent<[SessionState, string]>(session, 'state', (s) => s === state, timeoutMs);

async function untilText(session: SerialSession, log: { text: string }, expected: string, timeoutMs = 5000): Promise<void> {
  if (log.text.includes(expected)) return;
  await nextEvent(session, 'text', () => log.text.includes(expected), timeoutMs).catch(() => {
    throw new Error(`expected ${JSON.stringify(expected)} in ${JSON.stringify(log.text.slice(-300))}`);
  });
}

describe('serial session without a device', () => {
  const sessions: SerialSession[] = [];
  const track = (session: SerialSession) => { sessions.push(session); return session; };
  afterEach(async () => { await Promise.all(sessions.splice(0).map((s) => s.dispose())); });

  it('reports a port that does not exist as an error event, without throwing', async () => {
    const session = track(new SerialSession({ path: '/dev/cpml-no-such-port', reconnect: false }));
    const log = record(session);
    const errorSeen = nextEvent<[SerialError]>(session, 'error');
    const down = untilState(session, 'disconnected');
    assert.doesNotThrow(() => session.start());
    const [error] = await errorSeen;
    assert.equal(error.kind, 'not-found');
    assert.match(error.message, /^no such port \/dev\/cpml-no-such-port$/);
    await down;
    assert.deepEqual(log.states.map(([s]) => s), ['connecting', 'disconnected']);
    await assert.rejects(session.write('x'), (e: unknown) => e instanceof NotConnectedError && /^not connected to \/dev\/cpml-no-such-port/.test(e.message));
    await session.dispose();
    await session.dispose(); // idempotent
    assert.equal(session.state, 'closed');
  });

  it('keeps waiting for a missing port when reconnecting, reports it once, and stops on dispose', async () => {
    let attempts = 0;
    let fifth: () => void = () => undefined;
    const fiveAttempts = new Promise<void>((resolve) => { fifth = resolve; });
    const session = track(new SerialSession({
      path: '/dev/cpml-no-such-port',
      retryDelayMs: { initial: 5, max: 20 },
      openPort: (options, listener) => {
        if (++attempts === 5) fifth();
        return openSerialPort(options, listener);
      },
    }));
    const log = record(session);
    session.start();
    await fiveAttempts;
    assert.equal(log.errors.length, 1, 'the same error is reported once');
    assert.equal(log.errors[0].kind, 'not-found');
    await session.dispose();
    const count = attempts;
    await new Promise((resolve) => setTimeout(resolve, 60)); // three times the longest retry delay
    assert.equal(attempts, count, 'no attempts after dispose');
    assert.deepEqual(log.states.map(([s]) => s), ['connecting', 'reconnecting', 'closed']);
  });

  it('turns errors thrown synchronously by an opener, and serialport\'s own argument errors, into events', async () => {
    const throwing = track(new SerialSession({ path: 'X', reconnect: false, openPort: () => { throw new Error('Error: Invalid argument, cannot open X'); } }));
    const thrown = nextEvent<[SerialError]>(throwing, 'error');
    throwing.start();
    assert.equal((await thrown)[0].message, 'serial port X: Invalid argument, cannot open X');
    await throwing.dispose();

    const empty = track(new SerialSession({ path: '', reconnect: false }));
    const rejected = nextEvent<[SerialError]>(empty, 'error');
    empty.start();
    assert.match((await rejected)[0].message, /^serial port : /);
    await empty.dispose();
  });

  it('does not crash the host when nobody listens for errors', async () => {
    const session = track(new SerialSession({ path: '/dev/cpml-no-such-port', reconnect: false }));
    session.start();
    await untilState(session, 'disconnected');
    await session.dispose();
  });
});

describe('serial session on pseudo-terminals', { skip: missing }, () => {
  let pair: PtyPair;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  before(async () => { pair = await PtyPair.create(); });
  afterEach(async () => {
    for (const clean of cleanups.splice(0).reverse()) await clean();
    await pair.start(); // a test may have unplugged it
  });
  after(async () => { await pair?.dispose(); });

  async function connected(options: Partial<ConstructorParameters<typeof SerialSession>[0]> = {}) {
    const session = new SerialSession({ path: pair.host, ...options });
    cleanups.push(() => session.dispose());
    const log = record(session);
    const up = untilState(session, 'connected');
    session.start();
    await up;
    const board = await BoardEnd.open(pair.board);
    cleanups.push(() => board.close());
    return { session, log, board };
  }

  it('decodes CircuitPython\'s output written byte by byte: sequences stripped, UTF-8 joined, CRLF normalised, title as status', async () => {
    const { session, log, board } = await connected();
    const raw = Buffer.from(
      '\x1b]0;🐍code.py | 9.2.1\x1b\\\x1b[2K\x1b[0GAuto-reload is on. Simply save files over USB to run them or enter REPL to disable.\r\n'
      + 'code.py output:\r\nFile: s.bin -> Pred: 7 (99.1%) café π → 🐍\r\n'
      + 'Traceback (most recent call last):\r\n  File "code.py", line 12, in <module>\r\nValueError: wrong input size\r\n'
      + '\x1b]0;🐍12@code.py ValueError | 9.2.1\x1b\\\r\nCode done running.\r\n', 'utf8');
    for (const byte of raw) await board.write(Uint8Array.of(byte));
    await untilText(session, log, 'Code done running.\n');
    assert.equal(log.text,
      'Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.\n'
      + 'code.py output:\nFile: s.bin -> Pred: 7 (99.1%) café π → 🐍\n'
      + 'Traceback (most recent call last):\n  File "code.py", line 12, in <module>\nValueError: wrong input size\n\nCode done running.\n');
    assert.deepEqual(log.lines.slice(1, 3), ['code.py output:', 'File: s.bin -> Pred: 7 (99.1%) café π → 🐍']);
    assert.equal(log.lines.length, 8);
    assert.deepEqual(log.statuses.map((s) => [s.state, s.file, s.line, s.exception, s.version]), [
      ['running', 'code.py', undefined, undefined, '9.2.1'],
      ['error', 'code.py', 12, 'ValueError', '9.2.1'],
    ]);
    assert.deepEqual(log.errors, []);
  });

  it('releases a trailing CR after a pause, holds a half-sent character across it, and makes no extra line when LF follows late', async () => {
    const { session, log, board } = await connected();
    await board.write('>>> ');
    await untilText(session, log, '>>> ');
    await board.write('prompt\r');
    await untilText(session, log, 'prompt\n'); // the held "\r" comes out after ~30 ms of silence
    await board.write('\ncaf'); // LF completing that CRLF, then "caf"
    await board.write(Uint8Array.of(0xc3)); // first byte of é
    await untilText(session, log, 'caf');
    // A pause far longer than the quiet flush (the monitor-pty check pauses 300 ms here).
    await new Promise((resolve) => setTimeout(resolve, 120));
    await board.write(Uint8Array.of(0xa9));
    await board.write('\r\nend\r\n');
    await untilText(session, log, 'end\n');
    assert.equal(log.text, '>>> prompt\ncafé\nend\n');
    assert.deepEqual(log.lines, ['>>> prompt', 'café', 'end']);
  });

  it('sends Ctrl-C, Ctrl-D, lines and the enter-REPL keys exactly', async () => {
    const { session, board } = await connected();
    await session.sendCtrlC();
    await session.sendCtrlD();
    await session.sendLine('print("héllo")');
    await session.enterRepl();
    await session.write(Uint8Array.of(0x01, 0x02));
    const expected = Buffer.from('\x03\x04print("héllo")\r\x03\r\x01\x02', 'utf8');
    assert.deepEqual(await board.waitForBytes(expected.length), expected);
  });

  it('waits for the first connection before writing, and refuses writes once closed', async () => {
    const session = new SerialSession({ path: pair.host });
    cleanups.push(() => session.dispose());
    const board = await BoardEnd.open(pair.board);
    cleanups.push(() => board.close());
    assert.equal(session.connected, false);
    await assert.rejects(session.sendCtrlC(), /not connected to .*host \(not started\)/);
    session.start();
    await session.sendCtrlC(); // sent while still connecting: waits for the port
    assert.deepEqual(await board.waitForBytes(1), Buffer.from([3]));
    await session.dispose();
    await assert.rejects(session.sendCtrlC(), /not connected to .*host \(the session is closed\)/);
  });

  it('reports another program holding the port', async () => {
    await connected();
    const second = new SerialSession({ path: pair.host, reconnect: false });
    cleanups.push(() => second.dispose());
    const error = nextEvent<[SerialError]>(second, 'error');
    second.start();
    const [e] = await error;
    assert.equal(e.kind, 'busy');
    assert.match(e.userMessage, /host is in use by another program \(a serial terminal, Thonny, Mu, another VS Code window\?\)\. Close it and try again/);
    assert.equal(describeSerialError(e.cause, e.path).kind, 'busy');
  });

  it('reconnects when the board goes away and comes back (socat stopped and started again)', async () => {
    const { session, log, board } = await connected();
    await board.write('before\r\n');
    await untilText(session, log, 'before\n');
    await board.close();
    const reconnecting = untilState(session, 'reconnecting');
    await pair.stop();
    const [, lostMessage] = await reconnecting;
    assert.match(lostMessage, /^lost the connection to .*host \(board reset or unplugged\?\); reconnecting…$/);
    await assert.rejects(session.write('x'), (e: unknown) => e instanceof NotConnectedError);
    const back = untilState(session, 'connected');
    await pair.start();
    const [, message] = await back;
    assert.equal(message, `reconnected to ${pair.host}`);
    const again = await BoardEnd.open(pair.board);
    cleanups.push(() => again.close());
    await again.write('after\r\n');
    await untilText(session, log, 'after\n');
    await session.sendLine('1+1');
    assert.deepEqual(await again.waitForBytes(4), Buffer.from('1+1\r'));
    assert.deepEqual(log.states.map(([s]) => s), ['connecting', 'connected', 'reconnecting', 'connected']);
    assert.deepEqual(log.errors, [], 'an unplug is a state change, not an error');
    assert.equal(log.text, 'before\nafter\n');
  });

  it('finds a replugged board under a new name by its serial number', async () => {
    const { session } = await connected({ serialNumber: 'E66038B7137F6F2A', findPortBySerial: async (sn) => (sn === 'E66038B7137F6F2A' && moved.running ? moved.host : undefined) });
    const moved = pair.sibling({ board: 'board1', host: 'host1' });
    cleanups.push(() => moved.stop());
    const reconnecting = untilState(session, 'reconnecting');
    await pair.stop();
    await reconnecting;
    const back = untilState(session, 'connected');
    await moved.start();
    assert.equal((await back)[1], `reconnected to ${moved.host}`);
    assert.equal(session.path, moved.host);
  });

  it('stops at a lost connection when reconnect is off', async () => {
    const { session, log } = await connected({ reconnect: false });
    const down = untilState(session, 'disconnected');
    await pair.stop();
    await down;
    assert.deepEqual(log.states.map(([s]) => s), ['connecting', 'connected', 'disconnected']);
  });

  it('receives 5 MB pushed at full speed complete and in order', async (t) => {
    const { session, board } = await connected();
    const lines: string[] = [];
    for (let i = 0; lines.length * 64 < 5 * 1024 * 1024; i++) lines.push(`${String(i).padStart(7, '0')} inference 12.345 ms · Pred: ${i % 10} é 🐍 ${'x'.repeat(14)}\r\n`);
    const raw = Buffer.from(lines.join(''), 'utf8');
    const expected = lines.join('').replace(/\r\n/g, '\n');
    const hash = createHash('sha256');
    let received = 0;
    let lineCount = 0;
    session.on('text', (text) => { hash.update(text); received += text.length; });
    session.on('line', () => { lineCount++; });
    const started = process.hrtime.bigint();
    const done = nextEvent(session, 'text', () => received >= expected.length, 20_000);
    await board.write(raw);
    await done;
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    assert.equal(received, expected.length);
    assert.equal(hash.digest('hex'), createHash('sha256').update(expected).digest('hex'));
    assert.equal(lineCount, lines.length);
    t.diagnostic(`${(raw.length / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s through a socat pty pair: ${(raw.length / 1e6 / seconds).toFixed(1)} MB/s`);
  });
});
