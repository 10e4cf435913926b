// lowerGraph on hand-built graphs: cases the PyTorch fixtures do not cover. Every refusal must
// be an UnsupportedModelError (or FirmwareLimitError) naming the node where there is one.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lowerGraph } from '../../src/core/onnx/lowerGraph.js';
import { convertGraph } from '../../src/core/convert.js';
import { runBlob } from '../../src/core/engine/firmwareEngine.js';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { pooledLength } from '../../src/core/blob/checkLimits.js';
import { FirmwareLimitError, UnsupportedModelError } from '../../src/core/errors.js';
import type { OnnxGraph } from '../../src/core/onnx/onnxGraph.js';
import { attr, DataType, graphOf, type AttrSpec, type ModelSpec, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';
import { maxAbsError, prng } from '../support/fixtures.js';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';

const { Conv2D, MaxPool2D, ReLU, Flatten, Linear } = LayerType;

function randomFloats(n: number, seed: number): Float32Array {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => Math.fround(r() * 2 - 1));
}

interface Refusal {
  pattern: RegExp;
  /** The node the error must name (op and index), or null for graph-level refusals. */
  node: { op: string; index: number } | null;
  /** With node: null, accept an error that names some node (checked by the caller). */
  anyNode?: boolean;
  limit?: boolean;
}

function assertRefused(spec: ModelSpec, expected: Refusal): UnsupportedModelError {
  const graph = graphOf(spec);
  let caught: unknown;
  try {
    lowerGraph(graph);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught, 'lowerGraph accepted the graph');
  assert.ok(caught instanceof UnsupportedModelError, `not an UnsupportedModelError: ${String(caught)}`);
  if (expected.limit) assert.ok(caught instanceof FirmwareLimitError, `not a FirmwareLimitError: ${caught.name}`);
  assert.match(caught.message, expected.pattern);
  if (expected.node) {
    assert.ok(caught.node, `no node named in "${caught.message}"`);
    assert.equal(caught.node.op, expected.node.op);
    assert.equal(caught.node.index, expected.node.index);
    assert.equal(caught.node.name, graph.nodes[expected.node.index].name);
    assert.ok(caught.message.startsWith(`node '${caught.node.name}' (#${expected.node.index}, ${expected.node.op}): `), caught.message);
  } else if (!expected.anyNode) {
    assert.equal(caught.node, undefined);
  }
  return caught;
}

/** x: 1×C×H×W → Conv(attrs) → y. */
function convModel(opts: { c?: number; oc?: number; h: number; w: number; kh: number; kw?: number; attributes?: Record<string, AttrSpec>; outDims?: number[] }): ModelSpec {
  const c = opts.c ?? 1, oc = opts.oc ?? 2, kw = opts.kw ?? opts.kh;
  return {
    inputs: [{ name: 'x', dims: [1, c, opts.h, opts.w] }],
    outputs: [{ name: 'y', dims: opts.outDims ?? null }],
    initializers: [
      { name: 'W', dims: [oc, c, opts.kh, kw], data: randomFloats(oc * c * opts.kh * kw, 1) },
      { name: 'B', dims: [oc], data: randomFloats(oc, 2) },
    ],
    nodes: [{ op: 'Conv', name: 'conv', inputs: ['x', 'W', 'B'], outputs: ['y'], attributes: opts.attributes }],
  };
}

/** Naive float64 NCHW convolution with per-side pads [top, left, bottom, right]. */
function convReference(x: Float32Array, c: number, h: number, w: number, weights: ArrayLike<number>, bias: ArrayLike<number>,
  oc: number, k: number, stride: number, pads: number[]): { out: number[]; oh: number; ow: number } {
  const [pt, pl, pb, pr] = pads;
  const oh = Math.floor((h + pt + pb - k) / stride) + 1;
  const ow = Math.floor((w + pl + pr - k) / stride) + 1;
  const out: number[] = [];
  for (let o = 0; o < oc; o++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let sum = bias[o];
        for (let i = 0; i < c; i++) {
          for (let ky = 0; ky < k; ky++) {
            for (let kx = 0; kx < k; kx++) {
              const iy = oy * stride + ky - pt, ix = ox * stride + kx - pl;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) sum += x[i * h * w + iy * w + ix] * weights[((o * c + i) * k + ky) * k + kx];
            }
          }
        }
        out.push(sum);
      }
    }
  }
  return { out, oh, ow };
}

/**
 * Converts the graph and checks the blob against the independent ONNX evaluator on a random
 * input: within 1e-5 × max(1, |ref|). Returns the conversion for further checks.
 */
