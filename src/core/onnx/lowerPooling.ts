// Pooling and reductions. MaxPool → MaxPool2D (ceil_mode windows are clipped at the edge, as
// the firmware does; its −∞ padding is zero padding when the input is ≥ 0). AveragePool → a Conv
// with weights 1/(kh·kw). GlobalAveragePool, ReduceMean and ReduceSum → a pending mean or sum
// (pendingMap.ts) that the following Linear absorbs, or a Linear of their own.
import { LayerType } from '../blob/blobFormat.js';
import { pooledLength } from '../blob/checkLimits.js';
import { constantInput, nodeRef, producedBy, refuse, usedExtraOutputs, type ChainState } from './chainState.js';
import { elementCount, getInt, getInts, getString, type OnnxNode } from './onnxGraph.js';
import { MAX_PENDING_VALUES, PendingMap } from './pendingMap.js';
import { settle } from './settlePending.js';
import { assertRewriteFits } from './rewrites.js';
import { dilationsOf, pushConv, spatialInput, squareStride, windowKernel, windowPads } from './lowerSpatial.js';

/** A 0/1 attribute; anything else is not valid ONNX and would be read differently by different tools. */
function flag(node: OnnxNode, name: string, fallback: 0 | 1): boolean {
  const v = getInt(node, name, fallback);
  if (v !== 0 && v !== 1) refuse(node, `${name}=${v} is not 0 or 1`, 'Export the model again; ONNX allows only 0 and 1 here');
  return v === 1;
}

/** ceil_mode applies to explicit pads only: with auto_pad the spec's output size formula rules. */
function ceilMode(node: OnnxNode): boolean {
  const ceil = flag(node, 'ceil_mode', 0);
  return ceil && getString(node, 'auto_pad', 'NOTSET') === 'NOTSET';
}

function poolingWindow(node: OnnxNode, what: string): [number, number] {
  const kernelShape = getInts(node, 'kernel_shape') ?? [];
  if (kernelShape.length !== 2) refuse(node, `kernel_shape [${kernelShape.join(', ')}] is not 2-D`);
  const [kh, kw] = kernelShape;
  if (kh < 1 || kw < 1) refuse(node, `pooling window ${kh}×${kw}: a ${what} kernel must be at least 1×1`, 'Use kernel_size of at least 1');
  return [kh, kw];
}

export function lowerMaxPool(node: OnnxNode, state: ChainState): void {
  const input = spatialInput(node, state);
  const [kh, kw] = poolingWindow(node, 'MaxPool');
  if (kh !== kw) refuse(node, `non-square pooling window ${kh}×${kw} is not supported: the firmware pools square windows`, 'Use a square kernel_size');
  if (dilationsOf(node).some((d) => d !== 1)) refuse(node, 'dilated max pooling is not supported by the firmware', 'Use dilation=1');
  if (usedExtraOutputs(node, state).length) refuse(node, 'its indices output is used; the firmware only computes the pooled values');
  const stride = squareStride(node);
  const ceil = ceilMode(node);
  const own = windowPads(node, input, [kh, kw], stride);
  const outH = pooledLength(input.h, kh, stride, ceil, own[0], own[2]);
  const outW = pooledLength(input.w, kw, stride, ceil, own[1], own[3]);
  if (outH < 1 || outW < 1) refuse(node, `pooling window ${kh}×${kh} is larger than its input ${input.h}×${input.w}`, 'Use a smaller kernel_size or a larger input');
  if (own.some((p) => p > 0)) {
    // ONNX pads a max with −∞; the firmware can only pad with zeros (through a Conv), the same
    // thing when no value is negative and every window holds one real value.
    if (!state.nonNegative) {
      refuse(node, `pads [${own.join(', ')}] with −∞, but the firmware pools without padding; zero padding gives the same result only on values ≥ 0 (right after a ReLU), and this input may be negative`,
        'Put the MaxPool right after a ReLU, or use padding=0 in nn.MaxPool2d');
    }
    if (own.some((p) => p >= kh)) refuse(node, `padding [${own.join(', ')}] is as large as the window, so some windows see only padding`, 'Use padding smaller than kernel_size');
    if (state.pendingMap) settle(state, node);
    const [, c, h, w] = state.dims;
    const pending = state.pendingPad;
    state.pendingPad = { pads: pending ? pending.pads.map((p, i) => p + own[i]) as [number, number, number, number] : own, sources: [...(pending?.sources ?? []), nodeRef(node)] };
    state.dims = [1, c, h + own[0] + own[2], w + own[1] + own[3]];
  }
  settle(state, node);
  const padded = spatialInput(node, state);
  const nonNegative = state.nonNegative;
  producedBy(state, {
    type: LayerType.MaxPool2D, in: padded, out: { c: padded.c, h: outH, w: outW },
    kernel: kh, stride, padding: 0, sources: [nodeRef(node)],
    ...(ceil && (outH !== Math.floor((padded.h - kh) / stride) + 1 || outW !== Math.floor((padded.w - kh) / stride) + 1) ? { note: 'ceil_mode: the last windows are clipped at the edge' } : {}),
  }, [1, padded.c, outH, outW]);
  state.nonNegative = nonNegative;
}

