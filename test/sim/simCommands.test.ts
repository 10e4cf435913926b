// The CLI around the virtual Pico, as users run it: `cpml demo` end to end and `cpml sim` with
// `cpml monitor`-style access to its port (spawned from the build, dist/cli.js).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { childProcesses, NO_PTY, openConsole, sleep } from './simHarness.js';

const CLI = 'dist/cli.js';
const NO_BUILD = existsSync(CLI) && existsSync('dist/simWorker.js') ? false : 'dist/cli.js is not built (npm test builds it first)';

describe('cpml demo', { skip: NO_BUILD }, () => {
  it('deploys the example to a virtual Pico, streams 20 predictions and scores 19/20', () => {
    const started = Date.now();
    const r = spawnSync(process.execPath, [CLI, 'demo'], { encoding: 'utf8', timeout: 100_000 });
    const seconds = (Date.now() - started) / 1000;
    assert.equal(r.status, 0, r.stderr + r.stdout.slice(-1500));
    assert.equal(r.stderr, '', 'nothing on stderr');
    const preds = r.stdout.split('\n').filter((l) => /^File: mnist_samples\/sample_\d\d\.bin -> Pred: \d \(\d+\.\d%\)$/.test(l));
    assert.equal(preds.length, 20, r.stdout);
    assert.match(r.stdout, /\nAccuracy: 19\/20 against labels\.txt \(wrong: sample_14\.bin is 3, predicted 8\)\n/);
    assert.match(r.stdout, /code\.py output:\n/);
    assert.match(r.stdout, /\nCode done running\.\n/);
    // The timing table: every sample at the simulated inference time, and the summary beside the estimate.
    assert.match(r.stdout, /simulated/);
    const rows = r.stdout.split('\n').filter((l) => /^\s*\d+\s+sample_\d\d\.bin\s+\d\s+\d\s+[✓✗]\s+[\d.]+\s+[\d.]+$/.test(l));
    assert.equal(rows.length, 20);
    assert.equal(rows.filter((l) => l.includes('✗')).length, 1);
    assert.match(r.stdout, /infer ms\s+n\s+min\s+median\s+mean\s+p95\s+max\s+host estimate\n\s+20(\s+240\.886){6}\n/);
    assert.ok(seconds < 60, `took ${seconds} s`);
  });
});

