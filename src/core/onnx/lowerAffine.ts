// BatchNormalization and element-wise Add/Sub/Mul/Div with a constant: a scale and a shift per
// value. Max/Min/Clip with constants: ReLUs with a scale and shift around them. Folded into the
// Conv/Linear that produced the tensor when there is one (free); otherwise kept pending
// (pendingMap.ts) for the next Linear or padding-free Conv to absorb, or written out as a 1×1
// Conv / Linear.
import { LayerType } from '../blob/blobFormat.js';
import { constantInput, floatConstant, nodeRef, refuse, usedExtraOutputs, type ChainState } from './chainState.js';
import { elementCount, getFloat, getInt, type OnnxNode, type Tensor } from './onnxGraph.js';
import { startMap } from './lowerPooling.js';
import { MAX_PENDING_VALUES } from './pendingMap.js';
import { lowerRelu } from './lowerReshaping.js';
import { settle } from './settlePending.js';
import { nodeLabel } from './chainState.js';
import { safeName } from '../text/untrustedText.js';

const f32 = Math.fround;

/**
 * value[i] ← scale[⌊i / inner⌋] · value[i] + shift[⌊i / inner⌋]: one pair per block of `inner`
 * consecutive values (a whole channel for a BatchNorm, the whole tensor for a scalar), so that
 * long chains of such ops cost per channel, not per value.
 */
interface Affine {
  scale: Float64Array;
  shift: Float64Array;
  inner: number;
}

export function lowerBatchNorm(node: OnnxNode, state: ChainState): void {
  if (getInt(node, 'training_mode', 0) !== 0 || usedExtraOutputs(node, state).length) {
    refuse(node, 'is in training mode', 'Call model.eval() before torch.onnx.export');
  }
  const d = state.dims;
  if (d.length < 2 || d[0] !== 1) refuse(node, `expects an (N, C, …) input but gets shape [${d.join(', ')}]`);
  const channels = d[1];
  const param = (i: number, what: string) => {
    const v = floatConstant(node, state, i, what);
    if (v.length !== channels) refuse(node, `${what} has ${v.length} values but the input has ${channels} channels`);
    return v;
  };
  const gamma = param(1, 'scale'), beta = param(2, 'bias'), mean = param(3, 'mean'), variance = param(4, 'variance');
  const epsilon = getFloat(node, 'epsilon', 1e-5);
  const scale = new Float64Array(channels), shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = gamma[c] / Math.sqrt(variance[c] + epsilon);
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  applyAffine(node, state, { scale, shift, inner: elementCount(d) / channels });
}

/** Add, Sub, Mul or Div of the chain tensor and a constant (numpy broadcasting). */
export function lowerArithmetic(node: OnnxNode, state: ChainState): void {
  const dataIndex = node.inputs.indexOf(state.tensor);
  const otherName = node.inputs[dataIndex === 0 ? 1 : 0];
  if (otherName === state.tensor && node.op === 'Add') {
    applyAffine(node, state, uniform(state, 2, 0));
    return;
  }
  const other = otherName ? state.constants.resolve(otherName) : undefined;
  if (!other) {
    refuse(node, `${node.op === 'Add' ? 'adds' : 'combines'} two computed tensors (a skip or residual connection, or a branch), so the graph is not a single chain`,
      'The firmware runs layers one after another; remove residual connections and branches');
  }
  const values = broadcastConstant(node, other, state.dims);
  const n = values.values.length;
  const scale = new Float64Array(n).fill(1), shift = new Float64Array(n);
  const constantFirst = dataIndex !== 0;
  for (let i = 0; i < n; i++) {
    const v = values.values[i];
    switch (node.op) {
      case 'Add': shift[i] = v; break;
      case 'Sub': if (constantFirst) { scale[i] = -1; shift[i] = v; } else shift[i] = -v; break;
      case 'Mul': scale[i] = v; break;
      default: // Div
        if (constantFirst) refuse(node, 'divides a constant by the data, which is not a linear operation the firmware\'s layers can compute');
        scale[i] = 1 / v;
    }
  }
  applyAffine(node, state, { scale, shift, inner: values.inner });
  widenRank(state, other.dims.length);
}

/**
 * numpy broadcasting gives the result the constant's rank when it is higher (its extra leading
 * axes are 1): later ops that read axes (a reduce, a softmax) must see that shape.
 */
