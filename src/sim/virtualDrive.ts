// The folder that plays the virtual Pico's CIRCUITPY drive: its boot_out.txt (written as the
// firmware writes it, so board discovery recognises the folder) and the snapshot of its files
// that each MicroPython VM starts from.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { CpmlError } from '../core/errors.js';
import { BOARD_ID, CP_BANNER } from './simProtocol.js';

export const BOOT_OUT = 'boot_out.txt';
/** A Pico's CIRCUITPY drive holds about 1 MB; a folder far larger is not a drive (e.g. --drive ~). */
export const MAX_DRIVE_BYTES = 16 * 1024 * 1024;
const MAX_DRIVE_FILES = 2000;

/** The chip's 8-byte unique ID as the firmware prints it: stable for a folder, different between folders. */
export function driveUid(drive: string): string {
  let path = drive;
  try {
    path = realpathSync(drive);
  } catch {
    // A folder that does not exist yet: its name is stable enough.
  }
  return createHash('sha256').update(`cpml-virtual-pico:${path}`).digest('hex').slice(0, 16).toUpperCase();
}

export function bootOutText(uid: string): string {
  return `${CP_BANNER}\nBoard ID:${BOARD_ID}\nUID:${uid}\n`;
}

/**
 * Writes boot_out.txt unless it already says the same (the firmware compares too: rewriting it
 * on every boot would wear the flash — and here trigger an auto-reload). Returns the UID.
 */
export function writeBootOut(drive: string): string {
  const uid = driveUid(drive);
  const path = join(drive, BOOT_OUT);
  const text = bootOutText(uid);
  let current: string | undefined;
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== text) writeFileSync(path, text);
  return uid;
}

/** A new empty drive folder: <tmp>/cpml-sim-XXXXXX/CIRCUITPY (the parent also holds the port link). */
export function createTempDrive(): { root: string; drive: string } {
  const root = mkdtempSync(join(tmpdir(), 'cpml-sim-'));
  const drive = join(root, 'CIRCUITPY');
  mkdirSync(drive);
  return { root, drive };
}

export function checkDriveFolder(drive: string): void {
  if (!existsSync(drive)) throw new CpmlError(`the drive folder ${drive} does not exist`, 'Create it first, or leave out --drive to use a new temporary folder');
  if (!statSync(drive).isDirectory()) throw new CpmlError(`${drive} is not a folder`, 'Pass a folder to play the CIRCUITPY drive');
}

export interface DriveEntry {
  /** Path inside the drive, '/'-separated, no leading slash. */
  path: string;
  /** undefined for a folder. */
  data?: Uint8Array;
}

/**
 * Every folder and file of the drive (folders before their contents), as a VM copies them.
 * Refuses a folder much larger than a Pico's drive; skips what cannot be read (a file being
 * replaced right now: the auto-reload that follows its write brings the new one).
 */
export function readDriveFiles(drive: string): DriveEntry[] {
  const entries: DriveEntry[] = [];
  let total = 0;
  const visit = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      const path = relative(drive, full).split(sep).join('/');
      let stats;
      try {
        stats = statSync(full);
      } catch {
        continue;
      }
      if (entries.length >= MAX_DRIVE_FILES) throw tooBig(drive, `more than ${MAX_DRIVE_FILES} files`);
      if (stats.isDirectory()) {
        entries.push({ path });
        visit(full);
      } else if (stats.isFile()) {
        total += stats.size;
        if (total > MAX_DRIVE_BYTES) throw tooBig(drive, `more than ${MAX_DRIVE_BYTES / 1024 / 1024} MB`);
        try {
          entries.push({ path, data: readFileSync(full) });
        } catch {
          // Gone or unreadable between the listing and the read.
        }
      }
    }
  };
  visit(drive);
  return entries;
}

function tooBig(drive: string, what: string): CpmlError {
  return new CpmlError(`the drive folder ${drive} holds ${what}; a Pico's CIRCUITPY drive holds about 1 MB`, 'Give the virtual Pico a folder of its own with --drive');
}
