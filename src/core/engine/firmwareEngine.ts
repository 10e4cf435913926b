// The host engine: runs a blob exactly as cnn_helper's C engine does on the board — float32
// arithmetic (multiply, round, add, round; no fused multiply-add), the same loop order, the same
// 8/16-bit counters, two ping-pong scratch buffers, and the same errors with the same messages.
import { BlobFormatError, FirmwareError } from '../errors.js';
import { LayerType, type LayerRecord, shapeElements } from '../blob/blobFormat.js';
import { assertValidBlob } from '../blob/validateBlob.js';
import { decodeBlob, type DecodedBlob } from '../blob/decodeBlob.js';
import { rp2040Expf } from './rp2040Expf.js';

const f32 = Math.fround;
const int16 = (v: number) => (v << 16) >> 16;
const MAXPOOL_INITIAL = f32(-1e30);

/** A model as load_model leaves it: blob in RAM and two scratch buffers. */
export interface LoadedModel {
  blob: DecodedBlob;
  /** The weight area as float32 (offsets are validated to be 4-byte aligned). */
  weightArea: Float32Array;
  scratchElements: number;
  inputElements: number;
  outputElements: number;
}

/**
 * Heap the host engine grants load_model by default: the SRAM of the largest Pico (RP2350,
 * 520 KB). No board of the family can allocate more, so a model that needs more raises the
 * board's MemoryError here too — instead of the host allocating gigabytes for a hostile blob.
 */
export const HOST_HEAP_BYTES = 520 * 1024;

export interface LoadOptions {
  /** Heap available to load_model (the board's gc.mem_free()); default HOST_HEAP_BYTES. */
  heapBytes?: number;
}

function allocate(bytes: number, used: number, heapBytes: number): number {
  if (used + bytes > heapBytes) {
    throw new FirmwareError('MemoryError', `memory allocation failed, allocating ${bytes} bytes`,
      `The model needs ${used + bytes} bytes of heap at this point, more than the ${heapBytes} available`);
  }
  return used + bytes;
}

/** load_model: the firmware's checks, then ours (nothing runs that would crash the board). */
export function loadModel(bytes: Uint8Array, options: LoadOptions = {}): LoadedModel {
  const heapBytes = options.heapBytes ?? HOST_HEAP_BYTES;
  if (bytes.length === 0) throw new FirmwareError('ValueError', 'empty model file');
  let used = allocate(bytes.length, 0, heapBytes); // the whole file is read into RAM first
  if (bytes.length < 8 + 22) throw new FirmwareError('ValueError', 'invalid model');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(4, true) === 0) throw new FirmwareError('ValueError', 'invalid model');
  // Records past the end of the file: the firmware would read outside it; refused here.
  const { records } = decodeBlob(bytes);
  const scratchElements = records.reduce((max, r) => Math.max(max, shapeElements(r.out)), 0); // no spread: 100k+ records would overflow the stack
  const inputElements = shapeElements(records[0].in);
  const outputElements = shapeElements(records[records.length - 1].out);
  if (scratchElements === 0 || inputElements === 0 || outputElements === 0) throw new FirmwareError('ValueError', 'invalid model');
  // The firmware loads a blob whose input is larger than every layer output and raises
  // RuntimeError("model scratch too small") in perform_inference; so does performInference.
  const { blob } = assertValidBlob(bytes, { allowScratchTooSmall: true });
  used = allocate(scratchElements * 4, used, heapBytes);
  allocate(scratchElements * 4, used, heapBytes);

  const areaBytes = bytes.length - blob.weightsStart;
  const weightArea = new Float32Array(Math.max(0, Math.floor(areaBytes / 4)));
  for (let i = 0; i < weightArea.length; i++) weightArea[i] = view.getFloat32(blob.weightsStart + i * 4, true);
  return { blob, weightArea, scratchElements, inputElements, outputElements };
}

