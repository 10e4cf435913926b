// The model a command works on: an .onnx file (converted in memory) or a blob.
import { basename } from 'node:path';
import { BLOB_MAGIC } from '../core/blob/blobFormat.js';
import { convertGraph, type Conversion } from '../core/convert.js';
import { readFileChecked } from '../core/files/readFileChecked.js';
import { loadOnnxFile } from '../core/onnx/loadOnnxFile.js';

export type ModelArgument =
  | { kind: 'onnx'; path: string; name: string; conversion: Conversion; blob: Uint8Array }
  | { kind: 'blob'; path: string; name: string; blob: Uint8Array };

/** A blob starts with our magic; an ONNX file is protobuf. Decided by content, then by extension. */
export function looksLikeBlob(path: string, bytes: Uint8Array): boolean {
  if (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === BLOB_MAGIC) return true;
  return path.toLowerCase().endsWith('.bin');
}

export function readModelArgument(path: string): ModelArgument {
  const name = basename(path);
  const bytes = readFileChecked(path);
  if (looksLikeBlob(path, bytes)) return { kind: 'blob', path, name, blob: bytes };
  const conversion = convertGraph(loadOnnxFile(path));
  return { kind: 'onnx', path, name, conversion, blob: conversion.blob };
}
