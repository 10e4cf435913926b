// Element-by-element ops of the reference evaluator: activations, Neg/Sqrt/Not, numpy-broadcast
// Add/Sub/Mul/Div/Pow/Equal, the three-way broadcast Where, variadic Max/Min, and Clip. Like
// the rest of the evaluator it shares no code with the converter's lowering.
import { EvaluationError } from '../errors.js';
import { elementCount, getFloat } from '../onnx/onnxGraph.js';
import { describeDims, required, scalarValue, type OpFn } from './onnxOpsTensor.js';

/** numpy broadcasting of shapes (right-aligned; each set of sizes equal or 1). */
export function broadcastDims(...shapes: (readonly number[])[]): number[] {
  const r = Math.max(0, ...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    let size = 1;
    for (const s of shapes) {
      const d = s[s.length - r + i] ?? 1;
      if (d === 1) continue;
      if (size !== 1 && d !== size) throw new EvaluationError(`shapes ${shapes.map(describeDims).join(' and ')} cannot be broadcast together`);
      size = d;
    }
    out.push(size);
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

/**
 * Calls visit(outIndex, offsets) for every element of the broadcast output, in order, where
 * offsets[k] is the matching element of operand k (whose shape is operands[k]). The offsets
 * array is reused between calls.
 */
export function forEachBroadcast(outDims: readonly number[], operands: readonly (readonly number[])[], visit: (o: number, offsets: readonly number[]) => void): void {
  const r = outDims.length;
  const k = operands.length;
  const strides = operands.map((dims) => broadcastStrides(dims, outDims));
  const idx = new Array<number>(r).fill(0);
  const offsets = new Array<number>(k).fill(0);
  const n = elementCount(outDims);
  for (let o = 0; o < n; o++) {
    visit(o, offsets);
    // Odometer step: advance the last axis, carrying into earlier ones.
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      for (let j = 0; j < k; j++) offsets[j] += strides[j][d];
      if (idx[d] < outDims[d]) break;
      for (let j = 0; j < k; j++) offsets[j] -= strides[j][d] * outDims[d];
      idx[d] = 0;
    }
  }
}

/** Element type of an op's result: the input's ('same'), always float, or always bool/int. */
type ResultType = 'same' | 'float' | 'int';

function unary(f: (v: number) => number, type: ResultType = 'float'): OpFn {
  return (_node, inputs, ctx) => {
    const x = required(inputs, 0, 'X');
    const out = ctx.alloc([...x.dims], type === 'int' || (type === 'same' && x.isInt));
    for (let i = 0; i < x.data.length; i++) out.data[i] = f(x.data[i]);
    return [out];
  };
}

/** Two-input op with numpy broadcasting; `intF` replaces f when both inputs are integers. */
function binary(f: (a: number, b: number) => number, options: { intF?: (a: number, b: number) => number; type?: ResultType | 'first' } = {}): OpFn {
  return (_node, inputs, ctx) => {
    const a = required(inputs, 0, 'A');
    const b = required(inputs, 1, 'B');
    const type = options.type ?? 'same';
    const isInt = type === 'int' || (type === 'same' && a.isInt && b.isInt) || (type === 'first' && a.isInt);
    const g = a.isInt && b.isInt && options.intF ? options.intF : f;
    const dims = broadcastDims(a.dims, b.dims);
    const out = ctx.alloc(dims, isInt);
    const ad = a.data, bd = b.data, od = out.data;
    // Common cases without index bookkeeping: equal shapes, or a single value on one side.
    if (ad.length === od.length && bd.length === od.length) {
      for (let i = 0; i < od.length; i++) od[i] = g(ad[i], bd[i]);
    } else if (bd.length === 1 && ad.length === od.length) {
      for (let i = 0; i < od.length; i++) od[i] = g(ad[i], bd[0]);
    } else {
      forEachBroadcast(dims, [a.dims, b.dims], (o, at) => {
        od[o] = g(ad[at[0]], bd[at[1]]);
      });
    }
    return [out];
  };
}

function intDivide(a: number, b: number): number {
  if (b === 0) throw new EvaluationError('integer division by zero');
  return Math.trunc(a / b);
}

/** C's pow (what ONNX runtimes call), which differs from Math.pow for a base of ±1. */
function cPow(a: number, b: number): number {
  if (a === 1 || b === 0) return 1;
  if (a === -1 && (b === Infinity || b === -Infinity)) return 1;
  return Math.pow(a, b);
}

/** Pow's result has the element type of the base: an integer base truncates (as a cast would). */
const pow: OpFn = (node, inputs, ctx) => {
  const intBase = required(inputs, 0, 'X').isInt;
  return binary(intBase ? (a, b) => Math.trunc(cPow(a, b)) : cPow, { type: 'first' })(node, inputs, ctx);
};

/** Where(condition, X, Y): X where condition is true, else Y, all three broadcast together. */
const where: OpFn = (_node, inputs, ctx) => {
  const c = required(inputs, 0, 'condition');
  const x = required(inputs, 1, 'X');
  const y = required(inputs, 2, 'Y');
  const dims = broadcastDims(c.dims, x.dims, y.dims);
  const out = ctx.alloc(dims, x.isInt && y.isInt);
  const cd = c.data, xd = x.data, yd = y.data, od = out.data;
  forEachBroadcast(dims, [c.dims, x.dims, y.dims], (o, at) => {
    od[o] = cd[at[0]] !== 0 ? xd[at[1]] : yd[at[2]];
  });
  return [out];
};

/** Max/Min of any number of inputs, all broadcast together; NaN wins (as with numpy.maximum). */
function variadic(f: (a: number, b: number) => number): OpFn {
  return (_node, inputs, ctx) => {
    const parts = inputs.map((_t, i) => required(inputs, i, `data_${i}`));
    if (!parts.length) throw new EvaluationError('needs at least one input');
    const dims = broadcastDims(...parts.map((p) => p.dims));
    const out = ctx.alloc(dims, parts.every((p) => p.isInt));
    const od = out.data;
    forEachBroadcast(dims, parts.map((p) => p.dims), (o, at) => {
      let acc = parts[0].data[at[0]];
      for (let j = 1; j < parts.length; j++) acc = f(acc, parts[j].data[at[j]]);
      od[o] = acc;
    });
    return [out];
  };
}

/** Bounds of Clip before opset 11: attributes defaulting to the float range (not ±infinity). */
const FLOAT_MAX = 3.4028234663852886e38;

const clip: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'input');
  // Before opset 11 the bounds are attributes; from 11 optional scalar inputs ('' when omitted).
  let lo: number, hi: number;
  if (ctx.opset < 11) {
    if (inputs.length > 1) throw new EvaluationError(`Clip takes min and max as attributes before opset 11, not as inputs (opset ${ctx.opset})`);
    lo = getFloat(node, 'min', -FLOAT_MAX);
    hi = getFloat(node, 'max', FLOAT_MAX);
  } else {
    if (node.attributes.has('min') || node.attributes.has('max')) throw new EvaluationError(`Clip takes min and max as inputs from opset 11, not as attributes (opset ${ctx.opset})`);
    lo = inputs[1] ? scalarValue(inputs[1], 'min') : -Infinity;
    hi = inputs[2] ? scalarValue(inputs[2], 'max') : Infinity;
  }
  const out = ctx.alloc([...x.dims], x.isInt);
  // min(max(x, lo), hi): with lo > hi every value becomes hi, as the spec says.
  for (let i = 0; i < x.data.length; i++) out.data[i] = Math.min(Math.max(x.data[i], lo), hi);
  return [out];
};

const leakyRelu: OpFn = (node, inputs, ctx) => {
  const alpha = getFloat(node, 'alpha', 0.01);
  return unary((v) => (v < 0 ? alpha * v : v))(node, inputs, ctx);
};

export const ELEMENTWISE_OPS: Record<string, OpFn> = {
  Relu: unary((v) => (v < 0 ? 0 : v), 'same'),
  LeakyRelu: leakyRelu,
  Sigmoid: unary((v) => 1 / (1 + Math.exp(-v))),
  Tanh: unary(Math.tanh),
  Neg: unary((v) => -v, 'same'),
  Sqrt: unary(Math.sqrt),
  Not: unary((v) => (v !== 0 ? 0 : 1), 'int'),
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: binary((a, b) => a / b, { intF: intDivide }),
  Pow: pow,
  Equal: binary((a, b) => (a === b ? 1 : 0), { type: 'int' }),
  Where: where,
  Max: variadic(Math.max),
  Min: variadic(Math.min),
  Clip: clip,
};