function assertComputesLikeOnnx(spec: ModelSpec, seed = 7): ReturnType<typeof convertGraph> {
  const graph = graphOf(spec);
  const conversion = convertGraph(graph);
  const n = conversion.input.dims.reduce((a, b) => a * b, 1);
  const x = randomFloats(n, seed);
  const expected = evaluateOnnx(graph, x).output;
  const out = runBlob(conversion.blob, x);
  assert.equal(out.length, expected.length);
  for (let i = 0; i < out.length; i++) {
    assert.ok(Math.abs(out[i] - expected[i]) <= 1e-5 * Math.max(1, Math.abs(expected[i])), `value ${i}: ${out[i]} vs ${expected[i]}`);
  }
  return conversion;
}

const tensor = (spec: ModelSpec, name: string): TensorSpec => spec.initializers!.find((t) => t.name === name)!;

describe('Conv lowering', () => {
  it('refuses a non-square kernel whose axes would need different paddings', () => {
    assertRefused(convModel({ h: 6, w: 6, kh: 3, kw: 2 }), { pattern: /window \(3×2\) and padding \[0, 0, 0, 0\] give the two axes different reaches/, node: { op: 'Conv', index: 0 } });
  });

  it('runs a non-square kernel whose padding evens it out, as a square kernel with zeros', () => {
    // 3×1 with pads (1, 0): both axes reach 1 beyond the padding → a 3×3 kernel, padding 1.
    const c = assertComputesLikeOnnx(convModel({ c: 2, oc: 3, h: 6, w: 6, kh: 3, kw: 1, attributes: { pads: [1, 0, 1, 0] } }));
    const conv = c.layers.find((l) => l.type === Conv2D)!;
    assert.deepEqual([conv.kernel, conv.padding], [3, 1]);
    assert.ok(c.rewrites.some((r) => r.kind === 'non-square'));
  });

  it('refuses different strides per axis', () => {
    assertRefused(convModel({ h: 6, w: 6, kh: 3, attributes: { strides: [1, 2] } }), { pattern: /strides \[1, 2\] differ per axis/, node: { op: 'Conv', index: 0 } });
  });

  it('runs SAME_LOWER / SAME_UPPER that pad asymmetrically, with a larger kernel and zeros', () => {
    // k=2, s=1: total padding 1 → SAME_LOWER puts it at the top/left, SAME_UPPER at the bottom/right.
    for (const autoPad of ['SAME_LOWER', 'SAME_UPPER']) {
      const c = assertComputesLikeOnnx(convModel({ c: 2, oc: 3, h: 5, w: 5, kh: 2, attributes: { auto_pad: autoPad } }));
      const conv = c.layers.find((l) => l.type === Conv2D)!;
      assert.deepEqual([conv.kernel, conv.padding, conv.out.h], [3, 1, 5], autoPad);
      assert.ok(c.rewrites.some((r) => r.kind === 'asymmetrically padded'));
    }
    // k=3, s=2 on 6×6: total 1.
    assertComputesLikeOnnx(convModel({ c: 2, oc: 2, h: 6, w: 6, kh: 3, attributes: { auto_pad: 'SAME_LOWER', strides: [2, 2] } }));
  });

  it('runs grouped, depthwise and dilated convolutions, and says what they cost', () => {
    const grouped = convModel({ c: 4, oc: 6, h: 7, w: 7, kh: 3, attributes: { group: 2, pads: [1, 1, 1, 1] } });
    grouped.initializers![0] = { name: 'W', dims: [6, 2, 3, 3], data: randomFloats(108, 1) };
    let c = assertComputesLikeOnnx(grouped);
    assert.match(c.rewrites.map((r) => r.how).join('\n'), /runs as a full Conv 4→6 \(zero weights between the 2 groups\)/);
    const depthwise = convModel({ c: 3, oc: 3, h: 8, w: 8, kh: 3, attributes: { group: 3, dilations: [2, 2], pads: [2, 2, 2, 2] } });
    depthwise.initializers![0] = { name: 'W', dims: [3, 1, 3, 3], data: randomFloats(27, 1) };
    c = assertComputesLikeOnnx(depthwise);
    const conv = c.layers.find((l) => l.type === Conv2D)!;
    assert.deepEqual([conv.kernel, conv.padding, conv.in.c, conv.out.c], [5, 2, 3, 3]);
    assert.equal(c.rewrites[0].kind, 'depthwise');
    assert.equal(c.rewrites[0].macs.after / c.rewrites[0].macs.before, 3 * 25 / 9);
    // A dilation that would need a kernel over 255 is refused, saying why.
    const huge = convModel({ h: 300, w: 300, kh: 3, attributes: { dilations: [130, 130] } });
    assertRefused(huge, { pattern: /needs a 261×261 kernel once its dilation is spread out, more than the firmware's limit of 255/, node: { op: 'Conv', index: 0 } });
  });

  it('accepts SAME_LOWER when it pads symmetrically, and the blob computes the convolution', () => {
    // k=3, s=2 on 5×5: total 2 → padding 1 each side; output 3×3 (= ceil(5/2)).
    const spec = convModel({ c: 2, oc: 3, h: 5, w: 5, kh: 3, attributes: { auto_pad: 'SAME_LOWER', strides: [2, 2] }, outDims: [1, 3, 3, 3] });
    const conversion = convertGraph(graphOf(spec));
    const conv = conversion.layers.find((l) => l.type === Conv2D)!;
    assert.deepEqual([conv.kernel, conv.stride, conv.padding], [3, 2, 1]);
    assert.deepEqual(conv.out, { c: 3, h: 3, w: 3 });
    const x = randomFloats(50, 3);
    const ref = convReference(x, 2, 5, 5, tensor(spec, 'W').data, tensor(spec, 'B').data, 3, 3, 2, [1, 1, 1, 1]);
    const out = runBlob(conversion.blob, x);
    assert.ok(maxAbsError(out, ref.out) < 1e-5);
  });

  it('refuses a kernel_shape that disagrees with the weights, and a 1-D kernel', () => {
    assertRefused(convModel({ h: 6, w: 6, kh: 3, attributes: { kernel_shape: [2, 2] } }), { pattern: /kernel_shape \[2, 2\] disagrees with the weight shape \[2, 1, 3, 3\]/, node: { op: 'Conv', index: 0 } });
    const spec = convModel({ h: 6, w: 6, kh: 3 });
    spec.initializers![0] = { name: 'W', dims: [2, 1, 3], data: randomFloats(6, 1) };
    assertRefused(spec, { pattern: /1-D kernel/, node: { op: 'Conv', index: 0 } });
  });

  it('refuses a Conv on a 2-D tensor', () => {
    const spec = convModel({ h: 6, w: 6, kh: 3 });
    spec.inputs = [{ name: 'x', dims: [1, 36] }];
    assertRefused(spec, { pattern: /expects a 4-D \(N, C, H, W\) input but gets shape \[1, 36\]/, node: { op: 'Conv', index: 0 } });
  });
});

describe('layers read the ONNX shape, not the last record', () => {
  it('a Conv after a scale written as a 1×1 Conv and a reshape of the pending values', () => {
    // [1,4,1,1] → Relu → Mul per channel (pending) → Reshape [1,1,2,2] → Relu (the scale is written
    // as a 1×1 Conv 4→4 first) → Conv 1→2, kernel 2: it must read 1×2×2, not 4×1×1.
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4, 1, 1] }], outputs: [{ name: 'y' }],
      initializers: [
        { name: 's', dims: [4, 1, 1], data: [2, -3, 0.5, 1.5] }, { name: 'W', dims: [2, 1, 2, 2], data: [0.5, -1, 2, 0.25, 1, 1, -1, 0.5] },
        { name: 'shape', dims: [4], data: [1, 1, 2, 2], dataType: DataType.INT64 },
      ],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Mul', inputs: ['r', 's'], outputs: ['m'] },
        { op: 'Reshape', inputs: ['m', 'shape'], outputs: ['t'] },
        { op: 'Relu', inputs: ['t'], outputs: ['r2'] },
        { op: 'Conv', inputs: ['r2', 'W'], outputs: ['y'] },
      ],
    };
    const c = assertComputesLikeOnnx(spec);
    assert.deepEqual(c.layers[c.layers.length - 1].in, { c: 1, h: 2, w: 2 });
  });
});

