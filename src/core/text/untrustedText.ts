// Text that came from outside (ONNX node and tensor names, file names, board output) reaches
// terminals, the log and VS Code's UI inside our messages. A terminal obeys control characters:
// ESC [2J clears the screen, an OSC sets the window title, U+009B is a one-character CSI. So
// every message that quotes such text escapes them, and quoted names and lists are capped so a
// hostile model cannot print megabytes.

/** Longest quoted name; longer ones are cut with an ellipsis. */
export const MAX_QUOTED_CHARS = 200;
/** Items of a list shown before "… and N more". */
export const MAX_LISTED_ITEMS = 10;
/** Longest user-facing message (one paragraph on stderr, a notification). */
export const MAX_MESSAGE_CHARS = 2000;

/**
 * C0 controls, DEL and C1 controls; the line and paragraph separators (U+2028, U+2029: line
 * breaks to some terminals and editors); and the bidirectional marks, overrides and isolates that
 * make text read differently from what it is (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069).
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex -- as above
const CONTROL_EXCEPT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  if (ch === '\n') return '\\n';
  if (ch === '\r') return '\\r';
  if (ch === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** Every control character as a visible escape (`\x1b`, `\u009b`), newline and tab included. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, escapeChar);
}

/** For whole messages: control characters escaped, but the message's own newlines and tabs kept. */
export function escapeControlsInMessage(text: string): string {
  return text.replace(CONTROL_EXCEPT_LAYOUT, escapeChar);
}

/** Cuts to `max` characters (not inside a surrogate pair), marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/** A name from untrusted input, safe to print: controls escaped, capped at MAX_QUOTED_CHARS. */
export function safeName(name: string, max = MAX_QUOTED_CHARS): string {
  return truncate(escapeControls(name), max);
}

/** safeName in single quotes: 'conv1'. */
export function quoted(name: string, max = MAX_QUOTED_CHARS): string {
  return `'${safeName(name, max)}'`;
}

/** "a, b, c" — or the first MAX_LISTED_ITEMS and "… and N more". */
export function listSome(items: readonly string[], max = MAX_LISTED_ITEMS): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')} … and ${items.length - max} more`;
}

/**
 * JSON for a terminal: JSON.stringify escapes C0 controls but leaves DEL, C1 controls, the line
 * separators and the bidi marks as they are; those become \u escapes (still the same JSON value).
 */
export function jsonForTerminal(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
