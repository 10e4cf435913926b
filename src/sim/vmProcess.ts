// The supervisor's handle on one VM: a sandboxed child process (vmSandbox.ts) running
// simWorker.ts, spoken to in frames over its fd 3 (simProtocol.ts). Stopping a VM that does not
// respond means killing its process, as the firmware's watchdog would reset a hung board.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { encodeFrame, FrameReader, FROM_VM, TO_VM, u32Payload, type VmReady, type VmStart, type WorkerMessage } from './simProtocol.js';
import type { DriveEntry } from './virtualDrive.js';
import { vmCommand } from './vmSandbox.js';

interface VmEvents {
  ready: [ready: VmReady];
  /** Console bytes, in order; acknowledge() them once the port has taken them. */
  output: [bytes: Uint8Array];
  message: [message: WorkerMessage];
  clock: [offsetNs: bigint];
  /** The process ended; `why` is empty when that was asked for (kill) or the VM finished. */
  exit: [why: string];
}

const decoder = new TextDecoder();
/**
 * Typed bytes queued for a VM that is not reading them (a program that never reads its input)
 * beyond this are dropped, as a board's full input buffer drops them: a flood of keys must not
 * fill this computer's memory. (The socket's own buffer holds about as much again.)
 */
const MAX_INPUT_BACKLOG_BYTES = 64 * 1024;

export class VmProcess extends EventEmitter<VmEvents> {
  private readonly child: ChildProcess;
  private readonly socket: Duplex;
  private readonly reader = new FrameReader();
  private readonly exited: Promise<void>;
  private unacknowledged = 0;
  private killed = false;
  private finished = false;
  /** Why the supervisor ended it, when that was not asked for (a broken frame). */
  private brokenBy?: string;
  /** The VM's own diagnostics (not console output), the last few, for when it fails. */
  private logTail = '';

  /** `stderrFile`: a file the VM's stderr goes to (a file, not a pipe: nothing in the VM needs a socket but fd 3). */
  constructor(controlFile: string, private readonly stderrFile: string) {
    super();
    const { command, args, env } = vmCommand(controlFile);
    const stderr = openSync(stderrFile, 'w');
    try {
      // Its own process group (not on Windows, where that means a console of its own): a Ctrl-C in the
      // terminal that runs cpml sim is for the supervisor, which then stops its VM.
      this.child = spawn(command, args, { stdio: ['ignore', 'ignore', stderr, 'pipe'], env, windowsHide: true, detached: process.platform !== 'win32' });
    } finally {
      closeSync(stderr);
    }
    this.socket = this.child.stdio[3] as Duplex;
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    this.socket.on('error', () => undefined);
    // Gone means both: the process has exited and everything it wrote has been read.
    const socketClosed = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        void socketClosed.then(() => {
          resolve();
          const why = this.brokenBy ?? (this.killed || (this.finished && code === 0) ? '' : this.describeExit(code, signal));
          this.emit('exit', why);
        });
      });
      this.child.once('error', (error) => {
        this.socket.destroy();
        resolve();
        this.emit('exit', `its process could not start: ${error.message}`);
      });
    });
  }

  /** Sends the start, the drive's files and "go"; frames are queued until the VM has loaded. */
  start(start: VmStart, files: readonly DriveEntry[]): void {
    this.send(TO_VM.start, new TextEncoder().encode(JSON.stringify(start)));
    for (const entry of files) {
      const path = new TextEncoder().encode(entry.path);
      if (!entry.data) {
        this.send(TO_VM.folder, path);
        continue;
      }
      const payload = new Uint8Array(2 + path.length + entry.data.length);
      new DataView(payload.buffer).setUint16(0, path.length, true);
      payload.set(path, 2);
      payload.set(entry.data, 2 + path.length);
      this.send(TO_VM.file, payload);
    }
    this.send(TO_VM.go);
  }

  /** Typed bytes; false when they were dropped (the VM is not reading its input). */
  input(bytes: Uint8Array, sent?: () => void): boolean {
    if (this.socket.writableLength > MAX_INPUT_BACKLOG_BYTES) return false;
    this.send(TO_VM.input, bytes, sent);
    return true;
  }

  interrupt(seq: number): void {
    this.send(TO_VM.interrupt, u32Payload(seq));
  }

  /** The port took what the VM sent so far: it may send as much more (batched: only once `atLeast` bytes are owed). */
  acknowledge(atLeast = 1): void {
    if (this.unacknowledged < Math.max(1, atLeast)) return;
    this.send(TO_VM.credit, u32Payload(this.unacknowledged));
    this.unacknowledged = 0;
  }

  /** Ends the process (if it still runs) and waits for it. */
  async kill(): Promise<void> {
    this.killed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  private send(type: number, payload?: Uint8Array, written?: () => void): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.socket.write(encodeFrame(type, payload), written && (() => written()));
  }

  private received(chunk: Buffer): void {
    let frames;
    try {
      frames = this.reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (error) {
      this.brokenBy = `it sent a broken frame (${(error as Error).message})`;
      void this.kill();
      return;
    }
    for (const { type, payload } of frames) {
      switch (type) {
        case FROM_VM.output:
          this.unacknowledged += payload.length;
          this.emit('output', payload);
          break;
        case FROM_VM.message: {
          const message = JSON.parse(decoder.decode(payload)) as WorkerMessage;
          if (message.type === 'run-ended' || message.type === 'repl-exit') this.finished = true;
          this.emit('message', message);
          break;
        }
        case FROM_VM.ready:
          this.emit('ready', JSON.parse(decoder.decode(payload)) as VmReady);
          break;
        case FROM_VM.clock:
          if (payload.length === 8) this.emit('clock', new DataView(payload.buffer, payload.byteOffset, 8).getBigInt64(0, true));
          break;
        case FROM_VM.log:
          this.logTail = (this.logTail + decoder.decode(payload) + '\n').slice(-2000);
          break;
        default:
          break;
      }
    }
  }

  private describeExit(code: number | null, signal: NodeJS.Signals | null): string {
    let stderr = '';
    try {
      const fd = openSync(this.stderrFile, 'r');
      try {
        const buffer = Buffer.alloc(4000);
        stderr = buffer.subarray(0, readSync(fd, buffer, 0, buffer.length, 0)).toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      // No log.
    }
    const last = (stderr.trim() || this.logTail.trim()).split('\n').filter(Boolean).pop();
    if (/heap out of memory|allocation failed/i.test(stderr)) return 'it ran out of memory';
    return last ?? (signal ? `it was stopped (${signal})` : `it stopped (exit status ${code})`);
  }
}
