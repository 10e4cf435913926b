// Writes out what is pending (a Pad, an affine map) as firmware layers, when the next node
// cannot absorb it: a Pad as an identity Conv with that padding, a per-channel scale and shift
// as a 1×1 Conv, anything else as a Linear (or, for a mean of a large square map, a Conv whose
// kernel covers it). A reordering cannot be written out: only a following Linear can take it.
import { LayerType, type Layer } from '../blob/blobFormat.js';
import { U16_MAX, U8_MAX } from '../blob/checkLimits.js';
import { UnsupportedModelError, type NodeRef } from '../errors.js';
import { nodeLabel, producedBy, recordFor, type ChainState, type PendingPad } from './chainState.js';
import { elementCount, type OnnxNode } from './onnxGraph.js';
import type { PendingMap } from './pendingMap.js';
import { assertRewriteFits } from './rewrites.js';
import { squareKernelFor } from './squareKernel.js';
import { safeName } from '../text/untrustedText.js';

const f32 = Math.fround;

/** Writes out anything pending before `next` (undefined: the end of the graph). */
export function settle(state: ChainState, next: OnnxNode | undefined): void {
  if (state.pendingPad) settlePad(state);
  if (state.pendingMap) settleMap(state, next);
}

function describeNodes(sources: readonly NodeRef[]): { node: NodeRef; more: string } {
  const more = sources.length > 1 ? ` (with ${sources.length - 1} more node${sources.length > 2 ? 's' : ''})` : '';
  return { node: sources[0], more };
}

/** Zero padding as an identity Conv: out[c][y][x] = in[c][y − top][x − left], 0 outside. */
function settlePad(state: ChainState): void {
  const pad = state.pendingPad!;
  state.pendingPad = undefined;
  const [, c, outH, outW] = state.dims; // already the padded shape
  const k = squareKernelFor({ kh: 1, kw: 1, dilation: [1, 1], pads: pad.pads });
  const { node, more } = describeNodes(pad.sources);
  if ('reason' in k) {
    settlePadAsLinear(state, pad, node, more);
    return;
  }
  const K = k.size;
  assertRewriteFits(node, c * c * K * K, `padding it as an identity Conv ${c}→${c}`);
  const weights = new Float32Array(c * c * K * K);
  for (let i = 0; i < c; i++) weights[(i * c + i) * K * K + k.row(0) * K + k.col(0)] = 1;
  const layer: Layer = {
    type: LayerType.Conv2D, in: { c, h: outH - pad.pads[0] - pad.pads[2], w: outW - pad.pads[1] - pad.pads[3] }, out: { c, h: outH, w: outW }, kernel: K, stride: 1, padding: k.padding,
    weights, bias: new Float32Array(c), hasModelBias: true, sources: [...pad.sources], note: 'zero padding, as an identity Conv',
  };
  const wasNonNegative = state.nonNegative;
  producedBy(state, layer, [1, c, outH, outW]);
  state.nonNegative = wasNonNegative;
  state.lastLayerIsCurrent = false; // a bias folded into it would also land on the padding
  state.rewrites.push({
    node, how: `runs as an identity Conv ${c}→${c} with kernel ${K} and padding ${k.padding}${more}`,
    macs: { before: 0, after: c * c * K * K * outH * outW }, parameters: { before: 0, after: c * c * K * K + c },
  });
}

/**
 * A Pad that no square kernel reproduces (height and width padded by different reaches) as a
 * Linear that copies each value to its padded place: exact, and fine for small tensors.
 */
function settlePadAsLinear(state: ChainState, pad: PendingPad, node: NodeRef, more: string): void {
  const [, c, outH, outW] = state.dims;
  const [t, l, b, r] = pad.pads;
  const h = outH - t - b, w = outW - l - r;
  const n = c * h * w, m = c * outH * outW;
  if (n > U16_MAX || m > U16_MAX) {
    throw new UnsupportedModelError(`pads [${pad.pads.join(', ')}] (top, left, bottom, right) pad height and width by different amounts, which the firmware can do only as a Linear layer, and ${m} values are beyond its limit of ${U16_MAX}`,
      { node, hint: 'Pad height and width alike (e.g. nn.ZeroPad2d(p)), or move the padding into the following Conv' });
  }
  assertRewriteFits(node, n * m, `padding it as a Linear ${n}→${m}`);
  const weights = new Float32Array(n * m);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) weights[((ch * outH + y + t) * outW + x + l) * n + (ch * h + y) * w + x] = 1;
    }
  }
  const wasNonNegative = state.nonNegative;
  producedBy(state, {
    type: LayerType.Linear, in: state.record, out: recordFor(state.dims), kernel: 0, stride: 1, padding: 0,
    weights, bias: new Float32Array(m), hasModelBias: true, sources: [...pad.sources], note: 'zero padding, as a Linear',
  }, state.dims);
  state.nonNegative = wasNonNegative;
  state.lastLayerIsCurrent = false;
  const how = node.op === 'Pad' ? 'runs' : 'has its padding run';
  state.rewrites.push({ node, how: `${how} as a Linear ${n}→${m} that places each value (no square kernel pads height and width this differently)${more}`, macs: { before: 0, after: n * m }, parameters: { before: 0, after: n * m + m } });
}