describe('MaxPool lowering', () => {
  function poolModel(h: number, attributes: Record<string, AttrSpec>, extraNodes: NodeSpec[] = [], outputs = ['y']): ModelSpec {
    return {
      inputs: [{ name: 'x', dims: [1, 2, h, h] }],
      outputs: outputs.map((name) => ({ name })),
      nodes: [{ op: 'MaxPool', name: 'pool', inputs: ['x'], outputs: ['y', 'idx'], attributes }, ...extraNodes],
    };
  }

  it('accepts ceil_mode=1 where it makes no difference', () => {
    // 8×8, k2 s2: floor and ceil both give 4×4.
    const conversion = convertGraph(graphOf(poolModel(8, { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 })));
    const pool = conversion.layers.find((l) => l.type === MaxPool2D)!;
    assert.deepEqual(pool.out, { c: 2, h: 4, w: 4 });
    assert.deepEqual(conversion.output.dims, [1, 2, 4, 4]);
    // The input (128) is larger than the pool output (32): a shape-keeping Flatten comes first.
    assert.deepEqual(conversion.layers.map((l) => l.type), [Flatten, MaxPool2D]);
    assert.ok(conversion.notes.some((n) => /added a Flatten/.test(n)));
    const x = randomFloats(128, 4);
    const out = runBlob(conversion.blob, x);
    const expected: number[] = [];
    for (let c = 0; c < 2; c++) {
      for (let oy = 0; oy < 4; oy++) {
        for (let ox = 0; ox < 4; ox++) {
          const at = (dy: number, dx: number) => x[c * 64 + (oy * 2 + dy) * 8 + ox * 2 + dx];
          expected.push(Math.max(at(0, 0), at(0, 1), at(1, 0), at(1, 1)));
        }
      }
    }
    assert.deepEqual(Array.from(out), expected);
  });

  it('runs ceil_mode=1 where it adds a partial window (the firmware clips windows at the edge)', () => {
    for (const [h, k, s] of [[9, 2, 2], [8, 3, 2], [7, 3, 3], [5, 1, 3]]) {
      const spec = poolModel(h, { kernel_shape: [k, k], strides: [s, s], ceil_mode: 1 });
      spec.nodes![0].outputs = ['y']; // the evaluator computes no indices
      const c = assertComputesLikeOnnx(spec);
      const pool = c.layers.find((l) => l.type === MaxPool2D)!;
      assert.equal(pool.out.h, pooledLength(h, k, s, true), `${h} ${k} ${s}`);
    }
  });

  it('runs MaxPool padding after a ReLU as zero padding, and refuses it where values may be negative', () => {
    const relu: NodeSpec = { op: 'Relu', inputs: ['x'], outputs: ['r'] };
    const padded: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 2, 7, 7] }], outputs: [{ name: 'y' }],
      nodes: [relu, { op: 'MaxPool', name: 'pool', inputs: ['r'], outputs: ['y'], attributes: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } }],
    };
    const c = assertComputesLikeOnnx(padded);
    assert.deepEqual(c.layers.map((l) => l.type), [ReLU, Conv2D, MaxPool2D]);
    assertRefused(poolModel(7, { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }), { pattern: /pads \[1, 1, 1, 1\] with −∞.*may be negative/, node: { op: 'MaxPool', index: 0 } });
  });

  it('refuses a used indices output', () => {
    const spec = poolModel(8, { kernel_shape: [2, 2], strides: [2, 2] }, [{ op: 'Cast', name: 'use_idx', inputs: ['idx'], outputs: ['idx_f'], attributes: { to: 1 } }]);
    assertRefused(spec, { pattern: /indices output is used/, node: { op: 'MaxPool', index: 0 } });
  });

  it('ignores an unused indices output', () => {
    const conversion = convertGraph(graphOf(poolModel(8, { kernel_shape: [2, 2], strides: [2, 2] })));
    assert.equal(conversion.layers.filter((l) => l.type === MaxPool2D).length, 1);
  });

  it('defaults strides to 1 (ONNX), not to the kernel', () => {
    const conversion = convertGraph(graphOf(poolModel(5, { kernel_shape: [2, 2] })));
    const pool = conversion.layers.find((l) => l.type === MaxPool2D)!;
    assert.equal(pool.stride, 1);
    assert.deepEqual(pool.out, { c: 2, h: 4, w: 4 });
  });

  it('refuses a non-square window', () => {
    assertRefused(poolModel(8, { kernel_shape: [2, 3] }), { pattern: /non-square pooling window 2×3/, node: { op: 'MaxPool', index: 0 } });
  });
});

