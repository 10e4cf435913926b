// The reference evaluator's tensor type, the helpers every op shares, and the ops that only
// move, reshape or create data (no arithmetic): Identity, Dropout, Constant, Shape, Flatten,
// Reshape, Squeeze, Unsqueeze, Concat, Gather, Transpose, Cast.
import { EvaluationError } from '../errors.js';
import { elementCount, getFloat, getInt, getInts, type OnnxNode, type Tensor } from '../onnx/onnxGraph.js';

/**
 * A value during evaluation. Everything is float64 so the evaluator is a higher-precision
 * reference than the float32 firmware; integer tensors (shapes, indices, masks) carry
 * exact integers in the same array type, marked by isInt.
 */
export interface EvalTensor {
  dims: number[];
  data: Float64Array;
  isInt: boolean;
}

export interface OpContext {
  /** Version of the default operator set: some ops changed their inputs/attributes with it. */
  opset: number;
  /** Element count of dims, refused (EvaluationError) when over the size limit or not a valid shape. */
  check(dims: readonly number[]): number;
  /** A zero-filled tensor, size-checked before the memory is taken. */
  alloc(dims: number[], isInt?: boolean): EvalTensor;
}

/** One op: inputs by position (undefined where omitted), outputs by position. */
export type OpFn = (node: OnnxNode, inputs: readonly (EvalTensor | undefined)[], ctx: OpContext) => (EvalTensor | undefined)[];

export function describeDims(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}

export function required(inputs: readonly (EvalTensor | undefined)[], index: number, what: string): EvalTensor {
  const t = inputs[index];
  if (!t) throw new EvaluationError(`missing required input #${index} (${what})`);
  return t;
}

/** Integer values of a shape/axes/indices tensor, as plain numbers. */
export function intValues(t: EvalTensor, what: string): number[] {
  const out = Array.from(t.data);
  if (out.some((v) => !Number.isInteger(v))) throw new EvaluationError(`${what} must hold integers, got [${out.join(', ')}]`);
  return out;
}

/** Single value of a scalar (or one-element) tensor. */
export function scalarValue(t: EvalTensor, what: string): number {
  if (t.data.length !== 1) throw new EvaluationError(`${what} must be a scalar, got shape ${describeDims(t.dims)}`);
  return t.data[0];
}

/** Resolves a possibly negative axis against a rank (ONNX accepts [-rank, rank-1]). */
export function normalizeAxis(axis: number, rank: number, what = 'axis'): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) throw new EvaluationError(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

export function fromTensor(t: Tensor, ctx: OpContext): EvalTensor {
  ctx.check(t.dims);
  const data = Float64Array.from(t.data);
  if (data.length !== elementCount(t.dims)) throw new EvaluationError(`tensor of shape ${describeDims(t.dims)} holds ${data.length} values`);
  return { dims: [...t.dims], data, isInt: t.kind === 'int' };
}

/** Same data under another shape (tensors are never mutated after creation, so sharing is safe). */
function reshaped(t: EvalTensor, dims: number[]): EvalTensor {
  return { dims, data: t.data, isInt: t.isInt };
}

/** Row-major strides of dims. */
export function stridesOf(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  let acc = 1;
  for (let d = dims.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= dims[d];
  }
  return s;
}

/** The axes of Squeeze/Unsqueeze: an attribute before opset 13, the second input from 13 on. */
function axesOf(node: OnnxNode, inputs: readonly (EvalTensor | undefined)[], ctx: OpContext): number[] | undefined {
  if (ctx.opset < 13) return getInts(node, 'axes');
  return inputs[1] ? intValues(inputs[1], 'axes') : undefined;
}

const identity: OpFn = (_node, inputs) => [required(inputs, 0, 'input')];

const dropout: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  // Inference only: training_mode (opset 12+) with a non-zero ratio would drop values at random.
  const training = inputs[2] ? scalarValue(inputs[2], 'training_mode') !== 0 : false;
  const ratio = ctx.opset >= 12 ? (inputs[1] ? scalarValue(inputs[1], 'ratio') : 0.5) : getFloat(node, 'ratio', 0.5);
  if (training && ratio !== 0) throw new EvaluationError('Dropout with training_mode=true is random; only inference is supported');
  if (!node.outputs[1]) return [x];
  const mask = ctx.alloc([...x.dims], true);
  mask.data.fill(1);
  return [x, mask];
};

