#!/usr/bin/env python3
"""Reference cases for the ONNX reference evaluator (src/core/engine/evaluateOnnx.ts).

Writes small ONNX graphs (hand-built with onnx.helper, and real torch.onnx exports) to
test/fixtures/evaluator/*.onnx, and test/fixtures/evaluator/cases.json with each graph's input
and the output onnxruntime computes for it. test/engine/evaluatorCases.test.ts runs the evaluator
on every case and compares. CI has no Python: the generated files are committed.

Every graph has one float input `x` and one output; the other operands (axes, pads, shapes,
weights) are initializers, because the evaluator takes exactly one input. Every hand-built graph
passes onnx.checker with full_check (strict shape inference), so it is valid for its opset, and
is also run through onnx.reference.ReferenceEvaluator: a disagreement with onnxruntime is
printed and recorded in the case's `note`.

    /tmp/tv/bin/python tools/make_evaluator_cases.py [test/fixtures/evaluator]

(a venv with torch 2.13, onnx 1.23, onnxscript, onnxruntime 1.30 and numpy). Inputs and
weights are seeded per case, so a rerun writes the same values.
"""
import json
import math
import os
import sys
import warnings
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper as oh
from onnx import numpy_helper as nh
from onnx.reference import ReferenceEvaluator

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join('test', 'fixtures', 'evaluator')
INT64_MAX = 2**63 - 1
INT64_MIN = -2**63
CASES = []


def rng(name):
    return np.random.default_rng(zlib.crc32(name.encode()))


def as_json_numbers(a):
    def one(v):
        v = float(v)
        if math.isnan(v):
            return 'NaN'
        if math.isinf(v):
            return 'Infinity' if v > 0 else '-Infinity'
        return v
    return [one(v) for v in np.asarray(a).reshape(-1)]


def run_ort(model_bytes, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model_bytes, so, providers=['CPUExecutionProvider'])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def record(name, model, x, note, check_reference=True):
    data = model.SerializeToString()
    y = run_ort(data, x)
    if check_reference:
        try:
            ref = np.asarray(ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x})[0])
            same = ref.shape == y.shape and np.allclose(ref.astype(np.float64), y.astype(np.float64), rtol=1e-5, atol=1e-6, equal_nan=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            ref, same = None, False
            print(f'{name}: onnx reference evaluator failed: {e}')
        if not same:
            print(f'{name}: onnxruntime and onnx.reference disagree\n  ort {y.reshape(-1)[:12]} {y.shape}\n  ref {None if ref is None else ref.reshape(-1)[:12]} {None if ref is None else ref.shape}')
            note += ' [onnx.reference disagrees with onnxruntime here; onnxruntime is the reference]'
    with open(os.path.join(OUT, name + '.onnx'), 'wb') as f:
        f.write(data)
    opset = next(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    CASES.append({
        'name': name, 'opset': opset, 'note': note,
        'input': {'dims': list(x.shape), 'data': as_json_numbers(x)},
        'output': {'dims': list(y.shape), 'data': as_json_numbers(y)},
    })


def case(name, opset, nodes, x_shape, inits=None, note='', x=None, out_type=TP.FLOAT, integers=False, positive=False):
    """A hand-built graph: input x (float, x_shape), output y, `inits` as initializers."""
    if x is None:
        r = rng(name)
        if integers:
            x = r.integers(-2, 3, size=x_shape).astype(np.float32)
        else:
            x = r.standard_normal(x_shape).astype(np.float32)
        if positive:
            x = np.abs(x) + np.float32(0.25)
    x = np.asarray(x, dtype=np.float32)
    initializers = [nh.from_array(np.asarray(v), k) for k, v in (inits or {}).items()]
    graph = oh.make_graph(nodes, name, [oh.make_tensor_value_info('x', TP.FLOAT, list(x.shape))],
                          [oh.make_tensor_value_info('y', out_type, None)], initializers)
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid('', opset)], ir_version=8, producer_name='make_evaluator_cases')
    # Strict shape inference fills in the output's shape (and fails on an invalid graph).
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    record(name, model, x, note)


def node(op, inputs, outputs=('y',), **attrs):
    return oh.make_node(op, list(inputs), list(outputs), **attrs)


def i64(*v):
    return np.array(v, dtype=np.int64)


def f32(*v):
    return np.array(v, dtype=np.float32)


def scalar_i64(v):
    return np.array(v, dtype=np.int64)


def scalar_f32(v):
    return np.array(v, dtype=np.float32)


# ---------------------------------------------------------------- reductions