/** x: [1, C, H, W] → Conv(1×1) → … so later nodes see a computed tensor. */
function dense(k: number, out: number, seed: number): { w: TensorSpec; b: TensorSpec } {
  return {
    w: { name: `W${seed}`, dims: [out, k], data: randomFloats(out * k, seed) },
    b: { name: `B${seed}`, dims: [out], data: randomFloats(out, seed + 100) },
  };
}

describe('shape ops', () => {
  it('a Reshape to the same shape adds no layer', () => {
    const { w, b } = dense(18, 4, 10);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 2, 3, 3] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      initializers: [w, b, { name: 'same', dims: [4], data: [1, 2, 3, 3], dataType: DataType.INT64 }, { name: 'zeros', dims: [4], data: [0, 0, 0, 0], dataType: DataType.INT64 }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Reshape', name: 'noop', inputs: ['r', 'same'], outputs: ['r2'] },
        { op: 'Reshape', name: 'noop0', inputs: ['r2', 'zeros'], outputs: ['r3'] }, // 0 = copy the dim
        { op: 'Flatten', inputs: ['r3'], outputs: ['f'] },
        { op: 'Gemm', inputs: ['f', w.name, b.name], outputs: ['y'], attributes: { transB: 1 } },
      ],
    };
    const lowered = lowerGraph(graphOf(spec));
    assert.deepEqual(lowered.layers.map((l) => l.type), [ReLU, Flatten, Linear]);
    assert.deepEqual(lowered.layers.map((l) => l.sources.map((s) => s.op)), [['Relu'], ['Flatten'], ['Gemm']]);
  });

  it('refuses Flatten axis=2 of a multi-channel tensor', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 2, 3, 3] }],
      outputs: [{ name: 'y' }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Flatten', name: 'flat2', inputs: ['r'], outputs: ['y'], attributes: { axis: 2 } },
      ],
    };
    const error = assertRefused(spec, { pattern: /with axis=2 turns \[1, 2, 3, 3\] into a 2×9 matrix, not a vector/, node: { op: 'Flatten', index: 1 } });
    assert.ok(error.hint);
  });
});

