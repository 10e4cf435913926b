// The virtual board's device file, /dev/cpml in MicroPython's file system: the only way the
// Python shims (pythonShims.ts) reach the host, and it carries bytes, never JavaScript objects.
// Python writes one request (an op letter and its bytes), then reads the response. Ops:
//   T            clock: i64 LE ns since power-up (the virtual clock)
//   B / E        a cnn_helper call begins / ends (the clock charges it the RP2040 estimate)
//   S f64        sleep that many seconds (Ctrl-C ends it)
//   R            a console line: "L" + UTF-8 text, or "D" on Ctrl-D (EOFError)
//   A            bytes waiting on the console: u32
//   H / M        the heap for programs / what the model holds: u32
//   L path       cnn_helper.load_model:       "0", or "E" + "Type:message"
//   P bytes      cnn_helper.perform_inference: "0" + float32 outputs, or "E" + "Type:message"
//   U            cnn_helper.unload_model
//   X            supervisor.reload()
//   J            the raw REPL's code block being run (rawRepl.ts): its bytes
//   Q name\0tb   an uncaught exception ended the program (its type and traceback)
import type { VirtualClock } from './virtualClock.js';
import { PythonRaise, type VirtualCnnHelper } from './virtualCnnHelper.js';
import type { VmConsole } from './vmConsole.js';

export const DEVICE_PATH = '/dev/cpml';
const DEVICE_MAJOR = 64;

/** The parts of Emscripten's FS this needs. */
export interface DeviceFs {
  makedev(major: number, minor: number): number;
  registerDevice(dev: number, ops: {
    open?(stream: unknown): void;
    close?(stream: unknown): void;
    read(stream: unknown, buffer: Int8Array, offset: number, length: number, position: number): number;
    write(stream: unknown, buffer: Int8Array, offset: number, length: number, position: number): number;
  }): void;
  mkdev(path: string, mode: number, dev: number): void;
}

export interface HostState {
  uncaught?: { name: string; traceback: string };
  reloadRequested: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, Math.max(0, Math.min(0xffffffff, value)), true);
  return bytes;
}

function raised(error: unknown): Uint8Array {
  const e = error instanceof PythonRaise ? error : new PythonRaise('RuntimeError', `(virtual Pico) internal error: ${(error as Error)?.message ?? String(error)}`);
  return encoder.encode(`E${e.pythonType}:${e.message}`);
}

export class HostDevice {
  readonly state: HostState = { reloadRequested: false };
  /** The raw-REPL block the VM is about to run (op J), set by the REPL loop. */
  rawSource?: Uint8Array;
  private response: Uint8Array = new Uint8Array(0);
  private cursor = 0;

  constructor(private readonly console: VmConsole, private readonly clock: VirtualClock, private readonly cnn: VirtualCnnHelper, private readonly heapBytes: number) {}

  install(fs: DeviceFs): void {
    const dev = fs.makedev(DEVICE_MAJOR, 0);
    fs.registerDevice(dev, {
      read: (_stream, buffer, offset, length) => {
        const n = Math.min(length, this.response.length - this.cursor);
        if (n > 0) buffer.set(new Int8Array(this.response.buffer, this.response.byteOffset + this.cursor, n), offset);
        this.cursor += Math.max(0, n);
        return Math.max(0, n);
      },
      write: (_stream, buffer, offset, length) => {
        const request = new Uint8Array(buffer.buffer, buffer.byteOffset + offset, length).slice();
        this.response = this.handle(request);
        this.cursor = 0;
        return length;
      },
    });
    fs.mkdev(DEVICE_PATH, 0o666, dev);
  }

  private handle(request: Uint8Array): Uint8Array {
    this.clock.countCall();
    this.console.pollInterrupt();
    const op = String.fromCharCode(request[0] ?? 0);
    const args = request.subarray(1);
    switch (op) {
      case 'T': {
        const bytes = new Uint8Array(8);
        new DataView(bytes.buffer).setBigInt64(0, this.clock.monotonicNs(), true);
        return bytes;
      }
      case 'B': this.clock.beginCall(); return new Uint8Array(0);
      case 'E': this.clock.endCall(); return new Uint8Array(0);
      case 'S': {
        const seconds = args.length >= 8 ? new DataView(args.buffer, args.byteOffset, 8).getFloat64(0, true) : 0;
        if (Number.isFinite(seconds) && seconds > 0) this.console.sleep(seconds);
        else this.console.flush();
        return new Uint8Array(0);
      }
      case 'R': {
        const line = this.console.readLine();
        return line === null ? encoder.encode('D') : encoder.encode(`L${line}`);
      }
      case 'A': return u32(this.console.pendingInput);
      case 'H': return u32(this.heapBytes);
      case 'M': return u32(this.cnn.modelBytes);
      case 'L':
        try {
          this.cnn.load(decoder.decode(args));
          return encoder.encode('0');
        } catch (error) {
          return raised(error);
        }
      case 'P':
        try {
          const out = this.cnn.infer(args);
          const bytes = new Uint8Array(1 + out.length * 4);
          bytes[0] = 0x30;
          const view = new DataView(bytes.buffer);
          for (let i = 0; i < out.length; i++) view.setFloat32(1 + i * 4, out[i], true);
          return bytes;
        } catch (error) {
          return raised(error);
        }
      case 'U': this.cnn.unload(); return new Uint8Array(0);
      case 'X': this.state.reloadRequested = true; return new Uint8Array(0);
      case 'J': return this.rawSource ?? new Uint8Array(0);
      case 'Q': {
        const text = decoder.decode(args);
        const split = text.indexOf('\0');
        this.state.uncaught = { name: split === -1 ? text : text.slice(0, split), traceback: split === -1 ? '' : text.slice(split + 1) };
        return new Uint8Array(0);
      }
      default:
        return raised(new PythonRaise('OSError', '22'));
    }
  }
}