export function lowerAveragePool(node: OnnxNode, state: ChainState): void {
  const input = spatialInput(node, state);
  const [kh, kw] = poolingWindow(node, 'AveragePool');
  const dilation = dilationsOf(node);
  const stride = squareStride(node);
  const ceil = ceilMode(node);
  const countPad = flag(node, 'count_include_pad', 0);
  const span: [number, number] = [(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1];
  const own = windowPads(node, input, span, stride);
  const outH = pooledLength(input.h, span[0], stride, ceil, own[0], own[2]);
  const outW = pooledLength(input.w, span[1], stride, ceil, own[1], own[3]);
  if (outH < 1 || outW < 1) refuse(node, `pooling window ${span[0]}×${span[1]} is larger than its input ${input.h}×${input.w}`, 'Use a smaller kernel_size or a larger input');
  if (own.some((p) => p > 0) && !countPad) {
    refuse(node, `averages with padding [${own.join(', ')}] and count_include_pad=0, so border windows divide by fewer values than ${kh * kw}; the firmware's layers divide every window alike`,
      'Use count_include_pad=True (the PyTorch default) or padding=0');
  }
  const floorH = pooledLength(input.h, span[0], stride, false, own[0], own[2]);
  const floorW = pooledLength(input.w, span[1], stride, false, own[1], own[3]);
  if (outH !== floorH || outW !== floorW) {
    refuse(node, `ceil_mode=1 adds windows that hang over the edge (${outH}×${outW} instead of ${floorH}×${floorW}), which are averaged over fewer values; the firmware's layers divide every window alike`,
      'Use ceil_mode=False, or an input size where it makes no difference');
  }
  // A window covering the whole map without padding is a global mean: cheaper as a pending mean.
  if (outH === 1 && outW === 1 && span[0] === input.h && span[1] === input.w && dilation.every((d) => d === 1) && own.every((p) => p === 0) && !state.pendingPad) {
    reduceChain(node, state, new Set([2, 3]), true, true);
    return;
  }
  const { k, reads } = windowKernel(state, node, input, kh, kw, dilation, own);
  const c = input.c, K = k.size;
  assertRewriteFits(nodeRef(node), c * c * K * K, `running it as a Conv ${c}→${c} with kernel ${K}`);
  const weights = new Float32Array(c * c * K * K);
  const share = Math.fround(1 / (kh * kw));
  for (let i = 0; i < c; i++) {
    for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) weights[(i * c + i) * K * K + k.row(ky) * K + k.col(kx)] = share;
  }
  state.rewrites.push({
    node: nodeRef(node), how: `runs as a Conv ${c}→${c} with kernel ${K}${k.padding ? `, padding ${k.padding}` : ''} and weights 1/${kh * kw}`,
    macs: { before: c * kh * kw * outH * outW, after: c * c * K * K * outH * outW }, parameters: { before: 0, after: c * c * K * K + c },
  });
  pushConv(state, node, { input: reads, outC: c, kernel: K, stride, padding: k.padding, weights, bias: new Float32Array(c), hasModelBias: true, outH, outW, note: 'average pooling, as a Conv' });
}

