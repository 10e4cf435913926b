// The host engine against the firmware: bit-exact outputs on the upstream samples, the
// firmware's own errors, buffer parity, ReLU's comparison, 16-bit counters and the reference
// converter's bias=False bug.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { loadModel, performInference, runBlob } from '../../src/core/engine/firmwareEngine.js';
import { validateBlob } from '../../src/core/blob/validateBlob.js';
import { BlobFormatError, FirmwareError } from '../../src/core/errors.js';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { encodeRecords, shape } from '../support/blobBuilder.js';
import { readBytes, readFirmwareOutputs, readFloat32File, upstreamPath } from '../support/fixtures.js';

const f32 = Math.fround;
const { Conv2D, MaxPool2D, ReLU, Flatten, Linear, Softmax } = LayerType;

function firmwareError(pythonType: FirmwareError['pythonType'], message: string) {
  return (error: unknown) => {
    assert.ok(error instanceof FirmwareError, `expected FirmwareError, got ${String(error)}`);
    assert.equal(error.pythonType, pythonType);
    assert.equal(error.message, message);
    return true;
  };
}

describe('upstream samples: bit-exact against the firmware C engine', () => {
  const lines = readFirmwareOutputs();
  const model = loadModel(readBytes(upstreamPath('model.bin')));

  it('firmware_outputs.txt has 20 samples of 10 values', () => {
    assert.equal(lines.length, 20);
    for (const line of lines) assert.equal(line.values.length, 10, line.sample);
    assert.equal(model.inputElements, 900);
    assert.equal(model.outputElements, 10);
  });

  for (const { sample, values } of lines) {
    it(sample, () => {
      const input = readFloat32File(upstreamPath('mnist_samples', sample));
      assert.equal(input.length, 900);
      const out = performInference(model, input);
      assert.equal(out.length, 10);
      values.forEach((text, i) => {
        const expected = f32(Number(text));
        assert.ok(Number.isFinite(expected), text);
        assert.ok(Object.is(out[i], expected), `${sample}[${i}]: engine ${out[i]} != firmware ${text} (${expected})`);
      });
    });
  }

  it('accepts the input as raw bytes too (the caller\'s buffer, read as float32 LE)', () => {
    const bytes = readBytes(upstreamPath('mnist_samples', 'sample_00.bin'));
    const fromBytes = runBlob(readBytes(upstreamPath('model.bin')), bytes);
    const fromFloats = performInference(model, readFloat32File(upstreamPath('mnist_samples', 'sample_00.bin')));
    assert.deepEqual(fromBytes, fromFloats);
    assert.ok(Object.is(fromBytes[0], f32(Number(lines[0].values[0]))));
  });

  it('accepts a Float32Array view at an offset into a larger buffer', () => {
    const input = readFloat32File(upstreamPath('mnist_samples', 'sample_03.bin'));
    const big = new Float32Array(1000);
    big.set(input, 50);
    const view = big.subarray(50, 950);
    assert.deepEqual(performInference(model, view), performInference(model, input));
  });
});

