// Reductions of the reference evaluator: ReduceMean, ReduceSum, ReduceMax, ReduceMin, in both
// ONNX forms: `axes` as an attribute (ReduceSum before opset 13, the others before 18) and as an
// optional int64 input with noop_with_empty_axes (from then on).
import { EvaluationError } from '../errors.js';
import { getInt, getInts, type OnnxNode } from '../onnx/onnxGraph.js';
import { describeDims, intValues, normalizeAxis, required, stridesOf, type EvalTensor, type OpContext, type OpFn } from './onnxOpsTensor.js';

type Kind = 'mean' | 'sum' | 'max' | 'min';

/** Opset from which each reduction reads its axes from an input. */
const AXES_INPUT_FROM: Record<Kind, number> = { sum: 13, mean: 18, max: 18, min: 18 };

/**
 * The axes to reduce (sorted, distinct), or undefined when the node is a no-op
 * (noop_with_empty_axes=1 and no axes): no axes otherwise means all of them.
 */
function reducedAxes(node: OnnxNode, inputs: readonly (EvalTensor | undefined)[], ctx: OpContext, kind: Kind, rank: number): number[] | undefined {
  let given: number[] | undefined;
  if (ctx.opset >= AXES_INPUT_FROM[kind]) {
    if (node.attributes.has('axes')) throw new EvaluationError(`from opset ${AXES_INPUT_FROM[kind]} axes are the second input, not an attribute (opset ${ctx.opset})`);
    const axes = inputs[1];
    if (axes && axes.dims.length > 1) throw new EvaluationError(`axes must be 1-D, got shape ${describeDims(axes.dims)}`);
    given = axes ? intValues(axes, 'axes') : undefined;
    if (!given?.length && getInt(node, 'noop_with_empty_axes', 0) !== 0) return undefined;
  } else {
    if (node.inputs.slice(1).some(Boolean)) throw new EvaluationError(`before opset ${AXES_INPUT_FROM[kind]} axes are an attribute, not an input (opset ${ctx.opset})`);
    given = getInts(node, 'axes');
  }
  if (!given?.length) return Array.from({ length: rank }, (_, i) => i);
  // A repeated axis (also as -1 and rank-1) is reduced once, as onnxruntime does.
  return [...new Set(given.map((a) => normalizeAxis(a, rank)))].sort((a, b) => a - b);
}

function reduce(kind: Kind): OpFn {
  return (node, inputs, ctx) => {
    const x = required(inputs, 0, 'data');
    const r = x.dims.length;
    const axes = reducedAxes(node, inputs, ctx, kind, r);
    if (!axes) return [x];
    const keepDims = getInt(node, 'keepdims', 1) !== 0;
    const isReduced = x.dims.map((_, i) => axes.includes(i));
    const kept = x.dims.map((d, i) => (isReduced[i] ? 1 : d));
    const out = ctx.alloc(keepDims ? kept : x.dims.filter((_, i) => !isReduced[i]), x.isInt);
    // Each input element adds into the output element with its reduced coordinates set to 0:
    // walk the input in order, tracking that output offset (stride 0 along reduced axes).
    const outStrides = stridesOf(kept).map((s, i) => (isReduced[i] ? 0 : s));
    const od = out.data, xd = x.data;
    const start = kind === 'max' ? -Infinity : kind === 'min' ? Infinity : 0;
    od.fill(start);
    const idx = new Array<number>(r).fill(0);
    let to = 0;
    for (let i = 0; i < xd.length; i++) {
      const v = xd[i];
      // Max and min propagate NaN (once NaN, no comparison replaces it), like numpy.
      if (kind === 'max') {
        if (v > od[to] || Number.isNaN(v)) od[to] = v;
      } else if (kind === 'min') {
        if (v < od[to] || Number.isNaN(v)) od[to] = v;
      } else {
        od[to] += v;
      }
      for (let d = r - 1; d >= 0; d--) {
        idx[d]++;
        to += outStrides[d];
        if (idx[d] < x.dims[d]) break;
        to -= outStrides[d] * x.dims[d];
        idx[d] = 0;
      }
    }
    if (kind === 'mean') {
      // Over an empty set the mean is 0/0 = NaN; integer means truncate like the integer division they are.
      const count = axes.reduce((n, a) => n * x.dims[a], 1);
      for (let i = 0; i < od.length; i++) od[i] = x.isInt ? Math.trunc(od[i] / count) : od[i] / count;
    }
    return [out];
  };
}

export const REDUCE_OPS: Record<string, OpFn> = {
  ReduceMean: reduce('mean'),
  ReduceSum: reduce('sum'),
  ReduceMax: reduce('max'),
  ReduceMin: reduce('min'),
};
