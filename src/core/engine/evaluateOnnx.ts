// Reference evaluator: runs the original ONNX graph op by op in float64, independently of the
// converter's lowering, so the converted blob (run by the firmware-faithful engine) has
// something trustworthy to be compared with. This file schedules nodes, binds the graph
// input/output and names the failing node in errors; the ops themselves are in onnxOps*.ts.
import { describeNode, EvaluationError } from '../errors.js';
import { elementCount, ELEM_TYPE_NAMES, type OnnxGraph, type OnnxNode, type ValueInfo } from '../onnx/onnxGraph.js';
import { listSome, quoted } from '../text/untrustedText.js';
import { findOp, type EvalTensor, type OpContext } from './onnxOps.js';
import { describeDims, fromTensor } from './onnxOpsTensor.js';

/** Largest tensor (in elements) the evaluator allocates unless told otherwise: 16 Mi values, 128 MiB as float64. */
export const DEFAULT_MAX_ELEMENTS = 16 * 1024 * 1024;

export interface EvaluateOptions {
  /** Refuse any tensor with more elements than this (checked before allocating). */
  maxElements?: number;
}

export interface OnnxEvaluation {
  /** The graph's single output, flattened, rounded to float32. */
  output: Float32Array;
  outputDims: number[];
}

/** Float element types a Float32Array input can stand for (0: type not given). */
const FLOAT_INPUT_TYPES = new Set([0, 1, 10, 11, 16]);

export function evaluateOnnx(graph: OnnxGraph, input: Float32Array, options: EvaluateOptions = {}): OnnxEvaluation {
  const maxElements = options.maxElements ?? DEFAULT_MAX_ELEMENTS;
  const ctx = makeContext(graph.opset, maxElements);
  if (graph.inputs.length !== 1) {
    throw new EvaluationError(`the graph has ${graph.inputs.length} inputs (${listSome(graph.inputs.map((v) => quoted(v.name))) || 'none'}); the evaluator needs exactly one`);
  }
  if (graph.outputs.length !== 1) {
    throw new EvaluationError(`the graph has ${graph.outputs.length} outputs (${listSome(graph.outputs.map((v) => quoted(v.name))) || 'none'}); the evaluator needs exactly one`);
  }
  const inputInfo = graph.inputs[0];
  const outputName = graph.outputs[0].name;
  const dims = inputDims(inputInfo);
  const expected = ctx.check(dims);
  if (input.length !== expected) {
    throw new EvaluationError(`input ${quoted(inputInfo.name)} of shape ${describeDims(dims)} needs ${expected} values, but ${input.length} were given`);
  }

  // Only the nodes the output depends on run: a model may carry dead nodes (or initializers)
  // whose work is unbounded by anything the converted blob does.
  const needed = nodesNeededFor(graph, outputName);
  const values = new Map<string, EvalTensor>();
  for (const [name, tensor] of graph.initializers) if (needed.inputs.has(name)) values.set(name, fromTensor(tensor, ctx));
  values.set(inputInfo.name, { dims, data: Float64Array.from(input), isInt: false });

  // ONNX requires topological order, but a node is only run once all its inputs exist, so an
  // out-of-order file still works (in linear time: each node waits on a count of missing inputs)
  // and a missing or cyclic input is reported, not misread.
  const missing = new Map<OnnxNode, number>();
  const waiting = new Map<string, OnnxNode[]>();
  const ready: OnnxNode[] = [];
  for (const node of needed.nodes) {
    const absent = new Set(node.inputs.filter((name) => name !== '' && !values.has(name)));
    missing.set(node, absent.size);
    for (const name of absent) {
      const list = waiting.get(name);
      if (list) list.push(node);
      else waiting.set(name, [node]);
    }
    if (!absent.size) ready.push(node);
  }
  let ran = 0;
  for (let next = 0; next < ready.length; next++) {
    const node = ready[next];
    const before = new Set(node.outputs.filter((name) => name && !values.has(name)));
    runNode(node, values, ctx);
    ran++;
    for (const name of before) {
      if (!values.has(name)) continue;
      for (const consumer of waiting.get(name) ?? []) {
        const left = missing.get(consumer)! - 1;
        missing.set(consumer, left);
        if (left === 0) ready.push(consumer);
      }
      waiting.delete(name);
    }
  }
  if (ran < needed.nodes.length) {
    const node = needed.nodes.find((n) => missing.get(n)! > 0)!;
    const absent = node.inputs.filter((name) => name !== '' && !values.has(name));
    throw new EvaluationError(`${describeNode(node)}: input ${listSome(absent.map((m) => quoted(m)))} is never produced (missing, or part of a cycle)`);
  }

  const result = values.get(outputName);
  if (!result) throw new EvaluationError(`graph output ${quoted(outputName)} is not produced by any node`);
  return { output: Float32Array.from(result.data), outputDims: [...result.dims] };
}

