// Ops that change only shapes or apply element-wise functions: Flatten, Reshape, Squeeze,
// Unsqueeze and Transpose; Relu and Clip(min 0); Softmax; Identity/Dropout (dropped). The data
// stays in NCHW order through every reshape, so a reshape is a new record shape, nothing more.
import { LayerType } from '../blob/blobFormat.js';
import { constantInput, nodeRef, recordFor, refuse, usedExtraOutputs, type ChainState } from './chainState.js';
import { elementCount, getInt, getInts, type OnnxNode } from './onnxGraph.js';
import { startMap } from './lowerPooling.js';
import { settle } from './settlePending.js';

/** The chain tensor takes a new shape; the values and their order stay. */
function reshapeTo(node: OnnxNode, state: ChainState, dims: number[]): void {
  if (dims.length === state.dims.length && dims.every((d, i) => d === state.dims[i])) return;
  if (state.pendingPad) settle(state, node);
  if (state.pendingMap) {
    state.pendingMap.logicalDims = dims;
    state.dims = dims;
    return;
  }
  const n = elementCount(dims);
  // Small vectors as (n,1,1) like the reference converter; NCHW shapes as themselves; wider
  // vectors keep the record they have (only the element count matters to a Linear).
  const out = dims.length === 4 ? recordFor(dims) : n <= 255 ? { c: n, h: 1, w: 1 } : state.record;
  const sameRecord = out.c === state.record.c && out.h === state.record.h && out.w === state.record.w;
  if (!sameRecord || node.op === 'Flatten' || node.op === 'Reshape') {
    state.layers.push({ type: LayerType.Flatten, in: state.record, out, kernel: 0, stride: 1, padding: 0, sources: [nodeRef(node)] });
    state.lastLayerIsCurrent = false;
  }
  state.dims = dims;
  state.record = out;
}

export function lowerFlatten(node: OnnxNode, state: ChainState): void {
  const rank = state.dims.length;
  let axis = getInt(node, 'axis', 1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis > rank) refuse(node, `axis ${getInt(node, 'axis', 1)} is out of range for a rank-${rank} input`);
  const outer = elementCount(state.dims.slice(0, axis));
  if (outer !== 1) {
    refuse(node, `with axis=${axis} turns [${state.dims.join(', ')}] into a ${outer}×${elementCount(state.dims.slice(axis))} matrix, not a vector`,
      'Flatten everything but the batch (torch.flatten(x, 1))');
  }
  reshapeTo(node, state, [1, elementCount(state.dims)]);
}

export function lowerReshape(node: OnnxNode, state: ChainState): void {
  const shape = constantInput(node, state, 1, 'target shape');
  const allowZero = getInt(node, 'allowzero', 0) === 1;
  const total = elementCount(state.dims);
  const target = Array.from(shape.data, (d, i) => (d === 0 && !allowZero ? state.dims[i] ?? 0 : d));
  const minusOne = target.filter((d) => d === -1).length;
  if (minusOne > 1 || target.some((d) => d < -1 || !Number.isInteger(d))) refuse(node, `target shape [${Array.from(shape.data).join(', ')}] is invalid`);
  if (minusOne) {
    const known = elementCount(target.filter((d) => d !== -1));
    if (known === 0 || total % known !== 0) refuse(node, `cannot reshape ${total} values to [${Array.from(shape.data).join(', ')}]`);
    target[target.indexOf(-1)] = total / known;
  }
  if (elementCount(target) !== total) refuse(node, `cannot reshape [${state.dims.join(', ')}] (${total} values) to [${target.join(', ')}]`);
  if (target.length > 0 && target[0] !== 1 && target.length > 1) {
    refuse(node, `reshapes [${state.dims.join(', ')}] to [${target.join(', ')}], a batch of ${target[0]}; the firmware runs one sample at a time`,
      'Keep the batch dimension 1 (x.view(1, -1) or x.view(x.size(0), -1))');
  }
  reshapeTo(node, state, target);
}

/** Axes as an input from opset 13, as an attribute before: the other form is not valid ONNX and tools read it differently. */
function squeezeAxes(node: OnnxNode, state: ChainState): number[] | undefined {
  const attribute = getInts(node, 'axes');
  if (state.graph.opset >= 13 && attribute) refuse(node, `gives axes as an attribute, which opset ${state.graph.opset} does not have (axes are an input since opset 13)`, 'Export the model again');
  if (state.graph.opset < 13 && node.inputs[1]) refuse(node, `gives axes as an input, which opset ${state.graph.opset} does not have (an attribute before opset 13)`, 'Export the model again');
  return node.inputs[1] ? Array.from(constantInput(node, state, 1, 'axes').data) : attribute;
}

