// Grammar-based ONNX generation for the fuzz test: random chains of the operators the converter
// knows (and a few it refuses), with random shapes, attributes, weight storage and edge values.
// Mutating real files mostly exercises the protobuf reader; generated models reach the lowering
// code (shapes, padding, folding, limits) and, when they convert, the engine.
import { attr, buildModel, DataType, type AttrSpec, type Dim, type ModelSpec, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';
import type { Rng } from './mutate.js';

/** Keeps generated weights small, so a case stays fast. */
const MAX_WEIGHTS = 50_000;

interface GenState {
  rng: Rng;
  spec: ModelSpec & { initializers: TensorSpec[]; nodes: NodeSpec[] };
  tensor: string;
  /** The generator's idea of the current shape (may be wrong on purpose: the converter must cope). */
  dims: number[];
  counter: number;
}

function fresh(state: GenState, prefix: string): string {
  return `${prefix}${state.counter++}`;
}

function edgeOr(rng: Rng, normal: () => number, edges: readonly number[], p = 0.08): number {
  return rng.chance(p) ? rng.pick(edges) : normal();
}

function randomFloats(rng: Rng, n: number): Float32Array {
  n = Math.max(0, Math.min(n, MAX_WEIGHTS));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng.u32() / 0x100000000 - 0.5) * 2;
  if (n && rng.chance(0.03)) out[rng.int(n)] = rng.pick([NaN, Infinity, -Infinity, 3.4e38, 1e-45]);
  return out;
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
    tensor.data = Array.from(data, (v) => (Number.isFinite(v) ? 0x3c00 ^ (Math.round(Math.abs(v) * 1023) & 0x3ff) : 0x7c00));
  } else if (roll === 3) {
    tensor.dataType = rng.pick([DataType.INT64, DataType.INT32, DataType.UINT8]);
    tensor.data = Array.from(data, (v) => (Number.isFinite(v) ? Math.round(v * 3) & 0x7f : 0));
  } else if (roll === 4 && dims.length) {
    // A shape that disagrees with the data.
    tensor.dims = dims.map((d, i) => (i === 0 ? d + rng.pick([-1, 1, 1000]) : d));
  }
  state.spec.initializers.push(tensor);
  return name;
}

function intTensor(state: GenState, values: number[]): string {
  const name = fresh(state, 'shape');
  if (state.rng.chance(0.3)) {
    state.spec.nodes.push({ op: 'Constant', inputs: [], outputs: [name], attributes: { value: attr.tensor({ name: `${name}_v`, dims: [values.length], data: values, dataType: DataType.INT64 }) } });
  } else {
    state.spec.initializers.push({ name, dims: [values.length], data: values, dataType: DataType.INT64 });
  }
  return name;
}

function push(state: GenState, op: string, extraInputs: string[], attributes: Record<string, AttrSpec> = {}, dims?: number[]): void {
  const out = fresh(state, 't');
  const inputs = [state.tensor, ...extraInputs];
  if (state.rng.chance(0.03)) inputs.reverse();
  state.spec.nodes.push({ op, inputs, outputs: [out], attributes });
  state.tensor = out;
  if (dims) state.dims = dims;
}

const SMALL_CHANNELS = () => [1, 2, 3, 4];

