// OnnxGraph → the firmware's layer chain. Walks from the single input to the single output,
// one consumer at a time, lowering each node; refuses anything that is not such a chain.
import { LayerType, type Layer, shapeElements } from '../blob/blobFormat.js';
import { UnsupportedModelError } from '../errors.js';
import { listSome, quoted, safeName } from '../text/untrustedText.js';
import { nodeLabel, nodeRef, recordFor, refuse, usedExtraOutputs, usedTensorNames, type ChainState, type OpLowering } from './chainState.js';
import { ConstantFolder } from './foldConstants.js';
import { lowerArithmetic, lowerBatchNorm, lowerClip, lowerMaxMin } from './lowerAffine.js';
import { lowerGemm, lowerMatMul } from './lowerDense.js';
import { lowerAveragePool, lowerGlobalAveragePool, lowerGlobalMax, lowerMaxPool, lowerReduce } from './lowerPooling.js';
import { lowerDropout, lowerFlatten, lowerIdentity, lowerRelu, lowerReshape, lowerSoftmax, lowerSqueeze, lowerTranspose, lowerUnsqueeze } from './lowerReshaping.js';
import { lowerConv, lowerPad } from './lowerSpatial.js';
import { ELEM_TYPE_NAMES, elementCount, type OnnxGraph, type OnnxNode, type ValueInfo } from './onnxGraph.js';
import { describeRewrite, type Rewrite } from './rewrites.js';
import { settle } from './settlePending.js';

// Maps, not object literals: an op named 'constructor' or '__proto__' must not find Object's own members.
const LOWERINGS = new Map<string, OpLowering>([
  ['Conv', lowerConv],
  ['Pad', lowerPad],
  ['MaxPool', lowerMaxPool],
  ['AveragePool', lowerAveragePool],
  ['GlobalAveragePool', lowerGlobalAveragePool],
  ['ReduceMean', lowerReduce],
  ['ReduceSum', lowerReduce],
  ['GlobalMaxPool', lowerGlobalMax],
  ['ReduceMax', lowerGlobalMax],
  ['Relu', lowerRelu],
  ['Clip', lowerClip],
  ['Max', lowerMaxMin],
  ['Min', lowerMaxMin],
  ['Flatten', lowerFlatten],
  ['Reshape', lowerReshape],
  ['Squeeze', lowerSqueeze],
  ['Unsqueeze', lowerUnsqueeze],
  ['Transpose', lowerTranspose],
  ['Gemm', lowerGemm],
  ['MatMul', lowerMatMul],
  ['Add', lowerArithmetic],
  ['Sub', lowerArithmetic],
  ['Mul', lowerArithmetic],
  ['Div', lowerArithmetic],
  ['BatchNormalization', lowerBatchNorm],
  ['Softmax', lowerSoftmax],
  ['Identity', lowerIdentity],
  ['Dropout', lowerDropout],
]);

export const SUPPORTED_OPS =
  'Conv (also grouped, depthwise, dilated), MaxPool, GlobalMaxPool, ReduceMax (height and width), AveragePool, GlobalAveragePool, ReduceMean/ReduceSum, Pad (zeros), Relu, Clip, Max/Min with a constant, ' +
  'Flatten, Reshape, Squeeze, Unsqueeze, Transpose (before a flatten + Linear), Gemm, MatMul, Add/Sub/Mul/Div by constants, BatchNormalization, Softmax, Identity, Dropout';

