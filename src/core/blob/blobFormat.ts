// The cnn_helper blob format (see docs: the firmware contract). Constants and record types only.
import type { NodeRef } from '../errors.js';

export const BLOB_MAGIC = 0x434e4e01;
export const HEADER_BYTES = 8;
/** Packed size of one layer record. */
export const RECORD_BYTES = 22;
/** The firmware skips 64 bytes per layer before the weight area. */
export const RECORD_SLOT_BYTES = 64;
/**
 * Most layers a blob may have: 150,000 record slots are 9.6 MB of RAM, more than any board the
 * firmware runs on has (a Pico 264 KB, a Pico 2 520 KB, RP2350 boards with PSRAM about 8.5 MB).
 * Beyond it the tools would only spend minutes reporting on a blob that cannot load anywhere.
 */
export const MAX_BLOB_LAYERS = 150_000;

export enum LayerType {
  Conv2D = 1,
  MaxPool2D = 2,
  ReLU = 3,
  Flatten = 4,
  Linear = 5,
  Softmax = 6,
}

export const LAYER_TYPE_NAMES: Record<LayerType, string> = {
  [LayerType.Conv2D]: 'Conv2D',
  [LayerType.MaxPool2D]: 'MaxPool2D',
  [LayerType.ReLU]: 'ReLU',
  [LayerType.Flatten]: 'Flatten',
  [LayerType.Linear]: 'Linear',
  [LayerType.Softmax]: 'Softmax',
};

/** Shape fields of a record: channels, height, width (NCHW without the batch). */
export interface Shape3 {
  c: number;
  h: number;
  w: number;
}

/** One 22-byte layer record, as the firmware reads it. */
export interface LayerRecord {
  type: number;
  in: Shape3;
  out: Shape3;
  kernel: number;
  stride: number;
  padding: number;
  weightOffset: number;
  biasOffset: number;
}

/** A layer ready to encode: record fields plus its float32 parameters and where it came from. */
export interface Layer {
  type: LayerType;
  in: Shape3;
  out: Shape3;
  kernel: number;
  stride: number;
  padding: number;
  /** Conv2D: (oc, ic, k, k); Linear: (out, in) row-major. */
  weights?: Float32Array;
  /** Always present for Conv2D/Linear (zeros when the model had none: the firmware always reads one). */
  bias?: Float32Array;
  /** True when the bias came from the model, false when zeros were written for a bias-free layer. */
  hasModelBias?: boolean;
  /** The ONNX nodes this layer was made from (several when e.g. BatchNormalization was folded in). */
  sources: NodeRef[];
  /** Why the converter added or changed this layer, for the report. */
  note?: string;
}

/** The fields of a record or layer that its size arithmetic depends on. */
export type RecordShape = Pick<LayerRecord, 'type' | 'in' | 'out' | 'kernel' | 'stride' | 'padding'>;

export function shapeElements(s: Shape3): number {
  return s.c * s.h * s.w;
}

export function formatShape(s: Shape3): string {
  return `${s.c}×${s.h}×${s.w}`;
}

export function weightsStart(numLayers: number): number {
  return HEADER_BYTES + RECORD_SLOT_BYTES * numLayers;
}
