// Where a CIRCUITPY drive can be mounted, found without native code: the mount table and the
// folders desktops mount removable drives in (docs/circuitpython-board.md).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface MountEntry {
  device: string;
  mountPoint: string;
  fsType: string;
}

/** /proc/mounts (or /etc/mtab): "device mountpoint fstype options 0 0", spaces escaped as \040. */
export function parseProcMounts(text: string): MountEntry[] {
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
  return text.split('\n').flatMap((line) => {
    const [device, mountPoint, fsType] = line.trim().split(/\s+/);
    return device && mountPoint && fsType ? [{ device: unescape(device), mountPoint: unescape(mountPoint), fsType }] : [];
  });
}

/** `mount` output on macOS: "/dev/disk4s1 on /Volumes/CIRCUITPY (msdos, local, nodev, …)". */
export function parseMacMountOutput(text: string): MountEntry[] {
  return text.split('\n').flatMap((line) => {
    const m = /^(\S+) on (.+) \(([^,)]+)/.exec(line.trim());
    return m ? [{ device: m[1], mountPoint: m[2], fsType: m[3] }] : [];
  });
}

const FAT_TYPES = new Set(['vfat', 'msdos', 'fat', 'fat32', 'exfat', 'fuseblk']);

export interface FileSystemView {
  platform: NodeJS.Platform;
  readText(path: string): string | undefined;
  listDirectories(path: string): string[];
  exists(path: string): boolean;
}

export const realFileSystem = (platform: NodeJS.Platform = process.platform): FileSystemView => ({
  platform,
  readText: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  listDirectories: (path) => {
    try {
      return readdirSync(path, { withFileTypes: true })
        .filter((d) => d.isDirectory() || (d.isSymbolicLink() && isDirectory(join(path, d.name))))
        .map((d) => join(path, d.name));
    } catch {
      return [];
    }
  },
  exists: (path) => existsSync(path),
});

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Folders that may be a CIRCUITPY drive; the caller keeps those with a boot_out.txt. */
export function candidateDriveFolders(fs: FileSystemView): string[] {
  const found = new Set<string>();
  switch (fs.platform) {
    case 'linux': {
      for (const m of parseProcMounts(fs.readText('/proc/mounts') ?? '')) {
        if (FAT_TYPES.has(m.fsType) || /CIRCUITPY/i.test(m.mountPoint)) found.add(m.mountPoint);
      }
      for (const root of ['/media', '/run/media']) {
        for (const dir of fs.listDirectories(root)) {
          found.add(dir);
          for (const sub of fs.listDirectories(dir)) found.add(sub);
        }
      }
      for (const dir of fs.listDirectories('/mnt/chromeos/removable')) found.add(dir);
      break;
    }
    case 'darwin':
      for (const dir of fs.listDirectories('/Volumes')) found.add(dir);
      break;
    case 'win32':
      for (let c = 'D'.charCodeAt(0); c <= 'Z'.charCodeAt(0); c++) {
        const root = `${String.fromCharCode(c)}:\\`;
        if (fs.exists(root)) found.add(root);
      }
      break;
  }
  return [...found];
}
