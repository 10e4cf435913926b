// What `cpml convert -o` may write, and what any command may read: only regular files. A device,
// FIFO, socket or folder at the output (or behind a symlink) is refused with nothing written; a
// read-only output is kept unless --force (then it keeps its mode); permission problems are user
// errors (exit 1, "permission denied: PATH", no stack trace); /dev/zero and FIFOs as a model or
// --input are refused at once instead of read forever or waited on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync, chownSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync,
  symlinkSync, writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { cpml, EXAMPLE } from './cliHarness.js';

const MODEL = `${EXAMPLE}/model.onnx`;
const CLI = resolve('dist', 'cli.js');
const isWindows = process.platform === 'win32';
const isRoot = process.getuid?.() === 0;
/** Whatever a refusal takes, it must not be a wait for a writer or a read of an endless file. */
const QUICK = { timeout: 20_000 };

let root: string;
let n = 0;
/** A fresh folder of its own for each case. */
function folder(): string {
  const dir = join(root, `case${n++}`);
  mkdirSync(dir);
  return dir;
}

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  assert.equal(r.status, 0, `mkfifo ${path} failed: ${r.stderr}`);
}

/**
 * A character device to aim -o at. As root, a private null device (mknod c 1 3) in the test's
 * folder, never /dev/null itself: a regression would replace the device it is given, and root
 * may replace /dev/null (which the issue saw happen). An ordinary user cannot replace anything
 * in /dev, so /dev/null is safe to use then. Undefined where neither works (skip).
 */
function characterDevice(dir: string): string | undefined {
  if (isWindows) return undefined;
  if (!isRoot) return '/dev/null';
  const path = join(dir, 'null');
  const r = spawnSync('mknod', ['-m', '666', path, 'c', '1', '3']);
  return r.status === 0 ? path : undefined;
}

function cli(args: string[], options: { uid?: number; gid?: number } = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 15_000, ...options });
}

function assertUserError(r: { status: number | null; stderr: string }, pattern: RegExp): void {
  const stderr = r.stderr;
  assert.equal(r.status, 1, `exit ${r.status}: ${stderr}`);
  assert.match(stderr, pattern);
  assert.doesNotMatch(stderr, /\n\s+at /, 'a stack trace');
}

/** A refusal of -o: exit 1, the reason, and "nothing was written". */
async function refusedOutput(out: string, pattern: RegExp): Promise<string> {
  const r = await cpml('convert', MODEL, '-o', out);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.match(r.stderr, /nothing was written/);
  return r.stderr;
}

function noTemporaries(dir: string): void {
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('cpml-tmp')), []);
}

