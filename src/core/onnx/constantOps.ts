// The tensor arithmetic of the constant folder (foldConstants.ts): ONNX operators evaluated on
// small constant tensors. Every function returns undefined for anything it cannot evaluate
// exactly — bad arguments, results that are not safe integers, and results of more than
// MAX_FOLDED_ELEMENTS elements or MAX_RANK axes, which are checked before anything is allocated
// (the arguments come from untrusted files).
import type { Tensor } from './onnxGraph.js';

/** Largest tensor the folder makes: shape computations hold a few values, not millions. */
export const MAX_FOLDED_ELEMENTS = 1 << 20;
/** Most axes a folded tensor may have (real models use up to 6 or so). */
export const MAX_RANK = 64;

type Kind = Tensor['kind'];

/** Element count of `dims` when they are non-negative safe integers within the limits above. */
export function checkedCount(dims: readonly number[]): number | undefined {
  if (dims.length > MAX_RANK) return undefined;
  let n = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (n > MAX_FOLDED_ELEMENTS) return undefined;
  }
  return n;
}

/** True when dims are valid and match the data (hand-built graphs may be inconsistent). */
export function wellFormed(t: Tensor): boolean {
  if (t.dims.length > MAX_RANK) return false;
  let n = 1;
  for (const d of t.dims) {
    if (!Number.isSafeInteger(d) || d < 0) return false;
    n *= d;
  }
  return n === t.data.length;
}

/** A tensor of `count` values f(0..count-1); undefined when an integer value is not a safe integer. */
function build(kind: Kind, dims: number[], count: number, f: (i: number) => number): Tensor | undefined {
  if (kind === 'float') {
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = f(i);
    return { kind, dims, data };
  }
  const data: number[] = [];
  for (let i = 0; i < count; i++) {
    const v = f(i);
    if (!Number.isSafeInteger(v)) return undefined;
    data.push(v === 0 ? 0 : v); // no -0 among integers
  }
  return { kind, dims, data };
}

/** Values copied from tensors of the same kind (so integers are already safe integers). */
function fromValues(kind: Kind, dims: number[], values: number[]): Tensor {
  return kind === 'float' ? { kind, dims, data: Float32Array.from(values) } : { kind, dims, data: values };
}

function rowMajorStrides(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
  return strides;
}

/** Source offsets base + Σ index[axis]·strides[axis] for every index of outDims, in row-major order. */
function offsets(outDims: readonly number[], strides: readonly number[], base: number, count: number): Int32Array {
  const out = new Int32Array(count);
  const rank = outDims.length;
  const counter = new Array<number>(rank).fill(0);
  let off = base;
  for (let k = 0; k < count; k++) {
    out[k] = off;
    for (let ax = rank - 1; ax >= 0; ax--) {
      off += strides[ax];
      if (++counter[ax] < outDims[ax]) break;
      off -= strides[ax] * outDims[ax];
      counter[ax] = 0;
    }
  }
  return out;
}

/** numpy broadcasting of two shapes (trailing axes align; 1 stretches). */
export function broadcastDims(a: readonly number[], b: readonly number[]): number[] | undefined {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[i - rank + a.length] ?? 1, y = b[i - rank + b.length] ?? 1;
    if (x === y || y === 1) out.push(x);
    else if (x === 1) out.push(y);
    else return undefined;
  }
  return out;
}

/** Offsets into `t` for every element of outDims (t broadcast to outDims). */
function broadcastOffsets(t: Tensor, outDims: readonly number[], count: number): Int32Array {
  const own = rowMajorStrides(t.dims);
  const strides = outDims.map((_, ax) => {
    const i = ax - outDims.length + t.dims.length;
    return i < 0 || t.dims[i] === 1 ? 0 : own[i];
  });
  return offsets(outDims, strides, 0, count);
}

/** Element-wise f over one to three broadcast inputs; the output is `kind`. */
export function elementwise(inputs: [Tensor] | [Tensor, Tensor] | [Tensor, Tensor, Tensor], kind: Kind, f: (...v: number[]) => number): Tensor | undefined {
  let dims: number[] | undefined = inputs[0].dims;
  for (const t of inputs.slice(1)) if (dims) dims = broadcastDims(dims, t.dims);
  const count = dims && checkedCount(dims);
  if (!dims || count === undefined) return undefined;
  const at = inputs.map((t) => broadcastOffsets(t, dims, count));
  const data = inputs.map((t) => t.data);
  if (inputs.length === 1) return build(kind, dims, count, (i) => f(data[0][at[0][i]]));
  if (inputs.length === 2) return build(kind, dims, count, (i) => f(data[0][at[0][i]], data[1][at[1][i]]));
  return build(kind, dims, count, (i) => f(data[0][at[0][i]], data[1][at[1][i]], data[2][at[2][i]]));
}

