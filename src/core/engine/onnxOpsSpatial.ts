// Sliding-window ops on NCHW tensors: Conv, MaxPool, AveragePool (2-D only) and
// GlobalAveragePool (any spatial rank); Pad, which exporters put in front of them, is in
// onnxOpsPad.ts. Geometry follows the ONNX spec, not PyTorch or the firmware: explicit pads may be
// asymmetric, auto_pad, dilations and ceil_mode are honoured.
import { EvaluationError } from '../errors.js';
import { elementCount, getInt, getInts, getString, type OnnxNode } from '../onnx/onnxGraph.js';
import { describeDims, required, type EvalTensor, type OpContext, type OpFn } from './onnxOpsTensor.js';

/** Geometry of one spatial axis: output size and the padding in front of the input. */
interface AxisGeometry {
  out: number;
  begin: number;
  stride: number;
  dilation: number;
  kernel: number;
  /** Padding after the input (AveragePool's count_include_pad counts it, not what ceil_mode adds). */
  end: number;
}

function axisGeometry(size: number, kernel: number, stride: number, dilation: number, padBegin: number, padEnd: number, autoPad: string, ceilMode: boolean): AxisGeometry {
  if (kernel < 1 || stride < 1 || dilation < 1) throw new EvaluationError(`invalid kernel ${kernel}, stride ${stride} or dilation ${dilation}`);
  const span = (kernel - 1) * dilation + 1;
  let out: number;
  let begin = padBegin;
  let end = padEnd;
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    // Output covers ceil(size / stride) positions; the odd pad goes at the end (UPPER) or front (LOWER).
    out = Math.ceil(size / stride);
    const total = Math.max(0, (out - 1) * stride + span - size);
    begin = autoPad === 'SAME_UPPER' ? Math.floor(total / 2) : Math.ceil(total / 2);
    end = total - begin;
  } else if (autoPad === 'VALID') {
    begin = end = 0;
    out = Math.floor((size - span) / stride) + 1;
  } else if (autoPad === 'NOTSET') {
    if (begin < 0 || end < 0) throw new EvaluationError(`negative pads ${begin}, ${end}`);
    const room = size + begin + end - span;
    out = (ceilMode ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
    // ONNX (like PyTorch): with ceil_mode the last window must start inside the input or the
    // left padding, never entirely in the right padding.
    if (ceilMode && (out - 1) * stride >= size + begin) out--;
  } else {
    throw new EvaluationError(`unknown auto_pad '${autoPad}'`);
  }
  if (!(out >= 1)) throw new EvaluationError(`window of ${span} (kernel ${kernel}, dilation ${dilation}) does not fit an input of ${size} with pads ${begin}, ${end}`);
  return { out, begin, end, stride, dilation, kernel };
}

/** Height and width geometry of a 2-D window op from its attributes. */
function geometry2d(node: OnnxNode, h: number, w: number, kernel: number[], ceilMode: boolean): [AxisGeometry, AxisGeometry] {
  const strides = getInts(node, 'strides') ?? [1, 1];
  const dilations = getInts(node, 'dilations') ?? [1, 1];
  const pads = getInts(node, 'pads') ?? [0, 0, 0, 0];
  if (strides.length !== 2 || dilations.length !== 2 || pads.length !== 4) {
    throw new EvaluationError(`strides [${strides}], dilations [${dilations}] or pads [${pads}] do not fit a 2-D window`);
  }
  const autoPad = getString(node, 'auto_pad', 'NOTSET');
  // pads are [y_begin, x_begin, y_end, x_end].
  return [
    axisGeometry(h, kernel[0], strides[0], dilations[0], pads[0], pads[2], autoPad, ceilMode),
    axisGeometry(w, kernel[1], strides[1], dilations[1], pads[1], pads[3], autoPad, ceilMode),
  ];
}

function input4d(inputs: readonly (EvalTensor | undefined)[], op: string): EvalTensor {
  const x = required(inputs, 0, 'X');
  if (x.dims.length !== 4) throw new EvaluationError(`only 2-D ${op} (a 4-D NCHW input) is supported, got shape ${describeDims(x.dims)}`);
  return x;
}

