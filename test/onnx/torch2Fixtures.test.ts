// The converter on real PyTorch 2.13 exports of both exporters (tools/make_torch2_fixtures.py):
// every rewrite of converter part 2 against PyTorch's own outputs, the ONNX reference evaluator
// as an independent second opinion, and the refusals naming the node that cannot run.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertOnnxFile } from '../../src/core/convert.js';
import { validateBlob } from '../../src/core/blob/validateBlob.js';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { runBlob } from '../../src/core/engine/firmwareEngine.js';
import { UnsupportedModelError } from '../../src/core/errors.js';
import { loadOnnxFile } from '../../src/core/onnx/loadOnnxFile.js';
import { describeRewrites } from '../../src/core/onnx/lowerGraph.js';
import { readFloat32File } from '../support/fixtures.js';

const DIR = join('test', 'fixtures', 'torch2');

interface Torch2Entry {
  name: string;
  exporter: 'dynamo' | 'legacy';
  file: string;
  kind: 'ok' | 'refuse';
  opset: number;
  input_shape: number[];
  output_len?: number;
  refuse_op?: string;
  ops: string[];
  external_data?: boolean;
  note: string;
}

const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as Torch2Entry[];
const ok = manifest.filter((e) => e.kind === 'ok');
const refused = manifest.filter((e) => e.kind === 'refuse');

/** PyTorch's tolerance for the rewrites: 1e-4 × max(1, |ref|) per value. */
function assertClose(out: ArrayLike<number>, ref: ArrayLike<number>, what: string): void {
  assert.equal(out.length, ref.length, `${what}: ${out.length} values, expected ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    assert.ok(Math.abs(out[i] - ref[i]) <= 1e-4 * Math.max(1, Math.abs(ref[i])), `${what}[${i}]: ${out[i]} vs ${ref[i]}`);
  }
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
  return best;
}

describe('torch 2.13 fixtures (dynamo and legacy exporters)', () => {
  it('cover both exporters, external data and every rewrite', () => {
    assert.ok(ok.length >= 60, `only ${ok.length} ok exports`);
    assert.ok(refused.length >= 15, `only ${refused.length} refusals`);
    for (const exporter of ['dynamo', 'legacy']) assert.ok(ok.some((e) => e.exporter === exporter), exporter);
    assert.ok(ok.some((e) => e.external_data), 'no export with .onnx.data');
    const ops = new Set(ok.flatMap((e) => e.ops));
    for (const op of ['AveragePool', 'GlobalAveragePool', 'ReduceMean', 'Pad', 'Transpose', 'BatchNormalization', 'Clip', 'Max', 'MatMul', 'Squeeze', 'Unsqueeze']) {
      assert.ok(ops.has(op), `no ok fixture has ${op}`);
    }
  });

  for (const e of ok) {
    it(`${e.file} reproduces PyTorch`, () => {
      const path = join(DIR, e.file);
      const conversion = convertOnnxFile(path);
      assert.deepEqual(validateBlob(conversion.blob).errors, []);
      const input = readFloat32File(join(DIR, `${e.name}.input.bin`));
      const expected = readFloat32File(join(DIR, `${e.name}.expected.bin`));
      assert.equal(expected.length, e.output_len);
      const out = runBlob(conversion.blob, input);
      assertClose(out, expected, e.file);
      assert.equal(argmax(out), argmax(expected), `${e.file}: argmax`);
      // The reference evaluator, sharing no code with the lowering, agrees with the blob too.
      assertClose(out, evaluateOnnx(loadOnnxFile(path), input).output, `${e.file} vs evaluator`);
    });
  }

  for (const e of refused) {
    it(`${e.file} is refused naming its ${e.refuse_op}`, () => {
      let caught: unknown;
      try {
        convertOnnxFile(join(DIR, e.file));
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof UnsupportedModelError, `${e.file}: ${caught ? String(caught) : 'converted'}`);
      assert.equal(caught.node?.op, e.refuse_op, caught.message);
      assert.ok(caught.hint, `${e.file}: no hint`);
      assert.ok(caught.message.length < 600, `${e.file}: message of ${caught.message.length} characters`);
    });
  }
});

describe('what the rewrites cost is said', () => {
  const rewrites = (file: string) => describeRewrites(convertOnnxFile(join(DIR, file)).rewrites).join('\n');

  it('names depthwise Convs run as full ones, with the MACs factor and the extra weights', () => {
    for (const file of ['depthwise_separable.dynamo.onnx', 'depthwise_separable.legacy.onnx']) {
      if (!existsSync(join(DIR, file))) continue;
      assert.match(rewrites(file), /depthwise Conv '[^']+' \(#\d+\) runs as a full Conv 8→8 \(zero weights between the 8 groups\): 8× the MACs \([\d,]+\), \+[\d.]+ (K)?B of weights/);
    }
  });

  it('names average pooling run as a Conv, and a global mean folded into the Linear after it', () => {
    assert.match(rewrites('lenet5.dynamo.onnx'), /AveragePool '[^']+' \(#\d+\) runs as a Conv 6→6 with kernel 2 and weights 1\/4: 6× the MACs/);
    assert.match(rewrites('gap_linear.legacy.onnx'), /GlobalAveragePool '[^']+' \(#\d+\) is folded into Gemm '[^']+', which then reads all \d+ values/);
  });
});
