// Real folders for deploy tests: a drive with boot_out.txt, snapshots of what is on it, and a
// DeployFileSystem that is node:fs except for the faults a test injects.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeDeployFileSystem, type DeployFileSystem, type SpaceInfo } from '../../src/core/deploy/deployFileSystem.js';

export const EXAMPLE = join('examples', 'mnist');
export const EXAMPLE_ONNX = join(EXAMPLE, 'model.onnx');
export const EXAMPLE_BLOB = join(EXAMPLE, 'model.bin');
export const EXAMPLE_SAMPLES = join(EXAMPLE, 'mnist_samples');

export const BOOT_OUT = 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n';

export function tempDir(prefix = 'cpml-deploy-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh CIRCUITPY folder with boot_out.txt (and the given user code.py). */
export function makeDrive(userCode?: string): string {
  const drive = join(tempDir(), 'CIRCUITPY');
  mkdirSync(drive);
  writeFileSync(join(drive, 'boot_out.txt'), BOOT_OUT);
  if (userCode !== undefined) writeFileSync(join(drive, 'code.py'), userCode);
  return drive;
}

export interface Entry {
  bytes: string;
  mtimeNs: bigint;
  ino: bigint;
}

/** Every file under `dir` (relative '/' paths) with its content (hex), mtime and inode. */
export function snapshot(dir: string, prefix = ''): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const s = statSync(path, { bigint: true });
    if (s.isDirectory()) {
      for (const [k, v] of snapshot(path, rel)) out.set(k, v);
    } else {
      out.set(rel, { bytes: readFileSync(path).toString('hex'), mtimeNs: s.mtimeNs, ino: s.ino });
    }
  }
  return out;
}

/** Paths under `dir` (files and folders, relative) whose names look like temporaries. */
export function temporaries(dir: string): string[] {
  return [...listAll(dir)].filter((p) => /cpml-tmp|\.tmp$|partial/i.test(p));
}

function* listAll(dir: string, prefix = ''): Generator<string> {
  for (const name of readdirSync(dir)) {
    const rel = prefix ? `${prefix}/${name}` : name;
    yield rel;
    if (statSync(join(dir, name)).isDirectory()) yield* listAll(join(dir, name), rel);
  }
}

/** A copy of the example model blob with one weight changed: a different, still valid model. */
export function alteredBlob(folder: string, name = 'model.bin'): string {
  const bytes = readFileSync(EXAMPLE_BLOB);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const last = bytes.length - 4;
  view.setFloat32(last, view.getFloat32(last, true) + 0.25, true);
  const path = join(folder, name);
  writeFileSync(path, bytes);
  return path;
}

/** The example's samples folder copied (so a test can change it). */
export function copySamples(folder: string, name = 'mnist_samples'): string {
  const target = join(folder, name);
  mkdirSync(target, { recursive: true });
  for (const file of readdirSync(EXAMPLE_SAMPLES)) copyFileSync(join(EXAMPLE_SAMPLES, file), join(target, file));
  return target;
}

export interface Faults {
  /** Make the Nth data write (1-based, counting every file written) fail with this code. */
  failWrite?: { at: number; code: string };
  /** Make the Nth rename (1-based) fail with this code. */
  failRename?: { at: number; code: string };
  /** What statfs reports. */
  space?: SpaceInfo;
  /** Make every lookup, listing and read of a path this matches fail with this code (EACCES: a permission test that runs as root too). */
  failAccess?: { match: (path: string) => boolean; code: string };
  /** Called before the Nth data write (1-based): a test moves or deletes the drive there. */
  beforeWrite?: (n: number) => void | Promise<void>;
}

function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: injected fault, ${syscall} '${path}'`);
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}

/** node:fs with injected faults; counts what it did. */
export function faultyFileSystem(faults: Faults): DeployFileSystem & { writes: number; renames: number } {
  const fs = {
    ...nodeDeployFileSystem,
    writes: 0,
    renames: 0,
    async create(path: string) {
      const file = await nodeDeployFileSystem.create(path);
      return {
        write: async (data: Uint8Array, position?: number) => {
          fs.writes++;
          await faults.beforeWrite?.(fs.writes);
          if (faults.failWrite && fs.writes === faults.failWrite.at) {
            // Half the bytes reach the disk first, as on a real failure mid-file.
            await file.write(data.subarray(0, data.length >> 1), position);
            throw errno(faults.failWrite.code, 'write', path);
          }
          await file.write(data, position);
        },
        sync: () => file.sync(),
        stat: () => file.stat(),
        close: () => file.close(),
      };
    },
    async rename(from: string, to: string) {
      fs.renames++;
      if (faults.failRename && fs.renames === faults.failRename.at) throw errno(faults.failRename.code, 'rename', from);
      await nodeDeployFileSystem.rename(from, to);
    },
    async statfs(path: string) {
      return faults.space ?? nodeDeployFileSystem.statfs(path);
    },
    ...(faults.failAccess && deniedLookups(faults.failAccess)),
  };
  return fs;
}

/** Lookups, listings and reads that fail as node:fs fails them (an errno error with the path). */
function deniedLookups({ match, code }: { match: (path: string) => boolean; code: string }): Partial<DeployFileSystem> {
  const deny = <A extends unknown[], R>(syscall: string, call: (path: string, ...rest: A) => Promise<R>) =>
    async (path: string, ...rest: A): Promise<R> => {
      if (match(path)) throw errno(code, syscall, path);
      return call(path, ...rest);
    };
  const real = nodeDeployFileSystem;
  return {
    stat: deny('stat', real.stat), lstat: deny('lstat', real.lstat), realpath: deny('realpath', real.realpath),
    readdir: deny('scandir', real.readdir), readFile: deny('open', real.readFile),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
