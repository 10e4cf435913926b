// The VM's end of its frames (simProtocol.ts), synchronous because Python runs synchronously:
// reads block until a frame arrives (any frame: a key, a Ctrl-C, output credit); writes go out
// at once. The control file is read without blocking, for a Ctrl-C while Python computes.
import { readSync, writeSync } from 'node:fs';
import { encodeFrame, FrameReader } from './simProtocol.js';

export interface Frame {
  type: number;
  payload: Uint8Array;
}

export class VmChannel {
  private readonly reader = new FrameReader();
  private readonly queued: Frame[] = [];
  private readonly chunk = new Uint8Array(64 * 1024);
  private readonly control = new Uint8Array(8);

  /** `fd`: the socket to the supervisor; `controlFd`: the control file, opened read-only. */
  constructor(private readonly fd: number, private readonly controlFd: number) {}

  send(type: number, payload?: Uint8Array): void {
    const frame = encodeFrame(type, payload);
    let done = 0;
    while (done < frame.length) done += writeSync(this.fd, frame, done, frame.length - done);
  }

  /** The next frame, waiting for it. The supervisor gone (end of stream) ends this process: a VM has no one to serve. */
  next(): Frame {
    while (!this.queued.length) {
      let n: number;
      try {
        n = readSync(this.fd, this.chunk, 0, this.chunk.length, null);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EINTR') continue;
        throw error;
      }
      if (n === 0) process.exit(0);
      for (const frame of this.reader.push(this.chunk.slice(0, n))) this.queued.push(frame);
    }
    return this.queued.shift()!;
  }

  /** The control file: [interrupt sequence number, input bytes sent], u32 LE each. Never blocks. */
  readControl(): { interruptSeq: number; inputSent: number } {
    const n = readSync(this.controlFd, this.control, 0, 8, 0);
    if (n < 8) return { interruptSeq: 0, inputSent: 0 };
    const view = new DataView(this.control.buffer);
    return { interruptSeq: view.getUint32(0, true), inputSent: view.getUint32(4, true) };
  }
}