/** The nodes the output is computed from (in file order), and every tensor name they read. */
function nodesNeededFor(graph: OnnxGraph, outputName: string): { nodes: OnnxGraph['nodes']; inputs: Set<string> } {
  const producers = new Map<string, number[]>();
  graph.nodes.forEach((node, i) => {
    for (const name of node.outputs) {
      if (!name) continue;
      const list = producers.get(name);
      if (list) list.push(i);
      else producers.set(name, [i]);
    }
  });
  const keep = new Set<number>();
  const inputs = new Set<string>();
  const stack = [outputName];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    for (const i of producers.get(name) ?? []) {
      if (keep.has(i)) continue;
      keep.add(i);
      for (const input of graph.nodes[i].inputs) {
        if (input && !inputs.has(input)) {
          inputs.add(input);
          stack.push(input);
        }
      }
    }
  }
  return { nodes: graph.nodes.filter((_, i) => keep.has(i)), inputs };
}

function makeContext(opset: number, maxElements: number): OpContext {
  const check = (dims: readonly number[]): number => {
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new EvaluationError(`invalid tensor shape ${describeDims(dims)}`);
    const count = elementCount(dims);
    if (count > maxElements) {
      throw new EvaluationError(`a tensor of shape ${describeDims(dims)} would have ${count} elements, over the evaluator's limit of ${maxElements}`);
    }
    // An empty tensor can still carry huge other dimensions, which ops walking its outer axes
    // would loop over: their product is held to the same limit.
    if (count === 0 && elementCount(dims.filter((d) => d !== 0)) > maxElements) {
      throw new EvaluationError(`a tensor of shape ${describeDims(dims)} has no elements, but its other dimensions span more than the evaluator's limit of ${maxElements}`);
    }
    return count;
  };
  return {
    opset,
    check,
    alloc: (dims, isInt = false) => ({ dims, data: new Float64Array(check(dims)), isInt }),
  };
}

/** Concrete input shape at batch 1: only a symbolic or unknown first dimension is accepted. */
function inputDims(info: ValueInfo): number[] {
  if (!FLOAT_INPUT_TYPES.has(info.elemType)) {
    throw new EvaluationError(`input ${quoted(info.name)} has element type ${ELEM_TYPE_NAMES[info.elemType] ?? info.elemType}; the evaluator takes float input only`);
  }
  if (!info.dims) throw new EvaluationError(`input ${quoted(info.name)} has no shape`);
  return info.dims.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    throw new EvaluationError(`input ${quoted(info.name)} has a symbolic dimension ${d === null ? '?' : quoted(String(d))} at position ${i}; only the batch dimension may be symbolic`);
  });
}

function runNode(node: OnnxGraph['nodes'][number], values: Map<string, EvalTensor>, ctx: OpContext): void {
  const op = findOp(node);
  if (!op) {
    const domain = node.domain && node.domain !== 'ai.onnx' ? ` of domain ${quoted(node.domain)}` : '';
    throw new EvaluationError(`${describeNode(node)}: operator ${quoted(node.op)}${domain} is not supported by the reference evaluator`);
  }
  let outputs;
  try {
    outputs = op(node, node.inputs.map((name) => (name === '' ? undefined : values.get(name))), ctx);
  } catch (error) {
    if (error instanceof EvaluationError) throw new EvaluationError(`${describeNode(node)}: ${error.message}`, error.hint);
    throw error;
  }
  node.outputs.forEach((name, i) => {
    if (name === '') return;
    const value = outputs[i];
    if (!value) throw new EvaluationError(`${describeNode(node)}: output #${i} (${quoted(name)}) is not produced by the evaluator`);
    if (values.has(name)) throw new EvaluationError(`${describeNode(node)}: output ${quoted(name)} is already defined elsewhere in the graph`);
    values.set(name, value);
  });
}
