// The firmware's limits, checked on layers before they are encoded (the firmware checks none of
// them: a u8 field that overflows silently wraps). validateBlob applies the same rules to
// records decoded from a file.
import { FirmwareLimitError } from '../errors.js';
import { LAYER_TYPE_NAMES, LayerType, MAX_BLOB_LAYERS, type Layer, type RecordShape, type Shape3, shapeElements } from './blobFormat.js';
import { blobProducts, describeOverflow, overflows, recordProducts } from './firmwareArithmetic.js';

export const U8_MAX = 255;
export const U16_MAX = 65535;

export interface RecordProblem {
  message: string;
  hint?: string;
  /** For problems of the whole blob: the layer that decides it. */
  layerIndex?: number;
  /** A size the firmware computes in 32 bits wraps: the board would corrupt its memory. */
  wouldCrashBoard?: boolean;
}

const TOO_BIG_HINT = 'The firmware computes this size in 32 bits; make the layer smaller (fewer channels, a smaller image or kernel)';

/** Products of the firmware's size arithmetic that wrap in its integer widths, as problems. */
export function arithmeticProblems(products: Parameters<typeof overflows>[0]): RecordProblem[] {
  return overflows(products).map((p) => ({
    message: describeOverflow(p), hint: TOO_BIG_HINT, wouldCrashBoard: true, ...(p.layerIndex === undefined ? {} : { layerIndex: p.layerIndex }),
  }));
}

/**
 * Pooled length along one axis, as PyTorch and ONNX compute it: floor mode, or ceil mode where a
 * last window that hangs over the edge counts unless it would start in the end padding.
 */
export function pooledLength(size: number, span: number, stride: number, ceil: boolean, padBegin = 0, padEnd = 0): number {
  const room = size + padBegin + padEnd - span;
  if (!ceil) return Math.floor(room / stride) + 1;
  let out = Math.ceil(room / stride) + 1;
  if ((out - 1) * stride >= size + padBegin) out--;
  return out;
}

/** Field ranges, element-count limits and the internal consistency of one record. */
export function recordProblems(r: RecordShape): RecordProblem[] {
  const problems: RecordProblem[] = [];
  const name = LAYER_TYPE_NAMES[r.type as LayerType];
  if (!name) return [{ message: `unknown layer type ${r.type} (the firmware knows 1–6)` }];

  const u8 = (field: string, value: number, hint: string) => {
    if (value > U8_MAX) problems.push({ message: `${field} ${value} exceeds the firmware's limit of ${U8_MAX}`, hint });
  };
  const u16 = (field: string, value: number, hint: string) => {
    if (value > U16_MAX) problems.push({ message: `${field} ${value} exceeds the firmware's limit of ${U16_MAX}`, hint });
  };
  u8('input channels', r.in.c, 'Use at most 255 channels per layer');
  u8('output channels', r.out.c, 'Use at most 255 channels per layer');
  u8('kernel size', r.kernel, 'Use a kernel of at most 255');
  u8('stride', r.stride, 'Use a stride of at most 255');
  u8('padding', r.padding, 'Use a padding of at most 255');
  for (const [field, v] of [['input height', r.in.h], ['input width', r.in.w], ['output height', r.out.h], ['output width', r.out.w]] as const) {
    u16(field, v, 'Use a smaller input image');
  }
  for (const [field, s] of [['input', r.in], ['output', r.out]] as const) {
    if (s.c <= 0 || s.h <= 0 || s.w <= 0) problems.push({ message: `${field} shape ${s.c}×${s.h}×${s.w} has a zero dimension` });
  }
  if (problems.length) return problems;

  const inElems = shapeElements(r.in);
  const outElems = shapeElements(r.out);
  const counted = (what: string, n: number, hint: string) => {
    if (n > U16_MAX) problems.push({ message: `${what} ${n} exceeds ${U16_MAX}: the firmware counts it in 16 bits and would process only ${n % 65536}`, hint });
  };
  switch (r.type) {
    case LayerType.Conv2D: {
      if (r.stride < 1) problems.push({ message: 'stride is 0' });
      else {
        const h = Math.floor((r.in.h + 2 * r.padding - r.kernel) / r.stride) + 1;
        const w = Math.floor((r.in.w + 2 * r.padding - r.kernel) / r.stride) + 1;
        if (r.kernel < 1 || h !== r.out.h || w !== r.out.w) {
          problems.push({ message: `output ${r.out.h}×${r.out.w} does not follow from input ${r.in.h}×${r.in.w}, kernel ${r.kernel}, stride ${r.stride}, padding ${r.padding} (expected ${h}×${w})` });
        }
      }
      break;
    }
    case LayerType.MaxPool2D: {
      if (r.out.c !== r.in.c) problems.push({ message: `output channels ${r.out.c} differ from input channels ${r.in.c}; the firmware pools ${r.in.c}` });
      if (r.stride < 1) problems.push({ message: 'stride is 0' });
      else {
        // Floor mode, or ceil mode (PyTorch's ceil_mode=True): the firmware clips the last
        // windows at the input's edge, which is exactly what ceil mode computes.
        const fits = (size: number, out: number) => out === pooledLength(size, r.kernel, r.stride, false) || out === pooledLength(size, r.kernel, r.stride, true);
        if (r.kernel < 1 || !fits(r.in.h, r.out.h) || !fits(r.in.w, r.out.w)) {
          const h = pooledLength(r.in.h, r.kernel, r.stride, false), w = pooledLength(r.in.w, r.kernel, r.stride, false);
          const ch = pooledLength(r.in.h, r.kernel, r.stride, true), cw = pooledLength(r.in.w, r.kernel, r.stride, true);
          const ceil = ch !== h || cw !== w ? ` or ${ch}×${cw} in ceil mode` : '';
          problems.push({ message: `output ${r.out.h}×${r.out.w} does not follow from input ${r.in.h}×${r.in.w}, kernel ${r.kernel}, stride ${r.stride} (expected ${h}×${w}${ceil})` });
        }
      }
      break;
    }
    case LayerType.ReLU:
    case LayerType.Softmax:
      counted(`${name} element count`, outElems, 'Reduce the size of the tensor before this layer (e.g. with pooling)');
      if (inElems !== outElems) problems.push({ message: `input has ${inElems} elements but output ${outElems}` });
      break;
    case LayerType.Flatten:
      if (inElems !== outElems) problems.push({ message: `input has ${inElems} elements but output ${outElems}` });
      break;
    case LayerType.Linear:
      counted('Linear in_features', inElems, 'Reduce the input of this layer (e.g. pool before flattening)');
      counted('Linear out_features', outElems, 'Use fewer output features');
      break;
  }
  problems.push(...arithmeticProblems(recordProducts(r)));
  return problems;
}

