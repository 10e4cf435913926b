// The one place that touches the serialport package (the CLI and the extension both load it
// here). It is loaded on first use (not when this module loads), so that everything else works
// on machines where its native binding does not load; then serial features report
// SerialPortUnavailableError instead of the host crashing.
// The port is reduced to what a console session needs: bytes in, bytes out, close.
import { promises as fsp, stat, statSync, type Stats } from 'node:fs';
import { createRequire } from 'node:module';
import { fileKind } from '../files/readFileChecked.js';
import { NotASerialPortError, SerialError, SerialPortUnavailableError } from './serialErrors.js';
import type { SerialPortInfo } from '../board/pairBoards.js';

/** Baud rates accepted (--baud, cpml.monitor.baudRate): USB CDC ignores it, adapters go to a few Mbit/s. */
export const BAUD_RATE = { default: 115200, min: 1, max: 4_000_000 } as const;

/** The parts of serialport's SerialPort that we use. */
interface NativeSerialPort {
  readonly isOpen: boolean;
  open(callback: (error: Error | null) => void): void;
  write(data: Uint8Array, callback: (error: Error | null | undefined) => void): boolean;
  close(callback: (error: Error | null) => void): void;
  on(event: 'data', listener: (data: Buffer) => void): this;
  on(event: 'close', listener: (error?: Error | null) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
}

/** The parts of the serialport module that we use. */
export interface SerialPortModule {
  SerialPort: {
    new (options: { path: string; baudRate: number; autoOpen: false; lock?: boolean }): NativeSerialPort;
    list(): Promise<SerialPortInfo[]>;
  };
}

let loaded: SerialPortModule | undefined;
/** A failed load is not retried: the install does not change while the process runs. */
let failure: SerialPortUnavailableError | undefined;

/**
 * serialport, loaded on first call. Throws SerialPortUnavailableError (the same one on every
 * later call) when the module or its native binding cannot be loaded. (createRequire keeps
 * bundlers from inlining the package: its binding is found relative to the package's own files.)
 */
export function loadSerialPort(): SerialPortModule {
  if (loaded) return loaded;
  if (failure) throw failure;
  try {
    const requireFromHere = createRequire(__filename);
    const module = requireFromHere('serialport') as SerialPortModule;
    if (typeof module?.SerialPort !== 'function') throw new Error('the serialport module has no SerialPort export');
    loaded = module;
    return module;
  } catch (error) {
    failure = new SerialPortUnavailableError(error);
    throw failure;
  }
}

/**
 * Refuses a path that exists but cannot be a serial port (a regular file, a folder, a FIFO),
 * before serialport opens it. Character devices pass: whether one is a terminal shows when the
 * baud rate is set (serialport's "Inappropriate ioctl for device", see describeSerialError).
 * Opening it here to ask would toggle DTR on a real board. A missing path passes too: the open
 * then reports it as "no such port". Windows ports (COM5) are not files: not checked.
 */
export async function checkPortPath(path: string, platform: NodeJS.Platform = process.platform): Promise<void> {
  if (platform === 'win32') return;
  let stats: Stats;
  try {
    stats = await fsp.stat(path);
  } catch (error) {
    // The port cannot even be looked up: a folder on its way is closed to this user. (Not the
    // dialout group, which is about opening the device itself.)
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new SerialError(`permission denied: ${path} cannot be reached (a folder on its path may not be entered by this user)`, {
        path, kind: 'permission', hint: 'Check the permissions of the folders above the port, or choose another --port', cause: error,
      });
    }
    return;
  }
  if (!stats.isCharacterDevice()) throw new NotASerialPortError(path, fileKind(stats));
}

export interface PortOptions {
  path: string;
  baudRate: number;
}

/** Called by an open port; `closed` at most once, with the error when the close was not asked for. */
export interface PortListener {
  data(bytes: Uint8Array): void;
  closed(error?: Error): void;
}

export interface OpenPort {
  readonly path: string;
  write(bytes: Uint8Array): Promise<void>;
  /** Closes the port; resolves when it is closed (never rejects). `closed` is not called. */
  close(): Promise<void>;
}

/** Opens a port; rejects (never throws synchronously) when it cannot be opened. */
export type PortOpener = (options: PortOptions, listener: PortListener) => Promise<OpenPort>;

/** Opens a real serial port (or pseudo-terminal) through serialport. */
export const openSerialPort: PortOpener = async ({ path, baudRate }, listener) => {
  const { SerialPort } = loadSerialPort();
  await checkPortPath(path);
  const port = new SerialPort({ path, baudRate, autoOpen: false });
  let opened = false;
  let ended = false;
  let closing = false;
  const end = (error?: Error) => {
    if (ended || !opened) return;
    ended = true;
    if (!closing) listener.closed(error);
  };
  // Errors after opening (read failures, writes to a vanished device) end the connection.
  port.on('error', (error) => {
    if (port.isOpen) port.close(() => undefined);
    end(error);
  });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  opened = true;
  port.on('data', (data) => listener.data(data));
  port.on('close', (error) => end(error ?? undefined));
  const stopWatching = watchDevice(path, () => {
    if (port.isOpen) port.close(() => undefined);
    end(Object.assign(new Error(`${path} went away`), { disconnected: true }));
  });
  port.on('close', stopWatching);
  return {
    path,
    write: (bytes) => new Promise<void>((resolve, reject) => {
      // serialport would hold a write to a closed port until it opens again: never.
      if (ended || closing || !port.isOpen) {
        reject(Object.assign(new Error(`${path} is closed`), { disconnected: true }));
        return;
      }
      port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), (error) => (error ? reject(error) : resolve()));
    }),
    close: () => new Promise<void>((resolve) => {
      closing = true;
      stopWatching();
      if (ended || !port.isOpen) {
        ended = true;
        resolve();
        return;
      }
      port.close(() => {
        ended = true;
        resolve();
      });
    }),
  };
};

/** How often an open device is checked for having gone away. */
const DEVICE_CHECK_MS = 250;

/**
 * Calls `gone` when the device node behind `path` disappears or is replaced. serialport does
 * not always notice an unplug on Linux and macOS: when the hang-up meets a read in progress,
 * read() returns 0 and its unix reader retries at once, forever (serialport/bindings-cpp issue
 * #162), so neither 'close' nor 'error' ever comes. Closing the port ends that loop.
 * Returns the function that stops watching. (Windows ports are not files: not watched.)
 */
function watchDevice(path: string, gone: () => void): () => void {
  if (process.platform === 'win32') return () => undefined;
  let opened: Stats;
  try {
    opened = statSync(path);
  } catch {
    return () => undefined;
  }
  let stopped = false;
  const timer = setInterval(() => {
    stat(path, (error, now) => {
      if (stopped) return;
      const replaced = !error && (now.rdev !== opened.rdev || now.ino !== opened.ino);
      if ((error && (error.code === 'ENOENT' || error.code === 'ENODEV' || error.code === 'ENXIO')) || replaced) {
        stop();
        gone();
      }
    });
  }, DEVICE_CHECK_MS);
  timer.unref();
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return stop;
}
