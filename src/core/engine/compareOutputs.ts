// Error metrics between a reference output (the ONNX evaluator) and a candidate (the blob run
// by the firmware-faithful engine), per sample and pooled over samples. NaN anywhere makes the
// error metrics NaN, and non-finite values in either vector are reported by name: an error of
// Infinity would otherwise be "within" a tolerance of Infinity.
import { EvaluationError } from '../errors.js';
import { argmaxOrNull, countNonFinite, describeNonFinite } from './nonFinite.js';

/** Denominator floor for relativeL2, so an all-zero reference does not divide by zero. */
const TINY = 1e-30;

export interface OutputComparison {
  /** Number of values compared (needed to pool RMSE over samples). */
  count: number;
  maxAbsError: number;
  rmse: number;
  /** ||reference - candidate|| / max(||reference||, tiny). */
  relativeL2: number;
  /** Cosine similarity; 1 when both vectors are zero, 0 when only one is. */
  cosine: number;
  /** Index of the first largest value; null when empty or when any value is NaN or infinite. */
  argmaxReference: number | null;
  argmaxCandidate: number | null;
  /** Both argmaxes exist and are equal. */
  argmaxAgrees: boolean;
  /** Present when the reference has NaN or infinite values: which and how many. */
  referenceNonFinite?: string;
  /** Present when the candidate has NaN or infinite values. */
  candidateNonFinite?: string;
}

export interface ComparisonSummary {
  samples: number;
  maxAbsError: number;
  /** RMSE over all values of all samples pooled together. */
  rmse: number;
  /** Worst per-sample relative L2 error. */
  relativeL2: number;
  cosineMin: number;
  /** Fraction of samples whose argmax agrees (1 when there are no samples). */
  argmaxAgreement: number;
  /** Samples with NaN or infinite values in the reference or the candidate. */
  nonFiniteSamples: number;
}

export function compareOutputs(reference: ArrayLike<number>, candidate: ArrayLike<number>): OutputComparison {
  if (reference.length !== candidate.length) {
    throw new EvaluationError(`cannot compare outputs of different lengths: reference has ${reference.length} values, candidate ${candidate.length}`);
  }
  const n = reference.length;
  let maxAbs = 0;
  let sumSqDiff = 0, sumSqRef = 0, sumSqCand = 0, dot = 0;
  for (let i = 0; i < n; i++) {
    const a = reference[i], b = candidate[i];
    const d = Math.abs(a - b);
    maxAbs = Math.max(maxAbs, d); // NaN-propagating, unlike `if (d > maxAbs)`
    sumSqDiff += d * d;
    sumSqRef += a * a;
    sumSqCand += b * b;
    dot += a * b;
  }
  const normRef = Math.sqrt(sumSqRef), normCand = Math.sqrt(sumSqCand);
  let cosine: number;
  if (normRef === 0 && normCand === 0) cosine = 1;
  else if (normRef === 0 || normCand === 0) cosine = 0;
  else {
    // sqrt(S·S) is exactly S, so identical vectors give exactly 1 (unless S·S overflows); the
    // clamp absorbs rounding.
    const product = sumSqRef * sumSqCand;
    const denominator = Number.isFinite(product) ? Math.sqrt(product) : normRef * normCand;
    cosine = Math.min(1, Math.max(-1, dot / denominator));
  }
  const argmaxReference = argmaxOrNull(reference), argmaxCandidate = argmaxOrNull(candidate);
  const referenceNonFinite = describeNonFinite(countNonFinite(reference));
  const candidateNonFinite = describeNonFinite(countNonFinite(candidate));
  return {
    count: n,
    maxAbsError: maxAbs,
    rmse: n ? Math.sqrt(sumSqDiff / n) : 0,
    relativeL2: Math.sqrt(sumSqDiff) / Math.max(normRef, TINY),
    cosine,
    argmaxReference,
    argmaxCandidate,
    argmaxAgrees: argmaxReference !== null && argmaxReference === argmaxCandidate,
    ...(referenceNonFinite === undefined ? {} : { referenceNonFinite }),
    ...(candidateNonFinite === undefined ? {} : { candidateNonFinite }),
  };
}

export function summarizeComparisons(list: readonly OutputComparison[]): ComparisonSummary {
  let values = 0, sumSq = 0, agree = 0, nonFiniteSamples = 0;
  let maxAbsError = 0, relativeL2 = 0, cosineMin = 1;
  for (const c of list) {
    values += c.count;
    sumSq += c.rmse * c.rmse * c.count;
    // Math.max/min propagate NaN, which is what a summary of a NaN sample should show.
    maxAbsError = Math.max(maxAbsError, c.maxAbsError);
    relativeL2 = Math.max(relativeL2, c.relativeL2);
    cosineMin = Math.min(cosineMin, c.cosine);
    if (c.argmaxAgrees) agree++;
    if (c.referenceNonFinite || c.candidateNonFinite) nonFiniteSamples++;
  }
  return {
    samples: list.length,
    maxAbsError,
    rmse: values ? Math.sqrt(sumSq / values) : 0,
    relativeL2,
    cosineMin,
    argmaxAgreement: list.length ? agree / list.length : 1,
    nonFiniteSamples,
  };
}
