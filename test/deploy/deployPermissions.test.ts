// Permission problems are user errors: "permission denied: PATH" and the fix, exit status 1,
// never a stack trace. Injected at the DeployFileSystem boundary (always runs), and for real:
// dist/cli.js started as uid 65534 on root's folders (when the tests run as root, as in CI).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { DeployError } from '../../src/core/deploy/deployErrors.js';
import { executeDeploy } from '../../src/core/deploy/executeDeploy.js';
import { planDeploy } from '../../src/core/deploy/planDeploy.js';
import { FileError } from '../../src/core/errors.js';
import { BOOT_OUT, copySamples, EXAMPLE_ONNX, faultyFileSystem, makeDrive, snapshot, tempDir } from './deploySupport.js';

const FIX = 'Check its permissions and those of the folders above it, or choose a path you may use';
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof FileError || error instanceof DeployError, `expected a FileError or DeployError, got ${String(error)}`);
  return error;
}

describe('deploy: permission denied (injected)', () => {
  for (const [what, code] of [['EACCES', 'EACCES'], ['EPERM', 'EPERM']] as const) {
    it(`${what} on the drive, the samples folder, a sample, a file on the drive: named, with the fix`, async () => {
      const drive = makeDrive('print("mine")\n');
      const samples = copySamples(tempDir());
      const cases: [string, string][] = [
        [drive, drive],
        [samples, samples],
        [join(samples, 'sample_03.bin'), join(samples, 'sample_03.bin')],
        [join(drive, 'code.py'), join(drive, 'code.py')],
        [join(drive, 'boot_out.txt'), join(drive, 'boot_out.txt')],
      ];
      for (const [denied, named] of cases) {
        const fs = faultyFileSystem({ failAccess: { match: (p) => p === denied, code } });
        const error = await failure(planDeploy({ model: EXAMPLE_ONNX, drive, samples, fs }));
        assert.match(error.message, new RegExp(`^permission denied: '${escape(named)}' \\(cannot read it\\)$`), denied);
        assert.equal((error as FileError).hint, FIX);
      }
    });
  }

  it('EACCES while writing: the file named, the drive as it was', async () => {
    const drive = makeDrive('print("mine")\n');
    const before = snapshot(drive);
    const plan = await planDeploy({ model: EXAMPLE_ONNX, drive });
    const fs = faultyFileSystem({ failWrite: { at: 2, code: 'EACCES' } });
    const error = await failure(executeDeploy(plan, { fs }));
    assert.match(error.message, /^permission denied: '.*CIRCUITPY\/model\.bin' \(cannot write it\): nothing on the drive was changed$/);
    assert.deepEqual(snapshot(drive), before);
  });
});

describe('cpml deploy as an ordinary user (dist/cli.js as uid 65534)', () => {
  const isRoot = process.getuid?.() === 0;
  const asNobody = { uid: 65534, gid: 65534 };
  const needsRoot = (t: TestContext): boolean => {
    if (isRoot) return true;
    t.skip('runs only as root, which can start the CLI as uid 65534 (as CI does)');
    return false;
  };
  let root: string;
  before(() => {
    if (!existsSync('dist/cli.js')) execFileSync(process.execPath, ['tools/build.mjs'], { stdio: ['ignore', 'ignore', 'inherit'] });
    root = tempDir('cpml-deploy-perm-');
    chmodSync(root, 0o755); // others may enter; what is inside decides
  });
  /** A CIRCUITPY folder uid 65534 owns. */
  const nobodysDrive = () => {
    const drive = join(root, `drive-${Math.random().toString(36).slice(2)}`);
    mkdirSync(drive);
    writeFileSync(join(drive, 'boot_out.txt'), BOOT_OUT);
    chownSync(drive, 65534, 65534);
    chownSync(join(drive, 'boot_out.txt'), 65534, 65534);
    return drive;
  };
  /** A folder of root's, closed to others. */
  const secret = () => {
    const folder = join(root, `secret-${Math.random().toString(36).slice(2)}`);
    mkdirSync(folder, { mode: 0o700 });
    return folder;
  };
  const deploy = (...args: string[]) => spawnSync(process.execPath, [resolve('dist/cli.js'), 'deploy', resolve(EXAMPLE_ONNX), ...args], { encoding: 'utf8', timeout: 30_000, ...asNobody });
  const assertUserError = (r: ReturnType<typeof deploy>, message: RegExp) => {
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.match(r.stderr, new RegExp(escape(FIX)));
    assert.doesNotMatch(r.stderr, /internal error|\n\s+at /);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, 'one paragraph');
  };

  it('--drive into a folder the user may not enter', (t) => {
    if (!needsRoot(t)) return;
    const locked = secret();
    const drive = join(locked, 'CIRCUITPY');
    mkdirSync(drive);
    writeFileSync(join(drive, 'boot_out.txt'), BOOT_OUT);
    const r = deploy('--drive', drive);
    assertUserError(r, new RegExp(`^cpml deploy: permission denied: '${escape(drive)}' \\(cannot read it\\)`));
    assert.deepEqual(readdirSync(drive), ['boot_out.txt']);
  });

  it('--drive the user may read but not write: the lock file named, nothing written', (t) => {
    if (!needsRoot(t)) return;
    const drive = makeDrive();
    chmodSync(join(drive, '..'), 0o755);
    const before = snapshot(drive);
    const r = deploy('--drive', drive);
    assertUserError(r, new RegExp(`^cpml deploy: permission denied: '${escape(drive)}/\\.cpml-deploy\\.lock' \\(cannot write it\\): nothing on the drive was changed`));
    assert.deepEqual(snapshot(drive), before);
  });

  it('--samples in a folder the user may not enter, or may enter but not list', (t) => {
    if (!needsRoot(t)) return;
    const hidden = join(secret(), 'samples');
    mkdirSync(hidden);
    assertUserError(deploy('--drive', nobodysDrive(), '--samples', hidden), new RegExp(`permission denied: '${escape(hidden)}' \\(cannot read it\\)`));
    const unlisted = copySamples(root, `unlisted-${Date.now()}`);
    chmodSync(unlisted, 0o700);
    const drive = nobodysDrive();
    assertUserError(deploy('--drive', drive, '--samples', unlisted), new RegExp(`permission denied: '${escape(unlisted)}' \\(cannot read it\\)`));
    assert.deepEqual(readdirSync(drive), ['boot_out.txt']);
  });

  it('a sample the user may not read', (t) => {
    if (!needsRoot(t)) return;
    const samples = copySamples(root, `samples-${Date.now()}`);
    chmodSync(samples, 0o755);
    chmodSync(join(samples, 'sample_04.bin'), 0o600);
    assert.equal(statSync(join(samples, 'sample_04.bin')).uid, 0);
    const r = deploy('--drive', nobodysDrive(), '--samples', samples);
    assertUserError(r, new RegExp(`permission denied: '${escape(join(samples, 'sample_04.bin'))}' \\(cannot read it\\)`));
  });
});
