// What the virtual Pico's supervisor (virtualPico.ts, in the host process) and a MicroPython VM
// (simWorker.ts, in a sandboxed child process: vmProcess.ts) share: the firmware identity they
// imitate, the frames they exchange over the child's fd 3, and the messages the VM sends.
//
// The VM runs Python synchronously, so it reads its frames with blocking reads: a wait for a key
// or for output credit sleeps in read() and any frame wakes it. While Python computes, it cannot
// read the socket without blocking; a Ctrl-C then also shows in the control file (a small file
// the VM may read and nothing else may write but the supervisor), which the VM checks cheaply.
// Output is flow-controlled like a USB CDC port: the VM may have at most OUTPUT_WINDOW_BYTES
// unacknowledged; the supervisor acknowledges what the serial port has taken, so a program whose
// host does not read blocks instead of filling this computer's memory.

export const CP_VERSION = '9.2.1';
export const CP_DATE = '2024-11-20';
export const BOARD_NAME = 'Raspberry Pi Pico';
export const BOARD_ID = 'raspberry_pi_pico';
export const CHIP = 'rp2040';
/** MICROPY_FULL_VERSION_INFO of the firmware: first line of boot_out.txt and the REPL banner. */
export const CP_BANNER = `Adafruit CircuitPython ${CP_VERSION} on ${CP_DATE}; ${BOARD_NAME} with ${CHIP}`;
/** The firmware's status line, in the terminal's window title. */
export const statusTitle = (status: string) => `\x1b]0;🐍${status} | ${CP_VERSION}\x1b\\`;

/** Output the VM may send before the supervisor acknowledges it. */
export const OUTPUT_WINDOW_BYTES = 64 * 1024;
/** Largest frame either side accepts (a drive file: the drive holds at most MAX_DRIVE_BYTES in all). */
export const MAX_FRAME_BYTES = 17 * 1024 * 1024;
/** Frame header: type (u8) + payload length (u32 LE). */
export const FRAME_HEADER_BYTES = 5;

/** Frame types, supervisor → VM. */
export const TO_VM = {
  /** JSON VmStart. */
  start: 0x01,
  /** A file of the drive: u16 LE path length, path (UTF-8), content. */
  file: 0x02,
  /** A folder of the drive: its path (UTF-8). */
  folder: 0x03,
  /** Everything is there: run. */
  go: 0x04,
  /** Bytes typed on the console. */
  input: 0x10,
  /** Ctrl-C: u32 LE sequence number (also written to the control file). */
  interrupt: 0x11,
  /** The serial port took this many more bytes (u32 LE): the VM may send as many more. */
  credit: 0x12,
} as const;

/** Frame types, VM → supervisor. */
export const FROM_VM = {
  /** JSON VmReady: MicroPython is loaded, the walls are up; send start. */
  ready: 0x20,
  /** Console bytes. */
  output: 0x21,
  /** JSON WorkerMessage. */
  message: 0x22,
  /** The virtual clock's offset changed: i64 LE ns. */
  clock: 0x23,
  /** A diagnostic of the VM itself (not console output): UTF-8. */
  log: 0x24,
} as const;

export type VmMode =
  /** Run a program file (code.py) once and report how it ended. */
  | { kind: 'run'; file: string }
  /**
   * The REPL. `raw`: start in raw REPL (after a soft reboot from it); `banner`: print the mode's
   * banner, the version banner or "raw REPL; CTRL-B to exit", before the prompt (not when a stuck
   * program or raw-REPL block was stopped and the REPL comes back: then only the prompt).
   */
  | { kind: 'repl'; raw: boolean; banner: boolean };

export interface VmStart {
  mode: VmMode;
  /** The board's heap for user code (what gc.mem_free() reports at the start of a program). */
  heapBytes: number;
  /** process.hrtime.bigint() at the virtual board's power-up, as a decimal string: time.monotonic_ns() counts from it. */
  bootHrtime: string;
  /** ns the virtual clock runs ahead of the host's (simulated RP2040 time minus host time), as a decimal string. */
  clockOffsetNs: string;
  /** Interrupts with this sequence number or lower were handled by earlier VMs. */
  interruptSeq: number;
  /** Largest model the virtual cnn_helper runs, in MACs per inference. */
  maxMacs: number;
}

/** What the VM reports once it is up: its walls as it sees them (measured, not assumed). */
export interface VmReady {
  /** Node's permission model is on, with no file writes, child processes or workers allowed. */
  permissionModel: boolean;
  /** The interpreter's bridges to JavaScript are cut (imports replaced, `js` and `jsffi` refused). */
  bridgesCut: boolean;
  node: string;
}

/** How a program run ended (mode 'run'). */
export interface RunResult {
  /** 'exception': an uncaught exception (traceback printed); 'reload': supervisor.reload(). */
  end: 'ok' | 'exception' | 'reload';
  /** Innermost frame of the traceback outside the virtual board's own modules, as the status title shows it. */
  file?: string;
  line?: number;
  exception?: string;
}

/** Sent after the output that precedes them. */
export type WorkerMessage =
  /** `unread`: keys typed while the program ran that it did not read (the first few). */
  | { type: 'run-ended'; result: RunResult; unread?: number[] }
  /** The REPL asked for a soft reboot (Ctrl-D); `raw`: it was in raw REPL mode. */
  | { type: 'repl-exit'; raw: boolean }
  /** A raw-REPL block started (its stdout is open) or ended: a stuck block is stopped with the raw REPL's framing. */
  | { type: 'raw-job'; running: boolean }
  /** The VM took the interrupt with this sequence number (raised KeyboardInterrupt, or gave the REPL its Ctrl-C). */
  | { type: 'interrupted'; seq: number }
  /** MicroPython itself failed (not a Python exception): the VM is gone. */
  | { type: 'fatal'; message: string };

export function encodeFrame(type: number, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  frame[0] = type;
  new DataView(frame.buffer).setUint32(1, payload.length, true);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export function u32Payload(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}

/** Splits a byte stream into frames; keeps a partial frame for the next push (without re-copying it on every chunk). */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;

  /** Frames completed by these bytes. Throws on a frame larger than MAX_FRAME_BYTES (a broken peer). */
  push(bytes: Uint8Array): { type: number; payload: Uint8Array }[] {
    if (bytes.length) {
      this.chunks.push(bytes);
      this.buffered += bytes.length;
    }
    const frames: { type: number; payload: Uint8Array }[] = [];
    while (this.buffered >= FRAME_HEADER_BYTES) {
      const header = this.peek(FRAME_HEADER_BYTES);
      const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(1, true);
      if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes`);
      if (this.buffered < FRAME_HEADER_BYTES + length) break;
      const frame = this.take(FRAME_HEADER_BYTES + length);
      frames.push({ type: frame[0], payload: frame.subarray(FRAME_HEADER_BYTES) });
    }
    return frames;
  }

  /** The first n buffered bytes (joined into the first chunk, left in the buffer). */
  private peek(n: number): Uint8Array {
    if (this.chunks[0].length < n) {
      const joined = this.take(n);
      this.chunks.unshift(joined);
      this.buffered += n;
    }
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const chunk = this.chunks.shift()!;
      const used = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, used), at);
      at += used;
      if (used < chunk.length) this.chunks.unshift(chunk.subarray(used));
    }
    this.buffered -= n;
    return out;
  }
}