function widenRank(state: ChainState, rank: number): void {
  if (rank <= state.dims.length) return;
  const dims = [...new Array<number>(rank - state.dims.length).fill(1), ...state.dims];
  state.dims = dims;
  if (state.pendingMap) state.pendingMap.logicalDims = dims;
}

function uniform(state: ChainState, scale: number, shift: number): Affine {
  return { scale: Float64Array.of(scale), shift: Float64Array.of(shift), inner: elementCount(state.dims) };
}

/**
 * The constant's values over `dims` in blocks: one value per block of `inner` consecutive
 * elements (the trailing axes the constant broadcasts over). Refused when broadcasting would
 * change the data's shape.
 */
function broadcastConstant(node: OnnxNode, t: Tensor, dims: readonly number[]): { values: Float64Array; inner: number } {
  const cd = t.dims;
  const fits = cd.slice(0, Math.max(0, cd.length - dims.length)).every((d) => d === 1);
  const aligned = cd.slice(Math.max(0, cd.length - dims.length));
  const offset = dims.length - aligned.length;
  if (!fits || aligned.some((d, a) => d !== 1 && d !== dims[offset + a])) {
    refuse(node, `its constant of shape [${t.dims.join(', ')}] does not broadcast to the data's shape [${dims.join(', ')}] without changing it`);
  }
  const constDim = (a: number) => (a < offset ? 1 : aligned[a - offset]);
  let keep = dims.length; // axes [keep, rank) are broadcast: one value covers them all
  while (keep > 0 && constDim(keep - 1) === 1) keep--;
  const outer = dims.slice(0, keep);
  const inner = elementCount(dims.slice(keep));
  const n = elementCount(outer);
  if (n > MAX_PENDING_VALUES) {
    refuse(node, `its constant varies over ${n} values, more than the ${MAX_PENDING_VALUES} the converter rewrites`, 'Make the tensor smaller before this node');
  }
  const values = new Float64Array(n);
  const strides = new Array<number>(keep).fill(0);
  let acc = 1;
  for (let a = cd.length - 1, d = dims.length - 1; a >= 0 && d >= 0; a--, d--) {
    if (d < keep) strides[d] = cd[a] === 1 ? 0 : acc;
    acc *= cd[a];
  }
  const idx = new Array<number>(keep).fill(0);
  let src = 0;
  for (let i = 0; i < n; i++) {
    values[i] = t.data[src];
    for (let a = keep - 1; a >= 0; a--) {
      idx[a]++;
      src += strides[a];
      if (idx[a] < outer[a]) break;
      src -= strides[a] * outer[a];
      idx[a] = 0;
    }
  }
  return { values, inner };
}

/** Folded into the layer that produced the tensor when possible, else pending. */
function applyAffine(node: OnnxNode, state: ChainState, affine: Affine): void {
  state.nonNegative = false;
  if (foldIntoPrevious(node, state, affine)) return;
  if (state.pendingPad) settle(state, node); // the padding zeros would not be scaled and shifted
  const map = state.pendingMap ?? startMap(node, state);
  map.scaleAndShift(affine.scale, affine.shift, affine.inner, nodeRef(node));
  state.pendingMap = map;
}

function foldIntoPrevious(node: OnnxNode, state: ChainState, a: Affine): boolean {
  const last = state.layers[state.layers.length - 1];
  if (!last || !state.lastLayerIsCurrent || state.pendingMap || state.pendingPad) return false;
  if (last.type !== LayerType.Conv2D && last.type !== LayerType.Linear) return false;
  const outputs = last.out.c * last.out.h * last.out.w;
  if (a.scale.length * a.inner !== outputs) return false;
  const rows = last.type === LayerType.Conv2D ? last.out.c : outputs;
  const per = outputs / rows; // values sharing one row of weights (a Conv channel's pixels)
  // Row r's values are blocks ⌊r·per / inner⌋ … ⌊((r+1)·per − 1) / inner⌋: all must agree.
  const blockOf = (r: number) => Math.floor((r * per) / a.inner);
  if (a.inner < per) {
    for (let r = 0; r < rows; r++) {
      const first = blockOf(r), lastBlock = Math.floor(((r + 1) * per - 1) / a.inner);
      for (let b = first + 1; b <= lastBlock; b++) if (!Object.is(a.scale[b], a.scale[first]) || !Object.is(a.shift[b], a.shift[first])) return false;
    }
  }
  const weights = last.weights!, bias = last.bias!;
  const fanIn = weights.length / rows;
  for (let r = 0; r < rows; r++) {
    const b = blockOf(r);
    const s = a.scale[b], t = a.shift[b];
    if (s !== 1) for (let j = 0; j < fanIn; j++) weights[r * fanIn + j] = f32(weights[r * fanIn + j] * s);
    bias[r] = f32(bias[r] * s + t);
  }
  last.hasModelBias = true;
  last.sources.push(nodeRef(node));
  return true;
}

