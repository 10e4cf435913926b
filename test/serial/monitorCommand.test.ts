// `cpml monitor` as a process (dist/cli.js, as users run it) on real pseudo-terminals.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { BoardEnd, PtyPair, socatMissing } from './ptyPair.js';

const CLI = 'dist/cli.js';
const missing = socatMissing();

function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(path) : stat.mtimeMs);
  }
  return newest;
}

/** `npm test` builds first (pretest); when the tests run alone, rebuild a stale bundle. */
function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource('src')) return;
  const build = spawnSync(process.execPath, ['tools/build.mjs'], { encoding: 'utf8' });
  assert.equal(build.status, 0, `npm run build failed: ${build.stderr}`);
}

class Monitor {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private waiters: (() => void)[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding('utf8').on('data', (t: string) => { this.stdout += t; this.wake(); });
    child.stderr.setEncoding('utf8').on('data', (t: string) => { this.stderr += t; this.wake(); });
    child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => child.once('exit', (code) => { this.wake(); resolve(code); }));
  }

  static start(...args: string[]): Monitor {
    return new Monitor(spawn(process.execPath, [CLI, 'monitor', ...args], { stdio: 'pipe' }));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `stream` contains `expected`; fails after `timeoutMs` showing what came. */
  async waitFor(stream: 'stdout' | 'stderr', expected: string | RegExp, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const found = () => (typeof expected === 'string' ? this[stream].includes(expected) : expected.test(this[stream]));
    while (!found()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null) {
        throw new Error(`expected ${String(expected)} on ${stream}; stdout: ${JSON.stringify(this.stdout)}; stderr: ${JSON.stringify(this.stderr)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

describe('cpml monitor (process)', { skip: missing }, () => {
  let pair: PtyPair;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];

  before(async () => {
    ensureBuilt();
    pair = await PtyPair.create();
  });
  afterEach(async () => {
    for (const clean of cleanups.splice(0).reverse()) await clean();
    await pair.start();
  });
  after(async () => { await pair?.dispose(); });

  async function monitor(...args: string[]): Promise<{ m: Monitor; board: BoardEnd }> {
    const m = Monitor.start('--port', pair.host, ...args);
    cleanups.push(() => m.stop());
    await m.waitFor('stderr', `--- connected to ${pair.host} ---`);
    const board = await BoardEnd.open(pair.board);
    cleanups.push(() => board.close());
    return { m, board };
  }

  it('prints only decoded console text on stdout, status on stderr, and sends typed input to the board', async () => {
    const { m, board } = await monitor();
    await board.write('\x1b]0;🐍code.py | 9.2.1\x1b\\\x1b[2K\x1b[0GAuto-reload is on.\r\ncode.py output:\r\nFile: s.bin -> Pred: 7 (99.1%) caf');
    await board.write(Uint8Array.of(0xc3));
    await m.waitFor('stdout', 'caf');
    await new Promise((resolve) => setTimeout(resolve, 100)); // a pause inside "é", longer than the monitor's quiet flush
    await board.write(Uint8Array.of(0xa9));
    await board.write('\r\n\r\nCode done running.\r\n');
    await m.waitFor('stdout', 'Code done running.\n');
    assert.equal(m.stdout, 'Auto-reload is on.\ncode.py output:\nFile: s.bin -> Pred: 7 (99.1%) café\n\nCode done running.\n');
    assert.match(m.stderr, /^--- connecting to .*host ---\n--- connected to .*host ---\n/);
    assert.match(m.stderr, /--- board: running code\.py ---/);

    m.child.stdin.write('print(42)\r\x03');
    assert.deepEqual(await board.waitForBytes(11), Buffer.from('print(42)\r\x03'));
    // The end of piped input does not end the monitor.
    m.child.stdin.end();
    await board.write('still here\r\n');
    await m.waitFor('stdout', 'still here\n');
    assert.equal(m.child.exitCode, null);

    assert.equal(await m.stop(), 0, m.stderr);
    assert.doesNotMatch(m.stderr, /internal error|Error:/);
  });

  it('tells of an unplug on stderr and carries on when the board comes back', async () => {
    const { m, board } = await monitor();
    await board.close();
    await pair.stop();
    await m.waitFor('stderr', /lost the connection to .*host \(board reset or unplugged\?\); reconnecting…/);
    await pair.start();
    await m.waitFor('stderr', `--- reconnected to ${pair.host} ---`);
    const again = await BoardEnd.open(pair.board);
    cleanups.push(() => again.close());
    await again.write('back\r\n');
    await m.waitFor('stdout', 'back\n');
    assert.equal(m.stdout, 'back\n');
  });

  it('exits 1 when the board goes away with --no-reconnect', async () => {
    const { m } = await monitor('--no-reconnect');
    await pair.stop();
    assert.equal(await m.exited, 1);
    assert.match(m.stderr, /--- lost the connection to .*host \(board reset or unplugged\?\) ---/);
  });

  it('exits 1 with a clear message for a port that does not exist', async () => {
    const m = Monitor.start('--port', join(pair.dir, 'nothing-here'));
    cleanups.push(() => m.stop());
    assert.equal(await m.exited, 1);
    assert.equal(m.stdout, '');
    assert.match(m.stderr, /cpml monitor: no such port .*nothing-here\. Check that the board is plugged in/);
  });

  it('refuses a bad --baud with the usage line: not a number, 1e12, beyond the range', async () => {
    for (const baud of ['fast', '1e12', '4000001', '0', '9600.5']) {
      const m = Monitor.start('--port', pair.host, '--baud', baud);
      cleanups.push(() => m.stop());
      assert.equal(await m.exited, 2, m.stderr);
      assert.ok(m.stderr.startsWith(`cpml monitor: --baud must be a whole number from 1 to 4000000, got '${baud}'\nUsage: cpml monitor`), m.stderr);
      assert.doesNotMatch(m.stderr, /-\d{5,}|ioctl/);
    }
  });

  it('exits 1 saying that a regular file or a device that is not a terminal is not a serial port', async () => {
    const file = join(pair.dir, 'console.log');
    writeFileSync(file, 'not a port\n');
    const device = ['/dev/null', '/dev/zero'].find((p) => statSync(p).isCharacterDevice())!;
    for (const [path, what] of [[file, 'a regular file'], [device, 'a character device that is not a terminal']]) {
      const m = Monitor.start('--port', path);
      cleanups.push(() => m.stop());
      assert.equal(await m.exited, 1, m.stderr);
      assert.equal(m.stdout, '');
      assert.match(m.stderr, new RegExp(`cpml monitor: '${path}' is not a serial port \\(it is ${what}\\)\\. Choose the board's console port \\(e\\.g\\. /dev/ttyACM0.*cpml monitor without --port`));
      assert.doesNotMatch(m.stderr, /Inappropriate ioctl|baud rate/);
    }
    assert.equal(readFileSync(file, 'utf8'), 'not a port\n');
  });

  it('says a port behind a folder the user may not enter is unreachable (not "join the dialout group")', { skip: process.getuid?.() === 0 ? false : 'needs root to run the command as another user' }, () => {
    const closed = mkdtempSync(join(tmpdir(), 'cpml-closed-'));
    cleanups.push(() => rmSync(closed, { recursive: true, force: true }));
    const r = spawnSync(process.execPath, [join(process.cwd(), CLI), 'monitor', '--port', join(closed, 'tty')], { encoding: 'utf8', timeout: 20_000, uid: 65534, gid: 65534, cwd: '/' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^cpml monitor: permission denied: \S+tty cannot be reached \(a folder on its path may not be entered by this user\)/m);
    assert.doesNotMatch(r.stderr, /dialout/);
  });

  const boardAttached = existsSync('/sys/class/tty') && readdirSync('/sys/class/tty').some((n) => /^ttyACM\d/.test(n));
  it('without --port and without a board, says so and how to choose a port', { skip: boardAttached && 'a USB serial device is attached' }, async () => {
    const m = Monitor.start();
    cleanups.push(() => m.stop());
    assert.equal(await m.exited, 1);
    assert.match(m.stderr, /no CircuitPython board found \(CIRCUITPY drives looked for (with drivelist and )?in .+\).*--port/s);
  });
});

describe('cpml without serialport', () => {
  let dir: string | undefined;
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('still works, and the monitor says clearly that the serial library is missing', () => {
    ensureBuilt();
    // dist/cli.js copied where no node_modules can be found: serialport cannot load.
    dir = mkdtempSync(join(tmpdir(), 'cpml-nosp-'));
    const cli = join(dir, 'cli.js');
    copyFileSync(CLI, cli);
    const version = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8', cwd: dir });
    assert.equal(version.status, 0, version.stderr);
    const monitor = spawnSync(process.execPath, [cli, 'monitor', '--port', join(dir, 'ttyACM0')], { encoding: 'utf8', cwd: dir, timeout: 10_000 });
    assert.equal(monitor.status, 1, monitor.stderr);
    assert.equal(monitor.stdout, '');
    assert.match(monitor.stderr, /cpml monitor: the serial port library \(serialport\) could not be loaded on this machine: Cannot find module 'serialport'.*Converting and checking models still works/);
    assert.doesNotMatch(monitor.stderr, /internal error|\n\s+at /);
  });
});
