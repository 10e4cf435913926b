import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { findBootloaderDrives, findCircuitPyDrives, readDrive } from '../../src/core/board/findDrives.js';
import { candidateDriveFolders, parseMacMountOutput, parseProcMounts, realFileSystem, type FileSystemView } from '../../src/core/board/mountTable.js';

const BOOT = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n';

/** A pretend file system for other operating systems' layouts. */
function fakeFs(platform: NodeJS.Platform, files: Record<string, string>, dirs: Record<string, string[]>): FileSystemView {
  return {
    platform,
    readText: (p) => files[p],
    listDirectories: (p) => dirs[p] ?? [],
    exists: (p) => p in dirs || p in files,
  };
}

describe('mount tables', () => {
  it('parses /proc/mounts with escaped spaces', () => {
    const text = 'sysfs /sys sysfs rw 0 0\n/dev/sdb1 /media/ann/CIRCUITPY vfat rw,nosuid 0 0\n/dev/sdc1 /media/ann/MY\\040DRIVE vfat rw 0 0\n';
    assert.deepEqual(parseProcMounts(text).slice(1), [
      { device: '/dev/sdb1', mountPoint: '/media/ann/CIRCUITPY', fsType: 'vfat' },
      { device: '/dev/sdc1', mountPoint: '/media/ann/MY DRIVE', fsType: 'vfat' },
    ]);
  });

  it('parses macOS mount output', () => {
    const text = '/dev/disk3s1s1 on / (apfs, sealed, local, read-only, journaled)\n/dev/disk4s1 on /Volumes/CIRCUITPY (msdos, local, nodev, nosuid, noowners)\n';
    assert.deepEqual(parseMacMountOutput(text)[1], { device: '/dev/disk4s1', mountPoint: '/Volumes/CIRCUITPY', fsType: 'msdos' });
  });

  it('lists Linux candidates from FAT mounts, /media and /run/media', () => {
    const fs = fakeFs('linux', { '/proc/mounts': '/dev/sda1 / ext4 rw 0 0\n/dev/sdb1 /mnt/pico vfat rw 0 0\n' },
      { '/media': ['/media/ann'], '/media/ann': ['/media/ann/CIRCUITPY'], '/run/media': ['/run/media/bob'], '/run/media/bob': ['/run/media/bob/CIRCUITPY1'] });
    assert.deepEqual(candidateDriveFolders(fs).sort(), ['/media/ann', '/media/ann/CIRCUITPY', '/mnt/pico', '/run/media/bob', '/run/media/bob/CIRCUITPY1']);
  });

  it('lists /Volumes on macOS and drive letters on Windows', () => {
    assert.deepEqual(candidateDriveFolders(fakeFs('darwin', {}, { '/Volumes': ['/Volumes/Macintosh HD', '/Volumes/CIRCUITPY'] })), ['/Volumes/Macintosh HD', '/Volumes/CIRCUITPY']);
    assert.deepEqual(candidateDriveFolders(fakeFs('win32', {}, { 'E:\\': [], 'G:\\': [] })), ['E:\\', 'G:\\']);
  });

  it('keeps only folders with a CircuitPython boot_out.txt', () => {
    const fs = fakeFs('darwin', { '/Volumes/CIRCUITPY/boot_out.txt': BOOT, '/Volumes/USB/boot_out.txt': 'not ours' },
      { '/Volumes': ['/Volumes/CIRCUITPY', '/Volumes/USB', '/Volumes/Empty'] });
    const drives = findCircuitPyDrives([], fs);
    assert.equal(drives.length, 1);
    assert.equal(drives[0].label, 'CIRCUITPY');
    assert.equal(drives[0].boot.uid, 'E66038B7137F6F2A');
  });

  it('reads a real folder given as a mount point (e.g. from drivelist or a setting), once', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'cpml-drive-')), 'PICO');
    mkdirSync(dir);
    writeFileSync(join(dir, 'boot_out.txt'), BOOT);
    assert.equal(readDrive(dir)?.label, 'PICO');
    const drives = findCircuitPyDrives([dir, dir], realFileSystem('aix'));
    assert.deepEqual(drives.map((d) => d.path), [dir]);
  });
});

describe('BOOTSEL drives', () => {
  it('recognises the RP2040 and RP2350 bootloader drives by INFO_UF2.TXT', () => {
    const fs = fakeFs('darwin', {
      '/Volumes/RPI-RP2/INFO_UF2.TXT': 'UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n',
      '/Volumes/RP2350/INFO_UF2.TXT': 'UF2 Bootloader v1.0\nModel: Raspberry Pi RP2350\nBoard-ID: RP2350\n',
      '/Volumes/CIRCUITPY/boot_out.txt': BOOT,
    }, { '/Volumes': ['/Volumes/RPI-RP2', '/Volumes/RP2350', '/Volumes/CIRCUITPY'] });
    assert.deepEqual(findBootloaderDrives([], fs).map((d) => [d.label, d.boardId, d.chip]), [
      ['RPI-RP2', 'RPI-RP2', 'rp2040'], ['RP2350', 'RP2350', 'rp2350'],
    ]);
  });
});
