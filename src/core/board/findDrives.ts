// CIRCUITPY drives: folders that hold a CircuitPython boot_out.txt.
import { basename, join } from 'node:path';
import { parseBootOut, type BootInfo } from './bootOut.js';
import { candidateDriveFolders, realFileSystem, type FileSystemView } from './mountTable.js';

export interface CircuitPyDrive {
  path: string;
  /** Volume label as far as we can tell (the folder name; users can rename the volume). */
  label: string;
  boot: BootInfo;
}

/** A folder is a CircuitPython drive if its boot_out.txt parses. */
export function readDrive(path: string, fs: FileSystemView = realFileSystem()): CircuitPyDrive | undefined {
  const text = fs.readText(join(path, 'boot_out.txt'));
  const boot = text === undefined ? undefined : parseBootOut(text);
  if (!boot) return undefined;
  const label = basename(path.replace(/[\\/]+$/, '')) || path;
  return { path, label, boot };
}

/**
 * Drives from the given mount points (drivelist's, when its native module loads) plus the
 * fallback's candidates, each kept only if it has a boot_out.txt.
 */
export function findCircuitPyDrives(mountPoints: readonly string[] = [], fs: FileSystemView = realFileSystem()): CircuitPyDrive[] {
  const seen = new Set<string>();
  const drives: CircuitPyDrive[] = [];
  for (const path of [...mountPoints, ...candidateDriveFolders(fs)]) {
    if (seen.has(path)) continue;
    seen.add(path);
    const drive = readDrive(path, fs);
    if (drive) drives.push(drive);
  }
  return drives;
}
