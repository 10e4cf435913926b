// Builds small, real ONNX ModelProto bytes for tests (and for the fuzz/bench code), through
// onnx-proto, so they go through readOnnx exactly like exported files.
//
//   const bytes = buildModel({
//     opset: 13,
//     inputs: [{ name: 'x', dims: [1, 1, 4, 4] }],
//     outputs: [{ name: 'y', dims: [1, 2, 2, 2] }],
//     initializers: [{ name: 'w', dims: [2, 1, 3, 3], data: new Float32Array(18).fill(0.5) }],
//     nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { pads: [0, 0, 0, 0] } }],
//   });
//
// Attribute values: an integer number → INT, a non-integer number → FLOAT, a string → STRING,
// an array of numbers → INTS (FLOATS if any is not an integer), an array of strings → STRINGS.
// Use attr.float(1) / attr.floats([1, 2]) / attr.tensor(...) when the inference would be wrong.
import { onnx } from 'onnx-proto';
import { readOnnx } from '../../src/core/onnx/readOnnx.js';
import type { OnnxGraph } from '../../src/core/onnx/onnxGraph.js';

/** ONNX TensorProto.DataType numbers. */
export const DataType = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, BFLOAT16: 16,
} as const;

export type Dim = number | string | null;

export interface ValueSpec {
  name: string;
  /** Omitted / null: a tensor type without a shape. A string is a dim_param, null an unknown dim. */
  dims?: Dim[] | null;
  /** Element type (default FLOAT). */
  elemType?: number;
}

export type TensorStorage =
  | 'raw'
  | 'typed'
  | { external: { location: string; offset?: number; length?: number } };

export interface TensorSpec {
  name: string;
  dims: number[];
  /**
   * Values. For FLOAT16 and BFLOAT16 these are the 16-bit patterns (e.g. 0x3c00 for 1.0), not
   * floats. Any length is accepted (so tests can build inconsistent tensors).
   */
  data: ArrayLike<number>;
  /** Default FLOAT. */
  dataType?: number;
  /** Default 'raw' (raw_data, little-endian). 'typed': float_data / int32_data / int64_data / double_data / uint64_data. */
  storage?: TensorStorage;
}

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; value: TensorSpec };

export type AttrSpec = number | string | number[] | string[] | AttrValue;

export const attr = {
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  ints: (value: number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: number[]): AttrValue => ({ kind: 'floats', value }),
  strings: (value: string[]): AttrValue => ({ kind: 'strings', value }),
  tensor: (value: TensorSpec): AttrValue => ({ kind: 'tensor', value }),
};

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttrSpec>;
}

export interface ModelSpec {
  /** Default-domain opset version (default 13). null: write no opset_import at all. */
  opset?: number | null;
  /** Extra opset imports (e.g. a custom domain). */
  extraOpsets?: { domain: string; version: number }[];
  irVersion?: number;
  producerName?: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers?: TensorSpec[];
  nodes: NodeSpec[];
  /** Also list the initializers in graph.input (as old exporters did). Default false. */
  initializersAsInputs?: boolean;
}

/** Encodes the model to ONNX protobuf bytes. */
export function buildModel(spec: ModelSpec): Uint8Array {
  const initializers = spec.initializers ?? [];
  const inputs = spec.inputs.map(valueInfo);
  if (spec.initializersAsInputs) {
    for (const t of initializers) inputs.push(valueInfo({ name: t.name, dims: t.dims, elemType: t.dataType ?? DataType.FLOAT }));
  }
  const opsetImport: onnx.IOperatorSetIdProto[] = [];
  const opset = spec.opset === undefined ? 13 : spec.opset;
  if (opset !== null) opsetImport.push({ domain: '', version: opset });
  for (const o of spec.extraOpsets ?? []) opsetImport.push({ domain: o.domain, version: o.version });
  const model = onnx.ModelProto.create({
    irVersion: spec.irVersion ?? 7,
    producerName: spec.producerName ?? 'cpml-test',
    opsetImport,
    graph: {
      name: 'test-graph',
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `node${i}`,
        opType: n.op,
        domain: n.domain ?? '',
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([name, v]) => attribute(name, v)),
      })),
      initializer: initializers.map(tensorProto),
      input: inputs,
      output: spec.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/** buildModel + readOnnx: the OnnxGraph a file with this content reads as. */
export function graphOf(spec: ModelSpec): OnnxGraph {
  return readOnnx(buildModel(spec), { source: 'test model' });
}

/**
 * Moves every initializer of `spec` into one external data file named `location`
 * (offsets 4-byte aligned). Returns the new spec and the file's bytes.
 */
