// Layers → blob bytes, laid out exactly as the reference converter does (weights then bias per
// Conv/Linear in order, 4-byte aligned), so its example converts byte for byte.
import { checkLimits } from './checkLimits.js';
import { BLOB_MAGIC, HEADER_BYTES, LayerType, RECORD_BYTES, type Layer, type LayerRecord, weightsStart } from './blobFormat.js';

export interface EncodedBlob {
  bytes: Uint8Array;
  records: LayerRecord[];
}

export function encodeBlob(layers: readonly Layer[]): EncodedBlob {
  checkLimits(layers);
  let weightBytes = 0;
  const records: LayerRecord[] = layers.map((layer) => {
    let weightOffset = 0;
    let biasOffset = 0;
    if (layer.type === LayerType.Conv2D || layer.type === LayerType.Linear) {
      weightOffset = weightBytes;
      weightBytes += (layer.weights?.length ?? 0) * 4;
      biasOffset = weightBytes;
      weightBytes += (layer.bias?.length ?? 0) * 4;
    }
    return {
      type: layer.type, in: layer.in, out: layer.out,
      kernel: layer.kernel, stride: layer.stride, padding: layer.padding,
      weightOffset, biasOffset,
    };
  });

  const base = weightsStart(layers.length);
  const bytes = new Uint8Array(base + weightBytes);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, BLOB_MAGIC, true);
  view.setUint32(4, layers.length, true);
  records.forEach((r, i) => writeRecord(view, HEADER_BYTES + i * RECORD_BYTES, r));
  layers.forEach((layer, i) => {
    writeFloats(view, base + records[i].weightOffset, layer.weights);
    writeFloats(view, base + records[i].biasOffset, layer.bias);
  });
  return { bytes, records };
}

function writeRecord(view: DataView, at: number, r: LayerRecord): void {
  view.setUint8(at, r.type);
  view.setUint8(at + 1, r.in.c);
  view.setUint8(at + 2, r.out.c);
  view.setUint8(at + 3, r.kernel);
  view.setUint8(at + 4, r.stride);
  view.setUint8(at + 5, r.padding);
  view.setUint16(at + 6, r.in.h, true);
  view.setUint16(at + 8, r.in.w, true);
  view.setUint16(at + 10, r.out.h, true);
  view.setUint16(at + 12, r.out.w, true);
  view.setUint32(at + 14, r.weightOffset, true);
  view.setUint32(at + 18, r.biasOffset, true);
}

function writeFloats(view: DataView, at: number, values: Float32Array | undefined): void {
  if (!values) return;
  for (let i = 0; i < values.length; i++) view.setFloat32(at + i * 4, values[i], true);
}
