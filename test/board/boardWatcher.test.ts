import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BoardWatcher } from '../../src/core/board/boardWatcher.js';
import { listLinuxSysfsPorts } from '../../src/core/board/listPorts.js';
import type { Board, SerialPortInfo } from '../../src/core/board/pairBoards.js';

const BOOT = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n';

function nextChange(watcher: BoardWatcher): Promise<Board[]> {
  return new Promise((resolve) => watcher.once('change', resolve));
}

describe('BoardWatcher', () => {
  it('notices a board appearing, its drive mounting, and the board going away', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cpml-watch-'));
    const drive = join(root, 'CIRCUITPY');
    let ports: SerialPortInfo[] = [];
    const watcher = new BoardWatcher({ ports: { list: async () => ports }, mountPoints: async () => [drive], pollMs: 60_000, watchDir: null });
    try {
      watcher.start();
      await watcher.refresh();
      assert.deepEqual(watcher.boards, []);

      ports = [{ path: '/dev/ttyACM0', vendorId: '239A', productId: '80F4', serialNumber: 'E66038B7137F6F2A' }];
      const plugged = nextChange(watcher);
      void watcher.refresh();
      const [board] = await plugged;
      assert.equal(board.port?.path, '/dev/ttyACM0');
      assert.equal(board.drive, undefined);

      mkdirSync(drive);
      writeFileSync(join(drive, 'boot_out.txt'), BOOT);
      const mounted = nextChange(watcher);
      void watcher.refresh();
      assert.equal((await mounted)[0].drive?.path, drive);

      let changes = 0;
      watcher.on('change', () => changes++);
      await watcher.refresh();
      assert.equal(changes, 0, 'no event when nothing changed');

      ports = [];
      rmSync(drive, { recursive: true });
      const unplugged = nextChange(watcher);
      void watcher.refresh();
      assert.deepEqual(await unplugged, []);
    } finally {
      watcher.dispose();
    }
  });

  it('uses the port and drive settings instead of discovery', async () => {
    const drive = join(mkdtempSync(join(tmpdir(), 'cpml-watch-')), 'PICO');
    mkdirSync(drive);
    writeFileSync(join(drive, 'boot_out.txt'), BOOT);
    const watcher = new BoardWatcher({ ports: { list: async () => { throw new Error('not used'); } }, overridePort: '/tmp/virtual-pico', overrideDrive: drive, watchDir: null });
    try {
      const [board] = await watcher.refresh();
      assert.equal(board.port?.path, '/tmp/virtual-pico');
      assert.equal(board.drive?.label, 'PICO');
      assert.equal(board.uid, 'E66038B7137F6F2A');
    } finally {
      watcher.dispose();
    }
  });

  it('finds a board by its drive when the ports cannot be listed (serialport missing), and reports why', async () => {
    const drive = join(mkdtempSync(join(tmpdir(), 'cpml-watch-')), 'CIRCUITPY');
    mkdirSync(drive);
    writeFileSync(join(drive, 'boot_out.txt'), BOOT);
    const watcher = new BoardWatcher({ ports: { list: async () => { throw new Error('serialport could not be loaded'); } }, mountPoints: async () => [drive], watchDir: null });
    const errors: string[] = [];
    watcher.on('error', (e) => errors.push(e.message));
    try {
      const [board] = await watcher.refresh();
      assert.equal(board?.drive?.path, drive);
      assert.equal(board.port, undefined);
      assert.deepEqual(errors, ['serialport could not be loaded']);
    } finally {
      watcher.dispose();
    }
  });

  it('survives a failing port lister and reports it', async () => {
    const watcher = new BoardWatcher({ ports: { list: async () => { throw new Error('udevadm missing'); } }, watchDir: null });
    const errors: string[] = [];
    watcher.on('error', (e) => errors.push(e.message));
    await watcher.refresh();
    watcher.dispose();
    assert.deepEqual(errors, ['udevadm missing']);
  });
});

describe('Linux port listing from sysfs', () => {
  it('reads USB IDs, serial number and interface number of ttyACM ports', () => {
    const sys = mkdtempSync(join(tmpdir(), 'cpml-sys-'));
    const usb = join(sys, 'devices', 'pci0000:00', 'usb1', '1-1');
    for (const [iface, tty] of [['1-1:1.0', 'ttyACM0'], ['1-1:1.2', 'ttyACM1']]) {
      mkdirSync(join(usb, iface), { recursive: true });
      writeFileSync(join(usb, iface, 'bInterfaceNumber'), iface.endsWith('0') ? '00\n' : '02\n');
      mkdirSync(join(sys, 'class', 'tty', tty), { recursive: true });
      symlinkSync(join(usb, iface), join(sys, 'class', 'tty', tty, 'device'));
    }
    writeFileSync(join(usb, 'idVendor'), '239a\n');
    writeFileSync(join(usb, 'idProduct'), '80f4\n');
    writeFileSync(join(usb, 'serial'), 'E66038B7137F6F2A\n');
    writeFileSync(join(usb, 'manufacturer'), 'Raspberry Pi\n');
    mkdirSync(join(sys, 'class', 'tty', 'tty0'), { recursive: true }); // a virtual console: ignored
    const ports = listLinuxSysfsPorts(sys, '/dev').sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(ports.map((p) => [p.path, p.vendorId, p.productId, p.serialNumber, p.manufacturer, p.pnpId]), [
      ['/dev/ttyACM0', '239a', '80f4', 'E66038B7137F6F2A', 'Raspberry Pi', 'usb-1-1-MI_00'],
      ['/dev/ttyACM1', '239a', '80f4', 'E66038B7137F6F2A', 'Raspberry Pi', 'usb-1-1-MI_02'],
    ]);
  });
});