before(() => {
  root = mkdtempSync(join(tmpdir(), 'cpml-convert-output-'));
  // The unprivileged runs below must be able to reach the model and the CLI.
  chmodSync(root, 0o755);
});
after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('cpml convert -o refuses what is not a regular file', () => {
  it('a null device (as /dev/null) stays the device: refused, not replaced with a file', async (t) => {
    const dir = folder();
    const device = characterDevice(dir);
    if (!device) return t.skip('cannot make a device node here');
    const before = statSync(device);
    assert.ok(before.isCharacterDevice());
    await refusedOutput(device, /: it is a character device, not a regular file/);
    const afterwards = lstatSync(device);
    assert.ok(afterwards.isCharacterDevice(), `${device} was replaced`);
    assert.equal(afterwards.rdev, before.rdev);
    noTemporaries(dir);
  });

  it('a FIFO is refused at once (no wait for a reader) and stays a FIFO', { ...QUICK, skip: isWindows && 'no mkfifo' }, async () => {
    const dir = folder();
    const fifo = join(dir, 'out.bin');
    mkfifo(fifo);
    await refusedOutput(fifo, /it is a FIFO \(named pipe\), not a regular file/);
    assert.ok(lstatSync(fifo).isFIFO());
    assert.deepEqual(readdirSync(dir), ['out.bin']);
  });

  it('a socket is refused and stays a socket', { skip: isWindows && 'no Unix sockets' }, async () => {
    const dir = folder();
    const path = join(dir, 'out.bin');
    const server: Server = createServer();
    await new Promise<void>((done) => server.listen(path, done));
    try {
      await refusedOutput(path, /it is a socket, not a regular file/);
      assert.ok(lstatSync(path).isSocket());
      assert.deepEqual(readdirSync(dir), ['out.bin']);
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  it('a folder is refused, with or without a trailing slash, and left empty', async () => {
    const dir = folder();
    const sub = join(dir, 'out.bin');
    mkdirSync(sub);
    await refusedOutput(sub, /it is a folder, not a regular file/);
    await refusedOutput(`${sub}/`, /a folder path, not a file name/);
    assert.deepEqual(readdirSync(sub), []);
    assert.deepEqual(readdirSync(dir), ['out.bin']);
  });

  it('--force does not make a device or folder writable either', async (t) => {
    const dir = folder();
    const device = characterDevice(dir);
    if (!device) return t.skip('cannot make a device node here');
    const r = await cpml('convert', MODEL, '-o', device, '--force');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /character device/);
    assert.ok(lstatSync(device).isCharacterDevice());
    mkdirSync(join(dir, 'sub.bin'));
    const folderForced = await cpml('convert', MODEL, '-o', join(dir, 'sub.bin'), '--force');
    assert.equal(folderForced.status, 1, folderForced.stderr);
    assert.match(folderForced.stderr, /it is a folder/);
    assert.deepEqual(readdirSync(join(dir, 'sub.bin')), []);
  });

  it('a symlink to a device, a FIFO or nothing is refused and the link kept', { skip: isWindows && 'symlinks need privileges' }, async () => {
    const dir = folder();
    const device = characterDevice(dir) ?? '/dev/null'; // a link is replaced, never its target: /dev/null is safe here
    const toNull = join(dir, 'null.bin');
    symlinkSync(device, toNull);
    await refusedOutput(toNull, /it is a symbolic link to a character device/);
    const fifo = join(dir, 'pipe');
    mkfifo(fifo);
    const toFifo = join(dir, 'pipe.bin');
    symlinkSync(fifo, toFifo);
    await refusedOutput(toFifo, /symbolic link to a FIFO/);
    const dangling = join(dir, 'dangling.bin');
    symlinkSync(join(dir, 'missing', 'x.bin'), dangling);
    await refusedOutput(dangling, /symbolic link to a file that does not exist/);
    assert.equal(readlinkSync(toNull), device);
    assert.ok(lstatSync(toFifo).isSymbolicLink() && lstatSync(dangling).isSymbolicLink());
    assert.ok(lstatSync(device).isCharacterDevice());
    noTemporaries(dir);
  });

  it('a symlink to a regular file writes the target and keeps the link', { skip: isWindows && 'symlinks need privileges' }, async () => {
    const dir = folder();
    const target = join(dir, 'real.bin');
    writeFileSync(target, 'old');
    const link = join(dir, 'link.bin');
    symlinkSync('real.bin', link);
    const r = await cpml('convert', MODEL, '-o', link);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.deepEqual(readFileSync(target), readFileSync(`${EXAMPLE}/model.bin`));
    noTemporaries(dir);
  });

  it('an output that is the input model through a symlink is a usage error', { skip: isWindows && 'symlinks need privileges' }, async () => {
    const dir = folder();
    const model = join(dir, 'model.onnx');
    writeFileSync(model, readFileSync(MODEL));
    symlinkSync('model.onnx', join(dir, 'alias.onnx'));
    const r = await cpml('convert', model, '-o', join(dir, 'alias.onnx'));
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /is the input model/);
    assert.deepEqual(readFileSync(model), readFileSync(MODEL));
  });
});

describe('cpml convert -o onto an existing file', () => {
  it('keeps the mode of the file it replaces', { skip: isWindows && 'no POSIX modes' }, async () => {
    const dir = folder();
    const out = join(dir, 'model.bin');
    writeFileSync(out, 'old');
    chmodSync(out, 0o640);
    const r = await cpml('convert', MODEL, '-o', out);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(out).mode & 0o7777, 0o640);
    assert.deepEqual(readFileSync(out), readFileSync(`${EXAMPLE}/model.bin`));
    noTemporaries(dir);
  });

  it('refuses a read-only file (also as root) and names --force; --force replaces it and keeps it read-only', { skip: isWindows && 'no POSIX modes' }, async () => {
    const dir = folder();
    const out = join(dir, 'model.bin');
    writeFileSync(out, 'keep me');
    chmodSync(out, 0o444);
    const stderr = await refusedOutput(out, /model\.bin' already exists and is read-only \(mode 0444\)/);
    assert.match(stderr, /--force/);
    assert.equal(readFileSync(out, 'utf8'), 'keep me');
    assert.equal(statSync(out).mode & 0o7777, 0o444);

    const forced = await cpml('convert', MODEL, '-o', out, '--force');
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(`${EXAMPLE}/model.bin`));
    assert.equal(statSync(out).mode & 0o7777, 0o444);
    noTemporaries(dir);
  });

  it('a file name of 250 characters is written (the temporary beside it must fit too)', async () => {
    const dir = folder();
    const out = join(dir, `${'m'.repeat(246)}.bin`);
    const r = await cpml('convert', MODEL, '-o', out);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(`${EXAMPLE}/model.bin`));
    noTemporaries(dir);
  });

  it('--force is in the help text', async () => {
    const r = await cpml('convert', '--help');
    assert.match(r.stdout + r.stderr, /--force\s+replace an existing output even if it is read-only/);
  });
});

