// Serial ports + CIRCUITPY drives → boards. A port and a drive belong to the same board when
// the port's USB serial number equals the UID line of the drive's boot_out.txt.
import type { BootloaderDrive, CircuitPyDrive } from './findDrives.js';
import { identifyUsbDevice, type UsbDeviceKind, type UsbIdPair } from './usbIds.js';

/** What serialport's SerialPort.list() reports (fields we use). */
export interface SerialPortInfo {
  path: string;
  vendorId?: string;
  productId?: string;
  serialNumber?: string;
  manufacturer?: string;
  pnpId?: string;
}

export interface Board {
  /** Stable identity: the UID when known, else the port path, else the drive path. */
  key: string;
  name: string;
  kind: UsbDeviceKind;
  uid?: string;
  /** CircuitPython version from boot_out.txt. */
  version?: string;
  /** The console port (the first CDC interface of the device). */
  port?: SerialPortInfo;
  drive?: CircuitPyDrive;
  /** In BOOTSEL mode: the UF2 bootloader's drive, where a firmware .uf2 is copied. */
  bootloaderDrive?: BootloaderDrive;
}

/** Windows pnpIds carry the USB interface number (MI_00 is CircuitPython's console); elsewhere the path order does. */
function interfaceOrder(p: SerialPortInfo): string {
  const mi = /MI_(\d+)/i.exec(p.pnpId ?? '');
  return `${mi ? mi[1].padStart(3, '0') : '999'}|${p.path.replace(/\d+/g, (d) => d.padStart(6, '0'))}`;
}

export function pairBoards(ports: readonly SerialPortInfo[], drives: readonly CircuitPyDrive[], extraIds: readonly UsbIdPair[] = [],
  bootloaders: readonly BootloaderDrive[] = []): Board[] {
  // One board may expose several CDC ports (console + usb_cdc.data): keep the first per device.
  const consoles = new Map<string, SerialPortInfo & { identity: NonNullable<ReturnType<typeof identifyUsbDevice>> }>();
  for (const port of [...ports].sort((a, b) => interfaceOrder(a).localeCompare(interfaceOrder(b)))) {
    const identity = identifyUsbDevice(port.vendorId, port.productId, extraIds);
    if (!identity) continue;
    const device = port.serialNumber ? `sn:${port.serialNumber.toUpperCase()}` : `path:${port.path}`;
    if (!consoles.has(device)) consoles.set(device, { ...port, identity });
  }

  const boards: Board[] = [];
  const unpairedDrives = [...drives];
  for (const port of consoles.values()) {
    const uid = port.serialNumber?.toUpperCase();
    const index = uid ? unpairedDrives.findIndex((d) => d.boot.uid === uid) : -1;
    const drive = index >= 0 ? unpairedDrives.splice(index, 1)[0] : undefined;
    const { identity, ...info } = port;
    boards.push({
      key: uid ?? port.path,
      name: drive?.boot.boardName ?? identity.name,
      kind: identity.kind,
      uid,
      version: drive?.boot.version,
      port: info,
      drive,
    });
  }
  // Some systems report no serial number: one CircuitPython port and one drive left are one board.
  const lonePorts = boards.filter((b) => b.kind === 'circuitpython' && !b.drive);
  if (lonePorts.length === 1 && unpairedDrives.length === 1 && !lonePorts[0].port?.serialNumber) {
    const drive = unpairedDrives.pop()!;
    Object.assign(lonePorts[0], { drive, name: drive.boot.boardName, version: drive.boot.version, uid: drive.boot.uid, key: drive.boot.uid ?? lonePorts[0].key });
  }
  for (const drive of unpairedDrives) {
    boards.push({ key: drive.boot.uid ?? drive.path, name: drive.boot.boardName, kind: 'circuitpython', uid: drive.boot.uid, version: drive.boot.version, drive });
  }
  for (const b of bootloaders) {
    const name = b.chip === 'rp2350' ? 'RP2350 in BOOTSEL mode' : b.chip === 'rp2040' ? 'RP2040 in BOOTSEL mode' : `${b.boardId} bootloader`;
    boards.push({ key: `bootsel:${b.path}`, name, kind: 'bootloader', bootloaderDrive: b });
  }
  return boards;
}

/** "Pico · CP 9.2.1 · CIRCUITPY", as the status bar shows a board. */
export function boardSummary(board: Board): string {
  const short = board.name.replace(/^Raspberry Pi /, '');
  return [short, board.version ? `CP ${board.version}` : undefined, board.drive?.label].filter(Boolean).join(' · ');
}

/**
 * The board commands act on: the one the user chose (remembered per workspace), else the only
 * CircuitPython board. With several and no choice, none: the user is asked, never guessed for.
 */
export function chooseBoard(boards: readonly Board[], chosenKey: string | undefined): Board | undefined {
  const candidates = boards.filter((b) => b.kind !== 'micropython');
  const chosen = chosenKey ? candidates.find((b) => b.key === chosenKey) : undefined;
  if (chosen) return chosen;
  return candidates.length === 1 ? candidates[0] : undefined;
}
