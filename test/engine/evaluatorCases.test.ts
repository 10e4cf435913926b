// The reference evaluator against onnxruntime, on the graphs of test/fixtures/evaluator/:
// small hand-built graphs for each op and attribute/input form (opsets 6–20), and real
// torch.onnx exports (legacy and dynamo). The expected outputs are onnxruntime's, written by
// tools/make_evaluator_cases.py (see the note of each case in cases.json).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { evaluateOnnx } from '../../src/core/engine/evaluateOnnx.js';
import { loadOnnxFile } from '../../src/core/onnx/loadOnnxFile.js';

const DIR = join('test', 'fixtures', 'evaluator');

type JsonNumber = number | 'NaN' | 'Infinity' | '-Infinity';

interface EvaluatorCase {
  name: string;
  opset: number;
  note: string;
  input: { dims: number[]; data: JsonNumber[] };
  output: { dims: number[]; data: JsonNumber[] };
}

const numbers = (data: JsonNumber[]) => data.map((v) => (typeof v === 'number' ? v : Number(v)));

const cases = (JSON.parse(readFileSync(join(DIR, 'cases.json'), 'utf8')) as { cases: EvaluatorCase[] }).cases;

/** The evaluator works in float64 and rounds to float32; onnxruntime works in float32. */
const RELATIVE = 1e-5;
/** Floor for values near 0, where float32 cancellation leaves an absolute error. */
const ABSOLUTE = 1e-6;

function assertMatches(actual: Float32Array, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${actual.length} values, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) || !Number.isFinite(e)) {
      assert.ok(Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)), `${what}: value #${i} is ${a}, expected ${e}`);
      continue;
    }
    const err = Math.abs(a - e);
    assert.ok(err <= RELATIVE * Math.abs(e) + ABSOLUTE, `${what}: value #${i} is ${a}, expected ${e} (error ${err})`);
  }
}

describe('evaluateOnnx matches onnxruntime on the evaluator cases', () => {
  it('has the cases, covering every op and form the evaluator is meant to handle', () => {
    const names = cases.map((c) => c.name);
    assert.ok(cases.length >= 160, `only ${cases.length} cases`);
    // One case at least per op/form the exporters emit (a regenerated file that lost some fails here).
    const required = [
      'ReduceMean_op13_axes_attr', 'ReduceMean_op18_axes_input', 'ReduceMean_op18_empty_axes_noop', 'ReduceSum_op11_axes_attr', 'ReduceSum_op13_axes_input',
      'ReduceMax_op20_neg_axes_input_nokeep', 'ConstantOfShape_op11_default', 'ConstantOfShape_op13_int_value', 'Slice_op9_attributes', 'Slice_op13_reverse',
      'Expand_op13_to_higher_rank', 'Range_op11_int', 'Equal_op13_float', 'Where_op16_three_way_broadcast', 'Neg_op13', 'Sqrt_op13', 'Pow_op13_scalar_exponent',
      'Not_op1_of_Equal', 'AveragePool_op19_dilations_cip1', 'AveragePool_op11_ceil_drop_cip1', 'MaxPool_op11_ceil_drop', 'Conv_op11_depthwise_dilated',
      'Pad_op18_axes', 'Pad_op11_reflect', 'Pad_op13_edge', 'Pad_op19_wrap', 'Transpose_op13_default_perm', 'Clip_op12_max_only', 'Clip_op6_attributes',
      'BatchNormalization_op15_2d', 'Squeeze_op13_axes_input', 'Unsqueeze_op13_axes_input', 'Flatten_op13_axism1', 'Reshape_op14_allowzero_empty',
      'torch_legacy_zeropad2d_conv_opdefault', 'torch_legacy_zeropad2d_conv_op11', 'torch_legacy_zeropad2d_conv_op13', 'torch_dynamo_reductions_op18',
      'torch_dynamo_features_op20', 'torch_legacy_lstm_state_subgraph_op13', 'Max_op8_three_inputs', 'Min_op13_two_inputs', 'torch_dynamo_clamp_op18',
    ];
    for (const name of required) assert.ok(names.includes(name), `case ${name} is missing`);
    assert.equal(new Set(names).size, names.length, 'case names repeat');
  });

  for (const c of cases) {
    it(`${c.name} (opset ${c.opset}): ${c.note}`, () => {
      const graph = loadOnnxFile(join(DIR, `${c.name}.onnx`));
      assert.equal(graph.opset, c.opset);
      const r = evaluateOnnx(graph, Float32Array.from(numbers(c.input.data)));
      assert.deepEqual(r.outputDims, c.output.dims, `${c.name}: output shape`);
      assertMatches(r.output, numbers(c.output.data), c.name);
    });
  }
});
