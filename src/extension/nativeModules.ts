// Native modules load lazily, once. When one cannot load (no prebuilt binary for this platform,
// a broken install), the log says so once and everything else keeps working.
import type { Log } from './log.js';

type SerialPortModule = typeof import('serialport');

let serialport: SerialPortModule | undefined;
let serialportError: Error | undefined;

export function loadSerialport(log: Log): SerialPortModule {
  if (serialport) return serialport;
  if (serialportError) throw serialportError;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    serialport = require('serialport') as SerialPortModule;
    return serialport;
  } catch (error) {
    serialportError = new Error(`the serial port library could not be loaded on ${process.platform}-${process.arch}: ${(error as Error).message}. Boards can still be found by their drive, but the serial monitor is unavailable.`);
    log.error(serialportError.message);
    throw serialportError;
  }
}

type DrivelistModule = { list(): Promise<{ mountpoints: { path: string }[] }[]> };
let drivelist: DrivelistModule | null | undefined;

/** Mount points from drivelist, or [] when it is not installed (the fallback scan covers them). */
export async function drivelistMountPoints(log: Log): Promise<string[]> {
  if (drivelist === undefined) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      drivelist = require('drivelist') as DrivelistModule;
    } catch {
      drivelist = null;
      log.info('drivelist is not available; finding CIRCUITPY drives from the mount table and the usual mount folders');
    }
  }
  if (!drivelist) return [];
  const drives = await drivelist.list();
  return drives.flatMap((d) => d.mountpoints.map((m) => m.path));
}
