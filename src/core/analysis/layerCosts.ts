// Work a layer record makes the firmware do: parameters, multiply-accumulates, window taps,
// output elements. Counts follow the C loops exactly (padding taps are skipped, not multiplied).
import { LayerType, type LayerRecord, shapeElements } from '../blob/blobFormat.js';
import { parameterCounts } from '../blob/validateBlob.js';

export interface LayerWork {
  /** Weight and bias floats the layer reads from the blob. */
  parameters: number;
  weightBytes: number;
  /** Float multiply-accumulates actually executed (Conv2D, Linear). */
  macs: number;
  /** Kernel/window positions visited, including those skipped at the border (Conv2D, MaxPool2D). */
  taps: number;
  /** Float comparisons (MaxPool2D). */
  compares: number;
  outputElements: number;
}

/** Number of kernel offsets 0..k-1 that land inside [0, size) for output position o. */
function validTaps(o: number, k: number, stride: number, padding: number, size: number): number {
  const start = o * stride - padding;
  return Math.max(0, Math.min(start + k, size) - Math.max(start, 0));
}

function sumValidTaps(outSize: number, k: number, stride: number, padding: number, inSize: number): number {
  let total = 0;
  for (let o = 0; o < outSize; o++) total += validTaps(o, k, stride, padding, inSize);
  return total;
}

export function layerWork(r: LayerRecord): LayerWork {
  const { weights, bias } = parameterCounts(r);
  const outputElements = shapeElements(r.out);
  const work: LayerWork = { parameters: weights + bias, weightBytes: (weights + bias) * 4, macs: 0, taps: 0, compares: 0, outputElements };
  switch (r.type) {
    case LayerType.Conv2D: {
      const rows = sumValidTaps(r.out.h, r.kernel, r.stride, r.padding, r.in.h);
      const cols = sumValidTaps(r.out.w, r.kernel, r.stride, r.padding, r.in.w);
      work.macs = r.out.c * r.in.c * rows * cols;
      work.taps = outputElements * r.in.c * r.kernel * r.kernel;
      break;
    }
    case LayerType.MaxPool2D: {
      const rows = sumValidTaps(r.out.h, r.kernel, r.stride, 0, r.in.h);
      const cols = sumValidTaps(r.out.w, r.kernel, r.stride, 0, r.in.w);
      work.compares = r.in.c * rows * cols;
      work.taps = r.in.c * r.out.h * r.out.w * r.kernel * r.kernel;
      break;
    }
    case LayerType.Linear:
      work.macs = weights;
      break;
    case LayerType.Flatten:
      work.outputElements = shapeElements(r.in);
      break;
  }
  return work;
}