export function lowerSqueeze(node: OnnxNode, state: ChainState): void {
  const rank = state.dims.length;
  const axes = squeezeAxes(node, state);
  if (!axes) {
    reshapeTo(node, state, state.dims.filter((d) => d !== 1));
    return;
  }
  const set = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  for (const a of set) if (!(a >= 0 && a < rank) || state.dims[a] !== 1) refuse(node, `cannot squeeze axis ${a} of shape [${state.dims.join(', ')}]`);
  reshapeTo(node, state, state.dims.filter((_, i) => !set.has(i)));
}

export function lowerUnsqueeze(node: OnnxNode, state: ChainState): void {
  const axes = squeezeAxes(node, state) ?? [];
  if (!axes.length) refuse(node, 'has no axes to insert', 'Export the model again');
  const rank = state.dims.length + axes.length;
  const set = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  if (set.size !== axes.length || [...set].some((a) => a < 0 || a >= rank)) refuse(node, `axes [${axes.join(', ')}] are invalid for a rank-${rank} result`);
  const dims: number[] = [];
  let next = 0;
  for (let i = 0; i < rank; i++) dims.push(set.has(i) ? 1 : state.dims[next++]);
  reshapeTo(node, state, dims);
}

/**
 * Transpose: a reshape when it moves no value (only axes of size 1 change places); otherwise a
 * pending reorder that the Linear after the flatten absorbs (the NHWC flatten of TensorFlow-style
 * models), refused when anything else follows.
 */
export function lowerTranspose(node: OnnxNode, state: ChainState): void {
  const rank = state.dims.length;
  const perm = getInts(node, 'perm') ?? state.dims.map((_, i) => rank - 1 - i);
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => p < 0 || p >= rank)) {
    refuse(node, `perm [${perm.join(', ')}] is not a permutation of the ${rank} axes`);
  }
  const dims = perm.map((p) => state.dims[p]);
  const moving = state.dims.map((d, i) => ({ d, i })).filter((a) => a.d !== 1).map((a) => a.i);
  const keptOrder = perm.filter((p) => state.dims[p] !== 1);
  if (keptOrder.every((p, k) => p === moving[k])) {
    reshapeTo(node, state, dims);
    return;
  }
  if (state.pendingPad) settle(state, node);
  const map = state.pendingMap ?? startMap(node, state);
  map.transpose(perm, nodeRef(node));
  state.pendingMap = map;
  state.dims = map.logicalDims;
}

export function lowerRelu(node: OnnxNode, state: ChainState): void {
  // A pending zero Pad commutes with ReLU (relu(0) = 0), so it may stay pending.
  if (state.pendingMap) settle(state, node);
  state.layers.push({ type: LayerType.ReLU, in: state.record, out: state.record, kernel: 0, stride: 1, padding: 0, sources: [nodeRef(node)] });
  state.lastLayerIsCurrent = false;
  state.nonNegative = true;
}

export function lowerSoftmax(node: OnnxNode, state: ChainState): void {
  if (state.pendingMap || state.pendingPad) settle(state, node);
  const rank = state.dims.length;
  const opset = state.graph.opset;
  let axis = getInt(node, 'axis', opset < 13 ? 1 : -1);
  if (rank === 0 || axis < -rank || axis >= rank) refuse(node, `axis ${axis} is not an axis of a rank-${rank} tensor`);
  if (axis < 0) axis += rank;
  // The firmware's softmax runs over every value of the tensor.
  const coversAll = opset < 13
    ? elementCount(state.dims.slice(0, axis)) === 1
    : state.dims.every((d, i) => i === axis || d === 1);
  if (!coversAll) {
    refuse(node, `normalises over axis ${axis} of [${state.dims.join(', ')}], but the firmware's softmax runs over all values of the tensor`,
      'Apply Softmax to the flattened output of the last Linear layer (dim=-1)');
  }
  state.layers.push({ type: LayerType.Softmax, in: state.record, out: state.record, kernel: 0, stride: 1, padding: 0, sources: [nodeRef(node)] });
  state.lastLayerIsCurrent = false;
  state.nonNegative = true;
}

/** Identity: nothing to do. */
export function lowerIdentity(): void {}

/** Inference-mode Dropout is the identity; training mode or a used mask is refused. */
export function lowerDropout(node: OnnxNode, state: ChainState): void {
  if (usedExtraOutputs(node, state).length) refuse(node, 'its mask output is used', 'Export with model.eval()');
  if (node.inputs[2]) {
    const training = constantInput(node, state, 2, 'training_mode');
    if (training.data.some((v) => v !== 0)) refuse(node, 'runs in training mode', 'Export with model.eval()');
  }
  if (getInt(node, 'is_test', 1) === 0) refuse(node, 'runs in training mode (is_test=0)', 'Export with model.eval()');
}
