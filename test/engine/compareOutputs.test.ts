import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareOutputs, summarizeComparisons } from '../../src/core/engine/compareOutputs.js';
import { EvaluationError } from '../../src/core/errors.js';

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= 1e-12, `${what}: ${actual} != ${expected}`);

describe('compareOutputs', () => {
  it('identical vectors: zero errors, cosine exactly 1, argmax agrees', () => {
    const v = Float32Array.from([0.1, -3, 7.25, 2]);
    const c = compareOutputs(v, Float32Array.from(v));
    assert.deepEqual(c, { count: 4, maxAbsError: 0, rmse: 0, relativeL2: 0, cosine: 1, argmaxReference: 2, argmaxCandidate: 2, argmaxAgrees: true });
  });

  it('a known difference: [3, 4] vs [3, 5]', () => {
    // diff [0, 1]: max 1, rmse sqrt(1/2), ||ref|| = 5 → relative 0.2, cosine (9+20)/(5·sqrt(34)).
    const c = compareOutputs([3, 4], [3, 5]);
    assert.equal(c.count, 2);
    assert.equal(c.maxAbsError, 1);
    near(c.rmse, Math.SQRT1_2, 'rmse');
    near(c.relativeL2, 0.2, 'relativeL2');
    near(c.cosine, 29 / (5 * Math.sqrt(34)), 'cosine');
    assert.equal(c.argmaxAgrees, true);
  });

  it('argmax disagreement (first index wins ties)', () => {
    const c = compareOutputs([1, 5, 5, 2], [1, 4, 6, 2]);
    assert.equal(c.argmaxReference, 1);
    assert.equal(c.argmaxCandidate, 2);
    assert.equal(c.argmaxAgrees, false);
    assert.equal(c.maxAbsError, 1);
  });

  it('zero vectors: cosine 1 when both are zero, 0 when only one is; relativeL2 stays finite-safe', () => {
    assert.equal(compareOutputs([0, 0], [0, 0]).cosine, 1);
    const c = compareOutputs([0, 0], [0, 1e-40]);
    assert.equal(c.cosine, 0);
    assert.ok(c.relativeL2 > 0 && Number.isFinite(c.relativeL2), `relativeL2 ${c.relativeL2}`);
    assert.equal(compareOutputs([1, 0], [-1, 0]).cosine, -1);
  });

  it('NaN in the candidate makes the error metrics NaN, so a tolerance check fails', () => {
    const c = compareOutputs([1, 2, 3], [1, NaN, 3]);
    assert.ok(Number.isNaN(c.maxAbsError));
    assert.ok(Number.isNaN(c.rmse));
    assert.equal(c.maxAbsError <= 1, false);
  });

  it('names NaN and infinite values on either side, and gives no argmax for them', () => {
    const c = compareOutputs([1, 2, 3], [1, NaN, Infinity]);
    assert.equal(c.candidateNonFinite, '1 NaN and 1 +Infinity among 3 values');
    assert.equal(c.referenceNonFinite, undefined);
    assert.equal(c.argmaxCandidate, null);
    assert.equal(c.argmaxReference, 2);
    assert.equal(c.argmaxAgrees, false);
    // Both infinite in the same place: the difference is NaN, and still nothing agrees.
    const both = compareOutputs([Infinity, 0], [Infinity, 0]);
    assert.equal(both.referenceNonFinite, '+Infinity in 1 of 2 values');
    assert.equal(both.candidateNonFinite, '+Infinity in 1 of 2 values');
    assert.equal(both.argmaxAgrees, false);
    assert.equal(compareOutputs([-Infinity, NaN], [0, 0]).referenceNonFinite, '1 NaN and 1 -Infinity among 2 values');
  });

  it('refuses vectors of different lengths', () => {
    assert.throws(() => compareOutputs([1, 2, 3], [1, 2]), (e: unknown) => e instanceof EvaluationError && /3 values.*2/.test(e.message));
  });
});

describe('summarizeComparisons', () => {
  it('takes the worst per-sample errors, pools the RMSE and counts argmax agreement', () => {
    const a = compareOutputs([3, 4], [3, 5]); // squared diffs 0, 1
    const b = compareOutputs([1, 5, 5, 2], [1, 4, 6, 2]); // squared diffs 0, 1, 1, 0
    const same = compareOutputs([1, 2], [1, 2]);
    const s = summarizeComparisons([a, b, same]);
    assert.equal(s.samples, 3);
    assert.equal(s.maxAbsError, 1);
    // 3 unit squared errors over 8 values.
    near(s.rmse, Math.sqrt(3 / 8), 'pooled rmse');
    near(s.relativeL2, 0.2, 'worst relativeL2');
    assert.equal(s.cosineMin, Math.min(a.cosine, b.cosine));
    near(s.argmaxAgreement, 2 / 3, 'agreement');
  });

  it('counts the samples with non-finite values', () => {
    const s = summarizeComparisons([compareOutputs([1], [1]), compareOutputs([1], [NaN]), compareOutputs([Infinity], [1])]);
    assert.equal(s.nonFiniteSamples, 2);
    assert.ok(Number.isNaN(s.maxAbsError));
  });

  it('an empty list summarizes to zero samples', () => {
    assert.deepEqual(summarizeComparisons([]), { samples: 0, maxAbsError: 0, rmse: 0, relativeL2: 0, cosineMin: 1, argmaxAgreement: 1, nonFiniteSamples: 0 });
  });
});
