// Everything a user wants to know before deploying: per-layer table, totals, memory plan and
// latency estimate. Built from layer records, so a converted ONNX model and a blob from
// anywhere get the same report.
import { LAYER_TYPE_NAMES, LayerType, type Layer, type LayerRecord, type Shape3, shapeElements } from '../blob/blobFormat.js';
import type { BlobIssue } from '../blob/validateBlob.js';
import { estimateLatency, RP2040_COST_MODEL, type CostModel } from './latencyModel.js';
import { layerWork } from './layerCosts.js';
import { DEFAULT_HEAP_BUDGET_BYTES, memoryPlan, type MemoryPlan } from './memoryPlan.js';

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
  /** What the converter did (folds, added layers). */
  notes: string[];
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
  issues?: { errors: BlobIssue[]; warnings: BlobIssue[] };
  heapBudgetBytes?: number;
  costModel?: CostModel;
}

export function buildModelReport(input: ReportInput): ModelReport {
  const { records } = input;
  const latency = estimateLatency(records, input.blobBytes, input.costModel ?? RP2040_COST_MODEL);
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
      sources: (lowered?.sources ?? []).map((s) => (s.name ? `${s.op} '${s.name}'` : `${s.op} #${s.index}`)),
      note: lowered?.note,
    };
  });
  const memory = memoryPlan(records, input.blobBytes, input.heapBudgetBytes ?? DEFAULT_HEAP_BUDGET_BYTES);
  const describe = (issue: BlobIssue) => (issue.layerIndex === undefined ? '' : `layer ${issue.layerIndex}: `) + issue.message + (issue.hint ? `. ${issue.hint}` : '');
  const warnings = (input.issues?.warnings ?? []).map(describe);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  if (!memory.fits) {
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
    notes: input.notes ?? [],
    warnings,
    errors: (input.issues?.errors ?? []).map(describe),
  };
}