/**
 * Per output position along an axis: the input index of kernel tap 0 (start) and the first and
 * last taps that fall inside the input. Precomputed once per op so the hot loops stay free of
 * bounds checks and allocations (which matters before V8 has optimized them).
 */
interface Taps {
  start: Int32Array;
  first: Int32Array;
  last: Int32Array;
}

function tapsOf(g: AxisGeometry, size: number): Taps {
  const taps = { start: new Int32Array(g.out), first: new Int32Array(g.out), last: new Int32Array(g.out) };
  for (let o = 0; o < g.out; o++) {
    const start = o * g.stride - g.begin;
    // Taps k with 0 <= start + k*dilation < size (first > last when there are none).
    taps.start[o] = start;
    taps.first[o] = start >= 0 ? 0 : Math.ceil(-start / g.dilation);
    taps.last[o] = Math.min(g.kernel - 1, Math.floor((size - 1 - start) / g.dilation));
  }
  return taps;
}

const conv: OpFn = (node, inputs, ctx) => {
  const x = input4d(inputs, 'Conv');
  const w = required(inputs, 1, 'W');
  const b = inputs[2];
  const [n, c, h, wd] = x.dims;
  const group = getInt(node, 'group', 1);
  if (w.dims.length !== 4) throw new EvaluationError(`weight shape ${describeDims(w.dims)} is not 4-D`);
  const [m, cg, kh, kw] = w.dims;
  if (group < 1 || c % group !== 0 || m % group !== 0 || cg !== c / group) {
    throw new EvaluationError(`weight ${describeDims(w.dims)} with group ${group} does not fit input ${describeDims(x.dims)}`);
  }
  const kernelAttr = getInts(node, 'kernel_shape');
  if (kernelAttr && (kernelAttr.length !== 2 || kernelAttr[0] !== kh || kernelAttr[1] !== kw)) {
    throw new EvaluationError(`kernel_shape [${kernelAttr}] does not match weight ${describeDims(w.dims)}`);
  }
  if (b && (b.dims.length !== 1 || b.dims[0] !== m)) throw new EvaluationError(`bias shape ${describeDims(b.dims)} does not match ${m} output channels`);
  const [gy, gx] = geometry2d(node, h, wd, [kh, kw], false);
  const out = ctx.alloc([n, m, gy.out, gx.out]);
  const mPerGroup = m / group;
  const xd = x.data, wdata = w.data, od = out.data;
  const ty = tapsOf(gy, h), tx = tapsOf(gx, wd);
  const dy = gy.dilation, dx = gx.dilation;
  let o = 0;
  for (let bi = 0; bi < n; bi++) {
    for (let oc = 0; oc < m; oc++) {
      const icBase = Math.floor(oc / mPerGroup) * cg;
      const bias = b ? b.data[oc] : 0;
      for (let oy = 0; oy < gy.out; oy++) {
        const sy = ty.start[oy], fy = ty.first[oy], ly = ty.last[oy];
        for (let ox = 0; ox < gx.out; ox++) {
          const sx = tx.start[ox], fx = tx.first[ox], lx = tx.last[ox];
          let sum = bias;
          for (let ic = 0; ic < cg; ic++) {
            const xBase = (bi * c + icBase + ic) * h;
            const wBase = (oc * cg + ic) * kh;
            for (let ky = fy; ky <= ly; ky++) {
              const xRow = (xBase + sy + ky * dy) * wd + sx;
              const wRow = (wBase + ky) * kw;
              for (let kx = fx; kx <= lx; kx++) sum += xd[xRow + kx * dx] * wdata[wRow + kx];
            }
          }
          od[o++] = sum;
        }
      }
    }
  }
  return [out];
};

