// The reference evaluator's op table (ONNX op name → implementation) and the dense ops: Gemm,
// MatMul, BatchNormalization, Softmax/LogSoftmax. Data-movement ops live in onnxOpsTensor.ts,
// the ops of exporters' shape subgraphs (Slice, Expand, ConstantOfShape, Range) in
// onnxOpsShapeSubgraph.ts, element-by-element ones in onnxOpsElementwise.ts, reductions in
// onnxOpsReduce.ts, window ops in onnxOpsSpatial.ts and Pad in onnxOpsPad.ts. None of this
// shares code with the converter's lowering on purpose: it is the independent reference the
// converted blob is checked against.
import { EvaluationError } from '../errors.js';
import { elementCount, getFloat, getInt, type OnnxNode } from '../onnx/onnxGraph.js';
import { broadcastDims, ELEMENTWISE_OPS, forEachBroadcast } from './onnxOpsElementwise.js';
import { PAD_OPS } from './onnxOpsPad.js';
import { REDUCE_OPS } from './onnxOpsReduce.js';
import { SHAPE_SUBGRAPH_OPS } from './onnxOpsShapeSubgraph.js';
import { SPATIAL_OPS } from './onnxOpsSpatial.js';
import { describeDims, normalizeAxis, required, TENSOR_OPS, type OpFn } from './onnxOpsTensor.js';

export type { EvalTensor, OpContext, OpFn } from './onnxOpsTensor.js';

const gemm: OpFn = (node, inputs, ctx) => {
  const a = required(inputs, 0, 'A');
  const b = required(inputs, 1, 'B');
  const c = inputs[2];
  if (a.dims.length !== 2 || b.dims.length !== 2) throw new EvaluationError(`Gemm needs 2-D A and B, got ${describeDims(a.dims)} and ${describeDims(b.dims)}`);
  const transA = getInt(node, 'transA', 0) !== 0;
  const transB = getInt(node, 'transB', 0) !== 0;
  const alpha = getFloat(node, 'alpha', 1);
  const beta = getFloat(node, 'beta', 1);
  const [m, k] = transA ? [a.dims[1], a.dims[0]] : a.dims;
  const [kb, n] = transB ? [b.dims[1], b.dims[0]] : b.dims;
  if (k !== kb) throw new EvaluationError(`Gemm inner sizes differ: A ${describeDims(a.dims)}${transA ? 'ᵀ' : ''} × B ${describeDims(b.dims)}${transB ? 'ᵀ' : ''}`);
  // C broadcasts one way only, to (M, N).
  if (c && broadcastDims(c.dims, [m, n]).some((d, i) => d !== [m, n][i])) {
    throw new EvaluationError(`C of shape ${describeDims(c.dims)} does not broadcast to [${m}, ${n}]`);
  }
  const out = ctx.alloc([m, n]);
  // Element (i, j) of op(A) / op(B) sits at i*rowStride + j*colStride.
  const [ai, ak] = transA ? [1, m] : [k, 1];
  const [bk, bj] = transB ? [1, k] : [n, 1];
  const ad = a.data, bd = b.data, od = out.data;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let q = 0; q < k; q++) sum += ad[i * ai + q * ak] * bd[q * bk + j * bj];
      od[i * n + j] = alpha * sum;
    }
  }
  if (c && beta !== 0) {
    forEachBroadcast([m, n], [c.dims], (o, at) => {
      od[o] += beta * c.data[at[0]];
    });
  }
  return [out];
};

const matMul: OpFn = (_node, inputs, ctx) => {
  const a = required(inputs, 0, 'A');
  const b = required(inputs, 1, 'B');
  if (!a.dims.length || !b.dims.length) throw new EvaluationError('MatMul does not accept scalars');
  // numpy.matmul: a 1-D A is a row (1, K), a 1-D B a column (K, 1); the added axis is dropped again.
  const aDims = a.dims.length === 1 ? [1, a.dims[0]] : a.dims;
  const bDims = b.dims.length === 1 ? [b.dims[0], 1] : b.dims;
  const [m, k] = aDims.slice(-2);
  const [kb, n] = bDims.slice(-2);
  if (k !== kb) throw new EvaluationError(`MatMul inner sizes differ: ${describeDims(a.dims)} × ${describeDims(b.dims)}`);
  const batch = broadcastDims(aDims.slice(0, -2), bDims.slice(0, -2));
  const dims = [...batch, ...(a.dims.length === 1 ? [] : [m]), ...(b.dims.length === 1 ? [] : [n])];
  const out = ctx.alloc(dims, a.isInt && b.isInt);
  const ad = a.data, bd = b.data, od = out.data;
  forEachBroadcast(batch, [aDims.slice(0, -2), bDims.slice(0, -2)], (p, at) => {
    const pa = at[0], pb = at[1];
    const aBase = pa * m * k, bBase = pb * k * n, oBase = p * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) sum += ad[aBase + i * k + q] * bd[bBase + q * n + j];
        od[oBase + i * n + j] = sum;
      }
    }
  });
  return [out];
};

