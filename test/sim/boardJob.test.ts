// The raw REPL client (src/core/serial/rawRepl.ts) on the monitor's own session, against the
// virtual Pico on a real pseudo-terminal: a looping code.py is interrupted and started again, a
// job that raises, a job that prints 1 MB, a board unplugged mid-job.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { runOnBoard, RawReplError } from '../../src/core/serial/rawRepl.js';
import { NO_PTY, openConsole, sleep, startBoard } from './simHarness.js';

const TICKING = 'import time\nn = 0\nwhile True:\n    n += 1\n    print("tick", n)\n    time.sleep(0.2)\n';

describe('board jobs through the raw REPL on the virtual Pico', { skip: NO_PTY }, () => {
  const cleanups: (() => unknown)[] = [];
  after(async () => { for (const c of cleanups.reverse()) await c(); });

  it('interrupts a looping code.py, runs the job, and code.py ticks again; the monitor shows no raw-REPL framing', async () => {
    const board = await startBoard({ 'code.py': TICKING }, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    await con.waitForText('tick 2');
    const jobs: string[] = [];
    con.session.on('job', (phase, what) => jobs.push(`${phase} ${what}`));
    // No state given: the client sees code.py was running from what Ctrl-C makes it print.
    const result = await runOnBoard(con.session, 'print(sum(range(10)))\nprint("é")\n', { what: 'sum' });
    assert.equal(result.stdout, '45\r\né\r\n');
    assert.equal(result.stderr, '');
    assert.equal(result.mode, 'raw-paste');
    assert.equal(result.restarted, true);
    const at = con.log.text.length;
    await con.waitForText(/soft reboot[\s\S]*tick 1\n/);
    assert.ok(con.log.text.length >= at);
    assert.ok(!con.log.text.includes('raw REPL') && !con.log.text.includes('\x04'), 'raw-REPL framing reached the monitor');
    assert.deepEqual(jobs, ['start sum', 'end sum: done; code.py restarted']);
  });

  it('keeps a job\'s traceback apart from its output, and receives 1 MB whole', async () => {
    const board = await startBoard({}, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    const raised = await runOnBoard(con.session, 'print("before")\nraise ValueError("wrong input size")\n', { what: 'raises' });
    assert.equal(raised.stdout, 'before\r\n');
    assert.match(raised.stderr, /^Traceback \(most recent call last\):\r\n {2}File "<stdin>", line 2, in <module>\r\nValueError: wrong input size\r\n$/);
    const big = await runOnBoard(con.session, 'line = "x" * 1023\nfor i in range(1024):\n    print(line)\n', { what: 'megabyte', timeoutMs: 120_000 });
    assert.equal(big.stdout.length, 1024 * 1025);
    assert.equal(big.stdout, `${'x'.repeat(1023)}\r\n`.repeat(1024));
  });

  it('a board unplugged mid-job is a clear error', async () => {
    const board = await startBoard({}, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    // The outcome is taken at once: the job fails while the test is still unplugging the board.
    const outcome = runOnBoard(con.session, 'import time\nwhile True:\n    time.sleep(0.05)\n', { what: 'forever', timeoutMs: 60_000 }).then(() => undefined, (e: unknown) => e);
    await sleep(800);
    await board.pico.dispose();
    const error = await outcome;
    assert.ok(error instanceof RawReplError, String(error));
    assert.equal(error.failure, 'lost');
    assert.match(error.message, /the board went away during the job: lost the connection to .*ttyPICO/);
  });
});
