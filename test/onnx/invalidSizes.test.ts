// Sizes that are broken, not merely unsupported, get messages that say so: a dimension of 0 or
// -3 is not "dynamic (unknown)", a Conv kernel of 0 is not an "output 9×9 that does not follow",
// a stride of 0 is not just "invalid". And op names that happen to be Object members
// ('constructor', '__proto__') are unsupported operators like any other, not silently skipped.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convertGraph } from '../../src/core/convert.js';
import { UnsupportedModelError } from '../../src/core/errors.js';
import { graphOf, type AttrSpec, type Dim, type ModelSpec } from '../support/onnxBuilder.js';

function refusal(spec: ModelSpec): UnsupportedModelError {
  let caught: unknown;
  try {
    convertGraph(graphOf(spec));
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof UnsupportedModelError, `not refused with an UnsupportedModelError: ${String(caught)}`);
  return caught;
}

function reluModel(inputDims: Dim[], outputDims: Dim[] | null = null): ModelSpec {
  return {
    inputs: [{ name: 'x', dims: inputDims }],
    outputs: [{ name: 'y', dims: outputDims }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
  };
}

/** x 1×1×9×9 → Conv (weight 2×1×k×k) → y. */
function convModel(k: number, attributes: Record<string, AttrSpec> = {}, size = 9): ModelSpec {
  return {
    inputs: [{ name: 'x', dims: [1, 1, size, size] }],
    outputs: [{ name: 'y', dims: null }],
    initializers: [{ name: 'W', dims: [2, 1, k, k], data: new Float32Array(2 * k * k).fill(0.5) }],
    nodes: [{ op: 'Conv', name: 'conv', inputs: ['x', 'W'], outputs: ['y'], attributes }],
  };
}

describe('dimensions of 0 or below are invalid sizes, not dynamic ones', () => {
  for (const d of [0, -1, -3]) {
    for (const position of [0, 2, 3]) {
      it(`input dimension ${position} = ${d}`, () => {
        const dims: Dim[] = [1, 1, 4, 4];
        dims[position] = d;
        const e = refusal(reluModel(dims));
        assert.match(e.message, new RegExp(`^dimension ${position} of the input 'x' is ${d}, which is not a valid size`));
        assert.doesNotMatch(e.message, /dynamic|unknown/);
        assert.match(e.hint ?? '', /fixed input shape/);
      });
    }
  }

  it('an output dimension of 0 is named as such, not reported as a value count', () => {
    const e = refusal(reluModel([1, 4], [1, 0]));
    assert.match(e.message, /^dimension 1 of the output 'y' is 0, which is not a valid size/);
  });

  it('a truly dynamic dimension is still called dynamic, with its name quoted and escaped', () => {
    assert.match(refusal(reluModel([1, 'height', 4])).message, /dimension 1 of the input 'x' is dynamic \(named 'height'\)/);
    assert.match(refusal(reluModel([1, null, 4])).message, /dimension 1 of the input 'x' is dynamic \(unknown\)/);
    assert.match(refusal(reluModel([1, 'h\u001b[2J', 4])).message, /named 'h\\x1b\[2J'/);
  });
});

describe('Conv and MaxPool sizes that cannot be', () => {
  it('kernel size 0 says so (not "output 9×9 does not follow")', () => {
    const e = refusal(convModel(0));
    assert.match(e.message, /^node 'conv' \(#0, Conv\): kernel size 0×0: a Conv kernel must be at least 1×1/);
    assert.doesNotMatch(e.message, /does not follow/);
  });

  it('0 output channels say so', () => {
    const spec = convModel(3);
    spec.initializers![0] = { name: 'W', dims: [0, 1, 3, 3], data: [] };
    assert.match(refusal(spec).message, /has 0 output channels/);
  });

  it('a kernel larger than the padded input names the input and the padding', () => {
    const e = refusal(convModel(7, { pads: [1, 1, 1, 1] }, 4));
    assert.match(e.message, /its 7×7 window is larger than its input 4×4 with padding \[1, 1, 1, 1\]/);
    assert.ok(e.hint);
  });

  it('stride 0 says a stride must be at least 1', () => {
    const e = refusal(convModel(3, { strides: [0, 0] }));
    assert.match(e.message, /stride 0 is invalid: a stride must be at least 1/);
    const pool = refusal({
      inputs: [{ name: 'x', dims: [1, 1, 4, 4] }], outputs: [{ name: 'y' }],
      nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [2, 2], strides: [0, 0] } }],
    });
    assert.match(pool.message, /stride 0 is invalid: a stride must be at least 1/);
  });

  it('a MaxPool window of 0 says so', () => {
    const e = refusal({
      inputs: [{ name: 'x', dims: [1, 1, 4, 4] }], outputs: [{ name: 'y' }],
      nodes: [{ op: 'MaxPool', inputs: ['x'], outputs: ['y'], attributes: { kernel_shape: [0, 0] } }],
    });
    assert.match(e.message, /pooling window 0×0: a MaxPool kernel must be at least 1×1/);
  });
});

describe('op names are looked up as names only', () => {
  for (const op of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(`an op named '${op}' is an unsupported operator`, () => {
      const e = refusal({
        inputs: [{ name: 'x', dims: [1, 4] }], outputs: [{ name: 'y', dims: [1, 4] }],
        nodes: [{ op, inputs: ['x'], outputs: ['t'] }, { op: 'Relu', inputs: ['t'], outputs: ['y'] }],
      });
      assert.match(e.message, new RegExp(`operator ${op} is not supported by the firmware`));
      assert.match(e.hint ?? '', /^Supported: Conv/);
    });
  }
});