/** A FirmwareLimitError naming the ONNX node that made layer `i`, or the layer itself. */
function refusal(layers: readonly Layer[], i: number, p: RecordProblem): FirmwareLimitError {
  const where = layers[i].sources[0];
  const prefix = where ? '' : `layer ${i} (${LAYER_TYPE_NAMES[layers[i].type]}): `;
  return new FirmwareLimitError(prefix + p.message, { node: where, hint: p.hint });
}

/** Checks layers produced by lowering; throws a FirmwareLimitError naming the ONNX node. */
export function checkLimits(layers: readonly Layer[]): void {
  if (layers.length === 0) throw new FirmwareLimitError('the model has no layers to run');
  let prev: Shape3 | undefined;
  layers.forEach((layer, i) => {
    const problems = recordProblems(layer);
    if (problems.length) throw refusal(layers, i, problems[0]);
    if (prev && shapeElements(prev) !== shapeElements(layer.in)) {
      throw refusal(layers, i, { message: `input ${layer.in.c}×${layer.in.h}×${layer.in.w} does not match the previous layer's output ${prev.c}×${prev.h}×${prev.w}` });
    }
    prev = layer.out;
  });
  if (layers.length > MAX_BLOB_LAYERS) {
    throw new FirmwareLimitError(`the model has ${layers.length} layers, more than the ${MAX_BLOB_LAYERS} a blob may have: their record table alone would take ${(layers.length * 64 / 1024 / 1024).toFixed(1)} MB of the board's RAM`,
      { hint: 'Use a model with fewer layers' });
  }
  const [overflow] = arithmeticProblems(blobProducts(layers));
  if (overflow) throw refusal(layers, overflow.layerIndex ?? 0, overflow);
  const inputElems = shapeElements(layers[0].in);
  const scratch = layers.reduce((max, l) => Math.max(max, shapeElements(l.out)), 0); // no spread: 100k+ layers would overflow the stack
  if (inputElems > scratch) {
    throw new FirmwareLimitError(`the input (${inputElems} values) is larger than every layer's output (${scratch}); the firmware would refuse it with "model scratch too small"`);
  }
}