const constant: OpFn = (node, _inputs, ctx) => {
  for (const [name, a] of node.attributes) {
    if (name === 'value' && a.type === 'tensor') return [fromTensor(a.value, ctx)];
    if (name === 'value_float' && a.type === 'float') return [{ dims: [], data: Float64Array.of(a.value), isInt: false }];
    if (name === 'value_floats' && a.type === 'floats') return [{ dims: [a.value.length], data: Float64Array.from(a.value), isInt: false }];
    if (name === 'value_int' && a.type === 'int') return [{ dims: [], data: Float64Array.of(a.value), isInt: true }];
    if (name === 'value_ints' && a.type === 'ints') return [{ dims: [a.value.length], data: Float64Array.from(a.value), isInt: true }];
  }
  const names = [...node.attributes.keys()].join(', ') || 'none';
  throw new EvaluationError(`Constant needs a value, value_float(s) or value_int(s) attribute (has: ${names})`);
};

const shape: OpFn = (node, inputs) => {
  const dims = required(inputs, 0, 'data').dims;
  const r = dims.length;
  // Opset 15 start/end: negative counts from the end, out-of-range values are clamped.
  const clamp = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
  const start = clamp(getInt(node, 'start', 0));
  const end = clamp(getInt(node, 'end', r));
  const picked = dims.slice(start, Math.max(start, end));
  return [{ dims: [picked.length], data: Float64Array.from(picked), isInt: true }];
};

const flatten: OpFn = (node, inputs) => {
  const x = required(inputs, 0, 'input');
  const r = x.dims.length;
  const raw = getInt(node, 'axis', 1);
  // axis may equal the rank here (everything goes into the first dimension).
  if (raw < -r || raw > r) throw new EvaluationError(`axis ${raw} is out of range for rank ${r}`);
  const axis = raw < 0 ? raw + r : raw;
  return [reshaped(x, [elementCount(x.dims.slice(0, axis)), elementCount(x.dims.slice(axis))])];
};

const reshape: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const requested = intValues(required(inputs, 1, 'shape'), 'shape');
  const allowZero = getInt(node, 'allowzero', 0) === 1;
  const dims = requested.map((v, i) => (v === 0 && !allowZero ? (i < x.dims.length ? x.dims[i] : NaN) : v));
  if (dims.some((v) => Number.isNaN(v))) throw new EvaluationError(`shape [${requested.join(', ')}] copies a dimension (0) that input ${describeDims(x.dims)} does not have`);
  const inferred = dims.filter((v) => v === -1).length;
  if (inferred > 1 || dims.some((v) => v < -1)) throw new EvaluationError(`invalid shape [${requested.join(', ')}]`);
  const total = elementCount(x.dims);
  if (inferred === 1) {
    const known = elementCount(dims.filter((v) => v !== -1));
    if (known === 0 || total % known !== 0) throw new EvaluationError(`cannot reshape ${describeDims(x.dims)} to [${requested.join(', ')}]`);
    dims[dims.indexOf(-1)] = total / known;
  }
  if (elementCount(dims) !== total) throw new EvaluationError(`cannot reshape ${describeDims(x.dims)} (${total} values) to ${describeDims(dims)}`);
  // The new shape comes from the file: an empty tensor may not take on unbounded dimensions.
  ctx.check(dims);
  return [reshaped(x, dims)];
};

const squeeze: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const r = x.dims.length;
  const given = axesOf(node, inputs, ctx);
  // Without axes every dimension of size 1 goes; so it does with empty axes (as onnxruntime reads them).
  const axes = given?.length ? given.map((a) => normalizeAxis(a, r)) : x.dims.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of axes) if (x.dims[a] !== 1) throw new EvaluationError(`cannot squeeze axis ${a} of shape ${describeDims(x.dims)}: its size is not 1`);
  return [reshaped(x, x.dims.filter((_, i) => !axes.includes(i)))];
};

const unsqueeze: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const given = axesOf(node, inputs, ctx);
  if (!given) throw new EvaluationError('Unsqueeze needs axes');
  // Axes refer to the output, whose rank is input rank + number of axes.
  const outRank = x.dims.length + given.length;
  const axes = given.map((a) => normalizeAxis(a, outRank));
  if (new Set(axes).size !== axes.length) throw new EvaluationError(`repeated axis in [${given.join(', ')}]`);
  const dims: number[] = [];
  let next = 0;
  for (let i = 0; i < outRank; i++) dims.push(axes.includes(i) ? 1 : x.dims[next++]);
  return [reshaped(x, dims)];
};

