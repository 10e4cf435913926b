// The drive going away in the middle of a deploy (moved, deleted, replaced by another folder):
// the deploy stops, says so, removes its temporaries wherever the drive went, and never
// recreates the drive's path. Real folders, moved by the test between two writes.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { DeployError } from '../../src/core/deploy/deployErrors.js';
import { executeDeploy } from '../../src/core/deploy/executeDeploy.js';
import { planDeploy } from '../../src/core/deploy/planDeploy.js';
import { LOCK_FILE } from '../../src/core/deploy/driveLock.js';
import { EXAMPLE_ONNX, EXAMPLE_SAMPLES, faultyFileSystem, makeDrive, snapshot, tempDir, temporaries } from './deploySupport.js';

async function refusal(promise: Promise<unknown>): Promise<DeployError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DeployError, `expected a DeployError, got ${String(error)}`);
  return error;
}

/** A samples folder of `count` real samples (the example's, repeated), without previews. */
function manySamples(count: number): string {
  const samples = join(tempDir(), 'mnist_samples');
  mkdirSync(samples);
  for (let i = 0; i < count; i++) copyFileSync(join(EXAMPLE_SAMPLES, `sample_${String(i % 20).padStart(2, '0')}.bin`), join(samples, `sample_${i}.bin`));
  return samples;
}

describe('deploy: the drive goes away', () => {
  it('moved while writing: stops, says so, leaves no temporary in the moved drive, recreates nothing', async () => {
    const drive = makeDrive('print("mine")\n');
    const moved = join(dirname(drive), 'CIRCUITPY-moved');
    const before = snapshot(drive);
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    let writes = 0;
    const error = await refusal(executeDeploy(plan, {
      onProgress: (step) => {
        if (step.action === 'write' && ++writes === 10) renameSync(drive, moved);
      },
    }));
    assert.equal(error.reason, 'gone');
    assert.match(error.message, /^the drive went away during the deploy \(it is now at '.*CIRCUITPY-moved'\): nothing on the drive was changed; no temporary file of this deploy is left$/);
    assert.match(error.hint ?? '', /mounted at .*CIRCUITPY, then deploy again/);
    assert.equal(existsSync(drive), false, 'the drive\'s path is not recreated');
    assert.deepEqual(temporaries(moved), []);
    assert.deepEqual(snapshot(moved), before, 'the moved drive holds what it held: no lock, no samples folder');
  });

  it('moved where the system cannot say: found next to where it was by its identity', async () => {
    const drive = makeDrive();
    const moved = join(dirname(drive), 'elsewhere');
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    const fs = {
      ...faultyFileSystem({ beforeWrite: (n) => { if (n === 8) renameSync(drive, moved); } }),
      // As on macOS and Windows: an open folder does not tell where it went.
      trackFolder: async () => ({ currentPath: async () => undefined, close: async () => undefined }),
    };
    const error = await refusal(executeDeploy(plan, { fs }));
    assert.match(error.message, /^the drive went away during the deploy \(it is now at '.*elsewhere'\)/);
    assert.deepEqual(temporaries(moved), []);
    assert.deepEqual(readdirSync(moved).sort(), ['boot_out.txt']);
    assert.equal(existsSync(drive), false);
  });

  it('deleted while writing: stops and says so, nothing is recreated', async () => {
    const drive = makeDrive();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    const fs = faultyFileSystem({ beforeWrite: (n) => { if (n === 5) rmSync(drive, { recursive: true }); } });
    const error = await refusal(executeDeploy(plan, { fs }));
    assert.equal(error.reason, 'gone');
    assert.match(error.message, /^the drive went away during the deploy \(.*CIRCUITPY was unplugged, unmounted, moved or deleted\): nothing on the drive was changed/);
    assert.equal(existsSync(drive), false);
    assert.deepEqual(readdirSync(dirname(drive)), []);
  });

  it('replaced by another folder at the same path: nothing is written into the new folder', async () => {
    const drive = makeDrive();
    const moved = join(dirname(drive), 'the-real-drive');
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    const fs = faultyFileSystem({
      beforeWrite: (n) => {
        if (n !== 12) return;
        renameSync(drive, moved);
        mkdirSync(join(drive, 'mnist_samples'), { recursive: true });
      },
    });
    const error = await refusal(executeDeploy(plan, { fs }));
    assert.equal(error.reason, 'gone');
    assert.match(error.message, /it is now at '.*the-real-drive'/);
    assert.deepEqual(snapshot(drive).size, 0, 'the impostor got no file');
    assert.deepEqual(readdirSync(join(drive, 'mnist_samples')), []);
    assert.deepEqual(temporaries(moved), []);
    assert.ok(!existsSync(join(moved, LOCK_FILE)));
  });

  it('moved during the renames: says which files were already replaced', async () => {
    const drive = makeDrive('print("mine")\n');
    const moved = join(dirname(drive), `${basename(drive)}-2`);
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    let renames = 0;
    const error = await refusal(executeDeploy(plan, {
      onProgress: (step) => {
        if (step.action === 'rename' && ++renames === 3) renameSync(drive, moved);
      },
    }));
    assert.equal(error.reason, 'gone');
    assert.deepEqual(error.replaced, ['model.bin', 'mnist_samples/sample_00.bin', 'mnist_samples/sample_00.rgb']);
    assert.match(error.message, /: 3 files were already replaced \(model\.bin, .*\); code\.py was not, so the board still runs the previous program; no temporary file of this deploy is left$/);
    assert.deepEqual(temporaries(moved), []);
    assert.equal(existsSync(drive), false);
  });

  it('a large deploy (1000 samples) moved midway: not one more file is written, the folder it made is removed', async () => {
    const samples = manySamples(1000);
    const drive = makeDrive();
    const moved = `${drive}-moved`;
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive, samples });
    let written = 0;
    const error = await refusal(executeDeploy(plan, {
      onProgress: (step) => {
        if (step.action === 'write' && ++written === 15) renameSync(drive, moved);
      },
    }));
    assert.equal(error.reason, 'gone');
    assert.equal(written, 15, 'not one more file was written after the drive went');
    assert.deepEqual(temporaries(moved), []);
    assert.deepEqual(readdirSync(moved).sort(), ['boot_out.txt'], 'the samples folder it made is removed too');
    assert.equal(existsSync(drive), false);
  });
});
