// Conv and Pad → Conv2D layers. Grouped, depthwise, dilated, non-square and asymmetrically
// padded convolutions run as one square kernel with zeros (squareKernel.ts); a Pad before a Conv
// becomes part of its padding; a per-channel scale and shift pending before a Conv with padding 0
// is folded into its weights. Everything the firmware cannot honour is refused by name.
import { LayerType } from '../blob/blobFormat.js';
import { U8_MAX } from '../blob/checkLimits.js';
import { constantInput, floatConstant, nodeRef, producedBy, refuse, type ChainState } from './chainState.js';
import { getInt, getInts, getString, type OnnxNode } from './onnxGraph.js';
import { settle } from './settlePending.js';
import { pushLinear } from './lowerDense.js';
import { assertRewriteFits } from './rewrites.js';
import { expandConvWeights, squareKernelFor, type SquareKernel } from './squareKernel.js';
import { quoted } from '../text/untrustedText.js';
import { UnsupportedModelError, type NodeRef } from '../errors.js';

type Pads = [number, number, number, number];

export function spatialInput(node: OnnxNode, state: ChainState): { c: number; h: number; w: number } {
  const d = state.dims;
  if (d.length !== 4 || d[0] !== 1) {
    refuse(node, `expects a 4-D (N, C, H, W) input but gets shape [${d.join(', ')}]`, 'Only 2-D convolution and pooling on NCHW tensors are supported');
  }
  return { c: d[1], h: d[2], w: d[3] };
}

/** [top, left, bottom, right] from pads or auto_pad, for a window of `span` rows/columns. */
export function windowPads(node: OnnxNode, size: { h: number; w: number }, span: [number, number], stride: number): Pads {
  const autoPad = getString(node, 'auto_pad', 'NOTSET');
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = (n: number, k: number) => Math.max((Math.ceil(n / stride) - 1) * stride + k - n, 0);
    const th = total(size.h, span[0]), tw = total(size.w, span[1]);
    const begin = (t: number) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2));
    return [begin(th), begin(tw), th - begin(th), tw - begin(tw)];
  }
  if (autoPad !== 'NOTSET') refuse(node, `auto_pad ${quoted(autoPad, 60)} is not an ONNX value`, 'Use NOTSET (with pads), VALID, SAME_UPPER or SAME_LOWER');
  const pads = getInts(node, 'pads') ?? [0, 0, 0, 0];
  if (pads.length !== 4) refuse(node, `pads [${pads.join(', ')}] are not 2-D (top, left, bottom, right)`);
  if (pads.some((p) => p < 0)) refuse(node, `negative padding [${pads.join(', ')}] (cropping) is not supported`, 'Crop the input before the model instead');
  return pads as Pads;
}

export function squareStride(node: OnnxNode): number {
  const strides = getInts(node, 'strides') ?? [1, 1];
  if (strides.length !== 2 || strides[0] !== strides[1]) {
    refuse(node, `strides [${strides.join(', ')}] differ per axis; the firmware uses one stride for both`, 'Use the same stride for height and width');
  }
  if (strides[0] < 1) refuse(node, `stride ${strides[0]} is invalid: a stride must be at least 1`, 'Use stride=1 or more');
  return strides[0];
}

export function dilationsOf(node: OnnxNode): [number, number] {
  const d = getInts(node, 'dilations') ?? [1, 1];
  if (d.length !== 2 || d.some((x) => x < 1)) refuse(node, `dilations [${d.join(', ')}] are not two values of at least 1`);
  return [d[0], d[1]];
}

/** The shape a layer reads that applies the pending Pad itself: the chain's shape without it. */
export function unpadded(input: { c: number; h: number; w: number }, state: ChainState): { c: number; h: number; w: number } {
  const p = state.pendingPad?.pads ?? [0, 0, 0, 0];
  return { c: input.c, h: input.h - p[0] - p[2], w: input.w - p[1] - p[3] };
}

