// Deploy's destination side: every write stays on the drive. The drive is known by its real
// path and its identity (device and inode of its root, recorded when planning). A symbolic link
// where deploy would write — a samples folder pointing elsewhere, a code.py pointing anywhere —
// is refused, never written through. While writing, the root's identity and each folder's are
// checked again before every file (cheap lstat calls), so a drive that was unplugged, moved or
// deleted stops the deploy instead of being rebuilt elsewhere; folders are created one at a
// time, only the ones the plan said to create.
import { dirname, isAbsolute, join, relative } from 'node:path';
import { quoted } from '../text/untrustedText.js';
import { DeployError } from './deployErrors.js';
import type { DeployFileSystem, FileInfo, TrackedFolder } from './deployFileSystem.js';

/** Largest file read from a drive: the largest RP2040 board's flash. */
export const MAX_DRIVE_FILE_BYTES = 16 * 1024 * 1024;
/** Entries of the drive's parent folder searched for a drive that was moved (where /proc cannot tell). */
const MAX_SIBLINGS = 1000;

export interface DriveRef {
  /** The drive's folder as the user named it (resolved): used in messages. */
  path: string;
  /** The same with every link resolved: where deploy reads and writes. */
  realPath: string;
  /** The root's "dev:ino". */
  identity: string;
}

export interface DriveFolder {
  /** Relative to the drive's root, '/'-separated; '' is the root. */
  path: string;
  /** Its identity when it exists; undefined when the deploy creates it. */
  identity?: string;
}

export const onDrive = (root: string, path: string) => (path ? join(root, ...path.split('/')) : root);

/** What the plan saw at a path (undefined: nothing): a change since means another writer. */
export const stampOf = (info: FileInfo | undefined) => info && `${info.identity}/${info.size}/${info.mtimeMs}/${info.ctimeMs}`;

