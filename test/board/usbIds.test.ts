import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatUsbId, identifyUsbDevice, parseHexId, parseIdPairs } from '../../src/core/board/usbIds.js';

describe('USB identity', () => {
  it('recognises the Pico family running CircuitPython, whatever the hex case', () => {
    assert.deepEqual(identifyUsbDevice('239a', '80f4'), { kind: 'circuitpython', name: 'Raspberry Pi Pico' });
    assert.deepEqual(identifyUsbDevice('239A', '80F4'), { kind: 'circuitpython', name: 'Raspberry Pi Pico' });
    assert.deepEqual(identifyUsbDevice('0x239A', '0x8120'), { kind: 'circuitpython', name: 'Raspberry Pi Pico W' });
    assert.equal(identifyUsbDevice('2E8A', '000B')?.name, 'Raspberry Pi Pico 2');
    assert.equal(identifyUsbDevice('239a', '8162')?.name, 'Raspberry Pi Pico 2 W');
  });

  it('recognises bootloaders and MicroPython as such', () => {
    assert.equal(identifyUsbDevice('2e8a', '0003')?.kind, 'bootloader');
    assert.equal(identifyUsbDevice('2e8a', '000f')?.kind, 'bootloader');
    assert.equal(identifyUsbDevice('2e8a', '0005')?.kind, 'micropython');
  });

  it('takes any Adafruit VID as CircuitPython, and extra pairs from settings', () => {
    assert.deepEqual(identifyUsbDevice('239a', '1234'), { kind: 'circuitpython', name: 'CircuitPython board' });
    assert.equal(identifyUsbDevice('1209', 'abcd'), undefined);
    assert.equal(identifyUsbDevice('1209', 'ABCD', [{ vid: 0x1209, pid: 0xabcd }])?.kind, 'circuitpython');
    assert.equal(identifyUsbDevice(undefined, '80f4'), undefined);
  });

  it('parses IDs and the extra-pairs setting, reporting bad entries', () => {
    assert.equal(parseHexId('  0x2E8A '), 0x2e8a);
    assert.equal(parseHexId('xyz'), undefined);
    assert.equal(parseHexId('12345'), undefined);
    assert.deepEqual(parseIdPairs(['1209:ABCD', '0x2e8a:0x1000', 'nonsense', '1:2:3']), {
      pairs: [{ vid: 0x1209, pid: 0xabcd }, { vid: 0x2e8a, pid: 0x1000 }],
      invalid: ['nonsense', '1:2:3'],
    });
    assert.equal(formatUsbId(0x239a, 0x80f4), '239a:80f4');
  });
});
