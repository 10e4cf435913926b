// What the virtual Pico's console thread (virtualPico.ts) and its MicroPython worker thread
// (simWorker.ts) share: the firmware identity they imitate, the layout of the shared memory
// they talk through, and the messages the worker posts.
//
// Console bytes never travel as messages: a worker running Python is busy inside a synchronous
// runPython() and reads no messages, and it may print and then spin in a loop that calls
// nothing, so it could not post what it printed either. Both directions go through ring buffers
// in shared memory: the console thread writes typed bytes into the input ring and wakes the
// worker with Atomics.notify; the worker writes what the board prints into the output ring as
// it prints it, and the console thread drains it (Atomics.waitAsync). Ctrl-C sets a flag that
// the worker's callbacks (print, time, cnn_helper, input) check and turn into KeyboardInterrupt.

export const CP_VERSION = '9.2.1';
export const CP_DATE = '2024-11-20';
export const BOARD_NAME = 'Raspberry Pi Pico';
export const BOARD_ID = 'raspberry_pi_pico';
export const CHIP = 'rp2040';
/** MICROPY_FULL_VERSION_INFO of the firmware: first line of boot_out.txt and the REPL banner. */
export const CP_BANNER = `Adafruit CircuitPython ${CP_VERSION} on ${CP_DATE}; ${BOARD_NAME} with ${CHIP}`;

/** Int32 cells of the control buffer. */
export const CTL = {
  /** 1: Ctrl-C arrived while Python was running; the worker takes it (sets 0) and raises KeyboardInterrupt. */
  interrupt: 0,
  /** 1 while the worker executes Python (a program, or a REPL line after Enter). */
  busy: 1,
  /** Bumped by the console thread on every input or interrupt; the worker Atomics.waits on it. */
  wake: 2,
  /** Input ring: total bytes ever written (console thread) and read (worker, or the console thread once the worker is gone). */
  written: 3,
  read: 4,
  /** Output ring: total bytes ever written (worker) and read (console thread). */
  outWritten: 5,
  outRead: 6,
} as const;
export const CTL_CELLS = 8;
export const INPUT_RING_BYTES = 64 * 1024;
/** A full output ring makes the worker wait, as a board waits for its USB buffer to drain. */
export const OUTPUT_RING_BYTES = 256 * 1024;

export type VmMode =
  /** Run a program file (code.py) once and report how it ended. */
  | { kind: 'run'; file: string }
  /**
   * MicroPython's REPL. `raw`: start in raw REPL (after a soft reboot from it); `banner`: print
   * the version banner (not when a stuck program was stopped and the REPL comes back).
   */
  | { kind: 'repl'; raw: boolean; banner: boolean };

export interface WorkerInput {
  mode: VmMode;
  /** The CIRCUITPY folder, copied into MicroPython's file system at start. */
  drive: string;
  /** The board's heap for user code (what gc.mem_free() reports at the start of a program). */
  heapBytes: number;
  /** process.hrtime.bigint() at the virtual board's power-up: time.monotonic_ns() counts from it. */
  bootHrtime: bigint;
  /** The console's shared memory (sharedConsole.ts). */
  console: { control: SharedArrayBuffer; input: SharedArrayBuffer; output: SharedArrayBuffer };
  /** BigInt64 cell 0: ns the virtual clock runs ahead of the host's (simulated RP2040 time minus host time), shared by every VM of one board. */
  clock: SharedArrayBuffer;
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

/** Sent after the output that precedes them is in the output ring. */
export type WorkerMessage =
  | { type: 'run-ended'; result: RunResult }
  /** The REPL asked for a soft reboot (Ctrl-D); `raw`: it was in raw REPL mode. */
  | { type: 'repl-exit'; raw: boolean }
  /** MicroPython itself failed (not a Python exception): the VM is gone. */
  | { type: 'fatal'; message: string };
