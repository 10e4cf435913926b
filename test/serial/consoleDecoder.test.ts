import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsoleDecoder, MAX_LINE_CHARS } from '../../src/core/serial/consoleDecoder.js';
import { parseStatusTitle } from '../../src/core/serial/statusTitle.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function decodeAll(chunks: (string | Uint8Array)[]): { text: string; titles: string[] } {
  const d = new ConsoleDecoder();
  let text = '';
  const titles: string[] = [];
  for (const c of [...chunks.map((x) => (typeof x === 'string' ? bytes(x) : x))]) {
    const out = d.push(c);
    text += out.text;
    titles.push(...out.statuses.map((s) => s.raw));
  }
  const end = d.end();
  return { text: text + end.text, titles: [...titles, ...end.statuses.map((s) => s.raw)] };
}

describe('console decoder', () => {
  it('strips CircuitPython\'s line clear and title sequences and normalises line ends', () => {
    const r = decodeAll(['\x1b]0;🐍code.py | 9.2.1\x1b\\\x1b[2K\x1b[0GAuto-reload is on.\r\ncode.py output:\r\nhi\r\n\r\nCode done running.\r\n']);
    assert.equal(r.text, 'Auto-reload is on.\ncode.py output:\nhi\n\nCode done running.\n');
    assert.deepEqual(r.titles, ['code.py | 9.2.1']);
  });

  it('joins UTF-8 characters and escape sequences split across reads, byte by byte', () => {
    const whole = bytes('\x1b]0;🐍Done | 9.2.1\x07caf\u00e9 π → 🐍\r\nnext\r\n');
    const r = decodeAll(Array.from(whole, (b) => Uint8Array.of(b)));
    assert.equal(r.text, 'café π → 🐍\nnext\n');
    assert.deepEqual(r.titles, ['Done | 9.2.1']);
  });

  it('holds a trailing CR until it knows whether LF follows; a lone CR is a line end', () => {
    const d = new ConsoleDecoder();
    assert.equal(d.push(bytes('a\r')).text, 'a');
    assert.equal(d.push(bytes('\nb\rc')).text, '\nb\nc');
    assert.equal(d.push(bytes('\r')).text, '');
    assert.equal(d.end().text, '\n');
  });

  it('drops other control characters and colour codes but keeps tabs', () => {
    assert.equal(decodeAll(['\x1b[1;31mError\x1b[0m\tx\x07\x08\x00y\n']).text, 'Error\txy\n');
  });

  it('drops C1 controls (U+009B is a one-character CSI) and keeps the letters around them', () => {
    assert.equal(decodeAll(['a\u009b2Jb\u0085c\u00e9\n']).text, 'a2Jbc\u00e9\n');
  });
});

describe('window-title status', () => {
  it('reads running, done, error with line, REPL and version', () => {
    assert.deepEqual(parseStatusTitle('🐍code.py | 9.2.1'), { state: 'running', file: 'code.py', version: '9.2.1', raw: 'code.py | 9.2.1' });
    assert.equal(parseStatusTitle('🐍Done | 9.2.1').state, 'done');
    assert.deepEqual(parseStatusTitle('🐍192.168.1.5 | 12@code.py ValueError | 9.2.1'),
      { state: 'error', line: 12, file: 'code.py', exception: 'ValueError', version: '9.2.1', raw: '192.168.1.5 | 12@code.py ValueError | 9.2.1' });
    // Ctrl-C ends the program with a KeyboardInterrupt: stopped by the user, not an error.
    assert.deepEqual(parseStatusTitle('🐍6@code.py KeyboardInterrupt | 9.2.1'),
      { state: 'stopped', line: 6, file: 'code.py', exception: 'KeyboardInterrupt', version: '9.2.1', raw: '6@code.py KeyboardInterrupt | 9.2.1' });
    assert.equal(parseStatusTitle('🐍REPL | 9.2.1').state, 'repl');
    assert.equal(parseStatusTitle('something else').state, 'unknown');
  });
});

describe('ConsoleDecoder.pause (a quiet moment on the line)', () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  it('releases a trailing CR as a line end and drops the LF that completes it', () => {
    const d = new ConsoleDecoder();
    assert.deepEqual(d.push(enc('>>> x\r')), { text: '>>> x', statuses: [], lines: [] });
    assert.deepEqual(d.pause(), { text: '\n', statuses: [], lines: ['>>> x'] });
    assert.equal(d.push(enc('\nnext\r\n')).text, 'next\n'); // the LF of that CRLF is not a second line end
    assert.deepEqual(d.pause().text, '');
  });

  it('keeps half a UTF-8 character and an unfinished escape sequence held', () => {
    const d = new ConsoleDecoder();
    const snake = enc('🐍');
    assert.equal(d.push(snake.subarray(0, 2)).text, '');
    assert.equal(d.pause().text, '');
    assert.equal(d.push(snake.subarray(2)).text, '🐍');
    assert.equal(d.push(enc('a\x1b[3')).text, 'a');
    assert.equal(d.pause().text, '');
    assert.equal(d.push(enc('1mb')).text, 'b');
  });

  it('cuts a line that never ends into pieces of MAX_LINE_CHARS', () => {
    const d = new ConsoleDecoder();
    const out = d.push(enc('x'.repeat(MAX_LINE_CHARS * 2 + 5)));
    assert.deepEqual(out.lines.map((l) => l.length), [MAX_LINE_CHARS, MAX_LINE_CHARS]);
  });
});
