// readOnnx: junk of every kind becomes an OnnxReadError (never another error type); real
// models and hand-built ones read into the project's OnnxGraph.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readOnnx } from '../../src/core/onnx/readOnnx.js';
import { OnnxReadError } from '../../src/core/errors.js';
import { attr, buildModel, DataType, graphOf } from '../support/onnxBuilder.js';
import { prng, readBytes, upstreamPath } from '../support/fixtures.js';

const upstream = readBytes(upstreamPath('model.onnx'));

/** The OnnxReadError reading `bytes` raises; whole-file problems carry a hint (export again). */
function readError(bytes: Uint8Array, what: string, needsHint = true): OnnxReadError {
  try {
    readOnnx(bytes, { source: 'junk.onnx' });
  } catch (error) {
    assert.ok(error instanceof OnnxReadError, `${what}: ${error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error)}`);
    if (needsHint) assert.ok(error.hint, `${what}: no hint`);
    return error;
  }
  assert.fail(`${what}: read without error`);
}

describe('readOnnx refuses junk with OnnxReadError', () => {
  it('empty bytes', () => {
    assert.match(readError(new Uint8Array(0), 'empty').message, /^junk\.onnx is empty$/);
  });

  it('random bytes (2000 deterministic samples, 1–300 bytes)', () => {
    const random = prng(12345);
    for (let t = 0; t < 2000; t++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256));
      readError(bytes, `sample ${t}`);
    }
  });

  it('a text file', () => {
    const text = new TextEncoder().encode('import torch\n# this is a Python script, not a model\nprint("hello")\n');
    readError(text, 'text');
    readError(new TextEncoder().encode('hello world'), 'short text');
  });

  it('a PNG-like header', () => {
    const png = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0);
    readError(png, 'png');
  });

  it('a blob (model.bin) instead of the .onnx', () => {
    readError(readBytes(upstreamPath('model.bin')), 'model.bin');
  });

  it('every truncation of the upstream model.onnx', () => {
    // ModelProto fields: …, graph (7), opset_import (8). Cutting inside the graph breaks the
    // length-delimited field; only the cut right before opset_import leaves valid protobuf.
    let parsed = 0;
    for (let n = 0; n < upstream.length; n++) {
      try {
        const graph = readOnnx(upstream.subarray(0, n));
        parsed++;
        assert.equal(n, upstream.length - 4, `a ${n}-byte truncation parsed`);
        assert.equal(graph.opset, 1); // no opset_import left
      } catch (error) {
        assert.ok(error instanceof OnnxReadError, `${n} bytes: ${String(error)}`);
      }
    }
    assert.ok(parsed <= 1);
    const half = readError(upstream.subarray(0, upstream.length >> 1), 'half');
    assert.match(half.message, /truncated or corrupt/);
  });

  it('a valid protobuf without a graph (or with an empty one)', () => {
    assert.match(readError(buildModel({ inputs: [], outputs: [], nodes: [] }), 'no nodes').message, /holds no ONNX graph/);
  });

  it('corrupt tensors inside a well-formed protobuf', () => {
    const base = {
      inputs: [{ name: 'x', dims: [1, 4] }],
      outputs: [{ name: 'y', dims: [1, 4] }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    };
    const withInit = (init: Parameters<typeof buildModel>[0]['initializers']) => buildModel({ ...base, initializers: init });
    assert.match(readError(withInit([{ name: 'w', dims: [4], data: [1, 2, 3] }]), 'raw too short', false).message, /holds 12 bytes of data, but its shape \[4\] needs 16/);
    assert.match(readError(withInit([{ name: 'w', dims: [2, 2], data: [1, 2, 3], storage: 'typed' }]), 'typed too short', false).message, /holds 3 values, but its shape \[2, 2\] needs 4/);
    assert.match(readError(withInit([{ name: 'w', dims: [-1], data: [] }]), 'negative dim', false).message, /invalid dimension -1/);
    assert.match(readError(withInit([{ name: 'w', dims: [100000, 100000], data: [] }]), 'huge', false).message, /claims 10000000000 elements/);
    assert.match(readError(withInit([{ name: 's', dims: [1], data: [], dataType: DataType.STRING, storage: 'typed' }]), 'string', false).message, /element type string/);
  });
});

