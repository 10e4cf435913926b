// Opening something that is not a serial port: a regular file, a folder, a FIFO, /dev/null. Each
// gets "PATH is not a serial port (it is …)" with the fix, once, without retrying; a real
// pseudo-terminal still opens. Real files and devices throughout.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkPortPath, openSerialPort } from '../../src/core/serial/portOpener.js';
import { describeSerialError, NotASerialPortError, type SerialError } from '../../src/core/serial/serialErrors.js';
import { SerialSession } from '../../src/core/serial/serialSession.js';
import { nextEvent, PtyPair, socatMissing } from './ptyPair.js';

const unix = process.platform !== 'win32' ? false : 'device files are a Linux and macOS matter';

/** The first error a session on `path` reports, and the states it went through. */
async function firstError(path: string): Promise<{ error: SerialError; states: string[] }> {
  let attempts = 0;
  const session = new SerialSession({ path, retryDelayMs: { initial: 5, max: 5 }, openPort: (o, l) => { attempts++; return openSerialPort(o, l); } });
  const states: string[] = [];
  session.on('state', (state) => states.push(state));
  const seen = nextEvent<[SerialError]>(session, 'error');
  session.start();
  const [error] = await seen;
  await new Promise((resolve) => setTimeout(resolve, 50)); // ten retry delays: none may come
  await session.dispose();
  assert.equal(attempts, 1, 'not retried: trying again cannot help');
  return { error, states };
}

describe('opening what is not a serial port', { skip: unix }, () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'cpml-notaport-')); });

  it('refuses a regular file before opening it, and leaves it as it was', async () => {
    const file = join(dir, 'ttyACM0.txt');
    writeFileSync(file, 'hello\n');
    const { error, states } = await firstError(file);
    assert.ok(error instanceof NotASerialPortError);
    assert.equal(error.kind, 'not-a-port');
    assert.equal(error.message, `'${file}' is not a serial port (it is a regular file)`);
    assert.match(error.userMessage, /\. Choose the board's console port \(e\.g\. \/dev\/ttyACM0 on Linux.*or leave the port out \(cpml monitor without --port, an empty cpml\.board\.port setting\)/);
    assert.doesNotMatch(error.userMessage, /ioctl|baud/);
    assert.deepEqual(states, ['connecting', 'disconnected', 'closed']);
    assert.equal(readFileSync(file, 'utf8'), 'hello\n');
  });

  it('refuses a folder and a FIFO (whose open would wait for a writer)', async () => {
    await assert.rejects(checkPortPath(dir), (e: unknown) => e instanceof NotASerialPortError && e.message === `'${dir}' is not a serial port (it is a folder)`);
    const fifo = join(dir, 'fifo');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      const { error } = await firstError(fifo);
      assert.equal(error.message, `'${fifo}' is not a serial port (it is a FIFO (named pipe))`);
    }
  });

  it('says /dev/null is a character device that is not a terminal (not "Inappropriate ioctl … baud rate")', async () => {
    // (/dev/zero where /dev/null is not the device, as in some sandboxes.)
    const device = ['/dev/null', '/dev/zero'].find((p) => statSync(p).isCharacterDevice())!;
    const { error } = await firstError(device);
    assert.ok(error instanceof NotASerialPortError);
    assert.equal(error.message, `'${device}' is not a serial port (it is a character device that is not a terminal)`);
    // serialport's own words, recognised when they come from elsewhere too.
    const described = describeSerialError(new Error('Error: Inappropriate ioctl for device setting custom baud rate of 115200'), '/dev/zero');
    assert.equal(described.kind, 'not-a-port');
  });

  it('keeps "no such port" for a path that does not exist', async () => {
    await checkPortPath(join(dir, 'missing'));
    const session = new SerialSession({ path: join(dir, 'missing'), reconnect: false });
    const seen = nextEvent<[SerialError]>(session, 'error');
    session.start();
    const [error] = await seen;
    await session.dispose();
    assert.equal(error.kind, 'not-found');
    assert.equal(error.message, `no such port ${join(dir, 'missing')}`);
  });
});

describe('opening a real pseudo-terminal', { skip: socatMissing() }, () => {
  let pair: PtyPair;
  before(async () => { pair = await PtyPair.create(); });
  after(async () => { await pair?.dispose(); });

  it('passes the check (a character device that is a terminal) and opens', async () => {
    assert.ok(existsSync(pair.host));
    await checkPortPath(pair.host);
    const port = await openSerialPort({ path: pair.host, baudRate: 115200 }, { data: () => undefined, closed: () => undefined });
    await port.close();
  });
});