def reductions():
    s = [2, 3, 4]
    for op in ['ReduceMean', 'ReduceMax', 'ReduceMin']:
        # Attribute form (opset 11, 13), input form (18, 20).
        case(f'{op}_op13_axes_attr', 13, [node(op, ['x'], axes=[1])], s, note=f'{op}: axes attribute, keepdims default 1')
        case(f'{op}_op11_neg_axis_nokeep', 11, [node(op, ['x'], axes=[-1], keepdims=0)], s, note=f'{op}: negative axis attribute, keepdims 0')
        case(f'{op}_op13_all_axes', 13, [node(op, ['x'], keepdims=0)], s, note=f'{op}: no axes attribute reduces all axes (keepdims 0: a scalar)')
        case(f'{op}_op18_axes_input', 18, [node(op, ['x', 'ax'])], s, {'ax': i64(0, 2)}, note=f'{op}: axes as int64 input (opset 18)')
        case(f'{op}_op20_neg_axes_input_nokeep', 20, [node(op, ['x', 'ax'], keepdims=0)], s, {'ax': i64(-1, 0)}, note=f'{op}: negative, unsorted axes input, keepdims 0')
        case(f'{op}_op18_no_axes', 18, [node(op, ['x'])], s, note=f'{op}: axes input omitted: all axes, keepdims 1')
        case(f'{op}_op18_empty_axes_noop', 18, [node(op, ['x', 'ax'], noop_with_empty_axes=1)], s, {'ax': np.zeros([0], np.int64)}, note=f'{op}: empty axes with noop_with_empty_axes=1 is the identity')
        case(f'{op}_op18_empty_axes_reduce_all', 18, [node(op, ['x', 'ax'], noop_with_empty_axes=0, keepdims=0)], s, {'ax': np.zeros([0], np.int64)}, note=f'{op}: empty axes with noop_with_empty_axes=0 reduces all')
    case('ReduceSum_op11_axes_attr', 11, [node('ReduceSum', ['x'], axes=[0, -1])], s, note='ReduceSum: axes attribute before opset 13')
    case('ReduceSum_op13_axes_input', 13, [node('ReduceSum', ['x', 'ax'], keepdims=0)], s, {'ax': i64(1)}, note='ReduceSum: axes input from opset 13, keepdims 0')
    case('ReduceSum_op13_no_axes', 13, [node('ReduceSum', ['x'])], s, note='ReduceSum: no axes: all, keepdims 1')
    case('ReduceSum_op13_noop', 13, [node('ReduceSum', ['x'], noop_with_empty_axes=1)], s, note='ReduceSum: no axes and noop_with_empty_axes=1: identity')
    case('ReduceSum_op13_repeated_axis', 13, [node('ReduceSum', ['x', 'ax'], keepdims=0)], s, {'ax': i64(2, -1)}, note='ReduceSum with the same axis twice (2 and -1): reduced once, as onnxruntime does')
    case('ReduceSum_op20_neg_axes', 20, [node('ReduceSum', ['x', 'ax'])], s, {'ax': i64(-2)}, note='ReduceSum: negative axis input')
    case('ReduceMean_op18_4d_spatial', 18, [node('ReduceMean', ['x', 'ax'], keepdims=1)], [1, 3, 4, 5], {'ax': i64(-2, -1)}, note='ReduceMean over H, W (x.mean((2, 3), keepdim=True))')
    case('ReduceMax_op13_4d_channels', 13, [node('ReduceMax', ['x'], axes=[1], keepdims=0)], [1, 3, 4, 5], note='ReduceMax over channels, keepdims 0')


# ---------------------------------------------------------------- shape-subgraph ops

