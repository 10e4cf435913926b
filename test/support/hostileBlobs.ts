// Hostile but well-formed blobs for the hardening tests: every field in range, every weight in
// the file, and yet the board would corrupt its memory or compute for days.
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { encodeRecords, shape, type RecordSpec } from './blobBuilder.js';

/** One Flatten of 205×305×17173 = 2^30 + 1 values: the firmware's scratch size 4 × that wraps to 4 bytes. */
export function wrappingFlattenBlob(): Uint8Array {
  return encodeRecords({ records: [{ type: LayerType.Flatten, in: shape(205, 305, 17173), out: shape(205, 305, 17173) }] });
}

/**
 * `layers` Conv2D layers 1 → 1 channel, 127×127 kernel, padding 63, on 200×200 (shape-keeping),
 * all sharing one weight array: 128 KB for 1000 layers, and 40000 × 16129 kernel taps each.
 */
export function convBombBlob(layers = 1000, kernel = 127, size = 200): Uint8Array {
  const kk = kernel * kernel;
  const pad = (kernel - 1) / 2;
  const records: RecordSpec[] = Array.from({ length: layers }, () => ({
    type: LayerType.Conv2D, in: shape(1, size, size), out: shape(1, size, size), kernel, stride: 1, padding: pad,
    weightOffset: 0, biasOffset: kk * 4,
  }));
  const weights = new Float32Array(kk + 1).fill(1 / kk);
  return encodeRecords({ records, weights });
}

/** Steps (kernel taps) of one layer of convBombBlob. */
export const convBombLayerTaps = (kernel = 127, size = 200) => size * size * kernel * kernel;
