// Reading user files with errors that name the file and say what to do.
import { readFileSync } from 'node:fs';
import { FileError } from '../errors.js';

export function describeFsError(error: unknown, path: string, verb: string): FileError {
  const code = (error as NodeJS.ErrnoException)?.code;
  switch (code) {
    case 'ENOENT': return new FileError(`cannot ${verb} ${path}: no such file`, path, 'Check the path');
    case 'EISDIR': return new FileError(`cannot ${verb} ${path}: it is a folder, not a file`, path);
    case 'EACCES': case 'EPERM': return new FileError(`cannot ${verb} ${path}: permission denied`, path, 'Check the file\'s permissions');
    case 'ENOSPC': return new FileError(`cannot ${verb} ${path}: the drive is full`, path, 'Free some space and try again');
    case 'EROFS': return new FileError(`cannot ${verb} ${path}: the drive is read-only`, path);
    default: return new FileError(`cannot ${verb} ${path}: ${(error as Error)?.message ?? String(error)}`, path);
  }
}

export function readFileChecked(path: string): Uint8Array {
  try {
    const buffer = readFileSync(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (error) {
    throw describeFsError(error, path, 'read');
  }
}
