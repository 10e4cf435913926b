// Deploy never reads or writes outside the drive and the samples folder through symbolic links
// (real links on real folders; a FIFO made with mkfifo).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DeployError } from '../../src/core/deploy/deployErrors.js';
import { executeDeploy } from '../../src/core/deploy/executeDeploy.js';
import { planDeploy } from '../../src/core/deploy/planDeploy.js';
import { copySamples, EXAMPLE_ONNX, EXAMPLE_SAMPLES, faultyFileSystem, makeDrive, snapshot, tempDir, temporaries } from './deploySupport.js';

const SECRET = 'secret: not for the drive\n';

async function refusal(promise: Promise<unknown>): Promise<DeployError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DeployError, `expected a DeployError, got ${String(error)}`);
  return error;
}

/** A folder outside both the drive and the samples, with one file in it. */
function outside(): { folder: string; file: string } {
  const folder = tempDir('cpml-outside-');
  const file = join(folder, 'secret.txt');
  writeFileSync(file, SECRET);
  return { folder, file };
}

const mkfifo = (path: string) => {
  try {
    execFileSync('mkfifo', [path]);
    return true;
  } catch {
    return false;
  }
};

describe('deploy: the samples folder', () => {
  it('does not copy files that are links to outside it (labels.txt → /etc/passwd), and says so', async () => {
    const samples = copySamples(tempDir());
    const secret = outside();
    rmSync(join(samples, 'labels.txt'));
    symlinkSync('/etc/passwd', join(samples, 'labels.txt'));
    symlinkSync(secret.file, join(samples, 'sample_99.bin'));
    symlinkSync(secret.file, join(samples, 'sample_99.rgb'));
    const drive = makeDrive();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive, samples });
    const result = await executeDeploy(plan);

    const onDrive = readdirSync(join(drive, 'mnist_samples'));
    assert.ok(!onDrive.includes('labels.txt'), 'labels.txt (→ /etc/passwd) is not on the drive');
    assert.ok(!onDrive.includes('sample_99.bin') && !onDrive.includes('sample_99.rgb'));
    assert.equal(onDrive.length, 40, 'the 20 samples and their previews are');
    assert.equal(plan.samples.labels, undefined);
    assert.equal(plan.samples.files.length, 20);
    assert.doesNotMatch(readFileSync(join(drive, 'code.py'), 'utf8'), /sample_99/);
    assert.ok(!result.written.some((p) => p.includes('99') || p.endsWith('labels.txt')));
    const warning = plan.warnings.find((w) => w.includes('symbolic link'));
    assert.match(warning ?? '', /^not copied: 3 files in .* are symbolic links to outside the samples folder: 'labels\.txt' → '\/etc\/passwd', 'sample_99\.bin' → '.*secret\.txt', 'sample_99\.rgb' → /);
    for (const entry of snapshot(drive).values()) assert.ok(!Buffer.from(entry.bytes, 'hex').toString('latin1').includes('secret: not for the drive'));
  });

  it('copies links that stay inside the folder; a samples folder that is itself a link is the one the user named', async () => {
    const base = tempDir();
    const real = copySamples(base, 'real_samples');
    mkdirSync(join(real, 'more'));
    renameSync(join(real, 'sample_05.bin'), join(real, 'more', 'five.bin'));
    symlinkSync(join('more', 'five.bin'), join(real, 'sample_05.bin'));
    const named = join(base, 'digits');
    symlinkSync(real, named);
    const drive = makeDrive();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive, samples: named });
    await executeDeploy(plan);
    assert.equal(plan.samples.files.length, 20);
    assert.deepEqual(readFileSync(join(drive, 'digits', 'sample_05.bin')), readFileSync(join(EXAMPLE_SAMPLES, 'sample_05.bin')));
    assert.deepEqual(plan.warnings.filter((w) => w.includes('not copied')), []);
  });

  it('skips a FIFO named like a sample instead of blocking on it, and a broken link', { skip: process.platform === 'win32' && 'no FIFOs' }, async (t) => {
    const samples = copySamples(tempDir());
    if (!mkfifo(join(samples, 'sample_50.bin'))) return t.skip('mkfifo is not available');
    symlinkSync(join(samples, 'gone.bin'), join(samples, 'sample_51.bin'));
    const drive = makeDrive();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive, samples });
    assert.equal(plan.samples.files.length, 20);
    assert.match(plan.warnings.join('\n'), /not copied: 1 file in .* is not a regular file: 'sample_50\.bin' \(FIFO\)/);
    assert.match(plan.warnings.join('\n'), /not copied: 1 file in .* is a broken symbolic link: 'sample_51\.bin'/);
  });

  it('refuses a sample of the wrong size before reading it, and a huge preview', async () => {
    const samples = copySamples(tempDir());
    writeFileSync(join(samples, 'sample_07.rgb'), new Uint8Array(1024 * 1024 + 1));
    const drive = makeDrive();
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive, samples }));
    assert.equal(error.reason, 'samples');
    assert.match(error.message, /sample_07\.rgb' has 1\.0 MB, more than the 1\.0 MB a preview may have/);
  });
});

