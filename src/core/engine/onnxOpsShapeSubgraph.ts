// Ops that exporters' shape subgraphs are made of, beyond Shape/Gather/Concat: ConstantOfShape,
// Range, Expand and Slice (a legacy nn.ZeroPad2d export computes its Pad pads with them; an LSTM
// export its initial states). Their sizes come from tensor values in an untrusted file, so every
// output goes through ctx.alloc, which refuses a shape over the limit before allocating it.
import { EvaluationError } from '../errors.js';
import { getInts, type OnnxNode } from '../onnx/onnxGraph.js';
import { broadcastDims, forEachBroadcast } from './onnxOpsElementwise.js';
import { describeDims, intValues, normalizeAxis, required, scalarValue, stridesOf, type EvalTensor, type OpFn } from './onnxOpsTensor.js';

/** The values of a 1-D int64 shape input, each a valid (non-negative) size. */
function shapeValues(t: EvalTensor, what: string): number[] {
  if (t.dims.length !== 1) throw new EvaluationError(`${what} must be a 1-D tensor, got shape ${describeDims(t.dims)}`);
  const dims = intValues(t, what);
  if (dims.some((d) => d < 0)) throw new EvaluationError(`${what} [${dims.join(', ')}] has a negative size`);
  return dims;
}

const constantOfShape: OpFn = (node, inputs, ctx) => {
  const dims = shapeValues(required(inputs, 0, 'input'), 'shape');
  // value: a one-element tensor whose type the output takes; default float 0.
  let value = 0, isInt = false;
  const attr = node.attributes.get('value');
  if (attr) {
    if (attr.type !== 'tensor') throw new EvaluationError('the value attribute of ConstantOfShape must be a tensor');
    if (attr.value.data.length !== 1) throw new EvaluationError(`the value of ConstantOfShape must hold one element, it has shape ${describeDims(attr.value.dims)}`);
    value = attr.value.data[0];
    isInt = attr.value.kind === 'int';
  }
  const out = ctx.alloc(dims, isInt);
  if (value !== 0) out.data.fill(value);
  return [out];
};

const range: OpFn = (_node, inputs, ctx) => {
  const [start, limit, delta] = ['start', 'limit', 'delta'].map((name, i) => required(inputs, i, name));
  const [a, b, step] = [start, limit, delta].map((t, i) => scalarValue(t, ['start', 'limit', 'delta'][i]));
  if (step === 0) throw new EvaluationError('Range with delta 0 never reaches its limit');
  // Spec: max(ceil((limit - start) / delta), 0) elements, start + i*delta.
  const count = Math.max(Math.ceil((b - a) / step), 0);
  if (!Number.isFinite(count)) throw new EvaluationError(`Range from ${a} to ${b} by ${step} has no finite number of elements`);
  const out = ctx.alloc([count], start.isInt && limit.isInt && delta.isInt);
  for (let i = 0; i < count; i++) out.data[i] = a + i * step;
  return [out];
};

const expand: OpFn = (_node, inputs, ctx) => {
  const x = required(inputs, 0, 'input');
  const shape = shapeValues(required(inputs, 1, 'shape'), 'shape');
  // Bidirectional numpy broadcasting: a 1 in shape keeps the input's size, the rank is the larger one.
  const dims = broadcastDims(x.dims, shape);
  const out = ctx.alloc(dims, x.isInt);
  const xd = x.data, od = out.data;
  forEachBroadcast(dims, [x.dims], (o, at) => {
    od[o] = xd[at[0]];
  });
  return [out];
};

interface SliceParams {
  starts: number[];
  ends: number[];
  axes: number[] | undefined;
  steps: number[] | undefined;
}

/** Slice's parameters: attributes before opset 10 (no steps), inputs from 10. */
function sliceParams(node: OnnxNode, inputs: readonly (EvalTensor | undefined)[], opset: number): SliceParams {
  if (opset < 10) {
    const starts = getInts(node, 'starts');
    const ends = getInts(node, 'ends');
    if (!starts || !ends) throw new EvaluationError(`Slice before opset 10 needs starts and ends attributes (opset ${opset})`);
    return { starts, ends, axes: getInts(node, 'axes'), steps: undefined };
  }
  const values = (t: EvalTensor, what: string): number[] => {
    if (t.dims.length !== 1) throw new EvaluationError(`${what} must be a 1-D tensor, got shape ${describeDims(t.dims)}`);
    return intValues(t, what);
  };
  return {
    starts: values(required(inputs, 1, 'starts'), 'starts'),
    ends: values(required(inputs, 2, 'ends'), 'ends'),
    axes: inputs[3] && values(inputs[3], 'axes'),
    steps: inputs[4] && values(inputs[4], 'steps'),
  };
}

const slice: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const r = x.dims.length;
  const { starts, ends, axes: givenAxes, steps } = sliceParams(node, inputs, ctx.opset);
  const n = starts.length;
  if (ends.length !== n || (givenAxes && givenAxes.length !== n) || (steps && steps.length !== n)) {
    throw new EvaluationError(`starts, ends, axes and steps must have the same length (${[starts, ends, givenAxes, steps].filter(Boolean).map((v) => v!.length).join(', ')})`);
  }
  const axes = (givenAxes ?? starts.map((_, i) => i)).map((a) => normalizeAxis(a, r));
  if (new Set(axes).size !== n) throw new EvaluationError(`repeated axis in axes [${givenAxes!.join(', ')}]`);
  // Per input axis: first index, step and output size (untouched axes: all of it).
  const first = new Array<number>(r).fill(0);
  const step = new Array<number>(r).fill(1);
  const dims = [...x.dims];
  axes.forEach((axis, i) => {
    const size = x.dims[axis];
    const s = steps ? steps[i] : 1;
    if (s === 0) throw new EvaluationError(`step 0 on axis ${axis}`);
    // Negative values count from the end; then clamp: [0, size] for a positive step,
    // [-1, size - 1] (and the start to [0, size - 1]) for a negative one. INT64_MAX/MIN
    // (as exporters write "to the end") are simply far out of range.
    let begin = starts[i] < 0 ? starts[i] + size : starts[i];
    let end = ends[i] < 0 ? ends[i] + size : ends[i];
    if (s > 0) {
      begin = Math.min(Math.max(begin, 0), size);
      end = Math.min(Math.max(end, 0), size);
    } else {
      begin = Math.min(Math.max(begin, 0), size - 1);
      end = Math.min(Math.max(end, -1), size - 1);
    }
    first[axis] = begin;
    step[axis] = s;
    dims[axis] = Math.max(0, Math.ceil((end - begin) / s));
  });
  const out = ctx.alloc(dims, x.isInt);
  const inStrides = stridesOf(x.dims);
  const move = step.map((s, d) => s * inStrides[d]);
  let from = first.reduce((sum, f, d) => sum + f * inStrides[d], 0);
  // Odometer over the output index, tracking the input offset.
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < out.data.length; o++) {
    out.data[o] = x.data[from];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      from += move[d];
      if (idx[d] < dims[d]) break;
      from -= move[d] * dims[d];
      idx[d] = 0;
    }
  }
  return [out];
};

export const SHAPE_SUBGRAPH_OPS: Record<string, OpFn> = {
  ConstantOfShape: constantOfShape,
  Range: range,
  Expand: expand,
  Slice: slice,
};
