// What lowering knows while it walks the graph's single chain from input to output.
import { UnsupportedModelError, type NodeRef } from '../errors.js';
import type { Layer, Shape3 } from '../blob/blobFormat.js';
import { quoted } from '../text/untrustedText.js';
import type { ConstantFolder } from './foldConstants.js';
import { elementCount, type OnnxGraph, type OnnxNode, type Tensor } from './onnxGraph.js';
import type { PendingMap } from './pendingMap.js';
import type { Rewrite } from './rewrites.js';

/** Zero padding of the chain tensor that no layer has applied yet: [top, left, bottom, right]. */
export interface PendingPad {
  pads: [number, number, number, number];
  sources: NodeRef[];
}

export interface ChainState {
  graph: OnnxGraph;
  /** Name of the tensor the chain has reached. */
  tensor: string;
  /** Its ONNX shape, batch fixed to 1. */
  dims: number[];
  /** How the blob records it (only the element count matters for non-spatial layers). */
  record: Shape3;
  layers: Layer[];
  /** True when the last layer produced `tensor`, so a following Add/BatchNormalization can fold into it. */
  lastLayerIsCurrent: boolean;
  /** Things the user should know about the conversion (folds, added layers). */
  notes: string[];
  constants: ConstantFolder;
  /** Names of every tensor some node reads or the graph outputs, built once: asking per node would be quadratic. */
  usedTensors: ReadonlySet<string>;
  /**
   * An affine map (scale, shift, mean, reorder) of the last layer's output that no layer has
   * computed yet; `dims` is then its logical shape and `record` still the physical one.
   */
  pendingMap?: PendingMap;
  /** A Pad waiting for the Conv or pooling that can take it as padding. */
  pendingPad?: PendingPad;
  /** Rewrites with their cost, for the report. */
  rewrites: Rewrite[];
  /** True when every value of the chain tensor is known to be ≥ 0 (after ReLU): zero padding then equals −∞ padding for a max. */
  nonNegative: boolean;
}

/** Lowers one node: pushes layers and/or updates dims and record. */
export type OpLowering = (node: OnnxNode, state: ChainState) => void;

export function nodeRef(node: OnnxNode): NodeRef {
  return { name: node.name, index: node.index, op: node.op };
}

/** 'name' or #index, for notes. */
export function nodeLabel(ref: NodeRef): string {
  return ref.name ? quoted(ref.name) : `#${ref.index}`;
}

export function refuse(node: OnnxNode, message: string, hint?: string): never {
  throw new UnsupportedModelError(message, { node: nodeRef(node), hint });
}

/** The firmware's record shape for a flat vector of n values. */
export function flatRecord(n: number): Shape3 {
  // Small vectors as (n,1,1), like the reference converter; wider ones along the u16 width.
  return n <= 255 ? { c: n, h: 1, w: 1 } : { c: 1, h: 1, w: n };
}

/** Record shape for a logical ONNX shape: NCHW as is (when its channels fit a u8), anything else as a flat vector. */
export function recordFor(dims: readonly number[]): Shape3 {
  if (dims.length === 4 && dims[0] === 1 && dims[1] <= 255) return { c: dims[1], h: dims[2], w: dims[3] };
  return flatRecord(elementCount(dims));
}

/** Records that the last pushed layer produced the chain tensor, with its ONNX shape. */
export function producedBy(state: ChainState, layer: Layer, dims: number[]): void {
  state.layers.push(layer);
  state.dims = dims;
  state.record = layer.out;
  state.lastLayerIsCurrent = true;
  state.nonNegative = false;
}

/** A constant input (initializer, Constant node or folded shape computation), or a refusal. */
export function constantInput(node: OnnxNode, state: ChainState, index: number, what: string): Tensor {
  const name = node.inputs[index];
  const value = name ? state.constants.resolve(name) : undefined;
  if (!value) {
    refuse(node, `its ${what} (${quoted(name ?? '')}) is not a constant`,
      'The converter needs weights and shapes stored in the model (initializers); export with do_constant_folding=True');
  }
  return value;
}

export function floatConstant(node: OnnxNode, state: ChainState, index: number, what: string): Float32Array {
  const t = constantInput(node, state, index, what);
  return t.kind === 'float' ? t.data : Float32Array.from(t.data);
}

/** Every tensor name a node reads or the graph outputs (for ChainState.usedTensors). */
export function usedTensorNames(graph: OnnxGraph): Set<string> {
  const used = new Set<string>();
  for (const n of graph.nodes) for (const name of n.inputs) if (name) used.add(name);
  for (const o of graph.outputs) used.add(o.name);
  return used;
}

/** Names the node's outputs beyond the first that something uses (e.g. MaxPool indices, Dropout mask). */
export function usedExtraOutputs(node: OnnxNode, state: ChainState): string[] {
  const used: string[] = [];
  for (let i = 1; i < node.outputs.length; i++) if (node.outputs[i] && state.usedTensors.has(node.outputs[i])) used.push(node.outputs[i]);
  return used;
}
