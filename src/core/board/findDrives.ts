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

/** A board in BOOTSEL mode: its UF2 bootloader's drive (RPI-RP2 / RP2350) holds INFO_UF2.TXT. */
export interface BootloaderDrive {
  path: string;
  label: string;
  /** e.g. "RPI-RP2" or "RP2350". */
  boardId: string;
  chip: 'rp2040' | 'rp2350' | 'unknown';
}

export function readBootloaderDrive(path: string, fs: FileSystemView = realFileSystem()): BootloaderDrive | undefined {
  const text = fs.readText(join(path, 'INFO_UF2.TXT'));
  const boardId = text && /^Board-ID:\s*(.+?)\s*$/m.exec(text)?.[1];
  if (!boardId) return undefined;
  const chip = /RP2350/i.test(boardId) ? 'rp2350' : /RPI-RP2|RP2040/i.test(boardId) ? 'rp2040' : 'unknown';
  return { path, label: basename(path.replace(/[\\/]+$/, '')) || path, boardId, chip };
}

/** Bootloader drives among the same candidates findCircuitPyDrives looks at. */
export function findBootloaderDrives(mountPoints: readonly string[] = [], fs: FileSystemView = realFileSystem()): BootloaderDrive[] {
  const paths = new Set([...mountPoints, ...candidateDriveFolders(fs)]);
  return [...paths].flatMap((p) => readBootloaderDrive(p, fs) ?? []);
}
