// `cpml deploy` end to end: the built dist/cli.js as a process, on real folders.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { LOCK_FILE } from '../../src/core/deploy/driveLock.js';
import { alteredBlob, copySamples, EXAMPLE_BLOB, EXAMPLE_ONNX, EXAMPLE_SAMPLES, makeDrive, snapshot, tempDir, temporaries } from './deploySupport.js';

/** Newest modification time under a folder. */
function newest(dir: string): number {
  return Math.max(...readdirSync(dir).map((name) => {
    const s = statSync(join(dir, name));
    return s.isDirectory() ? newest(join(dir, name)) : s.mtimeMs;
  }));
}

function cpml(...args: string[]) {
  const r = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `cpml …` as a running process: its pid, and its status and output when it ends. */
function cpmlProcess(...args: string[]) {
  const child = spawn(process.execPath, ['dist/cli.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const done = new Promise<{ status: number | null; stdout: string; stderr: string; pid: number }>((resolve) => {
    child.on('close', (status) => resolve({ status, stdout, stderr, pid: child.pid! }));
  });
  return { pid: child.pid!, done };
}

describe('cpml deploy (dist/cli.js)', () => {
  before(() => {
    // `npm test` builds first; a bare run of this file builds when dist/ is older than the sources.
    const fresh = existsSync('dist/cli.js') && existsSync('dist/code_template.py') && statSync('dist/cli.js').mtimeMs >= newest('src');
    if (!fresh) execFileSync(process.execPath, ['tools/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
  });

  it('deploys, reports each file and the memory plan, and keeps the user\'s code.py', () => {
    const drive = makeDrive('print("my own program")\n');
    const r = cpml('deploy', EXAMPLE_ONNX, '--drive', drive);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^Deploying model\.bin to .*CIRCUITPY \(Raspberry Pi Pico, CircuitPython 9\.2\.1\)$/m);
    assert.match(r.stdout, /^RAM: {3}38\.9 KB of the 150\.0 KB heap budget \(111\.1 KB to spare\)$/m);
    assert.match(r.stdout, /^Samples: 20 from .*mnist_samples, with labels$/m);
    assert.match(r.stdout, /^ {2}new {7}model\.bin \(7\.1 KB\)$/m);
    assert.match(r.stdout, /^ {2}new {7}mnist_samples\/sample_19\.bin \(3\.5 KB\)$/m);
    assert.match(r.stdout, /^ {2}backed up your code\.py as code\.py\.bak\n {2}updated {3}code\.py \(\d+\.\d KB\)$/m);
    assert.match(r.stdout, /^Done in \d+(\.\d+)? ms: 43 files written, 0 unchanged, your code\.py kept as code\.py\.bak\. The board reloads and runs code\.py\.$/m);
    assert.deepEqual(readFileSync(join(drive, 'model.bin')), readFileSync(EXAMPLE_BLOB));
    assert.equal(readFileSync(join(drive, 'code.py.bak'), 'utf8'), 'print("my own program")\n');

    const before = snapshot(drive);
    const again = cpml('deploy', EXAMPLE_ONNX, '--drive', drive, '--samples', EXAMPLE_SAMPLES);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^ {2}unchanged code\.py$/m);
    assert.match(again.stdout, /^Nothing to do: the drive already has this model, its 20 samples and code\.py \(43 files unchanged\)\.$/m);
    assert.deepEqual(snapshot(drive), before);
  });

  it('prints the result as JSON', () => {
    const drive = makeDrive();
    const r = cpml('deploy', EXAMPLE_BLOB, '--drive', drive, '--samples', EXAMPLE_SAMPLES, '--keep-loaded', '--heap', '180', '--json');
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as Record<string, unknown> & { model: { name: string; memory: { heapBudgetBytes: number } }; written: string[] };
    assert.equal(json.keepLoaded, true);
    assert.equal(json.model.name, 'model.bin');
    assert.equal(json.model.memory.heapBudgetBytes, 180 * 1024);
    assert.equal(json.written.length, 43);
    assert.equal(json.written.at(-1), 'code.py');
    assert.equal((json.samples as string[]).length, 20);
    assert.equal((json.labels as string[])[0], '7');
  });

  it('refuses with status 1 and one paragraph on stderr, writing nothing', () => {
    const drive = makeDrive('print("mine")\n');
    const before = snapshot(drive);
    const heap = cpml('deploy', EXAMPLE_ONNX, '--drive', drive, '--heap', '20');
    assert.equal(heap.status, 1);
    assert.equal(heap.stdout, '');
    assert.match(heap.stderr, /^cpml deploy: model\.onnx needs 38\.9 KB of RAM, 18\.9 KB more than the 20\.0 KB heap budget — .*MemoryError on the board\. Make the model smaller.*\n$/);
    // A model that is too big because of a rewrite says so.
    const rewritten = cpml('deploy', 'test/fixtures/torch2/depthwise_separable.dynamo.onnx', '--drive', drive, '--heap', '20');
    assert.equal(rewritten.status, 1);
    assert.match(rewritten.stderr, /more than the 20\.0 KB heap budget .*; it includes the converter's rewrites: depthwise Conv .* runs as a full Conv 8→8/);
    const refused = cpml('deploy', 'test/fixtures/models/refuse_sigmoid.onnx', '--drive', drive);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /^cpml deploy: .*Sigmoid/);
    assert.deepEqual(snapshot(drive), before);
    assert.deepEqual(temporaries(drive), []);

    const plain = join(tempDir(), 'folder');
    mkdirSync(plain);
    const notDrive = cpml('deploy', EXAMPLE_ONNX, '--drive', plain);
    assert.equal(notDrive.status, 1);
    assert.match(notDrive.stderr, /has no CircuitPython boot_out\.txt.*--force/);
    assert.deepEqual(readdirSync(plain), []);
    assert.equal(cpml('deploy', EXAMPLE_ONNX, '--drive', plain, '--force').status, 0);
    assert.ok(existsSync(join(plain, 'code.py')));
  });

  it('answers usage errors with status 2', () => {
    const none = cpml('deploy', '--drive', makeDrive());
    assert.equal(none.status, 2);
    assert.match(none.stderr, /deploy takes exactly one model file\nUsage: cpml deploy <model\.onnx\|model\.bin> --drive DIR/);
    const heap = cpml('deploy', EXAMPLE_ONNX, '--drive', makeDrive(), '--heap', 'lots');
    assert.equal(heap.status, 2);
    assert.match(heap.stderr, /--heap must be a positive number of kilobytes/);
    const help = cpml('deploy', '--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--keep-loaded/);
    assert.match(cpml('--help').stdout, /^ {2}deploy +copy a model, its samples and a generated code\.py to a CIRCUITPY drive$/m);
  });

  it('two deploys to one drive at once: one runs, the other is refused with its pid; the drive holds one deploy', async () => {
    // Enough samples that the deploys overlap (each writes for seconds).
    const samples = join(tempDir(), 'mnist_samples');
    mkdirSync(samples);
    for (let i = 0; i < 2000; i++) copyFileSync(join(EXAMPLE_SAMPLES, `sample_${String(i % 20).padStart(2, '0')}.bin`), join(samples, `sample_${i}.bin`));
    const other = alteredBlob(tempDir());
    const drive = makeDrive();
    const a = cpmlProcess('deploy', EXAMPLE_BLOB, '--drive', drive, '--samples', samples);
    const b = cpmlProcess('deploy', other, '--drive', drive, '--samples', samples);
    const results = await Promise.all([a.done, b.done]);
    const winner = results.find((r) => r.status === 0);
    const loser = results.find((r) => r !== winner);
    assert.ok(winner && loser, results.map((r) => `${r.status}: ${r.stderr}`).join('\n'));
    assert.equal(loser.status, 1);
    assert.match(loser.stderr, new RegExp(`^cpml deploy: another deploy to this drive is running \\(pid ${winner.pid}\\)(: nothing on the drive was changed)?\\. Wait for it to finish`));
    assert.deepEqual(readFileSync(join(drive, 'model.bin')), readFileSync(winner.pid === a.pid ? EXAMPLE_BLOB : other));
    assert.equal(readdirSync(join(drive, 'mnist_samples')).length, 2000);
    assert.equal((readFileSync(join(drive, 'code.py'), 'utf8').match(/^ {4}"mnist_samples\/sample_\d+\.bin",$/gm) ?? []).length, 2000);
    assert.deepEqual(temporaries(drive), []);
    assert.equal(existsSync(join(drive, LOCK_FILE)), false);
  });

  it('a kill while writing cancels: nothing replaced, no temporary, no lock left', async () => {
    const samples = join(tempDir(), 'mnist_samples');
    mkdirSync(samples);
    for (let i = 0; i < 2000; i++) copyFileSync(join(EXAMPLE_SAMPLES, `sample_${String(i % 20).padStart(2, '0')}.bin`), join(samples, `sample_${i}.bin`));
    const drive = makeDrive('print("mine")\n');
    const before = snapshot(drive);
    const child = spawn(process.execPath, ['dist/cli.js', 'deploy', EXAMPLE_BLOB, '--drive', drive, '--samples', samples], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (/^Samples: /m.test(stdout)) child.kill('SIGTERM'); // the plan is printed: the writes begin
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(status, 1, stderr);
    assert.match(stderr, /^cpml deploy: cancelling…\ncpml deploy: deploy cancelled: nothing on the drive was changed\n$/);
    assert.deepEqual(snapshot(drive), before);
    assert.deepEqual(temporaries(drive), []);
  });

  it('warns about sample files that are links to outside the folder, and does not copy them', () => {
    const samples = copySamples(tempDir());
    rmSync(join(samples, 'labels.txt'));
    symlinkSync('/etc/passwd', join(samples, 'labels.txt'));
    const drive = makeDrive();
    const r = cpml('deploy', EXAMPLE_ONNX, '--drive', drive, '--samples', samples);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^warning: not copied: 1 file in .*mnist_samples is a symbolic link to outside the samples folder: 'labels\.txt' → '\/etc\/passwd' \(copy the file into the folder to deploy it\)$/m);
    assert.equal(existsSync(join(drive, 'mnist_samples', 'labels.txt')), false);
  });
});
