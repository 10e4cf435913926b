// Reference evaluator: runs the original ONNX graph op by op in float64, independently of the
// converter's lowering, so the converted blob (run by the firmware-faithful engine) has
// something trustworthy to be compared with. This file schedules nodes, binds the graph
// input/output and names the failing node in errors; the ops themselves are in onnxOps*.ts.
import { describeNode, EvaluationError } from '../errors.js';
import { elementCount, ELEM_TYPE_NAMES, type OnnxGraph, type ValueInfo } from '../onnx/onnxGraph.js';
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
    throw new EvaluationError(`the graph has ${graph.inputs.length} inputs (${graph.inputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); the evaluator needs exactly one`);
  }
  if (graph.outputs.length !== 1) {
    throw new EvaluationError(`the graph has ${graph.outputs.length} outputs (${graph.outputs.map((v) => `'${v.name}'`).join(', ') || 'none'}); the evaluator needs exactly one`);
  }
  const inputInfo = graph.inputs[0];
  const outputName = graph.outputs[0].name;
  const dims = inputDims(inputInfo);
  const expected = ctx.check(dims);
  if (input.length !== expected) {
    throw new EvaluationError(`input '${inputInfo.name}' of shape ${describeDims(dims)} needs ${expected} values, but ${input.length} were given`);
  }

  const values = new Map<string, EvalTensor>();
  for (const [name, tensor] of graph.initializers) values.set(name, fromTensor(tensor, ctx));
  values.set(inputInfo.name, { dims, data: Float64Array.from(input), isInt: false });

  // ONNX requires topological order, but a node is only run once all its inputs exist, so an
  // out-of-order file still works and a missing or cyclic input is reported, not misread.
  let pending = graph.nodes;
  while (pending.length) {
    const blocked = [];
    for (const node of pending) {
      if (node.inputs.every((name) => name === '' || values.has(name))) runNode(node, values, ctx);
      else blocked.push(node);
    }
    if (blocked.length === pending.length) {
      const node = blocked[0];
      const missing = node.inputs.filter((name) => name !== '' && !values.has(name));
      throw new EvaluationError(`${describeNode(node)}: input ${missing.map((m) => `'${m}'`).join(', ')} is never produced (missing, or part of a cycle)`);
    }
    pending = blocked;
  }

  const result = values.get(outputName);
  if (!result) throw new EvaluationError(`graph output '${outputName}' is not produced by any node`);
  return { output: Float32Array.from(result.data), outputDims: [...result.dims] };
}

function makeContext(opset: number, maxElements: number): OpContext {
  const check = (dims: readonly number[]): number => {
    if (dims.some((d) => !Number.isInteger(d) || d < 0)) throw new EvaluationError(`invalid tensor shape ${describeDims(dims)}`);
    const count = elementCount(dims);
    if (count > maxElements) {
      throw new EvaluationError(`a tensor of shape ${describeDims(dims)} would have ${count} elements, over the evaluator's limit of ${maxElements}`);
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
    throw new EvaluationError(`input '${info.name}' has element type ${ELEM_TYPE_NAMES[info.elemType] ?? info.elemType}; the evaluator takes float input only`);
  }
  if (!info.dims) throw new EvaluationError(`input '${info.name}' has no shape`);
  return info.dims.map((d, i) => {
    if (typeof d === 'number') return d;
    if (i === 0) return 1;
    throw new EvaluationError(`input '${info.name}' has a symbolic dimension ${d === null ? '?' : `'${d}'`} at position ${i}; only the batch dimension may be symbolic`);
  });
}

function runNode(node: OnnxGraph['nodes'][number], values: Map<string, EvalTensor>, ctx: OpContext): void {
  const op = findOp(node);
  if (!op) {
    const domain = node.domain && node.domain !== 'ai.onnx' ? ` of domain '${node.domain}'` : '';
    throw new EvaluationError(`${describeNode(node)}: operator '${node.op}'${domain} is not supported by the reference evaluator`);
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
    if (!value) throw new EvaluationError(`${describeNode(node)}: output #${i} ('${name}') is not produced by the evaluator`);
    if (values.has(name)) throw new EvaluationError(`${describeNode(node)}: output '${name}' is already defined elsewhere in the graph`);
    values.set(name, value);
  });
}
