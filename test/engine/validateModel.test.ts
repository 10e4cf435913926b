// validateModel on inputs and weights that overflow float32: NaN or infinite outputs fail the
// sample with the reason, whatever the error metrics say (Infinity is "≤ an allowed Infinity").
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { convertGraph, convertOnnxFile } from '../../src/core/convert.js';
import { randomSamples, validateModel } from '../../src/core/engine/validateModel.js';
import { upstreamPath } from '../support/fixtures.js';
import { graphOf } from '../support/onnxBuilder.js';

const example = convertOnnxFile(upstreamPath('model.onnx'));

/** Gemm 4 → 3 with the given weights (transB = 1: rows are outputs). */
function dense(weights: number[]) {
  return convertGraph(graphOf({
    inputs: [{ name: 'x', dims: [1, 4] }],
    outputs: [{ name: 'y', dims: [1, 3] }],
    initializers: [{ name: 'fc.weight', dims: [3, 4], data: weights }, { name: 'fc.bias', dims: [3], data: [0, 0, 0] }],
    nodes: [{ op: 'Gemm', name: 'fc', inputs: ['x', 'fc.weight', 'fc.bias'], outputs: ['y'], attributes: { transB: 1 } }],
  }));
}

describe('validateModel with non-finite numbers', () => {
  it('huge inputs that overflow float32 FAIL, naming the non-finite outputs (they used to pass with an error of Infinity)', () => {
    const input = new Float32Array(900).fill(3.4e38);
    const r = validateModel(example, [{ label: 'huge', input }]);
    assert.equal(r.pass, false);
    const [s] = r.samples;
    assert.equal(s.pass, false);
    assert.match(s.reason ?? '', /the ONNX reference outputs are not finite \(.*(of|among) 10 values\)/);
    // The blob's outputs stay finite (its ReLU turns NaN into 0): the error is Infinity, which
    // was "within" tolerance × max |reference| = Infinity.
    assert.equal(s.maxAbsError, Infinity);
    assert.ok(Number.isFinite(s.allowed), `allowed ${s.allowed}`);
    assert.equal(r.overall.nonFiniteSamples, 1);
    // JSON keeps a valid document: the non-finite metric is null, and pass says false.
    const json = JSON.parse(JSON.stringify(r));
    assert.equal(json.pass, false);
    assert.equal(json.samples[0].pass, false);
    assert.equal(typeof json.samples[0].reason, 'string');
  });

  it('an input with NaN fails and says the input is not finite', () => {
    const input = randomSamples(900, 1, 3)[0].input;
    input[17] = NaN;
    const [s] = validateModel(example, [{ label: 'nan', input }]).samples;
    assert.equal(s.pass, false);
    assert.match(s.reason ?? '', /^the input is not finite \(NaN in 1 of 900 values\)/);
  });

  it('NaN weights: every sample fails with the blob\'s and the reference\'s NaN named; no argmax', () => {
    const r = validateModel(dense([NaN, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]), randomSamples(4, 2, 1));
    assert.equal(r.pass, false);
    for (const s of r.samples) {
      assert.match(s.reason ?? '', /the blob's outputs are not finite \(NaN in 1 of 3 values\)/);
      assert.equal(s.argmaxCandidate, null);
      assert.equal(s.argmaxAgrees, false);
    }
  });

  it('ordinary failures say by how much; passes carry no reason', () => {
    const ok = validateModel(example, randomSamples(900, 2, 1));
    assert.equal(ok.pass, true);
    assert.ok(ok.samples.every((s) => s.reason === undefined));
    const strict = validateModel(example, randomSamples(900, 1, 1), 0);
    assert.match(strict.samples[0].reason ?? '', /^max abs error \d\.\d\de-\d+ exceeds the allowed 0\.00e\+0$/);
  });
});
