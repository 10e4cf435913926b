import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { OutputBatcher, skippedMarker } from '../../src/core/serial/outputBatcher.js';

describe('output batcher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  function batcher(options: { flushMs?: number; maxPendingChars?: number } = {}) {
    const writes: string[] = [];
    const b = new OutputBatcher({ ...options, write: (t) => writes.push(t) });
    return { b, writes };
  }

  it('writes text after a quiet spell at once, then at most once per flushMs with everything pending', () => {
    const { b, writes } = batcher({ flushMs: 50 });
    b.push('first\n');
    assert.deepEqual(writes, ['first\n']);
    for (let i = 0; i < 100; i++) b.push(`line ${i}\n`);
    assert.equal(writes.length, 1, 'nothing more before flushMs has passed');
    mock.timers.tick(49);
    assert.equal(writes.length, 1);
    mock.timers.tick(1);
    assert.equal(writes.length, 2);
    assert.equal(writes[1], Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join(''));
    b.push('a');
    b.push('b');
    assert.equal(writes.length, 2, 'still inside the next window');
    mock.timers.tick(50);
    assert.deepEqual(writes.slice(2), ['ab']);
    // A full quiet window later, text goes out at once again.
    mock.timers.tick(50);
    b.push('c');
    assert.deepEqual(writes.slice(3), ['c']);
  });

  it('never calls write with nothing', () => {
    const { b, writes } = batcher();
    b.push('');
    mock.timers.tick(500);
    b.flush();
    assert.deepEqual(writes, []);
  });

  it('drops the oldest text beyond maxPendingChars and says how much, once, on its own line', () => {
    const { b, writes } = batcher({ flushMs: 50, maxPendingChars: 100 });
    b.push('x'); // written at once; the window for the next batch starts
    const lines = Array.from({ length: 50 }, (_, i) => `l${String(i).padStart(2, '0')}\n`); // 4 chars each
    for (const line of lines) b.push(line);
    assert.ok(b.pendingChars <= 100, `pending ${b.pendingChars}`);
    mock.timers.tick(50);
    assert.equal(writes.length, 2);
    const batch = writes[1];
    // 200 chars came, 100 fit: the newest 25 lines survive after one marker.
    assert.equal(batch, `\n${skippedMarker(100)}${lines.slice(25).join('')}`);
    assert.match(batch, /^\n… 100 characters skipped \(the board printed faster than the monitor can show\) …\n/);
  });

  it('keeps memory bounded under a flood of small pushes and counts every dropped character', () => {
    const { b, writes } = batcher({ flushMs: 50, maxPendingChars: 1000 });
    b.push('start\n');
    const chunk = 'abcdefghi\n';
    for (let i = 0; i < 100_000; i++) {
      b.push(chunk);
      if (i % 1000 === 0) assert.ok(b.pendingChars <= 1000);
    }
    mock.timers.tick(50);
    const [, batch] = writes;
    const skipped = Number(/… ([\d,]+) characters skipped/.exec(batch)![1].replace(/,/g, ''));
    const kept = batch.slice(batch.indexOf('…\n') + 2);
    assert.equal(skipped + kept.length, 100_000 * chunk.length);
    assert.ok(kept.length <= 1000 && kept.startsWith('abcdefghi\n'));
  });

  it('cuts a single huge line where it must, without waiting for a line end', () => {
    const { b, writes } = batcher({ flushMs: 50, maxPendingChars: 10 });
    b.push('>');
    b.push('0123456789abcdefghij');
    mock.timers.tick(50);
    assert.equal(writes[1], `\n${skippedMarker(10)}abcdefghij`);
  });

  it('flush() writes at once; dispose() writes what is left and ignores later text', () => {
    const { b, writes } = batcher({ flushMs: 1000 });
    b.push('a');
    b.push('b');
    b.flush();
    assert.deepEqual(writes, ['a', 'b']);
    b.push('c');
    b.dispose();
    assert.deepEqual(writes, ['a', 'b', 'c']);
    b.push('d');
    b.dispose();
    mock.timers.tick(5000);
    assert.deepEqual(writes, ['a', 'b', 'c']);
  });

  it('survives a consumer whose write throws, reporting it', () => {
    const errors: unknown[] = [];
    const b = new OutputBatcher({ flushMs: 10, write: () => { throw new Error('channel closed'); }, onError: (e) => errors.push(e) });
    b.push('a');
    b.push('b');
    mock.timers.tick(10);
    assert.equal(errors.length, 2);
  });
});
