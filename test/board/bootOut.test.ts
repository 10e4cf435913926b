import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBootOut } from '../../src/core/board/bootOut.js';

describe('boot_out.txt', () => {
  it('reads a Pico\'s', () => {
    const text = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n';
    assert.deepEqual(parseBootOut(text), {
      version: '9.2.1', date: '2024-11-20', boardName: 'Raspberry Pi Pico', chip: 'rp2040', boardId: 'raspberry_pi_pico', uid: 'E66038B7137F6F2A',
    });
  });

  it('reads a Pico W with a MAC line, CRLF endings and boot.py output', () => {
    const text = 'Adafruit CircuitPython 9.0.0-beta.2 on 2024-02-20; Raspberry Pi Pico W with rp2040\r\nBoard ID:raspberry_pi_pico_w\r\nUID:e6614c311b4a9b2d\r\nMAC:28:CD:C1:09:0D:E2\r\nboot.py output:\r\nUID:NOT-THIS\r\n';
    const info = parseBootOut(text)!;
    assert.equal(info.version, '9.0.0-beta.2');
    assert.equal(info.boardName, 'Raspberry Pi Pico W');
    assert.equal(info.uid, 'E6614C311B4A9B2D');
    assert.equal(info.mac, '28:CD:C1:09:0D:E2');
  });

  it('reads a Pico 2 (rp2350) and an 8.x file without UID', () => {
    assert.equal(parseBootOut('Adafruit CircuitPython 9.2.4 on 2025-01-29; Raspberry Pi Pico 2 with rp2350a\nBoard ID:raspberry_pi_pico2\nUID:3B1C2E58A1D36E7F\n')?.chip, 'rp2350a');
    const old = parseBootOut('Adafruit CircuitPython 8.2.10 on 2024-02-14; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\n')!;
    assert.equal(old.version, '8.2.10');
    assert.equal(old.uid, undefined);
  });

  it('rejects files that are not CircuitPython\'s', () => {
    assert.equal(parseBootOut(''), undefined);
    assert.equal(parseBootOut('UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n'), undefined);
    assert.equal(parseBootOut('hello world'), undefined);
  });
});
