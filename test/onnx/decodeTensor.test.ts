// Tensor decoding: float16 / bfloat16 / float64 conversion, typed fields and raw data of every
// supported type.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTensor, halfToFloat } from '../../src/core/onnx/decodeTensor.js';
import type { Tensor } from '../../src/core/onnx/onnxGraph.js';
import { OnnxReadError } from '../../src/core/errors.js';
import { DataType, graphOf, tensorProto, type TensorSpec } from '../support/onnxBuilder.js';

const f32 = Math.fround;

function decode(spec: Omit<TensorSpec, 'name'>): Tensor {
  return decodeTensor(tensorProto({ name: 't', ...spec }));
}

function floats(t: Tensor): number[] {
  assert.equal(t.kind, 'float');
  return Array.from(t.data);
}

describe('halfToFloat', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504], // largest normal
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [bits, value] of cases) {
    it(`0x${bits.toString(16).padStart(4, '0')} → ${value}`, () => {
      assert.ok(Object.is(halfToFloat(bits), value), `got ${halfToFloat(bits)}`);
    });
  }

  it('-0 keeps its sign', () => {
    assert.ok(Object.is(halfToFloat(0x8000), -0));
    assert.ok(Object.is(halfToFloat(0x0000), 0));
  });

  it('NaN for every non-zero fraction with exponent 31, either sign', () => {
    for (const bits of [0x7c01, 0x7e00, 0x7fff, 0xfc01, 0xfe00, 0xffff]) assert.ok(Number.isNaN(halfToFloat(bits)), bits.toString(16));
  });

  it('agrees with a reference decoding for every one of the 65536 patterns', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const sign = bits & 0x8000 ? -1 : 1;
      const e = (bits >> 10) & 0x1f;
      const m = bits & 0x3ff;
      const expected = e === 31 ? (m ? NaN : sign * Infinity) : e === 0 ? sign * m * 2 ** -24 : sign * 2 ** (e - 15) * (1 + m / 1024);
      const got = halfToFloat(bits);
      assert.ok(Object.is(got, expected), `0x${bits.toString(16)}: ${got} != ${expected}`);
      // Every half is exactly representable in float32.
      if (!Number.isNaN(got)) assert.ok(Object.is(f32(got), got));
    }
  });
});

describe('float16 tensors', () => {
  const bits = [0x3c00, 0x8000, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0xc000, 0x7bff];
  const expected = [1, -0, 2 ** -24, Infinity, -Infinity, NaN, -2, 65504];
  for (const storage of ['raw', 'typed'] as const) {
    it(`from ${storage === 'raw' ? 'raw_data' : 'int32_data bit patterns'}`, () => {
      const t = decode({ dims: [2, 4], data: bits, dataType: DataType.FLOAT16, storage });
      assert.deepEqual(t.dims, [2, 4]);
      const got = floats(t);
      expected.forEach((v, i) => assert.ok(Object.is(got[i], v), `[${i}] ${got[i]} != ${v}`));
    });
  }
});

describe('bfloat16 tensors', () => {
  // bfloat16 is the top half of a float32.
  const bits = [0x3f80, 0xc000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x0001, 0x3eab, 0x7f7f];
  const expected = [1, -2, -0, Infinity, -Infinity, NaN, 2 ** -133, 0.333984375, f32(3.3895313892515355e38)];
  for (const storage of ['raw', 'typed'] as const) {
    it(`from ${storage === 'raw' ? 'raw_data' : 'int32_data bit patterns'}`, () => {
      const got = floats(decode({ dims: [bits.length], data: bits, dataType: DataType.BFLOAT16, storage }));
      expected.forEach((v, i) => assert.ok(Object.is(got[i], v), `[${i}] 0x${bits[i].toString(16)}: ${got[i]} != ${v}`));
    });
  }
});

