// The console between the virtual Pico's supervisor (virtualPico.ts) and a MicroPython worker
// (simWorker.ts), in shared memory: the input ring (typed bytes), the output ring (what the
// board prints), the Ctrl-C flag and the worker's busy flag. See simProtocol.ts for why it is not
// messages. Indices are running totals (int32, wrapping); both rings' sizes are powers of two.
import { CTL, CTL_CELLS, INPUT_RING_BYTES, OUTPUT_RING_BYTES } from './simProtocol.js';

export interface ConsoleBuffers {
  control: SharedArrayBuffer;
  input: SharedArrayBuffer;
  output: SharedArrayBuffer;
}

interface WaitAsyncResult {
  async: boolean;
  value: Promise<string> | string;
}
/** Atomics.waitAsync (Node 16+; not in TypeScript's ES2022 library). */
const waitAsync = (Atomics as unknown as { waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): WaitAsyncResult }).waitAsync;

export class SharedConsole {
  private readonly ctl: Int32Array;
  private readonly inRing: Uint8Array;
  private readonly outRing: Uint8Array;

  static create(): SharedConsole {
    return new SharedConsole({
      control: new SharedArrayBuffer(CTL_CELLS * 4),
      input: new SharedArrayBuffer(INPUT_RING_BYTES),
      output: new SharedArrayBuffer(OUTPUT_RING_BYTES),
    });
  }

  constructor(readonly buffers: ConsoleBuffers) {
    this.ctl = new Int32Array(buffers.control);
    this.inRing = new Uint8Array(buffers.input);
    this.outRing = new Uint8Array(buffers.output);
  }

  // --- flags ----------------------------------------------------------------------------------

  /** The worker is executing Python (Ctrl-C raises KeyboardInterrupt instead of being typed). */
  get busy(): boolean {
    return Atomics.load(this.ctl, CTL.busy) !== 0;
  }

  setBusy(busy: boolean): void {
    Atomics.store(this.ctl, CTL.busy, busy ? 1 : 0);
  }

  /** Console side, on Ctrl-C while Python runs: unread input is dropped (the firmware flushes its buffer). */
  requestInterrupt(): void {
    Atomics.store(this.ctl, CTL.read, Atomics.load(this.ctl, CTL.written));
    Atomics.store(this.ctl, CTL.interrupt, 1);
    this.wake();
  }

  get interruptPending(): boolean {
    return Atomics.load(this.ctl, CTL.interrupt) !== 0;
  }

  /** Worker side: true once per requested interrupt. */
  takeInterrupt(): boolean {
    return Atomics.exchange(this.ctl, CTL.interrupt, 0) !== 0;
  }

  /** Before a new VM starts. */
  resetFlags(): void {
    Atomics.store(this.ctl, CTL.interrupt, 0);
    Atomics.store(this.ctl, CTL.busy, 0);
  }

  // --- input ------------------------------------------------------------------------------------

  get pendingInput(): number {
    return (Atomics.load(this.ctl, CTL.written) - Atomics.load(this.ctl, CTL.read)) | 0;
  }

  /** Console side: a typed byte (dropped when the buffer is full, as by the board's). */
  pushInput(byte: number): void {
    const written = Atomics.load(this.ctl, CTL.written);
    if (((written - Atomics.load(this.ctl, CTL.read)) | 0) >= INPUT_RING_BYTES) return;
    this.inRing[written & (INPUT_RING_BYTES - 1)] = byte;
    Atomics.store(this.ctl, CTL.written, (written + 1) | 0);
    this.wake();
  }

  peekInput(): number | undefined {
    return this.pendingInput > 0 ? this.inRing[Atomics.load(this.ctl, CTL.read) & (INPUT_RING_BYTES - 1)] : undefined;
  }

  /** The next typed byte, if any (either side: the console reads what a finished program left). */
  shiftInput(): number | undefined {
    for (;;) {
      const read = Atomics.load(this.ctl, CTL.read);
      if (((Atomics.load(this.ctl, CTL.written) - read) | 0) <= 0) return undefined;
      const byte = this.inRing[read & (INPUT_RING_BYTES - 1)];
      // The console thread may drop unread input meanwhile (requestInterrupt).
      if (Atomics.compareExchange(this.ctl, CTL.read, read, (read + 1) | 0) === read) return byte;
    }
  }

  /** Worker side: sleeps until input or an interrupt arrives, or `timeoutMs` passes. */
  waitForInput(timeoutMs: number): void {
    const wake = Atomics.load(this.ctl, CTL.wake);
    if (this.pendingInput > 0 || this.interruptPending) return;
    Atomics.wait(this.ctl, CTL.wake, wake, timeoutMs);
  }

  private wake(): void {
    Atomics.add(this.ctl, CTL.wake, 1);
    Atomics.notify(this.ctl, CTL.wake);
  }

  // --- output ---------------------------------------------------------------------------------

  /** Worker side: console bytes (a latin1 string, one char per byte); waits while the ring is full. */
  writeOutput(text: string): void {
    for (let i = 0; i < text.length; i++) {
      let written = Atomics.load(this.ctl, CTL.outWritten);
      while (((written - Atomics.load(this.ctl, CTL.outRead)) | 0) >= OUTPUT_RING_BYTES) {
        Atomics.wait(this.ctl, CTL.outRead, Atomics.load(this.ctl, CTL.outRead), 100);
        written = Atomics.load(this.ctl, CTL.outWritten);
      }
      this.outRing[written & (OUTPUT_RING_BYTES - 1)] = text.charCodeAt(i);
      Atomics.store(this.ctl, CTL.outWritten, (written + 1) | 0);
    }
    Atomics.notify(this.ctl, CTL.outWritten);
  }

  /** Console side: what the worker printed since the last call, or undefined. */
  takeOutput(): Uint8Array | undefined {
    const read = Atomics.load(this.ctl, CTL.outRead);
    const written = Atomics.load(this.ctl, CTL.outWritten);
    const count = (written - read) | 0;
    if (count <= 0) return undefined;
    const bytes = new Uint8Array(count);
    for (let i = 0; i < count; i++) bytes[i] = this.outRing[(read + i) & (OUTPUT_RING_BYTES - 1)];
    Atomics.store(this.ctl, CTL.outRead, written);
    Atomics.notify(this.ctl, CTL.outRead);
    return bytes;
  }

  /** Console side: resolves when the worker writes output, or after `timeoutMs`. */
  async outputWritten(timeoutMs: number): Promise<void> {
    const seen = Atomics.load(this.ctl, CTL.outWritten);
    if (((seen - Atomics.load(this.ctl, CTL.outRead)) | 0) > 0) return;
    const wait = waitAsync(this.ctl, CTL.outWritten, seen, timeoutMs);
    if (wait.async) await wait.value;
  }
}
