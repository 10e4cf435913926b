// Auto-reload must survive what editors do on save: write a temporary file, rename it over
// code.py. (Node's recursive fs.watch on Linux stops reporting after a couple of such renames.)
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { DriveWatcher } from '../../src/sim/driveWatcher.js';
import { sleep, startBoard } from './simHarness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function atomicSave(path: string, text: string): void {
  const temp = `${path}.swp`;
  writeFileSync(temp, text);
  renameSync(temp, path);
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('drive watcher', () => {
  it('reports each of 10 atomic saves of code.py, and files in folders made after it started', async () => {
    const drive = mkdtempSync(join(tmpdir(), 'cpml-watch-'));
    cleanups.push(() => rmSync(drive, { recursive: true, force: true }));
    writeFileSync(join(drive, 'code.py'), 'print(0)\n');
    const seen: string[] = [];
    const watcher = new DriveWatcher(drive, (name) => seen.push(name), () => undefined);
    watcher.start();
    cleanups.push(() => watcher.close());
    for (let i = 1; i <= 10; i++) {
      const before = seen.length;
      atomicSave(join(drive, 'code.py'), `print(${i})\n`);
      // Well inside the poll interval: the folder's watcher saw it.
      await until(() => seen.slice(before).includes('code.py'), `save ${i}`, 800);
    }
    mkdirSync(join(drive, 'lib'));
    await sleep(300);
    const before = seen.length;
    writeFileSync(join(drive, 'lib', 'helper.py'), 'x = 1\n');
    await until(() => seen.slice(before).includes('lib/helper.py'), 'a write in a new folder');
  });
});

describe('virtual Pico auto-reload', () => {
  it('reloads after each of 10 successive atomic saves and runs the saved program', async () => {
    const board = await startBoard({ 'code.py': 'print("version", 0)\n' }, { pty: false, autoReloadDelayMs: 100 }, cleanups);
    await board.waitForOutput('version 0');
    for (let i = 1; i <= 10; i++) {
      const from = board.output().length;
      await board.waitForState('waiting');
      atomicSave(join(board.drive, 'code.py'), `print("version", ${i})\n`);
      await board.waitForOutput(`version ${i}`, from, 5000);
    }
    assert.equal(board.output().split('soft reboot').length - 1, 10);
  });
});