const HINTS = new Map<string, string>([
  ['Sigmoid', 'Remove the activation or use ReLU; apply sigmoid in Python on the board if you need it'],
  ['Tanh', 'Use ReLU instead'],
  ['LeakyRelu', 'Use ReLU instead (the firmware has no negative slope)'],
  ['PRelu', 'Use ReLU instead (the firmware has no negative slope)'],
  ['Elu', 'Use ReLU instead'],
  ['Selu', 'Use ReLU instead'],
  ['Gelu', 'Use ReLU instead'],
  ['HardSigmoid', 'Use ReLU instead'],
  ['HardSwish', 'Use ReLU instead'],
  ['LogSoftmax', 'Use Softmax (or none: take argmax of the raw outputs)'],
  ['LSTM', 'Recurrent layers cannot run: the firmware has no layer that keeps state; use Conv2d over the sequence (e.g. as a 1×T image) or Linear layers'],
  ['GRU', 'Recurrent layers cannot run: the firmware has no layer that keeps state; use Conv2d over the sequence (e.g. as a 1×T image) or Linear layers'],
  ['RNN', 'Recurrent layers cannot run: the firmware has no layer that keeps state; use Conv2d over the sequence (e.g. as a 1×T image) or Linear layers'],
  ['Resize', 'The firmware has no upsampling layer; resize the image before the model, or use a network without upsampling'],
  ['Upsample', 'The firmware has no upsampling layer; resize the image before the model, or use a network without upsampling'],
  ['LayerNormalization', 'Normalisation by statistics of the data cannot be precomputed; use BatchNorm (its eval-mode statistics fold into the weights) or none'],
  ['InstanceNormalization', 'Normalisation by statistics of the data cannot be precomputed; use BatchNorm (its eval-mode statistics fold into the weights) or none'],
  ['Concat', 'The firmware runs layers one after another; branches that are joined again cannot run'],
  ['ConvTranspose', 'The firmware has no transposed convolution; use a Conv network without upsampling'],
]);

/** Ops folded into a layer's weights, named in the layer's note. */
const FOLDED_OPS = new Set(['BatchNormalization', 'Mul', 'Div']);

/** Ops that only move, shape or combine data, or compute constants: a refusal at one of them is less telling than an op the firmware has no layer for. */
const PLUMBING_OPS = new Set([
  'Shape', 'Gather', 'Constant', 'ConstantOfShape', 'Concat', 'Slice', 'Cast', 'Unsqueeze', 'Squeeze', 'Transpose', 'Reshape',
  'Expand', 'Range', 'Equal', 'Where', 'Identity', 'Add', 'Sub', 'Mul', 'Div', 'Split', 'Pad', 'Flatten', 'Not', 'Neg', 'Size', 'Dropout',
]);

export interface TensorSpec {
  name: string;
  /** ONNX shape with the batch fixed to 1. */
  dims: number[];
}

export interface LoweredModel {
  layers: Layer[];
  input: TensorSpec;
  output: TensorSpec;
  /** Things the converter did that the user should know about (folds, zero biases, added layers). */
  notes: string[];
  /** Ops computed by other layers than their own, with what that costs. */
  rewrites: Rewrite[];
}

export function lowerGraph(graph: OnnxGraph): LoweredModel {
  const input = modelInput(graph);
  const outputInfo = modelOutput(graph);
  const constants = new ConstantFolder(graph);
  const state: ChainState = {
    graph, tensor: input.name, dims: input.dims, record: recordFor(input.dims),
    layers: [], lastLayerIsCurrent: false, notes: [], constants, usedTensors: usedTensorNames(graph),
    rewrites: [], nonNegative: false,
  };
  const consumers = consumersOf(graph);
  try {
    walkChain(state, consumers, outputInfo);
  } catch (error) {
    throw moreSpecificBlocker(state.tensor, consumers, error);
  }
  checkOutputShape(state.dims, outputInfo);
  const layers = state.layers;
  for (const layer of layers) {
    // One note per layer for the ops folded into it (a chain may fold thousands).
    const folded = layer.sources.slice(1).filter((s) => FOLDED_OPS.has(s.op)).map((s) => `${safeName(s.op, 60)} ${nodeLabel(s)}`);
    if (folded.length && layer.sources[0] && !FOLDED_OPS.has(layer.sources[0].op)) {
      state.notes.push(`${listSome(folded, 3)} folded into ${safeName(layer.sources[0].op, 60)} ${nodeLabel(layer.sources[0])}`);
    }
    if (layer.bias && !layer.hasModelBias) {
      state.notes.push(`${safeName(layer.sources[0].op, 60)} ${nodeLabel(layer.sources[0])} has no bias: wrote zeros (the firmware always reads a bias)`);
    }
  }
  prependScratchFlatten(layers, state.notes);
  return { layers, input, output: { name: outputInfo.name, dims: state.dims }, notes: state.notes, rewrites: state.rewrites };
}