describe('Gemm / MatMul / Add lowering', () => {
  it('refuses Gemm transA=1', () => {
    const { w, b } = dense(4, 3, 20);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 3] }],
      initializers: [w, b],
      nodes: [{ op: 'Gemm', name: 'fc', inputs: ['x', w.name, b.name], outputs: ['y'], attributes: { transA: 1, transB: 1 } }],
    };
    assertRefused(spec, { pattern: /transA=1 is not supported/, node: { op: 'Gemm', index: 0 } });
  });

  it('refuses an Add of two computed tensors as not a chain', () => {
    const { w, b } = dense(4, 3, 30);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 3] }],
      initializers: [w, b],
      nodes: [
        { op: 'Gemm', inputs: ['x', w.name, b.name], outputs: ['g'], attributes: { transB: 1 } },
        { op: 'RandomNormal', name: 'noise', inputs: [], outputs: ['n'], attributes: { shape: [1, 3] } },
        { op: 'Add', name: 'add', inputs: ['g', 'n'], outputs: ['y'] },
      ],
    };
    assertRefused(spec, { pattern: /adds two computed tensors .*not a single chain/, node: { op: 'Add', index: 2 } });
  });

  it('runs a constant Add that is not a bias of the previous layer (as a Linear at the end)', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      initializers: [{ name: 'c', dims: [4], data: [1, 2, 3, 4] }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Add', name: 'shift', inputs: ['r', 'c'], outputs: ['y'] },
      ],
    };
    const c = assertComputesLikeOnnx(spec);
    assert.deepEqual(c.layers.map((l) => l.type), [ReLU, Linear]);
    assert.match(c.rewrites.map((r) => r.how).join(), /runs as a Linear 4→4/);
  });

  it('refuses a Linear with more than 65535 outputs', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 1] }],
      outputs: [{ name: 'y', dims: [1, 65536] }],
      initializers: [{ name: 'W', dims: [65536, 1], data: new Float32Array(65536) }],
      nodes: [{ op: 'Gemm', name: 'huge', inputs: ['x', 'W'], outputs: ['y'], attributes: { transB: 1 } }],
    };
    assertRefused(spec, { pattern: /Linear out_features 65536 exceeds the firmware's limit of 65535/, node: { op: 'Gemm', index: 0 } });
    // MatMul too.
    const mm: ModelSpec = { ...spec, initializers: [{ name: 'W', dims: [1, 65536], data: new Float32Array(65536) }], nodes: [{ op: 'MatMul', name: 'huge', inputs: ['x', 'W'], outputs: ['y'] }] };
    assertRefused(mm, { pattern: /out_features 65536 exceeds/, node: { op: 'MatMul', index: 0 } });
  });

  it('MatMul + Add with broadcast bias computes x @ W + b', () => {
    const W = randomFloats(12, 40), bias = randomFloats(3, 41);
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 3] }],
      initializers: [{ name: 'W', dims: [4, 3], data: W }, { name: 'b', dims: [1, 3], data: bias }],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['m'] },
        { op: 'Add', inputs: ['b', 'm'], outputs: ['y'] }, // bias first
      ],
    };
    const conversion = convertGraph(graphOf(spec));
    const x = randomFloats(4, 42);
    const expected = [0, 1, 2].map((o) => bias[o] + [0, 1, 2, 3].reduce((s, i) => s + x[i] * W[i * 3 + o], 0));
    assert.ok(maxAbsError(runBlob(conversion.blob, x), expected) < 1e-6);
    // A shape-keeping Flatten first (input 4 > output 3), then one Linear with the folded bias.
    assert.deepEqual(conversion.layers.map((l) => l.type), [Flatten, Linear]);
    assert.equal(conversion.layers[1].hasModelBias, true);
    assert.deepEqual(conversion.layers[1].sources.map((s) => s.op), ['MatMul', 'Add']);
  });
});

