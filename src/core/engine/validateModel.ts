// Host validation: the original ONNX graph (reference evaluator, float64) against the converted
// blob in the firmware-faithful engine (float32), sample by sample.
import type { Conversion } from '../convert.js';
import { elementCount } from '../onnx/onnxGraph.js';
import { compareOutputs, summarizeComparisons, type OutputComparison } from './compareOutputs.js';
import { evaluateOnnx } from './evaluateOnnx.js';
import { loadModel, performInference } from './firmwareEngine.js';
import { randomInput, seededRandom } from './seededRandom.js';

export const DEFAULT_TOLERANCE = 1e-4;

export interface ValidationSample {
  label: string;
  input: Float32Array;
}

export interface SampleResult extends OutputComparison {
  label: string;
  /** Allowed max abs error for this sample: tolerance × max(1, max |reference|). */
  allowed: number;
  pass: boolean;
}

export interface ModelValidation {
  samples: SampleResult[];
  overall: ReturnType<typeof summarizeComparisons>;
  tolerance: number;
  pass: boolean;
}

export function randomSamples(inputElements: number, count: number, seed: number): ValidationSample[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => ({ label: `random #${i + 1} (seed ${seed})`, input: randomInput(inputElements, random) }));
}

export function inputElementsOf(conversion: Conversion): number {
  return elementCount(conversion.input.dims);
}

export function validateModel(conversion: Conversion, samples: readonly ValidationSample[], tolerance = DEFAULT_TOLERANCE): ModelValidation {
  const model = loadModel(conversion.blob);
  const results = samples.map((sample): SampleResult => {
    const reference = evaluateOnnx(conversion.graph, sample.input).output;
    const candidate = performInference(model, sample.input);
    const comparison = compareOutputs(reference, candidate);
    let peak = 1;
    for (const v of reference) peak = Math.max(peak, Math.abs(v));
    const allowed = tolerance * peak;
    return { label: sample.label, ...comparison, allowed, pass: comparison.maxAbsError <= allowed };
  });
  return { samples: results, overall: summarizeComparisons(results), tolerance, pass: results.every((r) => r.pass) };
}
