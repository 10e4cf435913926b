// Ops that change only shapes or apply element-wise functions: Flatten, Reshape, Relu, Softmax,
// and Identity/Dropout (dropped).
import { LayerType } from '../blob/blobFormat.js';
import { constantInput, nodeRef, refuse, usedExtraOutputs, type ChainState } from './chainState.js';
import { elementCount, getInt, type OnnxNode } from './onnxGraph.js';

/** A Flatten record: small vectors as (n,1,1) like the reference converter; wider ones keep the input's shape. */
function pushFlatten(node: OnnxNode, state: ChainState, dims: number[]): void {
  const n = elementCount(dims);
  const out = n <= 255 ? { c: n, h: 1, w: 1 } : state.record;
  state.layers.push({ type: LayerType.Flatten, in: state.record, out, kernel: 0, stride: 1, padding: 0, sources: [nodeRef(node)] });
  state.dims = dims;
  state.record = out;
  state.lastLayerIsCurrent = false;
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
  pushFlatten(node, state, [1, elementCount(state.dims)]);
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
  if (target.length === state.dims.length && target.every((d, i) => d === state.dims[i])) return; // no-op
  const nonUnit = target.filter((d) => d !== 1).length;
  const isVector = nonUnit <= 1 && (target.length <= 2 || target.slice(0, -1).every((d) => d === 1));
  if (!isVector) {
    refuse(node, `reshapes [${state.dims.join(', ')}] to [${target.join(', ')}], which is not a flatten; the firmware can only flatten to a vector`,
      'Reshape only to flatten before a Linear layer (x.view(1, -1) or x.view(-1, N))');
  }
  pushFlatten(node, state, target);
}

export function lowerRelu(node: OnnxNode, state: ChainState): void {
  state.layers.push({ type: LayerType.ReLU, in: state.record, out: state.record, kernel: 0, stride: 1, padding: 0, sources: [nodeRef(node)] });
  state.lastLayerIsCurrent = false;
}

export function lowerSoftmax(node: OnnxNode, state: ChainState): void {
  const rank = state.dims.length;
  const opset = state.graph.opset;
  let axis = getInt(node, 'axis', opset < 13 ? 1 : -1);
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
