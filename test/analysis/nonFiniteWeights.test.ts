// Conversion warns about NaN and infinite weights, naming the ONNX tensor and the node that
// reads it (they convert without complaint, and every output they reach is NaN or infinite).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { buildModelReport } from '../../src/core/analysis/modelReport.js';
import { LayerType } from '../../src/core/blob/blobFormat.js';
import { convertGraph, convertOnnxFile } from '../../src/core/convert.js';
import { modelReportFor, readModelFile } from '../../src/core/modelFile.js';
import { encodeRecords, shape } from '../support/blobBuilder.js';
import { fixturePath, readManifest, upstreamPath } from '../support/fixtures.js';
import { attr, DataType, graphOf, type NodeSpec, type TensorSpec } from '../support/onnxBuilder.js';

/** Gemm 4 → 3 named `name`, weights `w` (transB = 1), optionally followed by more nodes. */
function gemm(weights: TensorSpec, options: { bias?: TensorSpec; extra?: { nodes: NodeSpec[]; initializers: TensorSpec[] } } = {}) {
  const bias = options.bias ?? { name: 'fc.bias', dims: [3], data: [0, 0, 0] };
  return convertGraph(graphOf({
    inputs: [{ name: 'x', dims: [1, 4] }],
    outputs: [{ name: options.extra ? 'z' : 'y', dims: [1, 3] }],
    initializers: [weights, bias, ...(options.extra?.initializers ?? [])],
    nodes: [{ op: 'Gemm', name: 'fc', inputs: ['x', weights.name, bias.name], outputs: ['y'], attributes: { transB: 1 } }, ...(options.extra?.nodes ?? [])],
  }));
}

const weights = (data: ArrayLike<number>, dataType?: number): TensorSpec => ({ name: 'fc.weight', dims: [3, 4], data, dataType });

describe('non-finite weights at conversion', () => {
  it('NaN weights: names the initializer and the node', () => {
    const c = gemm(weights([1, 2, NaN, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    assert.deepEqual(c.warnings, ["initializer 'fc.weight', read by node 'fc' (#0, Gemm), holds NaN in 1 of 12 values: every output it reaches will be NaN or infinite"]);
  });

  it('infinite bias, float16 infinities and float64 values beyond float32\'s range', () => {
    assert.match(gemm(weights(new Array(12).fill(1)), { bias: { name: 'b', dims: [3], data: [0, -Infinity, 0] } }).warnings.join('\n'),
      /^initializer 'b', read by node 'fc' \(#0, Gemm\), holds -Infinity in 1 of 3 values/);
    // float16 0x7c00 is +Infinity, 0xfc00 -Infinity, 0x7e00 NaN; 0x7bff (65504) is finite.
    const half = gemm(weights([0x3c00, 0x7c00, 0xfc00, 0x7e00, 0x7bff, 0, 0, 0, 0, 0, 0, 0], DataType.FLOAT16));
    assert.match(half.warnings.join('\n'), /'fc\.weight'.*holds 1 NaN, 1 \+Infinity and 1 -Infinity among 12 values/);
    const double = gemm(weights([1e300, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3e38], DataType.DOUBLE));
    assert.match(double.warnings.join('\n'), /'fc\.weight'.*holds \+Infinity in 1 of 12 values/);
  });

  it('values that become non-finite only in conversion are named by layer and node', () => {
    // BatchNormalization folded into the Gemm with a negative variance: scale / sqrt(var + eps) is NaN.
    const bn = { nodes: [{ op: 'BatchNormalization', name: 'bn', inputs: ['y', 's', 'o', 'm', 'v'], outputs: ['z'] }],
      initializers: ['s', 'o', 'm'].map((name) => ({ name, dims: [3], data: [1, 1, 1] })).concat([{ name: 'v', dims: [3], data: [1, -4, 1] }]) };
    const c = gemm(weights(new Array(12).fill(1)), { extra: bn });
    assert.match(c.warnings[0], /^layer \d+ \(Linear, from node 'fc' \(#0, Gemm\) \+ node 'bn' \(#1, BatchNormalization\)\): its weights hold NaN in 4 of 12 values after conversion/);
    assert.match(c.warnings[1], /its bias holds NaN in 1 of 3 values/);
  });

  it('a weight from a Constant node is named too', () => {
    const c = convertGraph(graphOf({
      inputs: [{ name: 'x', dims: [1, 2] }],
      outputs: [{ name: 'y', dims: [1, 1] }],
      initializers: [{ name: 'b', dims: [1], data: [0] }],
      nodes: [
        { op: 'Constant', name: 'const', inputs: [], outputs: ['w'], attributes: { value: attr.tensor({ name: 'w', dims: [1, 2], data: [Infinity, 1] }) } },
        { op: 'Gemm', name: 'fc', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { transB: 1 } },
      ],
    }));
    assert.match(c.warnings.join('\n'), /^Constant 'w', read by node 'fc' \(#1, Gemm\), holds \+Infinity in 1 of 2 values/);
  });

  it('many non-finite tensors: ten warnings and a count of the rest', () => {
    const n = 15;
    const nodes: NodeSpec[] = [], initializers: TensorSpec[] = [];
    for (let i = 0; i < n; i++) {
      initializers.push({ name: `w${i}`, dims: [2, 2], data: [NaN, 1, 1, 1] }, { name: `b${i}`, dims: [2], data: [0, 0] });
      nodes.push({ op: 'Gemm', name: `fc${i}`, inputs: [i ? `h${i - 1}` : 'x', `w${i}`, `b${i}`], outputs: [i === n - 1 ? 'y' : `h${i}`], attributes: { transB: 1 } });
    }
    const c = convertGraph(graphOf({ inputs: [{ name: 'x', dims: [1, 2] }], outputs: [{ name: 'y', dims: [1, 2] }], initializers, nodes }));
    assert.equal(c.warnings.length, 11);
    assert.equal(c.warnings[10], '… and 5 more tensors with NaN or infinite values');
  });

  it('the model report carries them; real models have none', () => {
    const c = gemm(weights([NaN, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
    const report = buildModelReport({ source: 'm.onnx', kind: 'onnx', records: c.records, blobBytes: c.blob.length, layers: c.layers, weightWarnings: c.warnings });
    assert.match(report.warnings.join('\n'), /'fc\.weight'.*NaN in 1 of 12 values/);
    assert.deepEqual(convertOnnxFile(upstreamPath('model.onnx')).warnings, []);
    for (const f of readManifest().filter((m) => m.kind === 'ok')) assert.deepEqual(convertOnnxFile(fixturePath(f.name, '.onnx')).warnings, [], f.name);
  });
});

describe('non-finite weights in a blob from anyone', () => {
  it('inspect and deploy (the model report of a .bin) warn, naming the layer', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'cpml-nan-blob-')), 'nan.bin');
    const bytes = encodeRecords({
      records: [{ type: LayerType.Linear, in: shape(1, 1, 4), out: shape(1, 1, 2), weightOffset: 0, biasOffset: 32 }],
      weights: Float32Array.from([NaN, NaN, NaN, NaN, NaN, NaN, NaN, NaN, 0, Infinity]),
    });
    writeFileSync(path, bytes);
    const report = modelReportFor(readModelFile(path));
    assert.deepEqual(report.warnings.filter((w) => /NaN|Infinity/.test(w)), [
      'layer 0 (Linear): its weights hold NaN in 8 of 8 values: every output it reaches will be NaN or infinite',
      'layer 0 (Linear): its bias holds +Infinity in 1 of 2 values: every output it reaches will be NaN or infinite',
    ]);
  });
});