describe('firmware errors (same Python type and message as cnn_helper)', () => {
  const upstream = readBytes(upstreamPath('model.bin'));

  it('empty file → ValueError("empty model file")', () => {
    assert.throws(() => loadModel(new Uint8Array(0)), firmwareError('ValueError', 'empty model file'));
  });

  it('fewer than 30 bytes (header + one record) → ValueError("invalid model")', () => {
    for (const n of [1, 4, 8, 21, 29]) {
      assert.throws(() => loadModel(upstream.slice(0, n)), firmwareError('ValueError', 'invalid model'), `${n} bytes`);
    }
  });

  it('zero layers → ValueError("invalid model")', () => {
    const bytes = upstream.slice();
    new DataView(bytes.buffer).setUint32(4, 0, true);
    assert.throws(() => loadModel(bytes), firmwareError('ValueError', 'invalid model'));
    // Also with exactly 30 bytes.
    assert.throws(() => loadModel(bytes.slice(0, 30)), firmwareError('ValueError', 'invalid model'));
  });

  it('a zero-sized input or output → ValueError("invalid model")', () => {
    const zeroInput = encodeRecords({ records: [{ type: ReLU, in: shape(0, 2, 2), out: shape(1, 2, 2) }] });
    assert.throws(() => loadModel(zeroInput), firmwareError('ValueError', 'invalid model'));
    const zeroOutput = encodeRecords({
      records: [{ type: ReLU, in: shape(1, 2, 2), out: shape(1, 2, 2) }, { type: Flatten, in: shape(1, 2, 2), out: shape(4, 0, 1) }],
    });
    assert.throws(() => loadModel(zeroOutput), firmwareError('ValueError', 'invalid model'));
  });

  it('wrong input size, shorter or longer → ValueError("wrong input size")', () => {
    const model = loadModel(upstream);
    for (const floats of [0, 1, 899, 901, 1800]) {
      assert.throws(() => performInference(model, new Float32Array(floats)), firmwareError('ValueError', 'wrong input size'), `${floats} floats`);
    }
    for (const bytes of [3599, 3601]) {
      assert.throws(() => performInference(model, new Uint8Array(bytes)), firmwareError('ValueError', 'wrong input size'), `${bytes} bytes`);
    }
    // The right size runs.
    assert.equal(performInference(model, new Float32Array(900)).length, 10);
  });

  it('input larger than every layer output → loads, then RuntimeError("model scratch too small")', () => {
    // One Linear 8 → 2: scratch holds 2 floats, the input needs 8.
    const blob = encodeRecords({
      records: [{ type: Linear, in: shape(8), out: shape(2), weightOffset: 0, biasOffset: 64 }],
      weights: new Float32Array(18).fill(0.5),
    });
    const model = loadModel(blob); // the firmware's load_model accepts it
    assert.equal(model.scratchElements, 2);
    assert.equal(model.inputElements, 8);
    assert.throws(() => performInference(model, new Float32Array(8)), firmwareError('RuntimeError', 'model scratch too small'));
    // The firmware checks the input size first.
    assert.throws(() => performInference(model, new Float32Array(2)), firmwareError('ValueError', 'wrong input size'));
    assert.throws(() => runBlob(blob, new Float32Array(8)), firmwareError('RuntimeError', 'model scratch too small'));
  });
});

describe('ping-pong buffers', () => {
  it('one layer: the output is the layer\'s result (scratch_a), not the input copy', () => {
    const blob = encodeRecords({ records: [{ type: ReLU, in: shape(1, 2, 3), out: shape(1, 2, 3) }] });
    const out = runBlob(blob, Float32Array.of(-1, 2, -3, 4, -5, 6));
    assert.deepEqual(Array.from(out), [0, 2, 0, 4, 0, 6]);
  });

  it('two layers: the output is the second layer\'s result (scratch_b)', () => {
    // ReLU, then Linear 3 → 2 with W = [[1, 1, 1], [1, -1, 0]], bias [10, 20].
    const blob = encodeRecords({
      records: [
        { type: ReLU, in: shape(3), out: shape(3) },
        { type: Linear, in: shape(3), out: shape(2), weightOffset: 0, biasOffset: 24 },
      ],
      weights: [1, 1, 1, 1, -1, 0, 10, 20],
    });
    const out = runBlob(blob, Float32Array.of(-1, 2, 3));
    // relu → [0, 2, 3]; linear → [10 + 5, 20 - 2]
    assert.deepEqual(Array.from(out), [15, 18]);
  });

  it('three layers: back to scratch_a, and the output is cut to the last layer\'s size', () => {
    const blob = encodeRecords({
      records: [
        { type: Linear, in: shape(2), out: shape(4), weightOffset: 0, biasOffset: 32 },
        { type: ReLU, in: shape(4), out: shape(4) },
        { type: Linear, in: shape(4), out: shape(1), weightOffset: 48, biasOffset: 64 },
      ],
      // W1 = [[1,0],[0,1],[-1,0],[0,-1]], b1 = [0, 0, 0, 0]; W2 = [1, 2, 3, 4], b2 = [0.5]
      weights: [1, 0, 0, 1, -1, 0, 0, -1, 0, 0, 0, 0, 1, 2, 3, 4, 0.5],
    });
    const out = runBlob(blob, Float32Array.of(3, -2));
    // layer1 → [3, -2, -3, 2]; relu → [3, 0, 0, 2]; layer3 → 0.5 + 3 + 8
    assert.equal(out.length, 1);
    assert.equal(out[0], 11.5);
  });
});

