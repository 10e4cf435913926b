// The virtual Pico through its real pseudo-terminal, read by the monitor's own SerialSession (and
// as raw bytes where the firmware's bytes matter): CircuitPython's console messages, Ctrl-C,
// Ctrl-D, the REPL, auto-reload, the modules a Pico lacks, and cnn_helper on the host engine.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { estimateLatency } from '../../src/core/analysis/latencyModel.js';
import { decodeBlob } from '../../src/core/blob/decodeBlob.js';
import { readDrive } from '../../src/core/board/findDrives.js';
import { loadModel, performInference } from '../../src/core/engine/firmwareEngine.js';
import { FirmwareError } from '../../src/core/errors.js';
import { SerialSession } from '../../src/core/serial/serialSession.js';
import { VirtualPico } from '../../src/sim/virtualPico.js';
import { nextEvent } from '../serial/ptyPair.js';
import { convBombBlob } from '../support/hostileBlobs.js';
import {
  AUTO_RELOAD, BANNER, childProcesses, LINE_CLEAR, NO_PTY, openConsole, openRaw, PRESS_ANY_KEY, RELAY, sleep, startBoard, title,
} from './simHarness.js';

if (NO_PTY) console.log(`# virtual Pico tests on pseudo-terminals skipped: ${NO_PTY}`);

const EXAMPLE = join('examples', 'mnist');
const MODEL = readFileSync(join(EXAMPLE, 'model.bin'));
const SAMPLES = readdirSync(join(EXAMPLE, 'mnist_samples')).filter((f) => /^sample_\d+\.bin$/.test(f)).sort();

const HELLO = 'print("hello")\n';
const TICKING = 'import time\ni = 0\nwhile True:\n    i += 1\n    print("tick", i)\n    time.sleep(0.05)\n';
/** What the board prints for one run of a program that prints "hello", after "soft reboot". */
const HELLO_RUN = `${AUTO_RELOAD}${LINE_CLEAR}code.py output:\r\n${title('code.py')}hello\r\n${title('Done')}\r\nCode done running.\r\n${PRESS_ANY_KEY}`;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

