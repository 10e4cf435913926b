// Decodes an ONNX TensorProto's data (raw_data, typed fields or external data) into a Tensor.
// Sizes are checked against the dims before anything is allocated, so a corrupt file cannot
// make us allocate gigabytes.
import type { onnx } from 'onnx-proto';
import { OnnxReadError } from '../errors.js';
import { quoted } from '../text/untrustedText.js';
import { ELEM_TYPE_NAMES, type Tensor } from './onnxGraph.js';
import { toNumber } from './protoNumbers.js';

/** Reads `length` bytes at `offset` of an external data file named `location`. */
export type ExternalDataLoader = (location: string, offset: number, length: number | undefined, tensorName: string) => Uint8Array;

const FLOAT = 1, UINT8 = 2, INT8 = 3, UINT16 = 4, INT16 = 5, INT32 = 6, INT64 = 7, BOOL = 9, FLOAT16 = 10, DOUBLE = 11,
  UINT32 = 12, UINT64 = 13, BFLOAT16 = 16;

const BYTES_PER_ELEMENT: Record<number, number> = {
  [FLOAT]: 4, [UINT8]: 1, [INT8]: 1, [UINT16]: 2, [INT16]: 2, [INT32]: 4, [INT64]: 8, [BOOL]: 1,
  [FLOAT16]: 2, [DOUBLE]: 8, [UINT32]: 4, [UINT64]: 8, [BFLOAT16]: 2,
};

/** No tensor this project handles comes near this; larger claims come from corrupt files. */
const MAX_ELEMENTS = 256 * 1024 * 1024;

export function decodeTensor(proto: onnx.ITensorProto, loadExternal?: ExternalDataLoader): Tensor {
  const name = proto.name ?? '';
  const what = `tensor ${quoted(name)}`;
  const dims = (proto.dims ?? []).map(toNumber);
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new OnnxReadError(`${what} has an invalid dimension ${d}`);
    count *= d;
  }
  if (count > MAX_ELEMENTS) throw new OnnxReadError(`${what} claims ${count} elements, more than any model this tool can handle`);
  const type = proto.dataType ?? 0;
  const size = BYTES_PER_ELEMENT[type];
  if (size === undefined) {
    throw new OnnxReadError(`${what} has element type ${ELEM_TYPE_NAMES[type] ?? type}, which is not supported`, 'Export the model with float32 weights');
  }

  let raw: Uint8Array | undefined;
  if (proto.dataLocation === 1) {
    if (!loadExternal) throw new OnnxReadError(`${what} keeps its data in an external file, but the model was not read from a file`);
    const entries = new Map((proto.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
    const location = entries.get('location');
    if (!location) throw new OnnxReadError(`${what} is external but names no location`);
    const offset = byteCount(entries.get('offset') ?? '0', what, 'offset');
    const length = byteCount(entries.get('length') ?? String(count * size), what, 'length');
    // Checked before reading, so a wrong length never makes us read (or allocate) it.
    if (length !== count * size) {
      throw new OnnxReadError(`${what} says its external data has ${length} bytes, but its shape [${dims.join(', ')}] needs ${count * size}`,
        'The model file is corrupt or was edited by hand; export it again');
    }
    raw = loadExternal(location, offset, length, name);
  } else if (proto.rawData && proto.rawData.length > 0) {
    raw = proto.rawData;
  }

  if (raw) {
    if (raw.length !== count * size) {
      throw new OnnxReadError(`${what} holds ${raw.length} bytes of data, but its shape [${dims.join(', ')}] needs ${count * size}`);
    }
    return fromRaw(raw, type, dims, count);
  }
  return fromTypedFields(proto, type, dims, count, what);
}

/** An external data offset or length: decimal digits only ('', '-1', '1e3', '0x10' and ' 7' are corrupt, not numbers). */
function byteCount(text: string, what: string, field: string): number {
  const value = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new OnnxReadError(`${what} has an invalid external data ${field} ${quoted(text, 40)} (expected a whole number of bytes)`,
      'The model file is corrupt or was edited by hand; export it again');
  }
  return value;
}

function fromRaw(raw: Uint8Array, type: number, dims: number[], count: number): Tensor {
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  switch (type) {
    case FLOAT: {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
      return { kind: 'float', dims, data };
    }
    case DOUBLE: {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(i * 8, true);
      return { kind: 'float', dims, data };
    }
    case FLOAT16: {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(i * 2, true));
      return { kind: 'float', dims, data };
    }
    case BFLOAT16: {
      const data = new Float32Array(count);
      const bits = new Uint32Array(data.buffer);
      for (let i = 0; i < count; i++) bits[i] = view.getUint16(i * 2, true) << 16;
      return { kind: 'float', dims, data };
    }
    default: {
      const data = new Array<number>(count);
      for (let i = 0; i < count; i++) data[i] = readInt(view, type, i);
      return { kind: 'int', dims, data };
    }
  }
}

function readInt(view: DataView, type: number, i: number): number {
  switch (type) {
    case UINT8: case BOOL: return view.getUint8(i);
    case INT8: return view.getInt8(i);
    case UINT16: return view.getUint16(i * 2, true);
    case INT16: return view.getInt16(i * 2, true);
    case INT32: return view.getInt32(i * 4, true);
    case UINT32: return view.getUint32(i * 4, true);
    case INT64: return Number(view.getBigInt64(i * 8, true));
    default: return Number(view.getBigUint64(i * 8, true));
  }
}

function fromTypedFields(proto: onnx.ITensorProto, type: number, dims: number[], count: number, what: string): Tensor {
  let values: ArrayLike<number>;
  let kind: 'float' | 'int' = 'int';
  switch (type) {
    case FLOAT: values = proto.floatData ?? []; kind = 'float'; break;
    case DOUBLE: values = proto.doubleData ?? []; kind = 'float'; break;
    case FLOAT16: case BFLOAT16: {
      // Stored as their 16-bit patterns in int32_data.
      const bits = proto.int32Data ?? [];
      values = bits.map((b) => (type === FLOAT16 ? halfToFloat(b & 0xffff) : bfloatToFloat(b & 0xffff)));
      kind = 'float';
      break;
    }
    case INT64: values = (proto.int64Data ?? []).map(toNumber); break;
    case UINT32: case UINT64: values = (proto.uint64Data ?? []).map(toNumber); break;
    default: values = proto.int32Data ?? [];
  }
  if (values.length !== count) {
    throw new OnnxReadError(`${what} holds ${values.length} values, but its shape [${dims.join(', ')}] needs ${count}`);
  }
  if (kind === 'float') return { kind, dims, data: Float32Array.from(values) };
  return { kind, dims, data: Array.from(values) };
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

function bfloatToFloat(b: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = b << 16;
  return f[0];
}
