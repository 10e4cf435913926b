// Pad (any rank), which exporters put in front of window ops, with its opset forms: pads and
// value as attributes before opset 11, then pads and constant_value as inputs, plus an axes
// input from opset 18; modes constant, reflect, edge and (opset 19) wrap.
import { EvaluationError } from '../errors.js';
import { getFloat, getInts, getString } from '../onnx/onnxGraph.js';
import { describeDims, intValues, normalizeAxis, required, scalarValue, stridesOf, type OpFn } from './onnxOpsTensor.js';

const MODES = new Set(['constant', 'reflect', 'edge', 'wrap']);

/**
 * For one axis: the input index each output position reads, or -1 for the constant. Negative
 * pads crop; the other modes then pad from the cropped input, as onnxruntime and the spec's
 * reference implementation do.
 */
function sourceIndices(mode: string, size: number, begin: number, end: number, axis: number): Int32Array {
  const outSize = size + begin + end;
  const map = new Int32Array(outSize);
  // The part of the input that survives cropping: [lo, hi).
  const lo = Math.max(0, -begin);
  const hi = size - Math.max(0, -end);
  const n = hi - lo;
  const before = Math.max(0, begin), after = Math.max(0, end);
  if (mode !== 'constant' && (before || after)) {
    if (n <= 0) throw new EvaluationError(`${mode} padding of axis ${axis} needs input values, but the axis is empty (size ${size}, pads ${begin}, ${end})`);
    // Reflecting more than the axis holds is undefined (onnxruntime and PyTorch refuse it).
    if (mode === 'reflect' && (n < 2 || before > n - 1 || after > n - 1)) {
      throw new EvaluationError(`reflect padding of ${before}, ${after} on axis ${axis} of size ${n} is not defined: each pad must be less than the size (and the size at least 2)`);
    }
  }
  for (let o = 0; o < outSize; o++) {
    let i = o - before; // position within the kept part
    if (i < 0 || i >= n) {
      if (mode === 'constant') {
        map[o] = -1;
        continue;
      }
      if (mode === 'edge') i = i < 0 ? 0 : n - 1;
      else if (mode === 'wrap') i = ((i % n) + n) % n; // any number of turns, like numpy.pad
      else {
        // reflect: mirror without repeating the edge value (pads < n, so one reflection).
        i = i < 0 ? -i : 2 * (n - 1) - i;
      }
    }
    map[o] = lo + i;
  }
  return map;
}

const pad: OpFn = (node, inputs, ctx) => {
  const x = required(inputs, 0, 'data');
  const r = x.dims.length;
  const mode = getString(node, 'mode', 'constant');
  if (!MODES.has(mode) || (mode === 'wrap' && ctx.opset < 19)) throw new EvaluationError(`unknown Pad mode '${mode}' at opset ${ctx.opset}`);
  let pads: number[];
  let value: number;
  let axes = x.dims.map((_, i) => i);
  if (ctx.opset < 11) {
    if (node.inputs.slice(1).some(Boolean)) throw new EvaluationError(`before opset 11 pads and value are attributes, not inputs (opset ${ctx.opset})`);
    const attr = getInts(node, 'pads');
    if (!attr) throw new EvaluationError('Pad needs a pads attribute before opset 11');
    pads = attr;
    value = getFloat(node, 'value', 0);
  } else {
    pads = intValues(required(inputs, 1, 'pads'), 'pads');
    value = inputs[2] ? scalarValue(inputs[2], 'constant_value') : 0;
    if (inputs[3]) {
      if (ctx.opset < 18) throw new EvaluationError(`the axes input of Pad exists from opset 18 (opset ${ctx.opset})`);
      const given = intValues(inputs[3], 'axes');
      axes = given.map((a) => normalizeAxis(a, r));
      if (new Set(axes).size !== axes.length) throw new EvaluationError(`repeated axis in axes [${given.join(', ')}]`);
    }
  }
  if (pads.length !== 2 * axes.length) throw new EvaluationError(`pads has ${pads.length} values, expected ${2 * axes.length} for ${axes.length} axes`);
  const begin = new Array<number>(r).fill(0);
  const end = new Array<number>(r).fill(0);
  axes.forEach((a, i) => {
    begin[a] = pads[i];
    end[a] = pads[i + axes.length];
  });
  const dims = x.dims.map((d, i) => d + begin[i] + end[i]);
  if (dims.some((d) => d < 0)) throw new EvaluationError(`pads [${pads.join(', ')}] crop more than shape ${describeDims(x.dims)} has`);
  const out = ctx.alloc(dims, x.isInt);
  const maps = x.dims.map((size, d) => sourceIndices(mode, size, begin[d], end[d], d));
  const inStrides = stridesOf(x.dims);
  const od = out.data, xd = x.data;
  const idx = new Array<number>(r).fill(0);
  for (let o = 0; o < od.length; o++) {
    let from = 0;
    for (let d = 0; d < r && from >= 0; d++) {
      const i = maps[d][idx[d]];
      from = i < 0 ? -1 : from + i * inStrides[d];
    }
    od[o] = from < 0 ? value : xd[from];
    for (let d = r - 1; d >= 0; d--) {
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return [out];
};

export const PAD_OPS: Record<string, OpFn> = { Pad: pad };
