// Evaluates the small constant computations exporters put beside the data path — Constant
// nodes, the Shape→Gather→Unsqueeze→Concat chains that feed Reshape, the ~15-node subgraph the
// legacy PyTorch exporter writes for a Pad's pads, LSTM initial states — using the shapes
// lowering has already worked out for the data tensors. The tensor operations are in
// constantOps.ts. Anything it cannot evaluate is undefined ("not a constant"); the files are
// untrusted, so folded tensors are bounded in size (each and all together) and in nesting depth.
import { UnsupportedModelError } from '../errors.js';
import { getInt, getInts, type OnnxGraph, type OnnxNode, type Tensor } from './onnxGraph.js';
import {
  MAX_FOLDED_ELEMENTS, MAX_RANK, cast, concat, constantOfShape, elementwise, expand, gather, intDiv, intMod, range,
  reshapeDims, slice, transpose, wellFormed,
} from './constantOps.js';

/** Exporters nest constant computations a few nodes deep; far deeper would overflow the stack. */
const MAX_DEPTH = 1000;
/** All tensors one folder makes, together: many nodes of MAX_FOLDED_ELEMENTS each must not add up to gigabytes. */
export const MAX_TOTAL_FOLDED_ELEMENTS = 8 * MAX_FOLDED_ELEMENTS;

export { MAX_FOLDED_ELEMENTS };

type Arithmetic = (a: number, b: number) => number;
const ARITHMETIC: Record<string, { float: Arithmetic; int: Arithmetic }> = {
  Add: { float: (a, b) => a + b, int: (a, b) => a + b },
  Sub: { float: (a, b) => a - b, int: (a, b) => a - b },
  Mul: { float: (a, b) => a * b, int: (a, b) => a * b },
  Div: { float: (a, b) => a / b, int: intDiv },
};

export class ConstantFolder {
  private readonly producers = new Map<string, OnnxNode>();
  private readonly cache = new Map<string, Tensor | undefined>();
  /** Shapes of data tensors, filled in by lowering as it walks the chain. */
  readonly knownShapes = new Map<string, number[]>();
  private depth = 0;
  /** Elements of the tensors folded so far (for MAX_TOTAL_FOLDED_ELEMENTS). */
  private folded = 0;

  constructor(private readonly graph: OnnxGraph) {
    for (const node of graph.nodes) for (const o of node.outputs) if (o) this.producers.set(o, node);
  }

  resolve(name: string): Tensor | undefined {
    const init = this.graph.initializers.get(name);
    if (init) return init;
    if (this.cache.has(name)) return this.cache.get(name);
    this.cache.set(name, undefined); // guards against cycles in corrupt graphs
    const node = this.producers.get(name);
    // Every operator folded here has one output; a second one named by a corrupt file is not it.
    if (!node || node.outputs[0] !== name || (node.domain && node.domain !== 'ai.onnx')) return undefined;
    if (this.folded >= MAX_TOTAL_FOLDED_ELEMENTS) return undefined;
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
    if (value && !wellFormed(value)) value = undefined;
    // Identity and Constant make no new tensor (a weight behind 1000 Identity nodes costs nothing).
    if (value && node.op !== 'Identity' && node.op !== 'Constant') this.folded += value.data.length;
    this.cache.set(name, value);
    return value;
  }

  /** A well-formed constant input, or undefined. */
  private input(node: OnnxNode, i: number): Tensor | undefined {
    const value = node.inputs[i] ? this.resolve(node.inputs[i]) : undefined;
    return value && wellFormed(value) ? value : undefined;
  }

  /** A constant 1-D (or scalar) integer input of at most `max` values, or the attribute `attr` when the input is absent. */
  private ints(node: OnnxNode, i: number, attr?: string, max = MAX_RANK): number[] | undefined {
    if (node.inputs[i]) {
      const t = this.input(node, i);
      return t && t.kind === 'int' && t.dims.length <= 1 && t.data.length <= max ? t.data : undefined;
    }
    const values = attr ? getInts(node, attr) : undefined;
    return values && values.length <= max ? values : undefined;
  }

  /** The dims of a data tensor lowering has reached, or of a constant. */
  private shapeOf(name: string | undefined): number[] | undefined {
    if (!name) return undefined;
    return this.knownShapes.get(name) ?? this.resolve(name)?.dims;
  }

