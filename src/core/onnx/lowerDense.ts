// Gemm and MatMul → Linear layers, weights (out, in) row-major as the firmware reads them. A
// pending map (a mean, a reorder, a scale and shift: pendingMap.ts) is absorbed into the
// Linear's weights when that is cheaper than computing it with a layer of its own.
import { LayerType, type Layer } from '../blob/blobFormat.js';
import { U16_MAX } from '../blob/checkLimits.js';
import { constantInput, flatRecord, nodeLabel, nodeRef, refuse, type ChainState } from './chainState.js';
import { elementCount, getFloat, getInt, type OnnxNode } from './onnxGraph.js';
import { settle, settledParameters } from './settlePending.js';
import { describeSources } from './lowerSpatial.js';
import { assertRewriteFits } from './rewrites.js';
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

/**
 * Pushes a Linear computing weights (outF × logical inputs) on the chain tensor, absorbing a
 * pending map when that costs fewer weights than writing the map out (a reorder must be absorbed).
 */
export function pushLinear(node: OnnxNode, state: ChainState, weights: Float32Array, outF: number, bias: Float32Array | undefined, outDims?: number[]): void {
  if (outF > 65535) {
    refuse(node, `Linear out_features ${outF} exceeds the firmware's limit of 65535`, 'Use fewer output features');
  }
  const sources = [nodeRef(node)];
  if (state.pendingPad) settle(state, node); // the padding is data the Linear reads
  const map = state.pendingMap;
  if (map) {
    const n = map.physicalCount, m = map.logicalCount;
    const absorbed = outF * n;
    const separate = map.reorderedBy ? Infinity : settledParameters(map) + outF * m;
    if (n <= U16_MAX && absorbed <= separate) {
      assertRewriteFits(map.sources[0], absorbed, `folding it into ${safeName(node.op, 60)} ${nodeLabel(nodeRef(node))}`);
      state.pendingMap = undefined;
      const folded = new Float32Array(outF * n);
      const newBias = new Float32Array(outF);
      for (let o = 0; o < outF; o++) {
        const row = o * m;
        let extra = 0;
        for (let j = 0; j < m; j++) extra += weights[row + j] * map.shift[j];
        newBias[o] = Math.fround((bias ? bias[o] : 0) + extra);
      }
      map.forEachTerm((j, i, coef) => {
        for (let o = 0; o < outF; o++) folded[o * n + i] = Math.fround(weights[o * m + j] * coef);
      });
      const into = `${safeName(node.op, 60)} ${nodeLabel(nodeRef(node))}`;
      if (n !== m) {
        state.rewrites.push({
          node: map.sources[0], how: `is folded into ${into}, which then reads all ${n} values${map.sources.length > 1 ? ` (with ${map.sources.length - 1} more node${map.sources.length > 2 ? 's' : ''})` : ''}`,
          macs: { before: outF * m + n, after: outF * n }, parameters: { before: outF * m + outF, after: outF * n + outF },
        });
      } else {
        state.notes.push(`${describeSources(map.sources)} folded into the following ${into}`);
      }
      sources.unshift(...map.sources);
      weights = folded;
      bias = newBias;
    } else {
      settle(state, node);
    }
  }
  const layer: Layer = {
    type: LayerType.Linear,
    in: state.record,
    out: flatRecord(outF),
    kernel: 0, stride: 1, padding: 0,
    weights,
    bias: bias ?? new Float32Array(outF),
    hasModelBias: Boolean(bias),
    sources,
  };
  state.layers.push(layer);
  state.dims = outDims ?? [...state.dims.slice(0, -1), outF];
  state.record = layer.out;
  state.lastLayerIsCurrent = true;
  state.nonNegative = false;
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
