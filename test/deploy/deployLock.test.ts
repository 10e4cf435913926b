// One deploy per drive at a time: the drive's lock file, stale locks, and a plan made before
// another deploy changed the drive. Real folders, real processes for the pids.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DeployError } from '../../src/core/deploy/deployErrors.js';
import { LOCK_FILE } from '../../src/core/deploy/driveLock.js';
import { executeDeploy } from '../../src/core/deploy/executeDeploy.js';
import { planDeploy, type DeployPlan } from '../../src/core/deploy/planDeploy.js';
import { alteredBlob, EXAMPLE_BLOB, EXAMPLE_ONNX, EXAMPLE_SAMPLES, faultyFileSystem, makeDrive, snapshot, tempDir, temporaries } from './deploySupport.js';

async function refusal(promise: Promise<unknown>): Promise<DeployError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof DeployError, `expected a DeployError, got ${String(error)}`);
  return error;
}

/** The drive holds exactly this plan's files (one deploy, not a mix). */
function assertHolds(drive: string, plan: DeployPlan): void {
  for (const f of plan.files) {
    if (f.role === 'backup') continue;
    assert.deepEqual(new Uint8Array(readFileSync(join(drive, ...f.path.split('/')))), f.data, f.path);
  }
}

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

const lockOf = (pid: number, host = hostname(), started = new Date().toISOString()) =>
  JSON.stringify({ pid, host, started, token: 'someone-else' }) + '\n';

