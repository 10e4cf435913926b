// Blob bytes → header and layer records. Only checks what is needed to read the records;
// validateBlob judges whether the firmware could run them.
import { BlobFormatError } from '../errors.js';
import { HEADER_BYTES, MAX_BLOB_LAYERS, RECORD_BYTES, RECORD_SLOT_BYTES, type LayerRecord, weightsStart } from './blobFormat.js';

export interface DecodedBlob {
  bytes: Uint8Array;
  magic: number;
  records: LayerRecord[];
  /** Byte offset of the weight area in the file (8 + 64 × layers). */
  weightsStart: number;
}

export function decodeBlob(bytes: Uint8Array): DecodedBlob {
  if (bytes.length === 0) throw new BlobFormatError('the file is empty (the firmware raises "empty model file")');
  if (bytes.length < HEADER_BYTES + RECORD_BYTES) {
    throw new BlobFormatError(`the file has ${bytes.length} bytes, fewer than a header and one layer record (${HEADER_BYTES + RECORD_BYTES}); the firmware raises "invalid model"`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  const count = view.getUint32(4, true);
  if (count === 0) throw new BlobFormatError('the header says 0 layers; the firmware raises "invalid model"');
  if (HEADER_BYTES + count * RECORD_BYTES > bytes.length) {
    throw new BlobFormatError(`the header says ${count} layers, but the file (${bytes.length} bytes) is too short to hold their records: the firmware would read past the end of the file`,
      { hint: 'The file is truncated or not a cnn_helper model; convert the model again' });
  }
  if (count > MAX_BLOB_LAYERS) {
    throw new BlobFormatError(`the header says ${count} layers, more than the ${MAX_BLOB_LAYERS} cpml accepts: their record table alone would take ${(count * RECORD_SLOT_BYTES / 1024 / 1024).toFixed(1)} MB of the board's RAM, more than any board has`,
      { hint: 'Use a model with fewer layers' });
  }
  const records: LayerRecord[] = [];
  for (let i = 0; i < count; i++) {
    const at = HEADER_BYTES + i * RECORD_BYTES;
    records.push({
      type: view.getUint8(at),
      in: { c: view.getUint8(at + 1), h: view.getUint16(at + 6, true), w: view.getUint16(at + 8, true) },
      out: { c: view.getUint8(at + 2), h: view.getUint16(at + 10, true), w: view.getUint16(at + 12, true) },
      kernel: view.getUint8(at + 3),
      stride: view.getUint8(at + 4),
      padding: view.getUint8(at + 5),
      weightOffset: view.getUint32(at + 14, true),
      biasOffset: view.getUint32(at + 18, true),
    });
  }
  return { bytes, magic, records, weightsStart: weightsStart(count) };
}
