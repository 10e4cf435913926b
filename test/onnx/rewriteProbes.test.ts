// Probes of the ONNX → layers rewrites (from a review and from the fuzzer's differential oracle) (pending maps, pending pads, folds). Each probe
// converts a hand-built graph, runs the blob with the firmware-faithful engine and compares it
// with the independent ONNX evaluator; probes of refusals check the refusal is a CpmlError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convertGraph } from '../../src/core/convert.js';
import { lowerGraph } from '../../src/core/onnx/lowerGraph.js';
import { loadModel, performInference } from '../../src/core/engine/firmwareEngine.js';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { CpmlError } from '../../src/core/errors.js';
import { DataType, graphOf, type ModelSpec, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';
import { prng } from '../support/fixtures.js';

function randomFloats(n: number, seed: number): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => Math.fround(r() * 2 - 1));
}

function assertComputesLikeOnnx(spec: ModelSpec, seed = 7): ReturnType<typeof convertGraph> {
  const graph = graphOf(spec);
  const conversion = convertGraph(graph);
  const n = conversion.input.dims.reduce((a, b) => a * b, 1);
  const x = randomFloats(n, seed);
  const expected = evaluateOnnx(graph, x).output;
  // A large heap: these probes check what the layers compute, not whether they fit the board.
  const out = performInference(loadModel(conversion.blob, { heapBytes: 1 << 30 }), x);
  assert.equal(out.length, expected.length, 'output length');
  for (let i = 0; i < out.length; i++) {
    if (Number.isNaN(expected[i]) && Number.isNaN(out[i])) continue;
    assert.ok(Math.abs(out[i] - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])), `value ${i}: ${out[i]} vs ${expected[i]}`);
  }
  return conversion;
}

/** Converts, or is refused with a CpmlError (never another exception). Returns the conversion when it converted. */
function convertsOrRefusesCleanly(spec: ModelSpec): ReturnType<typeof convertGraph> | undefined {
  try {
    return convertGraph(graphOf(spec));
  } catch (error) {
    assert.ok(error instanceof CpmlError, `not a CpmlError: ${String((error as Error)?.stack ?? error)}`);
    return undefined;
  }
}

const i64 = (name: string, data: number[]): TensorSpec => ({ name, dims: [data.length], data, dataType: DataType.INT64 });
const f = (name: string, dims: number[], seed: number, data?: number[]): TensorSpec =>
  ({ name, dims, data: data ?? randomFloats(dims.reduce((a, b) => a * b, 1), seed) });

function chain(input: number[], inits: TensorSpec[], nodes: NodeSpec[], opset = 13): ModelSpec {
  return { opset, inputs: [{ name: 'x', dims: input }], outputs: [{ name: nodes[nodes.length - 1].outputs[0] }], initializers: inits, nodes };
}