function settleMap(state: ChainState, next: OnnxNode | undefined): void {
  const map = state.pendingMap!;
  state.pendingMap = undefined;
  if (map.isIdentity()) {
    state.dims = map.logicalDims;
    state.record = recordFor(map.logicalDims);
    return;
  }
  const { node, more } = describeNodes(map.sources);
  if (map.reorderedBy) {
    const what = next ? `${safeName(next.op, 60)} ${nodeLabel({ name: next.name, index: next.index, op: next.op })}` : 'the end of the graph';
    throw new UnsupportedModelError(`reorders the data (to shape [${map.logicalDims.join(', ')}]), but the firmware keeps tensors in NCHW order; a Transpose can run only when a flatten and a Linear layer follow it (the Linear then reads the values in the new order), and here ${what} follows`,
      { node: map.reorderedBy, hint: 'Remove the permute(), or put it right before the flatten that feeds a Linear layer' });
  }
  const perChannel = map.perChannel();
  if (perChannel && perChannel.scale.length <= U8_MAX) {
    settleAsPointwiseConv(state, map, perChannel, node, more);
    return;
  }
  const n = map.physicalCount, m = map.logicalCount;
  const before = n;
  assertRewriteFits(node, n * m, `computing it as a Linear ${n}→${m}`);
  if (n <= U16_MAX && m <= U16_MAX) {
    const weights = new Float32Array(m * n);
    map.forEachTerm((j, i, coef) => { weights[j * n + i] = f32(coef); });
    const out = recordFor(map.logicalDims);
    producedBy(state, {
      type: LayerType.Linear, in: state.record, out, kernel: 0, stride: 1, padding: 0,
      weights, bias: Float32Array.from(map.shift, f32), hasModelBias: true, sources: [...map.sources],
    }, map.logicalDims);
    state.rewrites.push({ node, how: `runs as a Linear ${n}→${m}${more}`, macs: { before, after: n * m }, parameters: { before: 0, after: n * m + m } });
    return;
  }
  const [, c, h, w] = map.physicalDims;
  if (map.physicalDims.length === 4 && h === w && h <= U8_MAX && m <= U8_MAX && c <= U8_MAX) {
    // A Conv whose kernel covers the whole map: the same sums, without Linear's 16-bit counts.
    const weights = new Float32Array(m * n);
    map.forEachTerm((j, i, coef) => { weights[j * n + i] = f32(coef); });
    producedBy(state, {
      type: LayerType.Conv2D, in: { c, h, w }, out: { c: m, h: 1, w: 1 }, kernel: h, stride: 1, padding: 0,
      weights, bias: Float32Array.from(map.shift, f32), hasModelBias: true, sources: [...map.sources],
    }, map.logicalDims.length === 4 ? map.logicalDims : [1, m, 1, 1]);
    state.dims = map.logicalDims;
    state.rewrites.push({ node, how: `runs as a Conv ${c}→${m} with kernel ${h}${more}`, macs: { before, after: n * m }, parameters: { before: 0, after: n * m + m } });
    return;
  }
  throw new UnsupportedModelError(`computing it needs a layer from ${n} values to ${m}, beyond the firmware's Linear limit of ${U16_MAX} values`,
    { node, hint: 'Reduce the tensor first (pooling), or fold this operation into the layer before it in PyTorch' });
}

function settleAsPointwiseConv(state: ChainState, map: PendingMap, p: { scale: Float64Array; shift: Float64Array }, node: NodeRef, more: string): void {
  const [, c, h, w] = map.physicalDims;
  assertRewriteFits(node, c * c, `a 1×1 Conv ${c}→${c}`);
  const weights = new Float32Array(c * c);
  for (let i = 0; i < c; i++) weights[i * c + i] = f32(p.scale[i]);
  producedBy(state, {
    type: LayerType.Conv2D, in: { c, h, w }, out: { c, h, w }, kernel: 1, stride: 1, padding: 0,
    weights, bias: Float32Array.from(p.shift, f32), hasModelBias: true, sources: [...map.sources],
  }, map.logicalDims);
  state.record = { c, h, w };
  state.rewrites.push({
    node, how: `runs as a 1×1 Conv ${c}→${c} (a scale and a shift per channel)${more}`,
    macs: { before: elementCount(map.physicalDims), after: c * c * h * w }, parameters: { before: 2 * c, after: c * c + c },
  });
}

/** Parameters writing the map out as a layer would take (what absorbing it must beat). */
export function settledParameters(map: PendingMap): number {
  if (map.isIdentity()) return 0;
  const pc = map.perChannel();
  if (pc && pc.scale.length <= U8_MAX) return pc.scale.length * (pc.scale.length + 1);
  return map.physicalCount * map.logicalCount + map.logicalCount;
}
