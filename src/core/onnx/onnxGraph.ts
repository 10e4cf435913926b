// The project's own view of an ONNX model: only what lowering and evaluation need, with
// tensors already decoded to plain arrays. Built by readOnnx; independent of protobufjs.

/** A constant tensor: floats for FLOAT/FLOAT16/DOUBLE/BFLOAT16, integers for integer and bool types. */
export type Tensor =
  | { kind: 'float'; dims: number[]; data: Float32Array }
  | { kind: 'int'; dims: number[]; data: number[] };

export type AttributeValue =
  | { type: 'float'; value: number }
  | { type: 'int'; value: number }
  | { type: 'string'; value: string }
  | { type: 'tensor'; value: Tensor }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: number[] }
  | { type: 'strings'; value: string[] }
  | { type: 'other'; value: null };

export interface OnnxNode {
  index: number;
  name: string;
  op: string;
  domain: string;
  /** Input tensor names; '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attributes: Map<string, AttributeValue>;
}

/** A dimension: a number when fixed, a string (symbolic name) or null (unknown) otherwise. */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  /** null when the type carries no shape at all. */
  dims: Dim[] | null;
  /** ONNX element type number (1 = FLOAT). */
  elemType: number;
}

export interface OnnxGraph {
  producer: string;
  /** Version of the default ('' / 'ai.onnx') operator set. */
  opset: number;
  /** Graph inputs that are not initializers. */
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  initializers: Map<string, Tensor>;
  nodes: OnnxNode[];
}

export const ELEM_TYPE_NAMES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
  16: 'bfloat16',
};

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function getInt(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a && a.type === 'int' ? a.value : fallback;
}

export function getFloat(node: OnnxNode, name: string, fallback: number): number {
  const a = node.attributes.get(name);
  return a && a.type === 'float' ? a.value : fallback;
}

export function getInts(node: OnnxNode, name: string): number[] | undefined {
  const a = node.attributes.get(name);
  return a && a.type === 'ints' ? a.value : undefined;
}

export function getString(node: OnnxNode, name: string, fallback: string): string {
  const a = node.attributes.get(name);
  return a && a.type === 'string' ? a.value : fallback;
}