describe('permission problems are user errors (dist/cli.js as an ordinary user)', () => {
  const asNobody = { uid: 65534, gid: 65534 };
  const needsRoot = (t: TestContext): boolean => {
    if (isRoot) return true;
    t.skip('runs only as root, which can start the CLI as uid 65534 (as CI does)');
    return false;
  };

  it('-o into a folder the user may not enter: exit 1, "permission denied: PATH" and the fix, no stack trace', (t) => {
    if (!needsRoot(t)) return;
    const locked = folder();
    chmodSync(locked, 0o700); // root's, and closed to others
    const out = join(locked, 'x.bin');
    const r = cli(['convert', resolve(MODEL), '-o', out], asNobody);
    assertUserError(r, new RegExp(`permission denied: '${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`));
    assert.match(r.stderr, /Check its permissions and those of the folders above it, or choose a path you may use/);
    assert.deepEqual(readdirSync(locked), []);
  });

  it('-o into a folder the user may read but not write: exit 1, permission denied, nothing left behind', (t) => {
    if (!needsRoot(t)) return;
    const readOnly = folder();
    chmodSync(readOnly, 0o755);
    const r = cli(['convert', resolve(MODEL), '-o', join(readOnly, 'x.bin')], asNobody);
    assertUserError(r, /permission denied: '.*x\.bin'/);
    assert.deepEqual(readdirSync(readOnly), []);
  });

  it('-o onto a file of another user in a folder the user may write: refused as not writable, unless --force', (t) => {
    if (!needsRoot(t)) return;
    const shared = folder();
    chmodSync(shared, 0o777);
    const out = join(shared, 'x.bin');
    writeFileSync(out, 'root file');
    chmodSync(out, 0o644);
    const r = cli(['convert', resolve(MODEL), '-o', out], asNobody);
    assertUserError(r, /already exists and is not writable for this user \(mode 0644, owner 0\); nothing was written/);
    assert.equal(readFileSync(out, 'utf8'), 'root file');
    const forced = cli(['convert', resolve(MODEL), '-o', out, '--force'], asNobody);
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(readFileSync(out), readFileSync(`${EXAMPLE}/model.bin`));
    assert.equal(statSync(out).mode & 0o7777, 0o644);
    noTemporaries(shared);
  });

  it('an unreadable model: exit 1, permission denied', (t) => {
    if (!needsRoot(t)) return;
    const dir = folder();
    const model = join(dir, 'model.onnx');
    writeFileSync(model, readFileSync(MODEL));
    chmodSync(model, 0o600);
    chownSync(model, 0, 0);
    const r = cli(['inspect', model], asNobody);
    assertUserError(r, /permission denied: '.*model\.onnx'/);
  });
});

describe('commands read only regular files', () => {
  it('cpml inspect /dev/zero is refused at once', { ...QUICK, skip: isWindows && 'no /dev/zero' }, async () => {
    const r = await cpml('inspect', '/dev/zero');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /'\/dev\/zero': it is a character device, not a model file/);
  });

  it('a FIFO as the model (convert, inspect) is refused at once, not waited on', { ...QUICK, skip: isWindows && 'no mkfifo' }, async () => {
    const dir = folder();
    const fifo = join(dir, 'model.onnx');
    mkfifo(fifo);
    for (const args of [['convert', fifo, '-o', join(dir, 'out.bin')], ['inspect', fifo]]) {
      const r = await cpml(...args);
      assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /it is a FIFO \(named pipe\), not a model file/);
    }
    assert.deepEqual(readdirSync(dir), ['model.onnx']);
  });

  it('cpml run --input /dev/zero or a FIFO is refused at once', { ...QUICK, skip: isWindows && 'no FIFOs' }, async () => {
    const dir = folder();
    const fifo = join(dir, 'sample.bin');
    mkfifo(fifo);
    for (const input of ['/dev/zero', fifo]) {
      const r = await cpml('run', `${EXAMPLE}/model.bin`, '--input', input);
      assert.equal(r.status, 1, `${input}: ${r.stderr}`);
      assert.match(r.stderr, /it is a (character device|FIFO \(named pipe\)), not a/);
    }
  });

  it('an ONNX file over 2 GiB gets the real reason and the fix (sparse file: nothing is read)', { ...QUICK, skip: isWindows && 'sparse files' }, async () => {
    const dir = folder();
    const big = join(dir, 'huge.onnx');
    const fd = openSync(big, 'w');
    closeSync(fd);
    spawnSync('truncate', ['-s', String(2 ** 31 + 5), big]);
    assert.equal(statSync(big).size, 2 ** 31 + 5);
    for (const args of [['convert', big, '-o', join(dir, 'out.bin')], ['inspect', big]]) {
      const r = await cpml(...args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /huge\.onnx' is 2\.1 GB, more than an ONNX file can be \(protobuf stops at 2 GiB; larger models keep their weights in external data files\)/);
      assert.match(r.stderr, /no model that large can run on a Pico \(its flash holds at most 16 MB\)/);
      assert.doesNotMatch(r.stderr, /File size|greater than 2 GiB/);
    }
    assert.deepEqual(readdirSync(dir), ['huge.onnx']);
  });
});