export function externalize(spec: ModelSpec, location: string): { spec: ModelSpec; weights: Uint8Array } {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const initializers = (spec.initializers ?? []).map((t): TensorSpec => {
    const bytes = tensorBytes(t);
    const pad = (4 - (size % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      size += pad;
    }
    const offset = size;
    chunks.push(bytes);
    size += bytes.length;
    return { ...t, storage: { external: { location, offset, length: bytes.length } } };
  });
  const weights = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    weights.set(c, at);
    at += c.length;
  }
  return { spec: { ...spec, initializers }, weights };
}

/** A tensor's values as raw little-endian bytes (its raw_data / external data). */
export function tensorBytes(t: Pick<TensorSpec, 'data' | 'dataType'>): Uint8Array {
  const type = t.dataType ?? DataType.FLOAT;
  const n = t.data.length;
  const size = BYTES[type];
  if (size === undefined) throw new Error(`tensorBytes: no raw encoding for data type ${type}`);
  const bytes = new Uint8Array(n * size);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < n; i++) {
    const v = t.data[i];
    switch (type) {
      case DataType.FLOAT: view.setFloat32(i * 4, v, true); break;
      case DataType.DOUBLE: view.setFloat64(i * 8, v, true); break;
      case DataType.FLOAT16: case DataType.BFLOAT16: case DataType.UINT16: view.setUint16(i * 2, v, true); break;
      case DataType.INT16: view.setInt16(i * 2, v, true); break;
      case DataType.UINT8: case DataType.BOOL: view.setUint8(i, v); break;
      case DataType.INT8: view.setInt8(i, v); break;
      case DataType.INT32: view.setInt32(i * 4, v, true); break;
      case DataType.UINT32: view.setUint32(i * 4, v, true); break;
      case DataType.INT64: view.setBigInt64(i * 8, BigInt(v), true); break;
      case DataType.UINT64: view.setBigUint64(i * 8, BigInt(v), true); break;
    }
  }
  return bytes;
}

const BYTES: Record<number, number> = {
  [DataType.FLOAT]: 4, [DataType.UINT8]: 1, [DataType.INT8]: 1, [DataType.UINT16]: 2, [DataType.INT16]: 2,
  [DataType.INT32]: 4, [DataType.INT64]: 8, [DataType.BOOL]: 1, [DataType.FLOAT16]: 2, [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4, [DataType.UINT64]: 8, [DataType.BFLOAT16]: 2,
};

export function tensorProto(t: TensorSpec): onnx.ITensorProto {
  const dataType = t.dataType ?? DataType.FLOAT;
  const proto: onnx.ITensorProto = { name: t.name, dims: t.dims, dataType };
  const storage = t.storage ?? 'raw';
  if (storage === 'raw') {
    proto.rawData = tensorBytes(t);
  } else if (storage === 'typed') {
    const values = Array.from(t.data);
    switch (dataType) {
      case DataType.FLOAT: proto.floatData = values; break;
      case DataType.DOUBLE: proto.doubleData = values; break;
      case DataType.INT64: proto.int64Data = values; break;
      case DataType.UINT32: case DataType.UINT64: proto.uint64Data = values; break;
      default: proto.int32Data = values;
    }
  } else {
    const { location, offset, length } = storage.external;
    proto.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    proto.externalData = [{ key: 'location', value: location }];
    if (offset !== undefined) proto.externalData.push({ key: 'offset', value: String(offset) });
    if (length !== undefined) proto.externalData.push({ key: 'length', value: String(length) });
  }
  return proto;
}

function valueInfo(v: ValueSpec): onnx.IValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: v.elemType ?? DataType.FLOAT };
  if (v.dims) {
    tensorType.shape = {
      dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return { name: v.name, type: { tensorType } };
}

function attribute(name: string, spec: AttrSpec): onnx.IAttributeProto {
  const AT = onnx.AttributeProto.AttributeType;
  const v = normalize(spec);
  switch (v.kind) {
    case 'int': return { name, type: AT.INT, i: v.value };
    case 'float': return { name, type: AT.FLOAT, f: v.value };
    case 'string': return { name, type: AT.STRING, s: new TextEncoder().encode(v.value) };
    case 'ints': return { name, type: AT.INTS, ints: v.value };
    case 'floats': return { name, type: AT.FLOATS, floats: v.value };
    case 'strings': return { name, type: AT.STRINGS, strings: v.value.map((s) => new TextEncoder().encode(s)) };
    case 'tensor': return { name, type: AT.TENSOR, t: tensorProto(v.value) };
  }
}

function normalize(spec: AttrSpec): AttrValue {
  if (typeof spec === 'number') return Number.isInteger(spec) ? attr.int(spec) : attr.float(spec);
  if (typeof spec === 'string') return attr.string(spec);
  if (Array.isArray(spec)) {
    if (spec.length > 0 && spec.every((x) => typeof x === 'string')) return attr.strings(spec as string[]);
    const nums = spec as number[];
    return nums.every(Number.isInteger) ? attr.ints(nums) : attr.floats(nums);
  }
  return spec;
}
