// boot_out.txt, written by CircuitPython at the root of its drive on every boot:
//   Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040
//   Board ID:raspberry_pi_pico
//   UID:E66038B7137F6F2A
// (optionally MAC:…, then "boot.py output:" and whatever boot.py printed).

export interface BootInfo {
  /** e.g. "9.2.1". */
  version: string;
  /** Build date, e.g. "2024-11-20". */
  date?: string;
  /** e.g. "Raspberry Pi Pico". */
  boardName: string;
  /** e.g. "rp2040". */
  chip?: string;
  /** e.g. "raspberry_pi_pico". */
  boardId?: string;
  /** The chip's unique ID, upper-case hex: equals the USB serial number. */
  uid?: string;
  mac?: string;
}

const FIRST_LINE = /^(?:Adafruit )?CircuitPython (\S+?)(?: on (\S+?))?;\s*(.+?)(?: with (\S+))?\s*$/;

/** undefined when the text is not a CircuitPython boot_out.txt. */
export function parseBootOut(text: string): BootInfo | undefined {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const m = FIRST_LINE.exec(lines[0] ?? '');
  if (!m) return undefined;
  const info: BootInfo = { version: m[1], date: m[2], boardName: m[3].trim(), chip: m[4] };
  for (const line of lines.slice(1)) {
    if (/^boot\.py output:/.test(line)) break;
    const kv = /^([A-Za-z ]+):\s*(.*?)\s*$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv;
    if (key === 'Board ID') info.boardId = value;
    else if (key === 'UID') info.uid = value.toUpperCase();
    else if (key === 'MAC') info.mac = value;
  }
  return info;
}
