// The firmware's Conv2D has one square kernel, one stride and one padding for all four sides.
// Grouped, dilated, non-square and asymmetrically padded convolutions are rewritten as such a
// kernel with zeros where the original has no tap: out[y] reads in[y·s + ky − p] in both forms,
// so the result is the same (each extra tap adds in·0 = 0).

/** The geometry of an ONNX Conv (or a window op run as one), one axis pair at a time. */
export interface ConvGeometry {
  kh: number;
  kw: number;
  dilation: [number, number];
  /** ONNX order: [top, left, bottom, right]. */
  pads: [number, number, number, number];
}

export interface SquareKernel {
  size: number;
  padding: number;
  /** Row and column of the square kernel where tap (ky, kx) of the original lands. */
  row: (ky: number) => number;
  col: (kx: number) => number;
  /** True when it is the original kernel as is (nothing to rewrite). */
  same: boolean;
}

/**
 * The square kernel computing `g` exactly, or a reason it cannot exist. Per axis the window's
 * reach beyond the padding — span − (pad_begin + pad_end) — must agree, or the two axes would
 * need different paddings.
 */
export function squareKernelFor(g: ConvGeometry): SquareKernel | { reason: string } {
  const [t, l, b, r] = g.pads;
  const spanH = (g.kh - 1) * g.dilation[0] + 1;
  const spanW = (g.kw - 1) * g.dilation[1] + 1;
  if (spanH - (t + b) !== spanW - (l + r)) {
    return { reason: `its window (${spanH}×${spanW}) and padding [${g.pads.join(', ')}] give the two axes different reaches, which one square kernel with one padding cannot reproduce` };
  }
  const padding = Math.max(t, l, b, r);
  // Shift the taps so that tap 0 reads in[y·s − pad_begin] with the larger padding.
  const offH = padding - t, offW = padding - l;
  const size = spanH - t - b + 2 * padding;
  const [dh, dw] = g.dilation;
  return {
    size, padding,
    row: (ky) => offH + ky * dh,
    col: (kx) => offW + kx * dw,
    same: size === g.kh && size === g.kw && offH === 0 && offW === 0 && dh === 1 && dw === 1,
  };
}

/**
 * Full (oc, ic, K, K) weights from ONNX Conv weights (oc, ic/group, kh, kw): block-diagonal over
 * the groups, each tap moved to its place in the square kernel. Zeros everywhere else.
 */
export function expandConvWeights(src: ArrayLike<number>, dims: readonly number[], group: number, inChannels: number, k: SquareKernel): Float32Array {
  const [oc, icg, kh, kw] = dims;
  const K = k.size;
  const out = new Float32Array(oc * inChannels * K * K);
  const ocPerGroup = oc / group;
  for (let o = 0; o < oc; o++) {
    const firstIn = Math.floor(o / ocPerGroup) * icg;
    for (let j = 0; j < icg; j++) {
      const dst = (o * inChannels + firstIn + j) * K * K;
      const from = (o * icg + j) * kh * kw;
      for (let ky = 0; ky < kh; ky++) {
        const row = dst + k.row(ky) * K;
        for (let kx = 0; kx < kw; kx++) out[row + k.col(kx)] = src[from + ky * kw + kx];
      }
    }
  }
  return out;
}
