// Turns the raw byte stream of CircuitPython's serial console into clean text: UTF-8 split
// across reads is joined, ANSI/OSC control sequences are removed (the window-title OSC is
// reported separately: it carries the run state), line endings become "\n", and complete lines
// are cut out (a line that never ends is cut every MAX_LINE_CHARS so it cannot fill memory).
// The serial session only moves bytes; everything about their meaning is here.
import { parseStatusTitle, type BoardStatus } from './statusTitle.js';

export interface DecodedOutput {
  text: string;
  /** Window-title status updates seen in this chunk, in order. */
  statuses: BoardStatus[];
  /** Lines completed by this chunk (without "\n"). */
  lines: string[];
}

/** A line longer than this is emitted in pieces: a board that never prints "\n" must not fill memory. */
export const MAX_LINE_CHARS = 64 * 1024;

const ESC = '\x1b';
const BEL = '\x07';

export class ConsoleDecoder {
  private utf8 = new TextDecoder('utf-8');
  /** An incomplete escape sequence or a trailing "\r" held until the next chunk. */
  private pending = '';
  /** pause() released a "\r" as a line end: a "\n" arriving next completes that CRLF and is dropped. */
  private dropNextLf = false;
  private partialLine = '';

  push(bytes: Uint8Array): DecodedOutput {
    let text = this.utf8.decode(bytes, { stream: true });
    if (this.dropNextLf && text) {
      this.dropNextLf = false;
      if (text[0] === '\n') text = text.slice(1);
    }
    return this.lines(this.process(this.pending + text, false));
  }

  /**
   * A pause in the stream: release a trailing "\r" the decoder holds back (it may or may not be
   * followed by "\n"), so a prompt or a progress line does not stay hidden. An unfinished
   * escape sequence or UTF-8 character stays held: its rest is on the way, however slowly.
   */
  pause(): DecodedOutput {
    if (this.pending !== '\r') return { text: '', statuses: [], lines: [] };
    this.pending = '';
    this.dropNextLf = true;
    return this.lines({ text: '\n', statuses: [] });
  }

  /** The stream ended (port lost or closed): release everything held, even a broken character. */
  end(): DecodedOutput {
    const out = this.process(this.pending + this.utf8.decode(), true);
    this.utf8 = new TextDecoder('utf-8');
    this.dropNextLf = false;
    return this.lines(out); // an unfinished line stays: the board may go on with it after a reconnect
  }

  private lines(out: { text: string; statuses: BoardStatus[] }): DecodedOutput {
    const lines: string[] = [];
    if (out.text) {
      const parts = (this.partialLine + out.text).split('\n');
      this.partialLine = parts.pop() ?? '';
      lines.push(...parts);
      while (this.partialLine.length > MAX_LINE_CHARS) {
        lines.push(this.partialLine.slice(0, MAX_LINE_CHARS));
        this.partialLine = this.partialLine.slice(MAX_LINE_CHARS);
      }
    }
    return { ...out, lines };
  }

  private process(input: string, final: boolean): { text: string; statuses: BoardStatus[] } {
    this.pending = '';
    let text = '';
    const statuses: BoardStatus[] = [];
    let i = 0;
    while (i < input.length) {
      const ch = input[i];
      if (ch === ESC) {
        const end = escapeEnd(input, i);
        if (end === -1) {
          if (!final) this.pending = input.slice(i);
          break;
        }
        if (input[i + 1] === ']') {
          const body = input.slice(i + 2, input[end - 1] === BEL ? end - 1 : end - 2);
          const title = /^[02];(.*)$/s.exec(body);
          if (title) statuses.push(parseStatusTitle(title[1]));
        }
        i = end;
        continue;
      }
      if (ch === '\r') {
        if (i + 1 === input.length && !final) {
          this.pending = '\r';
          break;
        }
        text += '\n';
        i += input[i + 1] === '\n' ? 2 : 1;
        continue;
      }
      const code = ch.charCodeAt(0);
      // Keep newlines and tabs; drop other C0 controls (bell, backspace, NUL), DEL, and C1
      // controls (U+0080–U+009F: U+009B is a one-character CSI to many terminals).
      if ((code >= 0x20 && code !== 0x7f && (code < 0x80 || code > 0x9f)) || ch === '\n' || ch === '\t') text += ch;
      i++;
    }
    return { text, statuses };
  }
}

/** Index just past the escape sequence starting at `start`, or -1 if it is incomplete. */
function escapeEnd(s: string, start: number): number {
  const kind = s[start + 1];
  if (kind === undefined) return -1;
  if (kind === '[') {
    // CSI: parameter and intermediate bytes, then one final byte 0x40–0x7E.
    for (let j = start + 2; j < s.length; j++) {
      const c = s.charCodeAt(j);
      if (c >= 0x40 && c <= 0x7e) return j + 1;
      if (c < 0x20 || c > 0x3f) return j; // malformed: drop what we have
    }
    return -1;
  }
  if (kind === ']') {
    // OSC: up to BEL or ESC \ (string terminator). Titles are short; give up after 512 chars.
    for (let j = start + 2; j < s.length; j++) {
      if (s[j] === BEL) return j + 1;
      if (s[j] === ESC) {
        if (j + 1 === s.length) return -1;
        return s[j + 1] === '\\' ? j + 2 : j;
      }
      if (j - start > 512) return j;
    }
    return -1;
  }
  return start + 2; // two-character escape (e.g. ESC c, ESC 7)
}
