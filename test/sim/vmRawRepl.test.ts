// The virtual Pico's raw REPL and raw-paste mode on its real pseudo-terminal, byte for byte as
// CircuitPython 9 speaks them (pyexec_raw_repl and do_reader_stdin in its shared/runtime/pyexec.c):
// what a raw-REPL host (pyboard.py, mpremote, cpml's board jobs) sends and expects.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { RawRepl } from '../../src/sim/vmRawRepl.js';
import { AUTO_RELOAD, BANNER, LINE_CLEAR, NO_PTY, openRawRepl, PRESS_ANY_KEY, RAW_BANNER, sleep, startBoard, title } from './simHarness.js';

if (NO_PTY) console.log(`# raw REPL tests on pseudo-terminals skipped: ${NO_PTY}`);

const HELLO = 'print("hello")\n';
const TICKING = 'import time\ni = 0\nwhile True:\n    i += 1\n    print("tick", i)\n    time.sleep(0.05)\n';
/** Text as the port's bytes read as latin1 (the status line's snake is UTF-8). */
const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
/** The friendly REPL's banner and prompt, as any key at "Press any key…" or Ctrl-B in the raw REPL prints them (after the status line). */
const FRIENDLY = latin1(`${title('REPL')}\r\n${BANNER}\r\n>>> `);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** A board idle at "Press any key…", its port open for a raw-REPL host, in the raw REPL. */
async function rawBoard(files: Record<string, string>, options: Parameters<typeof startBoard>[1] = {}) {
  const board = await startBoard(files, options, cleanups);
  await board.waitForState('waiting');
  const port = await openRawRepl(board.info.port!, cleanups);
  let from = port.mark();
  await port.end.write('\r');
  await port.waitFor('>>> ', from);
  from = port.mark();
  await port.end.write('\x01');
  await port.waitFor(RAW_BANNER, from);
  assert.equal(port.since(from), `\r\n${RAW_BANNER}`);
  return { board, port };
}

