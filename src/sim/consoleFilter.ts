// Turns what MicroPython's WebAssembly build prints into what CircuitPython on a Pico prints:
//  - its REPL banner ("MicroPython v1.27.0 on …; JS with Emscripten" + 'Type "help()" …')
//    becomes the firmware's one-line banner;
//  - traceback frames of the virtual board's own Python modules (cnn_helper, the time and gc
//    shims, the import guard: all under /proc/cpml) are left out, as frames of the firmware's
//    C modules never appear;
//  - a "\n" without "\r" becomes "\r\n" (CircuitPython's console writes CRLF).
// Works on a stream of latin1 strings (one char per byte), line by line: a line that might
// still become one of those is held back until it is complete or the stream is flushed.
import { CP_BANNER } from './simProtocol.js';

/** Where the virtual board keeps its Python modules (sys.path's last entry). */
export const SHIM_DIR = '/proc/cpml';

const FRAME_PREFIX = `  File "${SHIM_DIR}/`;
const MP_BANNER = /^MicroPython v\S+ on \S+; JS with Emscripten\r?$/;
const MP_HELP = /^Type "help\(\)" for more information\.\r?$/;
const HOLD_PREFIXES = [FRAME_PREFIX, 'MicroPython v', 'Type "help()"'];

export class ConsoleFilter {
  /** The unfinished last line, held back. */
  private tail = '';
  private lastEmitted = '';

  /** Text that can go out now. */
  push(text: string): string {
    const lines = (this.tail + text).split('\n');
    this.tail = lines.pop() ?? '';
    let out = '';
    for (const line of lines) out += this.line(line, true);
    if (this.tail && !HOLD_PREFIXES.some((p) => p.startsWith(this.tail) || this.tail.startsWith(p))) {
      out += this.crlf(this.tail);
      this.tail = '';
    }
    return out;
  }

  /** Everything held back (the stream has paused: a prompt must not stay hidden). */
  flush(): string {
    const tail = this.tail;
    this.tail = '';
    return tail ? this.line(tail, false) : '';
  }

  private line(line: string, complete: boolean): string {
    if (line.startsWith(FRAME_PREFIX)) return '';
    if (complete && MP_BANNER.test(line)) return this.crlf(`${CP_BANNER}\r\n`);
    if (complete && MP_HELP.test(line)) return '';
    return this.crlf(complete ? `${line}\n` : line);
  }

  private crlf(text: string): string {
    let out = '';
    let previous = this.lastEmitted;
    for (const ch of text) {
      if (ch === '\n' && previous !== '\r') out += '\r';
      out += ch;
      previous = ch;
    }
    if (out) this.lastEmitted = out[out.length - 1];
    return out;
  }
}