function genConv(state: GenState): void {
  const { rng } = state;
  const [, c = 1, h = 1, w = 1] = state.dims;
  const k = edgeOr(rng, () => rng.pick([1, 2, 3, 5]), [0, 4, 7, 256]);
  let oc = edgeOr(rng, () => rng.pick(SMALL_CHANNELS()), [255, 256, 300]);
  const ic = rng.chance(0.95) ? c : c + 1;
  if (oc * Math.abs(ic) * k * k > MAX_WEIGHTS) oc = Math.max(1, Math.floor(MAX_WEIGHTS / (ic * k * k)));
  const stride = edgeOr(rng, () => rng.pick([1, 1, 2, 3]), [0, 255, 256]);
  const p = edgeOr(rng, () => rng.pick([0, 0, 1, 2]), [100, 255, 256, -1], 0.1);
  const attributes: Record<string, AttrSpec> = {};
  const roll = rng.int(20);
  if (roll === 0) attributes.auto_pad = rng.pick(['SAME_UPPER', 'SAME_LOWER', 'VALID', 'BOGUS']);
  else if (roll === 1) attributes.pads = [p, p, p + 1, p];
  else if (roll !== 2) attributes.pads = [p, p, p, p];
  if (rng.chance(0.7)) attributes.strides = rng.chance(0.95) ? [stride, stride] : [stride, stride + 1];
  if (rng.chance(0.5)) attributes.kernel_shape = rng.chance(0.95) ? [k, k] : [k, k + 1];
  if (rng.chance(0.05)) attributes.group = rng.pick([0, 2]);
  if (rng.chance(0.05)) attributes.dilations = [2, 2];
  const inputs = [weight(state, [oc, ic, k, k], randomFloats(rng, oc * ic * k * k))];
  if (rng.chance(0.7)) inputs.push(weight(state, [oc], randomFloats(rng, rng.chance(0.95) ? oc : oc + 1)));
  const pad = Math.max(0, p);
  const s = Math.max(1, stride);
  push(state, 'Conv', inputs, attributes, [1, oc, Math.floor((h + 2 * pad - k) / s) + 1, Math.floor((w + 2 * pad - k) / s) + 1]);
}

function genMaxPool(state: GenState): void {
  const { rng } = state;
  const [, c = 1, h = 1, w = 1] = state.dims;
  const k = edgeOr(rng, () => rng.pick([1, 2, 3]), [0, 255, 1000]);
  const stride = rng.pick([1, 2, 2, 3]);
  const attributes: Record<string, AttrSpec> = { kernel_shape: rng.chance(0.95) ? [k, k] : [k] };
  if (rng.chance(0.7)) attributes.strides = [stride, stride];
  if (rng.chance(0.05)) attributes.pads = [1, 1, 1, 1];
  if (rng.chance(0.05)) attributes.ceil_mode = 1;
  if (rng.chance(0.05)) attributes.auto_pad = rng.pick(['SAME_UPPER', 'VALID']);
  const s = attributes.strides ? stride : 1;
  push(state, 'MaxPool', [], attributes, [1, c, Math.floor((h - k) / s) + 1, Math.floor((w - k) / s) + 1]);
}

function genFlatten(state: GenState): void {
  const n = state.dims.reduce((a, b) => a * b, 1);
  const attributes: Record<string, AttrSpec> = {};
  if (state.rng.chance(0.3)) attributes.axis = state.rng.pick([0, 1, -1, 2, 5]);
  push(state, 'Flatten', [], attributes, [1, n]);
}

function genReshape(state: GenState): void {
  const { rng } = state;
  const n = state.dims.reduce((a, b) => a * b, 1);
  const target = rng.pick([[1, -1], [-1, n], [1, n], [0, -1], [1, 1, -1], [-1, -1], [2, -1], [1, n + 1], [n]]);
  push(state, 'Reshape', [intTensor(state, target)], rng.chance(0.1) ? { allowzero: 1 } : {}, [1, n]);
}

function genDense(state: GenState): void {
  const { rng } = state;
  const k = state.dims[state.dims.length - 1] ?? 1;
  let outF = edgeOr(rng, () => rng.range(1, 12), [255, 256, 65535, 65536]);
  if (outF * Math.abs(k) > MAX_WEIGHTS) outF = Math.max(1, Math.floor(MAX_WEIGHTS / Math.max(1, k)));
  const inF = rng.chance(0.95) ? k : k + 1;
  const data = randomFloats(rng, outF * inF);
  if (rng.chance(0.6)) {
    const transB = rng.chance(0.8) ? 1 : 0;
    const attributes: Record<string, AttrSpec> = { transB };
    if (rng.chance(0.1)) attributes.alpha = attr.float(rng.pick([0.5, 2, 0]));
    if (rng.chance(0.1)) attributes.beta = attr.float(rng.pick([0.5, 2, 0]));
    if (rng.chance(0.05)) attributes.transA = 1;
    const inputs = [weight(state, transB ? [outF, inF] : [inF, outF], data)];
    if (rng.chance(0.8)) {
      const shape = rng.pick([[outF], [1, outF], [1], [], [outF, 2]]);
      inputs.push(weight(state, shape, randomFloats(rng, shape.reduce((a, b) => a * b, 1))));
    }
    push(state, 'Gemm', inputs, attributes, [1, outF]);
  } else {
    push(state, 'MatMul', [weight(state, [inF, outF], data)], {}, [...state.dims.slice(0, -1), outF]);
    if (rng.chance(0.6)) push(state, 'Add', [weight(state, [outF], randomFloats(rng, outF))]);
  }
}

