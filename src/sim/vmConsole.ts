// The VM's serial console, over its channel (vmChannel.ts): typed bytes in, printed bytes out
// under flow control, and Ctrl-C. While the VM executes Python it is "busy": a Ctrl-C then
// raises KeyboardInterrupt (through `onInterrupt`) and unread input is dropped, as the firmware
// flushes its buffer; while it waits at the REPL prompt, a Ctrl-C is a key like any other.
import { ConsoleFilter } from './consoleFilter.js';
import { FROM_VM, OUTPUT_WINDOW_BYTES, TO_VM, type WorkerMessage } from './simProtocol.js';
import type { Frame, VmChannel } from './vmChannel.js';

/** Output is sent at a line end, or when this much has gathered. */
const OUTPUT_CHUNK_BYTES = 4096;
/** While Python computes, the control file is read at most this often. */
const INTERRUPT_POLL_MS = 2;
/** A sleep looks for Ctrl-C this often. */
const SLEEP_SLICE_MS = 10;
/** A partial line waits at most this long for the rest of its line before it goes out. */
const PARTIAL_LINE_MS = 20;
/** Typed bytes kept unread, as the board's input buffer holds them; more are dropped. */
const MAX_UNREAD_INPUT = 64 * 1024;

const newer = (a: number, b: number) => ((a - b) | 0) > 0;

export class VmConsole {
  /** Executing Python (a program, or a REPL line after Enter). */
  busy = false;
  /** Raises KeyboardInterrupt in the VM (set once MicroPython is loaded). */
  onInterrupt: () => void = () => undefined;
  /** Output is dropped (MicroPython's own REPL banner when the firmware would print none). */
  muted = false;

  private readonly input: Uint8Array[] = [];
  private inputOffset = 0;
  private inputReceived = 0;
  private credit = OUTPUT_WINDOW_BYTES;
  private taken: number;
  private lastPoll = 0;
  private readonly out = new Uint8Array(OUTPUT_CHUNK_BYTES * 2);
  private outLength = 0;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly parent = process.ppid;
  /** MicroPython's output, made to read like CircuitPython's. */
  private readonly filter = new ConsoleFilter();
  /** What MicroPython printed since the last line end, not filtered yet. */
  private printed = '';
  /** When the oldest of `printed` was printed. */
  private printedSince = 0;
  /** The end of what went out since the last takeWritten(): the REPL loop reads it to follow raw/friendly mode. */
  private written = '';

  constructor(private readonly channel: VmChannel, interruptSeq: number) {
    this.taken = interruptSeq;
  }

  send(message: WorkerMessage): void {
    this.pause();
    this.channel.send(FROM_VM.message, new TextEncoder().encode(JSON.stringify(message)));
  }

  // --- input ----------------------------------------------------------------------------------

  private queuedInput(): number {
    let queued = -this.inputOffset;
    for (const chunk of this.input) queued += chunk.length;
    return queued;
  }

  /** Bytes typed and not read yet, including those still on their way. */
  get pendingInput(): number {
    const inFlight = (this.channel.readControl().inputSent - this.inputReceived) | 0;
    return this.queuedInput() + Math.max(0, inFlight);
  }

  /** At the end of a program: the first `max` keys it left unread (those still on their way included). */
  takeUnread(max: number): number[] {
    while (((this.channel.readControl().inputSent - this.inputReceived) | 0) > 0) this.dispatch(this.channel.next());
    const keys: number[] = [];
    for (let b = this.shiftInput(); b !== undefined && keys.length < max; b = this.shiftInput()) keys.push(b);
    return keys;
  }

  shiftInput(): number | undefined {
    const chunk = this.input[0];
    if (!chunk) return undefined;
    const byte = chunk[this.inputOffset++];
    if (this.inputOffset >= chunk.length) {
      this.input.shift();
      this.inputOffset = 0;
    }
    return byte;
  }

  peekInput(): number | undefined {
    return this.input[0]?.[this.inputOffset];
  }

  /** The next typed byte; waits for it. undefined when a Ctrl-C interrupts the wait (only while busy). */
  readByte(): number | undefined {
    for (;;) {
      const byte = this.shiftInput();
      if (byte !== undefined) return byte;
      if (this.busy && this.takeInterrupt()) return undefined;
      this.pause();
      const taken = this.taken;
      this.dispatch(this.channel.next());
      if (this.busy && this.taken !== taken) return undefined;
    }
  }

  /**
   * input(): a line typed on the console, echoed as the board echoes it. null on Ctrl-D
   * (EOFError); '' after a Ctrl-C (KeyboardInterrupt is already on its way).
   */
  readLine(): string | null {
    this.pause();
    let line = '';
    for (;;) {
      const b = this.readByte();
      if (b === undefined) return '';
      if (b === 0x03) {
        this.onInterrupt();
        return '';
      }
      if (b === 0x0d || b === 0x0a) {
        this.write('\r\n');
        this.flush();
        if (b === 0x0d && this.peekInput() === 0x0a) this.shiftInput();
        return Buffer.from(line, 'latin1').toString('utf8');
      }
      if (b === 0x04 && !line) return null;
      if (b === 0x08 || b === 0x7f) {
        if (!line) continue;
        // Remove a whole UTF-8 character.
        let cut = line.length - 1;
        while (cut > 0 && (line.charCodeAt(cut) & 0xc0) === 0x80) cut--;
        line = line.slice(0, cut);
        this.write('\b \b');
        continue;
      }
      if (b < 0x20) continue;
      line += String.fromCharCode(b);
      this.write(String.fromCharCode(b));
    }
  }