  private evaluate(node: OnnxNode): Tensor | undefined {
    const input = (i: number) => this.input(node, i);
    const opset = this.graph.opset;
    switch (node.op) {
      case 'Constant': return constantValue(node);
      case 'Identity': return input(0);
      case 'Shape': {
        const dims = this.shapeOf(node.inputs[0]);
        if (!dims) return undefined;
        const rank = dims.length;
        const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
        const values = dims.slice(clamp(getInt(node, 'start', 0)), clamp(getInt(node, 'end', rank)));
        return { kind: 'int', dims: [values.length], data: values };
      }
      case 'Size': {
        const dims = this.shapeOf(node.inputs[0]);
        return dims ? { kind: 'int', dims: [], data: [dims.reduce((a, b) => a * b, 1)] } : undefined;
      }
      case 'ConstantOfShape': {
        const shape = input(0);
        const value = node.attributes.get('value');
        if (value && value.type !== 'tensor') return undefined;
        return shape && constantOfShape(shape, value?.value);
      }
      case 'Gather': {
        const data = input(0), indices = input(1);
        return data && indices && gather(data, indices, getInt(node, 'axis', 0));
      }
      case 'Unsqueeze': case 'Squeeze': {
        const data = input(0);
        const axes = this.ints(node, 1, 'axes');
        if (!data || (!axes && (node.inputs[1] || node.attributes.has('axes')))) return undefined;
        const dims = node.op === 'Unsqueeze' ? unsqueezeDims(data.dims, axes ?? []) : squeezeDims(data.dims, axes);
        return dims && reshaped(data, dims);
      }
      case 'Reshape': {
        const data = input(0);
        const shape = opset < 5 ? getInts(node, 'shape') : this.ints(node, 1);
        const dims = data && shape && reshapeDims(data.dims, shape, getInt(node, 'allowzero', 0) !== 0);
        return dims && reshaped(data, dims);
      }
      case 'Concat': {
        const parts: Tensor[] = [];
        for (let i = 0; i < node.inputs.length; i++) {
          const part = input(i);
          if (!part) return undefined;
          parts.push(part);
        }
        return parts.length ? concat(parts, getInt(node, 'axis', 0)) : undefined;
      }
      case 'Slice': {
        const data = input(0);
        if (!data) return undefined;
        if (opset < 10) {
          const starts = getInts(node, 'starts'), ends = getInts(node, 'ends');
          return starts && ends ? slice(data, starts, ends, getInts(node, 'axes'), undefined) : undefined;
        }
        const starts = this.ints(node, 1), ends = this.ints(node, 2);
        const axes = this.ints(node, 3), steps = this.ints(node, 4);
        if (!starts || !ends || (node.inputs[3] && !axes) || (node.inputs[4] && !steps)) return undefined;
        return slice(data, starts, ends, axes, steps);
      }
      case 'Transpose': {
        const data = input(0);
        const perm = getInts(node, 'perm');
        return data && transpose(data, perm);
      }
      case 'Cast': {
        const data = input(0);
        return data && cast(data, getInt(node, 'to', 1));
      }
      case 'Range': {
        const start = input(0), limit = input(1), delta = input(2);
        return start && limit && delta && range(start, limit, delta);
      }
      case 'Expand': {
        const data = input(0), shape = input(1);
        return data && shape && expand(data, shape);
      }
      case 'Neg': {
        const data = input(0);
        return data && elementwise([data], data.kind, data.kind === 'int' ? (v) => 0 - v : (v) => -v);
      }
      case 'Not': {
        const data = input(0);
        return data && data.kind === 'int' ? elementwise([data], 'int', (v) => (v === 0 ? 1 : 0)) : undefined;
      }
      case 'Equal': {
        const a = input(0), b = input(1);
        return a && b && a.kind === b.kind ? elementwise([a, b], 'int', (x, y) => (x === y ? 1 : 0)) : undefined;
      }
      case 'Where': {
        const c = input(0), x = input(1), y = input(2);
        if (!c || !x || !y || c.kind !== 'int' || x.kind !== y.kind) return undefined;
        return elementwise([c, x, y], x.kind, (k, a, b) => (k !== 0 ? a : b));
      }
      case 'Add': case 'Sub': case 'Mul': case 'Div': {
        const a = input(0), b = input(1);
        if (!a || !b || a.kind !== b.kind) return undefined;
        return elementwise([a, b], a.kind, ARITHMETIC[node.op][a.kind]);
      }
      case 'Mod': {
        const a = input(0), b = input(1);
        const fmod = getInt(node, 'fmod', 0) !== 0;
        if (!a || !b || a.kind !== b.kind) return undefined;
        if (a.kind === 'float') return fmod ? elementwise([a, b], 'float', (x, y) => x % y) : undefined;
        return elementwise([a, b], 'int', (x, y) => intMod(x, y, fmod));
      }
      default: return undefined;
    }
  }
}

/** The same values under new dims (copied: cached tensors never share their data). */
function reshaped(like: Tensor, dims: number[]): Tensor | undefined {
  if (like.data.length > MAX_FOLDED_ELEMENTS) return undefined;
  return like.kind === 'float' ? { kind: 'float', dims, data: like.data.slice() } : { kind: 'int', dims, data: like.data.slice() };
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
  if (rank > MAX_RANK) return undefined;
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