describe('cpml sim', { skip: NO_BUILD || NO_PTY }, () => {
  it('prints its port and drive, serves the console there, and stops cleanly on SIGTERM', async () => {
    const before = childProcesses();
    const child = spawn(process.execPath, [CLI, 'sim', '--heap', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const cleanups: (() => unknown)[] = [];
    try {
      const deadline = Date.now() + 20_000;
      while (!/Virtual Pico running: port (\S+), drive (\S+)\n/.test(stdout) && Date.now() < deadline && child.exitCode === null) await sleep(50);
      const m = /^Virtual Pico running: port (\S+), drive (\S+)\n/.exec(stdout);
      assert.ok(m, `stdout: ${stdout} stderr: ${stderr}`);
      const [, port, drive] = m;
      assert.ok(existsSync(port) && existsSync(`${drive}/boot_out.txt`));
      const con = await openConsole(port, cleanups);
      await con.session.write('\r');
      await con.waitForText('>>> ');
      await con.session.sendLine('import gc; print(gc.mem_free())');
      await con.waitForText('\n102400\n>>> ');
      for (const clean of cleanups.splice(0).reverse()) await clean();
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
      assert.equal(existsSync(port), false, 'the port is gone');
      assert.equal(existsSync(drive), false, 'the temporary drive is gone');
      await sleep(50);
      assert.deepEqual(childProcesses(), before, 'no helper process left');
    } finally {
      for (const clean of cleanups.reverse()) await clean();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('leaves no VM behind when it is killed outright, even one spinning in a loop that calls nothing', { skip: process.platform === 'linux' ? false : 'the kernel\'s parent-death signal is Linux\'s' }, async () => {
    const drive = mkdtempSync(join(tmpdir(), 'cpml-sim-kill-'));
    writeFileSync(join(drive, 'code.py'), 'while True:\n    pass\n');
    const child = spawn(process.execPath, [CLI, 'sim', '--drive', drive], { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    try {
      const deadline = Date.now() + 20_000;
      while (!/port (\S+)\/ttyPICO/.test(stdout) && Date.now() < deadline) await sleep(50);
      const workDir = /port (\S+)\/ttyPICO/.exec(stdout)?.[1];
      assert.ok(workDir, stdout);
      const vms = () => spawnSync('pgrep', ['-f', `${workDir}/control`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      while (!vms().length && Date.now() < deadline) await sleep(50);
      assert.equal(vms().length, 1, 'the VM runs');
      await sleep(1500); // well into the loop
      child.kill('SIGKILL');
      const gone = Date.now() + 5000;
      while (vms().length && Date.now() < gone) await sleep(50);
      assert.deepEqual(vms(), [], 'no VM left spinning');
      rmSync(workDir, { recursive: true, force: true });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(drive, { recursive: true, force: true });
    }
  });

  it('refuses a drive folder that does not exist', () => {
    const r = spawnSync(process.execPath, [CLI, 'sim', '--drive', '/nonexistent/cpml-drive'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^cpml sim: the drive folder '\/nonexistent\/cpml-drive' does not exist/);
  });
});

describe('cpml sim refuses what it must not touch', { skip: NO_BUILD }, () => {
  const root = mkdtempSync(join(tmpdir(), 'cpml-sim-refuse-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const sim = (...args: string[]) => spawnSync(process.execPath, [CLI, 'sim', ...args], { encoding: 'utf8', timeout: 20_000 });

  it('refuses a --link path that exists and is not a port it made, leaving the file as it was', { skip: NO_PTY }, () => {
    const file = join(root, 'notes.txt');
    writeFileSync(file, 'my notes');
    const r = sim('--link', file);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^cpml sim: '[^']*notes\.txt' already exists \(a file\); the virtual Pico's serial port would replace it\. Choose a path that does not exist/);
    assert.equal(readFileSync(file, 'utf8'), 'my notes');
  });

  it('refuses / and other system or home folders as its drive, writing nothing there', () => {
    for (const folder of ['/', '/etc', '/usr/lib']) {
      const r = sim('--drive', folder);
      assert.equal(r.status, 1, `${folder}: ${r.stderr}`);
      assert.match(r.stderr, /is a system or home folder, not a drive: the virtual Pico writes boot_out\.txt into its drive/);
    }
    assert.equal(existsSync('/boot_out.txt'), false);
  });

  it('refuses a folder that holds files but is neither a drive nor a CircuitPython project', () => {
    const folder = join(root, 'documents');
    mkdirSync(folder);
    writeFileSync(join(folder, 'letter.txt'), 'dear');
    const r = sim('--drive', folder);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is not empty and has neither a boot_out\.txt nor a code\.py/);
    assert.equal(existsSync(join(folder, 'boot_out.txt')), false);
  });

  it('refuses a drive whose boot_out.txt is a link, never writing through it', () => {
    const folder = join(root, 'linked');
    mkdirSync(folder);
    const target = join(root, 'target.txt');
    writeFileSync(target, 'keep me');
    symlinkSync(target, join(folder, 'boot_out.txt'));
    const r = sim('--drive', folder);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /has a boot_out\.txt that is not a regular file \(a symbolic link\)/);
    assert.equal(readFileSync(target, 'utf8'), 'keep me');
  });

  it('says "permission denied" for a drive folder it may not use (as an ordinary user)', { skip: process.getuid?.() === 0 ? false : 'needs root to run the command as another user' }, () => {
    const folder = join(root, 'private');
    mkdirSync(folder);
    chmodSync(root, 0o755);
    chmodSync(folder, 0o700);
    const r = spawnSync(process.execPath, [join(process.cwd(), CLI), 'sim', '--drive', folder], { encoding: 'utf8', timeout: 20_000, uid: 65534, gid: 65534, cwd: '/' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^cpml sim: permission denied: '[^']*private'/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
});