function genBatchNorm(state: GenState): void {
  const { rng } = state;
  const c = state.dims.length === 4 ? state.dims[1] : state.dims[state.dims.length - 1] ?? 1;
  const n = rng.chance(0.95) ? c : c + 1;
  const params = [randomFloats(rng, n), randomFloats(rng, n), randomFloats(rng, n), Float32Array.from(randomFloats(rng, n), (v) => (rng.chance(0.9) ? Math.abs(v) : v))];
  const attributes: Record<string, AttrSpec> = {};
  if (rng.chance(0.2)) attributes.epsilon = attr.float(rng.pick([0, 1e-5, 1]));
  if (rng.chance(0.03)) attributes.training_mode = 1;
  push(state, 'BatchNormalization', params.map((p) => weight(state, [n], p)), attributes);
}

function genSimple(state: GenState): void {
  const { rng } = state;
  const op = rng.pick(['Relu', 'Relu', 'Softmax', 'Identity', 'Dropout', 'Sigmoid', 'AveragePool']);
  const attributes: Record<string, AttrSpec> = {};
  if (op === 'Softmax' && rng.chance(0.5)) attributes.axis = rng.pick([-1, 0, 1, 3]);
  push(state, op, [], attributes);
}

/** A model as bytes: a random chain of a few operators. */
export function generateModel(rng: Rng): { bytes: Uint8Array; description: string } {
  const spatial = rng.chance(0.7);
  const c = edgeOr(rng, () => rng.pick(SMALL_CHANNELS()), [255, 256]);
  const hw = () => edgeOr(rng, () => rng.range(1, 12), [255, 1000, 65535, 65536], 0.05);
  const dims = spatial ? [1, c, hw(), hw()] : [1, edgeOr(rng, () => rng.range(1, 64), [255, 256, 65535, 65536])];
  const batch: Dim = rng.chance(0.05) ? rng.pick<Dim>(['N', null, 2]) : 1;
  const state: GenState = {
    rng,
    spec: {
      opset: rng.pick([11, 13, 13, 17, 18]),
      inputs: [{ name: 'input', dims: [batch, ...dims.slice(1)] }],
      outputs: [],
      initializers: [],
      nodes: [],
    },
    tensor: 'input',
    dims,
    counter: 0,
  };
  const length = rng.geometric(0.75, 12);
  for (let i = 0; i < length; i++) {
    const roll = rng.int(100);
    if (state.dims.length === 4 && roll < 30) genConv(state);
    else if (state.dims.length === 4 && roll < 45) genMaxPool(state);
    else if (roll < 55) genFlatten(state);
    else if (roll < 62) genReshape(state);
    else if (roll < 80) genDense(state);
    else if (roll < 85) genBatchNorm(state);
    else genSimple(state);
  }
  const description = `generated chain ${state.spec.nodes.map((n) => n.op).join('→')}`;
  const outDims: Dim[] | null = rng.chance(0.8) ? state.dims : rng.chance(0.5) ? null : [1, 7];
  state.spec.outputs.push({ name: state.tensor, dims: outDims });
  if (rng.chance(0.02)) state.spec.outputs.push({ name: 'input', dims: null });
  return { bytes: buildModel(state.spec), description };
}

/** A chain of `n` Relu nodes on a [1, 4] input: far more layers than any real model. */
export function longReluChain(n: number): Uint8Array {
  const nodes: NodeSpec[] = Array.from({ length: n }, (_, i) => ({ op: 'Relu', inputs: [i ? `t${i}` : 'input'], outputs: [i === n - 1 ? 'output' : `t${i + 1}`] }));
  return buildModel({ inputs: [{ name: 'input', dims: [1, 4] }], outputs: [{ name: 'output', dims: [1, 4] }], nodes });
}
