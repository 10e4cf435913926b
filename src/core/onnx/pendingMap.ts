// A linear map the firmware has no layer for, kept aside until a layer can absorb it. It takes
// the tensor the last layer wrote ("physical", NCHW order) to the tensor the ONNX graph has
// reached ("logical"): every physical value feeds at most one logical value,
//   logical[j] = shift[j] + Σ_{i : row[i] = j} coef[i] · physical[i],
// which covers per-channel or per-element scale and shift (BatchNorm, x·a + b), means and sums
// over axes (GlobalAveragePool, ReduceMean) and reorderings (Transpose), and any chain of them.
// A following Linear absorbs it exactly (W' = W·A, b' = b + W·shift); a following Conv with
// padding 0 absorbs a per-channel scale and shift. Otherwise it is written out as a layer.
import type { NodeRef } from '../errors.js';
import { elementCount } from './onnxGraph.js';

/** Beyond this many values a pending map would cost too much host memory to track. */
export const MAX_PENDING_VALUES = 1 << 22;

export class PendingMap {
  /** Nodes folded into the map, in order. */
  readonly sources: NodeRef[] = [];
  /** The Transpose that reordered the data, if any: only a Linear can absorb that. */
  reorderedBy?: NodeRef;
  /** The first node that reduced values (mean or sum over axes). */
  reducedBy?: NodeRef;

  private constructor(
    /** Shape of the tensor the last layer wrote. */
    readonly physicalDims: readonly number[],
    public logicalDims: number[],
    readonly row: Int32Array,
    readonly coef: Float64Array,
    public shift: Float64Array,
  ) {}

  static identity(dims: readonly number[]): PendingMap {
    const n = elementCount(dims);
    const row = new Int32Array(n);
    for (let i = 0; i < n; i++) row[i] = i;
    return new PendingMap([...dims], [...dims], row, new Float64Array(n).fill(1), new Float64Array(n));
  }

  get physicalCount(): number {
    return this.row.length;
  }

  get logicalCount(): number {
    return this.shift.length;
  }

  /** logical[j] ← scale[⌊j / inner⌋] · logical[j] + shift[⌊j / inner⌋]. */
  scaleAndShift(scale: ArrayLike<number>, shift: ArrayLike<number>, inner: number, node: NodeRef): void {
    for (let i = 0; i < this.row.length; i++) if (this.row[i] >= 0) this.coef[i] *= scale[Math.floor(this.row[i] / inner)];
    for (let j = 0; j < this.shift.length; j++) {
      const b = Math.floor(j / inner);
      this.shift[j] = this.shift[j] * scale[b] + shift[b];
    }
    this.sources.push(node);
  }

  /** An ONNX Transpose of the logical tensor. Reports whether it moved any value. */
  transpose(perm: readonly number[], node: NodeRef): boolean {
    const dims = this.logicalDims;
    const newDims = perm.map((p) => dims[p]);
    const oldStrides = stridesOf(dims);
    const newStrides = stridesOf(newDims);
    // Stride of the new index along each old axis.
    const along = new Array<number>(dims.length).fill(0);
    perm.forEach((p, k) => { along[p] = newStrides[k]; });
    const n = this.shift.length;
    const moveTo = new Int32Array(n);
    let moved = false;
    for (let j = 0; j < n; j++) {
      let rest = j, to = 0;
      for (let a = 0; a < dims.length; a++) {
        const idx = Math.floor(rest / oldStrides[a]);
        rest -= idx * oldStrides[a];
        to += idx * along[a];
      }
      moveTo[j] = to;
      if (to !== j) moved = true;
    }
    this.logicalDims = newDims;
    this.sources.push(node);
    if (!moved) return false;
    for (let i = 0; i < this.row.length; i++) if (this.row[i] >= 0) this.row[i] = moveTo[this.row[i]];
    const shift = new Float64Array(n);
    for (let j = 0; j < n; j++) shift[moveTo[j]] = this.shift[j];
    this.shift = shift;
    this.reorderedBy ??= node;
    return true;
  }

  /** Mean (or sum) over `axes` of the logical tensor; the reduced axes are kept as 1 or dropped. */
  reduce(axes: ReadonlySet<number>, keepDims: boolean, mean: boolean, node: NodeRef): void {
    const dims = this.logicalDims;
    const reduced = dims.map((d, a) => (axes.has(a) ? 1 : d));
    const strides = stridesOf(dims);
    const rStrides = stridesOf(reduced);
    const n = this.shift.length;
    const to = new Int32Array(n);
    for (let j = 0; j < n; j++) {
      let rest = j, t = 0;
      for (let a = 0; a < dims.length; a++) {
        const idx = Math.floor(rest / strides[a]);
        rest -= idx * strides[a];
        if (!axes.has(a)) t += idx * rStrides[a];
      }
      to[j] = t;
    }
    const divisor = mean ? n / elementCount(reduced) : 1;
    for (let i = 0; i < this.row.length; i++) {
      if (this.row[i] < 0) continue;
      this.row[i] = to[this.row[i]];
      this.coef[i] /= divisor;
    }
    const shift = new Float64Array(elementCount(reduced));
    for (let j = 0; j < n; j++) shift[to[j]] += this.shift[j] / divisor;
    this.shift = shift;
    this.logicalDims = keepDims ? reduced : dims.filter((_, a) => !axes.has(a));
    this.sources.push(node);
    this.reducedBy ??= node;
  }

  /** Nothing to compute: every value goes to its own place, unscaled. */
  isIdentity(): boolean {
    if (this.logicalCount !== this.physicalCount) return false;
    for (let i = 0; i < this.row.length; i++) if (this.row[i] !== i || this.coef[i] !== 1 || this.shift[i] !== 0) return false;
    return true;
  }

  /**
   * Per-channel scale and shift when the map is just that on an NCHW tensor (the same value for
   * every pixel of a channel, nothing moved): what a Conv can absorb or a 1×1 Conv compute.
   */
  perChannel(): { scale: Float64Array; shift: Float64Array } | undefined {
    const d = this.physicalDims;
    if (d.length !== 4 || this.logicalCount !== this.physicalCount) return undefined;
    const channels = d[1], hw = d[2] * d[3];
    const scale = new Float64Array(channels), shift = new Float64Array(channels);
    for (let c = 0; c < channels; c++) {
      const first = c * hw;
      scale[c] = this.coef[first];
      shift[c] = this.shift[first];
      for (let i = first; i < first + hw; i++) {
        // Object.is: a NaN weight (reported elsewhere) must not make a per-channel map look per-element.
        if (this.row[i] !== i || !Object.is(this.coef[i], scale[c]) || !Object.is(this.shift[i], shift[c])) return undefined;
      }
    }
    return { scale, shift };
  }

  /** Logical value j as (physical index, coefficient) pairs, for writing the map as weights. */
  forEachTerm(visit: (logical: number, physical: number, coef: number) => void): void {
    for (let i = 0; i < this.row.length; i++) if (this.row[i] >= 0 && this.coef[i] !== 0) visit(this.row[i], i, this.coef[i]);
  }
}

export function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length);
  let acc = 1;
  for (let a = dims.length - 1; a >= 0; a--) {
    strides[a] = acc;
    acc *= dims[a];
  }
  return strides;
}
