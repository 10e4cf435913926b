// The firmware's integer arithmetic, in its own widths. cnn_helper multiplies the u8/u16 record
// fields in 32 bits: as size_t (unsigned) in load_model and perform_inference, as C int (signed)
// in the engine's index expressions. A product that does not fit wraps on the RP2040 (for int it
// is even undefined behaviour), and the board then allocates, compares or indexes with the
// wrapped value: load_model allocates 4 bytes for a 4 GB buffer and the first layer overwrites
// the board's memory. This file lists every product the firmware computes, per record and per
// blob, with its true value, so checkLimits and validateBlob can refuse those that do not fit.
import { LAYER_TYPE_NAMES, LayerType, type RecordShape, shapeElements } from './blobFormat.js';

const TWO_32 = 2 ** 32;
export const U32_MAX = TWO_32 - 1;
export const I32_MAX = 2 ** 31 - 1;

/** size_t on the RP2040 is 32-bit unsigned; `int` is 32-bit signed. */
export type FirmwareInt = 'size_t' | 'int';

/** The value a non-negative integer (exact in a double) takes in 32 bits. */
export function wrapU32(value: number): number {
  return value % TWO_32;
}

export function wrapI32(value: number): number {
  const u = wrapU32(value);
  return u > I32_MAX ? u - TWO_32 : u;
}

export function wrapTo(value: number, width: FirmwareInt): number {
  return width === 'size_t' ? wrapU32(value) : wrapI32(value);
}

export function fitsIn(value: number, width: FirmwareInt): boolean {
  return value >= 0 && value <= (width === 'size_t' ? U32_MAX : I32_MAX);
}

/** How the factors combine: a product, the largest index of a product (− 1), or a pointer sum. */
type Form = 'product' | 'lastIndex' | 'elementBytes' | 'sum';

/** One product the firmware computes, with its exact value. Plain data: a blob may have 150k records. */
export interface FirmwareProduct {
  /** What it is, e.g. "scratch buffers (max_layer_elems × sizeof(float))". */
  what: string;
  /** The numbers the firmware combines, in its order. */
  factors: readonly number[];
  form: Form;
  value: number;
  width: FirmwareInt;
  /** What the board does with the wrapped value. */
  consequence: (wrapped: number) => string;
  /** For products of the whole blob: the layer that decides it (the largest layer, layer 0). */
  layerIndex?: number;
}

function product(what: string, width: FirmwareInt, factors: readonly number[], consequence: FirmwareProduct['consequence'],
  form: Form = 'product', layerIndex?: number): FirmwareProduct {
  let value = form === 'sum' ? 0 : 1;
  for (const f of factors) value = form === 'sum' ? value + f : value * f;
  if (form === 'lastIndex') value -= 1;
  const p: FirmwareProduct = { what, factors, form, value, width, consequence };
  if (layerIndex !== undefined) p.layerIndex = layerIndex;
  return p;
}

/** "255 × 65535 × 65535 − 1", "1073741825 elements × 4 bytes", "72 + 4294967256". */
function writeFactors(p: FirmwareProduct): string {
  switch (p.form) {
    case 'sum': return p.factors.join(' + ');
    case 'elementBytes': return `${p.factors[0]} elements × ${p.factors[1]} bytes`;
    case 'lastIndex': return `${p.factors.join(' × ')} − 1`;
    default: return p.factors.join(' × ');
  }
}

// Consequences, shared by every record (no closures per record).
const writesPastScratch = () => 'the engine would write past the scratch buffer into the board\'s memory';
const readsOutsideInput = () => 'the engine would read outside its input buffer';
const readsOutsideWeights = () => 'the engine would read its weights from outside the model';
const sizesScratchWrong = (w: number) => `load_model would size the scratch buffers from ${w} elements for this layer, and the layer would write past them into the board's memory`;
const copiesTooMuch = (w: number) => `the engine would copy ${w >>> 0} values, past the scratch buffers into the board's memory`;
const allocatesTooLittle = (w: number) => `load_model would allocate only ${w} bytes for each and the first layer would overwrite the board's memory`;
const takesWrongInputSize = (w: number) => `perform_inference would take ${w} values as the input size and the layers would read and write past their buffers`;
const acceptsWrongInput = (w: number) => `perform_inference would accept an input of ${w} bytes and the layers would read and write far past their buffers`;
const wrapsWeightArea = () => 'every weight pointer would wrap around and the engine would read its weights from outside the model';
const readsWeightsElsewhere = () => 'the engine would read the weights from outside the model';
const readsBiasElsewhere = () => 'the engine would read the bias from outside the model';

/**
 * Products the firmware computes for one record (the fields must already be in their u8/u16
 * ranges). Index products are the largest index the loops reach: count − 1.
 */
