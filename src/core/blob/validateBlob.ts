// Checks a blob from anyone before it runs: everything that would make the firmware read outside
// the file or its scratch buffers, wrap a size in its 32-bit arithmetic (firmwareArithmetic.ts),
// fault on an unaligned load, or compute nonsense.
import { BlobFormatError } from '../errors.js';
import { BLOB_MAGIC, LAYER_TYPE_NAMES, LayerType, type LayerRecord, shapeElements } from './blobFormat.js';
import { arithmeticProblems, recordProblems } from './checkLimits.js';
import { blobProducts } from './firmwareArithmetic.js';
import { decodeBlob, type DecodedBlob } from './decodeBlob.js';

export interface BlobIssue {
  layerIndex?: number;
  message: string;
  hint?: string;
  /**
   * Set on the "input larger than every layer's output" error: the firmware loads such a blob
   * and raises RuntimeError("model scratch too small") on each inference instead.
   */
  scratchTooSmall?: boolean;
  /** A size the firmware computes in 32 bits wraps: loading or running it would corrupt the board's memory. */
  wouldCrashBoard?: boolean;
}

export interface BlobValidation {
  blob: DecodedBlob;
  errors: BlobIssue[];
  warnings: BlobIssue[];
}

/** Weight and bias float counts a record makes the firmware read. */
export function parameterCounts(r: LayerRecord): { weights: number; bias: number } {
  if (r.type === LayerType.Conv2D) return { weights: r.out.c * r.in.c * r.kernel * r.kernel, bias: r.out.c };
  if (r.type === LayerType.Linear) {
    const inF = shapeElements(r.in) & 0xffff;
    const outF = shapeElements(r.out) & 0xffff;
    return { weights: inF * outF, bias: outF };
  }
  return { weights: 0, bias: 0 };
}

/** Throws BlobFormatError only when the bytes cannot even be decoded; otherwise reports issues. */
export function validateBlob(bytes: Uint8Array): BlobValidation {
  const blob = decodeBlob(bytes);
  const errors: BlobIssue[] = [];
  const warnings: BlobIssue[] = [];
  if (blob.magic !== BLOB_MAGIC) {
    warnings.push({ message: `magic is 0x${blob.magic.toString(16).padStart(8, '0')}, not 0x434e4e01 (the firmware does not check it)` });
  }
  const { records } = blob;
  const weightRanges = records.map((r) => ({ start: r.weightOffset, end: r.weightOffset + parameterCounts(r).weights * 4 }));
  const weightsOverlapping = overlapFinder(weightRanges);
  records.forEach((r, i) => {
    for (const p of recordProblems(r)) errors.push({ layerIndex: i, ...p });
    if (i > 0 && shapeElements(records[i - 1].out) !== shapeElements(r.in)) {
      const p = records[i - 1].out;
      errors.push({ layerIndex: i, message: `input ${r.in.c}×${r.in.h}×${r.in.w} (${shapeElements(r.in)} values) does not match the previous layer's output ${p.c}×${p.h}×${p.w} (${shapeElements(p)} values)` });
    }
    checkParameterRanges(blob, r, i, weightRanges, weightsOverlapping, errors, warnings);
  });
  const offsets = records.map((r) => ({ ...r, hasParameters: r.type === LayerType.Conv2D || r.type === LayerType.Linear }));
  for (const p of arithmeticProblems(blobProducts(records, offsets))) errors.push(p);
  const inputElems = shapeElements(records[0].in);
  const scratch = records.reduce((max, r) => Math.max(max, shapeElements(r.out)), 0); // no spread: a blob may hold 100k+ records
  if (scratch > 0 && inputElems > scratch) {
    errors.push({ message: `the input (${inputElems} values) is larger than every layer's output (${scratch}): the firmware raises "model scratch too small" on every inference`, hint: 'Convert the ONNX model with cpml, which adds a shape-keeping Flatten first', scratchTooSmall: true });
  }
  return { blob, errors, warnings };
}

interface ByteRange {
  start: number;
  end: number;
}