/** ONNX Div on integers truncates toward zero (onnxruntime, like C); BigInt is exact where doubles are not. */
export function intDiv(a: number, b: number): number {
  if (b === 0) return NaN;
  if (Math.abs(a) <= 2 ** 31 && Math.abs(b) <= 2 ** 31) return Math.trunc(a / b);
  return Number(BigInt(a) / BigInt(b));
}

/** ONNX Mod on integers: fmod=0 takes the divisor's sign (like Python), fmod=1 the dividend's (like C). */
export function intMod(a: number, b: number, fmod: boolean): number {
  if (b === 0) return NaN;
  const r = a % b;
  return !fmod && r !== 0 && (r < 0) !== (b < 0) ? r + b : r;
}

export function constantOfShape(shape: Tensor, value: Tensor | undefined): Tensor | undefined {
  if (shape.kind !== 'int' || shape.dims.length !== 1 || shape.data.length > MAX_RANK) return undefined;
  if (value && value.data.length !== 1) return undefined;
  const dims = shape.data.slice();
  const count = checkedCount(dims);
  if (count === undefined) return undefined;
  const v = value ? value.data[0] : 0;
  return build(value?.kind ?? 'float', dims, count, () => v);
}

export function concat(parts: Tensor[], axis: number): Tensor | undefined {
  const first = parts[0];
  const rank = first.dims.length;
  if (rank === 0 || axis < -rank || axis >= rank) return undefined;
  const ax = axis < 0 ? axis + rank : axis;
  let total = 0;
  for (const p of parts) {
    if (p.kind !== first.kind || p.dims.length !== rank) return undefined;
    for (let i = 0; i < rank; i++) if (i !== ax && p.dims[i] !== first.dims[i]) return undefined;
    total += p.dims[ax];
  }
  const dims = first.dims.slice();
  dims[ax] = total;
  const count = checkedCount(dims);
  if (count === undefined) return undefined;
  const outer = count === 0 ? 0 : first.dims.slice(0, ax).reduce((x, y) => x * y, 1);
  const inner = first.dims.slice(ax + 1).reduce((x, y) => x * y, 1);
  const nonEmpty = parts.filter((p) => p.data.length > 0); // 100k empty parts must not cost 100k steps per row
  const values: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of nonEmpty) {
      const block = p.dims[ax] * inner;
      for (let i = o * block; i < (o + 1) * block; i++) values.push(p.data[i]);
    }
  }
  return fromValues(first.kind, dims, values);
}

/** Gather along `axis` with indices of any rank (negative indices count from the end). */
export function gather(data: Tensor, indices: Tensor, axis: number): Tensor | undefined {
  const rank = data.dims.length;
  if (indices.kind !== 'int' || rank === 0 || axis < -rank || axis >= rank) return undefined;
  const ax = axis < 0 ? axis + rank : axis;
  if (indices.data.length > MAX_FOLDED_ELEMENTS) return undefined;
  const dims = [...data.dims.slice(0, ax), ...indices.dims, ...data.dims.slice(ax + 1)];
  const count = checkedCount(dims);
  if (count === undefined) return undefined;
  const n = data.dims[ax];
  const picked: number[] = [];
  for (const raw of indices.data) {
    const i = raw < 0 ? raw + n : raw;
    if (!Number.isInteger(i) || i < 0 || i >= n) return undefined;
    picked.push(i);
  }
  const outer = data.dims.slice(0, ax).reduce((x, y) => x * y, 1);
  const inner = data.dims.slice(ax + 1).reduce((x, y) => x * y, 1);
  const values: number[] = [];
  if (count > 0) {
    for (let o = 0; o < outer; o++) {
      for (const i of picked) {
        const start = (o * n + i) * inner;
        for (let k = start; k < start + inner; k++) values.push(data.data[k]);
      }
    }
  }
  return fromValues(data.kind, dims, values);
}

/** Slice (the opset-10 form; opset 1's attributes map onto it with steps of 1). */
export function slice(data: Tensor, starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined): Tensor | undefined {
  const rank = data.dims.length;
  const n = starts.length;
  if (n > rank || ends.length !== n || (axes && axes.length !== n) || (steps && steps.length !== n)) return undefined;
  const dims = data.dims.slice();
  const own = rowMajorStrides(data.dims);
  const strides = own.slice();
  const seen = new Set<number>();
  let base = 0;
  for (let k = 0; k < n; k++) {
    const raw = axes ? axes[k] : k;
    const ax = raw < 0 ? raw + rank : raw;
    if (!Number.isInteger(ax) || ax < 0 || ax >= rank || seen.has(ax)) return undefined;
    seen.add(ax);
    const step = steps ? steps[k] : 1;
    if (!Number.isInteger(step) || step === 0) return undefined;
    const d = data.dims[ax];
    const norm = (v: number) => (v < 0 ? v + d : v);
    let start = norm(starts[k]), end = norm(ends[k]);
    if (step > 0) {
      start = Math.min(Math.max(start, 0), d);
      end = Math.min(Math.max(end, 0), d);
    } else {
      start = Math.min(Math.max(start, 0), d - 1);
      end = Math.min(Math.max(end, -1), d - 1);
    }
    if (Number.isNaN(start) || Number.isNaN(end)) return undefined;
    dims[ax] = Math.max(0, Math.ceil((end - start) / step));
    if (dims[ax] > 0) base += start * own[ax];
    strides[ax] = own[ax] * step;
  }
  const count = checkedCount(dims);
  if (count === undefined) return undefined;
  const at = offsets(dims, strides, base, count);
  return build(data.kind, dims, count, (i) => data.data[at[i]]);
}

