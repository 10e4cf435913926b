// Parses ONNX protobuf bytes into an OnnxGraph. Any malformed input becomes an OnnxReadError.
import { onnx } from 'onnx-proto';
import { CpmlError, OnnxReadError } from '../errors.js';
import { safeName } from '../text/untrustedText.js';
import { decodeTensor, type ExternalDataLoader } from './decodeTensor.js';
import type { AttributeValue, Dim, OnnxGraph, OnnxNode, Tensor, ValueInfo } from './onnxGraph.js';
import { toNumber } from './protoNumbers.js';

export interface ReadOnnxOptions {
  /** Used in messages, e.g. the file name. */
  source?: string;
  loadExternal?: ExternalDataLoader;
}

const NOT_ONNX_HINT = 'Export the model with torch.onnx.export (or onnx.save) and pass the resulting .onnx file';

export function readOnnx(bytes: Uint8Array, options: ReadOnnxOptions = {}): OnnxGraph {
  const source = safeName(options.source ?? 'the model');
  if (bytes.length === 0) throw new OnnxReadError(`${source} is empty`, NOT_ONNX_HINT);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new OnnxReadError(`${source} is not a valid ONNX file (truncated or corrupt: ${detail})`, NOT_ONNX_HINT);
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) {
    throw new OnnxReadError(`${source} holds no ONNX graph`, NOT_ONNX_HINT);
  }
  try {
    return buildGraph(model, graph, options);
  } catch (error) {
    if (error instanceof CpmlError) throw error;
    // protobufjs hands back loosely typed objects; anything unexpected in them is a corrupt file.
    const detail = error instanceof Error ? error.message : String(error);
    throw new OnnxReadError(`${source} is not a valid ONNX file (${detail})`, NOT_ONNX_HINT);
  }
}

function buildGraph(model: onnx.ModelProto, graph: onnx.IGraphProto, options: ReadOnnxOptions): OnnxGraph {
  const opsetEntry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opsetEntry) {
    // Required by ONNX; without it operator defaults (e.g. Softmax's axis) are unknown.
    throw new OnnxReadError(`${safeName(options.source ?? 'the model')} declares no ONNX operator set version (opset_import)`, NOT_ONNX_HINT);
  }
  const opset = toNumber(opsetEntry.version);

  const initializers = new Map<string, Tensor>();
  for (const t of graph.initializer ?? []) initializers.set(t.name ?? '', decodeTensor(t, options.loadExternal));

  const nodes: OnnxNode[] = (graph.node ?? []).map((n, index) => ({
    index,
    name: n.name ?? '',
    op: n.opType ?? '',
    domain: n.domain ?? '',
    inputs: [...(n.input ?? [])],
    outputs: [...(n.output ?? [])],
    attributes: new Map((n.attribute ?? []).map((a) => [a.name ?? '', readAttribute(a, options.loadExternal)])),
  }));

  return {
    producer: [model.producerName, model.producerVersion].filter(Boolean).join(' '),
    opset,
    inputs: (graph.input ?? []).filter((v) => !initializers.has(v.name ?? '')).map(readValueInfo),
    outputs: (graph.output ?? []).map(readValueInfo),
    initializers,
    nodes,
  };
}

function readValueInfo(v: onnx.IValueInfoProto): ValueInfo {
  const tensorType = v.type?.tensorType;
  const shape = tensorType?.shape;
  const dims: Dim[] | null = shape
    ? (shape.dim ?? []).map((d): Dim => {
        if (d.dimParam) return d.dimParam;
        // 0 and negative values are kept (not taken for "unknown") so lowering can call them invalid.
        if (d.dimValue !== null && d.dimValue !== undefined) return toNumber(d.dimValue);
        return null;
      })
    : null;
  return { name: v.name ?? '', dims, elemType: tensorType?.elemType ?? 0 };
}

const decoder = new TextDecoder();

function readAttribute(a: onnx.IAttributeProto, loadExternal?: ExternalDataLoader): AttributeValue {
  const AT = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case AT.FLOAT: return { type: 'float', value: a.f ?? 0 };
    case AT.INT: return { type: 'int', value: toNumber(a.i) };
    case AT.STRING: return { type: 'string', value: decoder.decode(a.s ?? new Uint8Array()) };
    case AT.TENSOR: return a.t ? { type: 'tensor', value: decodeTensor(a.t, loadExternal) } : { type: 'other', value: null };
    case AT.FLOATS: return { type: 'floats', value: [...(a.floats ?? [])] };
    case AT.INTS: return { type: 'ints', value: (a.ints ?? []).map(toNumber) };
    case AT.STRINGS: return { type: 'strings', value: (a.strings ?? []).map((s) => decoder.decode(s)) };
    default: return { type: 'other', value: null };
  }
}