  // --- Ctrl-C ---------------------------------------------------------------------------------

  /** A Ctrl-C not taken yet (read from the control file): raise KeyboardInterrupt. Only while busy. */
  takeInterrupt(): boolean {
    if (!this.busy) return false;
    const { interruptSeq } = this.channel.readControl();
    if (!newer(interruptSeq, this.taken)) return false;
    this.take(interruptSeq);
    return true;
  }

  /** takeInterrupt, at most every INTERRUPT_POLL_MS: for paths Python takes very often (output, the clock). */
  pollInterrupt(): void {
    if (!this.busy) return;
    const now = performance.now();
    if (now - this.lastPoll < INTERRUPT_POLL_MS) return;
    this.lastPoll = now;
    this.exitIfOrphaned();
    this.takeInterrupt();
  }

  /** The supervisor is gone (killed): a VM has no one to serve. (Its reads also end at end of stream.) */
  private exitIfOrphaned(): void {
    if (process.ppid !== this.parent) process.exit(0);
  }

  /** Forgets a Ctrl-C that arrived too late for what it was meant to stop. */
  discardInterrupt(): void {
    const { interruptSeq } = this.channel.readControl();
    if (newer(interruptSeq, this.taken)) this.taken = interruptSeq;
  }

  private take(seq: number): void {
    this.taken = seq;
    this.onInterrupt();
    this.channel.send(FROM_VM.message, new TextEncoder().encode(JSON.stringify({ type: 'interrupted', seq } satisfies WorkerMessage)));
  }

  // --- output ---------------------------------------------------------------------------------

  /** What MicroPython prints (latin1: one char per byte), through the filter. */
  print(text: string): void {
    // MicroPython prints byte by byte: the filter gets whole lines (or big pieces), not characters.
    const now = performance.now();
    if (!this.printed) this.printedSince = now;
    this.printed += text;
    // A partial line ("." after "." in a busy loop) still shows within a moment, as on a board.
    if (text.includes('\n') || this.printed.length >= OUTPUT_CHUNK_BYTES || now - this.printedSince > PARTIAL_LINE_MS) {
      this.filterPrinted();
      this.flush();
    }
    this.pollInterrupt();
  }

  private filterPrinted(): void {
    if (!this.printed) return;
    const text = this.printed;
    this.printed = '';
    this.write(this.filter.push(text));
  }

  /** The output pauses (a prompt, a wait): what the filter holds back goes out too, then everything is sent. */
  pause(): void {
    this.filterPrinted();
    this.write(this.filter.flush());
    this.flush();
  }

  takeWritten(): string {
    const text = this.written;
    this.written = '';
    return text;
  }

  /** Console bytes as they are (latin1: one char per byte). */
  write(text: string): void {
    if (!text || this.muted) return;
    this.written = (this.written + text).slice(-256);
    for (let i = 0; i < text.length; i++) {
      const code = text.charCodeAt(i);
      this.out[this.outLength++] = code;
      if (code === 0x0a || this.outLength >= OUTPUT_CHUNK_BYTES) this.flush();
    }
  }

  /**
   * Sends what was written, as far as the credit goes; waits for more credit, as a program
   * waits for a USB buffer the host does not read. A Ctrl-C while waiting drops what is left.
   */
  flush(): void {
    let sent = 0;
    while (sent < this.outLength) {
      if (this.credit <= 0) {
        if (this.takeInterrupt()) break;
        const taken = this.taken;
        this.dispatch(this.channel.next());
        if (this.taken !== taken) break;
        continue;
      }
      const n = Math.min(this.credit, this.outLength - sent);
      this.channel.send(FROM_VM.output, this.out.slice(sent, sent + n));
      this.credit -= n;
      sent += n;
    }
    this.outLength = 0;
  }

  /** time.sleep: flushes, then waits, looking for Ctrl-C. */
  sleep(seconds: number): void {
    this.pause();
    const end = performance.now() + seconds * 1000;
    for (;;) {
      this.exitIfOrphaned();
      if (this.takeInterrupt()) return;
      const left = end - performance.now();
      if (left <= 0) return;
      Atomics.wait(this.sleeper, 0, 0, Math.min(left, SLEEP_SLICE_MS));
    }
  }

  // --- frames from the supervisor -------------------------------------------------------------

  /** A frame that came before the console existed (while the VM was being set up). */
  accept(frame: Frame): void {
    this.dispatch(frame);
  }

  private dispatch(frame: Frame): void {
    const view = new DataView(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
    switch (frame.type) {
      case TO_VM.input:
        if (frame.payload.length && this.queuedInput() + frame.payload.length <= MAX_UNREAD_INPUT) this.input.push(frame.payload);
        this.inputReceived = (this.inputReceived + frame.payload.length) | 0;
        break;
      case TO_VM.interrupt: {
        const seq = view.getUint32(0, true);
        // What was typed before the Ctrl-C is dropped, as the firmware flushes its buffer.
        this.input.length = 0;
        this.inputOffset = 0;
        if (!newer(seq, this.taken)) break;
        if (this.busy) this.take(seq);
        else {
          // At the prompt a Ctrl-C is a key for the REPL.
          this.taken = seq;
          this.input.push(Uint8Array.of(0x03));
          this.channel.send(FROM_VM.message, new TextEncoder().encode(JSON.stringify({ type: 'interrupted', seq } satisfies WorkerMessage)));
        }
        break;
      }
      case TO_VM.credit:
        this.credit += view.getUint32(0, true);
        break;
      default:
        break;
    }
  }
}