/** A bound at or beyond float32's range is no bound (ONNX's attribute defaults are ±FLT_MAX). */
const FLOAT32_MAX = 3.4028234663852886e38;

/** Clip(min, max) = Min(Max(x, min), max); bounds from inputs (opset ≥ 11) or attributes. */
export function lowerClip(node: OnnxNode, state: ChainState): void {
  const bound = (index: number, attr: string): Tensor | undefined => {
    if (node.inputs[index]) return constantInput(node, state, index, attr);
    const a = node.attributes.get(attr);
    return a && a.type === 'float' ? { kind: 'float', dims: [], data: Float32Array.of(a.value) } : undefined;
  };
  const min = bound(1, 'min'), max = bound(2, 'max');
  for (const t of [min, max]) if (t && t.data.length !== 1) refuse(node, `its bounds must be scalars, not of shape [${t.dims.join(', ')}]`);
  const lo = min ? Number(min.data[0]) : -Infinity, hi = max ? Number(max.data[0]) : Infinity;
  if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi) refuse(node, `bounds [${lo}, ${hi}] are not an interval`);
  const n = elementCount(state.dims);
  if (lo > -FLOAT32_MAX) clampBelow(node, state, Float64Array.of(lo), n);
  if (hi < FLOAT32_MAX) clampAbove(node, state, Float64Array.of(hi), n);
}

/** Max / Min of the data and a constant (broadcast). */
export function lowerMaxMin(node: OnnxNode, state: ChainState): void {
  const others = node.inputs.filter((name) => name !== state.tensor);
  if (node.inputs.length !== 2 || others.length !== 1) {
    refuse(node, `takes ${node.inputs.length} inputs; only the ${node.op} of the data and one constant can run`, 'Use torch.clamp(x, min=…) or ReLU');
  }
  const other = state.constants.resolve(others[0]);
  if (!other) refuse(node, `takes the ${node.op} of two computed tensors, so the graph is not a single chain`);
  const { values, inner } = broadcastConstant(node, other, state.dims);
  if (node.op === 'Max') clampBelow(node, state, values, inner);
  else clampAbove(node, state, values, inner);
  widenRank(state, other.dims.length);
}

/** max(x, c) = c + relu(x − c): a plain ReLU when c = 0. */
function clampBelow(node: OnnxNode, state: ChainState, c: Float64Array, inner: number): void {
  const zero = c.every((v) => v === 0);
  const nonNegative = c.every((v) => v >= 0); // max(x, c ≥ 0) ≥ 0
  const ones = new Float64Array(c.length).fill(1);
  if (!zero) applyAffine(node, state, { scale: ones, shift: c.map((v) => -v), inner });
  lowerRelu(node, state);
  if (!zero) {
    applyAffine(node, state, { scale: ones, shift: c, inner });
    state.notes.push(`${safeName(node.op, 60)} ${nodeLabel(nodeRef(node))} computed as c + relu(x − c) (a ReLU with a shift before and after it)`);
  }
  state.nonNegative = nonNegative;
}

/** min(x, c) = c − relu(c − x). */
function clampAbove(node: OnnxNode, state: ChainState, c: Float64Array, inner: number): void {
  const nonNegative = state.nonNegative && c.every((v) => v >= 0); // min(x ≥ 0, c ≥ 0) ≥ 0 (ReLU6)
  const minusOnes = new Float64Array(c.length).fill(-1);
  applyAffine(node, state, { scale: minusOnes, shift: c, inner });
  lowerRelu(node, state);
  applyAffine(node, state, { scale: minusOnes, shift: c, inner });
  state.notes.push(`${safeName(node.op, 60)} ${nodeLabel(nodeRef(node))} computed as c − relu(c − x) (a ReLU with a negation and shift before and after it)`);
  state.nonNegative = nonNegative;
}