def shape_subgraph_ops():
    # ConstantOfShape
    case('ConstantOfShape_op11_default', 11, [node('ConstantOfShape', ['s'], ['c']), node('Add', ['x', 'c'])], [2, 3], {'s': i64(2, 3)},
         note='ConstantOfShape without value: float 0')
    case('ConstantOfShape_op20_float_value', 20, [node('ConstantOfShape', ['s'], ['c'], value=nh.from_array(f32(1.5))), node('Mul', ['x', 'c'])], [2, 3], {'s': i64(1, 3)},
         note='ConstantOfShape value 1.5 (broadcast against x)')
    case('ConstantOfShape_op13_int_value', 13, [node('Shape', ['x'], ['s']), node('ConstantOfShape', ['s'], ['c'], value=nh.from_array(i64(7))),
                                                node('Cast', ['c'], ['cf'], to=TP.FLOAT), node('Sub', ['x', 'cf'])], [2, 2, 3],
         note='ConstantOfShape(Shape(x)) with an int64 value 7, cast to float')
    case('ConstantOfShape_op18_scalar', 18, [node('ConstantOfShape', ['s'], ['c'], value=nh.from_array(f32(-2.0))), node('Add', ['x', 'c'])], [3], {'s': np.zeros([0], np.int64)},
         note='ConstantOfShape of an empty shape: a scalar')
    # Range
    case('Range_op11_int', 11, [node('Range', ['a', 'b', 'd'], ['r']), node('Cast', ['r'], ['rf'], to=TP.FLOAT), node('Add', ['x', 'rf'])], [2, 4],
         {'a': scalar_i64(1), 'b': scalar_i64(11), 'd': scalar_i64(3)}, note='Range(1, 11, 3) in int64: [1, 4, 7, 10]')
    case('Range_op13_float_negative_delta', 13, [node('Range', ['a', 'b', 'd'], ['r']), node('Mul', ['x', 'r'])], [5],
         {'a': scalar_f32(1.0), 'b': scalar_f32(-1.5), 'd': scalar_f32(-0.5)}, note='Range(1, -1.5, -0.5) in float: 5 values')
    case('Range_op11_from_shape', 11, [node('Shape', ['x'], ['s']), node('Gather', ['s', 'one'], ['n'], axis=0), node('Range', ['z', 'n', 'step'], ['r']),
                                       node('Cast', ['r'], ['rf'], to=TP.FLOAT), node('Add', ['x', 'rf'])], [2, 3],
         {'one': scalar_i64(1), 'z': scalar_i64(0), 'step': scalar_i64(1)}, note='torch.arange(x.size(1)) pattern: Range(0, Shape(x)[1], 1)')
    case('Range_op11_empty', 11, [node('Range', ['a', 'b', 'd'], ['r']), node('Cast', ['r'], ['rf'], to=TP.FLOAT), node('Concat', ['x', 'rf'], axis=0)], [2],
         {'a': scalar_i64(5), 'b': scalar_i64(1), 'd': scalar_i64(1)}, note='Range(5, 1, 1) is empty; concatenated to x')
    # Expand
    case('Expand_op13_to_higher_rank', 13, [node('Expand', ['x', 's'])], [3, 1], {'s': i64(2, 3, 4)}, note='Expand [3, 1] to [2, 3, 4]')
    case('Expand_op13_ones_keep_input', 13, [node('Expand', ['x', 's'])], [2, 3], {'s': i64(3, 1, 1)}, note='Expand: 1 in shape keeps the input size ([2, 3] by [3, 1, 1] = [3, 2, 3])')
    case('Expand_op8_lower_rank_shape', 8, [node('Expand', ['x', 's'])], [2, 1, 4], {'s': i64(3, 1)}, note='Expand: shape of lower rank than input ([2, 1, 4] by [3, 1] = [2, 3, 4])')
    # Slice
    s = [3, 4, 5]
    case('Slice_op9_attributes', 9, [node('Slice', ['x'], starts=[1, 0], ends=[3, -1], axes=[0, 2])], s, note='Slice before opset 10: attributes, negative end')
    case('Slice_op9_no_axes', 9, [node('Slice', ['x'], starts=[-2, 1], ends=[1000, 3])], s, note='Slice (opset 9) without axes: the first axes; end clamped')
    case('Slice_op10_inputs', 10, [node('Slice', ['x', 'st', 'en', 'ax'])], s, {'st': i64(1), 'en': i64(INT64_MAX), 'ax': i64(1)}, note='Slice 1:INT64_MAX on axis 1 (opset 10 inputs)')
    case('Slice_op13_negative', 13, [node('Slice', ['x', 'st', 'en', 'ax'])], s, {'st': i64(-3), 'en': i64(-1), 'ax': i64(-1)}, note='Slice -3:-1 on axis -1')
    case('Slice_op13_reverse', 13, [node('Slice', ['x', 'st', 'en', 'ax', 'sp'])], s, {'st': i64(-1), 'en': i64(-INT64_MAX), 'ax': i64(0), 'sp': i64(-1)},
         note='Slice -1:-INT64_MAX:-1 (a full reverse, as legacy exports of ZeroPad2d write)')
    case('Slice_op13_reverse_int64_min', 13, [node('Slice', ['x', 'st', 'en', 'ax', 'sp'])], s, {'st': i64(INT64_MAX), 'en': i64(INT64_MIN), 'ax': i64(2), 'sp': i64(-2)},
         note='Slice INT64_MAX:INT64_MIN:-2 (start clamped to size-1)')
    case('Slice_op13_steps_clamped', 13, [node('Slice', ['x', 'st', 'en', 'ax', 'sp'])], s, {'st': i64(-100, 1), 'en': i64(100, 4), 'ax': i64(2, 1), 'sp': i64(2, 2)},
         note='Slice with steps 2 on two axes, out-of-range start/end clamped')
    case('Slice_op13_negative_step_partial', 13, [node('Slice', ['x', 'st', 'en', 'ax', 'sp'])], s, {'st': i64(4), 'en': i64(0), 'ax': i64(2), 'sp': i64(-3)},
         note='Slice 4:0:-3 (end exclusive)')
    case('Slice_op13_steps_without_axes', 13, [node('Slice', ['x', 'st', 'en', '', 'sp'])], s, {'st': i64(0, 3), 'en': i64(3, 0), 'sp': i64(2, -1)},
         note="Slice with axes omitted ('') but steps given")
    case('Slice_op13_empty', 13, [node('Slice', ['x', 'st', 'en', 'ax'], ['e']), node('Concat', ['e', 'x'], axis=1)], s, {'st': i64(3), 'en': i64(1), 'ax': i64(1)},
         note='Slice 3:1 is empty; concatenated to x')
    case('Slice_op11_int_shape', 11, [node('Shape', ['x'], ['sh']), node('Slice', ['sh', 'st', 'en'], ['t']), node('Cast', ['t'], ['tf'], to=TP.FLOAT), node('Add', ['x', 'tf'])], [2, 3],
         {'st': i64(-1), 'en': i64(INT64_MAX)}, note='Slice of an int64 shape (Shape(x)[-1:])')
    # Elementwise and comparison
    case('Neg_op13', 13, [node('Neg', ['x'])], [2, 3], note='Neg')
    case('Sqrt_op13', 13, [node('Sqrt', ['x'])], [2, 3], positive=True, note='Sqrt of positive values')
    case('Pow_op13_scalar_exponent', 13, [node('Pow', ['x', 'e'])], [2, 3], {'e': scalar_f32(2.0)}, note='Pow(x, 2)')
    case('Pow_op15_tensor_exponent', 15, [node('Pow', ['x', 'e'])], [2, 3], {'e': f32(0.5, -1.0, 3.0)}, positive=True, note='Pow with a broadcast exponent row')
    case('Pow_op12_int_exponent', 12, [node('Pow', ['x', 'e'])], [2, 3], {'e': scalar_i64(3)}, note='Pow with an int64 exponent (opset 12 allows mixed types)')
    case('Pow_op13_special_values', 13, [node('Pow', ['x', 'e'])], [6], {'e': f32(np.nan, np.inf, -np.inf, np.nan, 0.5, 3)}, x=f32(1, -1, -1, 2, -4, -2),
         note="Pow's C semantics: 1^NaN = 1, (-1)^±inf = 1, 2^NaN = NaN, (-4)^0.5 = NaN")
    case('Max_op13_scalar', 13, [node('Max', ['x', 'z'])], [2, 3], {'z': scalar_f32(0.1)}, note='Max(x, 0.1) (dynamo export of torch.clamp(x, min=...))')
    case('Max_op8_three_inputs', 8, [node('Max', ['x', 'a', 'b'])], [2, 3], {'a': f32(-0.5, 0, 0.5), 'b': f32(0.2, -0.2).reshape(2, 1)}, note='Max of three inputs broadcast together')
    case('Min_op13_two_inputs', 13, [node('Min', ['x', 'a'])], [2, 3], {'a': f32(-0.5, 0, 0.5)}, note='Min of two inputs (broadcast row)')
    case('Max_op13_single_input', 13, [node('Max', ['x'])], [2, 3], note='Max of one input is the input')
    case('Equal_op13_float', 13, [node('Equal', ['x', 'c'], ['e']), node('Cast', ['e'], ['y'], to=TP.FLOAT)], [3, 4], {'c': f32(0, 1, -1, 2)}, integers=True,
         note='Equal of floats (broadcast row), cast to float')
    case('Equal_op11_bool_output', 11, [node('Equal', ['x', 'c'])], [2, 3], {'c': scalar_f32(1)}, integers=True, out_type=TP.BOOL, note='Equal as the graph output (bool)')
    case('Not_op1_of_Equal', 13, [node('Equal', ['x', 'c'], ['e']), node('Not', ['e'], ['n']), node('Cast', ['n'], ['y'], to=TP.FLOAT)], [2, 3], {'c': scalar_f32(0)}, integers=True,
         note='Not(Equal(x, 0))')
    case('Where_op16_three_way_broadcast', 16, [node('Equal', ['x', 'c'], ['e']), node('Where', ['e', 'a', 'x'])], [2, 3], {'c': scalar_f32(0), 'a': f32(10, 20, 30)}, integers=True,
         note='Where(x == 0, [10, 20, 30], x)')
    case('Where_op9_cond_column', 9, [node('Equal', ['m', 'one'], ['e']), node('Where', ['e', 'x', 'v'])], [2, 3], {'m': i64(1, 0).reshape(2, 1), 'one': i64(1), 'v': scalar_f32(-5)},
         note='Where with an int64-compare condition [2, 1], X [2, 3], scalar Y')


