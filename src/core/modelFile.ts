// "Is this file a model blob, an ONNX model or something else?" decided once, for the CLI
// (inspect, run), deploy and the extension (model view, Deploy), and the one report built from
// the answer. By content first: a blob carries the magic (the reference converter's blobs too);
// an ONNX model is protobuf. A .bin without the magic whose header cannot be a blob's is most
// likely one of the raw float32 sample inputs that sit next to the model, and is called so.
import { describeRewrites } from './onnx/lowerGraph.js';
import { basename, extname } from 'node:path';
import { buildModelReport, type ModelReport } from './analysis/modelReport.js';
import { nonFiniteBlobWarnings } from './analysis/nonFiniteWeights.js';
import { BLOB_MAGIC, HEADER_BYTES, RECORD_BYTES } from './blob/blobFormat.js';
import { validateBlob } from './blob/validateBlob.js';
import { convertGraph, type Conversion } from './convert.js';
import { CpmlError } from './errors.js';
import { loadOnnxFile, readModelBytes } from './onnx/loadOnnxFile.js';
import { quoted } from './text/untrustedText.js';

export type ModelFile =
  | { kind: 'onnx'; path: string; name: string; blob: Uint8Array; conversion: Conversion }
  | { kind: 'blob'; path: string; name: string; blob: Uint8Array };

/** The file is not a model: it looks like a sample input (raw float32 values). */
export class NotAModelError extends CpmlError {
  readonly path: string;
  /** How many float32 values the file holds. */
  readonly sampleValues: number;
  constructor(path: string, sampleValues: number) {
    super(`${quoted(basename(path))} looks like a sample input of ${sampleValues} float32 values, not a model (it has no blob header)`,
      'Choose the model instead (the .onnx file, or the model.bin converted from it); sample inputs are deployed with the model, or given to it with cpml run --input');
    this.path = path;
    this.sampleValues = sampleValues;
  }
}

export type ModelKind = { kind: 'blob' } | { kind: 'onnx' } | { kind: 'sample'; values: number };

/** Could this be a serialized ONNX ModelProto? Field 1 (ir_version, a small varint) comes first, then another of its fields. */
function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (bytes.length < 3 || bytes[0] !== 0x08 || bytes[1] === 0 || bytes[1] > 0x7f) return false;
  const field = bytes[2] >> 3;
  const wireType = bytes[2] & 7;
  return (wireType === 2 && [2, 3, 4, 6, 7, 8, 14, 20, 25].includes(field)) || (wireType === 0 && field === 5);
}

/**
 * Blob, ONNX or sample input, from the content and the name: the magic makes a blob; an .onnx
 * name or protobuf content an ONNX model; a .bin without the magic is a (magic-less) blob when its
 * header is plausible for its size, and a sample input when it is not and its size is a whole
 * number of float32 values. Anything else is read as ONNX, whose reader then says what is wrong.
 */
export function modelKindOf(path: string, bytes: Uint8Array): ModelKind {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 4 && view.getUint32(0, true) === BLOB_MAGIC) return { kind: 'blob' };
  const extension = extname(path).toLowerCase();
  if (extension === '.onnx' || looksLikeOnnx(bytes)) return { kind: 'onnx' };
  if (extension !== '.bin') return { kind: 'onnx' };
  const layers = bytes.length >= HEADER_BYTES ? view.getUint32(4, true) : 0;
  const plausibleHeader = layers > 0 && HEADER_BYTES + layers * RECORD_BYTES <= bytes.length;
  // An empty file or one of odd size stays a (broken) blob: decodeBlob says what the firmware would.
  if (!plausibleHeader && bytes.length > 0 && bytes.length % 4 === 0) return { kind: 'sample', values: bytes.length / 4 };
  return { kind: 'blob' };
}

/** The model in `bytes` (read from `path`): an ONNX model is converted. Throws NotAModelError for a sample input. */
export function modelFromBytes(path: string, bytes: Uint8Array): ModelFile {
  const name = basename(path);
  const kind = modelKindOf(path, bytes);
  if (kind.kind === 'sample') throw new NotAModelError(path, kind.values);
  if (kind.kind === 'blob') return { kind: 'blob', path, name, blob: bytes };
  // Conversion refusals (unsupported op, firmware limits, unreadable ONNX) pass through as they are.
  const conversion = convertGraph(loadOnnxFile(path, bytes));
  return { kind: 'onnx', path, name, blob: conversion.blob, conversion };
}

/** Reads a model file (a regular file, bounded): see modelFromBytes. */
export function readModelFile(path: string): ModelFile {
  return modelFromBytes(path, readModelBytes(path));
}

/**
 * The report of a model: layers, memory plan against `heapBudgetBytes`, latency estimate, and the
 * blob checked as the firmware would read it (its errors mean it must not be deployed). Throws a
 * BlobFormatError when a blob cannot even be decoded.
 */
export function modelReportFor(model: ModelFile, heapBudgetBytes?: number): ModelReport {
  const issues = validateBlob(model.blob);
  if (model.kind === 'blob') {
    return buildModelReport({
      source: model.name, kind: 'blob', records: issues.blob.records, blobBytes: model.blob.length,
      weightWarnings: nonFiniteBlobWarnings(issues.blob), issues, heapBudgetBytes,
    });
  }
  const { conversion } = model;
  return buildModelReport({
    source: model.name, kind: 'onnx', records: conversion.records, blobBytes: conversion.blob.length,
    layers: conversion.layers, notes: conversion.notes, rewrites: describeRewrites(conversion.rewrites), weightWarnings: conversion.warnings, issues, heapBudgetBytes,
  });
}
