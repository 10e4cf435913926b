// Errors of the serial console, with messages that tell a user what to do. serialport reports
// most failures as plain Errors whose text comes from the C binding ("Error: Permission denied,
// cannot open /dev/ttyACM0", "Error Resource temporarily unavailable Cannot lock port",
// "Opening COM5: Access denied"), so they are recognised by their system error code when there
// is one and by their text otherwise.
import { CpmlError } from '../errors.js';
import { quoted } from '../text/untrustedText.js';

export type SerialErrorKind =
  /** The operating system refused access (Linux: not in the dialout group). */
  | 'permission'
  /** Another program has the port open. */
  | 'busy'
  /** The port does not exist (not plugged in, wrong name). */
  | 'not-found'
  /** The path exists but is no serial port (a regular file, /dev/null, a folder). */
  | 'not-a-port'
  /** The device went away while open (reset, unplug). */
  | 'disconnected'
  /** A write while no port is open. */
  | 'not-connected'
  /** serialport's native module cannot be loaded on this machine. */
  | 'unavailable'
  | 'other';

/** Something went wrong talking to a serial port; `path` is the port concerned. */
export class SerialError extends CpmlError {
  readonly path: string;
  readonly kind: SerialErrorKind;
  /** The error serialport or the system reported, for logs. */
  override readonly cause?: unknown;
  constructor(message: string, options: { path: string; kind: SerialErrorKind; hint?: string; cause?: unknown }) {
    super(message, options.hint);
    this.path = options.path;
    this.kind = options.kind;
    this.cause = options.cause;
  }
}

/** serialport (its native binding) failed to load: serial features are off, the rest works. */
export class SerialPortUnavailableError extends SerialError {
  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    super(`the serial port library (serialport) could not be loaded on this machine: ${detail}`, {
      path: '',
      kind: 'unavailable',
      hint: 'Converting and checking models still works; to talk to a board, reinstall cpml (npm install) so that serialport\'s prebuilt binding for this platform and Node version is present',
      cause,
    });
  }
}

/**
 * The path names something that is not a serial port: a regular file, a folder, /dev/null.
 * (serialport would say "Inappropriate ioctl for device setting custom baud rate of 115200".)
 */
export class NotASerialPortError extends SerialError {
  /** What the path is instead: "a regular file", "a character device that is not a terminal", … */
  readonly what: string;
  constructor(path: string, what: string, cause?: unknown) {
    super(`${quoted(path, 500)} is not a serial port (it is ${what})`, {
      path,
      kind: 'not-a-port',
      hint: 'Choose the board\'s console port (e.g. /dev/ttyACM0 on Linux, /dev/cu.usbmodem… on macOS, COM5 on Windows), or leave the port out (cpml monitor without --port, an empty cpml.board.port setting) to find the board automatically',
      cause,
    });
    this.what = what;
  }
}

/** A write while the session has no open port. */
export class NotConnectedError extends SerialError {
  constructor(path: string, state: string) {
    super(`not connected to ${path} (${state})`, {
      path,
      kind: 'not-connected',
      hint: 'Wait until the board is connected again, or check that it is plugged in',
    });
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Did the device go away under an open port (what serialport reports on unplug or reset)? */
export function isDisconnectError(error: unknown): boolean {
  if ((error as { disconnected?: unknown; disconnect?: unknown } | null | undefined)?.disconnected === true) return true;
  if ((error as { disconnect?: unknown } | null | undefined)?.disconnect === true) return true;
  const code = errorCode(error);
  if (code === 'EBADF' || code === 'ENXIO' || code === 'EIO' || code === 'ENODEV') return true;
  return /bad file descriptor|no such device|input\/output error|device not configured|disconnected/i.test(errorText(error));
}

/**
 * Turns any error from opening, reading or writing `path` into a SerialError with a message
 * a user can act on. Already-described errors pass through unchanged.
 */
export function describeSerialError(error: unknown, path: string, platform: NodeJS.Platform = process.platform): SerialError {
  if (error instanceof SerialError) return error;
  const text = errorText(error);
  const code = errorCode(error);
  const cause = error;

  if (code === 'EBUSY' || /cannot lock port|resource busy|device or resource busy|EBUSY/i.test(text)
      || (platform === 'win32' && /access denied|access is denied/i.test(text))) {
    return new SerialError(`${path} is in use by another program (a serial terminal, Thonny, Mu, another VS Code window?)`, {
      path, kind: 'busy', hint: 'Close it and try again', cause,
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || /permission denied|access denied|access is denied|operation not permitted|EACCES/i.test(text)) {
    if (platform === 'linux') {
      return new SerialError(`permission denied opening ${path}`, {
        path,
        kind: 'permission',
        hint: 'Add yourself to the dialout group: sudo usermod -aG dialout $USER, then log out and in again (on Arch Linux the group is uucp: sudo usermod -aG uucp $USER)',
        cause,
      });
    }
    return new SerialError(`permission denied opening ${path}`, {
      path, kind: 'permission', hint: 'Check that your user may open serial ports, and that no other program holds this one', cause,
    });
  }
  if (code === 'ENOENT' || /no such file or directory|file not found|cannot find the file|ENOENT/i.test(text)) {
    return new SerialError(`no such port ${path}`, {
      path, kind: 'not-found', hint: 'Check that the board is plugged in and that the port name is right', cause,
    });
  }
  // ENOTTY: the device opened, but the terminal settings (the baud rate first) cannot be set.
  if (code === 'ENOTTY' || /inappropriate ioctl for device/i.test(text)) {
    return new NotASerialPortError(path, 'a character device that is not a terminal', cause);
  }
  if (isDisconnectError(error)) {
    return new SerialError(`lost the connection to ${path} (board reset or unplugged?)`, { path, kind: 'disconnected', cause });
  }
  const detail = text.replace(/^Error:?\s*/, '').replace(/\s+/g, ' ').trim();
  return new SerialError(`serial port ${path}: ${detail || 'unknown error'}`, { path, kind: 'other', cause });
}
