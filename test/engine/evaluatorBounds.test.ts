// The reference evaluator on hostile or invalid uses of the ops that exporters' shape subgraphs,
// reductions and Pad are made of: sizes come from tensor values in an untrusted file, so every
// allocation is bounded (and refused with an EvaluationError naming the node and op), and forms
// the spec leaves undefined or that belong to another opset are refused, not guessed at.
// The values these ops compute are checked against onnxruntime in evaluatorCases.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { EvaluationError } from '../../src/core/errors.js';
import { attr, DataType, graphOf, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';

const i64 = (name: string, data: number[], dims = [data.length]): TensorSpec => ({ name, dims, data, dataType: DataType.INT64 });
const f32 = (name: string, data: number[], dims = [data.length]): TensorSpec => ({ name, dims, data });

/** A graph with float input x of shape `input` and output y. */
function model(nodes: NodeSpec[], options: { opset?: number; input?: number[]; inits?: TensorSpec[] } = {}) {
  return graphOf({
    opset: options.opset ?? 13,
    inputs: [{ name: 'x', dims: options.input ?? [1, 4] }],
    outputs: [{ name: 'y' }],
    initializers: options.inits ?? [],
    nodes,
  });
}

function run(g: ReturnType<typeof model>, input: number[] = [1, 2, 3, 4], maxElements?: number) {
  const r = evaluateOnnx(g, Float32Array.from(input), maxElements === undefined ? {} : { maxElements });
  return { values: Array.from(r.output), dims: r.outputDims };
}

/** Asserts an EvaluationError whose message names the node (by name and op) and matches `pattern`. */
function assertRefused(g: ReturnType<typeof model>, node: string, op: string, pattern: RegExp, input?: number[], maxElements?: number): void {
  assert.throws(() => run(g, input, maxElements), (e: unknown) => {
    assert.ok(e instanceof EvaluationError, `not an EvaluationError: ${String(e)}`);
    assert.ok(e.message.includes(`'${node}' (#`) && e.message.includes(`, ${op})`), `does not name node ${node} (${op}): ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

const LIMIT = /over the evaluator's limit of 16777216/;

describe('allocation from untrusted sizes is bounded', () => {
  it('ConstantOfShape refuses a huge shape before allocating, and honours maxElements', () => {
    const g = (shape: number[]) => model([{ op: 'ConstantOfShape', name: 'fill', inputs: ['s'], outputs: ['y'] }], { inits: [i64('s', shape)] });
    assertRefused(g([2 ** 20, 2 ** 20]), 'fill', 'ConstantOfShape', LIMIT);
    assertRefused(g([2 ** 62]), 'fill', 'ConstantOfShape', LIMIT);
    assert.deepEqual(run(g([4, 4]), undefined, 16).dims, [4, 4]);
    assertRefused(g([4, 4]), 'fill', 'ConstantOfShape', /limit of 15/, undefined, 15);
    assertRefused(g([2, -3]), 'fill', 'ConstantOfShape', /negative size/);
  });

  it('an empty tensor cannot carry unbounded dimensions (loops over its outer axes would never end)', () => {
    // [2^40, 0] has no elements, but a Gather on axis 1 of it would walk 2^40 outer rows.
    const g = model([{ op: 'ConstantOfShape', name: 'empty', inputs: ['s'], outputs: ['y'] }], { inits: [i64('s', [2 ** 40, 0])] });
    assertRefused(g, 'empty', 'ConstantOfShape', /no elements, but its other dimensions span more than the evaluator's limit/);
    assert.deepEqual(run(model([{ op: 'ConstantOfShape', inputs: ['s'], outputs: ['y'] }], { inits: [i64('s', [2 ** 20, 0])] })).dims, [2 ** 20, 0]);
    // Reshape takes its shape from a tensor too.
    const r = model([
      { op: 'ConstantOfShape', inputs: ['s'], outputs: ['e'] },
      { op: 'Reshape', name: 'reshape', inputs: ['e', 't'], outputs: ['y'], attributes: { allowzero: 1 } },
    ], { inits: [i64('s', [0]), i64('t', [0, 2 ** 30, 2 ** 30])] });
    assertRefused(r, 'reshape', 'Reshape', /no elements, but its other dimensions span more/);
  });

  it('Expand refuses a huge or negative target shape', () => {
    const g = (shape: number[]) => model([{ op: 'Expand', name: 'grow', inputs: ['x', 's'], outputs: ['y'] }], { inits: [i64('s', shape)] });
    assertRefused(g([2 ** 16, 2 ** 16, 4]), 'grow', 'Expand', LIMIT);
    assertRefused(g([-1, 4]), 'grow', 'Expand', /negative size/);
    assertRefused(g([1, 3]), 'grow', 'Expand', /cannot be broadcast/);
    assert.deepEqual(run(g([2, 1, 4])), { values: [1, 2, 3, 4, 1, 2, 3, 4], dims: [2, 1, 4] });
  });

  it('Range refuses a huge, infinite or endless sequence', () => {
    const g = (a: number, b: number, d: number) => model([
      { op: 'Range', name: 'seq', inputs: ['a', 'b', 'd'], outputs: ['r'] },
      { op: 'Cast', inputs: ['r'], outputs: ['y'], attributes: { to: DataType.FLOAT } },
    ], { inits: [f32('a', [a], []), f32('b', [b], []), f32('d', [d], [])] });
    assertRefused(g(0, 1e12, 1), 'seq', 'Range', LIMIT);
    assertRefused(g(0, 1, 1e-30), 'seq', 'Range', LIMIT);
    assertRefused(g(0, Infinity, 1), 'seq', 'Range', /no finite number of elements/);
    assertRefused(g(0, 5, 0), 'seq', 'Range', /delta 0/);
    assert.deepEqual(run(g(3, 0, -1)), { values: [3, 2, 1], dims: [3] });
  });

  it('Pad and Slice outputs are bounded as well', () => {
    const pad = model([{ op: 'Pad', name: 'wide', inputs: ['x', 'p'], outputs: ['y'], attributes: { mode: 'edge' } }], { inits: [i64('p', [2 ** 24, 0, 2 ** 24, 0])] });
    assertRefused(pad, 'wide', 'Pad', LIMIT);
    // Slice with INT64 extremes only ever selects what the input has.
    const slice = model([{ op: 'Slice', inputs: ['x', 's', 'e', 'a', 't'], outputs: ['y'] }],
      { inits: [i64('s', [-(2 ** 63)]), i64('e', [2 ** 62]), i64('a', [1]), i64('t', [2 ** 62])] });
    assert.deepEqual(run(slice), { values: [1], dims: [1, 1] });
  });
});

describe('invalid or undefined forms are refused with the op named', () => {
  it('Slice: step 0, repeated axes, mismatched lengths, missing attributes before opset 10', () => {
    const slice = (starts: number[], ends: number[], axes: number[], steps: number[]) => model([{ op: 'Slice', name: 's', inputs: ['x', 'st', 'en', 'ax', 'sp'], outputs: ['y'] }],
      { inits: [i64('st', starts), i64('en', ends), i64('ax', axes), i64('sp', steps)] });
    assertRefused(slice([0], [4], [1], [0]), 's', 'Slice', /step 0/);
    assertRefused(slice([0, 0], [4, 4], [1, -1], [1, 1]), 's', 'Slice', /repeated axis/);
    assertRefused(slice([0, 0], [4], [1], [1]), 's', 'Slice', /same length/);
    assertRefused(slice([0], [4], [2], [1]), 's', 'Slice', /axis 2 is out of range for rank 2/);
    assertRefused(model([{ op: 'Slice', name: 's', inputs: ['x'], outputs: ['y'], attributes: { ends: [2] } }], { opset: 9 }), 's', 'Slice', /needs starts and ends attributes/);
  });

  it('reductions: axes in the form of the other opsets, out-of-range axes', () => {
    assertRefused(model([{ op: 'ReduceMean', name: 'm', inputs: ['x'], outputs: ['y'], attributes: { axes: [1] } }], { opset: 18 }), 'm', 'ReduceMean', /second input, not an attribute/);
    assertRefused(model([{ op: 'ReduceMax', name: 'm', inputs: ['x', 'a'], outputs: ['y'] }], { opset: 13, inits: [i64('a', [1])] }), 'm', 'ReduceMax', /attribute, not an input/);
    assertRefused(model([{ op: 'ReduceSum', name: 'm', inputs: ['x'], outputs: ['y'], attributes: { axes: [1] } }], { opset: 13 }), 'm', 'ReduceSum', /second input/);
    assertRefused(model([{ op: 'ReduceSum', name: 'm', inputs: ['x', 'a'], outputs: ['y'] }], { opset: 13, inits: [i64('a', [2])] }), 'm', 'ReduceSum', /axis 2 is out of range/);
  });

  it('ReduceMax and ReduceMin propagate NaN (numpy and the spec reference do; onnxruntime may skip it)', () => {
    const g = (op: string) => model([{ op, inputs: ['x', 'a'], outputs: ['y'], attributes: { keepdims: 0 } }], { opset: 18, input: [2, 3], inits: [i64('a', [1])] });
    for (const op of ['ReduceMax', 'ReduceMin']) {
      const r = run(g(op), [1, NaN, 3, -1, -2, -3]);
      assert.ok(Number.isNaN(r.values[0]), `${op} row 0: ${r.values[0]}`);
      assert.equal(r.values[1], op === 'ReduceMax' ? -1 : -3);
    }
  });

  it('Pad: reflect beyond the axis, wrap before opset 19, axes before opset 18, edge of an empty axis', () => {
    const pad = (mode: string, pads: number[], opset = 13, extra: { inputs?: string[]; inits?: TensorSpec[] } = {}) => model(
      [{ op: 'Pad', name: 'p', inputs: extra.inputs ?? ['x', 'pads'], outputs: ['y'], attributes: { mode } }],
      { opset, input: [1, 3], inits: [i64('pads', pads), ...(extra.inits ?? [])] });
    assertRefused(pad('reflect', [0, 3, 0, 0]), 'p', 'Pad', /reflect padding of 3, 0 on axis 1 of size 3 is not defined/, [1, 2, 3]);
    assertRefused(pad('reflect', [1, 0, 0, 0]), 'p', 'Pad', /size 1 is not defined/, [1, 2, 3]);
    assert.deepEqual(run(pad('reflect', [0, 2, 0, 2]), [1, 2, 3]).values, [3, 2, 1, 2, 3, 2, 1]);
    assertRefused(pad('wrap', [0, 1, 0, 1], 18), 'p', 'Pad', /unknown Pad mode 'wrap' at opset 18/, [1, 2, 3]);
    // wrap may turn more than once (numpy.pad does; onnxruntime 1.30 reads uninitialized memory there).
    assert.deepEqual(run(pad('wrap', [0, 4, 0, 1], 19), [1, 2, 3]).values, [3, 1, 2, 3, 1, 2, 3, 1]);
    assertRefused(pad('constant', [1, 1], 13, { inputs: ['x', 'pads', '', 'ax'], inits: [i64('ax', [1])] }), 'p', 'Pad', /axes input of Pad exists from opset 18/, [1, 2, 3]);
    assertRefused(pad('constant', [0, -4, 0, 0]), 'p', 'Pad', /crop more than/, [1, 2, 3]);
    assertRefused(pad('reflect', [1, 1, 1, 1], 18, { inputs: ['x', 'pads', '', 'ax'], inits: [i64('ax', [1, -1])] }), 'p', 'Pad', /repeated axis/, [1, 2, 3]);
  });

  it('MaxPool and AveragePool refuse pads as large as the kernel (a window of nothing but padding)', () => {
    for (const op of ['MaxPool', 'AveragePool']) {
      const g = model([{ op, name: 'pool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [2, 2], pads: [2, 0, 0, 0] } }], { input: [1, 1, 2, 2] });
      assertRefused(g, 'pool', op, /pads \[2, 0, 0, 0\] must be smaller than the kernel/);
    }
  });

  it('ConstantOfShape, Clip and Where refuse malformed operands', () => {
    const cos = model([{ op: 'ConstantOfShape', name: 'c', inputs: ['s'], outputs: ['y'], attributes: { value: attr.tensor(f32('v', [1, 2])) } }], { inits: [i64('s', [2])] });
    assertRefused(cos, 'c', 'ConstantOfShape', /must hold one element/);
    const scalarShape = model([{ op: 'ConstantOfShape', name: 'c', inputs: ['s'], outputs: ['y'] }], { inits: [i64('s', [2], [])] });
    assertRefused(scalarShape, 'c', 'ConstantOfShape', /must be a 1-D tensor/);
    const clipAttr = model([{ op: 'Clip', name: 'clip', inputs: ['x'], outputs: ['y'], attributes: { min: attr.float(0) } }], { opset: 11 });
    assertRefused(clipAttr, 'clip', 'Clip', /inputs from opset 11, not as attributes/);
    const clipInput = model([{ op: 'Clip', name: 'clip', inputs: ['x', 'lo'], outputs: ['y'] }], { opset: 6, inits: [f32('lo', [0], [])] });
    assertRefused(clipInput, 'clip', 'Clip', /attributes before opset 11/);
    const where = model([{ op: 'Where', name: 'w', inputs: ['c', 'x', 'x'], outputs: ['y'] }], { inits: [{ name: 'c', dims: [3], data: [1, 0, 1], dataType: DataType.BOOL }] });
    assertRefused(where, 'w', 'Where', /cannot be broadcast/);
  });
});
