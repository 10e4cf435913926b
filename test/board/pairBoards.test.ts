import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CircuitPyDrive } from '../../src/core/board/findDrives.js';
import { boardSummary, chooseBoard, pairBoards, type SerialPortInfo } from '../../src/core/board/pairBoards.js';

const drive = (path: string, uid?: string, name = 'Raspberry Pi Pico'): CircuitPyDrive => ({
  path, label: path.split('/').pop()!, boot: { version: '9.2.1', boardName: name, uid },
});
const port = (path: string, serialNumber?: string, productId = '80f4', extra: Partial<SerialPortInfo> = {}): SerialPortInfo => ({
  path, vendorId: '239a', productId, serialNumber, ...extra,
});

describe('pairing ports and drives', () => {
  it('pairs by UID = serial number, with several boards', () => {
    const boards = pairBoards(
      [port('/dev/ttyACM1', 'BBBB'), port('/dev/ttyACM0', 'aaaa'), { path: '/dev/ttyS0' }],
      [drive('/media/u/CIRCUITPY', 'AAAA'), drive('/media/u/CIRCUITPY1', 'BBBB', 'Raspberry Pi Pico W')],
    );
    assert.equal(boards.length, 2);
    const a = boards.find((b) => b.uid === 'AAAA')!;
    const b = boards.find((b) => b.uid === 'BBBB')!;
    assert.equal(a.port?.path, '/dev/ttyACM0');
    assert.equal(a.drive?.path, '/media/u/CIRCUITPY');
    assert.equal(b.drive?.path, '/media/u/CIRCUITPY1');
    assert.equal(b.name, 'Raspberry Pi Pico W');
    assert.equal(boardSummary(a), 'Pico · CP 9.2.1 · CIRCUITPY');
  });

  it('takes the first CDC interface as the console when usb_cdc.data adds a second port', () => {
    const [board] = pairBoards([port('/dev/cu.usbmodem1103', 'AAAA'), port('/dev/cu.usbmodem1101', 'AAAA')], []);
    assert.equal(board.port?.path, '/dev/cu.usbmodem1101');
    const [win] = pairBoards([
      port('COM10', 'AAAA', '80f4', { pnpId: 'USB\\VID_239A&PID_80F4&MI_02\\7&1' }),
      port('COM9', 'AAAA', '80f4', { pnpId: 'USB\\VID_239A&PID_80F4&MI_00\\7&2' }),
    ], []);
    assert.equal(win.port?.path, 'COM9');
  });

  it('pairs a lone port without serial number with a lone drive', () => {
    const boards = pairBoards([port('/dev/ttyACM0')], [drive('/Volumes/CIRCUITPY', 'E660')]);
    assert.equal(boards.length, 1);
    assert.equal(boards[0].drive?.path, '/Volumes/CIRCUITPY');
    assert.equal(boards[0].key, 'E660');
  });

  it('keeps drives without a port and ports without a drive as boards of their own', () => {
    const boards = pairBoards([port('/dev/ttyACM0', 'AAAA'), port('/dev/ttyACM1', undefined, '0005', { vendorId: '2e8a' })], [drive('/media/x/CIRCUITPY', 'CCCC')]);
    assert.deepEqual(boards.map((b) => [b.key, b.kind, Boolean(b.port), Boolean(b.drive)]), [
      ['AAAA', 'circuitpython', true, false],
      ['/dev/ttyACM1', 'micropython', true, false],
      ['CCCC', 'circuitpython', false, true],
    ]);
  });
});

describe('choosing the board commands act on', () => {
  const a = pairBoards([port('/dev/ttyACM0', 'AAAA')], [drive('/media/u/CIRCUITPY', 'AAAA')])[0];
  const b = pairBoards([port('/dev/ttyACM1', 'BBBB')], [])[0];
  const mp = pairBoards([port('/dev/ttyACM2', undefined, '0005', { vendorId: '2e8a' })], [])[0];

  it('takes the only CircuitPython board, ignoring MicroPython ones', () => {
    assert.equal(chooseBoard([a, mp], undefined), a);
  });

  it('takes the remembered choice among several, and asks (none) without one', () => {
    assert.equal(chooseBoard([a, b], 'BBBB'), b);
    assert.equal(chooseBoard([a, b], undefined), undefined);
    assert.equal(chooseBoard([a, b], 'gone'), undefined);
  });

  it('falls back to the only board when the remembered one is unplugged', () => {
    assert.equal(chooseBoard([a], 'BBBB'), a);
    assert.equal(chooseBoard([], 'AAAA'), undefined);
  });
});

describe('boards in BOOTSEL mode', () => {
  it('are boards of their own, named by chip, with the bootloader drive', () => {
    const boards = pairBoards([], [], [], [{ path: '/media/u/RPI-RP2', label: 'RPI-RP2', boardId: 'RPI-RP2', chip: 'rp2040' }]);
    assert.deepEqual(boards.map((b) => [b.kind, b.name, b.bootloaderDrive?.path]), [['bootloader', 'RP2040 in BOOTSEL mode', '/media/u/RPI-RP2']]);
  });
});
