// Gemm, MatMul, a bias Add and BatchNormalization → Linear layers (or folds into the previous
// Conv2D/Linear). Weights end up (out, in) row-major, as the firmware reads them.
import { LayerType, type Layer } from '../blob/blobFormat.js';
import { constantInput, flatRecord, floatConstant, nodeLabel, nodeRef, refuse, usedExtraOutputs, type ChainState } from './chainState.js';
import { elementCount, getFloat, getInt, type OnnxNode } from './onnxGraph.js';
import { safeName } from '../text/untrustedText.js';

const f32 = Math.fround;

/** The chain tensor as a vector of K features; every dim but the last must be 1. */
function vectorInput(node: OnnxNode, state: ChainState): number {
  const d = state.dims;
  if (d.length === 0 || d.slice(0, -1).some((x) => x !== 1)) {
    refuse(node, `expects a [1, K] input but gets shape [${d.join(', ')}]`, 'Flatten the tensor before the Linear layer (x.flatten(1) or x.view(1, -1))');
  }
  return d[d.length - 1];
}

function pushLinear(node: OnnxNode, state: ChainState, weights: Float32Array, outF: number, bias: Float32Array | undefined): void {
  if (outF > 65535) {
    refuse(node, `Linear out_features ${outF} exceeds the firmware's limit of 65535`, 'Use fewer output features');
  }
  const layer: Layer = {
    type: LayerType.Linear,
    in: state.record,
    out: flatRecord(outF),
    kernel: 0, stride: 1, padding: 0,
    weights,
    bias: bias ?? new Float32Array(outF),
    hasModelBias: Boolean(bias),
    sources: [nodeRef(node)],
  };
  state.layers.push(layer);
  state.dims = [...state.dims.slice(0, -1), outF];
  state.record = layer.out;
  state.lastLayerIsCurrent = true;
}

/**
 * A constant broadcast to n values along the last axis (shapes [n], [1, n], [1] or scalar), or
 * undefined. Broadcasting aligns trailing axes, so e.g. [n, 1] is not a per-feature vector.
 */
function broadcastVector(values: Float32Array, dims: number[], n: number): Float32Array | undefined {
  const count = elementCount(dims);
  if (count === 1) return new Float32Array(n).fill(values[0]);
  if (count === n && dims[dims.length - 1] === n) return values;
  return undefined;
}

export function lowerGemm(node: OnnxNode, state: ChainState): void {
  if (state.dims.length !== 2 || state.dims[0] !== 1) {
    refuse(node, `expects a [1, K] input but gets shape [${state.dims.join(', ')}]`, 'Flatten the tensor before the Linear layer');
  }
  if (getInt(node, 'transA', 0) !== 0) refuse(node, 'transA=1 is not supported', 'Export nn.Linear as usual (transA=0)');
  const b = constantInput(node, state, 1, 'weight (B)');
  if (b.dims.length !== 2) refuse(node, `weight B has shape [${b.dims.join(', ')}], not 2-D`);
  const transB = getInt(node, 'transB', 0);
  const [outF, inF] = transB ? b.dims : [b.dims[1], b.dims[0]];
  const k = state.dims[1];
  if (inF !== k) refuse(node, `weight expects ${inF} input features but the input has ${k}`);
  const alpha = getFloat(node, 'alpha', 1);
  const beta = getFloat(node, 'beta', 1);
  const src = b.kind === 'float' ? b.data : Float32Array.from(b.data);
  const weights = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    for (let i = 0; i < inF; i++) {
      const v = transB ? src[o * inF + i] : src[i * outF + o];
      weights[o * inF + i] = alpha === 1 ? v : f32(alpha * v);
    }
  }
  let bias: Float32Array | undefined;
  if (node.inputs[2]) {
    const c = constantInput(node, state, 2, 'bias (C)');
    const values = broadcastVector(c.kind === 'float' ? c.data : Float32Array.from(c.data), c.dims, outF);
    if (!values) refuse(node, `bias C of shape [${c.dims.join(', ')}] does not broadcast to [1, ${outF}]`);
    bias = Float32Array.from(values, (v) => (beta === 1 ? v : f32(beta * v)));
  }
  pushLinear(node, state, weights, outF, bias);
}

export function lowerMatMul(node: OnnxNode, state: ChainState): void {
  if (node.inputs[0] !== state.tensor) refuse(node, 'the data must be its first input (x @ W)', 'Write the layer as x @ W, or use nn.Linear');
  const k = vectorInput(node, state);
  const b = constantInput(node, state, 1, 'weight');
  if (b.dims.length !== 2) refuse(node, `weight has shape [${b.dims.join(', ')}], not 2-D`);
  const [inF, outF] = b.dims;
  if (inF !== k) refuse(node, `weight expects ${inF} input features but the input has ${k}`);
  const src = b.kind === 'float' ? b.data : Float32Array.from(b.data);
  const weights = new Float32Array(outF * inF);
  for (let o = 0; o < outF; o++) for (let i = 0; i < inF; i++) weights[o * inF + i] = src[i * outF + o];
  pushLinear(node, state, weights, outF, undefined);
}