describe('BatchNormalization / Dropout', () => {
  function bnModel(before: NodeSpec[], bnInput: string, attributes: Record<string, AttrSpec> = {}, bnOutputs = ['y']): ModelSpec {
    return {
      inputs: [{ name: 'x', dims: [1, 1, 4, 4] }],
      outputs: [{ name: 'y' }],
      initializers: [
        { name: 'W', dims: [2, 1, 3, 3], data: randomFloats(18, 50) },
        { name: 'scale', dims: [2], data: [1, 2] }, { name: 'bias', dims: [2], data: [0, 1] },
        { name: 'mean', dims: [2], data: [0.5, -0.5] }, { name: 'var', dims: [2], data: [1, 4] },
      ],
      nodes: [...before, { op: 'BatchNormalization', name: 'bn', inputs: [bnInput, 'scale', 'bias', 'mean', 'var'], outputs: bnOutputs, attributes }],
    };
  }
  const conv: NodeSpec = { op: 'Conv', name: 'conv', inputs: ['x', 'W'], outputs: ['c'], attributes: { pads: [1, 1, 1, 1] } };

  it('folds into the Conv right before it', () => {
    const lowered = lowerGraph(graphOf(bnModel([conv], 'c', { epsilon: attr.float(0) })));
    assert.equal(lowered.layers.length, 1);
    const layer = lowered.layers[0];
    assert.deepEqual(layer.sources.map((s) => s.op), ['Conv', 'BatchNormalization']);
    // Channel 1: factor 2 / sqrt(4) = 1; bias (0 - (-0.5)) * 1 + 1 = 1.5. Channel 0: bias -0.5.
    assert.deepEqual(Array.from(layer.bias!), [-0.5, 1.5]);
  });

  it('runs BatchNormalization after ReLU as a 1×1 Conv, and at the model input folded into the Conv after it', () => {
    const relu: NodeSpec = { op: 'Relu', name: 'relu', inputs: ['c'], outputs: ['r'] };
    const c = assertComputesLikeOnnx(bnModel([conv, relu], 'r'));
    assert.deepEqual(c.layers.map((l) => l.type), [Conv2D, ReLU, Conv2D]);
    assert.match(c.rewrites.map((r) => r.how).join(), /runs as a 1×1 Conv 2→2/);
    // BN(1 channel) at the input, then a Conv without padding: folded into that Conv.
    const input: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 1, 4, 4] }], outputs: [{ name: 'y' }],
      initializers: [
        { name: 'W', dims: [2, 1, 3, 3], data: randomFloats(18, 50) },
        { name: 'scale', dims: [1], data: [-1.5] }, { name: 'bias', dims: [1], data: [0.25] },
        { name: 'mean', dims: [1], data: [0.5] }, { name: 'var', dims: [1], data: [2] },
      ],
      nodes: [
        { op: 'BatchNormalization', name: 'bn', inputs: ['x', 'scale', 'bias', 'mean', 'var'], outputs: ['n'] },
        { op: 'Conv', name: 'conv', inputs: ['n', 'W'], outputs: ['y'] },
      ],
    };
    const folded = assertComputesLikeOnnx(input);
    assert.deepEqual(folded.layers.filter((l) => l.type !== Flatten).map((l) => l.type), [Conv2D]);
    // With padding the zeros must not pass through the BatchNorm: it runs as its own 1×1 Conv.
    input.nodes![1].attributes = { pads: [1, 1, 1, 1] };
    assert.deepEqual(assertComputesLikeOnnx(input).layers.map((l) => l.type), [Conv2D, Conv2D]);
  });

  it('refuses BatchNormalization whose parameters do not match the channels', () => {
    assertRefused(bnModel([], 'x'), { pattern: /scale has 2 values but the input has 1 channels/, node: { op: 'BatchNormalization', index: 0 } });
  });

  it('refuses BatchNormalization in training mode', () => {
    assertRefused(bnModel([conv], 'c', { training_mode: 1 }), { pattern: /is in training mode/, node: { op: 'BatchNormalization', index: 1 } });
    // Or with its running statistics outputs used.
    const spec = bnModel([conv], 'c', {}, ['y', 'running_mean', 'running_var']);
    spec.nodes.push({ op: 'Identity', inputs: ['running_mean'], outputs: ['rm'] });
    assertRefused(spec, { pattern: /is in training mode/, node: { op: 'BatchNormalization', index: 1 } });
  });

  function dropoutModel(training: number | null, extra: NodeSpec[] = []): ModelSpec {
    const inputs = training === null ? ['r', 'ratio'] : ['r', 'ratio', 'training'];
    const initializers: TensorSpec[] = [{ name: 'ratio', dims: [], data: [0.5] }];
    if (training !== null) initializers.push({ name: 'training', dims: [], data: [training], dataType: DataType.BOOL });
    return {
      inputs: [{ name: 'x', dims: [1, 6] }],
      outputs: [{ name: 'y', dims: [1, 6] }],
      initializers,
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Dropout', name: 'drop', inputs, outputs: ['y', 'mask'] },
        ...extra,
      ],
    };
  }

  it('drops Dropout in inference mode', () => {
    for (const training of [null, 0]) {
      const lowered = lowerGraph(graphOf(dropoutModel(training)));
      assert.deepEqual(lowered.layers.map((l) => l.type), [ReLU]);
    }
  });

  it('refuses Dropout with training_mode true, or with its mask used', () => {
    assertRefused(dropoutModel(1), { pattern: /runs in training mode/, node: { op: 'Dropout', index: 1 } });
    const spec = dropoutModel(0, [{ op: 'Cast', inputs: ['mask'], outputs: ['m'], attributes: { to: 1 } }]);
    assertRefused(spec, { pattern: /its mask output is used/, node: { op: 'Dropout', index: 1 } });
  });
});

