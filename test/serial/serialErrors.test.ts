import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpmlError } from '../../src/core/errors.js';
import { describeSerialError, isDisconnectError, NotConnectedError, SerialError, SerialPortUnavailableError } from '../../src/core/serial/serialErrors.js';

const errno = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('describeSerialError', () => {
  it('tells a Linux user without access to join the dialout group (uucp on Arch)', () => {
    const e = describeSerialError(new Error('Error: Permission denied, cannot open /dev/ttyACM0'), '/dev/ttyACM0', 'linux');
    assert.ok(e instanceof SerialError && e instanceof CpmlError);
    assert.equal(e.kind, 'permission');
    assert.equal(e.path, '/dev/ttyACM0');
    assert.match(e.userMessage, /^permission denied opening \/dev\/ttyACM0\. Add yourself to the dialout group: sudo usermod -aG dialout \$USER, then log out and in again/);
    assert.match(e.userMessage, /Arch.*uucp/);
    assert.equal(describeSerialError(errno('open failed', 'EACCES'), '/dev/ttyACM1', 'linux').kind, 'permission');
  });

  it('does not send macOS users to a dialout group', () => {
    const e = describeSerialError(new Error('Error: Permission denied, cannot open /dev/cu.usbmodem1101'), '/dev/cu.usbmodem1101', 'darwin');
    assert.equal(e.kind, 'permission');
    assert.doesNotMatch(e.userMessage, /dialout/);
  });

  it('names the usual suspects when another program holds the port', () => {
    for (const [raw, platform] of [
      [new Error('Error Resource temporarily unavailable Cannot lock port'), 'linux'],
      [errno('busy', 'EBUSY'), 'linux'],
      [new Error('Error: Resource busy, cannot open /dev/cu.usbmodem1'), 'darwin'],
      [new Error('Opening COM5: Access denied'), 'win32'],
    ] as const) {
      const e = describeSerialError(raw, 'P', platform);
      assert.equal(e.kind, 'busy', raw.message);
      assert.equal(e.userMessage, 'P is in use by another program (a serial terminal, Thonny, Mu, another VS Code window?). Close it and try again');
    }
  });

  it('says "no such port" for a missing device', () => {
    for (const raw of [new Error('Error: No such file or directory, cannot open /dev/ttyACM9'), errno('x', 'ENOENT'), new Error('Opening COM9: File not found')]) {
      const e = describeSerialError(raw, '/dev/ttyACM9');
      assert.equal(e.kind, 'not-found');
      assert.match(e.message, /^no such port \/dev\/ttyACM9$/);
    }
  });

  it('recognises an unplug and keeps other errors readable', () => {
    const unplug = Object.assign(new Error('bad file descriptor'), { disconnected: true });
    assert.ok(isDisconnectError(unplug));
    assert.equal(describeSerialError(unplug, '/dev/ttyACM0').kind, 'disconnected');
    const odd = describeSerialError(new Error('Error: Invalid argument, cannot set'), '/dev/ttyACM0');
    assert.equal(odd.kind, 'other');
    assert.equal(odd.message, 'serial port /dev/ttyACM0: Invalid argument, cannot set');
    assert.equal(describeSerialError('weird', 'X').message, 'serial port X: weird');
  });

  it('passes described errors through and explains a missing serialport', () => {
    const already = new NotConnectedError('/dev/ttyACM0', 'reconnecting');
    assert.equal(describeSerialError(already, 'other'), already);
    assert.equal(already.message, 'not connected to /dev/ttyACM0 (reconnecting)');
    const missing = new SerialPortUnavailableError(new Error("Cannot find module 'serialport'\nRequire stack: …"));
    assert.equal(missing.kind, 'unavailable');
    assert.match(missing.userMessage, /serialport\) could not be loaded on this machine: Cannot find module 'serialport'\. Converting and checking models still works/);
  });
});