/** Add of a constant right after a Conv2D/Linear becomes (part of) its bias. */
export function lowerAdd(node: OnnxNode, state: ChainState): void {
  const last = state.layers[state.layers.length - 1];
  const dataIndex = node.inputs.indexOf(state.tensor);
  const otherIndex = dataIndex === 0 ? 1 : 0;
  const other = node.inputs[otherIndex] ? state.constants.resolve(node.inputs[otherIndex]) : undefined;
  if (!other) {
    refuse(node, 'adds two computed tensors (a skip or residual connection), so the graph is not a single chain',
      'The firmware runs layers one after another; remove residual connections');
  }
  if (!last || !state.lastLayerIsCurrent || (last.type !== LayerType.Conv2D && last.type !== LayerType.Linear)) {
    refuse(node, 'adds a constant that is not the bias of a directly preceding Conv/Gemm/MatMul', 'Only x @ W + b style bias additions can be folded');
  }
  const channels = last.out.c * (last.type === LayerType.Linear ? last.out.h * last.out.w : 1);
  const values = other.kind === 'float' ? other.data : Float32Array.from(other.data);
  let vector: Float32Array | undefined;
  if (last.type === LayerType.Linear) vector = broadcastVector(values, other.dims, channels);
  else if (elementCount(other.dims) === 1) vector = new Float32Array(channels).fill(values[0]);
  else if (elementCount(other.dims) === channels) {
    // Per-channel constants of an NCHW tensor are [C, 1, 1] / [1, C, 1, 1]; a [C] would add along the width.
    const d = other.dims.slice(-3);
    if (d.length === 3 && d[0] === channels && d[1] === 1 && d[2] === 1) vector = values;
  }
  if (!vector) refuse(node, `its constant of shape [${other.dims.join(', ')}] is not a per-output bias of the preceding layer`);
  const bias = last.bias!;
  for (let i = 0; i < bias.length; i++) bias[i] = f32(bias[i] + vector[i]);
  last.hasModelBias = true;
  last.sources.push(nodeRef(node));
}

/** BatchNormalization folded into the Conv2D/Linear that produced its input. */
export function lowerBatchNorm(node: OnnxNode, state: ChainState): void {
  const last = state.layers[state.layers.length - 1];
  if (!last || !state.lastLayerIsCurrent || (last.type !== LayerType.Conv2D && last.type !== LayerType.Linear)) {
    const after = last ? `after ${last.sources[0] ? safeName(last.sources[0].op, 60) : 'a layer'}` : 'on the model input';
    refuse(node, `cannot be folded ${after}; it is only supported directly after Conv, Gemm or MatMul`,
      'Place BatchNorm right after a Conv/Linear layer, or fuse it in PyTorch before exporting');
  }
  if (getInt(node, 'training_mode', 0) !== 0 || usedExtraOutputs(node, state).length) {
    refuse(node, 'is in training mode', 'Call model.eval() before torch.onnx.export');
  }
  const channels = last.type === LayerType.Conv2D ? last.out.c : last.out.c * last.out.h * last.out.w;
  const param = (i: number, what: string) => {
    const v = floatConstant(node, state, i, what);
    if (v.length !== channels) refuse(node, `${what} has ${v.length} values but the layer has ${channels} channels`);
    return v;
  };
  const scale = param(1, 'scale'), shift = param(2, 'bias'), mean = param(3, 'mean'), variance = param(4, 'variance');
  const epsilon = getFloat(node, 'epsilon', 1e-5);
  const weights = last.weights!;
  const bias = last.bias!;
  const perChannel = weights.length / channels;
  for (let c = 0; c < channels; c++) {
    // Folded in double precision, rounded once to float32.
    const factor = scale[c] / Math.sqrt(variance[c] + epsilon);
    for (let j = 0; j < perChannel; j++) weights[c * perChannel + j] = f32(weights[c * perChannel + j] * factor);
    bias[c] = f32((bias[c] - mean[c]) * factor + shift[c]);
  }
  last.hasModelBias = true;
  last.sources.push(nodeRef(node));
  state.notes.push(`BatchNormalization ${nodeLabel(nodeRef(node))} folded into ${safeName(last.sources[0].op, 60)} ${nodeLabel(last.sources[0])}`);
}
