// The folder that plays CIRCUITPY: boot_out.txt as the firmware writes it, and what a VM copies.
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseBootOut } from '../../src/core/board/bootOut.js';
import { CpmlError } from '../../src/core/errors.js';
import { checkDriveFolder, driveUid, MAX_DRIVE_BYTES, readDriveFile, readDriveFiles, writeBootOut } from '../../src/sim/virtualDrive.js';

const root = mkdtempSync(join(tmpdir(), 'cpml-sim-drive-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('virtual drive', () => {
  it('writes boot_out.txt with a UID that is stable for a folder and differs between folders', () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    const uid = writeBootOut(a);
    assert.equal(uid, driveUid(a));
    assert.notEqual(uid, driveUid(b));
    const boot = parseBootOut(readFileSync(join(a, 'boot_out.txt'), 'utf8'));
    assert.deepEqual(boot, { version: '9.2.1', date: '2024-11-20', boardName: 'Raspberry Pi Pico', chip: 'rp2040', boardId: 'raspberry_pi_pico', uid });
  });

  it('leaves an up-to-date boot_out.txt alone (rewriting it would trigger an auto-reload)', async () => {
    const a = join(root, 'same');
    mkdirSync(a);
    writeBootOut(a);
    const before = statSync(join(a, 'boot_out.txt')).mtimeMs;
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeBootOut(a);
    assert.equal(statSync(join(a, 'boot_out.txt')).mtimeMs, before);
  });

  it('lists folders before their files, and refuses a folder far larger than a Pico\'s drive', () => {
    const d = join(root, 'tree');
    mkdirSync(join(d, 'lib', 'pkg'), { recursive: true });
    writeFileSync(join(d, 'code.py'), 'print(1)\n');
    writeFileSync(join(d, 'lib', 'pkg', 'm.py'), 'x = 1\n');
    assert.deepEqual(readDriveFiles(d).map((e) => [e.path, e.data ? e.data.length : 'dir']), [['code.py', 9], ['lib', 'dir'], ['lib/pkg', 'dir'], ['lib/pkg/m.py', 6]]);
    writeFileSync(join(d, 'huge.bin'), Buffer.alloc(MAX_DRIVE_BYTES + 1));
    assert.throws(() => readDriveFiles(d), (e: unknown) => e instanceof CpmlError && /holds more than 16 MB; a Pico's CIRCUITPY drive holds about 1 MB/.test(e.message));
  });
});

describe('virtual drive: what a program may see', () => {
  it('reads a listed file only if it is still that file: a name swapped for a link to a host file is not read', () => {
    const drive = join(root, 'swap-once');
    mkdirSync(drive);
    const secret = join(root, 'host-secret-2.txt');
    writeFileSync(secret, 'HOST-SECRET');
    const name = join(drive, 'code.py');
    writeFileSync(name, 'print(1)\n');
    const seen = lstatSync(name, { bigint: true });
    const real = realpathSync(drive);
    assert.equal(Buffer.from(readDriveFile(real, name, seen, 1 << 20)!).toString(), 'print(1)\n');
    // Swapped between the listing's look and the read: a link to the secret …
    symlinkSync(secret, join(drive, 'link.tmp'));
    renameSync(join(drive, 'link.tmp'), name);
    assert.equal(readDriveFile(real, name, seen, 1 << 20), undefined);
    rmSync(name);
    writeFileSync(name, 'print(1)\n');
    // … or another file moved in (its identity differs).
    writeFileSync(join(drive, 'other.py'), 'other');
    renameSync(join(drive, 'other.py'), name);
    assert.notEqual(lstatSync(name, { bigint: true }).ino, seen.ino);
    assert.equal(readDriveFile(real, name, seen, 1 << 20), undefined);
    // A file outside the drive, even when it is the very file that was looked at.
    const outsideSeen = lstatSync(secret, { bigint: true });
    assert.equal(readDriveFile(real, secret, outsideSeen, 1 << 20), undefined);
  });

  it('refuses the folders right under / and the folders drives are mounted in as a drive', () => {
    for (const folder of ['/mnt', '/media', '/srv', '/opt', '/lost+found'].filter((f) => existsSync(f))) {
      assert.throws(() => checkDriveFolder(folder), (e: unknown) => e instanceof CpmlError && /is a system or home folder, not a drive/.test(e.message), folder);
    }
  });
});