export function lowerGlobalAveragePool(node: OnnxNode, state: ChainState): void {
  spatialInput(node, state);
  reduceChain(node, state, new Set([2, 3]), true, true);
}

/**
 * GlobalMaxPool, and ReduceMax over height and width (AdaptiveMaxPool2d(1) in a dynamo export):
 * one MaxPool window as large as the map, clipped at its edges by the firmware.
 */
export function lowerGlobalMax(node: OnnxNode, state: ChainState): void {
  const input = spatialInput(node, state);
  let keepDims = true;
  if (node.op === 'ReduceMax') {
    const axes = node.inputs[1] ? Array.from(constantInput(node, state, 1, 'axes').data) : getInts(node, 'axes') ?? [];
    const set = new Set(axes.map((a) => (a < 0 ? a + 4 : a)));
    if (set.size !== 2 || !set.has(2) || !set.has(3) || axes.length !== 2) {
      refuse(node, `takes the maximum over axes [${axes.join(', ')}]; the firmware's max runs only over height and width (a MaxPool)`, 'Use a max over dims (2, 3) or nn.AdaptiveMaxPool2d(1)');
    }
    keepDims = getInt(node, 'keepdims', 1) !== 0;
  }
  const k = Math.max(input.h, input.w);
  if (k > 255) refuse(node, `a window over the whole ${input.h}×${input.w} map needs kernel ${k}, more than the firmware's limit of 255`, 'Pool the map down first (MaxPool2d)');
  settle(state, node);
  const nonNegative = state.nonNegative;
  producedBy(state, {
    type: LayerType.MaxPool2D, in: input, out: { c: input.c, h: 1, w: 1 }, kernel: k, stride: k, padding: 0,
    sources: [nodeRef(node)], note: 'global max, as one window over the map',
  }, keepDims ? [1, input.c, 1, 1] : [1, input.c]);
  state.nonNegative = nonNegative;
}

/** ReduceMean / ReduceSum over any axes (attribute before opset 18, resp. 13; input after). */
export function lowerReduce(node: OnnxNode, state: ChainState): void {
  const rank = state.dims.length;
  const mean = node.op === 'ReduceMean';
  let axes: number[] | undefined;
  if (node.inputs[1]) axes = Array.from(constantInput(node, state, 1, 'axes').data);
  else axes = getInts(node, 'axes');
  const keepDims = getInt(node, 'keepdims', 1) !== 0;
  if (!axes || axes.length === 0) {
    if (getInt(node, 'noop_with_empty_axes', 0) !== 0) return;
    axes = state.dims.map((_, i) => i);
  }
  const set = new Set<number>();
  for (const a of axes) {
    const n = a < 0 ? a + rank : a;
    if (!Number.isInteger(n) || n < 0 || n >= rank || set.has(n)) refuse(node, `axes [${axes.join(', ')}] are not distinct axes of a rank-${rank} tensor`);
    set.add(n);
  }
  reduceChain(node, state, set, keepDims, mean);
}

function reduceChain(node: OnnxNode, state: ChainState, axes: ReadonlySet<number>, keepDims: boolean, mean: boolean): void {
  if (state.pendingPad) settle(state, node);
  const map = state.pendingMap ?? startMap(node, state);
  map.reduce(axes, keepDims, mean, nodeRef(node));
  state.pendingMap = map;
  state.dims = map.logicalDims; // a mean or sum of values ≥ 0 is ≥ 0: nonNegative stays
}

/** A new pending map on the chain tensor (bounded: the map keeps a few numbers per value). */
export function startMap(node: OnnxNode, state: ChainState): PendingMap {
  const n = elementCount(state.dims);
  if (n > MAX_PENDING_VALUES) {
    refuse(node, `works on ${n} values, more than the ${MAX_PENDING_VALUES} the converter rewrites`, 'Make the tensor smaller before this node');
  }
  return PendingMap.identity(state.dims);
}
