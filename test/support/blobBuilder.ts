// Hand-encodes cnn_helper blobs without any of the converter's checks (checkLimits), so tests
// can build blobs the converter would never write: wrapped counts, bad offsets, bias=False bugs.
import type { LayerRecord, Shape3 } from '../../src/core/blob/blobFormat.js';

export const MAGIC = 0x434e4e01;

export interface RecordSpec {
  type: number;
  in: Shape3;
  out: Shape3;
  kernel?: number;
  stride?: number;
  padding?: number;
  /** Byte offset into the weight area (default 0). */
  weightOffset?: number;
  biasOffset?: number;
}

export interface BlobSpec {
  records: RecordSpec[];
  /** The weight area (float32 values, or raw bytes for odd sizes). */
  weights?: ArrayLike<number> | Uint8Array;
  magic?: number;
  /** Header layer count (default records.length). */
  numLayers?: number;
  /** Pad the record table to 64 bytes a layer (default true). false: records only. */
  padTable?: boolean;
}

/** Fills in the defaults of a record spec (kernel 0, stride 1, padding 0, offsets 0). */
export function record(spec: RecordSpec): LayerRecord {
  return {
    type: spec.type, in: spec.in, out: spec.out,
    kernel: spec.kernel ?? 0, stride: spec.stride ?? 1, padding: spec.padding ?? 0,
    weightOffset: spec.weightOffset ?? 0, biasOffset: spec.biasOffset ?? 0,
  };
}

/** Writes the fields with wrapping (u8/u16/u32 masks), as a C struct assignment would. */
export function encodeRecords(spec: BlobSpec): Uint8Array {
  const n = spec.records.length;
  const table = spec.padTable === false ? 22 * n : 64 * n;
  const weightBytes = spec.weights instanceof Uint8Array
    ? spec.weights
    : floatBytes(spec.weights ?? []);
  const bytes = new Uint8Array(8 + table + weightBytes.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, (spec.magic ?? MAGIC) >>> 0, true);
  view.setUint32(4, (spec.numLayers ?? n) >>> 0, true);
  spec.records.forEach((s, i) => {
    const r = record(s);
    const at = 8 + 22 * i;
    view.setUint8(at, r.type & 0xff);
    view.setUint8(at + 1, r.in.c & 0xff);
    view.setUint8(at + 2, r.out.c & 0xff);
    view.setUint8(at + 3, r.kernel & 0xff);
    view.setUint8(at + 4, r.stride & 0xff);
    view.setUint8(at + 5, r.padding & 0xff);
    view.setUint16(at + 6, r.in.h & 0xffff, true);
    view.setUint16(at + 8, r.in.w & 0xffff, true);
    view.setUint16(at + 10, r.out.h & 0xffff, true);
    view.setUint16(at + 12, r.out.w & 0xffff, true);
    view.setUint32(at + 14, r.weightOffset >>> 0, true);
    view.setUint32(at + 18, r.biasOffset >>> 0, true);
  });
  bytes.set(weightBytes, 8 + table);
  return bytes;
}

export function floatBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i], true);
  return bytes;
}

export const shape = (c: number, h = 1, w = 1): Shape3 => ({ c, h, w });