describe('pending per-channel map, then a reshape that changes the channels, then a padding-free Conv', () => {
  it('4 physical channels reshaped to 2 logical channels, then Conv 1×1', () => {
    const spec = chain([1, 4, 3, 3], [f('s', [4, 1, 1], 1, [2, -3, 0.5, 1.5]), f('b', [4, 1, 1], 2, [1, 0, -1, 2]), i64('shape', [1, 2, 6, 3]), f('W', [2, 2, 1, 1], 3)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Mul', inputs: ['r', 's'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'b'], outputs: ['a'] },
      { op: 'Reshape', inputs: ['a', 'shape'], outputs: ['t'] },
      { op: 'Conv', inputs: ['t', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('2 physical channels reshaped to 4 logical channels, then Conv 1×1', () => {
    const spec = chain([1, 2, 6, 3], [f('s', [2, 1, 1], 1, [2, -3]), f('b', [2, 1, 1], 2, [1, -1]), i64('shape', [1, 4, 3, 3]), f('W', [2, 4, 1, 1], 3)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Mul', inputs: ['r', 's'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'b'], outputs: ['a'] },
      { op: 'Reshape', inputs: ['a', 'shape'], outputs: ['t'] },
      { op: 'Conv', inputs: ['t', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('same, with an AveragePool (a Conv) instead of the Conv', () => {
    const spec = chain([1, 4, 4, 4], [f('s', [4, 1, 1], 1, [2, -3, 0.5, 1.5]), i64('shape', [1, 2, 8, 4])], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Mul', inputs: ['r', 's'], outputs: ['m'] },
      { op: 'Reshape', inputs: ['m', 'shape'], outputs: ['t'] },
      { op: 'AveragePool', inputs: ['t'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [2, 2] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('pending Pad before a MatMul on a [1,1,1,W] tensor', () => {
  it('Pad width by 1 each side, then MatMul', () => {
    const spec = chain([1, 1, 1, 3], [i64('pads', [0, 0, 0, 1, 0, 0, 0, 1]), f('W', [5, 2], 4)], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'MatMul', inputs: ['p', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('Pad, Relu, then MatMul', () => {
    const spec = chain([1, 1, 1, 3], [i64('pads', [0, 0, 0, 2, 0, 0, 0, 0]), f('W', [5, 2], 4)], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'Relu', inputs: ['p'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('pending Pad before a MatMul, completed by a later Pad', () => {
  it('Pad W by 1 → MatMul 5→4 → Pad H by 1: the first Pad must not land after the MatMul', () => {
    const spec = chain([1, 1, 1, 3], [i64('p1', [0, 0, 0, 1, 0, 0, 0, 1]), f('W', [5, 4], 4), i64('p2', [0, 0, 1, 0, 0, 0, 1, 0])], [
      { op: 'Pad', inputs: ['x', 'p1'], outputs: ['p'] },
      { op: 'MatMul', inputs: ['p', 'W'], outputs: ['m'] },
      { op: 'Pad', inputs: ['m', 'p2'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('records with more than 255 channels', () => {
  it('a per-channel scale of a [1,300,1,1] tensor written out before a Relu', () => {
    const spec = chain([1, 300, 1, 1], [f('s', [1, 300, 1, 1], 5)], [
      { op: 'Mul', inputs: ['x', 's'], outputs: ['m'] },
      { op: 'Relu', inputs: ['m'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('pending maps, then Gemm / MatMul / Conv', () => {
  it('GlobalAveragePool → Flatten → Gemm with alpha, beta and transB=0', () => {
    const spec = chain([1, 3, 4, 4], [f('B', [3, 5], 1), f('C', [5], 2)], [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
      { op: 'Flatten', inputs: ['g'], outputs: ['fl'] },
      { op: 'Gemm', inputs: ['fl', 'B', 'C'], outputs: ['y'], attributes: { alpha: 0.5, beta: 2.5, transB: 0 } },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('Transpose NCHW→NHWC, Reshape [1,1,N], MatMul (3-D)', () => {
    const spec = chain([1, 3, 2, 2], [i64('shape', [1, 1, 12]), f('W', [12, 4], 3)], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [0, 2, 3, 1] } },
      { op: 'Reshape', inputs: ['t', 'shape'], outputs: ['r'] },
      { op: 'MatMul', inputs: ['r', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('Transpose → Mul per-element → Flatten → Gemm transB=1', () => {
    const spec = chain([1, 2, 3, 2], [f('s', [1, 3, 2, 2], 9), f('B', [4, 12], 3), f('C', [1, 4], 4)], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [0, 2, 3, 1] } },
      { op: 'Mul', inputs: ['t', 's'], outputs: ['m'] },
      { op: 'Flatten', inputs: ['m'], outputs: ['fl'] },
      { op: 'Gemm', inputs: ['fl', 'B', 'C'], outputs: ['y'], attributes: { transB: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('ReduceMean over the batch axis (keepdims=0), Flatten axis 0, Gemm', () => {
    const spec = chain([1, 2, 3, 3], [f('B', [5, 18], 3)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'ReduceMean', inputs: ['r'], outputs: ['m'], attributes: { axes: [0], keepdims: 0 } },
      { op: 'Flatten', inputs: ['m'], outputs: ['fl'], attributes: { axis: 0 } },
      { op: 'Gemm', inputs: ['fl', 'B'], outputs: ['y'], attributes: { transB: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('ReduceSum over channels (axes input, keepdims=1), then a padding-free Conv', () => {
    const spec = chain([1, 3, 4, 4], [i64('axes', [1]), f('W', [2, 1, 3, 3], 3)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'ReduceSum', inputs: ['r', 'axes'], outputs: ['m'], attributes: { keepdims: 1 } },
      { op: 'Conv', inputs: ['m', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('GlobalAveragePool → Conv 1×1 with bias on the 1×1 map → Flatten → Softmax', () => {
    const spec = chain([1, 3, 4, 4], [f('W', [5, 3, 1, 1], 3), f('B', [5], 4)], [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
      { op: 'Conv', inputs: ['g', 'W', 'B'], outputs: ['c'] },
      { op: 'Flatten', inputs: ['c'], outputs: ['fl'] },
      { op: 'Softmax', inputs: ['fl'], outputs: ['y'], attributes: { axis: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('Relu → per-channel BatchNorm (pending) → grouped Conv padding 0 absorbs it', () => {
    const c = 4;
    const spec = chain([1, c, 5, 5], [f('g', [c], 1), f('b', [c], 2), f('mu', [c], 3), f('v', [c], 4, [0.5, 1, 2, 0.25]), f('W', [4, 2, 2, 3], 5), f('B', [4], 6)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'BatchNormalization', inputs: ['r', 'g', 'b', 'mu', 'v'], outputs: ['n'] },
      { op: 'Conv', inputs: ['n', 'W', 'B'], outputs: ['y'], attributes: { group: 2, dilations: [2, 1] } },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('Relu → depthwise Conv padding 0 after a per-channel Mul and Sub (constant first)', () => {
    const spec = chain([1, 3, 4, 4], [f('s', [3, 1, 1], 1), f('k', [1], 2, [0.75]), f('W', [3, 1, 2, 2], 5)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Mul', inputs: ['s', 'r'], outputs: ['m'] },
      { op: 'Sub', inputs: ['k', 'm'], outputs: ['d'] },
      { op: 'Conv', inputs: ['d', 'W'], outputs: ['y'], attributes: { group: 3 } },
    ]);
    assertComputesLikeOnnx(spec);
  });

  it('per-channel NaN scale stays per channel (folds into the Conv)', () => {
    const spec = chain([1, 2, 3, 3], [f('s', [2, 1, 1], 1, [NaN, 2]), f('W', [1, 2, 1, 1], 5)], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Mul', inputs: ['r', 's'], outputs: ['m'] },
      { op: 'Conv', inputs: ['m', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('BatchNorm on 3-D and 2-D tensors', () => {
  const bnInits = (c: number) => [f('g', [c], 1), f('b', [c], 2), f('mu', [c], 3), f('v', [c], 4, Array.from({ length: c }, (_, i) => 0.5 + i))];
  it('Conv → Squeeze(H) → BN [1,C,L] (fold into the Conv) → Unsqueeze → Relu', () => {
    const spec = chain([1, 2, 1, 300], [...bnInits(3), f('W', [3, 2, 1, 1], 5), i64('ax', [2])], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'] },
      { op: 'Squeeze', inputs: ['c', 'ax'], outputs: ['s'] },
      { op: 'BatchNormalization', inputs: ['s', 'g', 'b', 'mu', 'v'], outputs: ['n'] },
      { op: 'Unsqueeze', inputs: ['n', 'ax'], outputs: ['u'] },
      { op: 'Relu', inputs: ['u'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Conv → Squeeze(H) (small: a Flatten) → BN [1,C,L] pending → Unsqueeze → Conv', () => {
    const spec = chain([1, 2, 1, 5], [...bnInits(3), f('W', [3, 2, 1, 1], 5), i64('ax', [2]), f('W2', [2, 3, 1, 1], 6)], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'] },
      { op: 'Squeeze', inputs: ['c', 'ax'], outputs: ['s'] },
      { op: 'BatchNormalization', inputs: ['s', 'g', 'b', 'mu', 'v'], outputs: ['n'] },
      { op: 'Unsqueeze', inputs: ['n', 'ax'], outputs: ['u'] },
      { op: 'Conv', inputs: ['u', 'W2'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('Pad interactions', () => {
  it('Pad → AveragePool with count_include_pad=1 and its own pads', () => {
    const spec = chain([1, 2, 5, 5], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1])], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'AveragePool', inputs: ['p'], outputs: ['y'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1, strides: [2, 2] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Pad → AveragePool with count_include_pad=0 and no own pads (pad zeros are data)', () => {
    const spec = chain([1, 2, 5, 5], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 0])], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'AveragePool', inputs: ['p'], outputs: ['y'], attributes: { kernel_shape: [3, 2] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Pad → AveragePool covering the whole padded map (not the global-mean shortcut)', () => {
    const spec = chain([1, 2, 3, 3], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1])], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'AveragePool', inputs: ['p'], outputs: ['y'], attributes: { kernel_shape: [5, 5] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Relu → Pad → Relu → MaxPool with its own pads and ceil_mode', () => {
    const spec = chain([1, 2, 6, 6], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1])], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'Pad', inputs: ['r', 'pads'], outputs: ['p'] },
      { op: 'Relu', inputs: ['p'], outputs: ['r2'] },
      { op: 'MaxPool', inputs: ['r2'], outputs: ['y'], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Pad → Mul → Conv: the padding zeros are scaled and shifted too', () => {
    const spec = chain([1, 2, 3, 3], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]), f('k', [1], 1, [3]), f('W', [1, 2, 3, 3], 5)], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'Add', inputs: ['p', 'k'], outputs: ['a'] },
      { op: 'Conv', inputs: ['a', 'W'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Conv → Pad → Add: the Add must not fold into the Conv (nor into its identity Conv)', () => {
    const spec = chain([1, 1, 3, 3], [f('W', [2, 1, 1, 1], 5), i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]), f('k', [1, 2, 1, 1], 1, [3, -2])], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'] },
      { op: 'Pad', inputs: ['c', 'pads'], outputs: ['p'] },
      { op: 'Add', inputs: ['p', 'k'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Conv → Pad → Relu → Flatten → Add (the pad settles at the flatten)', () => {
    const spec = chain([1, 1, 3, 3], [f('W', [2, 1, 1, 1], 5), i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]), f('k', [1], 1, [3])], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'] },
      { op: 'Pad', inputs: ['c', 'pads'], outputs: ['p'] },
      { op: 'Relu', inputs: ['p'], outputs: ['r'] },
      { op: 'Flatten', inputs: ['r'], outputs: ['fl'] },
      { op: 'Add', inputs: ['fl', 'k'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Pad → Transpose that moves nothing (a size-1 axis) → Conv', () => {
    const spec = chain([1, 1, 3, 3], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]), f('W', [2, 5, 1, 1], 5)], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'Transpose', inputs: ['p'], outputs: ['t'], attributes: { perm: [1, 0, 2, 3] } },
      { op: 'Reshape', inputs: ['t', 'shape'], outputs: ['r'] },
      { op: 'Conv', inputs: ['r', 'W'], outputs: ['y'] },
    ].map((n) => n) as NodeSpec[]);
    spec.initializers!.push(i64('shape', [1, 5, 5, 1]));
    assertComputesLikeOnnx(spec);
  });
});

describe('SAME auto_pad with dilation and stride', () => {
  for (const autoPad of ['SAME_UPPER', 'SAME_LOWER']) {
    it(`Conv ${autoPad}, dilation [2, 3], stride 2, on 7×8`, () => {
      const spec = chain([1, 2, 7, 8], [f('W', [3, 2, 2, 2], 5), f('B', [3], 6)], [
        { op: 'Conv', inputs: ['x', 'W', 'B'], outputs: ['y'], attributes: { auto_pad: autoPad, dilations: [2, 3], strides: [2, 2] } },
      ]);
      if (convertsOrRefusesCleanly(spec)) assertComputesLikeOnnx(spec);
    });
    it(`Conv ${autoPad}, dilation 2, 3×3, stride 1, on 6×6`, () => {
      const spec = chain([1, 2, 6, 6], [f('W', [3, 2, 3, 3], 5)], [
        { op: 'Conv', inputs: ['x', 'W'], outputs: ['y'], attributes: { auto_pad: autoPad, dilations: [2, 2] } },
      ]);
      assertComputesLikeOnnx(spec);
    });
  }
});

describe('Softmax after reshapes', () => {
  it('opset 11 Softmax axis 1 on [1,2,5] (coerced to 2-D: over all values)', () => {
    const spec = chain([1, 10], [i64('shape', [1, 2, 5])], [
      { op: 'Reshape', inputs: ['x', 'shape'], outputs: ['r'] },
      { op: 'Softmax', inputs: ['r'], outputs: ['y'], attributes: { axis: 1 } },
    ], 11);
    assertComputesLikeOnnx(spec);
  });
  it('opset 13 Softmax over the last axis of [1,1,10] after a pending scale', () => {
    const spec = chain([1, 10], [i64('shape', [1, 1, 10]), f('s', [10], 3)], [
      { op: 'Mul', inputs: ['x', 's'], outputs: ['m'] },
      { op: 'Reshape', inputs: ['m', 'shape'], outputs: ['r'] },
      { op: 'Softmax', inputs: ['r'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('odd inputs: converted exactly or refused with a CpmlError', () => {
  const cases: [string, ModelSpec][] = [
    ['a huge Pad, then MaxPool', chain([1, 1, 3, 3], [i64('pads', [0, 0, 1e6, 1e6, 0, 0, 1e6, 1e6])], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'MaxPool', inputs: ['p'], outputs: ['y'], attributes: { kernel_shape: [2, 2] } },
    ])],
    ['a huge Pad, then ReduceMean', chain([1, 1, 3, 3], [i64('pads', [0, 0, 1e6, 1e6, 0, 0, 1e6, 1e6])], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'ReduceMean', inputs: ['p'], outputs: ['y'], attributes: { axes: [2, 3] } },
    ])],
    ['a huge Pad at the end', chain([1, 1, 3, 3], [i64('pads', [0, 0, 300, 300, 0, 0, 300, 300])], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['y'] },
    ])],
    ['only an Identity', chain([1, 4], [], [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }])],
    ['only a Squeeze that keeps the record', chain([1, 300, 1, 1], [i64('ax', [2, 3])], [{ op: 'Squeeze', inputs: ['x', 'ax'], outputs: ['y'] }])],
    ['ReduceSum over everything to a scalar, keepdims=0', chain([1, 2, 3], [], [{ op: 'ReduceSum', inputs: ['x'], outputs: ['y'], attributes: { keepdims: 0 } }])],
    ['Softmax of a scalar', chain([1, 3], [], [
      { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attributes: { keepdims: 0 } },
      { op: 'Softmax', inputs: ['s'], outputs: ['y'] },
    ])],
    ['Transpose of a scalar', chain([1, 3], [], [
      { op: 'ReduceSum', inputs: ['x'], outputs: ['s'], attributes: { keepdims: 0 } },
      { op: 'Transpose', inputs: ['s'], outputs: ['y'] },
    ])],
    ['Gemm with 0 output features', chain([1, 3], [{ name: 'B', dims: [0, 3], data: [] }], [{ op: 'Gemm', inputs: ['x', 'B'], outputs: ['y'], attributes: { transB: 1 } }])],
    ['MatMul with a 1-D input', chain([3], [f('W', [3, 2], 1)], [{ op: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }])],
    ['Conv with stride 300', chain([1, 1, 4, 4], [f('W', [1, 1, 1, 1], 1)], [{ op: 'Conv', inputs: ['x', 'W'], outputs: ['y'], attributes: { strides: [300, 300] } }])],
    ['Softmax axis 7 on [1,1]', chain([1, 1], [], [{ op: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 7 } }])],
    ['Flatten axis 9', chain([1, 4], [], [{ op: 'Flatten', inputs: ['x'], outputs: ['y'], attributes: { axis: 9 } }])],
    ['GlobalMaxPool on a 3-D tensor', chain([1, 2, 5], [], [{ op: 'GlobalMaxPool', inputs: ['x'], outputs: ['y'] }])],
    ['BatchNormalization on a 1-D tensor', chain([4], [f('g', [4], 1), f('b', [4], 2), f('mu', [4], 3), f('v', [4], 4, [1, 1, 1, 1])], [
      { op: 'BatchNormalization', inputs: ['x', 'g', 'b', 'mu', 'v'], outputs: ['y'] },
    ])],
    ['ReduceMean with axes given as a float tensor', chain([1, 2, 2, 2], [f('ax', [1], 0, [2.5])], [{ op: 'ReduceMean', inputs: ['x', 'ax'], outputs: ['y'] }], 18)],
    ['Unsqueeze with a float axis', chain([1, 2], [f('ax', [1], 0, [0.5])], [{ op: 'Unsqueeze', inputs: ['x', 'ax'], outputs: ['y'] }])],
    ['Squeeze with a float axis', chain([1, 2], [f('ax', [1], 0, [0.5])], [{ op: 'Squeeze', inputs: ['x', 'ax'], outputs: ['y'] }])],
    ['Pad with float pads', chain([1, 1, 2, 2], [f('pads', [8], 0, [0, 0, 0.5, 0.5, 0, 0, 0.5, 0.5])], [{ op: 'Pad', inputs: ['x', 'pads'], outputs: ['y'] }])],
    ['Pad with axes out of range', chain([1, 1, 2, 2], [i64('pads', [1, 1]), i64('ax', [7])], [{ op: 'Pad', inputs: ['x', 'pads', '', 'ax'], outputs: ['y'] }], 18)],
    ['Transpose with a non-integer perm', chain([1, 2, 3], [], [{ op: 'Transpose', inputs: ['x'], outputs: ['y'], attributes: { perm: [0, 2, 1.5] } }])],
    ['Clip with empty bound tensors', chain([1, 2], [{ name: 'lo', dims: [0], data: [] }], [{ op: 'Clip', inputs: ['x', 'lo'], outputs: ['y'] }])],
    ['Add with an empty constant', chain([1, 2], [{ name: 'k', dims: [0], data: [] }], [{ op: 'Add', inputs: ['x', 'k'], outputs: ['y'] }])],
    ['Reshape to a float shape', chain([1, 4], [f('shape', [2], 0, [1, 4])], [{ op: 'Reshape', inputs: ['x', 'shape'], outputs: ['y'] }])],
  ];
  for (const [name, spec] of cases) {
    it(name, () => {
      const c = convertsOrRefusesCleanly(spec);
      if (c) assertComputesLikeOnnx(spec);
    });
  }
});

describe('more pending-map shapes', () => {
  it('GlobalAveragePool of 80000 values, then Relu: written as a Conv whose kernel covers the map', () => {
    const spec = chain([1, 2, 200, 200], [], [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
      { op: 'Relu', inputs: ['g'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('ReduceMean keepdims=0 of 80000 values to [1,2], then Relu (Conv-kernel settle with 2-D logical dims)', () => {
    const spec = chain([1, 2, 200, 200], [], [
      { op: 'ReduceMean', inputs: ['x'], outputs: ['g'], attributes: { axes: [2, 3], keepdims: 0 } },
      { op: 'Relu', inputs: ['g'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Transpose with the default (reversed) perm, Reshape [1,-1], Gemm', () => {
    const spec = chain([1, 2, 3, 4], [i64('shape', [1, -1]), f('B', [3, 24], 2)], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'] },
      { op: 'Reshape', inputs: ['t', 'shape'], outputs: ['r'] },
      { op: 'Gemm', inputs: ['r', 'B'], outputs: ['y'], attributes: { transB: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Transpose NHWC, ReduceSum over non-contiguous axes [1, 3] keepdims=0, Add, MatMul', () => {
    const spec = chain([1, 3, 4, 5], [f('k', [5], 1), f('W', [5, 2], 2)], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [0, 2, 3, 1] } },
      { op: 'ReduceSum', inputs: ['t'], outputs: ['r'], attributes: { axes: [1, 3], keepdims: 0 } },
      { op: 'Add', inputs: ['r', 'k'], outputs: ['a'] },
      { op: 'MatMul', inputs: ['a', 'W'], outputs: ['y'] },
    ], 11);
    assertComputesLikeOnnx(spec);
  });
  it('Transpose NHWC → per-channel Mul/Add in NHWC → Transpose back → Conv (the tf2onnx BatchNorm pattern)', () => {
    const spec = chain([1, 3, 4, 4], [f('s', [3], 1), f('b', [3], 2), f('W', [2, 3, 3, 3], 3)], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [0, 2, 3, 1] } },
      { op: 'Mul', inputs: ['t', 's'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'b'], outputs: ['a'] },
      { op: 'Transpose', inputs: ['a'], outputs: ['u'], attributes: { perm: [0, 3, 1, 2] } },
      { op: 'Conv', inputs: ['u', 'W'], outputs: ['y'], attributes: { pads: [1, 1, 1, 1] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Transpose and its inverse, then Relu (an identity reorder is no reorder)', () => {
    const spec = chain([1, 2, 3, 4], [f('k', [1], 1, [0.5])], [
      { op: 'Transpose', inputs: ['x'], outputs: ['t'], attributes: { perm: [0, 2, 3, 1] } },
      { op: 'Mul', inputs: ['t', 'k'], outputs: ['m'] },
      { op: 'Transpose', inputs: ['m'], outputs: ['u'], attributes: { perm: [0, 3, 1, 2] } },
      { op: 'Relu', inputs: ['u'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('backward folds after reshapes that keep the record', () => {
  it('Conv [1,3,1,100] → Squeeze → Add per channel [3,1] (folds into the Conv)', () => {
    const spec = chain([1, 2, 1, 100], [f('W', [3, 2, 1, 1], 1), i64('ax', [2]), f('k', [3, 1], 2)], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'] },
      { op: 'Squeeze', inputs: ['c', 'ax'], outputs: ['s'] },
      { op: 'Add', inputs: ['s', 'k'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Conv [1,3,1,100] → Squeeze → Mul per position [100] (cannot fold: pending, then written out)', () => {
    const spec = chain([1, 2, 1, 100], [f('W', [3, 2, 1, 1], 1), i64('ax', [2]), f('k', [100], 2)], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'] },
      { op: 'Squeeze', inputs: ['c', 'ax'], outputs: ['s'] },
      { op: 'Mul', inputs: ['s', 'k'], outputs: ['m'] },
      { op: 'Unsqueeze', inputs: ['m', 'ax'], outputs: ['u'] },
      { op: 'Conv', inputs: ['u', 'W2'], outputs: ['y'], attributes: { pads: [0, 1, 0, 1] } },
    ]);
    spec.initializers!.push(f('W2', [1, 3, 1, 3], 3));
    assertComputesLikeOnnx(spec);
  });
  it('Gemm → Unsqueeze [1,1,6] → BatchNorm with one channel (folds into the Linear)', () => {
    const spec = chain([1, 4], [f('B', [6, 4], 1), i64('ax', [1]), f('g', [1], 2), f('b', [1], 3), f('mu', [1], 4), f('v', [1], 5, [2])], [
      { op: 'Gemm', inputs: ['x', 'B'], outputs: ['l'], attributes: { transB: 1 } },
      { op: 'Unsqueeze', inputs: ['l', 'ax'], outputs: ['u'] },
      { op: 'BatchNormalization', inputs: ['u', 'g', 'b', 'mu', 'v'], outputs: ['y'] },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('nonNegative tracking before a padded MaxPool', () => {
  it('Relu → ReduceMean over channels (pending, ≥ 0) → MaxPool with pads', () => {
    const spec = chain([1, 3, 5, 5], [], [
      { op: 'Relu', inputs: ['x'], outputs: ['r'] },
      { op: 'ReduceMean', inputs: ['r'], outputs: ['m'], attributes: { axes: [1] } },
      { op: 'MaxPool', inputs: ['m'], outputs: ['y'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Pad → GlobalAveragePool → Flatten → Gemm', () => {
    const spec = chain([1, 2, 3, 3], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]), f('B', [3, 2], 2)], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'GlobalAveragePool', inputs: ['p'], outputs: ['g'] },
      { op: 'Flatten', inputs: ['g'], outputs: ['fl'] },
      { op: 'Gemm', inputs: ['fl', 'B'], outputs: ['y'], attributes: { transB: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });
  it('Conv → Clip(0, 6) (ReLU6, ≥ 0) → MaxPool with pads: exactly computable', () => {
    const spec = chain([1, 1, 6, 6], [f('W', [2, 1, 3, 3], 1), f('lo', [], 0, [0]), f('hi', [], 0, [6])], [
      { op: 'Conv', inputs: ['x', 'W'], outputs: ['c'], attributes: { pads: [1, 1, 1, 1] } },
      { op: 'Clip', inputs: ['c', 'lo', 'hi'], outputs: ['r'] },
      { op: 'MaxPool', inputs: ['r'], outputs: ['y'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('time stays bounded by the work of the model', () => {
  it('100 scalar Muls on a pending [1,1,2048,2048] map convert in well under 4 s (cost per node, not per value)', () => {
    const nodes: NodeSpec[] = [];
    let t = 'x';
    for (let i = 0; i < 100; i++) { nodes.push({ op: 'Mul', inputs: [t, 'k'], outputs: [`m${i}`] }); t = `m${i}`; }
    nodes.push({ op: 'Relu', inputs: [t], outputs: ['y'] });
    const spec: ModelSpec = { inputs: [{ name: 'x', dims: [1, 1, 2048, 2048] }], outputs: [{ name: 'y' }], initializers: [{ name: 'k', dims: [], data: [1.0001] }], nodes };
    const graph = graphOf(spec);
    const t0 = Date.now();
    try { lowerGraph(graph); } catch (error) { assert.ok(error instanceof CpmlError, String(error)); }
    const ms = Date.now() - t0;
    assert.ok(ms < 4000, `took ${ms} ms`);
  });
});

describe('global max', () => {
  it('ReduceMax over [-1, -2] keepdims=0 of a non-square map after a pending Pad, then Gemm', () => {
    const spec = chain([1, 2, 3, 5], [i64('pads', [0, 0, 1, 1, 0, 0, 1, 1]), f('B', [3, 2], 2)], [
      { op: 'Pad', inputs: ['x', 'pads'], outputs: ['p'] },
      { op: 'ReduceMax', inputs: ['p'], outputs: ['m'], attributes: { axes: [-1, -2], keepdims: 0 } },
      { op: 'Gemm', inputs: ['m', 'B'], outputs: ['y'], attributes: { transB: 1 } },
    ]);
    assertComputesLikeOnnx(spec);
  });
});

describe('found by the fuzzer\'s differential oracle', () => {
  it('a constant of higher rank gives the result its rank (numpy broadcasting), which a later reduce sees', () => {
    // [1,3] · [1,1,3] is [1,1,3]: ReduceMean over axes [0, 1] leaves the 3 products.
    const spec = chain([1, 3], [f('c', [1, 1, 3], 3), i64('axes', [0, 1])], [
      { op: 'Mul', inputs: ['x', 'c'], outputs: ['m'] },
      { op: 'ReduceMean', inputs: ['m', 'axes'], outputs: ['y'], attributes: { keepdims: 0 } },
    ], 18);
    const c = assertComputesLikeOnnx(spec);
    assert.deepEqual(c.output.dims, [3]);
  });

  it('ceil_mode and count_include_pad must be 0 or 1', () => {
    const spec = chain([1, 1, 5, 5], [], [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 2 } }]);
    assert.throws(() => lowerGraph(graphOf(spec)), /ceil_mode=2 is not 0 or 1/);
  });

  it('auto_pad=VALID with ceil_mode=1 uses the spec\'s VALID size', () => {
    assertComputesLikeOnnx(chain([1, 1, 3, 3], [], [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1, auto_pad: 'VALID' } }]));
  });

  it('Squeeze axes in the other opset\'s form is refused', () => {
    const spec = chain([1, 4, 1, 1], [], [{ op: 'Squeeze', inputs: ['x'], outputs: ['y'], attributes: { axes: [2, 3] } }], 13);
    assert.throws(() => lowerGraph(graphOf(spec)), /axes as an attribute, which opset 13 does not have/);
  });

  it('a huge per-value constant is refused as a CpmlError, quickly', () => {
    const started = Date.now();
    const spec = chain([1, 255, 65536, 11], [f('c', [11], 4)], [{ op: 'Sub', inputs: ['x', 'c'], outputs: ['y'] }]);
    assert.throws(() => lowerGraph(graphOf(spec)), (e: unknown) => e instanceof CpmlError);
    assert.ok(Date.now() - started < 3000, `${Date.now() - started} ms`);
  });

  it('a padding written out as a Linear comes after a pending mean and scale', () => {
    // GlobalAveragePool → BatchNorm (pending) → Conv 1×1 padding only the right: pads run as a Linear.
    const spec = chain([1, 2, 3, 2], [f('g', [2], 1), f('b', [2], 2), f('m', [2], 3), f('v', [2], 4, [1.5, 0.5]), f('W', [3, 2, 1, 1], 5)], [
      { op: 'GlobalAveragePool', inputs: ['x'], outputs: ['p'] },
      { op: 'BatchNormalization', inputs: ['p', 'g', 'b', 'm', 'v'], outputs: ['n'] },
      { op: 'Conv', inputs: ['n', 'W'], outputs: ['y'], attributes: { pads: [0, 0, 0, 1] } },
    ]);
    assertComputesLikeOnnx(spec);
  });
});