describe('deploy: one deploy per drive', () => {
  it('two deploys at once in one process: one is refused with the pid, the drive holds the other', async () => {
    const drive = makeDrive();
    const other = alteredBlob(tempDir());
    const first = await planDeploy({ model: EXAMPLE_BLOB, drive, samples: EXAMPLE_SAMPLES });
    const second = await planDeploy({ model: other, drive, samples: EXAMPLE_SAMPLES });
    const [a, b] = await Promise.allSettled([executeDeploy(first), executeDeploy(second)]);
    const outcomes = [a.status, b.status].sort();
    assert.deepEqual(outcomes, ['fulfilled', 'rejected']);
    const refused = (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as DeployError;
    assert.ok(refused instanceof DeployError);
    assert.equal(refused.reason, 'busy');
    assert.match(refused.message, new RegExp(`^another deploy to this drive is running \\(pid ${process.pid}\\): nothing on the drive was changed$`));
    assert.match(refused.hint ?? '', /Wait for it to finish/);
    assertHolds(drive, a.status === 'fulfilled' ? first : second);
    assert.deepEqual(temporaries(drive), []);
    assert.equal(existsSync(join(drive, LOCK_FILE)), false, 'the lock is gone with the deploy');
  });

  it('a plan made while another deploy writes is refused with its pid, before anything is read for it', async () => {
    const drive = makeDrive();
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    let during: unknown;
    const fs = faultyFileSystem({
      beforeWrite: async (n) => {
        if (n === 3) during = await planDeploy({ model: EXAMPLE_BLOB, drive }).catch((e: unknown) => e);
      },
    });
    await executeDeploy(plan, { fs });
    assert.ok(during instanceof DeployError);
    assert.equal(during.reason, 'busy');
    assert.equal(during.message, `another deploy to this drive is running (pid ${process.pid})`);
  });

  it('a plan older than another deploy\'s changes is refused: the drive keeps the other deploy', async () => {
    const drive = makeDrive();
    const stale = await planDeploy({ model: alteredBlob(tempDir()), drive, samples: EXAMPLE_SAMPLES });
    const fresh = await planDeploy({ model: EXAMPLE_BLOB, drive, samples: EXAMPLE_SAMPLES });
    await executeDeploy(fresh);
    const before = snapshot(drive);
    const error = await refusal(executeDeploy(stale));
    assert.equal(error.reason, 'changed');
    assert.match(error.message, /^'[^']*(model\.bin|mnist_samples)' changed on the drive since the deploy was planned \(another program or deploy wrote to it\): nothing on the drive was changed$/);
    assert.deepEqual(snapshot(drive), before);
    assertHolds(drive, fresh);
  });

  it('a lock held by a live process is respected; the drive is left as it was', async () => {
    const drive = makeDrive();
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(drive, LOCK_FILE), lockOf(sleeper.pid!));
      const before = snapshot(drive);
      const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive }));
      assert.equal(error.message, `another deploy to this drive is running (pid ${sleeper.pid})`);
      assert.match(error.hint ?? '', new RegExp(`if no deploy is running, remove .*CIRCUITPY/${LOCK_FILE.replace('.', '\\.')}`));
      assert.deepEqual(snapshot(drive), before);
    } finally {
      sleeper.kill();
    }
  });

  it('a stale lock (its process ended, or unreadable and old) is taken over and removed', async () => {
    const drive = makeDrive();
    writeFileSync(join(drive, LOCK_FILE), lockOf(deadPid()));
    const { written } = await executeDeploy(await planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.equal(written.at(-1), 'code.py');
    assert.equal(existsSync(join(drive, LOCK_FILE)), false);

    writeFileSync(join(drive, LOCK_FILE), 'garbage');
    const young = await refusal(planDeploy({ model: EXAMPLE_BLOB, drive }));
    assert.match(young.message, /^another deploy to this drive is running \(pid unknown: its lock file was written moments ago\)$/);
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(join(drive, LOCK_FILE), hourAgo, hourAgo);
    const retaken = await executeDeploy(await planDeploy({ model: alteredBlob(tempDir()), drive, samples: EXAMPLE_SAMPLES }));
    assert.deepEqual(retaken.written, ['model.bin']);
    assert.equal(existsSync(join(drive, LOCK_FILE)), false);
  });

  it('a lock path that is a link (to a file outside the drive) is neither followed nor removed', async () => {
    const drive = makeDrive();
    const target = join(tempDir(), 'elsewhere.txt');
    writeFileSync(target, 'keep');
    symlinkSync(target, join(drive, LOCK_FILE));
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive, samples: EXAMPLE_SAMPLES }));
    assert.match(error.message, /the drive has a \.cpml-deploy\.lock that is a symbolic link, not a deploy's lock file/);
    assert.equal(readFileSync(target, 'utf8'), 'keep');
  });

  it('a lock from another host is trusted for an hour', async () => {
    const drive = makeDrive();
    writeFileSync(join(drive, LOCK_FILE), lockOf(deadPid(), 'other-host\u001b[2J'));
    const error = await refusal(planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.match(error.message, /\(pid \d+ on 'other-host\\x1b\[2J'\)$/);
    writeFileSync(join(drive, LOCK_FILE), lockOf(deadPid(), 'other-host', new Date(Date.now() - 2 * 3600_000).toISOString()));
    await executeDeploy(await planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.equal(existsSync(join(drive, LOCK_FILE)), false);
  });

  it('the lock is removed after a failure and after a cancel', async () => {
    const drive = makeDrive();
    const failing = faultyFileSystem({ failWrite: { at: 4, code: 'EIO' } });
    await refusal(executeDeploy(await planDeploy({ model: EXAMPLE_ONNX, drive }), { fs: failing }));
    assert.equal(existsSync(join(drive, LOCK_FILE)), false);
    let writes = 0;
    const cancelled = await refusal(executeDeploy(await planDeploy({ model: EXAMPLE_ONNX, drive }), {
      onProgress: (step) => { if (step.action === 'write') writes++; },
      isCancelled: () => writes === 3,
    }));
    assert.equal(cancelled.reason, 'cancelled');
    assert.equal(existsSync(join(drive, LOCK_FILE)), false);
  });

  it('a deploy with nothing to write does not touch the drive, not even for a lock', async () => {
    const drive = makeDrive();
    await executeDeploy(await planDeploy({ model: EXAMPLE_ONNX, drive }));
    const root = statSync(drive, { bigint: true });
    const before = snapshot(drive);
    const again = await executeDeploy(await planDeploy({ model: EXAMPLE_ONNX, drive }));
    assert.deepEqual(again.written, []);
    const after = statSync(drive, { bigint: true });
    assert.equal(after.mtimeNs, root.mtimeNs, 'no entry was created or removed in the drive\'s root');
    assert.deepEqual(snapshot(drive), before);
  });
});