const batchNormalization: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'X');
  const params = ['scale', 'B', 'input_mean', 'input_var'].map((name, i) => required(inputs, i + 1, name));
  if (getInt(node, 'training_mode', 0) !== 0) throw new EvaluationError('BatchNormalization with training_mode=1 is not supported (inference only)');
  if (node.outputs.slice(1).some(Boolean)) throw new EvaluationError('BatchNormalization training outputs (running mean/var) are not supported');
  if (x.dims.length < 2) throw new EvaluationError(`BatchNormalization needs an N×C×… input, got ${describeDims(x.dims)}`);
  const channels = x.dims[1];
  for (const p of params) if (p.data.length !== channels) throw new EvaluationError(`parameter of shape ${describeDims(p.dims)} does not match ${channels} channels`);
  const [scale, bias, mean, variance] = params.map((p) => p.data);
  const epsilon = getFloat(node, 'epsilon', 1e-5);
  const inner = elementCount(x.dims.slice(2));
  const out = ctx.alloc([...x.dims]);
  for (let i = 0; i < x.data.length; i++) {
    const ch = Math.floor(i / inner) % channels;
    out.data[i] = scale[ch] * (x.data[i] - mean[ch]) / Math.sqrt(variance[ch] + epsilon) + bias[ch];
  }
  return [out];
};

function softmax(log: boolean): OpFn {
  return (node, inputs, ctx) => {
    const x = required(inputs, 0, 'input');
    const r = x.dims.length;
    // Before opset 13 the input is coerced to 2-D at `axis` (default 1) and each row is one
    // softmax; from 13 it runs along the single axis `axis` (default -1).
    let outer: number, len: number, inner: number;
    if (ctx.opset < 13) {
      const raw = getInt(node, 'axis', 1);
      // The 2-D coercion accepts axis == rank (every value its own row).
      const axis = raw === r ? r : normalizeAxis(raw, r);
      outer = elementCount(x.dims.slice(0, axis));
      len = elementCount(x.dims.slice(axis));
      inner = 1;
    } else {
      const axis = normalizeAxis(getInt(node, 'axis', -1), r);
      outer = elementCount(x.dims.slice(0, axis));
      len = x.dims[axis];
      inner = elementCount(x.dims.slice(axis + 1));
    }
    const out = ctx.alloc([...x.dims]);
    const xd = x.data, od = out.data;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const base = o * len * inner + i;
        // Subtract the max for range safety; exp(x - max) ≤ 1.
        let max = -Infinity;
        for (let q = 0; q < len; q++) max = Math.max(max, xd[base + q * inner]);
        let sum = 0;
        for (let q = 0; q < len; q++) sum += Math.exp(xd[base + q * inner] - max);
        const logSum = Math.log(sum);
        for (let q = 0; q < len; q++) {
          const shifted = xd[base + q * inner] - max;
          od[base + q * inner] = log ? shifted - logSum : Math.exp(shifted) / sum;
        }
      }
    }
    return [out];
  };
}

const MATH_OPS: Record<string, OpFn> = {
  Gemm: gemm,
  MatMul: matMul,
  BatchNormalization: batchNormalization,
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
};

/** Every op the evaluator implements, default ONNX domain only. */
export const ONNX_OPS: ReadonlyMap<string, OpFn> = new Map(Object.entries({
  ...TENSOR_OPS, ...SHAPE_SUBGRAPH_OPS, ...SPATIAL_OPS, ...PAD_OPS, ...ELEMENTWISE_OPS, ...REDUCE_OPS, ...MATH_OPS,
}));

export function findOp(node: OnnxNode): OpFn | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  return ONNX_OPS.get(node.op);
}