/** perform_inference: `input` is the caller's buffer (its bytes are read as float32 LE). */
export function performInference(model: LoadedModel, input: Uint8Array | Float32Array): Float32Array {
  const inputBytes = input instanceof Float32Array ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength) : input;
  if (inputBytes.length !== model.inputElements * 4) {
    throw new FirmwareError('ValueError', 'wrong input size',
      `The model expects ${model.inputElements} float32 values (${model.inputElements * 4} bytes), got ${inputBytes.length} bytes`);
  }
  if (model.inputElements > model.scratchElements) throw new FirmwareError('RuntimeError', 'model scratch too small');

  const scratchA = new Float32Array(model.scratchElements);
  const scratchB = new Float32Array(model.scratchElements);
  const inView = new DataView(inputBytes.buffer, inputBytes.byteOffset, inputBytes.byteLength);
  for (let i = 0; i < model.inputElements; i++) scratchB[i] = inView.getFloat32(i * 4, true);

  let prev = scratchB;
  let curr = scratchA;
  for (const r of model.blob.records) {
    runLayer(r, prev, curr, model.weightArea);
    const t = prev;
    prev = curr;
    curr = t;
  }
  const out = model.blob.records.length & 1 ? scratchA : scratchB;
  return out.slice(0, model.outputElements);
}

/** load_model + perform_inference in one call. */
export function runBlob(bytes: Uint8Array, input: Uint8Array | Float32Array): Float32Array {
  return performInference(loadModel(bytes), input);
}

function runLayer(r: LayerRecord, input: Float32Array, output: Float32Array, area: Float32Array): void {
  switch (r.type) {
    case LayerType.Conv2D: return conv2d(r, input, output, area);
    case LayerType.MaxPool2D: return maxpool2d(r, input, output);
    case LayerType.ReLU: return relu(r, input, output);
    case LayerType.Flatten: return flatten(r, input, output);
    case LayerType.Linear: return linear(r, input, output, area);
    case LayerType.Softmax: return softmax(r, input, output);
    default: throw new BlobFormatError(`unknown layer type ${r.type}`);
  }
}

function conv2d(r: LayerRecord, input: Float32Array, output: Float32Array, area: Float32Array): void {
  const inCh = r.in.c, outCh = r.out.c, k = r.kernel, s = r.stride, p = r.padding;
  const ih = r.in.h, iw = r.in.w, oh = r.out.h, ow = r.out.w;
  const w0 = r.weightOffset / 4, b0 = r.biasOffset / 4;
  // The C code computes positions in int16_t; they only wrap beyond 32767, so the common case
  // skips the out-of-range taps up front. Both paths add the same terms in the same order.
  if ((Math.max(oh, ow) - 1) * s + k + p > 32767 || ih > 32767 || iw > 32767) {
    conv2dInt16(r, input, output, area);
    return;
  }
  const plane = ih * iw, kk = k * k;
  for (let oc = 0; oc < outCh; oc++) {
    const wOc = w0 + oc * inCh * kk;
    for (let oy = 0; oy < oh; oy++) {
      const y0 = oy * s - p;
      const kyStart = Math.max(0, -y0), kyEnd = Math.min(k, ih - y0);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = ox * s - p;
        const kxStart = Math.max(0, -x0), kxEnd = Math.min(k, iw - x0);
        let sum = area[b0 + oc];
        for (let ic = 0; ic < inCh; ic++) {
          const inBase = ic * plane, wBase = wOc + ic * kk;
          for (let ky = kyStart; ky < kyEnd; ky++) {
            const row = inBase + (y0 + ky) * iw + x0, wRow = wBase + ky * k;
            for (let kx = kxStart; kx < kxEnd; kx++) sum = f32(sum + f32(input[row + kx] * area[wRow + kx]));
          }
        }
        output[oc * oh * ow + oy * ow + ox] = sum;
      }
    }
  }
}