/** The rewrites of a conversion as sentences, e.g. for a report. */
export function describeRewrites(rewrites: readonly Rewrite[]): string[] {
  return rewrites.map(describeRewrite);
}

function consumersOf(graph: OnnxGraph): Map<string, OnnxNode[]> {
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    for (const name of new Set(node.inputs)) {
      if (!name) continue;
      if (!consumers.has(name)) consumers.set(name, []);
      consumers.get(name)!.push(node);
    }
  }
  return consumers;
}

function walkChain(state: ChainState, consumers: ReadonlyMap<string, OnnxNode[]>, outputInfo: ValueInfo): void {
  const { constants, graph } = state;
  constants.knownShapes.set(state.tensor, state.dims);

  for (let steps = 0; ; steps++) {
    // Shape nodes read only the shape of the data; they feed constant computations, not the chain.
    const next = (consumers.get(state.tensor) ?? []).filter((n) => n.op !== 'Shape');
    if (state.tensor === outputInfo.name) {
      if (next.length) {
        throw new UnsupportedModelError(`the output ${quoted(outputInfo.name)} is also used inside the graph, so the graph is not a single chain`);
      }
      break;
    }
    if (next.length === 0) {
      throw new UnsupportedModelError(`the chain from the input stops at tensor ${quoted(state.tensor)}, which is not the output ${quoted(outputInfo.name)}`,
        { hint: 'The converter handles models whose layers run one after another from the single input to the single output' });
    }
    if (next.length > 1) {
      const list = listSome(next.map((n) => `${safeName(n.op, 60)} ${nodeLabel(nodeRef(n))}`));
      // Name the node where the branches meet again (the Add of a residual, the Concat): that is what cannot run.
      const { join, inside } = joinOf(next, consumers);
      // An op inside the branches that no rewrite can run (the Sigmoid of a SiLU, x·sigmoid(x)) says more.
      const blocker = inside.find((n) => !LOWERINGS.has(n.op) && !PLUMBING_OPS.has(n.op));
      if (blocker) throw unsupportedOperator(blocker);
      const message = join
        ? `joins branches that split at tensor ${quoted(state.tensor)} (it feeds ${next.length} nodes: ${list}), so the graph is not a single chain; the firmware runs one layer after another`
        : `the graph is not a single chain: tensor ${quoted(state.tensor)} feeds ${next.length} nodes (${list}); the firmware runs one layer after another`;
      const error = new UnsupportedModelError(message,
        { node: nodeRef(join ?? next[0]), hint: 'Branches and residual connections cannot run; export a model whose layers form a single chain' });
      BRANCH_ERRORS.add(error);
      throw error;
    }
    if (steps > graph.nodes.length) throw new UnsupportedModelError('the graph has a cycle');
    const node = next[0];
    lowerNode(node, state);
    const extra = usedExtraOutputs(node, state);
    if (extra.length && node.op !== 'MaxPool' && node.op !== 'Dropout' && node.op !== 'BatchNormalization') {
      refuse(node, `its extra output ${quoted(extra[0])} is used, so the graph is not a single chain`);
    }
    if (!node.outputs[0]) refuse(node, 'has no output, so the chain ends there', 'The model file is corrupt; export it again');
    state.tensor = node.outputs[0];
    constants.knownShapes.set(state.tensor, state.dims);
  }

  settle(state, undefined);
}