/** MaxPool and AveragePool share the window walk over the taps that fall inside the input. */
function pool(node: OnnxNode, inputs: readonly (EvalTensor | undefined)[], ctx: OpContext, kind: 'max' | 'avg'): EvalTensor {
  const op = kind === 'max' ? 'MaxPool' : 'AveragePool';
  const x = input4d(inputs, op);
  const [n, c, h, w] = x.dims;
  const kernel = getInts(node, 'kernel_shape');
  if (!kernel || kernel.length !== 2) throw new EvaluationError(`${op} needs a 2-D kernel_shape, got [${kernel ?? ''}]`);
  // A window entirely in the padding has no value (onnxruntime refuses such pads, as PyTorch does).
  const pads = getInts(node, 'pads') ?? [];
  if (pads.some((p, i) => p >= kernel[i % 2])) throw new EvaluationError(`${op} pads [${pads.join(', ')}] must be smaller than the kernel [${kernel.join(', ')}]`);
  const [gy, gx] = geometry2d(node, h, w, kernel, getInt(node, 'ceil_mode', 0) === 1);
  const includePad = getInt(node, 'count_include_pad', 0) === 1;
  const out = ctx.alloc([n, c, gy.out, gx.out]);
  const xd = x.data, od = out.data;
  const ty = tapsOf(gy, h), tx = tapsOf(gx, w);
  const dy = gy.dilation, dx = gx.dilation;
  const isMax = kind === 'max';
  // Taps counted by count_include_pad: inside input plus explicit padding, not the ceil_mode overhang.
  const paddedTaps = (g: AxisGeometry, o: number, size: number) => {
    let count = 0;
    for (let k = 0; k < g.kernel; k++) {
      const i = o * g.stride - g.begin + k * g.dilation;
      if (i >= -g.begin && i < size + g.end) count++;
    }
    return count;
  };
  let o = 0;
  for (let plane = 0; plane < n * c; plane++) {
    const base = plane * h * w;
    for (let oy = 0; oy < gy.out; oy++) {
      const sy = ty.start[oy], fy = ty.first[oy], ly = ty.last[oy];
      for (let ox = 0; ox < gx.out; ox++) {
        const sx = tx.start[ox], fx = tx.first[ox], lx = tx.last[ox];
        // Max: padding is -inf, so only in-input taps matter. Avg: sum of in-input taps.
        let acc = isMax ? -Infinity : 0;
        for (let ky = fy; ky <= ly; ky++) {
          const row = base + (sy + ky * dy) * w + sx;
          for (let kx = fx; kx <= lx; kx++) {
            const v = xd[row + kx * dx];
            if (isMax) {
              if (v > acc || Number.isNaN(v)) acc = v;
            } else {
              acc += v;
            }
          }
        }
        if (!isMax) {
          const count = includePad
            ? paddedTaps(gy, oy, h) * paddedTaps(gx, ox, w)
            : Math.max(0, ly - fy + 1) * Math.max(0, lx - fx + 1);
          acc = count > 0 ? acc / count : NaN;
        }
        od[o++] = acc;
      }
    }
  }
  return out;
}

const maxPool: OpFn = (node, inputs, ctx) => {
  if (node.outputs[1]) throw new EvaluationError('the Indices output of MaxPool is not supported');
  return [pool(node, inputs, ctx, 'max')];
};

const averagePool: OpFn = (node, inputs, ctx) => [pool(node, inputs, ctx, 'avg')];

const globalAveragePool: OpFn = (_node, inputs, ctx) => {
  const x = required(inputs, 0, 'X');
  if (x.dims.length < 3) throw new EvaluationError(`GlobalAveragePool needs an N×C×spatial input, got ${describeDims(x.dims)}`);
  const planes = x.dims[0] * x.dims[1];
  const size = elementCount(x.dims.slice(2));
  const out = ctx.alloc([x.dims[0], x.dims[1], ...x.dims.slice(2).map(() => 1)]);
  for (let p = 0; p < planes; p++) {
    let sum = 0;
    for (let i = 0; i < size; i++) sum += x.data[p * size + i];
    out.data[p] = sum / size;
  }
  return [out];
};

export const SPATIAL_OPS: Record<string, OpFn> = {
  Conv: conv,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
};