describe('deploy: links on the drive', () => {
  it('says a boot_out.txt that is a link is not the firmware\'s file, and writes nothing', async () => {
    const drive = makeDrive();
    const secret = outside();
    rmSync(join(drive, 'boot_out.txt'));
    symlinkSync(secret.file, join(drive, 'boot_out.txt'));
    const before = snapshot(drive);
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive, samples: EXAMPLE_SAMPLES }));
    assert.match(error.message, /has a boot_out\.txt that is a symbolic link, not the file the firmware writes, so it does not look like a CIRCUITPY drive/);
    assert.deepEqual(snapshot(drive), before);
  });

  it('refuses a samples folder on the drive that is a link to elsewhere, and writes nothing there', async () => {
    const drive = makeDrive();
    const elsewhere = outside();
    symlinkSync(elsewhere.folder, join(drive, 'mnist_samples'));
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.equal(error.reason, 'drive');
    assert.match(error.message, /^'.*CIRCUITPY\/mnist_samples' is a symbolic link \(to '.*cpml-outside-.*'\): deploy never writes through a link$/);
    assert.deepEqual(readdirSync(elsewhere.folder), ['secret.txt']);
    assert.deepEqual(readdirSync(drive).sort(), ['boot_out.txt', 'mnist_samples']);
  });

  it('refuses a folder swapped for a link after planning, before writing into it', async () => {
    const drive = makeDrive();
    const elsewhere = outside();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    // The samples folder does not exist yet: a link appears where it goes.
    symlinkSync(elsewhere.folder, join(drive, 'mnist_samples'));
    const error = await refusal(executeDeploy(plan));
    assert.match(error.message, /mnist_samples/);
    assert.deepEqual(readdirSync(elsewhere.folder), ['secret.txt']);
    assert.deepEqual(temporaries(drive), []);
  });

  it('refuses a folder swapped for a link while writing, and writes nothing through it', async () => {
    const drive = makeDrive();
    mkdirSync(join(drive, 'mnist_samples'));
    const elsewhere = outside();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    const fs = faultyFileSystem({
      beforeWrite: (n) => {
        if (n !== 6) return;
        renameSync(join(drive, 'mnist_samples'), join(drive, 'old_samples'));
        symlinkSync(elsewhere.folder, join(drive, 'mnist_samples'));
      },
    });
    const error = await refusal(executeDeploy(plan, { fs }));
    assert.equal(error.reason, 'drive');
    assert.match(error.message, /CIRCUITPY\/mnist_samples' is a symbolic link .*: nothing on the drive was changed/);
    assert.deepEqual(readdirSync(elsewhere.folder), ['secret.txt']);
    assert.equal(readFileSync(elsewhere.file, 'utf8'), SECRET);
  });

  it('refuses a code.py that is a link: it is not read for the backup, nor written through', async () => {
    const drive = makeDrive();
    const elsewhere = outside();
    symlinkSync(elsewhere.file, join(drive, 'code.py'));
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.equal(error.reason, 'drive');
    assert.match(error.message, /^'.*CIRCUITPY\/code\.py' is a symbolic link \(to '.*secret\.txt'\)/);
    assert.equal(readFileSync(elsewhere.file, 'utf8'), SECRET);
    assert.deepEqual(readdirSync(drive).sort(), ['boot_out.txt', 'code.py']);
  });

  it('refuses a model file on the drive that is a link', async () => {
    const drive = makeDrive();
    const elsewhere = outside();
    symlinkSync(elsewhere.file, join(drive, 'model.bin'));
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.match(error.message, /CIRCUITPY\/model\.bin' is a symbolic link/);
    assert.equal(readFileSync(elsewhere.file, 'utf8'), SECRET);
  });

  it('never follows a link planted at a temporary\'s name', async () => {
    const drive = makeDrive();
    const elsewhere = outside();
    // Left from "a crash": removed (the link, not its target) before writing.
    symlinkSync(elsewhere.file, join(drive, '.model.bin.cpml-tmp'));
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    await executeDeploy(plan);
    assert.equal(readFileSync(elsewhere.file, 'utf8'), SECRET);
    assert.deepEqual(temporaries(drive), []);

    // Planted while the deploy runs: the exclusive create refuses it.
    const again = makeDrive();
    const planAgain = await planDeploy({ model: EXAMPLE_ONNX, drive: again });
    const fs = faultyFileSystem({ beforeWrite: (n) => { if (n === 2) symlinkSync(elsewhere.file, join(again, '.code.py.cpml-tmp')); } });
    const error = await refusal(executeDeploy(planAgain, { fs }));
    assert.equal(error.reason, 'changed');
    assert.match(error.message, /^something else on the drive has the name of deploy's temporary file '\.code\.py\.cpml-tmp'; it was left alone: nothing on the drive was changed$/);
    assert.equal(readFileSync(elsewhere.file, 'utf8'), SECRET);
  });
});
