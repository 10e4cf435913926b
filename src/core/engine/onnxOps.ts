// The reference evaluator's op table (ONNX op name → implementation) and the arithmetic ops:
// activations, numpy-broadcast Add/Sub/Mul/Div, Gemm, MatMul, BatchNormalization,
// Softmax/LogSoftmax, Clip. Data-movement ops live in onnxOpsTensor.ts, window ops in
// onnxOpsSpatial.ts. None of this shares code with the converter's lowering on purpose:
// it is the independent reference the converted blob is checked against.
import { EvaluationError } from '../errors.js';
import { elementCount, getFloat, getInt, type OnnxNode } from '../onnx/onnxGraph.js';
import { SPATIAL_OPS } from './onnxOpsSpatial.js';
import { describeDims, normalizeAxis, required, scalarValue, TENSOR_OPS, type OpFn } from './onnxOpsTensor.js';

export type { EvalTensor, OpContext, OpFn } from './onnxOpsTensor.js';

/** numpy broadcasting of two shapes (right-aligned; each pair equal or one of them 1). */
export function broadcastDims(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new EvaluationError(`shapes ${describeDims(a)} and ${describeDims(b)} cannot be broadcast together`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `dims` laid against the right-aligned output shape, 0 where it is broadcast. */
function broadcastStrides(dims: readonly number[], outDims: readonly number[]): number[] {
  const strides = new Array<number>(outDims.length).fill(0);
  let acc = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    const d = outDims.length - dims.length + i;
    strides[d] = dims[i] === 1 ? 0 : acc;
    acc *= dims[i];
  }
  return strides;
}

/** Calls visit(outIndex, aIndex, bIndex) for every element of the broadcast output, in order. */
function forEachBroadcast(outDims: readonly number[], aDims: readonly number[], bDims: readonly number[], visit: (o: number, ia: number, ib: number) => void): void {
  const r = outDims.length;
  const sa = broadcastStrides(aDims, outDims);
  const sb = broadcastStrides(bDims, outDims);
  const idx = new Array<number>(r).fill(0);
  const n = elementCount(outDims);
  let ia = 0, ib = 0;
  for (let o = 0; o < n; o++) {
    visit(o, ia, ib);
    // Odometer step: advance the last axis, carrying into earlier ones.
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < outDims[d]) break;
      ia -= sa[d] * outDims[d];
      ib -= sb[d] * outDims[d];
      idx[d] = 0;
    }
  }
}

function unary(f: (v: number) => number): OpFn {
  return (_node, inputs, ctx) => {
    const x = required(inputs, 0, 'X');
    const out = ctx.alloc([...x.dims]);
    for (let i = 0; i < x.data.length; i++) out.data[i] = f(x.data[i]);
    return [out];
  };
}

function binary(f: (a: number, b: number) => number, intF?: (a: number, b: number) => number): OpFn {
  return (_node, inputs, ctx) => {
    const a = required(inputs, 0, 'A');
    const b = required(inputs, 1, 'B');
    const isInt = a.isInt && b.isInt;
    const g = isInt && intF ? intF : f;
    const dims = broadcastDims(a.dims, b.dims);
    const out = ctx.alloc(dims, isInt);
    const ad = a.data, bd = b.data, od = out.data;
    // Common cases without index bookkeeping: equal shapes, or a single value on one side.
    if (ad.length === od.length && bd.length === od.length) {
      for (let i = 0; i < od.length; i++) od[i] = g(ad[i], bd[i]);
    } else if (bd.length === 1 && ad.length === od.length) {
      for (let i = 0; i < od.length; i++) od[i] = g(ad[i], bd[0]);
    } else {
      forEachBroadcast(dims, a.dims, b.dims, (o, ia, ib) => {
        od[o] = g(ad[ia], bd[ib]);
      });
    }
    return [out];
  };
}

function intDivide(a: number, b: number): number {
  if (b === 0) throw new EvaluationError('integer division by zero');
  return Math.trunc(a / b);
}

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
    forEachBroadcast([m, n], [m, n], c.dims, (o, _ia, ic) => {
      od[o] += beta * c.data[ic];
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
  forEachBroadcast(batch, aDims.slice(0, -2), bDims.slice(0, -2), (p, pa, pb) => {
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

const clip: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'input');
  // Before opset 11 the bounds are attributes; from 11 optional scalar inputs.
  const lo = ctx.opset < 11 ? getFloat(node, 'min', -Infinity) : inputs[1] ? scalarValue(inputs[1], 'min') : -Infinity;
  const hi = ctx.opset < 11 ? getFloat(node, 'max', Infinity) : inputs[2] ? scalarValue(inputs[2], 'max') : Infinity;
  const out = ctx.alloc([...x.dims], x.isInt);
  // min(max(x, lo), hi): with lo > hi every value becomes hi, as the spec says.
  for (let i = 0; i < x.data.length; i++) out.data[i] = Math.min(Math.max(x.data[i], lo), hi);
  return [out];
};

const leakyRelu: OpFn = (node, inputs, ctx) => {
  const alpha = getFloat(node, 'alpha', 0.01);
  return unary((v) => (v < 0 ? alpha * v : v))(node, inputs, ctx);
};

const MATH_OPS: Record<string, OpFn> = {
  Relu: unary((v) => (v < 0 ? 0 : v)),
  LeakyRelu: leakyRelu,
  Sigmoid: unary((v) => 1 / (1 + Math.exp(-v))),
  Tanh: unary(Math.tanh),
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary((a, b) => a / b, intDivide),
  Gemm: gemm,
  MatMul: matMul,
  BatchNormalization: batchNormalization,
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  Clip: clip,
};

/** Every op the evaluator implements, default ONNX domain only. */
export const ONNX_OPS: ReadonlyMap<string, OpFn> = new Map(Object.entries({ ...TENSOR_OPS, ...SPATIAL_OPS, ...MATH_OPS }));

export function findOp(node: OnnxNode): OpFn | undefined {
  if (node.domain !== '' && node.domain !== 'ai.onnx') return undefined;
  return ONNX_OPS.get(node.op);
}