describe('float64 tensors', () => {
  const values = [0.1, -1 / 3, 1e-50, 1e300, -1e300, 2 ** -149, -0, 16777217];
  const expected = values.map(f32); // round to nearest float32: 0.1→…, 1e-50→0, 1e300→Inf, 16777217→16777216
  for (const storage of ['raw', 'typed'] as const) {
    it(`round to float32 from ${storage === 'raw' ? 'raw_data' : 'double_data'}`, () => {
      const got = floats(decode({ dims: [values.length], data: values, dataType: DataType.DOUBLE, storage }));
      expected.forEach((v, i) => assert.ok(Object.is(got[i], v), `[${i}] ${got[i]} != ${v}`));
      assert.equal(got[3], Infinity);
      assert.equal(got[7], 16777216);
    });
  }
});

describe('float32 and integer tensors', () => {
  it('float_data and raw_data decode to the same values', () => {
    const values = [0.1, -2.5, 3e38, -0, 1e-45];
    const raw = floats(decode({ dims: [5], data: values }));
    const typed = floats(decode({ dims: [5], data: values, storage: 'typed' }));
    assert.deepEqual(raw, values.map(f32));
    assert.deepEqual(typed, values.map(f32));
    assert.ok(Object.is(raw[3], -0));
  });

  const intCases: [string, number, number[]][] = [
    ['INT64', DataType.INT64, [-1, 0, 3600, -9007199254740991, 9007199254740991]],
    ['INT32', DataType.INT32, [-2147483648, -1, 0, 2147483647]],
    ['INT8', DataType.INT8, [-128, -1, 0, 127]],
    ['UINT8', DataType.UINT8, [0, 1, 255]],
    ['INT16', DataType.INT16, [-32768, 1, 32767]],
    ['UINT16', DataType.UINT16, [0, 65535]],
    ['UINT32', DataType.UINT32, [0, 4294967295]],
    ['UINT64', DataType.UINT64, [0, 1, 9007199254740991]],
    ['BOOL', DataType.BOOL, [1, 0, 1]],
  ];
  for (const [name, dataType, values] of intCases) {
    for (const storage of ['raw', 'typed'] as const) {
      it(`${name} from ${storage} data`, () => {
        const t = decode({ dims: [values.length], data: values, dataType, storage });
        assert.deepEqual(t, { kind: 'int', dims: [values.length], data: values });
      });
    }
  }

  it('a scalar (no dims) holds one value; an empty tensor none', () => {
    assert.deepEqual(decode({ dims: [], data: [42], dataType: DataType.INT64 }), { kind: 'int', dims: [], data: [42] });
    assert.deepEqual(floats(decode({ dims: [0, 3], data: [] })), []);
  });

  it('initializers keep their typed values through readOnnx', () => {
    const graph = graphOf({
      inputs: [{ name: 'x', dims: [1, 2] }],
      outputs: [{ name: 'y', dims: [1, 2] }],
      initializers: [
        { name: 'f', dims: [2], data: [1.5, -2], storage: 'typed' },
        { name: 'h', dims: [1], data: [0x3800], dataType: DataType.FLOAT16, storage: 'typed' },
        { name: 'shape', dims: [2], data: [1, -1], dataType: DataType.INT64, storage: 'typed' },
      ],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    assert.deepEqual(floats(graph.initializers.get('f')!), [1.5, -2]);
    assert.deepEqual(floats(graph.initializers.get('h')!), [0.5]);
    assert.deepEqual(graph.initializers.get('shape'), { kind: 'int', dims: [2], data: [1, -1] });
  });

  it('unsupported element types are an OnnxReadError with a hint', () => {
    for (const dataType of [DataType.STRING, 14, 15, 99]) {
      assert.throws(() => decode({ dims: [1], data: [], dataType, storage: 'typed' }),
        (e: unknown) => e instanceof OnnxReadError && /not supported/.test(e.message) && Boolean(e.hint), `type ${dataType}`);
    }
  });
});
