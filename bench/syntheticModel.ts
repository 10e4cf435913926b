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

/**
 * A chain of `n` rewritten nodes: Conv 1→8, then Mul/Add/BatchNormalization (each folded into the
 * Conv), then GlobalAveragePool → Flatten → Gemm (the mean folded into the Gemm). Conversion must
 * stay linear in the node count with the rewrites too.
 */
export function rewriteChain(n: number): Uint8Array {
  const c = 8;
  const initializers: TensorSpec[] = [
    { name: 'w', dims: [c, 1, 3, 3], data: values(c * 9, 1) },
    { name: 'two', dims: [], data: [1.0001] },
    { name: 'shift', dims: [c, 1, 1], data: values(c, 2) },
    { name: 'gamma', dims: [c], data: Float32Array.from(values(c, 3), (v) => 1 + v / 100) },
    { name: 'beta', dims: [c], data: values(c, 4) },
    { name: 'mean', dims: [c], data: values(c, 5) },
    { name: 'var', dims: [c], data: Float32Array.from(values(c, 6), (v) => 1 + v / 10) },
    { name: 'fc', dims: [10, c], data: values(10 * c, 7) },
  ];
  const nodes: NodeSpec[] = [{ op: 'Conv', inputs: ['input', 'w'], outputs: ['t0'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } }];
  for (let i = 0; i < n; i++) {
    const input = `t${i}`, out = `t${i + 1}`;
    if (i % 3 === 0) nodes.push({ op: 'Mul', inputs: [input, 'two'], outputs: [out] });
    else if (i % 3 === 1) nodes.push({ op: 'Add', inputs: [input, 'shift'], outputs: [out] });
    else nodes.push({ op: 'BatchNormalization', inputs: [input, 'gamma', 'beta', 'mean', 'var'], outputs: [out] });
  }
  nodes.push({ op: 'GlobalAveragePool', inputs: [`t${n}`], outputs: ['gap'] });
  nodes.push({ op: 'Flatten', inputs: ['gap'], outputs: ['flat'] });
  nodes.push({ op: 'Gemm', inputs: ['flat', 'fc'], outputs: ['output'], attributes: { transB: 1 } });
  return buildModel({ opset: 13, inputs: [{ name: 'input', dims: [1, 1, 12, 12] }], outputs: [{ name: 'output', dims: [1, 10] }], initializers, nodes });
}
