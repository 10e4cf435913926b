// The frames between the virtual Pico's supervisor and a VM: split and joined however the
// stream cuts them, and a peer that announces an absurd frame is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, FrameReader, MAX_FRAME_BYTES } from '../../src/sim/simProtocol.js';

describe('frame reader', () => {
  it('reads frames cut anywhere, even 3 bytes at a time across a 100 KB payload', () => {
    const reader = new FrameReader();
    const stream = new Uint8Array([...encodeFrame(1, Uint8Array.of(1, 2, 3)), ...encodeFrame(2), ...encodeFrame(3, new Uint8Array(100_000).fill(7))]);
    const frames: { type: number; payload: Uint8Array }[] = [];
    for (let i = 0; i < stream.length; i += 3) frames.push(...reader.push(stream.slice(i, i + 3)));
    assert.deepEqual(frames.map((f) => [f.type, f.payload.length]), [[1, 3], [2, 0], [3, 100_000]]);
    assert.deepEqual([...frames[0].payload], [1, 2, 3]);
    assert.ok(frames[2].payload.every((b) => b === 7));
  });

  it('refuses a frame larger than any the protocol sends', () => {
    const header = new Uint8Array(5);
    header[0] = 0x21;
    new DataView(header.buffer).setUint32(1, MAX_FRAME_BYTES + 1, true);
    assert.throws(() => new FrameReader().push(header), /frame of \d+ bytes/);
  });
});
