// Which USB devices are boards we can talk to, from their vendor and product IDs
// (docs/circuitpython-board.md). IDs are compared as numbers: operating systems print the hex
// in different case and with or without "0x".

export type UsbDeviceKind = 'circuitpython' | 'bootloader' | 'micropython';

export interface UsbIdentity {
  kind: UsbDeviceKind;
  /** A name for people, e.g. "Raspberry Pi Pico". */
  name: string;
}

export interface UsbIdPair {
  vid: number;
  pid: number;
}

const KNOWN: ReadonlyArray<UsbIdPair & UsbIdentity> = [
  { vid: 0x239a, pid: 0x80f4, kind: 'circuitpython', name: 'Raspberry Pi Pico' },
  { vid: 0x239a, pid: 0x8120, kind: 'circuitpython', name: 'Raspberry Pi Pico W' },
  { vid: 0x2e8a, pid: 0x000b, kind: 'circuitpython', name: 'Raspberry Pi Pico 2' },
  { vid: 0x239a, pid: 0x8162, kind: 'circuitpython', name: 'Raspberry Pi Pico 2 W' },
  { vid: 0x2e8a, pid: 0x0003, kind: 'bootloader', name: 'RP2040 in BOOTSEL mode' },
  { vid: 0x2e8a, pid: 0x000f, kind: 'bootloader', name: 'RP2350 in BOOTSEL mode' },
  { vid: 0x2e8a, pid: 0x0005, kind: 'micropython', name: 'Pico running MicroPython' },
];

/** Adafruit's vendor ID: every board that uses it runs CircuitPython. */
const ADAFRUIT_VID = 0x239a;

/** Parses "239a", "0x239A", "239A" → 0x239a; undefined for anything else. */
export function parseHexId(text: string | number | undefined | null): number | undefined {
  if (typeof text === 'number') return Number.isInteger(text) && text >= 0 && text <= 0xffff ? text : undefined;
  if (!text) return undefined;
  const m = /^\s*(?:0x)?([0-9a-f]{1,4})\s*$/i.exec(text);
  return m ? parseInt(m[1], 16) : undefined;
}

/** Parses the "extra pairs" setting: ["1234:5678", "0x1234:0xabcd"]. Invalid entries are returned separately. */
export function parseIdPairs(entries: readonly string[]): { pairs: UsbIdPair[]; invalid: string[] } {
  const pairs: UsbIdPair[] = [];
  const invalid: string[] = [];
  for (const entry of entries) {
    const [v, p, ...rest] = entry.split(':');
    const vid = parseHexId(v), pid = parseHexId(p);
    if (vid === undefined || pid === undefined || rest.length) invalid.push(entry);
    else pairs.push({ vid, pid });
  }
  return { pairs, invalid };
}

export function identifyUsbDevice(vidText: string | number | undefined, pidText: string | number | undefined, extra: readonly UsbIdPair[] = []): UsbIdentity | undefined {
  const vid = parseHexId(vidText), pid = parseHexId(pidText);
  if (vid === undefined || pid === undefined) return undefined;
  const known = KNOWN.find((k) => k.vid === vid && k.pid === pid);
  if (known) return { kind: known.kind, name: known.name };
  if (extra.some((e) => e.vid === vid && e.pid === pid)) return { kind: 'circuitpython', name: 'CircuitPython board' };
  if (vid === ADAFRUIT_VID) return { kind: 'circuitpython', name: 'CircuitPython board' };
  return undefined;
}

export function formatUsbId(vid: number, pid: number): string {
  const hex = (n: number) => n.toString(16).padStart(4, '0');
  return `${hex(vid)}:${hex(pid)}`;
}