describe('virtual Pico: boot', () => {
  it('prints what CircuitPython prints at boot, byte for byte, and writes boot_out.txt', async () => {
    const board = await startBoard({ 'code.py': HELLO }, { pty: false }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    assert.equal(board.output(), HELLO_RUN);
    const drive = readDrive(board.drive);
    assert.ok(drive, 'board discovery reads the folder as a CIRCUITPY drive');
    assert.equal(drive.boot.version, '9.2.1');
    assert.equal(drive.boot.boardName, 'Raspberry Pi Pico');
    assert.equal(drive.boot.boardId, 'raspberry_pi_pico');
    assert.match(drive.boot.uid ?? '', /^[0-9A-F]{16}$/);
    assert.equal(drive.boot.uid, board.info.uid);
    assert.equal(readFileSync(join(board.drive, 'boot_out.txt'), 'utf8'), `${BANNER}\nBoard ID:raspberry_pi_pico\nUID:${board.info.uid}\n`);
  });

  it('without a program prints the messages and waits', async () => {
    const board = await startBoard({}, { pty: false }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    assert.equal(board.output(), `${AUTO_RELOAD}\r\nCode done running.\r\n${PRESS_ANY_KEY}`);
  });
});

describe('virtual Pico on its pseudo-terminal', { skip: NO_PTY }, () => {
  it('reloads on Ctrl-D at "Press any key…": soft reboot and the run, byte for byte on the port', async () => {
    const board = await startBoard({ 'code.py': HELLO }, {}, cleanups);
    await board.waitForState('waiting');
    const raw = await openRaw(board.info.port!, cleanups);
    await raw.end.write('\x04');
    await raw.waitForBytes(PRESS_ANY_KEY, raw.text().indexOf('soft reboot'));
    // (Bytes printed before the port was opened may or may not reach it; the reload's are exact.)
    assert.equal(raw.text().slice(raw.text().indexOf('soft reboot')), `soft reboot\r\n${HELLO_RUN}`);
  });

  it('streams code.py output, then "Code done running." and "Press any key…", with the run state in the title', async () => {
    const board = await startBoard({ 'code.py': 'for i in range(3):\n    print("line", i)\n' }, {}, cleanups);
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.sendCtrlD();
    await con.waitForText(/soft reboot\n[^]*Press any key to enter the REPL\. Use CTRL-D to reload\.\n/);
    assert.deepEqual(con.log.lines.slice(con.log.lines.indexOf('soft reboot')), [
      'soft reboot', '', 'Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.',
      'code.py output:', 'line 0', 'line 1', 'line 2', '', 'Code done running.', '', 'Press any key to enter the REPL. Use CTRL-D to reload.',
    ]);
    assert.deepEqual(con.log.statuses.slice(-2).map((s) => [s.state, s.file, s.version]), [['running', 'code.py', '9.2.1'], ['done', undefined, '9.2.1']]);
  });

  it('stops a running loop on Ctrl-C with a KeyboardInterrupt traceback at its line', async () => {
    const board = await startBoard({ 'code.py': TICKING }, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    await con.waitForText(/tick \d+\n/);
    await con.session.sendCtrlC();
    await con.waitForText('Press any key to enter the REPL. Use CTRL-D to reload.\n');
    const at = con.log.lines.indexOf('Traceback (most recent call last):');
    assert.ok(at !== -1, con.log.text);
    assert.match(con.log.lines[at + 1], /^ {2}File "code\.py", line [56], in <module>$/);
    assert.match(con.log.lines[at + 2], /^KeyboardInterrupt: ?$/);
    assert.deepEqual(con.log.lines.slice(at + 3), ['', 'Code done running.', '', 'Press any key to enter the REPL. Use CTRL-D to reload.']);
    // The title says where it stopped; a KeyboardInterrupt is a stop, not an error.
    const stopped = con.log.statuses.find((s) => s.state === 'stopped');
    assert.equal(stopped?.exception, 'KeyboardInterrupt');
    assert.equal(stopped?.file, 'code.py');
    assert.equal(con.log.statuses.some((s) => s.state === 'error'), false);
  });

  it('stops a loop that calls nothing (no chance to raise KeyboardInterrupt) by ending its VM', async () => {
    const board = await startBoard({ 'code.py': 'print("spinning")\nwhile True:\n    pass\n' }, { interruptTimeoutMs: 300 }, cleanups);
    await board.waitForState('running');
    await board.waitForOutput('spinning');
    const con = await openConsole(board.info.port!, cleanups);
    // Well into the loop (a Ctrl-C that arrives while print() still runs is taken there, as it should be).
    await sleep(200);
    await con.session.sendCtrlC();
    await con.waitForText('Press any key to enter the REPL. Use CTRL-D to reload.\n');
    // ("spinning" may or may not reach the port: it was printed before the port was opened.)
    const at = con.log.lines.indexOf('Traceback (most recent call last):');
    assert.deepEqual(con.log.lines.slice(at), ['Traceback (most recent call last):', 'KeyboardInterrupt: ', '', 'Code done running.', '', 'Press any key to enter the REPL. Use CTRL-D to reload.']);
  });

  it('enters the REPL on any key: banner, >>>, evaluates lines; Ctrl-D soft-reboots and runs code.py again', async () => {
    const board = await startBoard({ 'code.py': HELLO }, {}, cleanups);
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.write('\r');
    await con.waitForText(`${BANNER}\n>>> `);
    assert.ok(con.log.text.endsWith(`Use CTRL-D to reload.\n\n${BANNER}\n>>> `) || con.log.text === `\n${BANNER}\n>>> `, con.log.text);
    assert.equal(con.log.statuses.at(-1)?.state, 'repl');
    await con.session.sendLine('print(1+1)');
    await con.waitForText('>>> print(1+1)\n2\n>>> ');
    await con.session.sendLine('x = [n * n for n in range(4)]');
    await con.session.sendLine('x');
    await con.waitForText('[0, 1, 4, 9]\n>>> ');
    await con.session.sendCtrlD();
    // 'hello' and the prompt were printed once before the REPL: wait for the whole second run.
    await con.waitForText(/>>> \nsoft reboot\n\nAuto-reload is on\. .*\ncode\.py output:\nhello\n\nCode done running\.\n/);
  });

  it('gets to the REPL from a running program with the session\'s enterRepl (Ctrl-C, then a key)', async () => {
    const board = await startBoard({ 'code.py': TICKING }, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    await con.waitForText('tick');
    await con.session.enterRepl();
    await con.waitForText(`Press any key to enter the REPL. Use CTRL-D to reload.\n\n${BANNER}\n>>> `);
    await con.session.sendLine('print("at the prompt")');
    await con.waitForText('\nat the prompt\n>>> ');
  });

  it('reloads 500 ms after the drive is written: stops the program, soft reboot, runs it again', async () => {
    const board = await startBoard({ 'code.py': TICKING }, {}, cleanups);
    const con = await openConsole(board.info.port!, cleanups);
    await con.waitForText('tick');
    const written = Date.now();
    writeFileSync(join(board.drive, 'data.txt'), 'new data');
    await con.waitForText('Code stopped by auto-reload. Reloading soon.\n');
    assert.ok(Date.now() - written >= 450, `reloaded ${Date.now() - written} ms after the write`);
    await con.waitForText(/soft reboot\n\nAuto-reload is on\. [^\n]*\ncode\.py output:\ntick 1\n/);
    assert.equal(con.log.lines.filter((l) => l === 'Code stopped by auto-reload. Reloading soon.').length, 1);
    assert.ok(con.log.statuses.some((s) => s.state === 'done'));
  });

  it('reloads when idle at "Press any key…" too, and runs the new code.py', async () => {
    const board = await startBoard({ 'code.py': HELLO }, {}, cleanups);
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    writeFileSync(join(board.drive, 'code.py'), 'print("changed")\n');
    await con.waitForText(/changed\n[^]*Press any key to enter the REPL\. Use CTRL-D to reload\.\n/);
    const at = con.log.lines.indexOf('soft reboot');
    assert.deepEqual(con.log.lines.slice(at, at + 5), ['soft reboot', '', 'Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.', 'code.py output:', 'changed']);
  });

  it('raises ImportError for modules that drive hardware, naming the program\'s line', async () => {
    const board = await startBoard({ 'code.py': 'print("start")\nimport board\n' }, {}, cleanups);
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.sendCtrlD();
    await con.waitForText('Press any key');
    const at = con.log.lines.indexOf('Traceback (most recent call last):');
    assert.deepEqual(con.log.lines.slice(at, at + 3), [
      'Traceback (most recent call last):',
      '  File "code.py", line 2, in <module>',
      'ImportError: no module named \'board\' (the virtual Pico has no hardware pins; run code that uses board on a real board)',
    ]);
    const error = con.log.statuses.find((s) => s.state === 'error');
    assert.deepEqual([error?.line, error?.file, error?.exception], [2, 'code.py', 'ImportError']);
  });

  it('reads input() from the console, echoing what is typed', async () => {
    const board = await startBoard({ 'code.py': 'name = input("name? ")\nprint("hello", name)\n' }, {}, cleanups);
    await board.waitForState('running');
    await board.waitForOutput('name? ');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.write('Ada\r');
    await con.waitForText('Ada\nhello Ada\n');
  });

  it('speaks the raw REPL the way pyboard.py and mpremote expect', async () => {
    const board = await startBoard({ 'code.py': HELLO }, {}, cleanups);
    await board.waitForState('waiting');
    const raw = await openRaw(board.info.port!, cleanups);
    await raw.end.write('\r');
    await raw.waitForBytes('>>> ');
    let from = raw.text().length;
    await raw.end.write('\x01');
    await raw.waitForBytes('raw REPL; CTRL-B to exit\r\n>', from);
    assert.equal(raw.text().slice(from), '\r\nraw REPL; CTRL-B to exit\r\n>');
    from = raw.text().length;
    await raw.end.write('print(6 * 7)\x04');
    await raw.waitForBytes('\x04>', from);
    assert.equal(raw.text().slice(from), 'OK42\r\n\x04\x04>');
    from = raw.text().length;
    await raw.end.write('1/0\x04');
    await raw.waitForBytes('\x04>', from);
    assert.equal(raw.text().slice(from), 'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nZeroDivisionError: divide by zero\r\n\x04>');
    // Raw paste (rawRepl.test.ts has it all): a command other than A is answered as unsupported.
    from = raw.text().length;
    await raw.end.write('\x05B\x01');
    await raw.waitForBytes('R\x00>', from);
    await raw.end.write('print("plain")\x04');
    await raw.waitForBytes('\x04>', from + 3);
    assert.equal(raw.text().slice(from), 'R\x00>OKplain\r\n\x04\x04>');
    // Ctrl-D on an empty line: soft reboot back into the raw REPL (code.py does not run).
    from = raw.text().length;
    await raw.end.write('\x04');
    await raw.waitForBytes('raw REPL; CTRL-B to exit\r\n>', from);
    assert.equal(raw.text().slice(from), 'OK\r\nsoft reboot\r\nraw REPL; CTRL-B to exit\r\n>');
    from = raw.text().length;
    // Ctrl-B: "\r\n", then the friendly REPL starts afresh: its status line, "\r\n", the banner.
    await raw.end.write('\x02');
    await raw.waitForBytes('>>> ', from);
    assert.equal(raw.text().slice(from), `\r\n${title('REPL')}\r\n${BANNER}\r\n>>> `);
  });

  it('runs cnn_helper on the host engine: the example\'s 20 predictions, bit for bit', async () => {
    const files: Record<string, Uint8Array | string> = { 'model.bin': MODEL };
    for (const s of SAMPLES) files[`samples/${s}`] = readFileSync(join(EXAMPLE, 'mnist_samples', s));
    files['code.py'] = [
      'import array, binascii, cnn_helper',
      `names = ${JSON.stringify(SAMPLES)}`,
      'inp = array.array("f", [0.0] * 900)',
      'for name in names:',
      '    with open("samples/" + name, "rb") as f:',
      '        f.readinto(inp)',
      '    cnn_helper.load_model("model.bin")',
      '    out = cnn_helper.perform_inference(inp)',
      '    cnn_helper.unload_model()',
      '    print("OUT", name, binascii.hexlify(array.array("f", out)).decode())',
      'print("SIMULATED", cnn_helper.SIMULATED)',
      '',
    ].join('\n');
    const board = await startBoard(files, {}, cleanups);
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.sendCtrlD();
    await con.waitForText('Code done running.');
    const model = loadModel(MODEL);
    for (const name of SAMPLES) {
      const line = con.log.lines.find((l) => l.startsWith(`OUT ${name} `));
      assert.ok(line, `${name}: ${con.log.text.slice(-300)}`);
      const expected = Buffer.from(performInference(model, readFileSync(join(EXAMPLE, 'mnist_samples', name))).buffer).toString('hex');
      assert.equal(line.split(' ')[2], expected, name);
    }
    assert.ok(con.log.lines.includes('SIMULATED True'));
  });
});

describe('virtual Pico: cnn_helper, heap and clock', () => {
  const program = (body: string) => ({
    'model.bin': MODEL,
    'sample.bin': readFileSync(join(EXAMPLE, 'mnist_samples', SAMPLES[0])),
    'code.py': `import array, gc, time, cnn_helper\ninp = array.array("f", [0.0] * 900)\nwith open("sample.bin", "rb") as f:\n    f.readinto(inp)\n${body}`,
  });

  it('raises the firmware\'s MemoryError when the blob and scratch exceed the heap', async () => {
    const heapBytes = 24 * 1024;
    const board = await startBoard(program('print("free", gc.mem_free())\ncnn_helper.load_model("model.bin")\n'), { pty: false, heapBytes }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    const expected = (() => {
      try {
        loadModel(MODEL, { heapBytes });
      } catch (error) {
        return error as FirmwareError;
      }
      throw new Error('the model fits');
    })();
    assert.equal(expected.pythonType, 'MemoryError');
    assert.match(board.output(), new RegExp(`free ${heapBytes}\\r\\n`));
    assert.ok(board.output().includes(`Traceback (most recent call last):\r\n  File "code.py", line 6, in <module>\r\nMemoryError: ${expected.message}\r\n${title('6@code.py MemoryError')}`), board.output());
  });

  it('refuses at load_model a model that would compute for minutes per inference, with the estimate', async () => {
    const bomb = convBombBlob(20, 127, 120);
    const board = await startBoard({
      'bomb.bin': bomb,
      'code.py': 'import cnn_helper\ntry:\n    cnn_helper.load_model("bomb.bin")\nexcept RuntimeError as e:\n    print("refused:", e)\nprint("END")\n',
    }, { pty: false, heapBytes: 2 * 1024 * 1024 }, cleanups);
    const started = Date.now();
    await board.waitForOutput('END');
    assert.ok(Date.now() - started < 10_000);
    assert.match(board.output(), /refused: \(virtual Pico\) the model needs [\d,]+ MACs [^\n]*per inference, more than the limit of 250,000,000: estimated [\d.]+ (hours|minutes) per inference on the board; layer 0 \(Conv2D 1×120×120 → 1×120×120, kernel 127/);
    assert.match(board.output(), /cpml sim --max-macs N/);
  });

  it('reports the Pico\'s heap in gc.mem_free(), minus what the loaded model holds', async () => {
    const board = await startBoard(program([
      'a = gc.mem_free()', 'cnn_helper.load_model("model.bin")', 'b = gc.mem_free()', 'cnn_helper.unload_model()', 'gc.collect()',
      'print("FREE", a, b, gc.mem_free())', '',
    ].join('\n')), { pty: false }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    const loaded = loadModel(MODEL);
    const held = MODEL.length + 2 * loaded.scratchElements * 4;
    assert.ok(board.output().includes(`FREE 153600 ${153600 - held} 153600\r\n`), board.output());
  });

  it('times load_model and perform_inference with time.monotonic_ns() at the latency model\'s estimate', async () => {
    const board = await startBoard(program([
      't0 = time.monotonic_ns()', 'cnn_helper.load_model("model.bin")', 't1 = time.monotonic_ns()',
      'out = cnn_helper.perform_inference(inp)', 't2 = time.monotonic_ns()',
      'print("NS", t1 - t0, t2 - t1)', 's = time.monotonic()', 'time.sleep(0.2)', 'print("SLEPT", time.monotonic() - s)', '',
    ].join('\n')), { pty: false }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    const estimate = estimateLatency(decodeBlob(MODEL).records, MODEL.length);
    const match = /NS (\d+) (\d+)\r\n/.exec(board.output());
    assert.ok(match, board.output());
    assert.equal(Number(match[1]), Math.round(estimate.loadMs * 1e6));
    assert.equal(Number(match[2]), Math.round(estimate.inferMs * 1e6));
    const slept = Number(/SLEPT ([\d.]+)/.exec(board.output())?.[1]);
    assert.ok(slept >= 0.2 && slept < 0.5, `time.sleep(0.2) took ${slept} s`);
  });

  it('keeps the virtual clock monotonic across reloads', async () => {
    const board = await startBoard({ 'code.py': 'import time\nprint("T", time.monotonic_ns())\n' }, { pty: false }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    const connection = board.pico.connect();
    const before = board.output().length;
    connection.write('\x04');
    await board.waitForOutput(PRESS_ANY_KEY, before);
    const times = [...board.output().matchAll(/T (\d+)\r\n/g)].map((m) => BigInt(m[1]));
    assert.equal(times.length, 2);
    assert.ok(times[1] > times[0]);
  });

  it('keeps the drive read-only to programs, as CIRCUITPY is while a computer has it mounted', async () => {
    const board = await startBoard({ 'code.py': 'try:\n    open("x.txt", "w")\nexcept OSError as e:\n    print("errno", e.errno)\ntry:\n    open("missing.bin", "rb")\nexcept OSError as e:\n    print("missing", e)\n' }, { pty: false }, cleanups);
    await board.waitForOutput(PRESS_ANY_KEY);
    assert.ok(board.output().includes('errno 30\r\nmissing [Errno 2] ENOENT\r\n'), board.output());
    assert.equal(existsSync(join(board.drive, 'x.txt')), false);
  });
});

describe('virtual Pico: connections and lifecycle', () => {
  it('serves a SerialSession in-process (Windows, no pseudo-terminal)', async () => {
    const board = await startBoard({ 'code.py': HELLO }, { pty: false }, cleanups);
    assert.equal(board.info.port, undefined);
    await board.waitForState('waiting');
    const session = new SerialSession({ path: 'virtual Pico', openPort: board.pico.openPort, reconnect: false });
    cleanups.push(() => session.dispose());
    let text = '';
    session.on('text', (t) => { text += t; });
    const up = nextEvent(session, 'state', (s) => s === 'connected');
    session.start();
    await up;
    await session.sendCtrlD();
    if (!text.includes('Press any key')) await nextEvent(session, 'text', () => text.includes('Press any key'));
    assert.match(text, /soft reboot\n\nAuto-reload is on\. .*\ncode\.py output:\nhello\n/);
    const gone = nextEvent(session, 'state', (s) => s === 'disconnected');
    await board.pico.dispose();
    await gone;
  });

  it('leaves no child process, link or temporary folder behind after dispose()', { skip: NO_PTY }, async () => {
    const before = childProcesses();
    const pico = new VirtualPico();
    const info = await pico.start();
    assert.ok(existsSync(info.port!) && existsSync(info.drive));
    assert.ok(childProcesses().length > before.length, `the ${RELAY} helper runs`);
    await pico.dispose();
    await sleep(50);
    assert.deepEqual(childProcesses(), before);
    assert.equal(existsSync(info.port!), false, 'the port is gone');
    assert.equal(existsSync(info.drive), false, 'the temporary drive is gone');
  });

  it('makes its port with python3 when asked (the fallback when socat is missing)', { skip: NO_PTY }, async (t) => {
    const probe = await import('node:child_process').then((cp) => cp.spawnSync('python3', ['-c', 'import pty'], { stdio: 'ignore' }));
    if (probe.status !== 0) {
      t.skip('python3 is not installed');
      return;
    }
    const board = await startBoard({ 'code.py': HELLO }, { pty: 'python3' }, cleanups);
    assert.equal(board.info.relay, 'python3');
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.sendCtrlD();
    await con.waitForText('hello\n\nCode done running.\n');
    await con.session.write('\r');
    await con.waitForText('>>> ');
    await con.session.sendLine('print(3 * 3)');
    await con.waitForText('\n9\n>>> ');
  });
});