/** The node's own pads plus a pending Pad's (which this layer now applies). */
export function takePendingPad(state: ChainState, node: OnnxNode, own: Pads): Pads {
  const pending = state.pendingPad;
  if (!pending) return own;
  state.pendingPad = undefined;
  state.notes.push(`${pending.sources.map((s) => `${s.op} ${s.name ? quoted(s.name) : `#${s.index}`}`).join(', ')} became part of the padding of ${node.op} ${node.name ? quoted(node.name) : `#${node.index}`}`);
  return own.map((p, i) => p + pending.pads[i]) as Pads;
}

/**
 * A square kernel for the geometry, or a refusal saying why there is none — naming the Pad
 * before the node when its padding is what cannot be reproduced.
 */
export function squareKernelOrRefuse(node: OnnxNode, kh: number, kw: number, dilation: [number, number], pads: Pads, padNodes: readonly NodeRef[] = []): SquareKernel {
  const k = squareKernelFor({ kh, kw, dilation, pads });
  if ('reason' in k) {
    const own = squareKernelFor({ kh, kw, dilation, pads: [0, 0, 0, 0] });
    if (padNodes.length && !('reason' in own)) {
      throw new UnsupportedModelError(`pads height and width differently before ${node.op} ${node.name ? quoted(node.name) : `#${node.index}`}: ${k.reason}`,
        { node: padNodes[0], hint: 'Pad height and width by the same amounts (e.g. nn.ZeroPad2d(p)), or pad the input image yourself' });
    }
    refuse(node, `cannot run on the firmware: ${k.reason}`, 'Use a square kernel with the same padding on all sides (padding=k//2 for an odd k)');
  }
  if (k.size > U8_MAX) {
    refuse(node, `needs a ${k.size}×${k.size} kernel once ${dilation.some((d) => d > 1) ? 'its dilation is spread out' : 'its padding is made symmetric'}, more than the firmware's limit of ${U8_MAX}`, 'Use a smaller kernel or dilation');
  }
  if (k.padding > U8_MAX) refuse(node, `padding ${k.padding} exceeds the firmware's limit of ${U8_MAX}`, 'Use less padding');
  return k;
}

/**
 * The square kernel a window op (Conv, AveragePool) runs as, taking its own pads and a pending
 * Pad as padding, and the shape it then reads. When no square kernel reproduces that padding
 * (height and width padded by different reaches), the padding is written out first (as a Linear
 * that places each value, settlePending.ts) and the window op pads nothing.
 */
export function windowKernel(state: ChainState, node: OnnxNode, input: { c: number; h: number; w: number }, kh: number, kw: number,
  dilation: [number, number], own: Pads): { k: SquareKernel; reads: { c: number; h: number; w: number } } {
  const pending = state.pendingPad;
  const total = own.map((p, i) => p + (pending?.pads[i] ?? 0)) as Pads;
  const direct = squareKernelFor({ kh, kw, dilation, pads: total });
  const bare = squareKernelFor({ kh, kw, dilation, pads: [0, 0, 0, 0] });
  if ('reason' in direct && !('reason' in bare)) {
    if (state.pendingMap) settle(state, node); // it comes before the padding (a pending Pad and map never coexist)
    state.pendingPad = { pads: total, sources: [...(pending?.sources ?? []), nodeRef(node)] };
    state.dims = [1, input.c, input.h + own[0] + own[2], input.w + own[1] + own[3]];
    settle(state, node);
    const [, c, h, w] = state.dims;
    return { k: squareKernelOrRefuse(node, kh, kw, dilation, [0, 0, 0, 0]), reads: { c, h, w } };
  }
  const padNodes = pending?.sources ?? [];
  const reads = unpadded(input, state);
  const pads = takePendingPad(state, node, own);
  return { k: squareKernelOrRefuse(node, kh, kw, dilation, pads, padNodes), reads };
}

export interface ConvSpec {
  /**
   * The shape the Conv reads, before its own padding: the chain tensor's (a pending Pad it
   * absorbs taken off). From the ONNX shape, not the last record, which may factor the same
   * values differently.
   */
  input: { c: number; h: number; w: number };
  outC: number;
  kernel: number;
  stride: number;
  padding: number;
  /** (outC, inC, kernel, kernel). */
  weights: Float32Array;
  bias: Float32Array;
  hasModelBias: boolean;
  outH: number;
  outW: number;
  note?: string;
}

/**
 * Pushes a Conv2D on the chain tensor. A pending per-channel scale and shift folds into it when
 * it pads nothing (padded zeros would not pass through the scale and shift); anything else
 * pending is written out first.
 */
export function pushConv(state: ChainState, node: OnnxNode, spec: ConvSpec): void {
  const { c } = spec.input;
  const map = state.pendingMap;
  const perChannel = map && spec.padding === 0 ? map.perChannel() : undefined;
  if (map && perChannel) {
    state.pendingMap = undefined;
    const kk = spec.kernel * spec.kernel;
    for (let o = 0; o < spec.outC; o++) {
      let extra = 0;
      for (let i = 0; i < c; i++) {
        for (let t = 0; t < kk; t++) {
          const at = (o * c + i) * kk + t;
          extra += spec.weights[at] * perChannel.shift[i];
          spec.weights[at] = Math.fround(spec.weights[at] * perChannel.scale[i]);
        }
      }
      spec.bias[o] = Math.fround(spec.bias[o] + extra);
    }
    spec.hasModelBias = true;
    state.notes.push(`${describeSources(map.sources)} folded into the following ${node.op} ${node.name ? quoted(node.name) : `#${node.index}`}`);
  } else if (map) {
    settle(state, node);
  }
  producedBy(state, {
    type: LayerType.Conv2D,
    in: spec.input,
    out: { c: spec.outC, h: spec.outH, w: spec.outW },
    kernel: spec.kernel, stride: spec.stride, padding: spec.padding,
    weights: spec.weights, bias: spec.bias, hasModelBias: spec.hasModelBias,
    sources: [...(perChannel && map ? map.sources : []), nodeRef(node)],
    ...(spec.note ? { note: spec.note } : {}),
  }, [1, spec.outC, spec.outH, spec.outW]);
}

export function describeSources(sources: readonly { op: string; name: string; index: number }[]): string {
  const first = sources[0];
  const label = `${first.op} ${first.name ? quoted(first.name) : `#${first.index}`}`;
  return sources.length > 1 ? `${label} (with ${sources.length - 1} more)` : label;
}

export function lowerConv(node: OnnxNode, state: ChainState): void {
  const input = spatialInput(node, state);
  const w = constantInput(node, state, 1, 'weight');
  if (w.dims.length !== 4) refuse(node, `has a ${w.dims.length - 2}-D kernel; only 2-D convolution (Conv2d) is supported`);
  const [oc, icg, kh, kw] = w.dims;
  if (kh < 1 || kw < 1) refuse(node, `kernel size ${kh}×${kw}: a Conv kernel must be at least 1×1`, 'The weight tensor is empty; re-export the model');
  if (oc < 1) refuse(node, 'has 0 output channels (its weight tensor is empty)', 'Use out_channels of at least 1');
  const kernelShape = getInts(node, 'kernel_shape');
  if (kernelShape && (kernelShape.length !== 2 || kernelShape[0] !== kh || kernelShape[1] !== kw)) {
    refuse(node, `kernel_shape [${kernelShape.join(', ')}] disagrees with the weight shape [${w.dims.join(', ')}]`);
  }
  const group = getInt(node, 'group', 1);
  if (group < 1 || input.c % group !== 0 || oc % group !== 0 || icg * group !== input.c) {
    refuse(node, `weights [${w.dims.join(', ')}] with group=${group} do not fit an input of ${input.c} channels`);
  }
  const dilation = dilationsOf(node);
  const stride = squareStride(node);
  const span: [number, number] = [(kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1];
  const own = windowPads(node, input, span, stride);
  if (state.pendingMap && input.h === 1 && input.w === 1 && kh === 1 && kw === 1 && group === 1 && own.every((p) => p === 0)) {
    // A 1×1 Conv on a 1×1 map (a classifier after global pooling) is a Linear: it can absorb the mean.
    const bias = node.inputs[2] ? floatConstant(node, state, 2, 'bias') : undefined;
    if (bias && bias.length !== oc) refuse(node, `bias has ${bias.length} values but there are ${oc} output channels`);
    const src = w.kind === 'float' ? w.data : Float32Array.from(w.data);
    pushLinear(node, state, src.slice(), oc, bias?.slice(), [1, oc, 1, 1]);
    return;
  }
  const outH = Math.floor((input.h + own[0] + own[2] - span[0]) / stride) + 1;
  const outW = Math.floor((input.w + own[1] + own[3] - span[1]) / stride) + 1;
  if (outH < 1 || outW < 1) {
    refuse(node, `its ${span[0]}×${span[1]} window is larger than its input ${input.h}×${input.w} with padding [${own.join(', ')}]`,
      'Use a smaller kernel, more padding or a larger input');
  }
  // A pending Pad is not in the data yet: this Conv pads by it too.
  const { k, reads } = windowKernel(state, node, input, kh, kw, dilation, own);
  const src = w.kind === 'float' ? w.data : Float32Array.from(w.data);
  if (!k.same || group > 1) assertRewriteFits(nodeRef(node), oc * input.c * k.size * k.size, `running it as a full ${k.size}×${k.size} Conv ${input.c}→${oc}`);
  const weights = k.same && group === 1 ? src.slice() : expandConvWeights(src, w.dims, group, input.c, k);
  let bias: Float32Array | undefined;
  if (node.inputs[2]) {
    bias = floatConstant(node, state, 2, 'bias');
    if (bias.length !== oc) refuse(node, `bias has ${bias.length} values but there are ${oc} output channels`);
  }
  if (group > 1 || !k.same) {
    const kind = group > 1 && group === input.c ? 'depthwise' : group > 1 ? 'grouped' : dilation.some((d) => d > 1) ? 'dilated' : kh !== kw ? 'non-square' : 'asymmetrically padded';
    const how = group > 1 ? `runs as a full Conv ${input.c}→${oc} (zero weights between the ${group} groups)` : 'runs as a Conv';
    const shape = k.same ? '' : ` with a ${k.size}×${k.size} kernel${k.padding ? ` and padding ${k.padding}` : ''}`;
    state.rewrites.push({
      node: nodeRef(node), kind, how: how + shape,
      macs: { before: oc * icg * kh * kw * outH * outW, after: oc * input.c * k.size * k.size * outH * outW },
      parameters: { before: oc * icg * kh * kw + (bias ? oc : 0), after: oc * input.c * k.size * k.size + oc },
    });
  }
  pushConv(state, node, {
    input: reads, outC: oc, kernel: k.size, stride, padding: k.padding, weights,
    bias: bias ? bias.slice() : new Float32Array(oc), hasModelBias: Boolean(bias), outH, outW,
  });
}

/** Pad (constant 0 on height and width) waits for the Conv or pooling after it to take it as padding. */
export function lowerPad(node: OnnxNode, state: ChainState): void {
  spatialInput(node, state);
  const mode = getString(node, 'mode', 'constant');
  if (mode !== 'constant') refuse(node, `pads in ${quoted(mode, 30)} mode; the firmware can pad only with zeros`, 'Use zero padding (nn.ZeroPad2d or padding= in the Conv)');
  let raw: number[];
  if (node.inputs[1]) raw = Array.from(constantInput(node, state, 1, 'pads').data);
  else raw = getInts(node, 'pads') ?? [];
  const value = node.inputs[2] ? Array.from(constantInput(node, state, 2, 'constant_value').data) : [getFloatAttr(node)];
  if (value.some((v) => v !== 0)) refuse(node, `pads with the value ${value[0]}; the firmware can pad only with zeros`, 'Use zero padding, or add the constant to the data before the model');
  let pads: number[] = raw;
  if (node.inputs[3]) {
    const axes = Array.from(constantInput(node, state, 3, 'axes').data, (a) => (a < 0 ? a + 4 : a));
    if (raw.length !== 2 * axes.length || axes.some((a) => a < 0 || a > 3)) refuse(node, `pads [${raw.join(', ')}] do not match axes [${axes.join(', ')}]`);
    pads = new Array<number>(8).fill(0);
    axes.forEach((a, i) => { pads[a] = raw[i]; pads[a + 4] = raw[i + axes.length]; });
  }
  if (pads.length !== 8) refuse(node, `pads [${pads.join(', ')}] are not 8 values for a 4-D tensor`);
  if (pads.some((p) => !Number.isInteger(p) || p < 0)) refuse(node, `pads [${pads.join(', ')}] crop the tensor (negative values), which the firmware cannot do`, 'Crop the input before the model instead');
  if (pads[0] || pads[1] || pads[4] || pads[5]) {
    refuse(node, `pads the batch or channel axis ([${pads.join(', ')}]); the firmware pads only height and width`, 'Pad only the last two axes');
  }
  const hw: Pads = [pads[2], pads[3], pads[6], pads[7]];
  if (hw.every((p) => p === 0)) return;
  if (state.pendingMap) settle(state, node);
  const [, c, h, wd] = state.dims;
  if (state.pendingPad) {
    state.pendingPad.pads = state.pendingPad.pads.map((p, i) => p + hw[i]) as Pads;
    state.pendingPad.sources.push(nodeRef(node));
  } else {
    state.pendingPad = { pads: hw, sources: [nodeRef(node)] };
  }
  state.dims = [1, c, h + hw[0] + hw[2], wd + hw[1] + hw[3]];
}

function getFloatAttr(node: OnnxNode): number {
  const a = node.attributes.get('value');
  return a && a.type === 'float' ? a.value : 0;
}
