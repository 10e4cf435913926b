// Conv and MaxPool → Conv2D / MaxPool2D layers, with every ONNX attribute the firmware cannot
// honour refused by name.
import { LayerType } from '../blob/blobFormat.js';
import { constantInput, floatConstant, nodeRef, refuse, usedExtraOutputs, type ChainState } from './chainState.js';
import { getInt, getInts, getString, type OnnxNode } from './onnxGraph.js';
import { quoted } from '../text/untrustedText.js';

function spatialInput(node: OnnxNode, state: ChainState): { c: number; h: number; w: number } {
  const d = state.dims;
  if (d.length !== 4) {
    refuse(node, `expects a 4-D (N, C, H, W) input but gets shape [${d.join(', ')}]`, 'Only 2-D convolution and pooling on NCHW tensors are supported');
  }
  return { c: d[1], h: d[2], w: d[3] };
}

/** One padding value for all sides, from pads or auto_pad; refuses asymmetric padding. */
function symmetricPadding(node: OnnxNode, size: { h: number; w: number }, kernel: number, stride: number): number {
  const autoPad = getString(node, 'auto_pad', 'NOTSET');
  let pads: number[];
  if (autoPad === 'VALID') pads = [0, 0, 0, 0];
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = (n: number) => Math.max((Math.ceil(n / stride) - 1) * stride + kernel - n, 0);
    const th = total(size.h), tw = total(size.w);
    const lower = (t: number) => (autoPad === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2));
    pads = [lower(th), lower(tw), th - lower(th), tw - lower(tw)];
  } else if (autoPad === 'NOTSET') pads = getInts(node, 'pads') ?? [0, 0, 0, 0];
  else refuse(node, `auto_pad ${quoted(autoPad, 60)} is not an ONNX value`, 'Use NOTSET (with pads), VALID, SAME_UPPER or SAME_LOWER');
  if (pads.length !== 4 || pads.some((p) => p !== pads[0])) {
    refuse(node, `asymmetric padding [${pads.join(', ')}] is not supported: the firmware pads all sides by the same amount`,
      'Use symmetric padding (e.g. padding=k//2 with an odd kernel in PyTorch), or pad the input image yourself');
  }
  if (pads[0] < 0) refuse(node, `negative padding ${pads[0]} is not supported`);
  return pads[0];
}

function squareStride(node: OnnxNode): number {
  const strides = getInts(node, 'strides') ?? [1, 1];
  if (strides.length !== 2 || strides[0] !== strides[1]) {
    refuse(node, `strides [${strides.join(', ')}] differ per axis; the firmware uses one stride for both`, 'Use the same stride for height and width');
  }
  if (strides[0] < 1) refuse(node, `stride ${strides[0]} is invalid: a stride must be at least 1`, 'Use stride=1 or more');
  return strides[0];
}

function checkDilations(node: OnnxNode): void {
  const dilations = getInts(node, 'dilations');
  if (dilations && dilations.some((d) => d !== 1)) {
    refuse(node, `dilation [${dilations.join(', ')}] is not supported by the firmware`, 'Use dilation=1');
  }
}

