// Every file-system call deploy makes, behind one small interface: the real one is node:fs;
// tests wrap it to inject faults (ENOSPC on the Nth write, EIO on a rename, a full drive in
// statfs) while still working on real folders.
import { promises as fsp } from 'node:fs';

export interface FileInfo {
  size: number;
  /** Modification time in ms (the file system's resolution: 2 s on FAT). */
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

export interface SpaceInfo {
  /** Bytes an unprivileged writer can still use. */
  freeBytes: number;
  /** Allocation unit (the FAT cluster size on a CIRCUITPY drive): files take whole units. */
  blockSize: number;
}

export interface WritableFile {
  write(data: Uint8Array): Promise<void>;
  /** Flush to the device (fsync): FAT drives are otherwise cached by the host for seconds. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export interface DeployFileSystem {
  readFile(path: string): Promise<Uint8Array>;
  /** undefined when the path does not exist. */
  stat(path: string): Promise<FileInfo | undefined>;
  readdir(path: string): Promise<string[]>;
  /** undefined when the platform cannot tell. */
  statfs(path: string): Promise<SpaceInfo | undefined>;
  mkdir(path: string): Promise<void>;
  /** Creates or truncates. */
  create(path: string): Promise<WritableFile>;
  /** Replaces `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; no error when it does not exist. */
  remove(path: string): Promise<void>;
  /** Removes an empty folder. */
  removeDirectory(path: string): Promise<void>;
  /** Best effort: flush a folder's entries (renames) to the device. */
  syncDirectory(path: string): Promise<void>;
}

const code = (error: unknown) => (error as NodeJS.ErrnoException)?.code;

export const nodeDeployFileSystem: DeployFileSystem = {
  async readFile(path) {
    const b = await fsp.readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  },
  async stat(path) {
    try {
      const s = await fsp.stat(path);
      return { size: s.size, mtimeMs: s.mtimeMs, isFile: s.isFile(), isDirectory: s.isDirectory() };
    } catch (error) {
      if (code(error) === 'ENOENT' || code(error) === 'ENOTDIR') return undefined;
      throw error;
    }
  },
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
  async mkdir(path) {
    await fsp.mkdir(path, { recursive: true });
  },
  async create(path) {
    const handle = await fsp.open(path, 'w');
    return {
      async write(data) {
        let done = 0;
        while (done < data.length) done += (await handle.write(data, done, data.length - done)).bytesWritten;
      },
      sync: () => handle.sync(),
      close: () => handle.close(),
    };
  },
  rename: (from, to) => fsp.rename(from, to),
  remove: (path) => fsp.rm(path, { force: true }),
  removeDirectory: (path) => fsp.rmdir(path),
  async syncDirectory(path) {
    // Linux and macOS flush a folder through a read-only handle; Windows cannot open folders.
    if (process.platform === 'win32') return;
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
};
