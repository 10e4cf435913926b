// Where to look for CIRCUITPY drives: the mount points drivelist reports, where its native
// binding loads (an optional dependency, built from source at install; not in the VSIX), else
// the native-free scan of the mount table and the usual mount folders. findCircuitPyDrives adds
// that scan's folders in either case, so drivelist only ever adds places to look.
import { createRequire } from 'node:module';
import { candidateDriveFolders, realFileSystem, type FileSystemView } from './mountTable.js';

/** The parts of the drivelist module that we use. */
export interface DrivelistModule {
  list(): Promise<{ mountpoints: { path: string }[] }[]>;
}

export interface DriveLister {
  /** Which lister runs: drivelist, or the native-free fallback. */
  readonly kind: 'drivelist' | 'mount-table';
  /**
   * Where drives are looked for, to follow "looking for CIRCUITPY drives " in a log line: which
   * lister runs and, for the fallback, why.
   */
  readonly description: string;
  /** Folders that may be a CIRCUITPY drive; rejects when the listing fails (the caller goes on without it). */
  mountPoints(): Promise<string[]>;
}

/** Where the fallback looks, per platform (docs/circuitpython-board.md). */
export function fallbackPlaces(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'linux': return '/proc/mounts, /media, /run/media and /mnt/chromeos/removable';
    case 'darwin': return '/Volumes';
    case 'win32': return 'the drive letters D: to Z:';
    default: return 'nowhere on this platform (set the drive folder by hand)';
  }
}

/** The native-free lister: the FAT mounts of the mount table and the folders desktops mount drives in. */
export function mountTableLister(reason: string, fs: FileSystemView = realFileSystem()): DriveLister {
  return {
    kind: 'mount-table',
    description: `in ${fallbackPlaces(fs.platform)} (${reason})`,
    mountPoints: async () => candidateDriveFolders(fs),
  };
}

/** The drivelist lister, on a loaded module. */
export function drivelistLister(drivelist: DrivelistModule, fs: FileSystemView = realFileSystem()): DriveLister {
  return {
    kind: 'drivelist',
    description: `with drivelist and in ${fallbackPlaces(fs.platform)}`,
    mountPoints: async () => (await drivelist.list()).flatMap((drive) => drive.mountpoints.map((m) => m.path)),
  };
}

const requireDrivelist = (): unknown => createRequire(__filename)('drivelist');

/**
 * drivelist when it loads, else the fallback, saying why. (`load` is how the module is required:
 * createRequire keeps bundlers from inlining it, its binding is found relative to its own files.)
 */
export function loadDriveLister(load: () => unknown = requireDrivelist): DriveLister {
  try {
    const module = load() as Partial<DrivelistModule> | undefined;
    if (typeof module?.list !== 'function') return mountTableLister('the drivelist module has no list()');
    return drivelistLister(module as DrivelistModule);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException)?.code === 'MODULE_NOT_FOUND' && /'drivelist'/.test((error as Error).message);
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return mountTableLister(missing ? 'drivelist is not installed' : `drivelist could not be loaded: ${detail}`);
  }
}
