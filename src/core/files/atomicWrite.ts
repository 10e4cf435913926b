// Writes a file so that readers (and a board that reloads on every write) see either the old
// file or the complete new one: temporary name in the same folder → fsync → rename.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describeFsError } from './readFileChecked.js';

export function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.cpml-tmp-${process.pid}`);
}

export function writeFileAtomic(path: string, data: Uint8Array): void {
  const temp = temporaryPathFor(path);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w');
    let written = 0;
    while (written < data.length) written += writeSync(fd, data, written, data.length - written);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (error) {
    if (fd !== undefined) {
      try { closeSync(fd); } catch { /* already failing */ }
    }
    rmSync(temp, { force: true });
    throw describeFsError(error, path, 'write');
  }
}
