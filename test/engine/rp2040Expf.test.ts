// The host engine's expf against the board's: every argument/result pair measured on the RP2040's
// B1 boot ROM (test/fixtures/rp2040-cycles/expf_table.bin, a copy of ../shared/rp2040-cycles/),
// bit for bit, and Softmax using it.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { rp2040Expf, rp2040ExpfBits } from '../../src/core/engine/rp2040Expf.js';
import { runBlob } from '../../src/core/engine/firmwareEngine.js';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { encodeRecords, shape } from '../support/blobBuilder.js';
import { readBytes } from '../support/fixtures.js';

const FIXTURE = 'test/fixtures/rp2040-cycles/expf_table.bin';
const SHARED = '../shared/rp2040-cycles/expf_table.bin';
const PAIRS = 168_557;

// Pairs of little-endian u32: the float32 bits of an argument, then the bits the board returns.
const bytes = readBytes(FIXTURE);
const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const pairs = Array.from({ length: bytes.byteLength / 8 }, (_, i) =>
  [view.getUint32(i * 8, true), view.getUint32(i * 8 + 4, true)] as const);

const hex = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
const scratch = new Uint32Array(1);
const scratchF = new Float32Array(scratch.buffer);
const bitsToFloat = (b: number) => ((scratch[0] = b), scratchF[0]);

describe('rp2040Expf: the boot ROM fexp, bit for bit', () => {
  it(`the fixture holds all ${PAIRS} measured pairs`, () => {
    assert.equal(bytes.byteLength, PAIRS * 8);
    if (existsSync(SHARED)) assert.deepEqual(readBytes(SHARED), bytes, `${FIXTURE} differs from ${SHARED}`);
  });

  it('reproduces every measured pair', () => {
    let mismatches = 0;
    let first = '';
    for (const [arg, want] of pairs) {
      const got = rp2040ExpfBits(arg);
      if (got !== want) {
        if (!mismatches) first = `expf(${hex(arg)}) = ${hex(got)}, board ${hex(want)}`;
        mismatches++;
      }
    }
    assert.equal(mismatches, 0, `${mismatches} of ${pairs.length} differ, first: ${first}`);
  });

  it('covers the cases where the board differs from a correctly rounded exp', () => {
    const differing = pairs.filter(([arg, want]) => Math.fround(Math.exp(bitsToFloat(arg))) !== bitsToFloat(want)
      && !Number.isNaN(bitsToFloat(arg)));
    assert.ok(differing.length > PAIRS / 10, `only ${differing.length} pairs differ from Math.exp`);
  });

  it('handles the specials like the board (SDK wrapper + ROM)', () => {
    assert.equal(rp2040Expf(0), 1);
    assert.equal(rp2040Expf(-0), 1);
    assert.equal(rp2040Expf(-Infinity), 0);
    assert.equal(rp2040Expf(Infinity), Infinity);
    assert.equal(rp2040Expf(-88), 0); // below FLT_MIN: flushed to +0, no subnormals
    assert.ok(Number.isNaN(rp2040Expf(NaN)));
  });

  it('is what Softmax uses', () => {
    // arguments (x − max) where the board's expf differs from Math.exp
    const args = pairs.filter(([arg, want]) => {
      const x = bitsToFloat(arg);
      return x <= 0 && x > -20 && Math.fround(Math.exp(x)) !== bitsToFloat(want);
    }).slice(0, 7).map(([arg]) => bitsToFloat(arg));
    assert.equal(args.length, 7);
    const x = Float32Array.from([0, ...args]);
    const blob = encodeRecords({ records: [{ type: LayerType.Softmax, in: shape(x.length), out: shape(x.length) }] });
    const e = Array.from(x, (v) => rp2040Expf(v));
    let sum = 0;
    for (const v of e) sum = Math.fround(sum + v);
    assert.deepEqual(Array.from(runBlob(blob, x)), e.map((v) => Math.fround(v / sum)));
  });
});
