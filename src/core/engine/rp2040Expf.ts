// expf as the RP2040 computes it: the B1 boot ROM's float routine `fexp` (Mark Owen's "mufplib"),
// which the Pico SDK's `--wrap=expf` routes to (that wrapper only passes NaN arguments through).
// The ROM is not correctly rounded, so a host Math.exp differs from it by 1-2 ulp on about one
// argument in six; Softmax on the board uses it.
//
// The ROM's algorithm, re-described here (re-implemented from the public description of the
// routine in raspberrypi/pico-bootrom-rp2040, bootrom/mufplib.S; no code copied):
//   1. The argument is converted to a signed 32-bit fixed-point value with 24 fraction bits
//      (truncating toward -infinity, saturating to ±2^31 for |x| >= 128 and for ±Inf; zero and
//      subnormals give 0).
//   2. An exponent k ≈ round(x·log2 e) is estimated from the top 16 bits times log2(e) in Q12;
//      the residual r = x − k·ln2 (about ±0.5) is formed in Q29 with wrapping 32-bit arithmetic.
//   3. Hyperbolic CORDIC in rotation mode, started at x = 1/K (gain-compensated), y = 0, z = r,
//      with the shifts 1,1,2,3,4,4,5,…,12 and atanh(2^-i) constants in Q29, gives cosh r and
//      sinh r; the remaining small rotations are folded into one linear multiplication step.
//   4. e^r = cosh r + sinh r (Q29), scaled by 2^k and packed to float32 with the ROM's own
//      normalise/round-to-nearest-even packing, which flushes results below FLT_MIN to +0.
// Every step is 32-bit integer arithmetic (Math.imul, arithmetic shifts, wrap-around adds), so
// this reproduces the ROM bit for bit. Verified against all 168,557 argument/result pairs measured
// on the B1 boot ROM (test/fixtures/rp2040-cycles/expf_table.bin; test/engine/rp2040Expf.test.ts).

// atanh(2^-i) in Q29 for the 14 CORDIC steps; `repeat` keeps the previous shift. (The ROM's table
// has one more entry that only marks its end and is never applied.)
const ATANH_Q29 = [
  0x1193ea7b, 0x1193ea7b, 0x082c577d, 0x04056247, 0x0200ab11, 0x0200ab11, 0x01001559,
  0x008002ab, 0x00400055, 0x0020000b, 0x00100001, 0x00080001, 0x00040000, 0x00020000,
];
const REPEAT = [
  false, true, false, false, false, true, false, false, false, false, false, false, false, false,
];

const LOG2E_Q12 = 5909;
const LN2_Q29 = 0x162e42ff;
const CORDIC_START_Q29 = 0x2c9e15ca; // 1 / (hyperbolic CORDIC gain), Q29

const f32Bits = new Float32Array(1);
const u32Bits = new Uint32Array(f32Bits.buffer);

/** float32 bits → signed Q24 fixed point, the way the ROM's float-to-fix conversion does it. */
function toQ24(bits: number): number {
  const biased = (bits >>> 23) & 0xff;
  const negative = bits >>> 31 !== 0;
  if (biased === 0) return 0; // zero and subnormals (the ROM's -0 check returns 0 too)
  if (biased === 0xff) return negative ? -0x80000000 : 0x7fffffff; // Inf/NaN: saturate
  let mant = (bits & 0x7fffff) | 0x800000;
  if (negative) mant = -mant;
  const shift = biased - 127 + 1; // left shift from Q23 to Q24
  if (shift > 7) return negative ? -0x80000000 : 0x7fffffff;
  if (shift >= 0) return mant << shift;
  return mant >> Math.min(-shift, 31); // a shift of 32 or more leaves only the sign
}

/** Normalise a signed Q29 mantissa with exponent e and round to float32 bits (sticky bits zero). */
function pack(m: number, e: number): number {
  let sign = 0;
  let r = m | 0;
  if (r < 0) {
    sign = 0x80000000;
    r = -r | 0;
  }
  if (r !== -0x80000000) {
    // normalise: leading 1 into bit 31
    for (;;) {
      e--;
      r = (r << 1) | 0;
      if (r === 0) return 0;
      if (r < 0) break;
    }
  }
  let u = r >>> 0;
  e += 129;
  let carry = false;
  if (e === 0) {
    // highest subnormal may round up to the lowest normal: round at one place higher
    u += 0x80;
    if (u > 0xffffffff) {
      u -= 0x100000000;
      carry = true;
    }
  }
  if (!carry) {
    u += 0x80;
    if (u > 0xffffffff) {
      u -= 0x100000000;
      carry = true;
    }
  }
  if (!carry) {
    if ((u & 0xff) === 0) {
      // exact tie: clear the mantissa LSB (round to even) and drop the leading 1
      u = ((u >>> 9) << 10) >>> 0;
    } else {
      u = (u << 1) >>> 0;
    }
    e--;
  }
  if (e >= 254) return (0x7f800000 | sign) >>> 0;
  e++;
  if (e <= 0) return 0;
  return ((u >>> 9) | (e << 23) | sign) >>> 0;
}

/** The RP2040's expf (SDK wrapper + boot ROM fexp) on float32 bits, returning float32 bits. */
export function rp2040ExpfBits(bits: number): number {
  bits >>>= 0;
  // the SDK's NaN-propagating wrapper returns a NaN argument unchanged, before the ROM sees it
  if ((bits & 0x7fffffff) > 0x7f800000) return bits;
  const q24 = toQ24(bits);
  const k = (((Math.imul(q24 >> 16, LOG2E_Q12) >> 19) + 1) >> 1);
  let z = ((q24 << 5) - Math.imul(k, LN2_Q29)) | 0;
  let x = CORDIC_START_Q29;
  let y = 0;
  let shift = 0;
  for (let i = 0; i < ATANH_Q29.length; i++) {
    if (!REPEAT[i]) shift++;
    const xs = x >> shift, ys = y >> shift;
    if (z >= 0) {
      y = (y + xs) | 0;
      z = (z - ATANH_Q29[i]) | 0;
      x = (x + ys) | 0;
    } else {
      y = (y - xs) | 0;
      z = (z + ATANH_Q29[i]) | 0;
      x = (x - ys) | 0;
    }
  }
  // the remaining rotations, linearised: x += y·z, y += x·z (scaled)
  const zs = z >> 3;
  const dx = Math.imul(Math.imul(y >> 14, zs), -1) >> 12;
  const dy = Math.imul(x >> 14, zs) >> 12;
  x = (x - dx) | 0;
  y = (y + dy) | 0;
  return pack((x + y) | 0, k);
}

/** expf(x) exactly as Softmax on the RP2040 computes it. */
export function rp2040Expf(x: number): number {
  f32Bits[0] = x;
  u32Bits[0] = rp2040ExpfBits(u32Bits[0]);
  return f32Bits[0];
}
