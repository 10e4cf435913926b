// The drive lister: drivelist for real where its native binding loads (Linux in CI, where it is
// built at install), and the native-free fallback of the mount table and the usual folders.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { fallbackPlaces, loadDriveLister } from '../../src/core/board/driveLister.js';
import { candidateDriveFolders, parseProcMounts, realFileSystem } from '../../src/core/board/mountTable.js';

function drivelistLoadError(): string | undefined {
  try {
    createRequire(__filename)('drivelist');
    return undefined;
  } catch (error) {
    return `drivelist does not load here (${(error as Error).message.split('\n')[0]}): the fallback is tested below`;
  }
}

describe('drive lister', () => {
  const notLoaded = drivelistLoadError();

  it('runs drivelist where its binding loads, and lists the mounted block devices (/ among them on Linux)', { skip: notLoaded }, async (t) => {
    const lister = loadDriveLister();
    assert.equal(lister.kind, 'drivelist');
    assert.equal(lister.description, `with drivelist and in ${fallbackPlaces(process.platform)}`);
    const mountPoints = await lister.mountPoints();
    t.diagnostic(`drivelist mount points: ${mountPoints.join(', ')}`);
    for (const path of mountPoints) assert.ok(statSync(path).isDirectory(), `${path} is a folder`);
    if (process.platform === 'linux') {
      // lsblk sees the mounts of block devices: the root file system when it is one (not in a container's overlay).
      const root = parseProcMounts(readFileSync('/proc/mounts', 'utf8')).find((m) => m.mountPoint === '/');
      if (root?.device.startsWith('/dev/')) assert.ok(mountPoints.includes('/'), `'/' (${root.device}) is among ${mountPoints.join(', ')}`);
    }
  });

  it('falls back to the mount table and the usual folders when drivelist is not installed, and says so', async () => {
    const lister = loadDriveLister(() => {
      throw Object.assign(new Error("Cannot find module 'drivelist'\nRequire stack:\n- /x/dist/extension.js"), { code: 'MODULE_NOT_FOUND' });
    });
    assert.equal(lister.kind, 'mount-table');
    assert.equal(lister.description, `in ${fallbackPlaces(process.platform)} (drivelist is not installed)`);
    assert.deepEqual(await lister.mountPoints(), candidateDriveFolders(realFileSystem()));
  });

  it('falls back when the binding does not load, or the module is not drivelist, naming the reason', () => {
    const broken = loadDriveLister(() => { throw new Error('Could not locate the bindings file. Tried:\n → /x/build/drivelist.node'); });
    assert.equal(broken.kind, 'mount-table');
    assert.match(broken.description, /\(drivelist could not be loaded: Could not locate the bindings file\. Tried:\)$/);
    const odd = loadDriveLister(() => ({}));
    assert.equal(odd.kind, 'mount-table');
    assert.match(odd.description, /\(the drivelist module has no list\(\)\)$/);
  });

  it('names the places the fallback looks on each platform', () => {
    assert.equal(fallbackPlaces('linux'), '/proc/mounts, /media, /run/media and /mnt/chromeos/removable');
    assert.equal(fallbackPlaces('darwin'), '/Volumes');
    assert.equal(fallbackPlaces('win32'), 'the drive letters D: to Z:');
  });
});