describe('readOnnx reads models', () => {
  it('the upstream model: opset, input, output, initializers, nodes', () => {
    const graph = readOnnx(upstream, { source: 'model.onnx' });
    assert.equal(graph.opset, 18);
    assert.equal(graph.producer, 'pytorch 2.6.0');
    assert.deepEqual(graph.inputs.map((i) => [i.name, i.dims, i.elemType]), [['input', [1, 1, 30, 30], 1]]);
    assert.deepEqual(graph.outputs.map((o) => [o.name, o.dims]), [['output', [1, 10]]]);
    assert.deepEqual(graph.nodes.map((n) => n.op), ['Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'MaxPool', 'Flatten', 'Gemm']);
    assert.deepEqual(graph.nodes.map((n) => n.index), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const w = graph.initializers.get('conv1.weight');
    assert.ok(w && w.kind === 'float');
    assert.deepEqual(w.dims, [4, 1, 3, 3]);
    assert.equal(w.data.length, 36);
  });

  it('attributes of every kind, dims with dim_param / unknown, initializers listed as inputs', () => {
    const graph = graphOf({
      opset: 11,
      inputs: [{ name: 'x', dims: ['batch', 3, null, 0] }],
      outputs: [{ name: 'y' }],
      initializers: [{ name: 'w', dims: [2], data: [1, 2] }],
      initializersAsInputs: true,
      nodes: [{
        op: 'Custom', name: 'c', domain: 'com.example', inputs: ['x', '', 'w'], outputs: ['y', ''],
        attributes: {
          i: 3, f: 0.5, one: attr.float(1), s: 'SAME_UPPER', ints: [1, -2], floats: [0.5, 1], strs: ['a', 'b'],
          t: attr.tensor({ name: 'tv', dims: [2], data: [7, 8], dataType: DataType.INT64 }),
        },
      }],
    });
    assert.equal(graph.opset, 11);
    // The initializer listed in graph.input is not a model input.
    // A dim_value of 0 stays 0 (invalid, refused by lowering by name), not "unknown".
    assert.deepEqual(graph.inputs, [{ name: 'x', dims: ['batch', 3, null, 0], elemType: 1 }]);
    assert.deepEqual(graph.outputs, [{ name: 'y', dims: null, elemType: 1 }]);
    const node = graph.nodes[0];
    assert.equal(node.domain, 'com.example');
    assert.deepEqual(node.inputs, ['x', '', 'w']);
    assert.deepEqual(node.outputs, ['y', '']);
    const a = Object.fromEntries(node.attributes);
    assert.deepEqual(a.i, { type: 'int', value: 3 });
    assert.deepEqual(a.f, { type: 'float', value: 0.5 });
    assert.deepEqual(a.one, { type: 'float', value: 1 });
    assert.deepEqual(a.s, { type: 'string', value: 'SAME_UPPER' });
    assert.deepEqual(a.ints, { type: 'ints', value: [1, -2] });
    assert.deepEqual(a.floats, { type: 'floats', value: [0.5, 1] });
    assert.deepEqual(a.strs, { type: 'strings', value: ['a', 'b'] });
    assert.deepEqual(a.t, { type: 'tensor', value: { kind: 'int', dims: [2], data: [7, 8] } });
  });

  it('refuses a model without a default-domain opset_import; a custom-domain import is not the default opset', () => {
    const spec = { inputs: [{ name: 'x', dims: [1, 2] }], outputs: [{ name: 'y', dims: [1, 2] }], nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }] };
    const noOpset = (e: unknown) => e instanceof OnnxReadError && /declares no ONNX operator set version \(opset_import\)/.test(e.message);
    assert.throws(() => graphOf({ ...spec, opset: null }), noOpset);
    assert.throws(() => graphOf({ ...spec, opset: null, extraOpsets: [{ domain: 'com.example', version: 5 }] }), noOpset);
    assert.equal(graphOf({ ...spec, opset: 17, extraOpsets: [{ domain: 'com.example', version: 5 }] }).opset, 17);
  });

  it('external data without a file to read it from is an OnnxReadError', () => {
    const bytes = buildModel({
      inputs: [{ name: 'x', dims: [1, 2] }], outputs: [{ name: 'y', dims: [1, 2] }],
      initializers: [{ name: 'w', dims: [2], data: [1, 2], storage: { external: { location: 'w.bin' } } }],
      nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
    });
    assert.throws(() => readOnnx(bytes), (e: unknown) => e instanceof OnnxReadError && /external file, but the model was not read from a file/.test(e.message));
  });
});
