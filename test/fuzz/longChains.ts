// Long and wide hostile graphs, as real ONNX bytes: the fuzz stress cases, the bench and the
// linear-time regression tests (test/onnx/longChains.test.ts) build the same models.
import { buildModel, type ModelSpec, type NodeSpec } from '../support/onnxBuilder.js';

export interface DropoutChainOptions {
  /** Start with a Conv 1→2 (k3, pad 1) on a 1×1×4×4 input; otherwise the input is [1, 4]. */
  conv?: boolean;
  /** Every k-th node is a Relu instead of a Dropout (0: Dropout only). */
  reluEvery?: number;
  /** Let an Identity read the last Dropout's mask, so the converter must refuse that node. */
  useLastMask?: boolean;
}

/**
 * `n` nodes, each Dropout with a second (mask) output, chained input → … → output. Every mask
 * is a distinct tensor that nothing reads: the case that made "is this output used?" quadratic.
 */
export function dropoutChain(n: number, options: DropoutChainOptions = {}): Uint8Array {
  const nodes: NodeSpec[] = [];
  const spec: ModelSpec = { inputs: [], outputs: [], nodes };
  let tensor = 'input';
  if (options.conv) {
    spec.inputs.push({ name: 'input', dims: [1, 1, 4, 4] });
    spec.initializers = [
      { name: 'w', dims: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => (i - 9) / 9) },
      { name: 'b', dims: [2], data: [0.5, -0.5] },
    ];
    nodes.push({ op: 'Conv', inputs: ['input', 'w', 'b'], outputs: ['conv'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
    tensor = 'conv';
  } else {
    spec.inputs.push({ name: 'input', dims: [1, 4] });
  }
  let lastMask = '';
  for (let i = 0; i < n; i++) {
    const out = i === n - 1 ? 'output' : `t${i}`;
    if (options.reluEvery && i % options.reluEvery === options.reluEvery - 1) {
      nodes.push({ op: 'Relu', inputs: [tensor], outputs: [out] });
    } else {
      lastMask = `mask${i}`;
      nodes.push({ op: 'Dropout', inputs: [tensor], outputs: [out, lastMask] });
    }
    tensor = out;
  }
  if (options.useLastMask) nodes.push({ op: 'Identity', inputs: [lastMask], outputs: ['mask_copy'] });
  spec.outputs.push({ name: 'output', dims: options.conv ? [1, 2, 4, 4] : [1, 4] });
  return buildModel(spec);
}

/** One input read by `n` Relu nodes (the first produces the output): a branch as wide as it gets. */
export function fanOut(n: number): Uint8Array {
  const nodes: NodeSpec[] = Array.from({ length: n }, (_, i) => ({ op: 'Relu', inputs: ['input'], outputs: [i ? `branch${i}` : 'output'] }));
  return buildModel({ inputs: [{ name: 'input', dims: [1, 4] }], outputs: [{ name: 'output', dims: [1, 4] }], nodes });
}