const inside = (folder: string, path: string) => {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

async function linkRefusal(drive: DriveRef, path: string, fs: DeployFileSystem): Promise<DeployError> {
  const target = await fs.realpath(onDrive(drive.realPath, path)).catch(() => undefined);
  return new DeployError('drive',
    `${quoted(onDrive(drive.path, path), 500)} is a symbolic link${target ? ` (to ${quoted(target, 500)})` : ''}: deploy never writes through a link`,
    'Remove the link from the drive (a CIRCUITPY drive is FAT, which has no links: if this folder is not the board\'s drive, pass the right one)');
}

/** The drive's folder: it must exist and be a folder; its real path and identity. */
export async function resolveDrive(path: string, fs: DeployFileSystem): Promise<DriveRef> {
  const info = await fs.stat(path);
  if (!info?.isDirectory) {
    throw new DeployError('drive', `the drive folder ${path} ${info ? 'is not a folder' : 'does not exist'}`,
      'Plug in the board and check that its CIRCUITPY drive is mounted, then pass its folder');
  }
  const realPath = await fs.realpath(path);
  const root = await fs.lstat(realPath);
  if (!root?.isDirectory) throw new DeployError('drive', `the drive folder ${path} changed while it was being checked`, 'Deploy again');
  return { path, realPath, identity: root.identity };
}

/**
 * What the drive has where a file goes: undefined (nothing) or a regular file. A link, a folder
 * or anything else is refused with its path.
 */
export async function fileOnDrive(drive: DriveRef, path: string, fs: DeployFileSystem, folderHint = 'Rename or remove that folder'): Promise<FileInfo | undefined> {
  const info = await fs.lstat(onDrive(drive.realPath, path));
  if (!info || info.isFile) return info;
  if (info.isSymbolicLink) throw await linkRefusal(drive, path, fs);
  if (info.isDirectory) throw new DeployError('drive', `the drive has a folder named ${quoted(path)} where a file must go`, folderHint);
  throw new DeployError('drive', `the drive has a ${info.kind} named ${quoted(path)} where a file must go`, 'Remove it from the drive');
}

/** A regular file's bytes from the drive (never through a link, bounded); undefined when there is none. */
export async function readDriveFile(drive: DriveRef, path: string, fs: DeployFileSystem, info?: FileInfo): Promise<Uint8Array | undefined> {
  const found = info ?? (await fs.lstat(onDrive(drive.realPath, path)));
  if (!found?.isFile) return undefined;
  return fs.readFile(onDrive(drive.realPath, path), { maxBytes: MAX_DRIVE_FILE_BYTES, noFollow: true, expect: found.identity, what: 'file on the drive' });
}

/** A folder on the drive files go into: its identity, or undefined when it does not exist yet. */
export async function folderOnDrive(drive: DriveRef, path: string, fs: DeployFileSystem): Promise<string | undefined> {
  if (!path) return drive.identity;
  const full = onDrive(drive.realPath, path);
  const info = await fs.lstat(full);
  if (!info) return undefined;
  if (info.isSymbolicLink) throw await linkRefusal(drive, path, fs);
  if (!info.isDirectory) {
    throw new DeployError('drive', `the drive has a file named ${quoted(path)} where the samples folder must go`, 'Rename or remove it, or pass a samples folder with another name');
  }
  // A folder that is not a link still resolves into the drive, unless something is mounted on it.
  const real = await fs.realpath(full);
  if (!inside(drive.realPath, real)) throw await linkRefusal(drive, path, fs);
  return info.identity;
}

/** The checks executeDeploy repeats before every write and rename. */
export class DriveGuard {
  private readonly folders = new Map<string, string | undefined>();
  /** Folders this deploy created (relative), with their identities. */
  readonly created = new Map<string, string>();
  private tracked?: TrackedFolder;

  constructor(readonly drive: DriveRef, folders: readonly DriveFolder[], private readonly fs: DeployFileSystem) {
    for (const f of folders) this.folders.set(f.path, f.identity);
  }

  get root(): string {
    return this.drive.realPath;
  }

  full(path: string): string {
    return onDrive(this.drive.realPath, path);
  }

  /** Checks the drive is there and follows it (to clean up after a move). */
  async open(): Promise<void> {
    await this.checkDrive();
    this.tracked = await this.fs.trackFolder(this.root);
  }

  async close(): Promise<void> {
    await this.tracked?.close().catch(() => undefined);
  }

  /** The root still is the drive the plan saw: 'gone' otherwise. */
  async checkDrive(): Promise<void> {
    const info = await this.fs.lstat(this.root).catch(() => undefined);
    if (info?.identity !== this.drive.identity) throw new DeployError('gone', 'the drive went away during the deploy');
  }

  /**
   * The folder a file goes into is the one the plan saw (or, if the plan said to create it, is
   * created now, by itself, in a parent checked just before). Refuses a link with its path.
   */
  async folder(path: string, create: boolean): Promise<void> {
    if (!path) return;
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    await this.folder(parent, create);
    const expected = this.folders.has(path) ? this.folders.get(path) : this.created.get(path);
    const full = this.full(path);
    let info = await this.fs.lstat(full);
    if (!info && expected === undefined && create) {
      await this.fs.mkdir(full);
      info = await this.fs.lstat(full);
      if (info?.isDirectory) {
        this.created.set(path, info.identity);
        this.folders.set(path, info.identity);
        return;
      }
    }
    if (info?.isSymbolicLink) throw await linkRefusal(this.drive, path, this.fs);
    if (!info?.isDirectory || (expected !== undefined && info.identity !== expected)) {
      throw new DeployError('changed', `${quoted(onDrive(this.drive.path, path), 500)} was ${info ? 'replaced' : 'removed'} on the drive during the deploy`, 'Deploy again');
    }
    if (expected === undefined) throw new DeployError('changed', `${quoted(onDrive(this.drive.path, path), 500)} appeared on the drive during the deploy`, 'Deploy again');
  }

  /** Every folder is as the plan saw it (before anything is written). */
  async checkFolders(): Promise<void> {
    for (const [path, identity] of this.folders) {
      if (!path) continue;
      const info = await this.fs.lstat(this.full(path));
      if (identity === undefined ? info !== undefined : info?.identity !== identity || info.isSymbolicLink) {
        throw new DeployError('changed', `${quoted(onDrive(this.drive.path, path), 500)} changed on the drive since the deploy was planned (another program or deploy wrote to it)`, 'Deploy again');
      }
    }
  }

  /** Where the drive is now: its own path if still there, else where it was moved (if that can be found). */
  async locate(): Promise<string | undefined> {
    const at = async (path: string | undefined) => path !== undefined && (await this.fs.lstat(path).catch(() => undefined))?.identity === this.drive.identity;
    if (await at(this.root)) return this.root;
    const tracked = await this.tracked?.currentPath().catch(() => undefined);
    if (await at(tracked)) return tracked;
    const parent = dirname(this.root);
    const names = await this.fs.readdir(parent).catch(() => [] as string[]);
    for (const name of names.slice(0, MAX_SIBLINGS)) {
      if (await at(join(parent, name))) return join(parent, name);
    }
    return undefined;
  }

  /** Removes a file of this deploy (the same identity: never another file) under each root; true when one was removed. */
  async removeOwnFile(path: string, identity: string, roots: readonly string[]): Promise<boolean> {
    let removed = false;
    for (const root of roots) {
      const full = onDrive(root, path);
      const info = await this.fs.lstat(full).catch(() => undefined);
      if (!info?.isFile || info.identity !== identity) continue;
      try {
        await this.fs.remove(full);
        removed = true;
      } catch {
        // Counted as left behind: the next deploy removes stale temporaries.
      }
    }
    return removed;
  }

  /** Removes the folders this deploy created, if they are still its own and empty. */
  async removeCreatedFolders(roots: readonly string[]): Promise<void> {
    for (const [path, identity] of [...this.created].reverse()) {
      for (const root of roots) {
        const full = onDrive(root, path);
        try {
          const info = await this.fs.lstat(full);
          if (info?.isDirectory && info.identity === identity && !(await this.fs.readdir(full)).length) await this.fs.removeDirectory(full);
        } catch {
          // A folder that cannot be removed is harmless.
        }
      }
    }
  }
}