export function transpose(data: Tensor, perm: number[] | undefined): Tensor | undefined {
  const rank = data.dims.length;
  const p = perm ?? data.dims.map((_, i) => rank - 1 - i);
  if (p.length !== rank || new Set(p).size !== rank || p.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) return undefined;
  const own = rowMajorStrides(data.dims);
  const dims = p.map((a) => data.dims[a]);
  const count = checkedCount(dims);
  if (count === undefined) return undefined;
  const at = offsets(dims, p.map((a) => own[a]), 0, count);
  return build(data.kind, dims, count, (i) => data.data[at[i]]);
}

/** Reshape's output dims: 0 copies the input's dim (unless allowzero), one -1 takes the rest. */
export function reshapeDims(input: readonly number[], shape: readonly number[], allowZero: boolean): number[] | undefined {
  if (shape.length > MAX_RANK) return undefined;
  let inferred = -1, known = 1, total = 1;
  for (const d of input) total *= d;
  const dims: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    let d = shape[i];
    if (d === 0 && !allowZero) {
      if (i >= input.length) return undefined;
      d = input[i];
    } else if (d === -1) {
      if (inferred >= 0) return undefined;
      inferred = i;
    } else if (!Number.isSafeInteger(d) || d < 0) {
      return undefined;
    }
    if (d !== -1) known *= d;
    dims.push(d);
  }
  if (inferred >= 0) {
    if (known === 0 || total % known !== 0) return undefined;
    dims[inferred] = total / known;
  }
  return checkedCount(dims) === total ? dims : undefined;
}

export function range(start: Tensor, limit: Tensor, delta: Tensor): Tensor | undefined {
  if (start.data.length !== 1 || limit.data.length !== 1 || delta.data.length !== 1) return undefined;
  if (limit.kind !== start.kind || delta.kind !== start.kind) return undefined;
  const s = start.data[0], l = limit.data[0], d = delta.data[0];
  if (d === 0 || !Number.isFinite(s) || !Number.isFinite(l) || !Number.isFinite(d)) return undefined;
  const count = Math.max(0, Math.ceil((l - s) / d));
  if (count > MAX_FOLDED_ELEMENTS) return undefined;
  return build(start.kind, [count], count, (i) => s + i * d);
}

export function expand(data: Tensor, shape: Tensor): Tensor | undefined {
  if (shape.kind !== 'int' || shape.dims.length !== 1 || shape.data.length > MAX_RANK) return undefined;
  const dims = broadcastDims(data.dims, shape.data);
  const count = dims && checkedCount(dims);
  if (!dims || count === undefined) return undefined;
  const at = broadcastOffsets(data, dims, count);
  return build(data.kind, dims, count, (i) => data.data[at[i]]);
}

/** ONNX Cast to element type `to`: floats truncate to integers, which wrap to the narrower types. */
export function cast(data: Tensor, to: number): Tensor | undefined {
  const count = checkedCount(data.dims);
  if (count === undefined) return undefined;
  const values = data.data;
  switch (to) {
    case 1: case 11: return build('float', data.dims, count, (i) => values[i]);
    case 10: case 16: // float16 / bfloat16: only values both hold exactly (small integers)
      for (const v of values) if (!Number.isInteger(v) || Math.abs(v) > 256) return undefined;
      return build('float', data.dims, count, (i) => values[i]);
    case 9: return build('int', data.dims, count, (i) => (values[i] !== 0 ? 1 : 0));
  }
  const wrap = WRAP[to];
  if (!wrap) return undefined;
  return build('int', data.dims, count, (i) => {
    const v = Math.trunc(values[i]);
    return Number.isSafeInteger(v) ? wrap(v) : NaN;
  });
}

const WRAP: Record<number, (v: number) => number> = {
  2: (v) => v & 0xff, 3: (v) => (v << 24) >> 24, 4: (v) => v & 0xffff, 5: (v) => (v << 16) >> 16,
  6: (v) => v | 0, 7: (v) => v, 12: (v) => v >>> 0, 13: (v) => (v >= 0 ? v : NaN),
};
