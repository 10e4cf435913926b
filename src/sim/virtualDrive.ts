// The folder that plays the virtual Pico's CIRCUITPY drive: its boot_out.txt (written as the
// firmware writes it, so board discovery recognises the folder) and the snapshot of its files
// that each MicroPython VM starts from.
import { createHash } from 'node:crypto';
import { accessSync, closeSync, constants, type BigIntStats, lstatSync, mkdtempSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, writeSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { CpmlError } from '../core/errors.js';
import { readFileChecked } from '../core/files/readFileChecked.js';
import { quoted } from '../core/text/untrustedText.js';
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
    current = lstatSync(path).isFile() ? readFileSync(path, 'utf8') : undefined;
  } catch {
    current = undefined;
  }
  if (current !== text) {
    // O_NOFOLLOW: a boot_out.txt that became a symbolic link is not written through.
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | (constants.O_NOFOLLOW ?? 0), 0o644);
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  }
  return uid;
}

/** A new empty drive folder: <tmp>/cpml-sim-XXXXXX/CIRCUITPY (the parent also holds the port link). */
export function createTempDrive(): { root: string; drive: string } {
  const root = mkdtempSync(join(tmpdir(), 'cpml-sim-'));
  const drive = join(root, 'CIRCUITPY');
  mkdirSync(drive);
  return { root, drive };
}

