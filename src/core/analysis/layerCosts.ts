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
  /** Iterations of the outermost loop: output channels of Conv2D, channels of MaxPool2D. */
  planes: number;
  /** Iterations of Conv2D's input-channel loop: output elements × input channels. */
  channelLoops: number;
  /**
   * Kernel/window rows visited (each starts the innermost loop), including rows outside the
   * input: Conv2D output elements × input channels × kernel, MaxPool2D output elements × kernel.
   */
  kernelRows: number;
  /**
   * Iterations of the layer's innermost loop on the firmware: every kernel or window position
   * (padding taps included: the loop visits them to skip them), every Linear MAC, every element
   * of ReLU, Flatten and Softmax. What the compute budget counts.
   */
  steps: number;
}

/** Number of kernel offsets 0..k-1 that land inside [0, size) for output position o. */
function validTaps(o: number, k: number, stride: number, padding: number, size: number): number {
  const start = o * stride - padding;
  return Math.max(0, Math.min(start + k, size) - Math.max(start, 0));
}

/**
 * Σ validTaps over the output positions, in O(kernel / stride) whatever the sizes: the
 * positions whose window lies wholly inside the input form one run with k taps each, those
 * whose window starts past the input's end have none, and only the few border positions in
 * between are summed one by one. Records from a blob may claim any output size (inspect reports
 * on invalid blobs too), and a blob of 100k such records must not take minutes to inspect.
 */
function sumValidTaps(outSize: number, k: number, stride: number, padding: number, inSize: number): number {
  // No closures here: this runs for every record of a 150k-record blob, several times.
  let total = 0, lo = 0;
  let hi = Math.min(outSize, Math.ceil((inSize + padding) / stride)) - 1; // later windows start at or past the end
  for (; lo <= hi; lo++) {
    const start = lo * stride - padding;
    if (start >= 0 && start + k <= inSize) break;
    total += validTaps(lo, k, stride, padding, inSize);
  }
  for (; hi >= lo; hi--) {
    const start = hi * stride - padding;
    if (start >= 0 && start + k <= inSize) break;
    total += validTaps(hi, k, stride, padding, inSize);
  }
  return total + (hi - lo + 1) * k;
}

export function layerWork(r: LayerRecord): LayerWork {
  const { weights, bias } = parameterCounts(r);
  const outputElements = shapeElements(r.out);
  const work: LayerWork = {
    parameters: weights + bias, weightBytes: (weights + bias) * 4, macs: 0, taps: 0, compares: 0, outputElements,
    planes: 0, channelLoops: 0, kernelRows: 0, steps: 0,
  };
  switch (r.type) {
    case LayerType.Conv2D: {
      const rows = sumValidTaps(r.out.h, r.kernel, r.stride, r.padding, r.in.h);
      const cols = sumValidTaps(r.out.w, r.kernel, r.stride, r.padding, r.in.w);
      work.macs = r.out.c * r.in.c * rows * cols;
      work.planes = r.out.c;
      work.channelLoops = outputElements * r.in.c;
      work.kernelRows = work.channelLoops * r.kernel;
      work.taps = work.kernelRows * r.kernel;
      work.steps = work.taps;
      break;
    }
    case LayerType.MaxPool2D: {
      const rows = sumValidTaps(r.out.h, r.kernel, r.stride, 0, r.in.h);
      const cols = sumValidTaps(r.out.w, r.kernel, r.stride, 0, r.in.w);
      work.compares = r.in.c * rows * cols;
      work.planes = r.in.c;
      work.kernelRows = r.in.c * r.out.h * r.out.w * r.kernel;
      work.taps = work.kernelRows * r.kernel;
      work.steps = work.taps;
      break;
    }
    case LayerType.Linear:
      work.macs = weights;
      work.steps = weights;
      break;
    case LayerType.Flatten:
      work.outputElements = shapeElements(r.in);
      work.steps = work.outputElements;
      break;
    case LayerType.ReLU:
      work.steps = outputElements;
      break;
    case LayerType.Softmax:
      work.steps = 3 * outputElements; // max, exp and sum, divide
      break;
  }
  return work;
}
