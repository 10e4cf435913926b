import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { EvaluationError } from '../../src/core/errors.js';
import { loadOnnxFile } from '../../src/core/onnx/loadOnnxFile.js';
import type { AttributeValue, Dim, OnnxGraph, Tensor } from '../../src/core/onnx/onnxGraph.js';
import { fixturePath, maxAbsError, readFirmwareOutputs, readFloat32File, readManifest, upstreamPath } from '../support/fixtures.js';

// ---- tiny graph builder (OnnxGraph objects directly, no protobuf) ----

const attr = {
  int: (value: number): AttributeValue => ({ type: 'int', value }),
  ints: (value: number[]): AttributeValue => ({ type: 'ints', value }),
  float: (value: number): AttributeValue => ({ type: 'float', value }),
  floats: (value: number[]): AttributeValue => ({ type: 'floats', value }),
  string: (value: string): AttributeValue => ({ type: 'string', value }),
  tensor: (value: Tensor): AttributeValue => ({ type: 'tensor', value }),
};

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs?: string[];
  attrs?: Record<string, AttributeValue>;
  name?: string;
  domain?: string;
}

const floats = (dims: number[], data: number[]): Tensor => ({ kind: 'float', dims, data: Float32Array.from(data) });
const ints = (dims: number[], data: number[]): Tensor => ({ kind: 'int', dims, data });

function graph(opts: { opset?: number; input?: Dim[]; nodes: NodeSpec[]; inits?: Record<string, Tensor>; output?: string }): OnnxGraph {
  return {
    producer: 'test',
    opset: opts.opset ?? 13,
    inputs: [{ name: 'x', dims: opts.input ?? [1, 4], elemType: 1 }],
    outputs: [{ name: opts.output ?? 'y', dims: null, elemType: 1 }],
    initializers: new Map(Object.entries(opts.inits ?? {})),
    nodes: opts.nodes.map((n, index) => ({
      index,
      name: n.name ?? `n${index}`,
      op: n.op,
      domain: n.domain ?? '',
      inputs: n.inputs,
      outputs: n.outputs ?? ['y'],
      attributes: new Map(Object.entries(n.attrs ?? {})),
    })),
  };
}

/** Evaluates a one-input graph and returns plain numbers plus the output shape. */
function run(g: OnnxGraph, input: number[]): { values: number[]; dims: number[] } {
  const r = evaluateOnnx(g, Float32Array.from(input));
  return { values: Array.from(r.output), dims: r.outputDims };
}

function assertClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}: [${actual}]`);
  const err = maxAbsError(actual, expected);
  assert.ok(err <= tolerance, `max abs error ${err} > ${tolerance}\n  actual   [${actual.join(', ')}]\n  expected [${expected.join(', ')}]`);
}

const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

// ---- PyTorch fixtures and the upstream example ----

describe('evaluateOnnx on the PyTorch fixtures', () => {
  const ok = readManifest().filter((f) => f.kind === 'ok');
  it('has fixtures to check', () => assert.ok(ok.length >= 20, `only ${ok.length} ok fixtures`));
  for (const fixture of ok) {
    it(`${fixture.name} matches PyTorch within 1e-4`, () => {
      const g = loadOnnxFile(fixturePath(fixture.name, '.onnx'));
      const expected = readFloat32File(fixturePath(fixture.name, '.expected.bin'));
      const r = evaluateOnnx(g, readFloat32File(fixturePath(fixture.name, '.input.bin')));
      assert.equal(r.output.length, fixture.output_len);
      assert.equal(r.outputDims.reduce((a, b) => a * b, 1), expected.length);
      const err = maxAbsError(r.output, expected);
      assert.ok(err <= 1e-4, `max abs error ${err}`);
    });
  }
});

describe('evaluateOnnx on the converter-refusal fixtures (valid ONNX)', () => {
  // No expected outputs exist for them (the ops they use are hand-checked below and were
  // cross-checked against torch once); here: every single-input/output one runs to finite values.
  const unrunnable: Record<string, RegExp> = { refuse_two_inputs: /2 inputs/, refuse_two_outputs: /2 outputs/, refuse_dynamic_hw: /symbolic dimension/ };
  for (const fixture of readManifest().filter((f) => f.kind === 'refuse')) {
    it(`${fixture.name} ${unrunnable[fixture.name] ? 'is refused with a reason' : 'evaluates'}`, () => {
      const g = loadOnnxFile(fixturePath(fixture.name, '.onnx'));
      const count = fixture.input_shape.reduce((a, b) => a * b, 1);
      const input = Float32Array.from({ length: count }, (_, i) => Math.sin(i));
      const reason = unrunnable[fixture.name];
      if (reason) {
        assert.throws(() => evaluateOnnx(g, input), (e: unknown) => e instanceof EvaluationError && reason.test(e.message));
        return;
      }
      const r = evaluateOnnx(g, input);
      assert.equal(r.outputDims.reduce((a, b) => a * b, 1), r.output.length);
      assert.ok(r.output.length > 0 && r.output.every(Number.isFinite), `${fixture.name}: ${r.output.length} values, not all finite`);
    });
  }
});

describe('evaluateOnnx on the upstream example', () => {
  const g = loadOnnxFile(upstreamPath('model.onnx'));
  const outputs = readFirmwareOutputs();
  const argmax = (v: ArrayLike<number>) => Array.from(v).reduce((best, x, i, a) => (x > a[best] ? i : best), 0);

  it('reproduces the firmware outputs of all 20 samples within 1e-4, same argmax', () => {
    assert.equal(outputs.length, 20);
    for (const { sample, values } of outputs) {
      const firmware = values.map(Number);
      const r = evaluateOnnx(g, readFloat32File(upstreamPath('mnist_samples', sample)));
      assert.deepEqual(r.outputDims, [1, 10]);
      const err = maxAbsError(r.output, firmware);
      assert.ok(err <= 1e-4, `${sample}: max abs error ${err}`);
      assert.equal(argmax(r.output), argmax(firmware), sample);
    }
  });
});

// ---- hand-checked semantics on tiny graphs ----

describe('evaluateOnnx Conv', () => {
  it('grouped conv: each output channel sees only its group', () => {
    // Channel 0 = 1..9, channel 1 = 10..18 (3×3 each); group 2, 2×2 kernels.
    // oc0: diagonal kernel on channel 0 → x[y][x] + x[y+1][x+1]; oc1: all-ones on channel 1, bias 100.
    const g = graph({
      input: [1, 2, 3, 3],
      inits: { w: floats([2, 1, 2, 2], [1, 0, 0, 1, 1, 1, 1, 1]), b: floats([2], [0, 100]) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w', 'b'], attrs: { group: attr.int(2), kernel_shape: attr.ints([2, 2]) } }],
    });
    const r = run(g, range(18));
    assert.deepEqual(r.dims, [1, 2, 2, 2]);
    assert.deepEqual(r.values, [6, 8, 12, 14, 148, 152, 160, 164]);
  });

  it('dilated conv with asymmetric pads (top 1, right 1), no bias', () => {
    // 3×3 input 1..9, 2×2 ones dilated by 2 (covers 3×3), padded to 4×4: out[oy][ox] = Σ x[oy-1+2ky][ox+2kx].
    const g = graph({
      input: [1, 1, 3, 3],
      inits: { w: floats([1, 1, 2, 2], [1, 1, 1, 1]) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { dilations: attr.ints([2, 2]), pads: attr.ints([1, 0, 0, 1]) } }],
    });
    const r = run(g, range(9));
    assert.deepEqual(r.dims, [1, 1, 2, 2]);
    assert.deepEqual(r.values, [4 + 6, 5, 1 + 3 + 7 + 9, 2 + 8]);
  });

  it('dilated taps that start in the left padding skip only the padded ones', () => {
    // Row [1, 2, 3, 4], kernel [1, 10, 100] dilated by 2 (span 5), left pad 2: window starts at
    // -2 (taps at -2, 0, 2) and -1 (taps at -1, 1, 3).
    const g = graph({
      input: [1, 1, 1, 4],
      inits: { w: floats([1, 1, 1, 3], [1, 10, 100]) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { dilations: attr.ints([1, 2]), pads: attr.ints([0, 2, 0, 0]) } }],
    });
    assert.deepEqual(run(g, [1, 2, 3, 4]), { values: [10 * 1 + 100 * 3, 10 * 2 + 100 * 4], dims: [1, 1, 1, 2] });
  });

  it('auto_pad SAME_UPPER puts the odd pad at the end, SAME_LOWER at the start (stride 2)', () => {
    // Row [1, 2, 3, 4], kernel [1, 10, 100], stride 2: 2 outputs, 1 pad in total.
    const conv = (autoPad: string) => graph({
      input: [1, 1, 1, 4],
      inits: { w: floats([1, 1, 1, 3], [1, 10, 100]) },
      nodes: [{ op: 'Conv', inputs: ['x', 'w'], attrs: { auto_pad: attr.string(autoPad), strides: attr.ints([1, 2]) } }],
    });
    assert.deepEqual(run(conv('SAME_UPPER'), [1, 2, 3, 4]), { values: [1 + 20 + 300, 3 + 40], dims: [1, 1, 1, 2] });
    assert.deepEqual(run(conv('SAME_LOWER'), [1, 2, 3, 4]), { values: [10 + 200, 2 + 30 + 400], dims: [1, 1, 1, 2] });
    assert.deepEqual(run(conv('VALID'), [1, 2, 3, 4]), { values: [321], dims: [1, 1, 1, 1] });
  });

  it('refuses a weight whose channels do not fit the group', () => {
    const g = graph({
      input: [1, 2, 3, 3],
      inits: { w: floats([2, 2, 1, 1], [1, 1, 1, 1]) },
      nodes: [{ op: 'Conv', name: 'c', inputs: ['x', 'w'], attrs: { group: attr.int(2) } }],
    });
    assert.throws(() => run(g, range(18)), (e: unknown) => e instanceof EvaluationError && /'c' \(#0, Conv\).*group 2/.test(e.message));
  });
});

describe('evaluateOnnx pooling', () => {
  it('MaxPool ceil_mode with padding: pads are -inf and the last window may not start in the right padding', () => {
    // 5×5 of -1..-25, kernel 2, stride 2, pads 1: ceil gives 4 outputs, the rule trims to 3.
    // Windows cover rows/cols {0}, {1,2}, {3,4}; max = the least negative = smallest index.
    const g = graph({
      input: [1, 1, 5, 5],
      nodes: [{ op: 'MaxPool', inputs: ['x'], attrs: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), ceil_mode: attr.int(1) } }],
    });
    const r = run(g, range(25).map((v) => -v));
    assert.deepEqual(r.dims, [1, 1, 3, 3]);
    assert.deepEqual(r.values, [-1, -2, -4, -6, -7, -9, -16, -17, -19]);
  });

  it('MaxPool ceil_mode adds a partial window that floor mode drops; strides default to 1', () => {
    const pool = (attrs: Record<string, AttributeValue>) => graph({ input: [1, 1, 5, 5], nodes: [{ op: 'MaxPool', inputs: ['x'], attrs: { kernel_shape: attr.ints([2, 2]), ...attrs } }] });
    const x = range(25);
    assert.deepEqual(run(pool({ strides: attr.ints([2, 2]), ceil_mode: attr.int(1) }), x), { values: [7, 9, 10, 17, 19, 20, 22, 24, 25], dims: [1, 1, 3, 3] });
    assert.deepEqual(run(pool({ strides: attr.ints([2, 2]) }), x), { values: [7, 9, 17, 19], dims: [1, 1, 2, 2] });
    const stride1 = run(pool({}), x);
    assert.deepEqual(stride1.dims, [1, 1, 4, 4]);
    assert.deepEqual(stride1.values.slice(0, 4), [7, 8, 9, 10]);
  });

  it('AveragePool count_include_pad 0 and 1 differ only at the padded border', () => {
    const pool = (include: number) => graph({
      input: [1, 1, 2, 2],
      nodes: [{ op: 'AveragePool', inputs: ['x'], attrs: { kernel_shape: attr.ints([2, 2]), pads: attr.ints([1, 1, 1, 1]), count_include_pad: attr.int(include) } }],
    });
    assert.deepEqual(run(pool(0), [1, 2, 3, 4]), { values: [1, 1.5, 2, 2, 2.5, 3, 3, 3.5, 4], dims: [1, 1, 3, 3] });
    assert.deepEqual(run(pool(1), [1, 2, 3, 4]).values, [0.25, 0.75, 0.5, 1, 2.5, 1.5, 0.75, 1.75, 1]);
  });

  it('GlobalAveragePool averages each channel', () => {
    const g = graph({ input: [1, 2, 2, 2], nodes: [{ op: 'GlobalAveragePool', inputs: ['x'] }] });
    assert.deepEqual(run(g, [1, 2, 3, 4, 10, 20, 30, 40]), { values: [2.5, 25], dims: [1, 2, 1, 1] });
  });
});

describe('evaluateOnnx Softmax', () => {
  const ln3 = Math.log(3);
  const x = [0, ln3, 0, ln3];
  const softmax = (opset: number, axis?: number, op = 'Softmax') => graph({
    opset, input: [1, 2, 2],
    nodes: [{ op, inputs: ['x'], attrs: axis === undefined ? {} : { axis: attr.int(axis) } }],
  });

  it('opset 11 coerces to 2-D at axis (default 1): one softmax over all 4 values', () => {
    assertClose(run(softmax(11), x).values, [1 / 8, 3 / 8, 1 / 8, 3 / 8]);
    assertClose(run(softmax(11, 1), x).values, [1 / 8, 3 / 8, 1 / 8, 3 / 8]);
    assertClose(run(softmax(11, 2), x).values, [1 / 4, 3 / 4, 1 / 4, 3 / 4]);
  });

  it('opset 13 runs along one axis (default -1)', () => {
    assertClose(run(softmax(13), x).values, [1 / 4, 3 / 4, 1 / 4, 3 / 4]);
    assertClose(run(softmax(13, 1), x).values, [0.5, 0.5, 0.5, 0.5]);
  });

  it('LogSoftmax is the log of Softmax', () => {
    assertClose(run(softmax(13, -1, 'LogSoftmax'), x).values, [Math.log(1 / 4), Math.log(3 / 4), Math.log(1 / 4), Math.log(3 / 4)]);
  });
});

describe('evaluateOnnx elementwise and dense ops', () => {
  it('Add broadcasts numpy-style ([2,1,3] + [2,1] → [2,2,3])', () => {
    const g = graph({ input: [2, 1, 3], inits: { b: floats([2, 1], [10, 20]) }, nodes: [{ op: 'Add', inputs: ['x', 'b'] }] });
    assert.deepEqual(run(g, range(6)), { values: [11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26], dims: [2, 2, 3] });
  });

  it('Sub, Mul and Div with a scalar on either side', () => {
    const s = { s: floats([], [2]) };
    assert.deepEqual(run(graph({ inits: s, nodes: [{ op: 'Sub', inputs: ['s', 'x'] }] }), [1, 2, 3, 4]).values, [1, 0, -1, -2]);
    assert.deepEqual(run(graph({ inits: s, nodes: [{ op: 'Mul', inputs: ['x', 's'] }] }), [1, 2, 3, 4]).values, [2, 4, 6, 8]);
    assert.deepEqual(run(graph({ inits: s, nodes: [{ op: 'Div', inputs: ['x', 's'] }] }), [1, 2, 3, 4]).values, [0.5, 1, 1.5, 2]);
  });

  it('refuses shapes that do not broadcast', () => {
    const g = graph({ input: [1, 4], inits: { b: floats([3], [1, 2, 3]) }, nodes: [{ op: 'Add', inputs: ['x', 'b'] }] });
    assert.throws(() => run(g, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /cannot be broadcast/.test(e.message));
  });

  it('Gemm with transA, transB, alpha, beta and a row-broadcast C', () => {
    // A = [[1,2,3],[4,5,6]] given transposed; B = [[1,0],[0,1],[1,1]] given transposed.
    // A·B = [[4,5],[10,11]]; ×2 + 0.5×[1,2] = [[8.5,11],[20.5,23]].
    const g = graph({
      input: [3, 2],
      inits: { b: floats([2, 3], [1, 0, 1, 0, 1, 1]), c: floats([2], [1, 2]) },
      nodes: [{ op: 'Gemm', inputs: ['x', 'b', 'c'], attrs: { transA: attr.int(1), transB: attr.int(1), alpha: attr.float(2), beta: attr.float(0.5) } }],
    });
    assert.deepEqual(run(g, [1, 4, 2, 5, 3, 6]), { values: [8.5, 11, 20.5, 23], dims: [2, 2] });
  });

  it('MatMul of a 1-D vector and a matrix drops the added axis; leading batch dims of 1 are kept', () => {
    const w = floats([2, 3], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(run(graph({ input: [2], inits: { w }, nodes: [{ op: 'MatMul', inputs: ['x', 'w'] }] }), [1, 2]), { values: [9, 12, 15], dims: [3] });
    assert.deepEqual(run(graph({ input: [1, 1, 2], inits: { w }, nodes: [{ op: 'MatMul', inputs: ['x', 'w'] }] }), [1, 2]), { values: [9, 12, 15], dims: [1, 1, 3] });
  });

  it('BatchNormalization uses the given statistics and epsilon', () => {
    // var + epsilon = 4 and 1: ch0 → 2(x-1)/2 + 0, ch1 → (x-3)/1 + 1.
    const g = graph({
      input: [1, 2, 1, 2],
      inits: { s: floats([2], [2, 1]), b: floats([2], [0, 1]), m: floats([2], [1, 3]), v: floats([2], [3.5, 0.5]) },
      nodes: [{ op: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], attrs: { epsilon: attr.float(0.5) } }],
    });
    assert.deepEqual(run(g, [1, 2, 3, 4]).values, [0, 1, 1, 2]);
  });

  it('activations: Relu, LeakyRelu (alpha), Sigmoid, Tanh, Clip', () => {
    const one = (op: string, attrs: Record<string, AttributeValue> = {}, extra: string[] = [], inits: Record<string, Tensor> = {}, opset = 13) =>
      run(graph({ opset, inits, nodes: [{ op, inputs: ['x', ...extra], attrs }] }), [-2, 0, 1, 3]).values;
    assert.deepEqual(one('Relu'), [0, 0, 1, 3]);
    assertClose(one('LeakyRelu', { alpha: attr.float(0.1) }), [-0.2, 0, 1, 3]);
    assertClose(one('LeakyRelu'), [-0.02, 0, 1, 3]);
    assertClose(one('Sigmoid'), [1 / (1 + Math.exp(2)), 0.5, 1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(-3))]);
    assertClose(one('Tanh'), [Math.tanh(-2), 0, Math.tanh(1), Math.tanh(3)]);
    assert.deepEqual(one('Clip', {}, ['lo', 'hi'], { lo: floats([], [-1]), hi: floats([], [2]) }), [-1, 0, 1, 2]);
    assert.deepEqual(one('Clip', {}, ['', 'hi'], { hi: floats([], [2]) }), [-2, 0, 1, 2]);
    assert.deepEqual(one('Clip', { min: attr.float(0), max: attr.float(1) }, [], {}, 6), [0, 0, 1, 1]);
  });
});

describe('evaluateOnnx shape and data-movement ops', () => {
  it('Reshape resolves 0 (copy) and -1 (infer)', () => {
    const g = graph({ input: [1, 2, 3, 4], inits: { s: ints([3], [0, -1, 2]) }, nodes: [{ op: 'Reshape', inputs: ['x', 's'] }] });
    const r = run(g, range(24));
    assert.deepEqual(r.dims, [1, 12, 2]);
    assert.deepEqual(r.values, range(24));
  });

  it('Reshape refuses two -1 and a wrong element count, naming the node', () => {
    const reshape = (shape: number[]) => graph({ input: [1, 2, 3, 4], inits: { s: ints([shape.length], shape) }, nodes: [{ op: 'Reshape', name: 'r', inputs: ['x', 's'] }] });
    assert.throws(() => run(reshape([-1, -1]), range(24)), (e: unknown) => e instanceof EvaluationError && /'r' \(#0, Reshape\)/.test(e.message));
    assert.throws(() => run(reshape([5, -1]), range(24)), (e: unknown) => e instanceof EvaluationError && /cannot reshape/.test(e.message));
    assert.throws(() => run(reshape([2, 13]), range(24)), EvaluationError);
  });

  it('view(x.size(0), -1) chain: Shape → Gather → Unsqueeze → Concat → Reshape, axes as attribute (11) and input (13)', () => {
    for (const opset of [11, 13]) {
      const unsqueeze: NodeSpec = opset < 13
        ? { op: 'Unsqueeze', inputs: ['n'], outputs: ['n1'], attrs: { axes: attr.ints([0]) } }
        : { op: 'Unsqueeze', inputs: ['n', 'ax'], outputs: ['n1'] };
      const g = graph({
        opset, input: ['batch', 2, 3],
        inits: { zero: ints([], [0]), minus1: ints([1], [-1]), ax: ints([1], [0]) },
        nodes: [
          { op: 'Shape', inputs: ['x'], outputs: ['s'] },
          { op: 'Gather', inputs: ['s', 'zero'], outputs: ['n'], attrs: { axis: attr.int(0) } },
          unsqueeze,
          { op: 'Concat', inputs: ['n1', 'minus1'], outputs: ['shape'], attrs: { axis: attr.int(0) } },
          { op: 'Reshape', inputs: ['x', 'shape'] },
        ],
      });
      assert.deepEqual(run(g, range(6)), { values: range(6), dims: [1, 6] }, `opset ${opset}`);
    }
  });

  it('Shape with start/end, Gather with a negative index, Squeeze without axes', () => {
    const g = graph({
      input: [1, 2, 3],
      inits: { last: ints([1], [-1]) },
      nodes: [
        { op: 'Shape', inputs: ['x'], outputs: ['s'], attrs: { start: attr.int(1) } },
        { op: 'Gather', inputs: ['s', 'last'], outputs: ['g'] },
        { op: 'Cast', inputs: ['g'], outputs: ['f'], attrs: { to: attr.int(1) } },
        { op: 'Squeeze', inputs: ['x'], outputs: ['sq'] },
        { op: 'Mul', inputs: ['sq', 'f'] },
      ],
    });
    // Shape[1:] = [2, 3]; index -1 → [3]; squeezed x is [2, 3] times 3.
    assert.deepEqual(run(g, range(6)), { values: [3, 6, 9, 12, 15, 18], dims: [2, 3] });
  });

  it('Transpose with perm and Concat on axis 1', () => {
    const g = graph({
      input: [2, 3],
      nodes: [
        { op: 'Transpose', inputs: ['x'], outputs: ['t'], attrs: { perm: attr.ints([1, 0]) } },
        { op: 'Concat', inputs: ['t', 't'], attrs: { axis: attr.int(-1) } },
      ],
    });
    assert.deepEqual(run(g, range(6)), { values: [1, 4, 1, 4, 2, 5, 2, 5, 3, 6, 3, 6], dims: [3, 4] });
  });

  it('Pad (constant, pads and value as inputs) and negative pads that crop', () => {
    const pad = (pads: number[]) => graph({
      input: [1, 3],
      inits: { p: ints([4], pads), v: floats([], [9]) },
      nodes: [{ op: 'Pad', inputs: ['x', 'p', 'v'] }],
    });
    assert.deepEqual(run(pad([1, 1, 0, 2]), [1, 2, 3]), { values: [9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 9, 9], dims: [2, 6] });
    assert.deepEqual(run(pad([0, -1, 0, 0]), [1, 2, 3]), { values: [2, 3], dims: [1, 2] });
  });

  it('Flatten at axis 0 and 2', () => {
    const flatten = (axis: number) => graph({ input: [1, 2, 3], nodes: [{ op: 'Flatten', inputs: ['x'], attrs: { axis: attr.int(axis) } }] });
    assert.deepEqual(run(flatten(0), range(6)).dims, [1, 6]);
    assert.deepEqual(run(flatten(2), range(6)).dims, [2, 3]);
  });

  it('Constant (value tensor, value_float, value_ints), Identity, Dropout with its mask', () => {
    const g = graph({
      nodes: [
        { op: 'Constant', inputs: [], outputs: ['c'], attrs: { value: attr.tensor(floats([4], [1, 1, 1, 1])) } },
        { op: 'Constant', inputs: [], outputs: ['h'], attrs: { value_float: attr.float(0.5) } },
        { op: 'Constant', inputs: [], outputs: ['shape'], attrs: { value_ints: attr.ints([2, 2]) } },
        { op: 'Dropout', inputs: ['x'], outputs: ['d', 'mask'] },
        { op: 'Identity', inputs: ['d'], outputs: ['i'] },
        { op: 'Cast', inputs: ['mask'], outputs: ['mf'], attrs: { to: attr.int(1) } },
        { op: 'Add', inputs: ['i', 'mf'], outputs: ['a'] },
        { op: 'Mul', inputs: ['a', 'h'], outputs: ['m'] },
        { op: 'Sub', inputs: ['m', 'c'], outputs: ['s'] },
        { op: 'Reshape', inputs: ['s', 'shape'] },
      ],
    });
    // ((x + 1) × 0.5) − 1
    assert.deepEqual(run(g, [1, 3, 5, 7]), { values: [0, 1, 2, 3], dims: [2, 2] });
  });

  it('runs nodes whose inputs are ready even when the file lists them out of order', () => {
    const g = graph({
      nodes: [
        { op: 'Relu', inputs: ['n'], outputs: ['y'] },
        { op: 'Sub', inputs: ['zero', 'x'], outputs: ['n'] },
      ],
      inits: { zero: floats([], [0]) },
    });
    assert.deepEqual(run(g, [1, -2, 3, -4]).values, [0, 2, 0, 4]);
  });
});

describe('evaluateOnnx errors', () => {
  it('refuses an unknown op, naming the op and the node', () => {
    const g = graph({ nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['r'] }, { op: 'Frobnicate', name: 'mystery', inputs: ['r'] }] });
    assert.throws(() => run(g, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /'mystery' \(#1, Frobnicate\)/.test(e.message) && /operator 'Frobnicate'/.test(e.message));
  });

  it('refuses a known op name from another domain', () => {
    const g = graph({ nodes: [{ op: 'Relu', domain: 'com.example', inputs: ['x'] }] });
    assert.throws(() => run(g, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /com\.example/.test(e.message));
  });

  it('refuses an input of the wrong length, naming expected and given counts', () => {
    const g = graph({ input: [1, 2, 2], nodes: [{ op: 'Relu', inputs: ['x'] }] });
    assert.throws(() => run(g, [1, 2, 3]), (e: unknown) => e instanceof EvaluationError && /needs 4 values, but 3 were given/.test(e.message));
  });

  it('fixes a symbolic batch dimension to 1 but refuses other symbolic dimensions', () => {
    assert.deepEqual(run(graph({ input: ['N', 2], nodes: [{ op: 'Relu', inputs: ['x'] }] }), [1, -1]).dims, [1, 2]);
    assert.deepEqual(run(graph({ input: [null, 2], nodes: [{ op: 'Relu', inputs: ['x'] }] }), [1, -1]).dims, [1, 2]);
    assert.throws(() => run(graph({ input: [1, 'W'], nodes: [{ op: 'Relu', inputs: ['x'] }] }), [1]), (e: unknown) => e instanceof EvaluationError && /'W' at position 1/.test(e.message));
  });

  it('refuses graphs with two inputs or two outputs', () => {
    const two = graph({ nodes: [{ op: 'Relu', inputs: ['x'] }] });
    two.inputs.push({ name: 'x2', dims: [1, 4], elemType: 1 });
    assert.throws(() => run(two, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /2 inputs/.test(e.message));
    const twoOut = graph({ nodes: [{ op: 'Relu', inputs: ['x'] }] });
    twoOut.outputs.push({ name: 'x', dims: null, elemType: 1 });
    assert.throws(() => run(twoOut, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /2 outputs/.test(e.message));
  });

  it('reports a node whose input is never produced instead of hanging', () => {
    const g = graph({ nodes: [{ op: 'Add', name: 'stuck', inputs: ['x', 'ghost'] }] });
    assert.throws(() => run(g, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /'stuck'.*'ghost'/.test(e.message));
  });

  it('refuses an oversized tensor before allocating it', () => {
    // About 2^34 float64 values (128 GiB): allocating would throw a RangeError or exhaust memory.
    const g = graph({ input: [1, 4], inits: { p: ints([4], [0, 0, 2 ** 20, 2 ** 14]) }, nodes: [{ op: 'Pad', name: 'huge', inputs: ['x', 'p'] }] });
    assert.throws(() => run(g, [1, 2, 3, 4]), (e: unknown) => e instanceof EvaluationError && /'huge'/.test(e.message) && /over the evaluator's limit of 16777216/.test(e.message));
  });

  it('applies maxElements to intermediate tensors, initializers and the input', () => {
    const g = graph({ input: [1, 4], nodes: [{ op: 'Concat', inputs: ['x', 'x', 'x'], attrs: { axis: attr.int(0) } }] });
    const x = Float32Array.from([1, 2, 3, 4]);
    assert.deepEqual(evaluateOnnx(g, x, { maxElements: 12 }).outputDims, [3, 4]);
    assert.throws(() => evaluateOnnx(g, x, { maxElements: 11 }), (e: unknown) => e instanceof EvaluationError && /shape \[3, 4\].*limit of 11/.test(e.message));
    assert.throws(() => evaluateOnnx(g, x, { maxElements: 3 }), (e: unknown) => e instanceof EvaluationError && /shape \[1, 4\]/.test(e.message));
    const withInit = graph({ input: [1, 4], inits: { w: floats([4, 8], range(32)) }, nodes: [{ op: 'MatMul', inputs: ['x', 'w'] }] });
    assert.throws(() => evaluateOnnx(withInit, x, { maxElements: 16 }), (e: unknown) => e instanceof EvaluationError && /shape \[4, 8\]/.test(e.message));
  });
});
