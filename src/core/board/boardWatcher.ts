// Keeps the list of attached boards current: watches /dev for plug/unplug/reset (Linux, macOS)
// and polls slowly as a backstop (and on Windows), so that noticing a board costs no
// measurable CPU. Emits `change` only when the set of boards or their state changes.
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { findBootloaderDrives, findCircuitPyDrives, readDrive } from './findDrives.js';
import type { SerialPortLister } from './listPorts.js';
import { pairBoards, type Board } from './pairBoards.js';
import type { UsbIdPair } from './usbIds.js';

export interface BoardWatcherOptions {
  ports: SerialPortLister;
  /** Places to look for drives (DriveLister.mountPoints: drivelist's); the fallback scan runs anyway. */
  mountPoints?: () => Promise<string[]>;
  extraIds?: UsbIdPair[];
  /** Settings that override discovery (unusual set-ups, the virtual Pico). */
  overridePort?: string;
  overrideDrive?: string;
  pollMs?: number;
  /** Folder to watch for device nodes appearing and disappearing. */
  watchDir?: string | null;
}

export interface BoardWatcherEvents {
  change: [boards: Board[]];
  error: [error: Error];
}

export class BoardWatcher extends EventEmitter<BoardWatcherEvents> {
  private boardsNow: Board[] = [];
  private signature = '';
  private timer?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private running?: Promise<Board[]>;
  private queued?: Promise<Board[]>;
  private disposed = false;

  constructor(private options: BoardWatcherOptions) {
    super();
  }

  get boards(): readonly Board[] {
    return this.boardsNow;
  }

  start(): void {
    const pollMs = this.options.pollMs ?? (process.platform === 'win32' ? 2000 : 4000);
    this.timer = setInterval(() => void this.refresh(), pollMs);
    this.timer.unref?.();
    const dir = this.options.watchDir === undefined ? (process.platform === 'win32' ? null : '/dev') : this.options.watchDir;
    if (dir) {
      try {
        this.watcher = watch(dir, { persistent: false }, () => this.soon());
        this.watcher.on('error', () => this.watcher?.close());
      } catch {
        // Polling alone still works.
      }
    }
    void this.refresh();
  }

  /** Settings changed: new overrides or extra IDs. Resolves with the boards found under them. */
  reconfigure(options: Partial<BoardWatcherOptions>): Promise<Board[]> {
    this.options = { ...this.options, ...options };
    return this.refresh();
  }

  /** A device node changed: drives mount a moment after the port appears, so look twice. */
  private soon(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      void this.refresh();
      this.debounce = setTimeout(() => void this.refresh(), 1500);
    }, 250);
  }

  /** Scans now; a call during a scan gets one more scan after it (things may have changed since it began). */
  refresh(): Promise<Board[]> {
    if (this.running) {
      this.queued ??= this.running.then(() => {
        this.queued = undefined;
        return this.refresh();
      });
      return this.queued;
    }
    this.running = this.scan().finally(() => { this.running = undefined; });
    return this.running;
  }

  private async scan(): Promise<Board[]> {
    if (this.disposed) return this.boardsNow;
    try {
      const { overridePort, overrideDrive } = this.options;
      let boards: Board[];
      if (overridePort || overrideDrive) {
        const drive = overrideDrive ? readDrive(overrideDrive) : undefined;
        boards = [{
          key: drive?.boot.uid ?? overridePort ?? overrideDrive!,
          name: drive?.boot.boardName ?? 'Board on ' + (overridePort ?? overrideDrive),
          kind: 'circuitpython',
          uid: drive?.boot.uid,
          version: drive?.boot.version,
          port: overridePort ? { path: overridePort } : undefined,
          drive,
        }];
      } else {
        // Without ports (serialport missing, udevadm missing) boards are still found by their drive.
        const [ports, mountPoints] = await Promise.all([
          this.options.ports.list().catch((error: unknown) => {
            this.report(error);
            return [];
          }),
          this.options.mountPoints ? this.options.mountPoints().catch(() => []) : Promise.resolve([]),
        ]);
        boards = pairBoards(ports, findCircuitPyDrives(mountPoints), this.options.extraIds, findBootloaderDrives(mountPoints));
      }
      const signature = JSON.stringify(boards);
      if (signature !== this.signature && !this.disposed) {
        this.signature = signature;
        this.boardsNow = boards;
        this.emit('change', boards);
      }
    } catch (error) {
      this.report(error);
    }
    return this.boardsNow;
  }

  private report(error: unknown): void {
    // An 'error' event without a listener would throw; the watcher keeps polling either way.
    if (this.listenerCount('error')) this.emit('error', error instanceof Error ? error : new Error(String(error)));
  }

  dispose(): void {
    this.disposed = true;
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.watcher?.close();
    this.removeAllListeners();
  }
}
