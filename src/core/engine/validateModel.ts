// Host validation: the original ONNX graph (reference evaluator, float64) against the converted
// blob in the firmware-faithful engine (float32), sample by sample.
import type { Conversion } from '../convert.js';
import { elementCount } from '../onnx/onnxGraph.js';
import { compareOutputs, summarizeComparisons, type OutputComparison } from './compareOutputs.js';
import { assertWithinComputeBudget, DEFAULT_MAX_MACS } from './computeBudget.js';
import { evaluateOnnx } from './evaluateOnnx.js';
import { loadModel, performInference } from './firmwareEngine.js';
import { countNonFinite, describeNonFinite } from './nonFinite.js';
import { randomInput, seededRandom } from './seededRandom.js';

export const DEFAULT_TOLERANCE = 1e-4;

export interface ValidationSample {
  label: string;
  input: Float32Array;
}

export interface SampleResult extends OutputComparison {
  label: string;
  /** Allowed max abs error for this sample: tolerance × max(1, max |finite reference value|). */
  allowed: number;
  pass: boolean;
  /** Why the sample failed (non-finite values, or the error over the allowed one). */
  reason?: string;
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

export interface ValidateOptions {
  /** Refuse (ComputeBudgetError) before running when one inference needs more MACs; default DEFAULT_MAX_MACS. */
  maxMacs?: number;
}

export function validateModel(conversion: Conversion, samples: readonly ValidationSample[], tolerance = DEFAULT_TOLERANCE,
  options: ValidateOptions = {}): ModelValidation {
  const model = loadModel(conversion.blob);
  // Both the reference and the engine do the lowered layers' work (the evaluator skips nodes the
  // output does not need), so one check before either runs bounds them both.
  assertWithinComputeBudget(conversion.records, options.maxMacs ?? DEFAULT_MAX_MACS);
  const results = samples.map((sample): SampleResult => {
    const reference = evaluateOnnx(conversion.graph, sample.input).output;
    const candidate = performInference(model, sample.input);
    const comparison = compareOutputs(reference, candidate);
    let peak = 1;
    for (const v of reference) if (Number.isFinite(v)) peak = Math.max(peak, Math.abs(v));
    const allowed = tolerance * peak;
    const reason = failure(sample.input, comparison, allowed);
    return { label: sample.label, ...comparison, allowed, pass: reason === undefined, ...(reason === undefined ? {} : { reason }) };
  });
  return { samples: results, overall: summarizeComparisons(results), tolerance, pass: results.every((r) => r.pass) };
}

/** Why a sample fails, or undefined when it passes. Non-finite values fail whatever the error says. */
function failure(input: Float32Array, c: OutputComparison, allowed: number): string | undefined {
  const reasons: string[] = [];
  const inputNonFinite = describeNonFinite(countNonFinite(input));
  if (inputNonFinite) reasons.push(`the input is not finite (${inputNonFinite})`);
  if (c.referenceNonFinite) reasons.push(`the ONNX reference outputs are not finite (${c.referenceNonFinite})`);
  if (c.candidateNonFinite) reasons.push(`the blob's outputs are not finite (${c.candidateNonFinite})`);
  if (!reasons.length && !Number.isFinite(c.maxAbsError)) reasons.push(`the error is not finite (${c.maxAbsError})`);
  if (!reasons.length && !(c.maxAbsError <= allowed)) reasons.push(`max abs error ${c.maxAbsError.toExponential(2)} exceeds the allowed ${allowed.toExponential(2)}`);
  return reasons.length ? reasons.join('; ') : undefined;
}