describe('virtual Pico: raw REPL', { skip: NO_PTY }, () => {
  it('enters from the prompt with Ctrl-A and runs blocks: OK, stdout, \\x04, stderr, \\x04, >', async () => {
    const { port } = await rawBoard({ 'code.py': HELLO });
    let from = port.mark();
    await port.end.write('print(1+1)\x04');
    await port.waitFor('\x04>', from);
    assert.equal(port.since(from), 'OK2\r\n\x04\x04>');
    // Nothing is echoed while a block is typed; the globals live on from block to block.
    from = port.mark();
    await port.end.write('x = 6 * 7');
    await sleep(100);
    assert.equal(port.since(from), '');
    await port.end.write('\x04');
    await port.waitFor('\x04>', from);
    assert.equal(port.since(from), 'OK\x04\x04>');
    assert.deepEqual(await port.exec('print(x, __file__)\nprint("two")'), { ack: 'OK', stdout: '42 <stdin>\r\ntwo\r\n', stderr: '' });
    // Ctrl-C drops the block typed so far; Ctrl-A starts the raw REPL over.
    from = port.mark();
    await port.end.write('print("dropped")\x03print("kept")\x04');
    await port.waitFor('\x04>', from);
    assert.equal(port.since(from), 'OKkept\r\n\x04\x04>');
    from = port.mark();
    await port.end.write('print("dropped too")\x01');
    await port.waitFor(RAW_BANNER, from);
    assert.equal(port.since(from), RAW_BANNER);
    // sys.exit() ends a block without a traceback.
    assert.deepEqual(await port.exec('import sys\nprint("bye")\nsys.exit()\nprint("not reached")'), { ack: 'OK', stdout: 'bye\r\n', stderr: '' });
  });

  it('puts the traceback of a block that raises in the stderr part', async () => {
    const { port } = await rawBoard({});
    let from = port.mark();
    await port.end.write('print("before")\nraise ValueError("wrong input size")\x04');
    await port.waitFor('\x04>', from);
    assert.equal(port.since(from), 'OKbefore\r\n\x04Traceback (most recent call last):\r\n  File "<stdin>", line 2, in <module>\r\nValueError: wrong input size\r\n\x04>');
    assert.deepEqual(await port.exec('def f(n):\n    if n == 0:\n        raise OSError(5)\n    f(n - 1)\nf(1)'), {
      ack: 'OK', stdout: '',
      stderr: 'Traceback (most recent call last):\r\n  File "<stdin>", line 5, in <module>\r\n  File "<stdin>", line 4, in f\r\n  File "<stdin>", line 3, in f\r\nOSError: [Errno 5] EIO\r\n',
    });
    // A SyntaxError names the line only, as the compiler reports it.
    from = port.mark();
    await port.end.write('x = 1\nprint(x +)\x04');
    await port.waitFor('\x04>', from);
    assert.equal(port.since(from), 'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 2\r\nSyntaxError: invalid syntax\r\n\x04>');
    // The board's modules: cnn_helper refuses a missing model file as the firmware does.
    const reply = await port.exec('import cnn_helper\ncnn_helper.load_model("missing.bin")');
    assert.equal(reply.stdout, '');
    assert.match(reply.stderr, /^Traceback \(most recent call last\):\r\n {2}File "<stdin>", line 2, in <module>\r\nOSError: \[Errno 2\] ENOENT\r\n$/);
  });

  it('speaks raw-paste mode: R\\x01, a 128-byte window granted with \\x01 as the code is taken, a 10 KB block', async () => {
    const { port } = await rawBoard({});
    // (Not one big literal: a list of thousands of items would exhaust the Pico's Python stack.)
    const numbers = Array.from({ length: 1200 }, (_, i) => (i * 7919) % 10007);
    const code = Buffer.from(`n = 0\nt = 0\n${numbers.map((v) => `n += 1; t += ${v}\n`).join('')}print(n, t)\n`);
    assert.ok(code.length > 10_000, `${code.length} bytes`);
    const paste = await port.rawPaste(code);
    assert.equal(paste.header, 'R\x01\x80\x00\x01');
    assert.equal(paste.window, 128);
    // One \x01 for each window the board took, none ahead of the bytes.
    assert.equal(paste.grants, Math.floor(code.length / 128));
    await port.waitFor('\x04>', paste.output + 1);
    assert.equal(port.since(paste.output), `\x04${numbers.length} ${numbers.reduce((a, b) => a + b, 0)}\r\n\x04\x04>`);

    // A block that raises: stdout, \x04, the traceback, \x04, as in the raw REPL.
    const raising = await port.rawPaste(Buffer.from('print("pasted")\nimport struct\nstruct.unpack("<f", b"12")\n'));
    assert.deepEqual(await port.reply(raising.output), {
      ack: '\x04', stdout: 'pasted\r\n',
      stderr: 'Traceback (most recent call last):\r\n  File "<stdin>", line 3, in <module>\r\nValueError: buffer too small\r\n',
    });
    // The globals are the raw REPL's.
    assert.deepEqual(await port.exec('print(n)'), { ack: 'OK', stdout: `${numbers.length}\r\n`, stderr: '' });
    // An error raised where the block has no frame yet: no traceback header, as the firmware prints it.
    const deep = await port.rawPaste(Buffer.from(`d = [${[...numbers, ...numbers, ...numbers].join(', ')}]\n`));
    assert.deepEqual(await port.reply(deep.output), { ack: '\x04', stdout: '', stderr: 'RuntimeError: pystack exhausted\r\n' });
    // Ctrl-C instead of the end: \x04, then a KeyboardInterrupt with no frame, and nothing runs.
    const cancelled = await port.rawPaste(Buffer.from('print("never run")\n'), { endWith: '\x03' });
    await port.waitFor('\x04>', cancelled.output + 1);
    assert.equal(port.since(cancelled.output), '\x04\x04KeyboardInterrupt: \r\n\x04>');
    // Another command than A after \x05: understood as unsupported, as the firmware answers.
    const from = port.mark();
    await port.end.write('\x05B\x01');
    await port.waitFor('>', from);
    assert.equal(port.since(from), 'R\x00>');
    assert.deepEqual(await port.exec('print("still raw")'), { ack: 'OK', stdout: 'still raw\r\n', stderr: '' });
  });

  it('gets there from a looping code.py: Ctrl-C, a key, Ctrl-A; Ctrl-B and Ctrl-D run code.py again', async () => {
    const board = await startBoard({ 'code.py': TICKING }, {}, cleanups);
    const port = await openRawRepl(board.info.port!, cleanups);
    await port.waitFor('tick', 0);
    let from = port.mark();
    await port.end.write('\x03');
    await port.waitFor(PRESS_ANY_KEY, from);
    assert.match(port.since(from), /^(tick \d+\r\n)*Traceback \(most recent call last\):\r\n {2}File "code\.py", line [56], in <module>\r\nKeyboardInterrupt: \r\n/);
    assert.ok(port.since(from).endsWith(`\r\nCode done running.\r\n${PRESS_ANY_KEY}`), port.since(from));
    // A host sends a key and Ctrl-A together: the key is taken by "Press any key…", Ctrl-A by the REPL.
    from = port.mark();
    await port.end.write('\r\x01');
    await port.waitFor(RAW_BANNER, from);
    assert.equal(port.since(from), `${FRIENDLY}\r\n${RAW_BANNER}`);
    assert.equal(board.pico.state, 'repl');
    assert.deepEqual(await port.exec('print("board job")'), { ack: 'OK', stdout: 'board job\r\n', stderr: '' });
    // The REPL keeps auto-reload off: a write to the drive does not stop it.
    writeFileSync(join(board.drive, 'model.bin'), 'new model');
    await sleep(800);
    assert.deepEqual(await port.exec('print("no reload")'), { ack: 'OK', stdout: 'no reload\r\n', stderr: '' });
    assert.equal(board.output().includes('soft reboot'), false);
    // Ctrl-B: the friendly REPL; Ctrl-D there: soft reboot, and code.py loops again.
    from = port.mark();
    await port.end.write('\x02');
    await port.waitFor('>>> ', from);
    assert.equal(port.since(from), `\r\n${FRIENDLY}`);
    from = port.mark();
    await port.end.write('\x04');
    await port.waitFor('tick 2\r\n', from);
    assert.equal(port.since(from).slice(0, port.since(from).indexOf('tick 1')),
      latin1(`\r\n${title('Done')}soft reboot\r\n${AUTO_RELOAD}${LINE_CLEAR}code.py output:\r\n${title('code.py')}`));
    assert.equal(board.pico.state, 'running');
  });

  it('stops a block that never ends on Ctrl-C: its KeyboardInterrupt is the stderr part, and the raw REPL goes on', async () => {
    const { port } = await rawBoard({}, { interruptTimeoutMs: 500 });
    await port.exec('kept = "globals"');
    // A loop that sleeps takes the KeyboardInterrupt at its line.
    let from = port.mark();
    await port.end.write('import time\nwhile True:\n    time.sleep(0.01)\x04');
    await port.waitFor('OK', from);
    await sleep(300);
    assert.equal(port.since(from), 'OK');
    await port.end.write('\x03');
    assert.deepEqual(await port.reply(from), {
      ack: 'OK', stdout: '',
      stderr: port.since(from).includes('line 2') ? 'Traceback (most recent call last):\r\n  File "<stdin>", line 2, in <module>\r\nKeyboardInterrupt: \r\n'
        : 'Traceback (most recent call last):\r\n  File "<stdin>", line 3, in <module>\r\nKeyboardInterrupt: \r\n',
    });
    // A loop that prints, faster than the port is read: its output so far, then the traceback.
    from = port.mark();
    await port.end.write('i = 0\nwhile True:\n    print("line", i)\n    i += 1\x04');
    await port.waitFor('line 2000\r\n', from);
    await port.end.write('\x03');
    const printing = await port.reply(from);
    // Every line in order up to where the Ctrl-C came (what the program was still waiting to send then is dropped).
    const count = printing.stdout.split('\r\n').length;
    assert.ok(count > 2000, `${count} lines`);
    const expected = Array.from({ length: count }, (_, i) => `line ${i}\r\n`).join('');
    assert.ok(expected.startsWith(printing.stdout), `not the lines in order: …${JSON.stringify(printing.stdout.slice(-200))}`);
    assert.match(printing.stderr, /^Traceback \(most recent call last\):\r\n {2}File "<stdin>", line [34], in <module>\r\nKeyboardInterrupt: \r\n$/);
    assert.deepEqual(await port.exec('print(kept)'), { ack: 'OK', stdout: 'globals\r\n', stderr: '' });
    // A loop that calls nothing cannot take it: its VM is ended, the reply still framed.
    from = port.mark();
    await port.end.write('while True:\n    pass\x04');
    await port.waitFor('OK', from);
    await sleep(200);
    await port.end.write('\x03');
    await port.waitFor('\x04>', from);
    assert.equal(port.since(from), 'OK\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>');
    assert.deepEqual(await port.exec('print("next block")'), { ack: 'OK', stdout: 'next block\r\n', stderr: '' });
  });

  it('soft-reboots on Ctrl-D with an empty block, back into the raw REPL without running code.py', async () => {
    const { board, port } = await rawBoard({ 'code.py': HELLO });
    await port.exec('x = 1');
    const from = port.mark();
    await port.end.write('\x04');
    await port.waitFor(RAW_BANNER, from);
    assert.equal(port.since(from), `OK\r\nsoft reboot\r\n${RAW_BANNER}`);
    const reply = await port.exec('print(x)');
    assert.equal(reply.stdout, '');
    assert.match(reply.stderr, /NameError: name 'x' isn't defined\r\n$/, 'a fresh VM');
    assert.equal(board.output().split('code.py output:').length, 2, 'code.py ran once, at boot');
  });

  it('sends all of a block that prints 1 MB, at the pace the port is read', async () => {
    const { port } = await rawBoard({});
    const started = Date.now();
    const reply = await port.exec('for i in range(16384):\n    print("%062d" % i)', 60_000);
    const lines = reply.stdout.split('\r\n');
    assert.equal(reply.stdout.length, 1024 * 1024);
    assert.equal(lines.pop(), '');
    assert.equal(lines.length, 16384);
    for (let i = 0; i < lines.length; i++) {
      if (lines[i] !== String(i).padStart(62, '0')) assert.fail(`line ${i}: ${JSON.stringify(lines[i])}`);
    }
    assert.equal(reply.stderr, '');
    console.log(`# 1 MB through the raw REPL in ${Date.now() - started} ms`);
    // The same through raw-paste mode, and the raw REPL answers at once afterwards.
    const paste = await port.rawPaste(Buffer.from('print("x" * 1023)\n' + 'for i in range(1023):\n    print("y" * 1023)\n'));
    const pasted = await port.reply(paste.output, 60_000);
    assert.equal(pasted.stdout, `${'x'.repeat(1023)}\r\n${`${'y'.repeat(1023)}\r\n`.repeat(1023)}`);
    assert.deepEqual(await port.exec('print("done")'), { ack: 'OK', stdout: 'done\r\n', stderr: '' });
  });
});

describe('virtual Pico: raw REPL bounds', () => {
  it('keeps a block up to its cap; a larger one fails with MemoryError and is not run', () => {
    let out = '';
    const ran: string[] = [];
    const repl = new RawRepl({ readByte: () => undefined, write: (text) => { out += text; }, pause: () => undefined }, {
      run: (source) => {
        ran.push(Buffer.from(source).toString('latin1'));
        out += 'ran\x04';
        return false;
      },
      friendly: () => undefined,
    }, 1000);
    const type = (text: string) => [...text].map((c) => repl.key(c.charCodeAt(0)));
    type(`${'a'.repeat(1000)}\x04`);
    assert.deepEqual([ran.length, ran[0]?.length, out], [1, 1000, 'OKran\x04\x04>']);
    out = '';
    assert.deepEqual(type(`${'b'.repeat(1001)}\x04`).at(-1), 'stay');
    assert.equal(out, 'OK\x04MemoryError: memory allocation failed, allocating 1001 bytes\r\n\x04>');
    assert.equal(ran.length, 1, 'the oversized block did not run');
    // The next block is taken whole again.
    out = '';
    type('c\x04');
    assert.deepEqual([ran.at(-1), out], ['c', 'OKran\x04\x04>']);
  });
});
