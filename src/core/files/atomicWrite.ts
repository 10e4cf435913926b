// Writes a file so that readers (and a board that reloads on every write) see either the old
// file or the complete new one: temporary name in the same folder → fsync → rename.
//
// Only a regular file is ever replaced. `-o /dev/null` run as root used to rename a regular file
// over the device; a folder, device, FIFO or socket at the destination (or behind a symlink) is
// now refused before anything is written. A symlink to a regular file is written through: its
// target is replaced and the link stays. An existing file we may not write (no owner write bit,
// or access(W_OK) fails; root passes access(), hence the mode check) is refused unless `force`.
// A replaced file keeps its mode (and, where we may, its owner): a --force'd read-only file
// stays read-only afterwards, the override is for this one write.
import {
  accessSync, closeSync, constants, fchmodSync, fchownSync, fsyncSync, lstatSync, openSync, realpathSync, renameSync, statSync,
  unlinkSync, writeSync, type Stats,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FileError } from '../errors.js';
import { quoted } from '../text/untrustedText.js';
import { describeFsError, fileKind } from './readFileChecked.js';

export interface WriteOptions {
  /** Replace an existing file even if it is read-only (or not writable for us). */
  force?: boolean;
  /** How the caller's user asks for `force`, for the refusal's hint (e.g. 'pass --force'). */
  forceHint?: string;
}

/** What writing to `path` would replace. */
interface Destination {
  /** The path to rename onto: `path`, or the regular file a symlink at `path` points to. */
  real: string;
  /** The file being replaced, undefined when there is none yet. */
  existing?: Stats;
}

const NOTHING_WRITTEN = 'nothing was written';
/** Temporary names tried before giving up (each is random, so a clash means someone plants them). */
const TEMP_ATTEMPTS = 5;

/**
 * A temporary name next to `path`, never the same twice: an existing file there is never reused.
 * The name is cut so the temporary fits where the file does (255 bytes per name on most drives).
 */
export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path).slice(0, 64)}.cpml-tmp-${process.pid}-${randomSuffix()}`);
}

/** Unpredictable enough to avoid clashes; safety comes from the exclusive create, not from this. */
function randomSuffix(): string {
  return Math.floor(Math.random() * 2 ** 48).toString(36).padStart(10, '0');
}

export function writeFileAtomic(path: string, data: Uint8Array, options: WriteOptions = {}): void {
  const destination = checkDestination(path, options);
  const { fd, temp } = createTemporary(path, destination);
  let closed = false;
  try {
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    if (destination.existing) keepModeAndOwner(fd, destination.existing);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    // Looked at again just before the rename: what was checked may have been swapped meanwhile.
    checkDestination(path, options);
    renameSync(temp, destination.real);
  } catch (error) {
    if (!closed) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    // Only the temporary we created is removed, never a name someone else made.
    try { unlinkSync(temp); } catch { /* gone already */ }
    if (error instanceof FileError) throw error;
    throw describeFsError(error, path, 'write');
  }
  syncFolder(dirname(destination.real));
}

function checkDestination(path: string, options: WriteOptions): Destination {
  if (path === '') throw new FileError(`cannot write a file with an empty name; ${NOTHING_WRITTEN}`, path, 'Give a file name (e.g. model.bin)');
  if (path.endsWith('/') || (process.platform === 'win32' && path.endsWith('\\'))) {
    throw new FileError(`cannot write ${quoted(path, 500)}: that is a folder path, not a file name; ${NOTHING_WRITTEN}`, path,
      'Give the file name too (e.g. out/model.bin)');
  }
  const link = statOrUndefined(() => lstatSync(path), path);
  if (!link) return { real: path };
  let real = path;
  let stats = link;
  if (link.isSymbolicLink()) {
    const target = statOrUndefined(() => statSync(path), path);
    if (!target) {
      throw new FileError(`cannot write ${quoted(path, 500)}: it is a symbolic link to a file that does not exist; ${NOTHING_WRITTEN}`, path,
        'Remove the link or write to its target path');
    }
    stats = target;
    if (stats.isFile()) real = realpath(path);
  }
  if (!stats.isFile()) {
    const through = link.isSymbolicLink() ? 'a symbolic link to ' : '';
    throw new FileError(`cannot write ${quoted(path, 500)}: it is ${through}${fileKind(stats)}, not a regular file; ${NOTHING_WRITTEN}`, path,
      'Choose a path for a regular file (e.g. model.bin)');
  }
  if (!options.force) {
    const problem = whyNotWritable(real, stats);
    if (problem) {
      throw new FileError(`${quoted(path, 500)} already exists and ${problem}; ${NOTHING_WRITTEN}`, path,
        `Make it writable (chmod u+w) or delete it${options.forceHint ? `, or ${options.forceHint}` : ''}`);
    }
  }
  return { real, existing: stats };
}

/**
 * Why an existing file is not ours to replace, or undefined: the owner write bit is clear (root
 * would write anyway; a read-only mark is the owner's wish) or access(W_OK) fails for us.
 */
function whyNotWritable(path: string, stats: Stats): string | undefined {
  const mode = (stats.mode & 0o7777).toString(8).padStart(4, '0');
  if ((stats.mode & 0o200) === 0) return `is read-only (mode ${mode})`;
  try {
    accessSync(path, constants.W_OK);
    return undefined;
  } catch {
    return `is not writable for this user (mode ${mode}, owner ${stats.uid})`;
  }
}

/**
 * Creates the temporary exclusively ('wx': O_CREAT | O_EXCL), so a symlink or file planted at
 * its name is never followed or overwritten. Mode 0600 while it is written; keepModeAndOwner
 * gives it the replaced file's mode; a new file gets the usual 0666 less the umask.
 */
function createTemporary(path: string, destination: Destination): { fd: number; temp: string } {
  const mode = destination.existing ? 0o600 : 0o666;
  for (let attempt = 1; ; attempt++) {
    const temp = temporaryPathFor(destination.real);
    try {
      return { fd: openSync(temp, 'wx', mode), temp };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && attempt < TEMP_ATTEMPTS) continue;
      if (code === 'ENOENT') {
        throw new FileError(`cannot write ${quoted(path, 500)}: the folder ${quoted(dirname(destination.real), 500)} does not exist`, path,
          'Create the folder first, or choose another path');
      }
      throw describeFsError(error, path, 'write');
    }
  }
}

/** The permission bits are kept; setuid, setgid and sticky are not (a blob is no program, and root may be the writer). */
function keepModeAndOwner(fd: number, existing: Stats): void {
  fchmodSync(fd, existing.mode & 0o777);
  if (process.getuid && (existing.uid !== process.getuid() || existing.gid !== process.getgid?.())) {
    try {
      fchownSync(fd, existing.uid, existing.gid);
    } catch {
      // Only root may give a file away; an ordinary user's replacement is theirs.
    }
  }
}

/** fsync of the folder makes the rename itself durable; not possible everywhere (Windows), so best effort. */
function syncFolder(folder: string): void {
  try {
    const fd = openSync(folder, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The file is complete either way; only its survival of a power cut right now is at stake.
  }
}

function statOrUndefined(stat: () => Stats, path: string): Stats | undefined {
  try {
    return stat();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw describeFsError(error, path, 'write');
  }
}

function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch (error) {
    throw describeFsError(error, path, 'write');
  }
}
