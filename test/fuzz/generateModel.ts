// Grammar-based ONNX generation for the fuzz test: random chains of the operators the converter
// knows (and a few it refuses), with random shapes, attributes, weight storage and edge values.
// Mutating real files mostly exercises the protobuf reader; generated models reach the lowering
// code (shapes, padding, folding, limits) and, when they convert, the engine and the differential
// oracle (the blob against the reference evaluator, fuzzCases.ts).
//
// Half of the models are "tame": no edge values, the generator's shapes are right, weights are
// scaled by their fan-in (values stay near 1, so float32 and float64 agree to well within the
// oracle's tolerance), and attributes are those real exporters write. Those are the models that
// convert and reach the oracle. The others keep edge values (sizes at the firmware's limits,
// NaN weights, wrong shapes, attribute forms of the wrong opset) that the converter must refuse
// cleanly.
import { attr, buildModel, DataType, type AttrSpec, type Dim, type ModelSpec, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';
import type { Rng } from './mutate.js';

/** Keeps generated weights small, so a case stays fast. */
const MAX_WEIGHTS = 50_000;
/** Largest tensor (elements) a tame model's chain may reach; bounds the evaluator's and the engine's work. */
const MAX_TAME_VALUES = 20_000;

const OPSETS = [9, 10, 11, 13, 13, 17, 18, 18, 19] as const;

interface GenState {
  rng: Rng;
  spec: ModelSpec & { initializers: TensorSpec[]; nodes: NodeSpec[] };
  opset: number;
  /** No edge values, right shapes, fan-in-scaled weights (see the header). */
  tame: boolean;
  tensor: string;
  /** The generator's idea of the current shape (may be wrong on purpose when not tame: the converter must cope). */
  dims: number[];
  /** Every value is ≥ 0 (after a Relu, Clip(min ≥ 0), Softmax): MaxPool may then pad. */
  nonNegative: boolean;
  counter: number;
}

function fresh(state: GenState, prefix: string): string {
  return `${prefix}${state.counter++}`;
}

function count(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** A value count to allocate for (the generator's shapes may be wrong on purpose: negative, fractional, huge). */
function storable(n: number): number {
  return Number.isFinite(n) ? Math.max(0, Math.min(Math.floor(n), MAX_WEIGHTS)) : 0;
}

/** normal(), or (not in tame models, with probability p) one of the edge values. */
function edgeOr(state: GenState, normal: () => number, edges: readonly number[], p = 0.08): number {
  return !state.tame && state.rng.chance(p) ? state.rng.pick(edges) : normal();
}

/** True with probability p, never in tame models: for the mistakes only the edge cases make. */
function oops(state: GenState, p: number): boolean {
  return !state.tame && state.rng.chance(p);
}

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (rng.u32() / 0x100000000) * (hi - lo);
}

/** n values uniform in ±scale; outside tame models sometimes one edge value (NaN, ±Inf, huge, denormal). */
function randomFloats(state: GenState, n: number, scale = 1): Float32Array {
  const { rng } = state;
  n = storable(n);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = uniform(rng, -scale, scale);
  if (n && oops(state, 0.03)) out[rng.int(n)] = rng.pick([NaN, Infinity, -Infinity, 3.4e38, 1e-45]);
  return out;
}

/** Weights of a layer with `fanIn` inputs per output: uniform with variance 1/fanIn in tame models (values stay near 1). */
function layerWeights(state: GenState, n: number, fanIn: number): Float32Array {
  return randomFloats(state, n, state.tame ? Math.sqrt(3 / Math.max(1, fanIn)) : 1);
}

/** IEEE half-precision bits of v (round to nearest), for tame float16 initializers. */
function toHalf(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (Number.isNaN(v)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    e++;
    m = 0;
  }
  return sign | ((e + 15) << 10) | m;
}

/** An initializer holding `data` (float32 raw by default; sometimes float16/double/typed/int). */
function weight(state: GenState, dims: number[], data: Float32Array): string {
  const { rng } = state;
  const name = fresh(state, 'w');
  const tensor: TensorSpec = { name, dims, data };
  const roll = rng.int(20);
  if (roll === 0) tensor.storage = 'typed';
  else if (roll === 1) {
    tensor.dataType = DataType.DOUBLE;
  } else if (roll === 2) {
    tensor.dataType = DataType.FLOAT16;
    tensor.data = state.tame
      ? Array.from(data, toHalf)
      : Array.from(data, (v) => (Number.isFinite(v) ? 0x3c00 ^ (Math.round(Math.abs(v) * 1023) & 0x3ff) : 0x7c00));
  } else if (roll === 3 && !state.tame) {
    tensor.dataType = rng.pick([DataType.INT64, DataType.INT32, DataType.UINT8]);
    tensor.data = Array.from(data, (v) => (Number.isFinite(v) ? Math.round(v * 3) & 0x7f : 0));
  } else if (roll === 4 && dims.length && !state.tame) {
    // A shape that disagrees with the data.
    tensor.dims = dims.map((d, i) => (i === 0 ? d + rng.pick([-1, 1, 1000]) : d));
  }
  state.spec.initializers.push(tensor);
  return name;
}

/** A float constant (initializer, or sometimes a Constant node) of exactly these values. */
function floatConst(state: GenState, dims: number[], values: ArrayLike<number>): string {
  const name = fresh(state, 'c');
  const tensor: TensorSpec = { name: `${name}_v`, dims, data: Float32Array.from(values) };
  if (state.rng.chance(0.25)) {
    state.spec.nodes.push({ op: 'Constant', inputs: [], outputs: [name], attributes: { value: attr.tensor(tensor) } });
  } else {
    state.spec.initializers.push({ ...tensor, name });
  }
  return name;
}

/** An int64 constant (initializer or Constant node), e.g. a shape, pads or axes. */
function intTensor(state: GenState, values: number[]): string {
  const name = fresh(state, 'shape');
  if (state.rng.chance(0.3)) {
    state.spec.nodes.push({ op: 'Constant', inputs: [], outputs: [name], attributes: { value: attr.tensor({ name: `${name}_v`, dims: [values.length], data: values, dataType: DataType.INT64 }) } });
  } else {
    state.spec.initializers.push({ name, dims: [values.length], data: values, dataType: DataType.INT64 });
  }
  return name;
}

/** Appends a node reading `inputs` (which name the chain tensor where it goes) and moves the chain to its output. */
function node(state: GenState, op: string, inputs: string[], attributes: Record<string, AttrSpec> = {}, dims?: number[]): void {
  const out = fresh(state, 't');
  state.spec.nodes.push({ op, inputs, outputs: [out], attributes });
  state.tensor = out;
  if (dims) state.dims = dims;
}

/** A node with the chain tensor as its first input (rarely, outside tame models, the inputs reversed). */
function push(state: GenState, op: string, extraInputs: string[], attributes: Record<string, AttrSpec> = {}, dims?: number[]): void {
  const inputs = [state.tensor, ...extraInputs];
  if (oops(state, 0.03)) inputs.reverse();
  node(state, op, inputs, attributes, dims);
}

/** An `axes` list as the opset wants it: an attribute before `inputFrom`, an int64 input from then on (sometimes the wrong form outside tame models). */
function axesArgument(state: GenState, axes: number[] | undefined, inputFrom: number, attributes: Record<string, AttrSpec>): string[] {
  const asInput = oops(state, 0.05) ? state.opset < inputFrom : state.opset >= inputFrom;
  if (!axes) return [];
  if (asInput) return [intTensor(state, axes)];
  attributes.axes = axes;
  return [];
}

const SMALL_CHANNELS = () => [1, 2, 3, 4];

/** ONNX window output size along one axis (as the evaluator computes it). */
function windowOut(size: number, span: number, stride: number, begin: number, end: number, ceil: boolean): number {
  const room = size + begin + end - span;
  let out = (ceil ? Math.ceil(room / stride) : Math.floor(room / stride)) + 1;
  if (ceil && (out - 1) * stride >= size + begin) out--;
  return out;
}

/** [top, left, bottom, right], each in 0…max, with top + bottom = left + right (a square kernel can apply them). */
function balancedPads(rng: Rng, max: number): [number, number, number, number] {
  const t = rng.int(max + 1), b = rng.int(max + 1);
  const sum = t + b;
  const l = Math.max(0, sum - max) + rng.int(Math.min(sum, max) - Math.max(0, sum - max) + 1);
  return [t, l, b, sum - l];
}

/** Pads [top, left, bottom, right] for window spans, and an auto_pad or pads attribute for them. */
function windowPadding(state: GenState, span: [number, number], stride: number, maxPad: [number, number], attributes: Record<string, AttrSpec>,
  squareable: boolean): [number, number, number, number] {
  const { rng } = state;
  const [, , h = 1, w = 1] = state.dims;
  const roll = rng.int(20);
  if (roll < 2) {
    const mode = oops(state, 0.2) ? 'BOGUS' : rng.pick(['SAME_UPPER', 'SAME_LOWER', 'VALID']);
    attributes.auto_pad = mode;
    if (mode === 'VALID' || mode === 'BOGUS') return [0, 0, 0, 0];
    const total = (n: number, k: number) => Math.max(0, (Math.ceil(n / stride) - 1) * stride + k - n);
    const th = total(h, span[0]), tw = total(w, span[1]);
    const begin = (t: number) => (mode === 'SAME_UPPER' ? Math.floor(t / 2) : Math.ceil(t / 2));
    return [begin(th), begin(tw), th - begin(th), tw - begin(tw)];
  }
  if (roll < 5 && (span[0] === span[1] || !squareable)) return [0, 0, 0, 0]; // no pads attribute
  const side = (axis: 0 | 1) => rng.int(maxPad[axis] + 1);
  let pads: [number, number, number, number];
  // Unequal spans (non-square or dilated windows): mostly pads that one square kernel can still compute.
  const compatible = squareable && (roll >= 11 ? roll < 16 : span[0] !== span[1] && rng.chance(0.8));
  if (roll < 11 && !compatible) {
    const p = Math.min(side(0), maxPad[1]);
    pads = [p, p, p, p];
  } else if (compatible) {
    // Asymmetric, but with the same reach on both axes: one square kernel can compute it.
    const t = side(0), b = side(0);
    const sum = span[1] - span[0] + t + b;
    if (sum >= 0 && sum <= 2 * maxPad[1]) {
      const l = Math.max(0, sum - maxPad[1]) + rng.int(Math.min(sum, maxPad[1]) - Math.max(0, sum - maxPad[1]) + 1);
      pads = [t, l, b, sum - l];
    } else {
      pads = [t, side(1), b, side(1)];
    }
  } else {
    pads = [side(0), side(1), side(0), side(1)];
  }
  if (oops(state, 0.1)) pads = pads.map((p) => (rng.chance(0.5) ? rng.pick([100, 255, 256, -1]) : p)) as typeof pads;
  attributes.pads = pads;
  return pads;
}

function genConv(state: GenState): void {
  const { rng } = state;
  const [, c = 1, h = 1, w = 1] = state.dims;
  const attributes: Record<string, AttrSpec> = {};
  let kh = edgeOr(state, () => rng.pick([1, 2, 3, 3, 5]), [0, 4, 7, 256]);
  let kw = rng.chance(0.8) ? kh : edgeOr(state, () => rng.pick([1, 2, 3, 5]), [0, 9]);
  let group = 1;
  const groupRoll = rng.int(10);
  if (groupRoll < 2) group = c; // depthwise
  else if (groupRoll < 3 && c % 2 === 0) group = 2;
  else if (groupRoll < 4 && oops(state, 0.5)) group = rng.pick([0, 3, c + 1]);
  let oc = edgeOr(state, () => (group > 1 ? group * rng.pick([1, 1, 2]) : rng.pick(SMALL_CHANNELS())), [255, 256, 300]);
  const icg = oops(state, 0.05) ? c + 1 : group >= 1 && c % group === 0 ? c / group : c;
  const dilations: [number, number] = rng.chance(0.15) ? [rng.pick([1, 2, 3]), rng.pick([1, 2, 3])] : [1, 1];
  let stride = edgeOr(state, () => rng.pick([1, 1, 2, 3]), [0, 255, 256]);
  if (state.tame) {
    // The window must fit the (unpadded) input.
    while (kh > 1 && (kh - 1) * dilations[0] + 1 > h) kh--;
    while (kw > 1 && (kw - 1) * dilations[1] + 1 > w) kw--;
    if (count([oc, icg, kh, kw]) * Math.max(1, count(state.dims.slice(2))) > 2_000_000) stride = Math.max(stride, 2);
  }
  if (oc * Math.abs(icg) * kh * kw > MAX_WEIGHTS) oc = Math.max(1, Math.floor(MAX_WEIGHTS / Math.max(1, icg * kh * kw)));
  const span: [number, number] = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1];
  const s = Math.max(1, stride);
  if (rng.chance(0.7) || s !== 1) attributes.strides = oops(state, 0.05) ? [s, s + 1] : [s, s];
  if (rng.chance(0.5)) attributes.kernel_shape = oops(state, 0.05) ? [kh, kw + 1] : [kh, kw];
  if (group !== 1 || rng.chance(0.1)) attributes.group = group;
  if (dilations.some((d) => d !== 1) || rng.chance(0.05)) attributes.dilations = dilations;
  const pads = windowPadding(state, span, s, [Math.min(2, span[0]), Math.min(2, span[1])], attributes, true);
  const inputs = [weight(state, [oc, icg, kh, kw], layerWeights(state, oc * icg * kh * kw, icg * kh * kw))];
  if (rng.chance(0.7)) inputs.push(weight(state, [oc], randomFloats(state, oops(state, 0.05) ? oc + 1 : oc, 0.5)));
  const same = attributes.auto_pad === 'SAME_UPPER' || attributes.auto_pad === 'SAME_LOWER';
  const outH = same ? Math.ceil(h / s) : windowOut(h, span[0], s, Math.max(0, pads[0]), Math.max(0, pads[2]), false);
  const outW = same ? Math.ceil(w / s) : windowOut(w, span[1], s, Math.max(0, pads[1]), Math.max(0, pads[3]), false);
  push(state, 'Conv', inputs, attributes, [1, oc, outH, outW]);
  state.nonNegative = false;
}

function genMaxPool(state: GenState): void {
  const { rng } = state;
  const [, c = 1, h = 1, w = 1] = state.dims;
  // Pads need values ≥ 0 (the converter pads with zeros): often right after a Relu.
  const wantPads = rng.chance(0.45);
  if (wantPads && !state.nonNegative && (state.tame ? rng.chance(0.85) : rng.chance(0.5))) genRelu(state);
  let k = edgeOr(state, () => rng.pick([1, 2, 2, 3]), [0, 255, 1000]);
  if (state.tame) k = Math.max(1, Math.min(k, h, w));
  const stride = rng.pick([1, 2, 2, 3]);
  const attributes: Record<string, AttrSpec> = { kernel_shape: oops(state, 0.05) ? [k] : oops(state, 0.05) ? [k, k + 1] : [k, k] };
  if (rng.chance(0.7) || stride !== 2) attributes.strides = [stride, stride];
  const s = attributes.strides ? stride : 1;
  let pads: number[] = [0, 0, 0, 0];
  if (wantPads && k > 1) {
    const p = () => rng.int(Math.min(2, k - 1) + 1);
    const roll = rng.int(10);
    pads = roll < 5 ? new Array<number>(4).fill(p()) : roll < 9 || state.tame ? balancedPads(rng, Math.min(2, k - 1)) : [p(), p(), p(), p()];
    if (oops(state, 0.1)) pads = [k, k, k, k];
    attributes.pads = pads;
  } else if (rng.chance(0.05)) {
    attributes.auto_pad = oops(state, 0.5) ? 'SAME_UPPER' : 'VALID';
  }
  const ceil = rng.chance(0.25);
  if (ceil || rng.chance(0.05)) attributes.ceil_mode = ceil ? 1 : 0;
  if (oops(state, 0.03)) attributes.dilations = [2, 2];
  const before = state.nonNegative;
  push(state, 'MaxPool', [], attributes, [1, c, windowOut(h, k, s, pads[0], pads[2], ceil), windowOut(w, k, s, pads[1], pads[3], ceil)]);
  state.nonNegative = before;
}

function genAveragePool(state: GenState): void {
  const { rng } = state;
  const [, c = 1, h = 1, w = 1] = state.dims;
  let kh = edgeOr(state, () => rng.pick([1, 2, 2, 3]), [0, 300]);
  let kw = rng.chance(0.8) ? kh : rng.pick([1, 2, 3]);
  // dilations exist from opset 19.
  const dilations: [number, number] = (state.opset >= 19 || oops(state, 0.1)) && rng.chance(0.3) ? [rng.pick([1, 2]), rng.pick([1, 2])] : [1, 1];
  if (state.tame) {
    while (kh > 1 && (kh - 1) * dilations[0] + 1 > h) kh--;
    while (kw > 1 && (kw - 1) * dilations[1] + 1 > w) kw--;
  }
  const stride = rng.pick([1, 2, 2, 3]);
  const attributes: Record<string, AttrSpec> = { kernel_shape: [kh, kw] };
  if (rng.chance(0.7) || stride !== 1) attributes.strides = oops(state, 0.05) ? [stride, stride + 1] : [stride, stride];
  const s = attributes.strides ? stride : 1;
  if (dilations.some((d) => d !== 1)) attributes.dilations = dilations;
  const span: [number, number] = [(kh - 1) * dilations[0] + 1, (kw - 1) * dilations[1] + 1];
  // Pads smaller than the kernel (a window entirely in the padding has no average).
  const pads = windowPadding(state, span, s, [Math.min(2, kh - 1), Math.min(2, kw - 1)], attributes, true);
  // PyTorch exports count_include_pad=1 (its default); ONNX's default is 0.
  if (pads.some((p) => p > 0) && state.tame && rng.chance(0.8)) attributes.count_include_pad = 1;
  else if (rng.chance(0.6)) attributes.count_include_pad = rng.pick([0, 1, 1]);
  const ceil = rng.chance(0.25);
  if (ceil || rng.chance(0.05)) attributes.ceil_mode = ceil ? 1 : 0;
  const same = attributes.auto_pad === 'SAME_UPPER' || attributes.auto_pad === 'SAME_LOWER';
  const outH = same ? Math.ceil(h / s) : windowOut(h, span[0], s, Math.max(0, pads[0]), Math.max(0, pads[2]), ceil);
  const outW = same ? Math.ceil(w / s) : windowOut(w, span[1], s, Math.max(0, pads[1]), Math.max(0, pads[3]), ceil);
  const before = state.nonNegative;
  push(state, 'AveragePool', [], attributes, [1, c, outH, outW]);
  state.nonNegative = before;
}

function genGlobalAveragePool(state: GenState): void {
  const [, c = 1] = state.dims;
  const before = state.nonNegative;
  push(state, 'GlobalAveragePool', [], {}, [1, c, 1, 1]);
  state.nonNegative = before;
  // Usually what exporters write next: a flatten (or squeeze) and a Linear.
  if (state.rng.chance(0.6)) {
    if (state.rng.chance(0.5)) genSqueeze(state);
    else genFlatten(state);
    if (state.rng.chance(0.8)) genDense(state);
  }
}

/** ReduceMean / ReduceSum over some axes: attribute or (ReduceSum from 13, ReduceMean from 18) input; negative axes; keepdims. */
function genReduce(state: GenState): void {
  const { rng } = state;
  const op = rng.pick(['ReduceMean', 'ReduceMean', 'ReduceSum']);
  const rank = state.dims.length;
  const spatialChoices = [[2, 3], [-1, -2], [-2, -1], [3], [2], [-1], [1], [1, 2, 3], [1, -1], [0], [0, 2, 3]];
  const flatChoices = [[1], [-1], [0], [0, 1]];
  let axes: number[] | undefined = rank === 4 ? rng.pick(spatialChoices) : rank === 2 ? rng.pick(flatChoices) : [rank - 1];
  if (rng.chance(0.1)) axes = undefined; // all axes
  else if (oops(state, 0.05)) axes = rng.pick([[rank], [-rank - 1], [1, 1], [1, -rank + 1]]);
  const attributes: Record<string, AttrSpec> = {};
  const keep = rng.chance(0.4) ? rng.int(2) : 1;
  if (keep === 0 || rng.chance(0.3)) attributes.keepdims = keep;
  const extra = axesArgument(state, axes, op === 'ReduceSum' ? 13 : 18, attributes);
  if (!axes && state.opset >= (op === 'ReduceSum' ? 13 : 18) && rng.chance(0.3)) attributes.noop_with_empty_axes = rng.int(2);
  const noop = !axes && attributes.noop_with_empty_axes === 1;
  const set = new Set((axes ?? state.dims.map((_, i) => i)).map((a) => (a < 0 ? a + rank : a)));
  const dims = noop ? state.dims : keep ? state.dims.map((d, i) => (set.has(i) ? 1 : d)) : state.dims.filter((_, i) => !set.has(i));
  const before = state.nonNegative;
  push(state, op, extra, attributes, dims);
  state.nonNegative = before;
}

/** Pad: pads and constant_value as inputs from opset 11 (axes from 18), attributes before; mostly zeros on H and W. */
function genPad(state: GenState): void {
  const { rng } = state;
  const [n = 1, c = 1, h = 1, w = 1] = state.dims;
  const p = () => (rng.chance(0.4) ? 0 : rng.range(1, 2));
  const roll = rng.int(10);
  let pads: number[];
  if (roll < 4) {
    const v = p();
    pads = [0, 0, v, v, 0, 0, v, v];
  } else if (roll < 8 || state.tame) {
    // Uneven sides, but as much in total on both axes: a square kernel after it can take them over.
    const [t, l, b, r] = balancedPads(rng, 2);
    pads = [0, 0, t, l, 0, 0, b, r];
  } else {
    pads = [0, 0, p(), p(), 0, 0, p(), p()];
  }
  if (oops(state, 0.15)) pads[rng.int(8)] = rng.pick([-1, 1, 300]);
  const attributes: Record<string, AttrSpec> = {};
  const modeRoll = rng.int(20);
  if (modeRoll === 0) attributes.mode = rng.pick(['reflect', 'edge']);
  else if (modeRoll < 4) attributes.mode = 'constant';
  const value = rng.chance(0.9) ? 0 : rng.pick([0.5, -1]);
  const extra: string[] = [];
  if (state.opset >= 11 && !oops(state, 0.05)) {
    let given = pads;
    let axesName: string | undefined;
    if (state.opset >= 18 && rng.chance(0.6)) {
      const axes = rng.pick([[2, 3], [-2, -1], [3, 2]]);
      const at = (a: number) => (a < 0 ? a + 4 : a);
      given = [...axes.map((a) => pads[at(a)]), ...axes.map((a) => pads[at(a) + 4])];
      axesName = intTensor(state, axes);
    }
    extra.push(intTensor(state, given));
    if (value !== 0 || rng.chance(0.4) || axesName) extra.push(rng.chance(0.3) && !axesName ? '' : floatConst(state, rng.chance(0.8) ? [] : [1], [value]));
    if (axesName) extra.push(axesName);
    if (extra[1] === '' && value !== 0) extra[1] = floatConst(state, [], [value]);
  } else {
    attributes.pads = pads;
    if (value !== 0 || rng.chance(0.3)) attributes.value = attr.float(value);
  }
  const dims = [n + pads[0] + pads[4], c + pads[1] + pads[5], h + pads[2] + pads[6], w + pads[3] + pads[7]];
  const before = state.nonNegative && value >= 0;
  push(state, 'Pad', extra, attributes, dims);
  state.nonNegative = before;
  // What usually follows: a window op that takes the padding over.
  const next = rng.int(10);
  if (next < 5) genConv(state);
  else if (next < 7) genMaxPool(state);
  else if (next < 8) genAveragePool(state);
}

/** Transpose: mostly NCHW → NHWC followed by a flatten and a Linear (which absorbs the reorder); other perms too. */
function genTranspose(state: GenState): void {
  const { rng } = state;
  const rank = state.dims.length;
  let perm: number[] | undefined;
  if (rank === 4) perm = rng.pick([[0, 2, 3, 1], [0, 2, 3, 1], [0, 2, 3, 1], [0, 1, 3, 2], [0, 3, 1, 2], [0, 2, 1, 3], [1, 0, 2, 3], [0, 1, 2, 3]]);
  else if (rank === 2) perm = rng.pick([[1, 0], [0, 1]]);
  else perm = state.dims.map((_, i) => rank - 1 - i);
  if (rng.chance(0.1)) perm = undefined; // reverse all axes
  if (oops(state, 0.05)) perm = [0, 0, 1, 2].slice(0, Math.max(1, rank));
  const attributes: Record<string, AttrSpec> = perm ? { perm } : {};
  const order = perm ?? state.dims.map((_, i) => rank - 1 - i);
  const before = state.nonNegative;
  push(state, 'Transpose', [], attributes, order.map((p) => state.dims[p] ?? 1));
  state.nonNegative = before;
  if (rng.chance(0.7)) {
    if (rng.chance(0.6)) genFlatten(state);
    else genReshape(state, [1, -1]);
    if (rng.chance(0.85)) genDense(state);
  }
}

/** Clip: min/max as (optional) inputs from opset 11, float attributes before. */
function genClip(state: GenState): void {
  const { rng } = state;
  const F32_MAX = 3.4028234663852886e38;
  const [lo, hi] = rng.pick<[number | undefined, number | undefined]>([
    [0, undefined], [0, undefined], [0, 6], [0, F32_MAX], [undefined, 6], [-1, 1], [-0.5, undefined], [0.25, 0.75], ...(state.tame ? [] : [[1, 0] as [number, number]]),
  ]);
  const attributes: Record<string, AttrSpec> = {};
  const extra: string[] = [];
  const asInputs = oops(state, 0.05) ? state.opset < 11 : state.opset >= 11;
  if (asInputs) {
    const scalar = (v: number) => floatConst(state, rng.chance(0.85) ? [] : [1], [v]);
    if (hi !== undefined) extra.push(lo === undefined ? '' : scalar(lo), scalar(hi));
    else if (lo !== undefined) extra.push(scalar(lo));
  } else {
    if (lo !== undefined) attributes.min = attr.float(lo);
    if (hi !== undefined) attributes.max = attr.float(hi);
  }
  push(state, 'Clip', extra, attributes);
  state.nonNegative = (lo !== undefined && lo >= 0) || (hi !== undefined && lo !== undefined && hi <= lo && hi >= 0);
}

/** The shape of a constant combined with data of shape `dims`: scalar, per channel, per element, odd ones (some do not broadcast). */
function arithmeticShape(state: GenState, dims: number[]): number[] {
  const { rng } = state;
  if (dims.length === 4) {
    const [, c, h, w] = dims;
    const shapes = [[], [1], [c, 1, 1], [c, 1, 1], [1, c, 1, 1], [w], [1, 1, 1, w], [h, 1], [h, w], [c, h, w], [1, c, h, w], [1, 1, h, 1]];
    if (!state.tame) shapes.push([c, 1], [c + 1, 1, 1], [2, 1, 1, 1, 1], [1, 1, 1, 1, 1]);
    return rng.pick(shapes);
  }
  const k = dims[dims.length - 1] ?? 1;
  const shapes = [[], [1], [k], [1, k], [k], [1, 1]];
  if (!state.tame) shapes.push([k, 1], [2, k], [1, 1, k]);
  return rng.pick(shapes.map((s) => (dims.length === 2 || s.length <= dims.length ? s : s.slice(-dims.length))));
}

/** Add/Sub/Mul/Div of the data and a constant (data first or second), or x + x. */
function genArithmetic(state: GenState): void {
  const { rng } = state;
  const op = rng.pick(['Add', 'Sub', 'Mul', 'Div', 'Mul', 'Add']);
  if (op === 'Add' && rng.chance(0.05)) {
    node(state, 'Add', [state.tensor, state.tensor]);
    return;
  }
  const shape = arithmeticShape(state, state.dims);
  const values = new Float32Array(storable(count(shape)));
  for (let i = 0; i < values.length; i++) {
    if (op === 'Div') values[i] = (rng.chance(0.5) ? 1 : -1) * uniform(rng, 0.5, 2);
    else if (op === 'Mul') values[i] = uniform(rng, -1.5, 1.5);
    else values[i] = uniform(rng, -1, 1);
  }
  if (values.length && oops(state, 0.03)) values[rng.int(values.length)] = rng.pick([0, NaN, Infinity]);
  const constant = rng.chance(0.85) ? weight(state, shape, values) : floatConst(state, shape, values);
  const constantFirst = rng.chance(op === 'Div' ? 0.1 : 0.3);
  node(state, op, constantFirst ? [constant, state.tensor] : [state.tensor, constant]);
  if (!(op === 'Mul' && values.every((v) => v >= 0)) && !(op === 'Div' && !constantFirst && values.every((v) => v > 0))) state.nonNegative = false;
}

function genBatchNorm(state: GenState): void {
  const { rng } = state;
  const c = state.dims[1] ?? 1;
  const n = oops(state, 0.05) ? c + 1 : c;
  const scale = state.tame ? Float32Array.from({ length: n }, () => (rng.chance(0.8) ? 1 : -1) * uniform(rng, 0.5, 1.5)) : randomFloats(state, n);
  const bias = randomFloats(state, n, 0.5);
  const mean = randomFloats(state, n, 0.5);
  const variance = state.tame
    ? Float32Array.from({ length: n }, () => uniform(rng, 0.25, 1.5))
    : Float32Array.from(randomFloats(state, n), (v) => (rng.chance(0.9) ? Math.abs(v) : v));
  const attributes: Record<string, AttrSpec> = {};
  if (rng.chance(0.2)) attributes.epsilon = attr.float(state.tame ? rng.pick([1e-5, 1e-3, 0.1]) : rng.pick([0, 1e-5, 1]));
  if (oops(state, 0.03)) attributes.training_mode = 1;
  push(state, 'BatchNormalization', [scale, bias, mean, variance].map((p) => weight(state, [n], p)), attributes);
  state.nonNegative = false;
}

/** Squeeze: the size-1 axes (or some of them, negative too; none given = all); attribute before opset 13, input from 13. */
function genSqueeze(state: GenState): void {
  const { rng } = state;
  const rank = state.dims.length;
  const ones = state.dims.flatMap((d, i) => (d === 1 && i > 0 ? [i] : []));
  let axes: number[] | undefined = ones.length && rng.chance(0.9)
    ? ones.filter(() => rng.chance(0.8)).map((a) => (rng.chance(0.3) ? a - rank : a))
    : undefined;
  if (axes && !axes.length) axes = [ones[0]];
  if (oops(state, 0.05)) axes = [rank - 1 === 0 ? 0 : 1];
  const attributes: Record<string, AttrSpec> = {};
  const extra = axesArgument(state, axes, 13, attributes);
  const set = new Set((axes ?? state.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => (a < 0 ? a + rank : a)));
  push(state, 'Squeeze', extra, attributes, state.dims.filter((_, i) => !set.has(i)));
}

/** Unsqueeze: e.g. [1, K] → [1, K, 1, 1] (a vector as a 1×1 map); axes as attribute before opset 13, input from 13. */
function genUnsqueeze(state: GenState): void {
  const { rng } = state;
  const rank = state.dims.length;
  let axes = rank === 2 ? rng.pick([[2, 3], [-1, -2], [3, 2], [0], [2], [-1]]) : [rank];
  if (oops(state, 0.05)) axes = [rank + 5];
  const attributes: Record<string, AttrSpec> = {};
  const extra = axesArgument(state, axes, 13, attributes);
  const outRank = rank + axes.length;
  const set = new Set(axes.map((a) => (a < 0 ? a + outRank : a)));
  const dims: number[] = [];
  let next = 0;
  for (let i = 0; i < outRank; i++) dims.push(set.has(i) ? 1 : state.dims[next++] ?? 1);
  push(state, 'Unsqueeze', extra, attributes, dims);
  if (rank === 2 && dims.length === 4 && dims[1] > 1 && rng.chance(0.6)) genConv(state);
}

function genFlatten(state: GenState): void {
  const rank = state.dims.length;
  const attributes: Record<string, AttrSpec> = {};
  let axis = 1;
  if (state.rng.chance(0.3)) {
    axis = state.tame ? state.rng.pick([0, 1, 1 - rank]) : state.rng.pick([0, 1, -1, 2, 5]);
    attributes.axis = axis;
  }
  const at = axis < 0 ? axis + rank : axis;
  push(state, 'Flatten', [], attributes, [count(state.dims.slice(0, at)), count(state.dims.slice(at))]);
}

function genReshape(state: GenState, target?: number[]): void {
  const { rng } = state;
  const n = count(state.dims);
  const [, c = 1, h = 1, w = 1] = state.dims;
  let dims: number[];
  if (!target) {
    const tame: [number[], number[]][] = [[[1, -1], [1, n]], [[-1, n], [1, n]], [[1, n], [1, n]], [[0, -1], [1, n]], [[1, 1, -1], [1, 1, n]]];
    if (state.dims.length === 4) tame.push([[1, c, h * w], [1, c, h * w]], [[1, c * h, w, 1], [1, c * h, w, 1]], [[0, 0, -1, 1], [1, c, h * w, 1]]);
    tame.push([[1, n, 1, 1], [1, n, 1, 1]]);
    const wild: [number[], number[]][] = [[[-1, -1], [1, n]], [[2, -1], [2, n / 2]], [[1, n + 1], [1, n + 1]], [[n], [n]]];
    [target, dims] = rng.pick(state.tame ? tame : [...tame, ...wild]);
  } else {
    dims = target.map((d, i) => (d === -1 ? n / count(target!.filter((x) => x !== -1)) : d === 0 ? state.dims[i] : d));
  }
  push(state, 'Reshape', [intTensor(state, target)], oops(state, 0.1) ? { allowzero: 1 } : {}, dims);
}

function genDense(state: GenState): void {
  const { rng } = state;
  // A tame Linear reads a vector: flatten first.
  if (state.tame && (state.dims.length !== 2 || state.dims[0] !== 1)) genFlatten(state);
  const k = state.dims[state.dims.length - 1] ?? 1;
  let outF = edgeOr(state, () => rng.range(1, 12), [255, 256, 65535, 65536]);
  if (outF * Math.abs(k) > MAX_WEIGHTS) outF = Math.max(1, Math.floor(MAX_WEIGHTS / Math.max(1, k)));
  const inF = oops(state, 0.05) ? k + 1 : k;
  const data = layerWeights(state, outF * inF, inF);
  if (rng.chance(0.6)) {
    const transB = rng.chance(0.8) ? 1 : 0;
    const attributes: Record<string, AttrSpec> = { transB };
    if (rng.chance(0.1)) attributes.alpha = attr.float(rng.pick([0.5, 2, 0]));
    if (rng.chance(0.1)) attributes.beta = attr.float(rng.pick([0.5, 2, 0]));
    if (oops(state, 0.05)) attributes.transA = 1;
    const inputs = [weight(state, transB ? [outF, inF] : [inF, outF], data)];
    if (rng.chance(0.8)) {
      const shapes = state.tame ? [[outF], [1, outF], [1], []] : [[outF], [1, outF], [1], [], [outF, 2]];
      const shape = rng.pick(shapes);
      inputs.push(weight(state, shape, randomFloats(state, count(shape), 0.5)));
    }
    push(state, 'Gemm', inputs, attributes, [1, outF]);
  } else {
    push(state, 'MatMul', [weight(state, [inF, outF], data)], {}, [...state.dims.slice(0, -1), outF]);
    if (rng.chance(0.6)) push(state, 'Add', [weight(state, [outF], randomFloats(state, outF, 0.5))]);
  }
  state.nonNegative = false;
}

function genRelu(state: GenState): void {
  push(state, 'Relu', []);
  state.nonNegative = true;
}

function genSimple(state: GenState): void {
  const { rng } = state;
  const op = rng.pick(state.tame ? ['Relu', 'Relu', 'Softmax', 'Identity', 'Dropout'] : ['Relu', 'Relu', 'Softmax', 'Identity', 'Dropout', 'Sigmoid', 'AveragePool']);
  if (op === 'Relu') {
    genRelu(state);
    return;
  }
  const attributes: Record<string, AttrSpec> = {};
  if (op === 'Softmax' && rng.chance(0.5)) attributes.axis = state.tame ? rng.pick([-1, state.dims.length - 1]) : rng.pick([-1, 0, 1, 3]);
  push(state, op, [], attributes);
  if (op === 'Softmax') state.nonNegative = true;
  else if (op === 'Sigmoid' || op === 'AveragePool') state.nonNegative = false;
}

/** One random op that fits (mostly) the current rank. */
function genStep(state: GenState): void {
  const { rng } = state;
  const roll = rng.int(100);
  if (state.dims.length === 4) {
    if (roll < 22) genConv(state);
    else if (roll < 31) genMaxPool(state);
    else if (roll < 38) genAveragePool(state);
    else if (roll < 42) genGlobalAveragePool(state);
    else if (roll < 46) genReduce(state);
    else if (roll < 51) genPad(state);
    else if (roll < 56) genTranspose(state);
    else if (roll < 63) genBatchNorm(state);
    else if (roll < 71) genArithmetic(state);
    else if (roll < 75) genClip(state);
    else if (roll < 78) genSqueeze(state);
    else if (roll < 82) genFlatten(state);
    else if (roll < 85) genReshape(state);
    else if (roll < 89) genDense(state);
    else genSimple(state);
    return;
  }
  if (roll < 8) genFlatten(state);
  else if (roll < 14) genReshape(state);
  else if (roll < 40) genDense(state);
  else if (roll < 47) genBatchNorm(state);
  else if (roll < 58) genArithmetic(state);
  else if (roll < 62) genReduce(state);
  else if (roll < 66) genClip(state);
  else if (roll < 71) genUnsqueeze(state);
  else if (roll < 74) genSqueeze(state);
  else if (roll < 76) genTranspose(state);
  else genSimple(state);
}

/** A model as bytes: a random chain of a few operators. */
export function generateModel(rng: Rng): { bytes: Uint8Array; description: string } {
  const tame = rng.chance(0.5);
  const spatial = rng.chance(0.7);
  const state: GenState = {
    rng,
    spec: { opset: 13, inputs: [], outputs: [], initializers: [], nodes: [] },
    opset: rng.pick(OPSETS),
    tame,
    tensor: 'input',
    dims: [],
    nonNegative: false,
    counter: 0,
  };
  state.spec.opset = state.opset;
  const c = edgeOr(state, () => rng.pick(SMALL_CHANNELS()), [255, 256]);
  const hw = () => edgeOr(state, () => rng.range(1, 12), [255, 1000, 65535, 65536], 0.05);
  const dims = spatial ? [1, c, hw(), hw()] : [1, edgeOr(state, () => rng.range(1, 64), [255, 256, 65535, 65536])];
  const batch: Dim = rng.chance(0.05) ? rng.pick<Dim>(state.tame ? ['N', null] : ['N', null, 2]) : 1;
  state.spec.inputs.push({ name: 'input', dims: [batch, ...dims.slice(1)] });
  state.dims = dims;
  const length = rng.geometric(0.75, 12);
  for (let i = 0; i < length; i++) {
    genStep(state);
    // Tame chains stay small: a tensor beyond this would make the case slow, not more telling.
    if (state.tame && count(state.dims) > MAX_TAME_VALUES) break;
  }
  const description = `generated ${tame ? 'tame ' : ''}opset-${state.opset} ${JSON.stringify(dims)} chain ${state.spec.nodes.filter((n) => n.op !== 'Constant').map((n) => n.op).join('→')}`;
  const outDims: Dim[] | null = rng.chance(0.8) || tame ? state.dims : rng.chance(0.5) ? null : [1, 7];
  state.spec.outputs.push({ name: state.tensor, dims: outDims });
  if (oops(state, 0.02)) state.spec.outputs.push({ name: 'input', dims: null });
  return { bytes: buildModel(state.spec), description };
}

/** A chain of `n` Relu nodes on a [1, 4] input: far more layers than any real model. */
export function longReluChain(n: number): Uint8Array {
  const nodes: NodeSpec[] = Array.from({ length: n }, (_, i) => ({ op: 'Relu', inputs: [i ? `t${i}` : 'input'], outputs: [i === n - 1 ? 'output' : `t${i + 1}`] }));
  return buildModel({ inputs: [{ name: 'input', dims: [1, 4] }], outputs: [{ name: 'output', dims: [1, 4] }], nodes });
}