/** Folders that are never a drive: what the virtual Pico writes (boot_out.txt) must not land there. */
function systemFolder(real: string): boolean {
  const home = realOr(homedir());
  const temp = realOr(tmpdir());
  if (dirname(real) === real || real === home || real === temp) return true;
  if (process.platform === 'win32') return /^[a-z]:\\(windows|program files( \(x86\))?|programdata|users)(\\|$)/i.test(real) && !real.toLowerCase().startsWith(home.toLowerCase() + sep);
  // Every folder right under / (/media, /mnt, /lost+found, /snap …) and the folders drives are mounted in.
  if (dirname(real) === '/' || /^\/(media|run\/media)\/[^/]+$/.test(real)) return true;
  return /^\/(bin|boot|dev|etc|lib|lib32|lib64|nix|opt|proc|root|run|sbin|snap|srv|sys|usr|var|System|Library|Applications|Users|home|private)(\/|$)/.test(real)
    && !real.startsWith(home + sep) && !real.startsWith(temp + sep) && !real.startsWith(realOr('/tmp') + sep);
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** What CircuitPython runs, in this order: a folder holding one of them is a CircuitPython project. */
export const PROGRAM_FILES = ['code.txt', 'code.py', 'main.py', 'main.txt'] as const;

/**
 * A folder the virtual Pico may use as its drive: it exists, can be read and written, is not a
 * system or home folder, and is empty, already a drive (has a boot_out.txt, which must be a
 * regular file: written through a symbolic link it would land outside) or a CircuitPython
 * project (has a code.py or another program file at its top). Anything else is refused with the
 * reason: the virtual Pico writes boot_out.txt into it.
 */
export function checkDriveFolder(drive: string): void {
  const where = quoted(drive, 300);
  const hint = 'Give the virtual Pico an empty folder of its own with --drive, or leave --drive out to use a new temporary folder';
  let stats;
  try {
    stats = statSync(drive);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw new CpmlError(`permission denied: ${where} (the virtual Pico cannot use it as its drive)`, hint);
    throw new CpmlError(`the drive folder ${where} does not exist`, 'Create it first, or leave out --drive to use a new temporary folder');
  }
  if (!stats.isDirectory()) throw new CpmlError(`${where} is not a folder`, 'Pass a folder to play the CIRCUITPY drive');
  const real = realOr(drive);
  if (systemFolder(real)) throw new CpmlError(`${where} is a system or home folder, not a drive: the virtual Pico writes boot_out.txt into its drive`, hint);
  let names: string[];
  try {
    names = readdirSync(drive);
    accessSync(drive, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new CpmlError(code === 'EACCES' || code === 'EPERM' ? `permission denied: ${where} (the virtual Pico must read and write its drive folder)` : `cannot read the drive folder ${where}: ${(error as Error).message}`, hint);
  }
  if (names.includes(BOOT_OUT)) {
    const boot = lstatSync(join(drive, BOOT_OUT));
    if (!boot.isFile()) throw new CpmlError(`${where} has a ${BOOT_OUT} that is not a regular file (${boot.isSymbolicLink() ? 'a symbolic link' : 'a folder or device'}); the virtual Pico will not write through it`, hint);
  } else if (names.length && !PROGRAM_FILES.some((name) => names.includes(name))) {
    throw new CpmlError(`${where} is not empty and has neither a ${BOOT_OUT} nor a code.py, so it is not a CIRCUITPY drive or a CircuitPython project; the virtual Pico would write ${BOOT_OUT} into it`, hint);
  }
}

export interface DriveEntry {
  /** Path inside the drive, '/'-separated, no leading slash. */
  path: string;
  /** undefined for a folder. */
  data?: Uint8Array;
}

/**
 * Every folder and regular file of the drive (folders before their contents), as a VM copies
 * them. Symbolic links, devices and FIFOs are left out (a program sees only the drive). Refuses a
 * folder much larger than a Pico's drive; skips what cannot be read (a file being replaced right
 * now: the auto-reload that follows its write brings the new one).
 */
export function readDriveFiles(drive: string): DriveEntry[] {
  const entries: DriveEntry[] = [];
  let total = 0;
  const root = realOr(drive);
  const visit = (dir: string) => {
    let names: string[];
    try {
      // The folder must still be the drive's (not swapped for a link since it was listed).
      if (!isInside(root, realpathSync(dir))) return;
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const full = join(dir, name);
      const path = relative(drive, full).split(sep).join('/');
      let stats;
      try {
        // Not followed: a symbolic link (which a FAT drive cannot hold) could lead anywhere on this computer.
        stats = lstatSync(full, { bigint: true });
      } catch {
        continue;
      }
      if (entries.length >= MAX_DRIVE_FILES) throw tooBig(drive, `more than ${MAX_DRIVE_FILES} files`);
      if (stats.isDirectory()) {
        entries.push({ path });
        visit(full);
      } else if (stats.isFile()) {
        total += Number(stats.size);
        if (total > MAX_DRIVE_BYTES) throw tooBig(drive, `more than ${MAX_DRIVE_BYTES / 1024 / 1024} MB`);
        const data = readDriveFile(root, full, stats, MAX_DRIVE_BYTES - total + Number(stats.size));
        if (data) entries.push({ path, data });
      }
    }
  };
  visit(drive);
  return entries;
}

const isInside = (root: string, real: string) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);

/**
 * The file a listing found at `full` (with `seen`, its lstat then), if it is still that file and
 * inside the drive whose real path is `root`: a name swapped for a link (or a folder above it
 * swapped) between the look and the open is not read. undefined when it is gone, unreadable or
 * swapped.
 */
export function readDriveFile(root: string, full: string, seen: BigIntStats, maxBytes: number): Uint8Array | undefined {
  try {
    return readFileChecked(full, {
      maxBytes, what: 'drive file', noFollow: true,
      verify: (opened, fd) => {
        if (opened.dev !== seen.dev || opened.ino !== seen.ino || !isInside(root, openedPath(fd) ?? realpathSync(full))) throw new Error('swapped');
      },
    });
  } catch {
    return undefined;
  }
}

/** The path the kernel has for an open file (Linux); undefined where it cannot tell. */
function openedPath(fd: number): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined;
  }
}

function tooBig(drive: string, what: string): CpmlError {
  return new CpmlError(`the drive folder ${quoted(drive, 300)} holds ${what}; a Pico's CIRCUITPY drive holds about 1 MB`, 'Give the virtual Pico a folder of its own with --drive');
}