describe('unsupported operators', () => {
  it('refuses an op from another domain, even with a supported name', () => {
    const spec: ModelSpec = {
      extraOpsets: [{ domain: 'com.example', version: 1 }],
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [{ op: 'Relu', name: 'custom_relu', domain: 'com.example', inputs: ['x'], outputs: ['y'] }],
    };
    const error = assertRefused(spec, { pattern: /operator Relu from domain 'com\.example' is not supported by the firmware/, node: { op: 'Relu', index: 0 } });
    assert.match(error.hint ?? '', /Supported: Conv/);
  });

  it('accepts the explicit ai.onnx domain', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [{ op: 'Relu', domain: 'ai.onnx', inputs: ['x'], outputs: ['y'] }],
    };
    assert.deepEqual(lowerGraph(graphOf(spec)).layers.map((l) => l.type), [ReLU]);
  });

  it('refuses an unknown default-domain op with a hint listing the supported ones', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [{ op: 'Tanh', name: 't', inputs: ['x'], outputs: ['y'] }],
    };
    const error = assertRefused(spec, { pattern: /operator Tanh is not supported/, node: { op: 'Tanh', index: 0 } });
    assert.match(error.hint ?? '', /^Use ReLU instead\. Supported: /);
  });
});

describe('graph-level refusals', () => {
  it('refuses an input that is not float32', () => {
    for (const [elemType, name] of [[DataType.INT64, 'int64'], [DataType.UINT8, 'uint8'], [DataType.FLOAT16, 'float16'], [DataType.DOUBLE, 'float64']] as const) {
      const spec: ModelSpec = {
        inputs: [{ name: 'x', dims: [1, 4], elemType }],
        outputs: [{ name: 'y', dims: [1, 4] }],
        nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
      };
      assertRefused(spec, { pattern: new RegExp(`input 'x' is ${name}, not float32`), node: null });
    }
  });

  it('refuses an input without a shape', () => {
    const spec: ModelSpec = { inputs: [{ name: 'x' }], outputs: [{ name: 'y' }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] };
    assertRefused(spec, { pattern: /the input 'x' has no fixed shape/, node: null });
  });

  it('refuses a model output that is also consumed inside the graph', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['y'] },
        { op: 'Relu', inputs: ['y'], outputs: ['z'] },
      ],
    };
    assertRefused(spec, { pattern: /the output 'y' is also used inside the graph, so the graph is not a single chain/, node: null });
  });

  it('refuses a chain that stops before the output', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [
        { op: 'Relu', inputs: ['x'], outputs: ['r'] },
        { op: 'Constant', inputs: [], outputs: ['y'], attributes: { value: attr.tensor({ name: 'v', dims: [1, 4], data: [1, 2, 3, 4] }) } },
      ],
    };
    const error = assertRefused(spec, { pattern: /the chain from the input stops at tensor 'r', which is not the output 'y'/, node: null });
    assert.ok(error.hint);
  });

  it('refuses a branch (one tensor feeding two nodes), naming a node', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [
        { op: 'Relu', name: 'a', inputs: ['x'], outputs: ['y'] },
        { op: 'Relu', name: 'b', inputs: ['x'], outputs: ['z'] },
      ],
    };
    assertRefused(spec, { pattern: /tensor 'x' feeds 2 nodes/, node: { op: 'Relu', index: 0 } });
  });

  it('refuses an output whose size differs from what the layers produce', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 5] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    };
    assertRefused(spec, { pattern: /the output 'y' should have 5 values, but the converted layers produce 4/, node: null });
  });
});

describe('very large or deep graphs fail cleanly (never a RangeError)', () => {
  it('a chain of 150 000 ReLU nodes lowers', () => {
    // In memory (no protobuf) to keep the test fast; Math.max(...layers) used to overflow the stack.
    const n = 150_000;
    const graph: OnnxGraph = {
      producer: 'test', opset: 13,
      inputs: [{ name: 'x', dims: [1, 2], elemType: 1 }],
      outputs: [{ name: 'y', dims: [1, 2], elemType: 1 }],
      initializers: new Map(),
      nodes: Array.from({ length: n }, (_, i) => ({
        index: i, name: '', op: 'Relu', domain: '', inputs: [i ? `t${i - 1}` : 'x'], outputs: [i === n - 1 ? 'y' : `t${i}`], attributes: new Map(),
      })),
    };
    const lowered = lowerGraph(graph);
    assert.equal(lowered.layers.length, n);
    assert.ok(lowered.layers.every((l) => l.type === ReLU));
    assert.deepEqual(lowered.output.dims, [1, 2]);
  });

  it('a constant passed through 5000 Identity nodes is refused, naming a node', () => {
    const n = 5000;
    const nodes: NodeSpec[] = Array.from({ length: n }, (_, i) => ({ op: 'Identity', inputs: [i ? `w${i - 1}` : 'W'], outputs: [`w${i}`] }));
    nodes.push({ op: 'MatMul', inputs: ['x', `w${n - 1}`], outputs: ['y'] });
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 2] }],
      outputs: [{ name: 'y', dims: [1, 2] }],
      initializers: [{ name: 'W', dims: [2, 2], data: [1, 2, 3, 4] }],
      nodes,
    };
    const error = assertRefused(spec, { pattern: /computes a constant through more than 1000 nested nodes/, node: null, anyNode: true });
    assert.equal(error.node?.op, 'Identity');
    // A shallow chain (what exporters write) still folds.
    const shallow: ModelSpec = { ...spec, nodes: [...nodes.slice(0, 3), { op: 'MatMul', inputs: ['x', 'w2'], outputs: ['y'] }] };
    const out = runBlob(convertGraph(graphOf(shallow)).blob, Float32Array.of(1, 1));
    assert.deepEqual(Array.from(out), [4, 6]);
  });
});