# ---------------------------------------------------------------- window ops, Pad and the rest

def spatial_ops():
    def pool(name, op, opset, x_shape, note, **attrs):
        case(name, opset, [node(op, ['x'], **attrs)], x_shape, note=note)
    for opset in [11, 19]:
        for cip in [0, 1]:
            pool(f'AveragePool_op{opset}_pads_cip{cip}', 'AveragePool', opset, [1, 2, 5, 5], f'AveragePool 3x3 stride 2 pads 1, count_include_pad={cip}',
                 kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=cip)
            pool(f'AveragePool_op{opset}_ceil_cip{cip}', 'AveragePool', opset, [1, 1, 6, 6], f'AveragePool 3x3 stride 2 pads 1, ceil_mode=1, count_include_pad={cip}: the last window overhangs the padding',
                 kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=cip)
            pool(f'AveragePool_op{opset}_ceil_drop_cip{cip}', 'AveragePool', opset, [1, 1, 5, 5], f'AveragePool 2x2 stride 2 pads 1, ceil_mode=1, count_include_pad={cip}: a window that would start in the right padding is dropped',
                 kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1, count_include_pad=cip)
    pool('AveragePool_op11_asym_pads', 'AveragePool', 11, [1, 1, 4, 5], 'AveragePool with asymmetric pads [0, 1, 1, 0] and count_include_pad=1',
         kernel_shape=[2, 3], strides=[1, 2], pads=[0, 1, 1, 0], count_include_pad=1)
    for cip in [0, 1]:
        pool(f'AveragePool_op19_dilations_cip{cip}', 'AveragePool', 19, [1, 1, 7, 7], f'AveragePool dilations 2 (opset 19) with pads 1, count_include_pad={cip}',
             kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 1, 1], dilations=[2, 2], count_include_pad=cip)
    pool('AveragePool_op19_dilations_ceil', 'AveragePool', 19, [1, 1, 7, 6], 'AveragePool dilations [2, 1], stride 2, ceil_mode=1',
         kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 1], ceil_mode=1)
    pool('AveragePool_op11_same_upper', 'AveragePool', 11, [1, 1, 5, 5], 'AveragePool auto_pad SAME_UPPER stride 2 (count_include_pad 0)',
         kernel_shape=[2, 2], strides=[2, 2], auto_pad='SAME_UPPER')
    pool('AveragePool_op11_same_upper_cip1', 'AveragePool', 11, [1, 1, 4, 4], 'AveragePool auto_pad SAME_UPPER 3x3 stride 2, count_include_pad=1: the added pads count',
         kernel_shape=[3, 3], strides=[2, 2], auto_pad='SAME_UPPER', count_include_pad=1)
    pool('AveragePool_op19_same_lower_cip1', 'AveragePool', 19, [1, 1, 3, 3], 'AveragePool auto_pad SAME_LOWER 2x2 stride 1, count_include_pad=1',
         kernel_shape=[2, 2], strides=[1, 1], auto_pad='SAME_LOWER', count_include_pad=1)
    pool('AveragePool_op19_dilated_ceil_overhang_cip1', 'AveragePool', 19, [1, 1, 8, 8], 'AveragePool 3x3 dilations 2 stride 2 pads 1 ceil_mode=1 count_include_pad=1: '
         'taps past the end padding (ceil_mode overhang) are not counted', kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[2, 2], ceil_mode=1, count_include_pad=1)
    case('GlobalAveragePool_op11_4d', 11, [node('GlobalAveragePool', ['x'])], [1, 3, 4, 5], note='GlobalAveragePool 2-D')
    case('GlobalAveragePool_op13_3d', 13, [node('GlobalAveragePool', ['x'])], [2, 3, 7], note='GlobalAveragePool 1-D spatial, batch 2')
    pool('MaxPool_op11_ceil_drop', 'MaxPool', 11, [1, 2, 5, 5], 'MaxPool 2x2 stride 2 pads 1 ceil_mode=1: the last window would start in the padding and is dropped',
         kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1)
    pool('MaxPool_op13_ceil_no_pads', 'MaxPool', 13, [1, 1, 6, 7], 'MaxPool 3x3 stride 2 ceil_mode=1 without pads (partial last window)',
         kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    pool('MaxPool_op12_dilations_ceil', 'MaxPool', 12, [1, 1, 8, 8], 'MaxPool 2x2 dilations 2 stride 2 pads 1 ceil_mode=1',
         kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[2, 2], ceil_mode=1)
    pool('MaxPool_op8_same_lower', 'MaxPool', 8, [1, 1, 5, 4], 'MaxPool auto_pad SAME_LOWER 3x3 stride 2', kernel_shape=[3, 3], strides=[2, 2], auto_pad='SAME_LOWER')
    r = rng('conv-weights')
    case('Conv_op11_depthwise_dilated', 11, [node('Conv', ['x', 'w', 'b'], group=3, dilations=[2, 2], pads=[2, 2, 2, 2], strides=[2, 1])], [1, 3, 7, 6],
         {'w': r.standard_normal([3, 1, 3, 3]).astype(np.float32), 'b': r.standard_normal([3]).astype(np.float32)}, note='depthwise Conv (group 3) with dilations 2, pads 2, strides [2, 1]')
    case('Conv_op13_group2_multiplier2', 13, [node('Conv', ['x', 'w'], group=2, pads=[1, 0, 0, 1])], [1, 4, 5, 5],
         {'w': r.standard_normal([6, 2, 2, 2]).astype(np.float32)}, note='Conv group 2, 2 input and 3 output channels per group, asymmetric pads, no bias')
    case('Conv_op11_same_lower', 11, [node('Conv', ['x', 'w'], auto_pad='SAME_LOWER', strides=[2, 2])], [1, 2, 6, 5],
         {'w': r.standard_normal([2, 2, 3, 2]).astype(np.float32)}, note='Conv auto_pad SAME_LOWER, stride 2 (onnxruntime refuses dilations with SAME)')
    # Pad
    s = [1, 2, 3, 4]
    case('Pad_op10_attributes', 10, [node('Pad', ['x'], pads=[0, 0, 1, 2, 0, 0, 2, 1], value=0.5)], s, note='Pad before opset 11: pads and value attributes')
    case('Pad_op10_edge', 10, [node('Pad', ['x'], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode='edge')], s, note='Pad edge, attribute form')
    case('Pad_op11_constant_value', 11, [node('Pad', ['x', 'p', 'v'])], s, {'p': i64(0, 0, 1, 1, 0, 0, 1, 1), 'v': scalar_f32(-1.5)}, note='Pad constant with a constant_value input')
    case('Pad_op13_value_omitted', 13, [node('Pad', ['x', 'p', ''])], s, {'p': i64(0, 1, 0, 2, 0, 0, 1, 0)}, note="Pad constant, constant_value omitted (''): 0; channel padding")
    case('Pad_op11_reflect', 11, [node('Pad', ['x', 'p'], mode='reflect')], s, {'p': i64(0, 0, 2, 3, 0, 0, 1, 2)}, note='Pad reflect (pads up to size - 1)')
    case('Pad_op13_edge', 13, [node('Pad', ['x', 'p'], mode='edge')], s, {'p': i64(0, 0, 3, 1, 0, 0, 0, 5)}, note='Pad edge, pads larger than the input')
    case('Pad_op18_axes', 18, [node('Pad', ['x', 'p', 'v', 'ax'])], s, {'p': i64(1, 2, 0, 1), 'v': scalar_f32(3.0), 'ax': i64(3, -2)}, note='Pad with the opset 18 axes input (negative, unsorted)')
    case('Pad_op18_axes_reflect', 18, [node('Pad', ['x', 'p', '', 'ax'], mode='reflect')], s, {'p': i64(2, 1), 'ax': i64(-1)}, note='Pad reflect of the last axis only, constant_value omitted')
    case('Pad_op19_wrap', 19, [node('Pad', ['x', 'p'], mode='wrap')], s, {'p': i64(0, 0, 1, 2, 0, 0, 2, 3)}, note='Pad wrap (opset 19)')
    case('Pad_op11_negative_crop', 11, [node('Pad', ['x', 'p'])], s, {'p': i64(0, 0, -1, 1, 0, 0, 1, -2)}, note='Pad constant with negative pads (crop)')
    case('Pad_op13_negative_edge', 13, [node('Pad', ['x', 'p'], mode='edge')], s, {'p': i64(0, 0, -1, 2, 0, 0, 0, -1)}, note='Pad edge with negative pads: crop, then pad from the cropped edge')
    case('Pad_op13_negative_reflect', 13, [node('Pad', ['x', 'p'], mode='reflect')], s, {'p': i64(0, 0, 0, -1, 0, 0, 1, 1)}, note='Pad reflect with a negative pad on the other side')


def other_ops():
    case('Transpose_op13_default_perm', 13, [node('Transpose', ['x'])], [2, 3, 4], note='Transpose without perm reverses the axes')
    case('Transpose_op13_perm_4d', 13, [node('Transpose', ['x'], perm=[0, 2, 3, 1])], [1, 2, 3, 4], note='Transpose NCHW to NHWC')
    case('Clip_op6_attributes', 6, [node('Clip', ['x'], min=-0.5)], [2, 5], note='Clip before opset 11: min attribute, max default')
    case('Clip_op11_min_input', 11, [node('Clip', ['x', 'lo'])], [2, 5], {'lo': scalar_f32(0.0)}, note='Clip opset 11, min input only (max omitted by position)')
    case('Clip_op12_max_only', 12, [node('Clip', ['x', '', 'hi'])], [2, 5], {'hi': scalar_f32(0.3)}, note="Clip with min omitted ('') and max given")
    case('Clip_op13_both', 13, [node('Clip', ['x', 'lo', 'hi'])], [2, 5], {'lo': scalar_f32(-0.4), 'hi': scalar_f32(0.6)}, note='Clip with both bounds (relu6/hardtanh pattern)')
    case('Clip_op13_none', 13, [node('Clip', ['x'])], [2, 5], note='Clip without bounds is the identity')
    r = rng('bn')
    for rank_shape, tag in [([3, 4], '2d'), ([2, 4, 5], '3d'), ([1, 4, 3, 2], '4d')]:
        c = 4
        params = {'s': r.standard_normal([c]).astype(np.float32), 'b': r.standard_normal([c]).astype(np.float32),
                  'm': r.standard_normal([c]).astype(np.float32), 'v': (np.abs(r.standard_normal([c])) + 0.1).astype(np.float32)}
        for opset in [9, 15]:
            case(f'BatchNormalization_op{opset}_{tag}', opset, [node('BatchNormalization', ['x', 's', 'b', 'm', 'v'], epsilon=1e-3)], rank_shape, params,
                 note=f'BatchNormalization (inference) on a {len(rank_shape)}-D input, epsilon 1e-3')
    case('Squeeze_op11_axes_attr', 11, [node('Squeeze', ['x'], axes=[0, -1])], [1, 3, 1, 1], note='Squeeze axes attribute (negative)')
    case('Squeeze_op13_axes_input', 13, [node('Squeeze', ['x', 'ax'])], [1, 3, 1, 1], {'ax': i64(2)}, note='Squeeze axes input (opset 13)')
    case('Squeeze_op13_no_axes', 13, [node('Squeeze', ['x'])], [1, 3, 1, 2], note='Squeeze without axes: every size-1 axis')
    case('Squeeze_op13_empty_axes_input', 13, [node('Squeeze', ['x', 'ax'])], [1, 3, 1, 2], {'ax': np.zeros([0], np.int64)},
         note='Squeeze with an empty axes input: onnxruntime squeezes every size-1 axis, as without axes')
    empty_axes = node('Squeeze', ['x'])
    empty_axes.attribute.append(oh.make_attribute('axes', [], attr_type=onnx.AttributeProto.INTS))
    case('Squeeze_op11_empty_axes_attr', 11, [empty_axes], [1, 3, 1, 2], note='Squeeze with an empty axes attribute: every size-1 axis')
    case('Unsqueeze_op11_axes_attr', 11, [node('Unsqueeze', ['x'], axes=[0, 3])], [2, 3], note='Unsqueeze axes attribute')
    case('Unsqueeze_op13_axes_input', 13, [node('Unsqueeze', ['x', 'ax'])], [2, 3], {'ax': i64(-1, 1)}, note='Unsqueeze axes input, negative and unsorted')
    for axis in [0, 2, -1, -3, 3]:
        case(f'Flatten_op13_axis{axis}'.replace('-', 'm'), 13, [node('Flatten', ['x'], axis=axis)], [2, 3, 4], note=f'Flatten axis {axis}')
    case('Flatten_op11_default', 11, [node('Flatten', ['x'])], [2, 3, 4], note='Flatten default axis 1')
    case('Reshape_op14_copy_zero', 14, [node('Reshape', ['x', 's'], allowzero=0)], [2, 3, 4], {'s': i64(0, -1, 2)}, note='Reshape 0 copies the input dimension, -1 infers')
    case('Reshape_op14_allowzero_empty', 14, [node('Slice', ['x', 'st', 'en', 'ax'], ['e']), node('Reshape', ['e', 's'], ['r'], allowzero=1), node('Shape', ['r'], ['rs']),
                                              node('Cast', ['rs'], ['y'], to=TP.FLOAT)], [2, 3],
         {'st': i64(0), 'en': i64(0), 'ax': i64(0), 's': i64(3, 0)}, note='Reshape allowzero=1 of an empty [0, 3] to [3, 0] (0 is a size, not a copy)')
    case('Reshape_op14_allowzero_plain', 14, [node('Reshape', ['x', 's'], allowzero=1)], [2, 3, 4], {'s': i64(4, -1)}, note='Reshape allowzero=1 without zeros')


# ---------------------------------------------------------------- real torch.onnx exports

def torch_exports():
    import torch
    import torch.nn as nn
    warnings.filterwarnings('ignore')

    def export(name, make, x_shape, note, dynamo, opset=None, extract=None):
        # The module is made after seeding, so its weights are the same on every run.
        torch.manual_seed(zlib.crc32(name.encode()))
        module = make().eval()
        x = torch.from_numpy(rng(name).standard_normal(x_shape).astype(np.float32))
        path = os.path.join('/tmp', name + '.onnx')
        kwargs = {} if opset is None else {'opset_version': opset}
        torch.onnx.export(module, (x,), path, dynamo=dynamo, **kwargs)
        model = onnx.load(path)
        if extract:
            # A subgraph of the export (e.g. an LSTM's shape subgraph without the LSTM itself).
            model = onnx.shape_inference.infer_shapes(model)
            model = onnx.utils.Extractor(model).extract_model([model.graph.input[0].name], [extract])
        with torch.no_grad():
            expected = module(x).numpy() if not extract else None
        record(name, model, x.numpy(), note, check_reference=extract is not None)
        if expected is not None:
            got = np.array(CASES[-1]['output']['data'], dtype=np.float64).reshape(expected.shape)
            assert np.allclose(got, expected, rtol=1e-4, atol=1e-5), f'{name}: onnxruntime differs from torch'
        ops = sorted({n.op_type for n in model.graph.node})
        CASES[-1]['note'] += f" (ops: {', '.join(ops)})"

    zeropad = lambda: nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(1, 2, 3))
    for opset in [None, 11, 13]:
        export(f'torch_legacy_zeropad2d_conv_op{opset or "default"}', zeropad, [1, 1, 5, 5],
               f'legacy torch.onnx.export(dynamo=False{"" if opset is None else f", opset_version={opset}"}) of nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(1, 2, 3)): '
               'the pads come from a ConstantOfShape/Concat/Reshape/Slice(reverse)/Transpose/Reshape/Cast subgraph', dynamo=False, opset=opset)
    export('torch_dynamo_zeropad2d_conv_op18', zeropad, [1, 1, 5, 5], 'dynamo export (opset 18) of ZeroPad2d + Conv2d', dynamo=True, opset=18)

    class Reductions(nn.Module):
        def forward(self, x):
            pad = torch.nn.functional.pad(x, (1, 1, 0, 0), mode='reflect')[..., 1:-1]
            return x.mean(dim=(2, 3), keepdim=True) + x.sum(-1, keepdim=True).amax(2, keepdim=True) + pad
    for dynamo, opset in [(False, None), (False, 11), (False, 13), (True, 18), (True, 20)]:
        export(f'torch_{"dynamo" if dynamo else "legacy"}_reductions_op{opset or "default"}', Reductions, [1, 2, 4, 4],
               f'{"dynamo" if dynamo else "legacy"} export{"" if opset is None else f" at opset {opset}"} of mean/sum/amax (keepdim) plus a reflect pad and a slice', dynamo=dynamo, opset=opset)

    class Features(nn.Module):
        def __init__(self):
            super().__init__()
            self.dw = nn.Conv2d(3, 3, 3, padding=2, dilation=2, groups=3)
            self.bn = nn.BatchNorm2d(3)
            self.avg = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
            self.max = nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True)
            self.rep = nn.ReplicationPad2d((1, 0, 0, 1))
            self.fc = nn.Linear(3 * 4 * 4, 4)
            self.bn1 = nn.BatchNorm1d(4)
            for bn in [self.bn, self.bn1]:
                bn.running_mean.uniform_(-1, 1)
                bn.running_var.uniform_(0.5, 2)

        def forward(self, x):
            x = torch.nn.functional.relu6(self.bn(self.dw(x)))
            x = self.max(self.rep(self.avg(x)))
            return self.bn1(self.fc(torch.flatten(x, 1)))
    for dynamo, opset in [(False, 11), (False, 13), (False, None), (True, 18), (True, 20)]:
        export(f'torch_{"dynamo" if dynamo else "legacy"}_features_op{opset or "default"}', Features, [1, 3, 9, 9],
               f'{"dynamo" if dynamo else "legacy"} export{"" if opset is None else f" at opset {opset}"}: depthwise dilated Conv2d, BatchNorm2d, ReLU6, AvgPool2d(ceil_mode, count_include_pad=False), '
               'ReplicationPad2d, MaxPool2d(ceil_mode, padding 1), flatten, Linear, BatchNorm1d', dynamo=dynamo, opset=opset)

    class AvgIncludePad(nn.Module):
        def __init__(self):
            super().__init__()
            self.avg = nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=True)

        def forward(self, x):
            return self.avg(x)
    for dynamo, opset in [(False, 13), (True, 18), (True, 20)]:
        export(f'torch_{"dynamo" if dynamo else "legacy"}_avgpool_include_pad_op{opset}', AvgIncludePad, [1, 1, 6, 6],
               f'{"dynamo" if dynamo else "legacy"} export at opset {opset}: AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True)', dynamo=dynamo, opset=opset)

    class RmsNorm(nn.Module):
        def forward(self, x):
            return -x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
    for dynamo, opset in [(False, 13), (False, None), (True, 18)]:
        export(f'torch_{"dynamo" if dynamo else "legacy"}_rmsnorm_op{opset or "default"}', RmsNorm, [2, 3, 5],
               f'{"dynamo" if dynamo else "legacy"} export: -x / sqrt(mean(x^2, -1) + eps) (Neg, Pow, ReduceMean, Add, Sqrt, Div)', dynamo=dynamo, opset=opset)

    class ClampMin(nn.Module):
        def forward(self, x):
            return torch.clamp(x, min=0) + torch.clamp(x, min=-0.5, max=0.5)
    for dynamo, opset in [(False, None), (True, 18), (True, 20)]:
        export(f'torch_{"dynamo" if dynamo else "legacy"}_clamp_op{opset or "default"}', ClampMin, [1, 2, 3, 3],
               f'{"dynamo" if dynamo else "legacy"} export: torch.clamp(x, min=0) + torch.clamp(x, -0.5, 0.5)', dynamo=dynamo, opset=opset)

    class Lstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(4, 3, batch_first=True)

        def forward(self, x):
            return self.lstm(x)[0]
    export('torch_legacy_lstm_state_subgraph_op13', Lstm, [1, 5, 4],
           'the initial-state subgraph of a legacy LSTM export (Shape, Gather, Unsqueeze, Concat, Expand of a zero Constant), cut before the LSTM node',
           dynamo=False, opset=13, extract='/lstm/Expand_output_0')


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith('.onnx'):
            os.remove(os.path.join(OUT, f))
    reductions()
    shape_subgraph_ops()
    spatial_ops()
    other_ops()
    torch_exports()
    import torch
    versions = {'onnx': onnx.__version__, 'onnxruntime': ort.__version__, 'numpy': np.__version__, 'torch': torch.__version__}
    with open(os.path.join(OUT, 'cases.json'), 'w') as f:
        json.dump({'generator': 'tools/make_evaluator_cases.py', 'versions': versions, 'cases': CASES}, f, indent=None, separators=(',', ':'))
        f.write('\n')
    print(f'{len(CASES)} cases written to {OUT}')


if __name__ == '__main__':
    main()
