// Serial ports with their USB identity. On Linux straight from sysfs (no native code, no
// udevadm — serialport's list() spawns udevadm and crashes the process when it is missing);
// elsewhere through serialport, loaded only when needed.
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { SerialPortModule } from '../serial/portOpener.js';
import type { SerialPortInfo } from './pairBoards.js';

export interface SerialPortLister {
  list(): Promise<SerialPortInfo[]>;
}

function readAttribute(dir: string, name: string): string | undefined {
  try {
    return readFileSync(join(dir, name), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** USB serial ports from /sys/class/tty (ttyACM* for CDC devices like CircuitPython, ttyUSB* for adapters). */
export function listLinuxSysfsPorts(sysRoot = '/sys', devRoot = '/dev'): SerialPortInfo[] {
  const ttyDir = join(sysRoot, 'class', 'tty');
  let names: string[];
  try {
    names = readdirSync(ttyDir).filter((n) => /^tty(ACM|USB)\d+$/.test(n));
  } catch {
    return [];
  }
  const ports: SerialPortInfo[] = [];
  for (const name of names) {
    let iface: string;
    try {
      iface = realpathSync(join(ttyDir, name, 'device'));
    } catch {
      continue;
    }
    // ttyACM: device → the USB interface (…/1-1:1.0); ttyUSB: device → …/1-1:1.0/ttyUSB0.
    const usbInterface = name.startsWith('ttyUSB') ? dirname(iface) : iface;
    const usbDevice = dirname(usbInterface);
    const vendorId = readAttribute(usbDevice, 'idVendor');
    if (!vendorId) continue;
    const interfaceNumber = readAttribute(usbInterface, 'bInterfaceNumber');
    ports.push({
      path: join(devRoot, name),
      vendorId,
      productId: readAttribute(usbDevice, 'idProduct'),
      serialNumber: readAttribute(usbDevice, 'serial'),
      manufacturer: readAttribute(usbDevice, 'manufacturer'),
      pnpId: interfaceNumber ? `usb-${basename(usbDevice)}-MI_${interfaceNumber}` : undefined,
    });
  }
  return ports;
}

/** serialport's list(), with the module loaded on first use by `load` (loadSerialPort: it may throw). */
export function serialportLister(load: () => SerialPortModule): SerialPortLister {
  return { list: () => load().SerialPort.list() };
}

export function defaultPortLister(load: () => SerialPortModule, platform: NodeJS.Platform = process.platform): SerialPortLister {
  if (platform === 'linux' && existsSync('/sys/class/tty')) return { list: async () => listLinuxSysfsPorts() };
  return serialportLister(load);
}
