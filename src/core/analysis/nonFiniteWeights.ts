// Warnings for NaN and ±Infinity among the weights a conversion writes. They convert without
// complaint (the format stores any float32), but every output that touches them is NaN or
// infinite, on the board as on the host. Each warning names the ONNX tensor and the node that
// reads it; values that only became non-finite in conversion (a BatchNormalization folded with a
// negative variance, a product beyond float32's range) are named by layer.
import { LAYER_TYPE_NAMES, type Layer, type LayerType } from '../blob/blobFormat.js';
import type { DecodedBlob } from '../blob/decodeBlob.js';
import { parameterCounts } from '../blob/validateBlob.js';
import { countNonFinite, describeNonFinite } from '../engine/nonFinite.js';
import { describeNode, type NodeRef } from '../errors.js';
import type { OnnxGraph, OnnxNode, Tensor } from '../onnx/onnxGraph.js';
import { MAX_LISTED_ITEMS, quoted } from '../text/untrustedText.js';

export function nonFiniteWeightWarnings(graph: OnnxGraph, layers: readonly Layer[]): string[] {
  const warnings: string[] = [];
  const seen = new Set<string>();
  const constants = constantProducers(graph);
  layers.forEach((layer, index) => {
    if (!layer.weights && !layer.bias) return;
    let explained = false;
    for (const ref of layer.sources) {
      const node = graph.nodes[ref.index];
      if (!node || node.op !== ref.op) continue;
      for (const name of node.inputs) {
        const found = name ? lookUp(graph, constants, name) : undefined;
        if (!found || found.tensor.kind !== 'float') continue;
        const problem = describeNonFinite(countNonFinite(found.tensor.data));
        if (!problem) continue;
        explained = true;
        if (seen.has(name)) continue;
        seen.add(name);
        warnings.push(`${found.kind} ${quoted(name)}, read by ${describeNode(ref)}, holds ${problem}: every output it reaches will be NaN or infinite`);
      }
    }
    if (explained) return;
    for (const [what, values] of [['weights hold', layer.weights], ['bias holds', layer.bias]] as const) {
      const problem = values && describeNonFinite(countNonFinite(values));
      if (problem) {
        warnings.push(`layer ${index} (${LAYER_TYPE_NAMES[layer.type]}${fromNodes(layer.sources)}): its ${what} ${problem} after conversion (e.g. a BatchNormalization with a negative variance, or values beyond float32's range)`);
      }
    }
  });
  if (warnings.length <= MAX_LISTED_ITEMS) return warnings;
  return [...warnings.slice(0, MAX_LISTED_ITEMS), `… and ${warnings.length - MAX_LISTED_ITEMS} more tensors with NaN or infinite values`];
}

function fromNodes(sources: readonly NodeRef[]): string {
  return sources.length ? `, from ${sources.map(describeNode).slice(0, 3).join(' + ')}` : '';
}

/** Outputs of Constant nodes, by tensor name. */
function constantProducers(graph: OnnxGraph): Map<string, OnnxNode> {
  const map = new Map<string, OnnxNode>();
  for (const node of graph.nodes) if (node.op === 'Constant' && node.outputs[0]) map.set(node.outputs[0], node);
  return map;
}

function lookUp(graph: OnnxGraph, constants: Map<string, OnnxNode>, name: string): { kind: string; tensor: Tensor } | undefined {
  const init = graph.initializers.get(name);
  if (init) return { kind: 'initializer', tensor: init };
  const value = constants.get(name)?.attributes.get('value');
  return value?.type === 'tensor' ? { kind: 'Constant', tensor: value.value } : undefined;
}

/**
 * The same for a blob from anyone: each Conv2D/Linear layer whose weights or bias (as far as
 * they lie in the file) hold NaN or ±Infinity.
 */
export function nonFiniteBlobWarnings(blob: DecodedBlob): string[] {
  const warnings: string[] = [];
  const view = new DataView(blob.bytes.buffer, blob.bytes.byteOffset, blob.bytes.byteLength);
  const floatsAt = (offset: number, count: number): Float32Array => {
    const start = blob.weightsStart + offset;
    const n = Math.max(0, Math.min(count, Math.floor((blob.bytes.length - start) / 4)));
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(start + i * 4, true);
    return out;
  };
  blob.records.forEach((r, index) => {
    const { weights, bias } = parameterCounts(r);
    if (!weights && !bias) return;
    for (const [what, offset, count] of [['weights hold', r.weightOffset, weights], ['bias holds', r.biasOffset, bias]] as const) {
      const problem = describeNonFinite(countNonFinite(floatsAt(offset, count)));
      if (problem) warnings.push(`layer ${index} (${LAYER_TYPE_NAMES[r.type as LayerType]}): its ${what} ${problem}: every output it reaches will be NaN or infinite`);
    }
  });
  if (warnings.length <= MAX_LISTED_ITEMS) return warnings;
  return [...warnings.slice(0, MAX_LISTED_ITEMS), `… and ${warnings.length - MAX_LISTED_ITEMS} more layers with NaN or infinite values`];
}