/**
 * When the walk stopped at plumbing (a Transpose, a branch, a Concat) but the graph also holds
 * an op the firmware has no layer for at all (an LSTM, a Resize), that op is the real blocker:
 * removing the plumbing would not make the model run.
 */
/** The first node (in graph order) that two of the branch heads both reach, if any. */
function joinOf(heads: readonly OnnxNode[], consumers: ReadonlyMap<string, OnnxNode[]>): { join?: OnnxNode; inside: OnnxNode[] } {
  const reachedBy = new Map<OnnxNode, number>();
  heads.forEach((head, h) => {
    const seen = new Set<OnnxNode>([head]);
    const stack = [head];
    while (stack.length) {
      const node = stack.pop()!;
      if ((reachedBy.get(node) ?? h) !== h) reachedBy.set(node, -1); // reached from two heads
      else reachedBy.set(node, h);
      for (const o of node.outputs) for (const c of consumers.get(o) ?? []) if (!seen.has(c)) { seen.add(c); stack.push(c); }
    }
  });
  let join: OnnxNode | undefined;
  for (const [node, h] of reachedBy) if (h === -1 && (!join || node.index < join.index)) join = node;
  // The nodes of the branches themselves: reached from one head, before the join.
  const inside = [...reachedBy].filter(([node, h]) => h !== -1 && (!join || node.index < join.index)).map(([node]) => node).sort((a, b) => a.index - b.index);
  return { join, inside };
}

/** Refusals of a branch: a blocker of its own, never replaced by one further on. */
const BRANCH_ERRORS = new WeakSet<Error>();

function moreSpecificBlocker(tensor: string, consumers: ReadonlyMap<string, OnnxNode[]>, error: unknown): unknown {
  if (!(error instanceof UnsupportedModelError) || BRANCH_ERRORS.has(error)) return error;
  const at = error.node;
  if (at && !PLUMBING_OPS.has(at.op)) return error;
  // Breadth-first over what the data reaches from where the walk stopped, in graph order per step.
  const seen = new Set<OnnxNode>();
  let frontier = [tensor];
  while (frontier.length) {
    const next: string[] = [];
    for (const name of frontier) {
      for (const node of consumers.get(name) ?? []) {
        if (seen.has(node)) continue;
        seen.add(node);
        if (!LOWERINGS.has(node.op) && !PLUMBING_OPS.has(node.op)) return unsupportedOperator(node);
        for (const o of node.outputs) if (o) next.push(o);
      }
    }
    frontier = next;
  }
  return error;
}

function lowerNode(node: OnnxNode, state: ChainState): void {
  const lower = node.domain && node.domain !== 'ai.onnx' ? undefined : LOWERINGS.get(node.op);
  if (!lower) throw unsupportedOperator(node);
  lower(node, state);
}

function unsupportedOperator(node: OnnxNode): UnsupportedModelError {
  const foreign = Boolean(node.domain && node.domain !== 'ai.onnx');
  const domain = foreign ? ` from domain ${quoted(node.domain, 60)}` : '';
  const advice = foreign ? undefined : HINTS.get(node.op);
  const hint = advice ? `${advice}. Supported: ${SUPPORTED_OPS}` : `Supported: ${SUPPORTED_OPS}`;
  return new UnsupportedModelError(`operator ${safeName(node.op, 60)}${domain} is not supported by the firmware`, { node: nodeRef(node), hint });
}

function modelInput(graph: OnnxGraph): TensorSpec {
  if (graph.inputs.length !== 1) {
    const names = listSome(graph.inputs.map((i) => quoted(i.name)));
    throw new UnsupportedModelError(`the model has ${graph.inputs.length} inputs (${names}); the firmware takes exactly one`,
      { hint: 'Export a model whose forward() takes a single tensor' });
  }
  const info = graph.inputs[0];
  if (info.elemType !== 1) {
    throw new UnsupportedModelError(`input ${quoted(info.name)} is ${ELEM_TYPE_NAMES[info.elemType] ?? `type ${info.elemType}`}, not float32`);
  }
  return { name: info.name, dims: fixedDims(info, 'input') };
}