/** The literal C loop, with int16_t position arithmetic, for sizes where it wraps. */
function conv2dInt16(r: LayerRecord, input: Float32Array, output: Float32Array, area: Float32Array): void {
  const inCh = r.in.c, outCh = r.out.c, k = r.kernel, s = r.stride, p = r.padding;
  const ih = r.in.h, iw = r.in.w, oh = r.out.h, ow = r.out.w;
  const w0 = r.weightOffset / 4, b0 = r.biasOffset / 4;
  const ihS = int16(ih), iwS = int16(iw);
  for (let oc = 0; oc < outCh; oc++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let sum = area[b0 + oc];
        for (let ic = 0; ic < inCh; ic++) {
          for (let ky = 0; ky < k; ky++) {
            const iy = int16(int16(oy * s + ky) - p);
            for (let kx = 0; kx < k; kx++) {
              const ix = int16(int16(ox * s + kx) - p);
              if (ix >= 0 && ix < iwS && iy >= 0 && iy < ihS) {
                const v = input[ic * ih * iw + iy * iw + ix];
                const w = area[w0 + oc * inCh * k * k + ic * k * k + ky * k + kx];
                sum = f32(sum + f32(v * w));
              }
            }
          }
        }
        output[oc * oh * ow + oy * ow + ox] = sum;
      }
    }
  }
}

function maxpool2d(r: LayerRecord, input: Float32Array, output: Float32Array): void {
  const k = r.kernel, s = r.stride, ih = r.in.h, iw = r.in.w, oh = r.out.h, ow = r.out.w, channels = r.in.c;
  const ihS = int16(ih), iwS = int16(iw);
  for (let c = 0; c < channels; c++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let max = MAXPOOL_INITIAL;
        for (let ky = 0; ky < k; ky++) {
          const iy = int16(oy * s + ky);
          for (let kx = 0; kx < k; kx++) {
            const ix = int16(ox * s + kx);
            if (ix >= 0 && ix < iwS && iy >= 0 && iy < ihS) {
              const v = input[c * ih * iw + iy * iw + ix];
              if (v > max) max = v;
            }
          }
        }
        output[c * oh * ow + oy * ow + ox] = max;
      }
    }
  }
}

/** uint16_t product of the out fields, as the firmware counts ReLU/Softmax/Linear elements. */
function count16(s: { c: number; h: number; w: number }): number {
  return Math.imul(Math.imul(s.h, s.w), s.c) & 0xffff;
}

function relu(r: LayerRecord, input: Float32Array, output: Float32Array): void {
  const total = count16(r.out);
  // MAX(x, 0.0f) is `x > 0 ? x : 0`: NaN and -0 become +0.
  for (let i = 0; i < total; i++) output[i] = input[i] > 0 ? input[i] : 0;
}

function flatten(r: LayerRecord, input: Float32Array, output: Float32Array): void {
  const total = (r.in.h * r.in.w * r.in.c) >>> 0;
  for (let i = 0; i < total; i++) output[i] = input[i];
}

function linear(r: LayerRecord, input: Float32Array, output: Float32Array, area: Float32Array): void {
  const inF = count16(r.in), outF = count16(r.out);
  const w0 = r.weightOffset / 4, b0 = r.biasOffset / 4;
  for (let o = 0; o < outF; o++) {
    let sum = area[b0 + o];
    const row = w0 + o * inF;
    for (let i = 0; i < inF; i++) sum = f32(sum + f32(input[i] * area[row + i]));
    output[o] = sum;
  }
}

function softmax(r: LayerRecord, input: Float32Array, output: Float32Array): void {
  const count = count16(r.out);
  let max = input[0];
  for (let i = 1; i < count; i++) if (input[i] > max) max = input[i];
  let sum = 0;
  for (let i = 0; i < count; i++) {
    output[i] = rp2040Expf(f32(input[i] - max)); // the board's expf (boot ROM fexp), bit for bit
    sum = f32(sum + output[i]);
  }
  for (let i = 0; i < count; i++) output[i] = f32(output[i] / sum);
}
