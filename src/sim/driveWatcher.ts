// Notices writes to the virtual Pico's drive folder, for auto-reload. Node's recursive fs.watch
// stops reporting on Linux once a watched file is replaced by rename (what editors do on save),
// so each folder of the drive gets a watcher of its own — a folder's watcher sees every create,
// write and rename inside it, whatever happens to the files — re-armed as folders come and go,
// and a cheap poll (names, sizes, times, inodes) catches whatever the watchers miss.
import { lstatSync, readdirSync, watch, type FSWatcher } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { quoted } from '../core/text/untrustedText.js';

/** How often the poll compares the drive with its last snapshot. */
export const DRIVE_POLL_MS = 1000;
/** A drive folder far larger than a Pico's drive is not scanned past this many entries. */
const MAX_ENTRIES = 4000;

type Snapshot = Map<string, string>;

export class DriveWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private snapshot: Snapshot = new Map();
  private poller?: NodeJS.Timeout;
  private rescan?: NodeJS.Timeout;
  private closed = false;
  private gone = false;

  /** `onChange(name)`: something under the drive changed; `name` is its path inside the drive ('/'-separated). */
  constructor(private readonly root: string, private readonly onChange: (name: string) => void, private readonly onError: (message: string) => void) {}

  start(): void {
    this.snapshot = this.scan();
    this.rearm();
    this.poller = setInterval(() => this.poll(), DRIVE_POLL_MS);
    this.poller.unref();
  }

  close(): void {
    this.closed = true;
    clearInterval(this.poller);
    clearTimeout(this.rescan);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  /** Says once that the drive folder itself went away (deleted, moved, replaced by a link), and once that it is back. */
  private rootThere(): boolean {
    let there: boolean;
    try {
      there = lstatSync(this.root).isDirectory();
    } catch {
      there = false;
    }
    if (!there && !this.gone) this.onError(`the drive folder ${quoted(this.root, 300)} is gone (deleted or moved); programs see an empty drive until it is back`);
    if (there && this.gone) this.onChange('');
    this.gone = !there;
    return there;
  }

  /** Name, type, size, time and inode of everything under the drive (symlinks as links, not followed). */
  private scan(): Snapshot {
    const entries: Snapshot = new Map();
    const visit = (dir: string) => {
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const name of names) {
        if (entries.size >= MAX_ENTRIES) return;
        const full = join(dir, name);
        try {
          const s = lstatSync(full);
          entries.set(relative(this.root, full).split(sep).join('/'), `${s.isDirectory() ? 'd' : s.isSymbolicLink() ? 'l' : 'f'}:${s.size}:${s.mtimeMs}:${s.ino}`);
          if (s.isDirectory()) visit(full);
        } catch {
          // Gone meanwhile.
        }
      }
    };
    visit(this.root);
    return entries;
  }

  /** One watcher per folder of the drive (the root included); new folders get one, gone ones lose theirs. */
  private rearm(): void {
    const folders = new Set([this.root, ...[...this.snapshot].filter(([, sig]) => sig.startsWith('d:')).map(([path]) => join(this.root, ...path.split('/')))]);
    for (const [folder, watcher] of this.watchers) {
      if (!folders.has(folder)) {
        watcher.close();
        this.watchers.delete(folder);
      }
    }
    for (const folder of folders) {
      if (this.watchers.has(folder)) continue;
      try {
        const watcher = watch(folder, (_event, name) => this.changed(folder, name ? String(name) : undefined));
        watcher.on('error', () => {
          watcher.close();
          this.watchers.delete(folder);
          if (folder === this.root && !this.closed) this.onError(`stopped watching the drive folder ${this.root}; changes are still noticed within ${DRIVE_POLL_MS / 1000} s`);
        });
        this.watchers.set(folder, watcher);
      } catch {
        // Watchers are a speed-up: the poll still notices the change.
      }
    }
  }

  private changed(folder: string, name: string | undefined): void {
    if (this.closed) return;
    const path = name ? relative(this.root, join(folder, name)).split(sep).join('/') : relative(this.root, folder).split(sep).join('/');
    this.onChange(path);
    // New or removed folders need watchers; a burst of writes (a deploy) is rescanned once.
    if (!this.rescan) {
      this.rescan = setTimeout(() => {
        this.rescan = undefined;
        if (this.closed) return;
        this.snapshot = this.scan();
        this.rearm();
      }, 100);
      this.rescan.unref();
    }
  }

  private poll(): void {
    if (this.closed) return;
    if (!this.rootThere()) return;
    const now = this.scan();
    const changed: string[] = [];
    for (const [path, sig] of now) if (this.snapshot.get(path) !== sig) changed.push(path);
    for (const path of this.snapshot.keys()) if (!now.has(path)) changed.push(path);
    this.snapshot = now;
    if (!changed.length) return;
    this.rearm();
    for (const path of changed) this.onChange(path);
  }
}
