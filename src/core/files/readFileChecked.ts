// Reading user files with errors that name the file and say what to do. Only regular files are
// read, and only up to a size: a model path may as well be /dev/zero (which never ends), a FIFO
// (whose open blocks until someone writes) or a 40 GB file. The file is opened without blocking
// and checked with fstat on the open descriptor, so it cannot be swapped between check and read.
import { closeSync, constants, fstatSync, openSync, readSync, promises as fsp, type BigIntStats, type Stats } from 'node:fs';
import { FileError } from '../errors.js';
import { quoted } from '../text/untrustedText.js';

/** Largest file read by default: far above any model a Pico can hold (its flash is 2–16 MB). */
export const DEFAULT_MAX_FILE_BYTES = 256 * 1024 * 1024;

/** O_NONBLOCK: opening a FIFO must not wait for a writer (no effect on regular files; 0 on Windows). */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

export interface ReadLimits {
  /** Refuse files larger than this many bytes. */
  maxBytes?: number;
  /** What the file is, for messages ("model", "sample input"). */
  what?: string;
  /** The refusal of a file over maxBytes, when the reason deserves better words than a number. */
  tooLarge?: (size: number, max: number) => FileError;
  /** Refuse a symbolic link at the path itself instead of following it (O_NOFOLLOW). */
  noFollow?: boolean;
  /** Checks the file actually opened (its fstat, and the open descriptor): throws when it is not the one checked before (swapped meanwhile). */
  verify?: (stats: BigIntStats, fd: number) => void;
}

function linkRefused(error: unknown, path: string, limits: ReadLimits): FileError | undefined {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (!limits.noFollow || (code !== 'ELOOP' && code !== 'EMLINK')) return undefined;
  return new FileError(`${quoted(path, 500)} is a symbolic link, which is not read through here`, path, 'Replace the link with the file itself');
}

const openFlags = (limits: ReadLimits) => OPEN_FLAGS | (limits.noFollow ? constants.O_NOFOLLOW ?? 0 : 0);

export function describeFsError(error: unknown, path: string, verb: string): FileError {
  const code = (error as NodeJS.ErrnoException)?.code;
  const where = quoted(path, 500);
  switch (code) {
    case 'ENOENT': return new FileError(`cannot ${verb} ${where}: no such file or folder`, path, 'Check the path');
    case 'ENOTDIR': return new FileError(`cannot ${verb} ${where}: a part of the path is a file, not a folder`, path, 'Check the path');
    case 'EISDIR': return new FileError(`cannot ${verb} ${where}: it is a folder, not a file`, path);
    case 'EACCES': case 'EPERM': return new FileError(`permission denied: ${where} (cannot ${verb} it)`, path,
      'Check its permissions and those of the folders above it, or choose a path you may use');
    case 'ENOSPC': return new FileError(`cannot ${verb} ${where}: the drive is full`, path, 'Free some space and try again');
    case 'EROFS': return new FileError(`cannot ${verb} ${where}: the drive is read-only`, path);
    case 'ELOOP': return new FileError(`cannot ${verb} ${where}: too many symbolic links`, path, 'Check the path');
    case 'ENXIO': return new FileError(`cannot ${verb} ${where}: it is a socket or a device that is not there, not a regular file`, path,
      'Pass a regular file');
    case 'ENAMETOOLONG': return new FileError(`cannot ${verb} ${where}: the path is too long`, path);
    case 'EMFILE': case 'ENFILE': return new FileError(`cannot ${verb} ${where}: too many open files`, path, 'Close some programs and try again');
    default: return new FileError(`cannot ${verb} ${where}: ${(error as Error)?.message ?? String(error)}`, path);
  }
}

/** What a non-regular file is, for messages: 'a FIFO (named pipe)', 'a character device', … */
export function fileKind(stats: Stats): string {
  return stats.isDirectory() ? 'a folder' : stats.isFIFO() ? 'a FIFO (named pipe)' : stats.isCharacterDevice() ? 'a character device'
    : stats.isBlockDevice() ? 'a block device' : stats.isSocket() ? 'a socket' : stats.isSymbolicLink() ? 'a symbolic link'
      : stats.isFile() ? 'a regular file' : 'not a regular file';
}

/** Refuses what is not a regular file, or is larger than `maxBytes`. */
export function checkRegularFile(stats: Stats, path: string, limits: ReadLimits = {}): void {
  const what = limits.what ?? 'file';
  if (stats.isDirectory()) throw new FileError(`cannot read ${quoted(path, 500)}: it is a folder, not a ${what}`, path);
  if (!stats.isFile()) {
    throw new FileError(`cannot read ${quoted(path, 500)}: it is ${fileKind(stats)}, not a ${what} file`, path, 'Pass a regular file');
  }
  const max = limits.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (stats.size > max && limits.tooLarge) throw limits.tooLarge(stats.size, max);
  if (stats.size > max) {
    throw new FileError(`cannot read ${quoted(path, 500)}: it has ${stats.size} bytes, more than the ${max} bytes a ${what} may have`, path,
      'Check that this is the right file');
  }
}

export function readFileChecked(path: string, limits: ReadLimits = {}): Uint8Array {
  let fd: number | undefined;
  try {
    fd = openSync(path, openFlags(limits));
    const stats = fstatSync(fd);
    checkRegularFile(stats, path, limits);
    limits.verify?.(fstatSync(fd, { bigint: true }), fd);
    // The size may change while reading: read what is there, never past the limit.
    const max = limits.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    let buffer = new Uint8Array(stats.size);
    let done = 0;
    for (;;) {
      if (done === buffer.length) {
        if (buffer.length >= max) break;
        const grown = new Uint8Array(Math.min(max, Math.max(4096, buffer.length * 2)));
        grown.set(buffer);
        buffer = grown;
      }
      const n = readSync(fd, buffer, done, buffer.length - done, null);
      if (n === 0) break;
      done += n;
    }
    return done === buffer.length ? buffer : buffer.slice(0, done);
  } catch (error) {
    if (error instanceof FileError) throw error;
    throw linkRefused(error, path, limits) ?? describeFsError(error, path, 'read');
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * readFileChecked for async callers (deploy): the same checks without blocking the thread, and
 * optionally no symbolic link followed and the opened file verified against an earlier look.
 */
export async function readFileCheckedAsync(path: string, options: ReadLimits = {}): Promise<Uint8Array> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(path, openFlags(options));
    const stats = await handle.stat();
    checkRegularFile(stats, path, options);
    options.verify?.(await handle.stat({ bigint: true }), handle.fd);
    // Read what is there, never past the limit (the file may grow meanwhile).
    const buffer = new Uint8Array(Math.min(stats.size, options.maxBytes ?? DEFAULT_MAX_FILE_BYTES));
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await handle.read(buffer, done, buffer.length - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === buffer.length ? buffer : buffer.slice(0, done);
  } catch (error) {
    if (error instanceof FileError) throw error;
    throw linkRefused(error, path, options) ?? describeFsError(error, path, 'read');
  } finally {
    await handle?.close();
  }
}
