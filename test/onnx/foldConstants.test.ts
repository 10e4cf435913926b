// The constant folder: real legacy-exporter subgraphs (test/fixtures/folding, made by
// tools/make_folding_fixtures.py) fold to the values onnxruntime computes; each operator form
// on hand-built graphs with hand-computed values; hostile graphs give undefined ("not a
// constant") quickly, without large allocations.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConstantFolder, MAX_FOLDED_ELEMENTS, MAX_TOTAL_FOLDED_ELEMENTS } from '../../src/core/onnx/foldConstants.js';
import { loadOnnxFile } from '../../src/core/onnx/loadOnnxFile.js';
import type { OnnxGraph, Tensor } from '../../src/core/onnx/onnxGraph.js';
import { UnsupportedModelError } from '../../src/core/errors.js';
import { attr, DataType, graphOf, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';

const FOLDING = join('test', 'fixtures', 'folding');
const FAST = { timeout: 10_000 };

/** A tensor as plain data, for deepEqual. */
function plain(t: Tensor | undefined): { kind: string; dims: number[]; data: number[] } | undefined {
  return t && { kind: t.kind, dims: t.dims, data: Array.from(t.data) };
}

const i64 = (name: string, dims: number[], data: number[]): TensorSpec => ({ name, dims, data, dataType: DataType.INT64 });
const f32 = (name: string, dims: number[], data: number[]): TensorSpec => ({ name, dims, data });
const cst = (out: string, value: TensorSpec): NodeSpec => ({ op: 'Constant', inputs: [], outputs: [out], attributes: { value: attr.tensor(value) } });

interface FoldOptions {
  opset?: number;
  initializers?: TensorSpec[];
  shapes?: Record<string, number[]>;
}

function folderFor(nodes: NodeSpec[], options: FoldOptions = {}): ConstantFolder {
  const graph = graphOf({
    opset: options.opset ?? 13,
    inputs: [{ name: 'x', dims: [1, 2, 3, 4] }],
    outputs: [{ name: 'out' }],
    initializers: options.initializers ?? [],
    nodes,
  });
  const folder = new ConstantFolder(graph);
  folder.knownShapes.set('x', [1, 2, 3, 4]);
  for (const [name, dims] of Object.entries(options.shapes ?? {})) folder.knownShapes.set(name, dims);
  return folder;
}

/** Folds `out` of one node `op` over the given constant inputs. */
function fold1(op: string, inputs: (TensorSpec | string)[], attributes: NodeSpec['attributes'] = {}, options: FoldOptions = {}) {
  const initializers = [...(options.initializers ?? []), ...inputs.filter((i): i is TensorSpec => typeof i !== 'string')];
  const names = inputs.map((i) => (typeof i === 'string' ? i : i.name));
  return plain(folderFor([{ op, inputs: names, outputs: ['out'], attributes }], { ...options, initializers }).resolve('out'));
}

const int = (dims: number[], data: number[]) => ({ kind: 'int', dims, data });
const float = (dims: number[], data: number[]) => ({ kind: 'float', dims, data });

describe('legacy PyTorch exports (dynamo=False) fold', () => {
  function pads(file: string): number[] | undefined {
    const graph = loadOnnxFile(join(FOLDING, file));
    const pad = graph.nodes.find((n) => n.op === 'Pad');
    assert.ok(pad, `${file} has a Pad`);
    const folder = new ConstantFolder(graph);
    const value = folder.resolve(pad.inputs[1]);
    assert.equal(value?.kind, 'int');
    assert.deepEqual(value?.dims, [8]);
    return value && Array.from(value.data);
  }

  for (const file of ['zeropad1_default.onnx', 'zeropad1_op11.onnx', 'zeropad1_op13.onnx', 'zeropad1_nofold.onnx']) {
    it(`ZeroPad2d(1): ${file}`, () => assert.deepEqual(pads(file), [0, 0, 1, 1, 0, 0, 1, 1]));
  }

  it('ZeroPad2d((1, 2, 0, 1)) (left, right, top, bottom) → ONNX pads [N,C,top,left, N,C,bottom,right]', () => {
    assert.deepEqual(pads('zeropad1202_default.onnx'), [0, 0, 0, 1, 0, 0, 1, 2]);
  });

  function reshapeShape(graph: OnnxGraph, shapes: Record<string, number[]>): number[] | undefined {
    const reshape = graph.nodes.find((n) => n.op === 'Reshape');
    assert.ok(reshape);
    const folder = new ConstantFolder(graph);
    for (const [name, dims] of Object.entries(shapes)) folder.knownShapes.set(name, dims);
    const value = folder.resolve(reshape.inputs[1]);
    return value && Array.from(value.data);
  }

  it('view(x.size(0), -1) with a dynamic batch: Shape → Gather → Unsqueeze → Concat', () => {
    const graph = loadOnnxFile(join(FOLDING, 'view_size0_dynamic.onnx'));
    assert.deepEqual(graph.nodes.map((n) => n.op), ['Conv', 'Shape', 'Constant', 'Gather', 'Constant', 'Unsqueeze', 'Constant', 'Concat', 'Reshape']);
    assert.deepEqual(reshapeShape(graph, { '/conv/Conv_output_0': [1, 2, 6, 6] }), [1, -1]);
    // Before lowering knows the Conv's output shape, it is not a constant.
    assert.equal(reshapeShape(graph, {}), undefined);
  });

  it('view(x.size(0), -1) with do_constant_folding=False: Constant → Unsqueeze → Concat', () => {
    assert.deepEqual(reshapeShape(loadOnnxFile(join(FOLDING, 'view_size0_nofold.onnx')), {}), [1, -1]);
  });

  it('LSTM zero initial states: Shape → Gather → Unsqueeze → Concat → Expand', () => {
    const graph = loadOnnxFile(join(FOLDING, 'lstm_zero_state.onnx'));
    const lstm = graph.nodes.find((n) => n.op === 'LSTM')!;
    const folder = new ConstantFolder(graph);
    folder.knownShapes.set('/lstm/Transpose_output_0', [5, 1, 4]);
    for (const i of [5, 6]) assert.deepEqual(plain(folder.resolve(lstm.inputs[i])), float([1, 1, 3], [0, 0, 0]));
  });

  it('LSTM zero initial states with a dynamic batch: … → ConstantOfShape', () => {
    const graph = loadOnnxFile(join(FOLDING, 'lstm_zero_state_dynamic.onnx'));
    const lstm = graph.nodes.find((n) => n.op === 'LSTM')!;
    const folder = new ConstantFolder(graph);
    folder.knownShapes.set('x', [1, 5, 4]);
    assert.deepEqual(plain(folder.resolve(lstm.inputs[5])), float([1, 1, 3], [0, 0, 0]));
  });
});

describe('operators', () => {
  it('ConstantOfShape: default float 0, an int64 value, a scalar, an empty tensor', () => {
    assert.deepEqual(fold1('ConstantOfShape', [i64('s', [2], [2, 3])]), float([2, 3], [0, 0, 0, 0, 0, 0]));
    assert.deepEqual(fold1('ConstantOfShape', [i64('s', [1], [3])], { value: attr.tensor(i64('v', [1], [7])) }), int([3], [7, 7, 7]));
    assert.deepEqual(fold1('ConstantOfShape', [i64('s', [0], [])], { value: attr.tensor(f32('v', [1], [2.5])) }), float([], [2.5]));
    assert.deepEqual(fold1('ConstantOfShape', [i64('s', [2], [4, 0])]), float([4, 0], []));
    assert.equal(fold1('ConstantOfShape', [i64('s', [1], [-1])]), undefined);
    assert.equal(fold1('ConstantOfShape', [f32('s', [1], [2])]), undefined);
    assert.equal(fold1('ConstantOfShape', [i64('s', [1], [2])], { value: attr.tensor(i64('v', [2], [1, 2])) }), undefined);
  });

  it('Concat of N-D tensors along any axis (negative too)', () => {
    const a = i64('a', [2, 2], [1, 2, 3, 4]), b = i64('b', [2, 1], [5, 6]), c = i64('c', [1, 2], [7, 8]);
    assert.deepEqual(fold1('Concat', [a, b], { axis: 1 }), int([2, 3], [1, 2, 5, 3, 4, 6]));
    assert.deepEqual(fold1('Concat', [a, b], { axis: -1 }), int([2, 3], [1, 2, 5, 3, 4, 6]));
    assert.deepEqual(fold1('Concat', [a, c, a], { axis: 0 }), int([5, 2], [1, 2, 3, 4, 7, 8, 1, 2, 3, 4]));
    assert.deepEqual(fold1('Concat', [i64('e', [0], []), i64('p', [2], [1, 2]), i64('q', [1], [3])], { axis: 0 }), int([3], [1, 2, 3]));
    assert.equal(fold1('Concat', [a, b], { axis: 0 }), undefined); // other dims differ
    assert.equal(fold1('Concat', [a, b], { axis: 2 }), undefined);
    assert.equal(fold1('Concat', [i64('p', [1], [1]), f32('f', [1], [2])], { axis: 0 }), undefined); // mixed types
    assert.equal(fold1('Concat', [i64('p', [1], [1]), 'x'], { axis: 0 }), undefined); // data, not a constant
  });

  it('Slice (opset ≥ 10 inputs): negative and clamped indices, steps, axes', () => {
    const m = i64('m', [4, 2], [1, 1, 2, 2, 3, 3, 4, 4]);
    const huge = 2 ** 62; // exporters write ±INT64_MAX (the fixtures cover that exact value)
    // The legacy ZeroPad2d form: rows reversed.
    assert.deepEqual(fold1('Slice', [m, i64('s', [1], [-1]), i64('e', [1], [-huge]), i64('a', [1], [0]), i64('t', [1], [-1])]),
      int([4, 2], [4, 4, 3, 3, 2, 2, 1, 1]));
    const v = i64('v', [6], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(fold1('Slice', [v, i64('s', [1], [1]), i64('e', [1], [huge])]), int([5], [1, 2, 3, 4, 5]));
    assert.deepEqual(fold1('Slice', [v, i64('s', [1], [-4]), i64('e', [1], [-1])]), int([3], [2, 3, 4]));
    assert.deepEqual(fold1('Slice', [v, i64('s', [1], [0]), i64('e', [1], [6]), i64('a', [1], [-1]), i64('t', [1], [2])]), int([3], [0, 2, 4]));
    assert.deepEqual(fold1('Slice', [v, i64('s', [1], [100]), i64('e', [1], [-100]), i64('a', [1], [0]), i64('t', [1], [-2])]), int([3], [5, 3, 1]));
    assert.deepEqual(fold1('Slice', [v, i64('s', [1], [4]), i64('e', [1], [2])]), int([0], []));
    const t = f32('t3', [2, 3], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fold1('Slice', [t, i64('s', [2], [1, 0]), i64('e', [2], [3, 1]), i64('a', [2], [1, 0])]), float([1, 2], [2, 3]));
    assert.equal(fold1('Slice', [v, i64('s', [1], [0]), i64('e', [1], [6]), i64('a', [1], [0]), i64('t', [1], [0])]), undefined);
    assert.equal(fold1('Slice', [t, i64('s', [2], [0, 0]), i64('e', [2], [1, 1]), i64('a', [2], [0, -2])]), undefined); // axis twice
    assert.equal(fold1('Slice', [t, i64('s', [1], [0]), i64('e', [1], [1]), i64('a', [1], [2])]), undefined);
  });

  it('Slice (opset < 10 attributes)', () => {
    const v = i64('v', [2, 3], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(fold1('Slice', [v], { starts: [1], ends: [1000], axes: [1] }, { opset: 9 }), int([2, 2], [1, 2, 4, 5]));
    assert.deepEqual(fold1('Slice', [v], { starts: [-1, 0], ends: [2, -1] }, { opset: 9 }), int([1, 2], [3, 4]));
    assert.equal(fold1('Slice', [v], {}, { opset: 9 }), undefined);
  });

  it('Transpose: perm, and reversed axes by default', () => {
    const t = i64('t', [2, 3], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fold1('Transpose', [t], { perm: [1, 0] }), int([3, 2], [1, 4, 2, 5, 3, 6]));
    const u = f32('u', [2, 1, 3], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fold1('Transpose', [u]), float([3, 1, 2], [1, 4, 2, 5, 3, 6]));
    assert.deepEqual(fold1('Transpose', [u], { perm: [1, 2, 0] }), float([1, 3, 2], [1, 4, 2, 5, 3, 6]));
    assert.equal(fold1('Transpose', [t], { perm: [0, 0] }), undefined);
    assert.equal(fold1('Transpose', [t], { perm: [0, 1, 2] }), undefined);
  });

  it('Reshape of constants: 0 copies a dim, -1 takes the rest, allowzero', () => {
    const t = i64('t', [2, 3, 2], Array.from({ length: 12 }, (_, i) => i));
    assert.deepEqual(fold1('Reshape', [t, i64('s', [2], [0, -1])]), int([2, 6], Array.from({ length: 12 }, (_, i) => i)));
    assert.deepEqual(fold1('Reshape', [t, i64('s', [1], [-1])])?.dims, [12]);
    assert.deepEqual(fold1('Reshape', [i64('e', [0, 3], []), i64('s', [2], [3, 0])], { allowzero: 1 }, { opset: 14 }), int([3, 0], []));
    assert.equal(fold1('Reshape', [t, i64('s', [2], [-1, -1])]), undefined);
    assert.equal(fold1('Reshape', [t, i64('s', [2], [5, -1])]), undefined);
    assert.equal(fold1('Reshape', [t, i64('s', [2], [4, 4])]), undefined);
    assert.deepEqual(fold1('Reshape', [t], { shape: [3, 4] }, { opset: 4 })?.dims, [3, 4]);
  });

  it('Squeeze / Unsqueeze: axes as attribute (opset 11) or input (opset 13), negative', () => {
    const s = i64('s', [], [5]);
    assert.deepEqual(fold1('Unsqueeze', [s], { axes: [0] }, { opset: 11 }), int([1], [5]));
    assert.deepEqual(fold1('Unsqueeze', [s, i64('a', [2], [0, -1])]), int([1, 1], [5]));
    const t = i64('t', [1, 2, 1], [3, 4]);
    assert.deepEqual(fold1('Squeeze', [t], { axes: [-1] }, { opset: 11 }), int([1, 2], [3, 4]));
    assert.deepEqual(fold1('Squeeze', [t, i64('a', [1], [0])]), int([2, 1], [3, 4]));
    assert.deepEqual(fold1('Squeeze', [t]), int([2], [3, 4]));
    assert.equal(fold1('Squeeze', [t, i64('a', [1], [1])]), undefined);
    assert.equal(fold1('Unsqueeze', [s, i64('a', [2], [0, 0])]), undefined);
  });

  it('Gather along any axis with N-D indices', () => {
    const t = i64('t', [2, 3], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(fold1('Gather', [t, i64('i', [2, 2], [2, 0, -1, 1])], { axis: 1 }), int([2, 2, 2], [3, 1, 3, 2, 6, 4, 6, 5]));
    assert.deepEqual(fold1('Gather', [t, i64('i', [], [-1])]), int([3], [4, 5, 6]));
    assert.deepEqual(fold1('Gather', [i64('v', [3], [7, 8, 9]), i64('i', [], [1])]), int([], [8]));
    assert.deepEqual(fold1('Gather', [f32('f', [3], [0.5, 1.5, 2.5]), i64('i', [2], [2, 2])]), float([2], [2.5, 2.5]));
    assert.equal(fold1('Gather', [t, i64('i', [1], [3])], { axis: 1 }), undefined);
    assert.equal(fold1('Gather', [t, i64('i', [1], [0])], { axis: 2 }), undefined);
  });

  it('Shape (start/end) and Size, of data tensors lowering knows and of constants', () => {
    assert.deepEqual(fold1('Shape', ['x']), int([4], [1, 2, 3, 4]));
    assert.deepEqual(fold1('Shape', ['x'], { start: 1, end: -1 }, { opset: 15 }), int([2], [2, 3]));
    assert.deepEqual(fold1('Shape', ['x'], { start: -10, end: 10 }, { opset: 15 }), int([4], [1, 2, 3, 4]));
    assert.deepEqual(fold1('Shape', [i64('c', [2, 2], [1, 2, 3, 4])]), int([2], [2, 2]));
    assert.deepEqual(fold1('Size', ['x']), int([], [24]));
    assert.equal(fold1('Shape', ['unknown']), undefined);
  });

  it('Range', () => {
    assert.deepEqual(fold1('Range', [i64('a', [], [1]), i64('b', [], [7]), i64('c', [], [2])]), int([3], [1, 3, 5]));
    assert.deepEqual(fold1('Range', [i64('a', [], [5]), i64('b', [], [0]), i64('c', [], [-2])]), int([3], [5, 3, 1]));
    assert.deepEqual(fold1('Range', [i64('a', [], [5]), i64('b', [], [0]), i64('c', [], [1])]), int([0], []));
    assert.deepEqual(fold1('Range', [f32('a', [], [0]), f32('b', [], [1]), f32('c', [], [0.25])]), float([4], [0, 0.25, 0.5, 0.75]));
    assert.equal(fold1('Range', [i64('a', [], [0]), i64('b', [], [1]), i64('c', [], [0])]), undefined);
    assert.equal(fold1('Range', [i64('a', [], [0]), f32('b', [], [1]), i64('c', [], [1])]), undefined);
  });

  it('Expand (bidirectional broadcasting)', () => {
    assert.deepEqual(fold1('Expand', [i64('t', [2, 1], [1, 2]), i64('s', [3], [2, 1, 3])]), int([2, 2, 3], [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]));
    assert.deepEqual(fold1('Expand', [f32('t', [1, 3], [1, 2, 3]), i64('s', [2], [2, 1])]), float([2, 3], [1, 2, 3, 1, 2, 3]));
    assert.equal(fold1('Expand', [i64('t', [2], [1, 2]), i64('s', [1], [3])]), undefined);
  });

  it('Equal, Where, Not, Neg', () => {
    const a = i64('a', [3], [1, -1, 3]);
    assert.deepEqual(fold1('Equal', [a, i64('m', [], [-1])]), int([3], [0, 1, 0]));
    assert.deepEqual(fold1('Not', [i64('b', [2], [0, 1])]), int([2], [1, 0]));
    assert.deepEqual(fold1('Neg', [a]), int([3], [-1, 1, -3]));
    assert.deepEqual(fold1('Neg', [f32('f', [2], [0.5, -2])]), float([2], [-0.5, 2]));
    // Where(shape == -1, 1, shape): what exporters do around -1 in shapes.
    assert.deepEqual(fold1('Where', [i64('c', [3], [0, 1, 0]), i64('x1', [], [9]), a]), int([3], [1, 9, 3]));
    assert.equal(fold1('Where', [f32('c', [1], [1]), a, a]), undefined);
  });

  it('Add / Sub / Mul / Div / Mod with numpy broadcasting; integer Div truncates toward zero as onnxruntime does', () => {
    const col = i64('col', [2, 1], [10, 20]), row = i64('row', [3], [1, 2, 3]);
    assert.deepEqual(fold1('Add', [col, row]), int([2, 3], [11, 12, 13, 21, 22, 23]));
    assert.deepEqual(fold1('Sub', [col, row]), int([2, 3], [9, 8, 7, 19, 18, 17]));
    assert.deepEqual(fold1('Mul', [row, i64('two', [], [2])]), int([3], [2, 4, 6]));
    const n = i64('n', [4], [7, -7, 7, -7]), d = i64('d', [4], [2, 2, -2, -2]);
    assert.deepEqual(fold1('Div', [n, d]), int([4], [3, -3, -3, 3])); // onnxruntime 1.30: [3, -3, -3, 3]
    assert.deepEqual(fold1('Mod', [n, d]), int([4], [1, 1, -1, -1])); // fmod=0: the divisor's sign
    assert.deepEqual(fold1('Mod', [n, d], { fmod: 1 }), int([4], [1, -1, 1, -1]));
    assert.deepEqual(fold1('Div', [i64('big', [1], [2 ** 52 + 1]), i64('three', [1], [-3])]), int([1], [-1501199875790165]));
    assert.deepEqual(fold1('Div', [f32('f', [2], [1, -3]), f32('g', [], [2])]), float([2], [0.5, -1.5]));
    assert.deepEqual(fold1('Mod', [f32('f', [2], [5.5, -5.5]), f32('g', [], [2])], { fmod: 1 }), float([2], [1.5, -1.5]));
    assert.equal(fold1('Mod', [f32('f', [1], [5.5]), f32('g', [], [2])]), undefined); // float Mod needs fmod=1
    assert.equal(fold1('Div', [n, i64('z', [], [0])]), undefined);
    assert.equal(fold1('Mul', [i64('p', [], [2 ** 40]), i64('q', [], [2 ** 40])]), undefined); // beyond exact integers
    assert.equal(fold1('Add', [col, f32('f', [1], [1])]), undefined);
    assert.deepEqual(fold1('Add', [col, i64('r', [2], [1, 2])]), int([2, 2], [11, 12, 21, 22]));
    assert.equal(fold1('Add', [i64('r3', [3, 2], [1, 2, 3, 4, 5, 6]), i64('r2', [3], [1, 2, 3])]), undefined);
  });

  it('Cast: truncation, bool, wrapping, and what it cannot do exactly', () => {
    assert.deepEqual(fold1('Cast', [f32('f', [3], [-1.7, 2.9, 0])], { to: DataType.INT64 }), int([3], [-1, 2, 0]));
    assert.deepEqual(fold1('Cast', [i64('i', [2], [3, -4])], { to: DataType.FLOAT }), float([2], [3, -4]));
    assert.deepEqual(fold1('Cast', [f32('f', [3], [0, 0.5, -2])], { to: DataType.BOOL }), int([3], [0, 1, 1]));
    assert.deepEqual(fold1('Cast', [i64('i', [2], [200, 300])], { to: DataType.INT8 }), int([2], [-56, 44]));
    assert.deepEqual(fold1('Cast', [i64('i', [1], [-1])], { to: DataType.UINT8 }), int([1], [255]));
    assert.deepEqual(fold1('Cast', [i64('i', [1], [2])], { to: DataType.FLOAT16 }), float([1], [2]));
    assert.equal(fold1('Cast', [f32('f', [1], [0.1])], { to: DataType.FLOAT16 }), undefined);
    assert.equal(fold1('Cast', [f32('f', [1], [NaN])], { to: DataType.INT64 }), undefined);
    assert.equal(fold1('Cast', [f32('f', [1], [1])], { to: DataType.STRING }), undefined);
  });

  it('nodes of other domains, second outputs and cycles are not constants', () => {
    const a = i64('a', [1], [1]);
    assert.equal(plain(folderFor([{ op: 'Add', domain: 'com.example', inputs: ['a', 'a'], outputs: ['out'] }], { initializers: [a] }).resolve('out')), undefined);
    assert.equal(folderFor([{ op: 'Neg', inputs: ['a'], outputs: ['y', 'out'] }], { initializers: [a] }).resolve('out'), undefined);
    const cycle = folderFor([{ op: 'Neg', inputs: ['b'], outputs: ['out'] }, { op: 'Neg', inputs: ['out'], outputs: ['b'] }]);
    assert.equal(cycle.resolve('out'), undefined);
  });

  it('a constant subgraph made of Constant nodes (not initializers) folds the same', () => {
    const folder = folderFor([
      cst('s', i64('s', [1], [2])),
      { op: 'ConstantOfShape', inputs: ['s'], outputs: ['z'], attributes: { value: attr.tensor(i64('v', [1], [0])) } },
      cst('p', i64('p', [2], [1, 2])),
      { op: 'Concat', inputs: ['p', 'z'], outputs: ['out'], attributes: { axis: 0 } },
    ]);
    assert.deepEqual(plain(folder.resolve('out')), int([4], [1, 2, 0, 0]));
  });
});

describe('hostile graphs: undefined quickly, nothing large allocated', () => {
  it('ConstantOfShape of [1e9], of [2^20 + 1] and of [1e6, 1e6]', FAST, () => {
    assert.equal(fold1('ConstantOfShape', [i64('s', [1], [1e9])]), undefined);
    assert.equal(fold1('ConstantOfShape', [i64('s', [1], [MAX_FOLDED_ELEMENTS + 1])]), undefined);
    assert.equal(fold1('ConstantOfShape', [i64('s', [2], [1e6, 1e6])]), undefined);
    assert.equal(fold1('ConstantOfShape', [i64('s', [2], [2 ** 60, 0])]), undefined);
    assert.equal(fold1('ConstantOfShape', [i64('s', [1], [MAX_FOLDED_ELEMENTS])])?.data.length, MAX_FOLDED_ELEMENTS);
  });

  it('Range with 1e12 elements, Expand to [1e9], Tile-like Concat growth', FAST, () => {
    assert.equal(fold1('Range', [i64('a', [], [0]), i64('b', [], [1e12]), i64('c', [], [1])]), undefined);
    assert.equal(fold1('Range', [f32('a', [], [0]), f32('b', [], [1]), f32('c', [], [1e-30])]), undefined);
    assert.equal(fold1('Expand', [i64('t', [1], [1]), i64('s', [1], [1e9])]), undefined);
    assert.equal(fold1('Expand', [i64('t', [1], [1]), i64('s', [3], [1024, 1024, 2])]), undefined);
    // Each Concat doubles: the 21st would pass 2^20 elements.
    const nodes: NodeSpec[] = [];
    for (let i = 0; i < 40; i++) nodes.push({ op: 'Concat', inputs: [`c${i}`, `c${i}`], outputs: [i === 39 ? 'out' : `c${i + 1}`], attributes: { axis: 0 } });
    assert.equal(folderFor(nodes, { initializers: [i64('c0', [1], [1])] }).resolve('out'), undefined);
  });

  it('100k-element axes, perm and shape lists', FAST, () => {
    const many = Array.from({ length: 100_000 }, (_, i) => i);
    const t = i64('t', [1], [1]);
    assert.equal(fold1('Unsqueeze', [t], { axes: many }, { opset: 11 }), undefined);
    assert.equal(fold1('Unsqueeze', [t, i64('a', [many.length], many)]), undefined);
    assert.equal(fold1('Squeeze', [t, i64('a', [many.length], many)]), undefined);
    assert.equal(fold1('Squeeze', [t], { axes: many.map(() => 0) }, { opset: 11 }), undefined);
    assert.equal(fold1('Transpose', [t], { perm: many }), undefined);
    assert.equal(fold1('Reshape', [t, i64('s', [many.length], many.map(() => 1))]), undefined);
    assert.equal(fold1('ConstantOfShape', [i64('s', [many.length], many.map(() => 1))]), undefined);
    assert.equal(fold1('Expand', [t, i64('s', [many.length], many.map(() => 1))]), undefined);
    assert.equal(fold1('Slice', [t, i64('s', [many.length], many), i64('e', [many.length], many)]), undefined);
  });

  it('a Concat of 100k empty inputs and one value is linear', FAST, () => {
    const names = Array.from({ length: 100_000 }, () => 'e');
    const folder = folderFor([{ op: 'Concat', inputs: [...names, 'p'], outputs: ['out'], attributes: { axis: 1 } }],
      { initializers: [i64('e', [1000, 0], []), i64('p', [1000, 1], Array.from({ length: 1000 }, (_, i) => i))] });
    assert.equal(folder.resolve('out')?.data.length, 1000);
  });

  it('many large folds stop at the total budget', FAST, () => {
    const nodes: NodeSpec[] = [];
    for (let i = 0; i < 40; i++) nodes.push({ op: 'ConstantOfShape', inputs: ['s'], outputs: [`z${i}`] });
    const folder = folderFor(nodes, { initializers: [i64('s', [1], [MAX_FOLDED_ELEMENTS])] });
    let folded = 0;
    for (let i = 0; i < 40; i++) if (folder.resolve(`z${i}`)) folded++;
    assert.equal(folded, MAX_TOTAL_FOLDED_ELEMENTS / MAX_FOLDED_ELEMENTS);
  });

  it('a diamond-shaped chain of 900 nodes is evaluated once per node', FAST, () => {
    const nodes: NodeSpec[] = [];
    for (let i = 0; i < 900; i++) nodes.push({ op: 'Sub', inputs: [`d${i}`, `d${i}`], outputs: [i === 899 ? 'out' : `d${i + 1}`] });
    assert.deepEqual(plain(folderFor(nodes, { initializers: [i64('d0', [1], [5])] }).resolve('out')), int([1], [0]));
  });

  it('a chain of 5000 nodes is refused at the nesting limit, as before', FAST, () => {
    const nodes: NodeSpec[] = [];
    for (let i = 0; i < 5000; i++) nodes.push({ op: 'Neg', inputs: [`n${i}`], outputs: [i === 4999 ? 'out' : `n${i + 1}`] });
    const folder = folderFor(nodes, { initializers: [i64('n0', [1], [1])] });
    assert.throws(() => folder.resolve('out'), (e: unknown) => e instanceof UnsupportedModelError && /more than 1000 nested nodes/.test(e.message));
  });

  it('an Identity chain of a large weight costs nothing of the budget', FAST, () => {
    const nodes: NodeSpec[] = [];
    for (let i = 0; i < 900; i++) nodes.push({ op: 'Identity', inputs: [`w${i}`], outputs: [`w${i + 1}`] });
    nodes.push({ op: 'ConstantOfShape', inputs: ['s'], outputs: ['z'] });
    const folder = folderFor(nodes, { initializers: [f32('w0', [1024, 1024], new Array<number>(1 << 20).fill(1)), i64('s', [1], [1 << 20])] });
    for (let i = 0; i < 20; i++) assert.equal(folder.resolve(`w${900 - i}`)?.data.length, 1 << 20);
    assert.equal(folder.resolve('z')?.data.length, 1 << 20);
  });
});
