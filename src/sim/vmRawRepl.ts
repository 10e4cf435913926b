// CircuitPython's raw REPL and raw-paste mode, byte for byte as CircuitPython 9 speaks them
// (pyexec_raw_repl and do_reader_stdin in its shared/runtime/pyexec.c), on the VM's console.
// MicroPython's WebAssembly build has a raw REPL of its own, but its raw-paste mode would read
// the console from inside the interpreter, which this build cannot; so the VM's REPL loop
// (simWorker.ts) hands every byte typed in raw mode to this class instead.
//
//   raw REPL       "raw REPL; CTRL-B to exit\r\n>" — bytes are collected, not echoed; Ctrl-D ends
//                  the block: "OK", its stdout, \x04, its traceback (if any), \x04, ">".
//                  Ctrl-D on an empty block: "OK\r\n" and a soft reboot (back into the raw REPL).
//                  Ctrl-C: the block so far is dropped. Ctrl-A: "raw REPL; CTRL-B to exit\r\n>"
//                  again. Ctrl-B: "\r\n", then the friendly REPL's banner and ">>> ".
//   raw paste      the block "\x05A" then Ctrl-A: "R\x01", the window increment (u16 LE, 128 as
//                  CircuitPython's MICROPY_REPL_STDIN_BUFFER_MAX / 2) and \x01 (a second window
//                  is free). Each time a window of the code has been taken the device sends \x01;
//                  the host ends with \x04 (answered \x04), then the output as in the raw REPL
//                  (stdout, \x04, traceback, \x04) and ">". Ctrl-C instead of \x04: \x04, then
//                  "\x04KeyboardInterrupt: \r\n\x04>". "\x05" + another letter + Ctrl-A: "R\x00>"
//                  (not supported), as the firmware answers.
// One difference from the board: the board compiles the code as it arrives and stops taking it at
// a SyntaxError (it then sends \x04 early and drops the rest up to the host's \x04); here the
// whole block is taken before it is compiled, so the SyntaxError is reported after the host's \x04.
// Either is a correct raw-paste exchange for a host (mpremote and pyboard.py handle both).

export const RAW_BANNER = 'raw REPL; CTRL-B to exit\r\n';
/** CircuitPython's raw-paste window increment: MICROPY_REPL_STDIN_BUFFER_MAX (256, the default it keeps) / 2. */
export const RAW_PASTE_WINDOW = 128;

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_E = 0x05;

/** The console as the raw REPL uses it (VmConsole). */
export interface RawConsole {
  /** The next typed byte, waiting for it (undefined: a wait that ended without one). */
  readByte(): number | undefined;
  /** Console bytes as they are (latin1). */
  write(text: string): void;
  /** Everything written goes out now. */
  pause(): void;
}

/** What runs the code and leaves raw mode (the VM: MicroPython). */
export interface RawHost {
  /**
   * Runs a block as the firmware's parse_compile_execute does with EXEC_FLAG_PRINT_EOF, up to
   * its second \x04: prints its stdout, \x04, then its traceback if it raised. Returns true when
   * the block asked for a reload (supervisor.reload()).
   */
  run(source: Uint8Array): boolean;
  /** Ctrl-B: back to the friendly REPL, which prints its banner and ">>> ". */
  friendly(): void;
}

/** What the raw REPL wants after a byte. */
export type RawOutcome = 'stay' | 'friendly' | 'soft-reboot';

/** A growing block of typed bytes, up to a cap (beyond it bytes are counted, not kept). */
class Block {
  private data = new Uint8Array(256);
  length = 0;
  /** Bytes that did not fit under the cap. */
  dropped = 0;

  constructor(private readonly maxBytes: number) {}

  push(byte: number): void {
    if (this.length >= this.maxBytes) {
      this.dropped++;
      return;
    }
    if (this.length === this.data.length) {
      const bigger = new Uint8Array(Math.min(this.maxBytes, this.data.length * 2));
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = byte;
  }

  at(index: number): number {
    return this.data[index];
  }

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  reset(): void {
    this.length = 0;
    this.dropped = 0;
    if (this.data.length > 64 * 1024) this.data = new Uint8Array(256);
  }
}

export class RawRepl {
  private readonly block: Block;

  /** `maxBlockBytes`: the largest block kept (MicroPython's heap could not hold a larger one). */
  constructor(private readonly con: RawConsole, private readonly host: RawHost, maxBlockBytes: number) {
    this.block = new Block(maxBlockBytes);
  }

  /** One byte typed in raw mode. */
  key(c: number): RawOutcome {
    const block = this.block;
    switch (c) {
      case CTRL_A:
        if (block.length === 2 && block.at(0) === CTRL_E) {
          const command = block.at(1);
          block.reset();
          if (command === 0x41) this.rawPaste();
          else this.con.write('R\x00');
          this.prompt();
        } else {
          block.reset();
          this.con.write(RAW_BANNER);
          this.prompt();
        }
        return 'stay';
      case CTRL_B:
        block.reset();
        this.con.write('\r\n');
        this.host.friendly();
        return 'friendly';
      case CTRL_C:
        block.reset();
        return 'stay';
      case CTRL_D: {
        this.con.write('OK');
        if (!block.length && !block.dropped) {
          this.con.write('\r\n');
          this.con.pause();
          return 'soft-reboot';
        }
        const reload = this.execute();
        if (reload) {
          this.con.pause();
          return 'soft-reboot';
        }
        this.prompt();
        return 'stay';
      }
      default:
        block.push(c);
        return 'stay';
    }
  }

  private prompt(): void {
    this.con.write('>');
    this.con.pause();
  }

  /** Runs the block collected (after "OK" or the raw-paste \x04) and ends its output with the second \x04. */
  private execute(): boolean {
    const block = this.block;
    let reload = false;
    if (block.dropped) {
      // What MicroPython says when the block's buffer cannot grow.
      this.con.write(`\x04MemoryError: memory allocation failed, allocating ${block.length + block.dropped} bytes\r\n`);
    } else {
      reload = this.host.run(block.bytes());
    }
    block.reset();
    this.con.write('\x04');
    return reload;
  }

  /** The host sent "\x05A\x01": take the code under flow control, then run it. */
  private rawPaste(): void {
    const window = RAW_PASTE_WINDOW;
    // "R\x01": understood and supported; the window increment; \x01: a second window is free.
    this.con.write(`R\x01${String.fromCharCode(window & 0xff, window >> 8)}\x01`);
    this.con.pause();
    let remain = window;
    for (;;) {
      const c = this.con.readByte();
      if (c === undefined) continue;
      if (c === CTRL_C || c === CTRL_D) {
        // End of the code (or of the attempt): the host is told with \x04.
        this.con.write('\x04');
        if (c === CTRL_C) {
          // The KeyboardInterrupt is raised while the code is read: no frame, no stdout.
          this.block.reset();
          this.con.write('\x04KeyboardInterrupt: \r\n\x04');
          return;
        }
        this.con.pause();
        break;
      }
      this.block.push(c);
      if (--remain === 0) {
        this.con.write('\x01');
        this.con.pause();
        remain = window;
      }
    }
    // A reload asked for from raw-paste code is not acted on by the firmware's raw REPL either.
    this.execute();
  }
}
