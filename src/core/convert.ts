// The conversion pipeline as one call: ONNX file or bytes → lowered layers → blob bytes.
import { nonFiniteWeightWarnings } from './analysis/nonFiniteWeights.js';
import { encodeBlob } from './blob/encodeBlob.js';
import type { Layer, LayerRecord } from './blob/blobFormat.js';
import { writeFileAtomic, type WriteOptions } from './files/atomicWrite.js';
import { loadOnnxFile } from './onnx/loadOnnxFile.js';
import { lowerGraph, type TensorSpec } from './onnx/lowerGraph.js';
import type { Rewrite } from './onnx/rewrites.js';
import type { OnnxGraph } from './onnx/onnxGraph.js';
import { readOnnx } from './onnx/readOnnx.js';

export interface Conversion {
  graph: OnnxGraph;
  layers: Layer[];
  records: LayerRecord[];
  blob: Uint8Array;
  input: TensorSpec;
  output: TensorSpec;
  notes: string[];
  /** Ops computed by other layers than their own, with their cost (describeRewrite says it in words). */
  rewrites: Rewrite[];
  /** What the user should look at before deploying (NaN or infinite weights, naming the tensor). */
  warnings: string[];
}

export function convertGraph(graph: OnnxGraph): Conversion {
  const lowered = lowerGraph(graph);
  const { bytes, records } = encodeBlob(lowered.layers);
  return { graph, ...lowered, records, blob: bytes, warnings: nonFiniteWeightWarnings(graph, lowered.layers) };
}

export function convertOnnxBytes(bytes: Uint8Array, source?: string): Conversion {
  return convertGraph(readOnnx(bytes, { source }));
}

export function convertOnnxFile(path: string): Conversion {
  return convertGraph(loadOnnxFile(path));
}

/** Converts and writes atomically: on any failure no output file is left behind. */
export function convertOnnxFileTo(path: string, outPath: string, options: WriteOptions = {}): Conversion {
  const conversion = convertOnnxFile(path);
  writeFileAtomic(outPath, conversion.blob, options);
  return conversion;
}
