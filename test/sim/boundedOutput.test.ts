// A program's output goes out like a USB CDC port's: when nobody reads the port, the program
// waits (this computer's memory does not fill), Ctrl-C still stops it, and nothing blames the
// program for memory it did not take. When the port is read, every byte arrives, in order. And
// what is typed at a program that does not read is dropped beyond a board's buffer, not kept.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { NO_PTY, openConsole, sleep, startBoard } from './simHarness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** 50 MB of output if nothing stops it. */
const FLOOD = 's = "x" * 1000\nfor i in range(50000):\n    print(i, s)\nprint("finished")\n';

describe('virtual Pico output is bounded like a USB serial port', { skip: NO_PTY }, () => {
  it('makes a program wait while nobody reads its port, and Ctrl-C still stops it at once', async () => {
    const board = await startBoard({ 'code.py': FLOOD }, {}, cleanups);
    let printed = 0;
    board.pico.on('output', (bytes) => { printed += bytes.length; });
    await board.waitForState('running');
    const rssBefore = process.memoryUsage.rss();
    // Give it time to print far more than any buffer holds.
    await sleep(3000);
    const printedWhileBlocked = printed;
    await sleep(1000);
    assert.ok(printedWhileBlocked < 2 * 1024 * 1024, `the program printed ${printedWhileBlocked} bytes with nobody reading`);
    assert.equal(printed, printedWhileBlocked, 'it is waiting, not printing');
    assert.ok(process.memoryUsage.rss() - rssBefore < 100 * 1024 * 1024, 'host memory stays bounded');
    const stopped = Date.now();
    board.pico.input('\x03');
    await board.waitForState('waiting', 5000);
    assert.ok(Date.now() - stopped < 2000, `Ctrl-C took ${Date.now() - stopped} ms`);
    assert.match(board.output(), /KeyboardInterrupt/);
    assert.doesNotMatch(board.output(), /MemoryError|finished/);
  });

  it('delivers everything, in order, when the port is read', async () => {
    const lines = 3000;
    const board = await startBoard({ 'code.py': `import time\ntime.sleep(0.5)\ns = "y" * 500\nfor i in range(${lines}):\n    print(i, s)\nprint("finished")\n` }, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    await con.waitForText('finished\n', 60_000);
    const numbers = con.log.lines.filter((l) => /^\d+ y+$/.test(l)).map((l) => Number(l.split(' ')[0]));
    assert.equal(numbers.length, lines);
    assert.ok(numbers.every((n, i) => n === i), 'in order, none lost');
  });
});

describe('virtual Pico input is bounded like a board\'s', () => {
  it('drops what a program that never reads is sent beyond its buffer (100 MB typed, memory flat), and still takes Ctrl-C', async () => {
    const board = await startBoard({ 'code.py': 'import time\nwhile True:\n    time.monotonic()\n' }, { pty: false }, cleanups);
    await board.waitForState('running');
    await sleep(300);
    const chunk = new Uint8Array(1024 * 1024).fill(0x61);
    const rssBefore = process.memoryUsage.rss();
    for (let i = 0; i < 100; i++) {
      board.pico.input(chunk);
      await sleep(5);
    }
    assert.ok(process.memoryUsage.rss() - rssBefore < 100 * 1024 * 1024, `host memory grew by ${Math.round((process.memoryUsage.rss() - rssBefore) / 1e6)} MB`);
    board.pico.input('\x03');
    await board.waitForState('waiting', 5000);
    assert.match(board.output(), /KeyboardInterrupt/);
  });
});