describe('ReLU is `x > 0 ? x : 0`', () => {
  it('maps NaN and -0 to +0 and keeps +/-Infinity semantics', () => {
    const blob = encodeRecords({ records: [{ type: ReLU, in: shape(8), out: shape(8) }] });
    const out = runBlob(blob, Float32Array.of(NaN, -0, 0, -1, 1.5, Infinity, -Infinity, f32(1e-45)));
    assert.ok(Object.is(out[0], 0), `NaN → ${out[0]}`);
    assert.ok(Object.is(out[1], 0), `-0 → ${Object.is(out[1], -0) ? '-0' : out[1]}`);
    assert.ok(Object.is(out[2], 0));
    assert.ok(Object.is(out[3], 0));
    assert.equal(out[4], 1.5);
    assert.equal(out[5], Infinity);
    assert.ok(Object.is(out[6], 0));
    assert.equal(out[7], f32(1e-45));
  });
});

describe('other layers, computed by hand', () => {
  it('Conv2D: float32 multiply then add, bias first, zero padding skipped, stride honoured', () => {
    // 1 → 1 channel, 3×3 input, kernel 2, stride 2, padding 1 → 2×2 output.
    const w = [0.1, 0.2, 0.3, 0.4];
    const bias = 0.7;
    const x = [1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7, 8.8, 9.9];
    const blob = encodeRecords({
      records: [
        // A shape-keeping Flatten first so the scratch buffers hold the 9 input values.
        { type: Flatten, in: shape(1, 3, 3), out: shape(1, 3, 3) },
        { type: Conv2D, in: shape(1, 3, 3), out: shape(1, 2, 2), kernel: 2, stride: 2, padding: 1, weightOffset: 0, biasOffset: 16 },
      ],
      weights: [...w, bias],
    });
    const out = runBlob(blob, Float32Array.from(x));
    const fw = w.map(f32), fx = x.map(f32);
    const expected: number[] = [];
    for (let oy = 0; oy < 2; oy++) {
      for (let ox = 0; ox < 2; ox++) {
        let sum = f32(bias);
        for (let ky = 0; ky < 2; ky++) {
          for (let kx = 0; kx < 2; kx++) {
            const iy = oy * 2 + ky - 1, ix = ox * 2 + kx - 1;
            if (iy >= 0 && iy < 3 && ix >= 0 && ix < 3) sum = f32(sum + f32(fx[iy * 3 + ix] * fw[ky * 2 + kx]));
          }
        }
        expected.push(sum);
      }
    }
    // (0,0) sees only x[0] with w[3]: 0.7 + 1.1 * 0.4
    assert.equal(expected[0], f32(f32(0.7) + f32(f32(1.1) * f32(0.4))));
    assert.deepEqual(Array.from(out), expected);
  });

  it('MaxPool2D: overlapping windows per channel (channels from in_channels), initial -1e30', () => {
    const x = [
      1, 5, 2,
      3, 4, -7,
      -1, 0, 9,
      -5, -6, -7,
      -8, -9, -10,
      -11, -12, -2e30,
    ];
    const blob = encodeRecords({
      records: [
        { type: Flatten, in: shape(2, 3, 3), out: shape(2, 3, 3) },
        { type: MaxPool2D, in: shape(2, 3, 3), out: shape(2, 2, 2), kernel: 2, stride: 1 },
      ],
    });
    assert.deepEqual(Array.from(runBlob(blob, Float32Array.from(x))), [5, 5, 4, 9, -5, -6, -8, -9]);
    // A window holding only values below -1e30 keeps the initial value.
    const low = encodeRecords({
      records: [
        { type: Flatten, in: shape(1, 1, 2), out: shape(1, 1, 2) },
        { type: MaxPool2D, in: shape(1, 1, 2), out: shape(1, 1, 1), kernel: 1, stride: 2 },
      ],
    });
    assert.deepEqual(Array.from(runBlob(low, Float32Array.of(-3e30, 5))), [f32(-1e30)]);
  });

  it('Softmax: max-subtracted exp, float32 sums', () => {
    const x = [1, 2, 3, 4];
    const blob = encodeRecords({ records: [{ type: Softmax, in: shape(4), out: shape(4) }] });
    const out = runBlob(blob, Float32Array.from(x));
    const e = x.map((v) => f32(Math.exp(f32(v - 4))));
    let sum = 0;
    for (const v of e) sum = f32(sum + v);
    assert.deepEqual(Array.from(out), e.map((v) => f32(v / sum)));
    assert.ok(Math.abs(out.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  });
});

describe('16-bit element counters', () => {
  // The firmware's Linear/ReLU/Softmax count in uint16_t: a record whose count exceeds 65535
  // would silently process `count % 65536` values. The per-layer functions are internal, so
  // the engine must refuse such blobs at load time, naming the layer.
  const wrapped = (layer: number, pattern: RegExp) => (error: unknown) => {
    assert.ok(error instanceof BlobFormatError, String(error));
    assert.equal(error.layerIndex, layer);
    assert.match(error.message, new RegExp(`^layer ${layer}: `));
    assert.match(error.message, pattern);
    return true;
  };

  it('Linear in_features 65540 (wraps to 4) is refused', () => {
    const blob = encodeRecords({
      records: [
        { type: Flatten, in: shape(2, 1, 32770), out: shape(2, 1, 32770) },
        { type: Linear, in: shape(2, 1, 32770), out: shape(1), weightOffset: 0, biasOffset: 16 },
      ],
      weights: [1, 2, 3, 4, 5],
    });
    assert.throws(() => loadModel(blob), wrapped(1, /in_features 65540 exceeds 65535.*only 4/));
  });

  it('Linear out_features 65538 (wraps to 2) is refused', () => {
    // 2 × 1 × 32769 = 65538 → wraps to 2.
    const over = encodeRecords({
      records: [{ type: Linear, in: shape(1), out: shape(2, 1, 32769), weightOffset: 0, biasOffset: 8 }],
      weights: new Float32Array(4),
    });
    assert.throws(() => loadModel(over), wrapped(0, /out_features 65538 exceeds 65535.*only 2/));
  });

  it('ReLU and Softmax over more than 65535 values are refused', () => {
    for (const type of [ReLU, Softmax]) {
      const blob = encodeRecords({
        records: [
          { type: Flatten, in: shape(3, 1, 30000), out: shape(3, 1, 30000) },
          { type, in: shape(3, 1, 30000), out: shape(3, 1, 30000) },
        ],
      });
      assert.throws(() => loadModel(blob), wrapped(1, /element count 90000 exceeds 65535.*only 24464/));
    }
  });

  it('exactly 65535 values run', () => {
    const blob = encodeRecords({ records: [{ type: ReLU, in: shape(1, 1, 65535), out: shape(1, 1, 65535) }] });
    const input = new Float32Array(65535).fill(-1);
    input[65534] = 3;
    const out = runBlob(blob, input);
    assert.equal(out.length, 65535);
    assert.equal(out[65534], 3);
    assert.equal(out[0], 0);
  });
});

describe('the reference converter\'s bias=False bug (bias offset pointing at weights)', () => {
  it('first layer: runs with a warning and uses its own weights as bias', () => {
    // Linear 2 → 3, weights at 0, bias offset 0: bias[o] = w[o].
    const w = [0.1, -0.2, 0.3, 0.25, -1.5, 2.75];
    const blob = encodeRecords({
      records: [{ type: Linear, in: shape(2), out: shape(3), weightOffset: 0, biasOffset: 0 }],
      weights: w,
    });
    const validation = validateBlob(blob);
    assert.deepEqual(validation.errors, []);
    assert.equal(validation.warnings.length, 1);
    assert.equal(validation.warnings[0].layerIndex, 0);
    assert.match(validation.warnings[0].message, /bias/);

    const x = [1.25, -0.75];
    const out = runBlob(blob, Float32Array.from(x));
    const fw = w.map(f32);
    const expected = [0, 1, 2].map((o) => {
      let sum = fw[o];
      for (let i = 0; i < 2; i++) sum = f32(sum + f32(f32(x[i]) * fw[o * 2 + i]));
      return sum;
    });
    assert.deepEqual(Array.from(out), expected);
    // ... which is not what a zero bias would give.
    const correct = [0, 1, 2].map((o) => f32(f32(f32(x[0]) * fw[o * 2]) + f32(f32(x[1]) * fw[o * 2 + 1])));
    assert.notDeepEqual(Array.from(out), correct);
  });

  it('later layer: its bias reads the first layer\'s weights, with a warning naming it', () => {
    // Layer 0: Linear 2 → 3 with bias (weights 0..23, bias 24..35).
    // Layer 1: Linear 3 → 3 without bias as the reference converter writes it: weights at 36, bias offset 0.
    const w0 = [0.5, -1, 2, 0.25, -0.75, 1.5];
    const b0 = [0.125, -0.5, 1];
    const w1 = [1, 0, 0.5, -1, 2, 0, 0.25, 0.25, 0.25];
    const blob = encodeRecords({
      records: [
        { type: Linear, in: shape(2), out: shape(3), weightOffset: 0, biasOffset: 24 },
        { type: Linear, in: shape(3), out: shape(3), weightOffset: 36, biasOffset: 0 },
      ],
      weights: [...w0, ...b0, ...w1],
    });
    const validation = validateBlob(blob);
    assert.deepEqual(validation.errors, []);
    assert.ok(validation.warnings.some((w) => w.layerIndex === 1 && /bias/.test(w.message)),
      `no warning for layer 1: ${JSON.stringify(validation.warnings)}`);

    const x = [2, -3];
    const h = [0, 1, 2].map((o) => {
      let sum = f32(b0[o]);
      for (let i = 0; i < 2; i++) sum = f32(sum + f32(f32(x[i]) * f32(w0[o * 2 + i])));
      return sum;
    });
    const expected = [0, 1, 2].map((o) => {
      let sum = f32(w0[o]); // the "bias": layer 0's first weights
      for (let i = 0; i < 3; i++) sum = f32(sum + f32(h[i] * f32(w1[o * 3 + i])));
      return sum;
    });
    assert.deepEqual(Array.from(runBlob(blob, Float32Array.from(x))), expected);
  });
});

describe('loadModel refuses what would crash the board', () => {
  it('weights past the end of the file → BlobFormatError naming the layer', () => {
    const blob = encodeRecords({
      records: [{ type: Linear, in: shape(2), out: shape(2), weightOffset: 0, biasOffset: 16 }],
      weights: [1, 2, 3, 4, 5], // bias needs 2 floats at 16..24, only 4 bytes there
    });
    assert.throws(() => loadModel(blob), (error: unknown) => {
      assert.ok(error instanceof BlobFormatError);
      assert.equal(error.layerIndex, 0);
      assert.match(error.message, /past the end/);
      return true;
    });
  });

  it('records past the end of the file → BlobFormatError', () => {
    const bytes = readBytes(upstreamPath('model.bin')).slice(0, 100);
    assert.throws(() => loadModel(bytes), BlobFormatError);
  });

  it('the upstream model loads with the firmware\'s sizes', () => {
    const model = loadModel(readBytes(upstreamPath('model.bin')));
    assert.equal(model.blob.records.length, 11);
    // Largest layer output: conv1, 4 × 30 × 30.
    assert.equal(model.scratchElements, 3600);
    assert.equal(model.weightArea.length, (7312 - 8 - 64 * 11) / 4);
  });

  it('a blob held in a buffer at an odd byte offset still reads correctly', () => {
    const blob = encodeRecords({
      records: [{ type: Linear, in: shape(1), out: shape(1), weightOffset: 0, biasOffset: 4 }],
      weights: [3, 0.5],
    });
    // Same bytes inside a buffer at an odd offset.
    const host = new Uint8Array(blob.length + 1);
    host.set(blob, 1);
    const out = runBlob(host.subarray(1), Float32Array.of(2));
    assert.deepEqual(Array.from(out), [6.5]);
  });
});

describe('the board\'s heap', () => {
  it('raises MemoryError like the board when blob + scratch exceed the heap', () => {
    const blob = readBytes(upstreamPath('model.bin'));
    // 7312 bytes of blob fit in 10 KB, the first 14400-byte scratch buffer does not.
    assert.throws(() => loadModel(blob, { heapBytes: 10 * 1024 }), (e: unknown) =>
      e instanceof FirmwareError && e.pythonType === 'MemoryError' && e.message === 'memory allocation failed, allocating 14400 bytes');
    assert.throws(() => loadModel(blob, { heapBytes: 7000 }), (e: unknown) =>
      e instanceof FirmwareError && e.message === 'memory allocation failed, allocating 7312 bytes');
    assert.equal(loadModel(blob, { heapBytes: 7312 + 2 * 14400 }).scratchElements, 3600);
  });

  it('refuses a tiny blob that asks for hundreds of MB of scratch instead of allocating it', () => {
    // 1 channel 1×1 → 255×511×511 (kernel 1, padding 255): valid records, 266 MB per buffer.
    const blob = readBytes('test/fuzz/crashers/conv-blowup-1layer.bin');
    assert.equal(validateBlob(blob).errors.length, 0);
    assert.throws(() => loadModel(blob), (e: unknown) => e instanceof FirmwareError && e.pythonType === 'MemoryError');
  });
});
