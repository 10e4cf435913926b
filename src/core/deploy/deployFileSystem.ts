// Every file-system call deploy makes, behind one small interface: the real one is node:fs;
// tests wrap it to inject faults (ENOSPC on the Nth write, EIO on a rename, EACCES on a read, a
// full drive in statfs) while still working on real folders.
//
// The calls are the safe kind only: reads open regular files without blocking and up to a size
// (optionally refusing a symbolic link, or any file but the one checked before), new files are
// created exclusively (a link planted at the name is never followed), folders are made one at
// a time (never `mkdir -p`, which would rebuild a drive that went away).
import { constants, promises as fsp, type BigIntStats } from 'node:fs';
import { platform } from 'node:process';
import { FileError } from '../errors.js';
import { describeFsError, readFileCheckedAsync, type ReadLimits } from '../files/readFileChecked.js';
import { quoted } from '../text/untrustedText.js';

export type FileKind = 'file' | 'folder' | 'symbolic link' | 'FIFO' | 'character device' | 'block device' | 'socket' | 'unknown';

export interface FileInfo {
  size: number;
  /** Modification time in ms (the file system's resolution: 2 s on FAT). */
  mtimeMs: number;
  /** Status change time in ms: moves with every write and rename, even one that keeps the size and mtime. */
  ctimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
  isSymbolicLink: boolean;
  kind: FileKind;
  /** Which file this is ("dev:ino"): a rename keeps it, a replacement does not. */
  identity: string;
}

export interface SpaceInfo {
  /** Bytes an unprivileged writer can still use. */
  freeBytes: number;
  /** Allocation unit (the FAT cluster size on a CIRCUITPY drive): files take whole units. */
  blockSize: number;
}

export interface ReadOptions extends ReadLimits {
  /** Refuse (ELOOP) when the path itself is a symbolic link. */
  noFollow?: boolean;
  /** Refuse unless the file opened is this one (FileInfo.identity): it was checked, then swapped. */
  expect?: string;
}

export interface WritableFile {
  /** Writes at `position`, or where the last write ended. */
  write(data: Uint8Array, position?: number): Promise<void>;
  /** Flush to the device (fsync): FAT drives are otherwise cached by the host for seconds. */
  sync(): Promise<void>;
  /** The open file's own information (not a path lookup). */
  stat(): Promise<FileInfo>;
  close(): Promise<void>;
}

/** An open folder: follows it when it is moved. */
export interface TrackedFolder {
  /** Where the folder is now, when the platform can tell (Linux); undefined if unknown or deleted. */
  currentPath(): Promise<string | undefined>;
  close(): Promise<void>;
}

export interface DeployFileSystem {
  /** A regular file's bytes, bounded (DEFAULT_MAX_FILE_BYTES unless told); FileError otherwise. */
  readFile(path: string, options?: ReadOptions): Promise<Uint8Array>;
  /** Follows links; undefined when the path does not exist. */
  stat(path: string): Promise<FileInfo | undefined>;
  /** Does not follow a link at the path; undefined when the path does not exist. */
  lstat(path: string): Promise<FileInfo | undefined>;
  /** The path with every link resolved. */
  realpath(path: string): Promise<string>;
  readdir(path: string): Promise<string[]>;
  /** undefined when the platform cannot tell. */
  statfs(path: string): Promise<SpaceInfo | undefined>;
  /** Creates one folder (not its parents); EEXIST if there is anything at the path. */
  mkdir(path: string): Promise<void>;
  /** Creates a new file, exclusively: EEXIST if anything (a link too) has the name. */
  create(path: string): Promise<WritableFile>;
  /** Replaces `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file (or a link, not what it points to); no error when it does not exist. */
  remove(path: string): Promise<void>;
  /** Removes an empty folder. */
  removeDirectory(path: string): Promise<void>;
  /** Best effort: flush a folder's entries (renames) to the device. */
  syncDirectory(path: string): Promise<void>;
  /** Opens a folder so that it can be found again after a move. */
  trackFolder(path: string): Promise<TrackedFolder>;
}

const code = (error: unknown) => (error as NodeJS.ErrnoException)?.code;
const missing = (error: unknown) => code(error) === 'ENOENT' || code(error) === 'ENOTDIR';

function kindOf(s: BigIntStats): FileKind {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'folder';
  if (s.isSymbolicLink()) return 'symbolic link';
  if (s.isFIFO()) return 'FIFO';
  if (s.isCharacterDevice()) return 'character device';
  if (s.isBlockDevice()) return 'block device';
  return s.isSocket() ? 'socket' : 'unknown';
}

