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

  /**
   * A scale and shift per block of `inner` logical values not yet applied to coef/shift: chains
   * of scalar or per-channel ops then cost per block, not per value (see settle()).
   */
  private deferred?: { scale: Float64Array; shift: Float64Array; inner: number };

  private constructor(
    /** Shape of the tensor the last layer wrote. */
    readonly physicalDims: readonly number[],
    public logicalDims: number[],
    private readonly rowOf: Int32Array,
    private readonly coefOf: Float64Array,
    private shiftOf: Float64Array,
  ) {}

  /** Physical value i feeds logical value row[i] (−1: none) … */
  get row(): Int32Array {
    this.flush();
    return this.rowOf;
  }

  /** … with this coefficient … */
  get coef(): Float64Array {
    this.flush();
    return this.coefOf;
  }

  /** … and logical value j adds this constant. */
  get shift(): Float64Array {
    this.flush();
    return this.shiftOf;
  }

  static identity(dims: readonly number[]): PendingMap {
    const n = elementCount(dims);
    const row = new Int32Array(n);
    for (let i = 0; i < n; i++) row[i] = i;
    return new PendingMap([...dims], [...dims], row, new Float64Array(n).fill(1), new Float64Array(n));
  }

  get physicalCount(): number {
    return this.rowOf.length;
  }

  get logicalCount(): number {
    return this.shiftOf.length;
  }

  /** logical[j] ← scale[⌊j / inner⌋] · logical[j] + shift[⌊j / inner⌋]. */
  scaleAndShift(scale: ArrayLike<number>, shift: ArrayLike<number>, inner: number, node: NodeRef): void {
    this.sources.push(node);
    const d = this.deferred;
    if (d && d.inner === inner) {
      // Composed per block: s·(ds·x + dt) + t.
      for (let b = 0; b < d.scale.length; b++) {
        d.shift[b] = d.shift[b] * scale[b] + shift[b];
        d.scale[b] *= scale[b];
      }
      return;
    }
    this.flush();
    this.deferred = { scale: Float64Array.from(scale), shift: Float64Array.from(shift), inner };
  }

  /** Applies a deferred scale and shift to the per-value arrays. */
  private flush(): void {
    const d = this.deferred;
    if (!d) return;
    this.deferred = undefined;
    const row = this.rowOf, coef = this.coefOf, shift = this.shiftOf;
    for (let i = 0; i < row.length; i++) if (row[i] >= 0) coef[i] *= d.scale[Math.floor(row[i] / d.inner)];
    for (let j = 0; j < shift.length; j++) {
      const b = Math.floor(j / d.inner);
      shift[j] = shift[j] * d.scale[b] + d.shift[b];
    }
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
    const n = this.shift.length; // flushes a deferred scale first
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
    const row = this.row;
    for (let i = 0; i < row.length; i++) if (row[i] >= 0) row[i] = moveTo[row[i]];
    const shift = new Float64Array(n);
    for (let j = 0; j < n; j++) shift[moveTo[j]] = this.shiftOf[j];
    this.shiftOf = shift;
    // A Transpose and its inverse (NHWC in, NCHW out, as tf2onnx writes a BatchNorm) reorder nothing.
    let inOrder = row.length === n;
    for (let i = 0; inOrder && i < row.length; i++) inOrder = row[i] === i;
    this.reorderedBy = inOrder ? undefined : this.reorderedBy ?? node;
    return true;
  }

  /** Mean (or sum) over `axes` of the logical tensor; the reduced axes are kept as 1 or dropped. */
  reduce(axes: ReadonlySet<number>, keepDims: boolean, mean: boolean, node: NodeRef): void {
    const dims = this.logicalDims;
    const reduced = dims.map((d, a) => (axes.has(a) ? 1 : d));
    const strides = stridesOf(dims);
    const rStrides = stridesOf(reduced);
    const n = this.shift.length; // flushes a deferred scale first
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
    const row = this.rowOf, coef = this.coefOf;
    for (let i = 0; i < row.length; i++) {
      if (row[i] < 0) continue;
      row[i] = to[row[i]];
      coef[i] /= divisor;
    }
    const shift = new Float64Array(elementCount(reduced));
    for (let j = 0; j < n; j++) shift[to[j]] += this.shiftOf[j] / divisor;
    this.shiftOf = shift;
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
    // The same NCHW shape on both sides: a reshape in between would give the channels another meaning.
    const l = this.logicalDims;
    if (d.length !== 4 || l.length !== 4 || l.some((x, a) => x !== d[a])) return undefined;
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
