// Evaluates the small constant computations exporters put beside the data path — Constant
// nodes and the Shape→Gather→Unsqueeze→Concat chains that feed Reshape — using the shapes
// lowering has already worked out for the data tensors.
import { UnsupportedModelError } from '../errors.js';
import { getInt, getInts, type OnnxGraph, type OnnxNode, type Tensor } from './onnxGraph.js';

/** Exporters nest constant computations a few nodes deep; far deeper would overflow the stack. */
const MAX_DEPTH = 1000;

export class ConstantFolder {
  private readonly producers = new Map<string, OnnxNode>();
  private readonly cache = new Map<string, Tensor | undefined>();
  /** Shapes of data tensors, filled in by lowering as it walks the chain. */
  readonly knownShapes = new Map<string, number[]>();
  private depth = 0;

  constructor(private readonly graph: OnnxGraph) {
    for (const node of graph.nodes) for (const o of node.outputs) if (o) this.producers.set(o, node);
  }

  resolve(name: string): Tensor | undefined {
    const init = this.graph.initializers.get(name);
    if (init) return init;
    if (this.cache.has(name)) return this.cache.get(name);
    this.cache.set(name, undefined); // guards against cycles in corrupt graphs
    const node = this.producers.get(name);
    if (!node) return undefined;
    if (this.depth >= MAX_DEPTH) {
      throw new UnsupportedModelError(`computes a constant through more than ${MAX_DEPTH} nested nodes`,
        { node: { name: node.name, index: node.index, op: node.op }, hint: 'Export with do_constant_folding=True' });
    }
    this.depth++;
    let value: Tensor | undefined;
    try {
      value = this.evaluate(node);
    } finally {
      this.depth--;
    }
    this.cache.set(name, value);
    return value;
  }

  private evaluate(node: OnnxNode): Tensor | undefined {
    const input = (i: number) => (node.inputs[i] ? this.resolve(node.inputs[i]) : undefined);
    switch (node.op) {
      case 'Constant': return constantValue(node);
      case 'Identity': return input(0);
      case 'Shape': {
        const dims = this.knownShapes.get(node.inputs[0]);
        if (!dims) return undefined;
        const rank = dims.length;
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
        const start = clamp(getInt(node, 'start', 0));
        const end = clamp(getInt(node, 'end', rank));
        const values = dims.slice(start, end);
        return { kind: 'int', dims: [values.length], data: values };
      }
      case 'Gather': {
        const data = input(0), indices = input(1);
        if (!data || !indices || data.dims.length !== 1 || getInt(node, 'axis', 0) !== 0) return undefined;
        const n = data.data.length;
        const picked: number[] = [];
        for (const raw of indices.data) {
          const i = raw < 0 ? raw + n : raw;
          if (!Number.isInteger(i) || i < 0 || i >= n) return undefined;
          picked.push(data.data[i]);
        }
        return withValues(data, indices.dims, picked);
      }
      case 'Unsqueeze': case 'Squeeze': {
        const data = input(0);
        if (!data) return undefined;
        const axesTensor = input(1);
        const axes = axesTensor ? Array.from(axesTensor.data) : getInts(node, 'axes');
        const dims = node.op === 'Unsqueeze' ? unsqueezeDims(data.dims, axes ?? []) : squeezeDims(data.dims, axes);
        return dims ? withValues(data, dims, Array.from(data.data)) : undefined;
      }
      case 'Concat': {
        const parts = node.inputs.map((n) => (n ? this.resolve(n) : undefined));
        if (parts.some((p) => !p || p.dims.length !== 1)) return undefined;
        const values = parts.flatMap((p) => Array.from(p!.data));
        return { kind: parts.every((p) => p!.kind === 'int') ? 'int' : 'float', dims: [values.length], data: values } as Tensor;
      }
      case 'Cast': {
        const data = input(0);
        if (!data) return undefined;
        const to = getInt(node, 'to', 1);
        const isFloat = to === 1 || to === 10 || to === 11 || to === 16;
        const values = Array.from(data.data, (v) => (isFloat ? v : Math.trunc(v)));
        return isFloat ? { kind: 'float', dims: data.dims, data: Float32Array.from(values) } : { kind: 'int', dims: data.dims, data: values };
      }
      default: return undefined;
    }
  }
}

function withValues(like: Tensor, dims: number[], values: number[]): Tensor {
  return like.kind === 'float' ? { kind: 'float', dims, data: Float32Array.from(values) } : { kind: 'int', dims, data: values };
}

function constantValue(node: OnnxNode): Tensor | undefined {
  const a = node.attributes;
  const value = a.get('value');
  if (value?.type === 'tensor') return value.value;
  const f = a.get('value_float');
  if (f?.type === 'float') return { kind: 'float', dims: [], data: Float32Array.of(f.value) };
  const fs = a.get('value_floats');
  if (fs?.type === 'floats') return { kind: 'float', dims: [fs.value.length], data: Float32Array.from(fs.value) };
  const i = a.get('value_int');
  if (i?.type === 'int') return { kind: 'int', dims: [], data: [i.value] };
  const is = a.get('value_ints');
  if (is?.type === 'ints') return { kind: 'int', dims: [is.value.length], data: is.value };
  return undefined;
}

function unsqueezeDims(dims: number[], axes: number[]): number[] | undefined {
  const rank = dims.length + axes.length;
  // A Set: a hostile Unsqueeze may list 100k axes, and includes() per axis would be quadratic.
  const norm = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  if (norm.size !== axes.length || [...norm].some((a) => a < 0 || a >= rank)) return undefined;
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : dims[next++]);
  return out;
}

function squeezeDims(dims: number[], axes: number[] | undefined): number[] | undefined {
  if (!axes) return dims.filter((d) => d !== 1);
  const norm = new Set(axes.map((a) => (a < 0 ? a + dims.length : a)));
  for (const a of norm) if (dims[a] !== 1) return undefined;
  return dims.filter((_, i) => !norm.has(i));
}