/** BigInt stats: inode numbers above 2^53 (some file systems) must not collide. */
function toInfo(s: BigIntStats): FileInfo {
  const kind = kindOf(s);
  return {
    size: Number(s.size), mtimeMs: Number(s.mtimeMs), ctimeMs: Number(s.ctimeMs),
    isFile: kind === 'file', isDirectory: kind === 'folder', isSymbolicLink: kind === 'symbolic link', kind,
    identity: `${s.dev}:${s.ino}`,
  };
}

/** A bounded read of a regular file; with `expect`, only of the file whose identity was seen before. */
function readBounded(path: string, options: ReadOptions): Promise<Uint8Array> {
  const { expect, ...limits } = options;
  return readFileCheckedAsync(path, {
    ...limits,
    verify: expect === undefined ? undefined : (stats) => {
      if (toInfo(stats).identity !== expect) {
        throw new FileError(`${quoted(path, 500)} was replaced while it was being read`, path, 'Leave the folder alone during the deploy and deploy again');
      }
    },
  });
}

export const nodeDeployFileSystem: DeployFileSystem = {
  readFile: (path, options = {}) => readBounded(path, options),
  async stat(path) {
    try {
      return toInfo(await fsp.stat(path, { bigint: true }));
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
  },
  async lstat(path) {
    try {
      return toInfo(await fsp.lstat(path, { bigint: true }));
    } catch (error) {
      if (missing(error)) return undefined;
      throw error;
    }
  },
  realpath: (path) => fsp.realpath(path),
  readdir: (path) => fsp.readdir(path),
  async statfs(path) {
    try {
      const s = await fsp.statfs(path);
      return { freeBytes: s.bavail * s.bsize, blockSize: s.bsize };
    } catch (error) {
      if (code(error) === 'ENOSYS' || code(error) === 'ENOTSUP') return undefined;
      throw error;
    }
  },
  mkdir: (path) => fsp.mkdir(path),
  async create(path) {
    const handle = await fsp.open(path, 'wx');
    let position = 0;
    return {
      async write(data, at = position) {
        let done = 0;
        while (done < data.length) done += (await handle.write(data, done, data.length - done, at + done)).bytesWritten;
        position = at + done;
      },
      sync: () => handle.sync(),
      stat: async () => toInfo(await handle.stat({ bigint: true })),
      close: () => handle.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  remove: (path) => fsp.rm(path, { force: true }),
  removeDirectory: (path) => fsp.rmdir(path),
  async syncDirectory(path) {
    // Linux and macOS flush a folder through a read-only handle; Windows cannot open folders.
    if (platform === 'win32') return;
    try {
      const handle = await fsp.open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch {
      // Best effort only: some file systems refuse fsync on a folder.
    }
  },
  async trackFolder(path) {
    // An open folder follows a move; Linux tells where it went through /proc. Elsewhere (and on
    // Windows, which cannot open folders) the caller searches by identity instead.
    const handle = platform === 'linux' ? await fsp.open(path, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0)).catch(() => undefined) : undefined;
    return {
      async currentPath() {
        if (!handle) return undefined;
        const target = await fsp.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
        return target && !target.endsWith(' (deleted)') && target.startsWith('/') ? target : undefined;
      },
      close: async () => { await handle?.close(); },
    };
  },
};

/**
 * The same file system, with every error of a lookup or read (stat, lstat, realpath, readdir,
 * statfs, readFile) as a FileError naming the path ("permission denied: PATH" and the fix), not a
 * bare system error. Writes keep their system errors: executeDeploy names the drive file they
 * were for.
 */
export function withFileErrors(fs: DeployFileSystem): DeployFileSystem {
  const guard = <T>(path: string, call: () => Promise<T>): Promise<T> => call().catch((error: unknown) => {
    if (error instanceof FileError) throw error;
    throw describeFsError(error, path, 'read');
  });
  return {
    ...fs,
    readFile: (path, options) => guard(path, () => fs.readFile(path, options)),
    stat: (path) => guard(path, () => fs.stat(path)),
    lstat: (path) => guard(path, () => fs.lstat(path)),
    realpath: (path) => guard(path, () => fs.realpath(path)),
    readdir: (path) => guard(path, () => fs.readdir(path)),
    statfs: (path) => guard(path, () => fs.statfs(path)),
  };
}