describe('bias constants follow ONNX broadcasting (trailing axes align)', () => {
  /** x [1,1,3,3] → Conv 1→2 (k2) → [1,2,2,2] → Add(const) → y. */
  function convAdd(dims: number[], data: number[]): ModelSpec {
    return {
      inputs: [{ name: 'x', dims: [1, 1, 3, 3] }],
      outputs: [{ name: 'y' }],
      initializers: [{ name: 'W', dims: [2, 1, 2, 2], data: randomFloats(8, 60) }, { name: 'c', dims, data }],
      nodes: [
        { op: 'Conv', inputs: ['x', 'W'], outputs: ['conv'] },
        { op: 'Add', name: 'add', inputs: ['conv', 'c'], outputs: ['y'] },
      ],
    };
  }

  it('folds per-channel constants [C,1,1], [1,C,1,1] and scalars into the Conv bias', () => {
    for (const [dims, data, bias] of [[[2, 1, 1], [10, 20], [10, 20]], [[1, 2, 1, 1], [10, 20], [10, 20]], [[], [5], [5, 5]], [[1], [5], [5, 5]]] as const) {
      const lowered = lowerGraph(graphOf(convAdd([...dims], [...data])));
      const conv = lowered.layers.find((l) => l.type === Conv2D)!;
      assert.deepEqual(Array.from(conv.bias!), bias, `dims [${dims.join(', ')}]`);
    }
  });

  it('runs a [C] constant after a Conv as ONNX broadcasts it: along the width, not per channel', () => {
    // conv is [1, 2, 2, 2]: c of shape [2] broadcasts over the last axis (x), which no bias can express.
    const c = assertComputesLikeOnnx(convAdd([2], [10, 20]));
    assert.deepEqual(c.layers.map((l) => l.type), [Flatten, Conv2D, Linear]);
  });

  /** x [1,3] → MatMul (3→2) → Add(const) → y. */
  function matmulAdd(dims: number[], data: number[]): ModelSpec {
    return {
      inputs: [{ name: 'x', dims: [1, 3] }],
      outputs: [{ name: 'y' }],
      initializers: [{ name: 'W', dims: [3, 2], data: randomFloats(6, 61) }, { name: 'c', dims, data }],
      nodes: [
        { op: 'MatMul', inputs: ['x', 'W'], outputs: ['m'] },
        { op: 'Add', name: 'add', inputs: ['m', 'c'], outputs: ['y'] },
      ],
    };
  }

  it('folds [N], [1,N] and scalar constants after a MatMul', () => {
    for (const dims of [[2], [1, 2]]) {
      const linear = lowerGraph(graphOf(matmulAdd(dims, [10, 20]))).layers.find((l) => l.type === Linear)!;
      assert.deepEqual(Array.from(linear.bias!), [10, 20]);
    }
    const linear = lowerGraph(graphOf(matmulAdd([1, 1], [7]))).layers.find((l) => l.type === Linear)!;
    assert.deepEqual(Array.from(linear.bias!), [7, 7]);
  });

  it('refuses an [N,1] constant after a MatMul ([1,N] + [N,1] is an N×N matrix)', () => {
    assertRefused(matmulAdd([2, 1], [10, 20]), { pattern: /its constant of shape \[2, 1\] does not broadcast to the data's shape \[1, 2\] without changing it/, node: { op: 'Add', index: 1 } });
  });

  it('refuses a Gemm C of shape [N,1]', () => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 3] }],
      outputs: [{ name: 'y' }],
      initializers: [{ name: 'B', dims: [2, 3], data: randomFloats(6, 62) }, { name: 'C', dims: [2, 1], data: [1, 2] }],
      nodes: [{ op: 'Gemm', name: 'fc', inputs: ['x', 'B', 'C'], outputs: ['y'], attributes: { transB: 1 } }],
    };
    assertRefused(spec, { pattern: /bias C of shape \[2, 1\] does not broadcast to \[1, 2\]/, node: { op: 'Gemm', index: 0 } });
  });
});

describe('corrupt chains', () => {
  it('a node on the chain with no output is refused by name (found by the fuzzer)', () => {
    assertRefused({
      inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: [] }, { op: 'Relu', inputs: ['t'], outputs: ['y'] }],
    }, { pattern: /has no output, so the chain ends there/, node: { op: 'Relu', index: 0 } });
  });
});
