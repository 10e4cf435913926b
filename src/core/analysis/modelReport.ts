// Everything a user wants to know before deploying: per-layer table, totals, memory plan and
// latency estimate. Built from layer records, so a converted ONNX model and a blob from
// anywhere get the same report.
import { LAYER_TYPE_NAMES, LayerType, type Layer, type LayerRecord, type Shape3, shapeElements } from '../blob/blobFormat.js';
import type { BlobIssue } from '../blob/validateBlob.js';
import { DEFAULT_MAX_MACS, describeCompute, describeMacs, estimateCompute, SLOW_INFERENCE_MS } from '../engine/computeBudget.js';
import { estimateLatency, RP2040_COST_MODEL, type CostModel } from './latencyModel.js';
import { layerWork } from './layerCosts.js';
import { DEFAULT_HEAP_BUDGET_BYTES, memoryPlan, type MemoryPlan } from './memoryPlan.js';
import { quoted, safeName } from '../text/untrustedText.js';

export interface LayerReport {
  index: number;
  type: string;
  in: Shape3;
  out: Shape3;
  kernel: number;
  stride: number;
  padding: number;
  parameters: number;
  weightBytes: number;
  macs: number;
  outputElements: number;
  /** Output activation size in bytes (float32). */
  activationBytes: number;
  estimatedMs: number;
  /** ONNX nodes it came from, e.g. "Conv '/conv1/Conv'". Empty for blobs and added layers. */
  sources: string[];
  note?: string;
}

export interface ModelReport {
  source: string;
  kind: 'onnx' | 'blob';
  layers: LayerReport[];
  totals: { layers: number; parameters: number; weightBytes: number; macs: number; blobBytes: number };
  inputElements: number;
  outputElements: number;
  memory: MemoryPlan;
  latency: { estimated: true; model: string; inferMs: number; loadMs: number };
  /** Work per inference against the limit cpml run/validate and the virtual Pico apply. */
  compute: { macs: number; limitMacs: number; withinLimit: boolean; heaviestLayer: number; heaviestShare: number };
  /** What the converter did (folds, added layers). */
  notes: string[];
  /**
   * Ops the firmware has no layer for, computed exactly by other layers, with what that costs
   * (e.g. "depthwise Conv 'dw' (#3) runs as a full Conv …: 8× the MACs, +2.3 KB of weights").
   * The layers, memory plan and latency above already are the rewritten ones.
   */
  rewrites: string[];
  warnings: string[];
  /** Blob validation errors: the model must not be deployed. */
  errors: string[];
}

export interface ReportInput {
  source: string;
  kind: 'onnx' | 'blob';
  records: readonly LayerRecord[];
  blobBytes: number;
  /** Lowered layers, when the report is of a conversion (gives ONNX sources and notes). */
  layers?: readonly Layer[];
  notes?: string[];
  rewrites?: string[];
  /** Warnings about the weights: the converter's (naming ONNX tensors), or a blob's own (by layer).*/
  weightWarnings?: string[];
  issues?: { errors: BlobIssue[]; warnings: BlobIssue[] };
  heapBudgetBytes?: number;
  costModel?: CostModel;
  /** MACs per inference beyond which the report warns that cpml run/validate refuse the model. */
  limitMacs?: number;
}

export function buildModelReport(input: ReportInput): ModelReport {
  const { records } = input;
  const costModel = input.costModel ?? RP2040_COST_MODEL;
  const latency = estimateLatency(records, input.blobBytes, costModel);
  const layers: LayerReport[] = records.map((r, i) => {
    const work = layerWork(r);
    const lowered = input.layers?.[i];
    return {
      index: i,
      type: LAYER_TYPE_NAMES[r.type as LayerType] ?? `type ${r.type}`,
      in: r.in, out: r.out, kernel: r.kernel, stride: r.stride, padding: r.padding,
      parameters: work.parameters,
      weightBytes: work.weightBytes,
      macs: work.macs,
      outputElements: work.outputElements,
      activationBytes: work.outputElements * 4,
      estimatedMs: latency.layers[i].ms,
      sources: (lowered?.sources ?? []).map((s) => (s.name ? `${safeName(s.op, 60)} ${quoted(s.name)}` : `${safeName(s.op, 60)} #${s.index}`)),
      note: lowered?.note,
    };
  });
  const memory = memoryPlan(records, input.blobBytes, input.heapBudgetBytes ?? DEFAULT_HEAP_BUDGET_BYTES);
  const describe = (issue: BlobIssue) => (issue.layerIndex === undefined ? '' : `layer ${issue.layerIndex}: `) + issue.message + (issue.hint ? `. ${issue.hint}` : '');
  const warnings = [...(input.weightWarnings ?? []), ...(input.issues?.warnings ?? []).map(describe)];
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const limitMacs = input.limitMacs ?? DEFAULT_MAX_MACS;
  const compute = estimateCompute(records, { boardMs: latency.inferMs });
  if (compute.macs > limitMacs) {
    warnings.push(`VERY SLOW: ${describeCompute(compute, records)}; ${describeMacs(compute)} per inference is over the limit of ${limitMacs.toLocaleString('en-US')}, so cpml run, cpml validate and the virtual Pico refuse it (--max-macs to override)`);
  } else if (compute.boardMs > SLOW_INFERENCE_MS) {
    warnings.push(`slow: ${describeCompute(compute, records)}`);
  }
  // A blob whose sizes wrap in 32 bits does not fail with MemoryError: the board allocates the
  // wrapped (small) size. Its errors say so; a MemoryError warning would contradict them.
  const wraps = input.issues?.errors.some((e) => e.wouldCrashBoard) ?? false;
  if (wraps) {
    warnings.push('the RAM figures are what the model would need; the board would allocate the wrapped sizes in the errors below');
  } else if (!memory.fits) {
    warnings.push(`needs ${kb(memory.totalBytes)} of RAM but the heap budget is ${kb(memory.heapBudgetBytes)}: ${kb(-memory.marginBytes)} short (MemoryError on the board)`);
  } else if (memory.largestBlockBytes > memory.heapBudgetBytes / 2) {
    warnings.push(`the largest single allocation (${kb(memory.largestBlockBytes)}) is more than half the heap budget: a fragmented heap may not have a free block that large`);
  }
  return {
    source: input.source,
    kind: input.kind,
    layers,
    totals: {
      layers: records.length,
      parameters: layers.reduce((s, l) => s + l.parameters, 0),
      weightBytes: layers.reduce((s, l) => s + l.weightBytes, 0),
      macs: layers.reduce((s, l) => s + l.macs, 0),
      blobBytes: input.blobBytes,
    },
    inputElements: shapeElements(records[0].in),
    outputElements: shapeElements(records[records.length - 1].out),
    memory,
    latency: { estimated: true, model: latency.model, inferMs: latency.inferMs, loadMs: latency.loadMs },
    compute: { macs: compute.macs, limitMacs, withinLimit: compute.macs <= limitMacs, heaviestLayer: compute.heaviest.index, heaviestShare: compute.heaviest.share },
    notes: input.notes ?? [],
    rewrites: input.rewrites ?? [],
    warnings,
    errors: (input.issues?.errors ?? []).map(describe),
  };
}
