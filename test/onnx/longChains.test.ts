// Conversion stays linear in the number of nodes. A chain of Dropout nodes with mask outputs
// used to take 19 s at 5k nodes and 302 s at 20k: every node asked "is any of my extra outputs
// used?" by scanning all nodes. These build real ONNX bytes (through protobuf) and convert them;
// no timing assertion (that is `npm run bench`), but a timeout that a quadratic pass would blow
// (100k nodes would take over an hour) so a regression fails instead of hanging CI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { convertOnnxBytes } from '../../src/core/convert.js';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { UnsupportedModelError } from '../../src/core/errors.js';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { readOnnx } from '../../src/core/onnx/readOnnx.js';
import { buildModel, type NodeSpec } from '../support/onnxBuilder.js';
import { dropoutChain, fanOut } from '../fuzz/longChains.js';

const LONG = { timeout: 60_000 };

describe('100k-node chains convert (or are refused) in linear time', () => {
  it('Conv, then 100k nodes alternating Dropout (with mask output) and Relu', LONG, () => {
    const n = 100_000;
    const conversion = convertOnnxBytes(dropoutChain(n, { conv: true, reluEvery: 2 }), 'dropout-chain.onnx');
    // Dropout drops out; Conv + one ReLU per Relu node remain.
    assert.equal(conversion.layers.length, 1 + n / 2);
    assert.equal(conversion.layers[0].type, LayerType.Conv2D);
    assert.ok(conversion.layers.slice(1).every((l) => l.type === LayerType.ReLU));
  });

  it('100k Dropout nodes with mask outputs and nothing else: refused, naming the reason', LONG, () => {
    assert.throws(() => convertOnnxBytes(dropoutChain(100_000), 'dropout-only.onnx'), (e: unknown) => {
      assert.ok(e instanceof UnsupportedModelError, String(e));
      assert.match(e.message, /no layers to run/);
      return true;
    });
  });

  it('the last of 100k Dropout nodes has its mask used: refused, naming that node', LONG, () => {
    const n = 100_000;
    assert.throws(() => convertOnnxBytes(dropoutChain(n, { conv: true, reluEvery: 2, useLastMask: true }), 'mask-used.onnx'), (e: unknown) => {
      assert.ok(e instanceof UnsupportedModelError, String(e));
      assert.match(e.message, /its mask output is used/);
      assert.equal(e.node?.op, 'Dropout');
      return true;
    });
  });

  it('one tensor feeding 100k nodes: refused with a bounded list', LONG, () => {
    const n = 100_000;
    const bytes = fanOut(n);
    assert.throws(() => convertOnnxBytes(bytes, 'fan-out.onnx'), (e: unknown) => {
      assert.ok(e instanceof UnsupportedModelError, String(e));
      assert.match(e.message, new RegExp(`feeds ${n} nodes \\(.* … and ${n - 10} more\\)`));
      assert.ok(e.message.length < 2000, `${e.message.length} characters`);
      return true;
    });
  });
});

describe('the ONNX reference evaluator is linear in the number of nodes, in any order', () => {
  it('evaluates a 100k-node Relu chain listed in reverse order (it used to retry every blocked node each round)', LONG, () => {
    const n = 100_000;
    const nodes: NodeSpec[] = Array.from({ length: n }, (_, i) => ({ op: 'Relu', inputs: [i ? `t${i - 1}` : 'input'], outputs: [i === n - 1 ? 'output' : `t${i}`] })).reverse();
    const graph = readOnnx(buildModel({ inputs: [{ name: 'input', dims: [1, 4] }], outputs: [{ name: 'output', dims: [1, 4] }], nodes }));
    const { output } = evaluateOnnx(graph, Float32Array.of(-1, 2, -3, 4));
    assert.deepEqual([...output], [0, 2, 0, 4]);
  });
});