export function lowerConv(node: OnnxNode, state: ChainState): void {
  const input = spatialInput(node, state);
  const w = constantInput(node, state, 1, 'weight');
  if (w.dims.length !== 4) refuse(node, `has a ${w.dims.length - 2}-D kernel; only 2-D convolution (Conv2d) is supported`);
  const [oc, ic, kh, kw] = w.dims;
  if (kh < 1 || kw < 1) refuse(node, `kernel size ${kh}×${kw}: a Conv kernel must be at least 1×1`, 'The weight tensor is empty; re-export the model');
  if (oc < 1) refuse(node, 'has 0 output channels (its weight tensor is empty)', 'Use out_channels of at least 1');
  const group = getInt(node, 'group', 1);
  if (group !== 1) {
    refuse(node, `grouped convolution (group=${group}) is not supported by the firmware`, 'Use groups=1 in nn.Conv2d (depthwise and grouped convolutions cannot run)');
  }
  checkDilations(node);
  if (kh !== kw) refuse(node, `non-square kernel ${kh}×${kw} is not supported`, 'Use a square kernel (kernel_size=k)');
  const kernelShape = getInts(node, 'kernel_shape');
  if (kernelShape && (kernelShape[0] !== kh || kernelShape[1] !== kw)) {
    refuse(node, `kernel_shape [${kernelShape.join(', ')}] disagrees with the weight shape [${w.dims.join(', ')}]`);
  }
  if (ic !== input.c) refuse(node, `weights expect ${ic} input channels but the input has ${input.c}`);
  const stride = squareStride(node);
  const padding = symmetricPadding(node, input, kh, stride);
  const outH = Math.floor((input.h + 2 * padding - kh) / stride) + 1;
  const outW = Math.floor((input.w + 2 * padding - kh) / stride) + 1;
  if (outH < 1 || outW < 1) {
    refuse(node, `kernel ${kh}×${kh} is larger than its input ${input.h}×${input.w} padded by ${padding} on each side`,
      'Use a smaller kernel, more padding or a larger input');
  }

  let bias: Float32Array | undefined;
  if (node.inputs[2]) {
    bias = floatConstant(node, state, 2, 'bias');
    if (bias.length !== oc) refuse(node, `bias has ${bias.length} values but there are ${oc} output channels`);
  }
  state.layers.push({
    type: LayerType.Conv2D,
    in: input,
    out: { c: oc, h: outH, w: outW },
    kernel: kh, stride, padding,
    weights: (w.kind === 'float' ? w.data : Float32Array.from(w.data)).slice(),
    bias: bias ? bias.slice() : new Float32Array(oc),
    hasModelBias: Boolean(bias),
    sources: [nodeRef(node)],
  });
  state.dims = [1, oc, outH, outW];
  state.record = { c: oc, h: outH, w: outW };
  state.lastLayerIsCurrent = true;
}

export function lowerMaxPool(node: OnnxNode, state: ChainState): void {
  const input = spatialInput(node, state);
  const kernelShape = getInts(node, 'kernel_shape') ?? [];
  if (kernelShape.length !== 2) refuse(node, `kernel_shape [${kernelShape.join(', ')}] is not 2-D`);
  const [kh, kw] = kernelShape;
  if (kh < 1 || kw < 1) refuse(node, `pooling window ${kh}×${kw}: a MaxPool kernel must be at least 1×1`, 'Use kernel_size of at least 1');
  if (kh !== kw) refuse(node, `non-square pooling window ${kh}×${kw} is not supported`, 'Use a square kernel_size');
  checkDilations(node);
  if (usedExtraOutputs(node, state).length) refuse(node, 'its indices output is used; the firmware only computes the pooled values');
  const stride = squareStride(node);
  const autoPad = getString(node, 'auto_pad', 'NOTSET');
  const pads = autoPad === 'NOTSET' ? getInts(node, 'pads') ?? [0, 0, 0, 0] : [symmetricPadding(node, input, kh, stride)];
  if (pads.some((p) => p !== 0)) {
    refuse(node, `MaxPool padding [${pads.join(', ')}] is not supported: the firmware pools without padding`, 'Use padding=0 in nn.MaxPool2d');
  }
  const outH = Math.floor((input.h - kh) / stride) + 1;
  const outW = Math.floor((input.w - kh) / stride) + 1;
  if (outH < 1 || outW < 1) refuse(node, `pooling window ${kh}×${kh} is larger than its input ${input.h}×${input.w}`, 'Use a smaller kernel_size or a larger input');
  if (getInt(node, 'ceil_mode', 0) !== 0) {
    const ceilH = Math.ceil((input.h - kh) / stride) + 1;
    const ceilW = Math.ceil((input.w - kh) / stride) + 1;
    if (ceilH !== outH || ceilW !== outW) {
      refuse(node, `ceil_mode=1 gives a ${ceilH}×${ceilW} output where the firmware computes ${outH}×${outW}`,
        'Use ceil_mode=False in nn.MaxPool2d, or an input size where it makes no difference');
    }
  }
  state.layers.push({
    type: LayerType.MaxPool2D,
    in: input,
    out: { c: input.c, h: outH, w: outW },
    kernel: kh, stride, padding: 0,
    sources: [nodeRef(node)],
  });
  state.dims = [1, input.c, outH, outW];
  state.record = { c: input.c, h: outH, w: outW };
  state.lastLayerIsCurrent = true;
}