export function recordProducts(r: RecordShape): FirmwareProduct[] {
  const { in: i, out: o } = r;
  const products = [product('output element count (load_model: out_height × out_width × out_channels)', 'size_t', [o.h, o.w, o.c], sizesScratchWrong)];
  switch (r.type) {
    case LayerType.Conv2D:
      products.push(
        product('Conv2D input index (ic × ih × iw + …)', 'int', [i.c, i.h, i.w], readsOutsideInput, 'lastIndex'),
        product('Conv2D weight index (oc × in_ch × k × k + …)', 'int', [o.c, i.c, r.kernel, r.kernel], readsOutsideWeights, 'lastIndex'),
        product('Conv2D output index (oc × oh × ow + …)', 'int', [o.c, o.h, o.w], writesPastScratch, 'lastIndex'),
      );
      break;
    case LayerType.MaxPool2D:
      // The pooling loops run over in_channels for the output too.
      products.push(
        product('MaxPool2D input index (c × ih × iw + …)', 'int', [i.c, i.h, i.w], readsOutsideInput, 'lastIndex'),
        product('MaxPool2D output index (c × oh × ow + …)', 'int', [i.c, o.h, o.w], writesPastScratch, 'lastIndex'),
      );
      break;
    case LayerType.Flatten:
      products.push(product('Flatten count (in_height × in_width × in_channels)', 'int', [i.h, i.w, i.c], copiesTooMuch));
      break;
    case LayerType.Linear: {
      // in_features/out_features are uint16_t: the index uses the wrapped counts.
      const inF = shapeElements(i) % 65536, outF = shapeElements(o) % 65536;
      products.push(product('Linear weight index (o × in_features + i)', 'int', [outF, inF], readsOutsideWeights, 'lastIndex'));
      break;
    }
  }
  return products;
}

/** Where the record table says each layer's parameters are (byte offsets into the weight area). */
export interface ParameterOffsets {
  weightOffset: number;
  biasOffset: number;
  hasParameters: boolean;
}

/**
 * Products the firmware computes for the whole blob: the scratch allocation, the input size
 * check, and (when the offsets are known) the weight and bias pointers.
 */
export function blobProducts(records: readonly RecordShape[], offsets?: readonly ParameterOffsets[]): FirmwareProduct[] {
  // load_model takes the maximum of the already wrapped per-layer counts.
  let maxElems = 0, largest = 0;
  records.forEach((r, i) => {
    const elems = wrapU32(shapeElements(r.out));
    if (elems > maxElems) [maxElems, largest] = [elems, i];
  });
  const first = records[0].in;
  const products = [
    product('scratch buffers (max_layer_elems × sizeof(float))', 'size_t', [maxElems, 4], allocatesTooLittle, 'elementBytes', largest),
    product('model input element count (in_height × in_width × in_channels of layer 0)', 'size_t', [first.h, first.w, first.c], takesWrongInputSize, 'product', 0),
    product('input size check (expected_input_elems × sizeof(float))', 'size_t', [wrapU32(shapeElements(first)), 4], acceptsWrongInput, 'elementBytes', 0),
  ];
  if (offsets?.some((o) => o.hasParameters)) {
    const table = 8 + 64 * records.length;
    products.push(product('weight area start (8 + 64 × num_layers)', 'size_t', [8, 64 * records.length], wrapsWeightArea, 'sum'));
    offsets.forEach((o, index) => {
      if (!o.hasParameters) return;
      const name = LAYER_TYPE_NAMES[records[index].type as LayerType] ?? 'layer';
      products.push(
        product(`${name} weight pointer (8 + 64 × num_layers + offset)`, 'size_t', [table, o.weightOffset], readsWeightsElsewhere, 'sum', index),
        product(`${name} bias pointer (8 + 64 × num_layers + offset)`, 'size_t', [table, o.biasOffset], readsBiasElsewhere, 'sum', index),
      );
    });
  }
  return products;
}

/** "…: A × B = V, which the firmware computes in 32 bits as W: consequence". */
export function describeOverflow(p: FirmwareProduct): string {
  const wrapped = wrapTo(p.value, p.width);
  const inWidth = p.width === 'size_t' ? 'in 32 bits (size_t)' : 'in a 32-bit int';
  return `would crash the board: ${p.what}: ${writeFactors(p)} = ${p.value}, which the firmware computes ${inWidth} as ${wrapped}: ${p.consequence(wrapped)}`;
}

/** The products that do not fit their width. */
export function overflows(products: readonly FirmwareProduct[]): FirmwareProduct[] {
  return products.filter((p) => !fitsIn(p.value, p.width));
}
