// Synthetic ONNX models of a chosen weight size, built in memory as real ModelProto bytes (float32
// raw_data initializers), for the conversion benchmark: input [1, W] → (Gemm(transB=1) → Relu)
// × (layers − 1) → Gemm. Every firmware limit holds: W ≤ 65535 Linear features and ReLU count.
import { buildModel, type NodeSpec, type TensorSpec } from '../test/support/onnxBuilder.js';

export interface SyntheticModel {
  bytes: Uint8Array;
  /** Bytes of weights and biases (float32), what the converter has to copy. */
  weightBytes: number;
  width: number;
  layers: number;
}

const LAYERS = 4;

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 0x100000000 - 0.5;
  }
  return out;
}

/** A dense model whose weights (plus biases) come to about `targetWeightBytes`. */
export function denseModel(targetWeightBytes: number, layers = LAYERS): SyntheticModel {
  // layers × (W² + W) floats ≈ target.
  const floats = targetWeightBytes / 4 / layers;
  const width = Math.max(1, Math.round((-1 + Math.sqrt(1 + 4 * floats)) / 2));
  if (width > 65535) throw new Error(`width ${width} exceeds the firmware's Linear limit`);
  const initializers: TensorSpec[] = [];
  const nodes: NodeSpec[] = [];
  let tensor = 'input';
  for (let i = 0; i < layers; i++) {
    initializers.push({ name: `w${i}`, dims: [width, width], data: values(width * width, 2 * i + 1) });
    initializers.push({ name: `b${i}`, dims: [width], data: values(width, 2 * i + 2) });
    const out = i === layers - 1 ? 'output' : `gemm${i}`;
    nodes.push({ op: 'Gemm', inputs: [tensor, `w${i}`, `b${i}`], outputs: [out], attributes: { transB: 1 } });
    tensor = out;
    if (i < layers - 1) {
      nodes.push({ op: 'Relu', inputs: [tensor], outputs: [`relu${i}`] });
      tensor = `relu${i}`;
    }
  }
  const bytes = buildModel({
    opset: 13,
    inputs: [{ name: 'input', dims: [1, width] }],
    outputs: [{ name: 'output', dims: [1, width] }],
    initializers,
    nodes,
  });
  return { bytes, weightBytes: layers * (width * width + width) * 4, width, layers };
}