function modelOutput(graph: OnnxGraph): ValueInfo {
  if (graph.outputs.length !== 1) {
    const names = listSome(graph.outputs.map((o) => quoted(o.name)));
    throw new UnsupportedModelError(`the model has ${graph.outputs.length} outputs (${names}); the firmware returns exactly one`,
      { hint: 'Return a single tensor from forward()' });
  }
  return graph.outputs[0];
}

/** Fixes a dynamic batch to 1; refuses batch > 1, sizes below 1 and any other dynamic dimension. */
function fixedDims(info: ValueInfo, what: string): number[] {
  const name = quoted(info.name);
  if (!info.dims || info.dims.length === 0) {
    throw new UnsupportedModelError(`the ${what} ${name} has no fixed shape`, { hint: 'Export with an example input of the real size and without dynamic_axes' });
  }
  return info.dims.map((d, i) => {
    if (typeof d === 'number') {
      checkDimSize(d, i, what, name);
      if (i === 0 && d !== 1 && info.dims!.length > 1) {
        throw new UnsupportedModelError(`the ${what} ${name} has batch size ${d}; the firmware runs one sample at a time`,
          { hint: 'Export with a batch of 1 (e.g. torch.randn(1, C, H, W))' });
      }
      return d;
    }
    if (i === 0 && info.dims!.length > 1) return 1; // a dynamic batch: run one sample
    const how = d === null ? 'unknown' : `named ${quoted(d, 60)}`;
    throw new UnsupportedModelError(`dimension ${i} of the ${what} ${name} is dynamic (${how}); the firmware needs fixed sizes`,
      { hint: 'Export without dynamic_axes for height and width (only the batch may be dynamic)' });
  });
}

/** A dimension written as 0 or a negative number is not "dynamic" (that is a dim_param) but broken. */
function checkDimSize(d: number, i: number, what: string, name: string): void {
  if (d >= 1) return;
  throw new UnsupportedModelError(`dimension ${i} of the ${what} ${name} is ${d}, which is not a valid size (a tensor dimension must be at least 1)`,
    { hint: 'Export the model with a fixed input shape, e.g. torch.onnx.export(model, torch.randn(1, C, H, W), ...)' });
}

function checkOutputShape(dims: number[], info: ValueInfo): void {
  if (!info.dims) return;
  info.dims.forEach((d, i) => {
    if (typeof d === 'number') checkDimSize(d, i, 'output', quoted(info.name));
  });
  const known = info.dims.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 1 : null));
  if (known.some((d) => d === null)) return;
  const expected = elementCount(known as number[]);
  if (expected !== elementCount(dims)) {
    throw new UnsupportedModelError(`the output ${quoted(info.name)} should have ${expected} values, but the converted layers produce ${elementCount(dims)}`);
  }
}

/**
 * The firmware sizes its scratch buffers by the largest layer output and copies the input into
 * one; a Flatten that keeps the input's shape makes room without changing the result.
 */
function prependScratchFlatten(layers: Layer[], notes: string[]): void {
  if (!layers.length) return;
  const inputShape = layers[0].in;
  const largest = layers.reduce((max, l) => Math.max(max, shapeElements(l.out)), 0); // no spread: 100k+ layers would overflow the stack
  if (shapeElements(inputShape) <= largest) return;
  layers.unshift({
    type: LayerType.Flatten, in: inputShape, out: inputShape, kernel: 0, stride: 1, padding: 0, sources: [],
    note: 'added so the input fits the firmware\'s scratch buffers',
  });
  notes.push(`added a Flatten before the first layer: the input (${shapeElements(inputShape)} values) is larger than every layer's output (${largest}), which the firmware would refuse with "model scratch too small"`);
}
