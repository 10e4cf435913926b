// OnnxGraph → the firmware's layer chain. Walks from the single input to the single output,
// one consumer at a time, lowering each node; refuses anything that is not such a chain.
import { LayerType, type Layer, shapeElements } from '../blob/blobFormat.js';
import { UnsupportedModelError } from '../errors.js';
import { listSome, quoted, safeName } from '../text/untrustedText.js';
import { nodeLabel, nodeRef, recordFor, refuse, usedExtraOutputs, usedTensorNames, type ChainState, type OpLowering } from './chainState.js';
import { ConstantFolder } from './foldConstants.js';
import { lowerAdd, lowerBatchNorm, lowerGemm, lowerMatMul } from './lowerDense.js';
import { lowerDropout, lowerFlatten, lowerIdentity, lowerRelu, lowerReshape, lowerSoftmax } from './lowerReshaping.js';
import { lowerConv, lowerMaxPool } from './lowerSpatial.js';
import { ELEM_TYPE_NAMES, elementCount, type OnnxGraph, type OnnxNode, type ValueInfo } from './onnxGraph.js';

// Maps, not object literals: an op named 'constructor' or '__proto__' must not find Object's own members.
const LOWERINGS = new Map<string, OpLowering>([
  ['Conv', lowerConv],
  ['MaxPool', lowerMaxPool],
  ['Relu', lowerRelu],
  ['Flatten', lowerFlatten],
  ['Reshape', lowerReshape],
  ['Gemm', lowerGemm],
  ['MatMul', lowerMatMul],
  ['Add', lowerAdd],
  ['BatchNormalization', lowerBatchNorm],
  ['Softmax', lowerSoftmax],
  ['Identity', lowerIdentity],
  ['Dropout', lowerDropout],
]);

export const SUPPORTED_OPS =
  'Conv, MaxPool, Relu, Flatten, Reshape (flattening), Gemm, MatMul (+ Add), BatchNormalization (after Conv/Gemm/MatMul), Softmax, Identity, Dropout';

const HINTS = new Map<string, string>([
  ['AveragePool', 'Use MaxPool2d instead of AvgPool2d'],
  ['GlobalAveragePool', 'Replace global average pooling with MaxPool2d or a Flatten + Linear'],
  ['Sigmoid', 'Remove the activation or use ReLU; apply sigmoid in Python on the board if you need it'],
  ['Tanh', 'Use ReLU instead'],
  ['LeakyRelu', 'Use ReLU instead'],
  ['LogSoftmax', 'Use Softmax (or none: take argmax of the raw outputs)'],
  ['Pad', 'Use symmetric padding inside the Conv (padding=k//2) instead of a separate padding layer'],
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
}

export function lowerGraph(graph: OnnxGraph): LoweredModel {
  const input = modelInput(graph);
  const outputInfo = modelOutput(graph);
  const constants = new ConstantFolder(graph);
  const state: ChainState = {
    graph, tensor: input.name, dims: input.dims, record: recordFor(input.dims),
    layers: [], lastLayerIsCurrent: false, notes: [], constants, usedTensors: usedTensorNames(graph),
  };
  constants.knownShapes.set(input.name, input.dims);

  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    for (const name of new Set(node.inputs)) {
      if (!name) continue;
      if (!consumers.has(name)) consumers.set(name, []);
      consumers.get(name)!.push(node);
    }
  }

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
      throw new UnsupportedModelError(`the graph is not a single chain: tensor ${quoted(state.tensor)} feeds ${next.length} nodes (${list})`,
        { node: nodeRef(next[0]), hint: 'The firmware runs layers one after another; branches and residual connections cannot run' });
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

  checkOutputShape(state.dims, outputInfo);
  const layers = state.layers;
  for (const layer of layers) {
    if (layer.bias && !layer.hasModelBias) {
      state.notes.push(`${safeName(layer.sources[0].op, 60)} ${nodeLabel(layer.sources[0])} has no bias: wrote zeros (the firmware always reads a bias)`);
    }
  }
  prependScratchFlatten(layers, state.notes);
  return { layers, input, output: { name: outputInfo.name, dims: state.dims }, notes: state.notes };
}

function lowerNode(node: OnnxNode, state: ChainState): void {
  const lower = node.domain && node.domain !== 'ai.onnx' ? undefined : LOWERINGS.get(node.op);
  if (!lower) {
    const domain = node.domain && node.domain !== 'ai.onnx' ? ` from domain ${quoted(node.domain, 60)}` : '';
    const advice = HINTS.get(node.op);
    const hint = advice ? `${advice}. Supported: ${SUPPORTED_OPS}` : `Supported: ${SUPPORTED_OPS}`;
    refuse(node, `operator ${safeName(node.op, 60)}${domain} is not supported by the firmware`, hint);
  }
  lower(node, state);
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