/**
 * Finds, for a byte range, a layer other than `self` whose (non-empty) range overlaps it, or -1.
 * Sorted starts with the two furthest-reaching ends of each prefix: O(log n) per question, so a
 * blob of 100k layers is not checked pair by pair.
 */
function overlapFinder(ranges: readonly ByteRange[]): (self: number, start: number, end: number) => number {
  const order = ranges.map((_, i) => i).filter((i) => ranges[i].end > ranges[i].start).sort((a, b) => ranges[a].start - ranges[b].start);
  const best: number[] = [], second: number[] = [];
  order.forEach((j, k) => {
    let b = k ? best[k - 1] : -1, c = k ? second[k - 1] : -1;
    if (b < 0 || ranges[j].end > ranges[b].end) [b, c] = [j, b];
    else if (c < 0 || ranges[j].end > ranges[c].end) c = j;
    best.push(b);
    second.push(c);
  });
  return (self, start, end) => {
    // Ranges that start before `end` are a prefix of `order`; the one reaching furthest decides.
    let lo = 0, hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[order[mid]].start < end) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return -1;
    const j = best[lo - 1] === self ? second[lo - 1] : best[lo - 1];
    return j >= 0 && ranges[j].end > start ? j : -1;
  };
}

function checkParameterRanges(blob: DecodedBlob, r: LayerRecord, i: number, weightRanges: readonly ByteRange[],
  weightsOverlapping: ReturnType<typeof overlapFinder>, errors: BlobIssue[], warnings: BlobIssue[]): void {
  const { weights, bias } = parameterCounts(r);
  if (weights === 0 && bias === 0) return;
  const name = LAYER_TYPE_NAMES[r.type as LayerType];
  const fileEnd = blob.bytes.length;
  const ranges = [['weights', r.weightOffset, weights], ['bias', r.biasOffset, bias]] as const;
  for (const [what, offset, count] of ranges) {
    if (offset % 4 !== 0) {
      errors.push({ layerIndex: i, message: `${name} ${what} offset ${offset} is not 4-byte aligned: the RP2040 (Cortex-M0+) faults on unaligned float loads` });
    }
    const end = blob.weightsStart + offset + count * 4;
    if (end > fileEnd) {
      errors.push({ layerIndex: i, message: `${name} ${what} (${count} floats at offset ${offset}) end at byte ${end}, past the end of the file (${fileEnd} bytes): the firmware would read outside the model` });
    }
  }
  const wEnd = r.weightOffset + weights * 4;
  const bEnd = r.biasOffset + bias * 4;
  if (r.biasOffset < wEnd && r.weightOffset < bEnd) {
    warnings.push({ layerIndex: i, message: `${name} bias (offset ${r.biasOffset}) overlaps its weights (offset ${r.weightOffset}): this is the reference converter's bug for layers without bias, and the results will be wrong`, hint: 'Convert the ONNX model with cpml, which writes a zero bias' });
    return;
  }
  // The reference converter writes bias offset 0 for every layer without bias: for layers after
  // the first, that is the first layer's weights.
  const other = bias > 0 ? weightsOverlapping(i, r.biasOffset, bEnd) : -1;
  if (other >= 0) {
    warnings.push({ layerIndex: i, message: `${name} bias (offset ${r.biasOffset}) overlaps the weights of layer ${other} (offset ${weightRanges[other].start}): this is the reference converter's bug for layers without bias, and the results will be wrong`, hint: 'Convert the ONNX model with cpml, which writes a zero bias' });
  }
}

/**
 * validateBlob, throwing the first error as a BlobFormatError. With `allowScratchTooSmall`, the
 * scratch-size error is left to the caller (the host engine raises it at inference, as the
 * firmware does).
 */
export function assertValidBlob(bytes: Uint8Array, options: { allowScratchTooSmall?: boolean } = {}): BlobValidation {
  const result = validateBlob(bytes);
  const errors = options.allowScratchTooSmall ? result.errors.filter((e) => !e.scratchTooSmall) : result.errors;
  const first = errors[0];
  if (first) {
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more problem${errors.length > 2 ? 's' : ''})` : '';
    throw new BlobFormatError(first.message + more, { layerIndex: first.layerIndex, hint: first.hint });
  }
  return result;
}