const concat: OpFn = (node, inputs, ctx) => {
  const parts = inputs.map((_t, i) => required(inputs, i, 'input'));
  if (!parts.length) throw new EvaluationError('Concat needs at least one input');
  if (!node.attributes.has('axis')) throw new EvaluationError('Concat needs an axis attribute');
  const r = parts[0].dims.length;
  const axis = normalizeAxis(getInt(node, 'axis', 0), r);
  for (const p of parts) {
    if (p.dims.length !== r || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i])) {
      throw new EvaluationError(`cannot concatenate shapes ${parts.map((q) => describeDims(q.dims)).join(', ')} on axis ${axis}`);
    }
  }
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((s, p) => s + p.dims[axis], 0);
  const out = ctx.alloc(dims, parts.every((p) => p.isInt));
  const outer = elementCount(dims.slice(0, axis));
  const outChunk = elementCount(dims.slice(axis));
  let offset = 0;
  for (const p of parts) {
    const chunk = elementCount(p.dims.slice(axis));
    for (let o = 0; o < outer; o++) out.data.set(p.data.subarray(o * chunk, (o + 1) * chunk), o * outChunk + offset);
    offset += chunk;
  }
  return [out];
};

const gather: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const indices = required(inputs, 1, 'indices');
  const axis = normalizeAxis(getInt(node, 'axis', 0), x.dims.length);
  const size = x.dims[axis];
  const idx = intValues(indices, 'indices').map((i) => {
    if (i < -size || i >= size) throw new EvaluationError(`index ${i} is out of range for axis ${axis} of size ${size}`);
    return i < 0 ? i + size : i;
  });
  const dims = [...x.dims.slice(0, axis), ...indices.dims, ...x.dims.slice(axis + 1)];
  const out = ctx.alloc(dims, x.isInt);
  const outer = elementCount(x.dims.slice(0, axis));
  const inner = elementCount(x.dims.slice(axis + 1));
  let w = 0;
  for (let o = 0; o < outer; o++) {
    for (const i of idx) {
      const from = (o * size + i) * inner;
      out.data.set(x.data.subarray(from, from + inner), w);
      w += inner;
    }
  }
  return [out];
};

const transpose: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const r = x.dims.length;
  const perm = getInts(node, 'perm') ?? x.dims.map((_, i) => r - 1 - i);
  if (perm.length !== r || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new EvaluationError(`perm [${perm.join(', ')}] is not a permutation of the ${r} axes`);
  }
  const dims = perm.map((p) => x.dims[p]);
  const out = ctx.alloc(dims, x.isInt);
  const inStrides = stridesOf(x.dims);
  const step = perm.map((p) => inStrides[p]);
  // Walk the output in order with an odometer over its index, tracking the input offset.
  const idx = new Array<number>(r).fill(0);
  let from = 0;
  for (let i = 0; i < out.data.length; i++) {
    out.data[i] = x.data[from];
    for (let d = r - 1; d >= 0; d--) {
      idx[d]++;
      from += step[d];
      if (idx[d] < dims[d]) break;
      from -= step[d] * dims[d];
      idx[d] = 0;
    }
  }
  return [out];
};

/** ONNX element types that are floating point (FLOAT16, FLOAT, DOUBLE, BFLOAT16). */
const FLOAT_TYPES = new Set([1, 10, 11, 16]);
const INT_TYPES = new Set([2, 3, 4, 5, 6, 7, 9, 12, 13]);

const cast: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'input');
  const to = getInt(node, 'to', NaN);
  // Casts between float types do not round: the evaluator deliberately keeps float64 throughout.
  if (FLOAT_TYPES.has(to)) return [{ dims: x.dims, data: x.data, isInt: false }];
  if (!INT_TYPES.has(to)) throw new EvaluationError(`Cast to element type ${to} is not supported`);
  const out = ctx.alloc([...x.dims], true);
  // BOOL (9) is non-zero → 1; other integer types truncate toward zero like numpy's astype.
  for (let i = 0; i < x.data.length; i++) out.data[i] = to === 9 ? (x.data[i] !== 0 ? 1 : 0) : Math.trunc(x.data[i]);
  return [out];
};

export const TENSOR_OPS: Record<string, OpFn> = {
  Identity: identity,
  Dropout: dropout,
  Constant: constant,
  Shape: shape,
  Flatten: flatten,
  Reshape: reshape,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Gather: gather,
  Transpose: transpose,
  Cast: cast,
};
