// What MicroPython's WebAssembly build prints, made to read like CircuitPython's console.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConsoleFilter } from '../../src/sim/consoleFilter.js';

const BANNER = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040';

/** Feeds the text one character at a time (as the VM prints it), then flushes. */
function filterBytewise(text: string): string {
  const filter = new ConsoleFilter();
  let out = '';
  for (const ch of text) out += filter.push(ch);
  return out + filter.flush();
}

describe('console filter', () => {
  it('ends lines with CRLF, once', () => {
    assert.equal(filterBytewise('a\nb\r\nc\n'), 'a\r\nb\r\nc\r\n');
    const filter = new ConsoleFilter();
    assert.equal(filter.push('x\r') + filter.push('\ny\n'), 'x\r\ny\r\n');
  });

  it('replaces MicroPython\'s banner with the firmware\'s', () => {
    assert.equal(
      filterBytewise('\r\nMicroPython v1.27.0 on 2025-12-10; JS with Emscripten\r\nType "help()" for more information.\r\n>>> '),
      `\r\n${BANNER}\r\n>>> `,
    );
  });

  it('leaves the virtual board\'s own frames out of tracebacks', () => {
    const traceback = [
      'Traceback (most recent call last):',
      '  File "code.py", line 7, in <module>',
      '  File "/proc/cpml/cnn_helper.py", line 30, in load_model',
      '  File "/proc/cpml/cnn_helper.py", line 16, in _raise',
      'MemoryError: memory allocation failed, allocating 7312 bytes',
      '',
    ].join('\n');
    assert.equal(filterBytewise(traceback), 'Traceback (most recent call last):\r\n  File "code.py", line 7, in <module>\r\nMemoryError: memory allocation failed, allocating 7312 bytes\r\n');
  });

  it('does not hold back a prompt or a partial line that cannot be one of those', () => {
    const filter = new ConsoleFilter();
    assert.equal(filter.push('>>> '), '>>> ');
    assert.equal(filter.push('name? '), 'name? ');
    assert.equal(filter.push('  Fi'), '', 'could still become a hidden frame');
    assert.equal(filter.push('ne\n'), '  Fine\r\n');
    assert.equal(filter.push('  File "/proc'), '');
    assert.equal(filter.flush(), '  File "/proc', 'a pause releases what is held');
  });
});
