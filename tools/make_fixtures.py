#!/usr/bin/python3
"""Regenerate the ONNX test fixtures of the ONNX -> cnn_helper blob converter.

    /usr/bin/python3 tools/make_fixtures.py test/fixtures/models

Needs Debian's python3-torch (1.13), python3-onnx (1.12) and python3-numpy, which work only
with /usr/bin/python3. Everything is seeded, so a rerun gives the same weights, inputs and
reference outputs (the .onnx files embed the producer version, nothing time-dependent).

For every fixture NAME it writes NAME.onnx; for fixtures the converter must accept ("ok")
also NAME.input.bin (one float32 little-endian input sample, batch 1) and NAME.expected.bin
(the reference float32 output, flattened: the PyTorch module in eval mode, or torch
functional ops for hand-built graphs). manifest.json lists all fixtures and README.md
describes them (both generated from the FIXTURES notes below).
"""

import json
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

warnings.filterwarnings('ignore')
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT: Path = Path('.')
MANIFEST = []
# Refused by the first converter, rewritten exactly since converter part 2 (kind 'converts').
CONVERTS = {'refuse_grouped_conv', 'refuse_dilated_conv', 'refuse_ceil_mode', 'refuse_avgpool',
            'refuse_avgpool_default', 'refuse_reshape_not_flatten', 'refuse_asymmetric_pads'}
CONVERTS_NOTE = ('; refused before converter part 2, now rewritten exactly (checked against the '
                 'ONNX evaluator: no PyTorch reference stored)')

# ---------------------------------------------------------------------------------------------
# helpers


def seed(key):
    """Seed torch with a value derived from `key`; return a numpy generator seeded the same."""
    s = zlib.crc32(key.encode())
    torch.manual_seed(s)
    return np.random.RandomState(s)


def sample(key, shape):
    """One seeded input sample: standard normal float32."""
    return torch.from_numpy(np.random.RandomState(zlib.crc32(('input:' + key).encode()))
                            .standard_normal(shape).astype(np.float32))


def write_bins(name, x, y):
    np.asarray(x, dtype='<f4').tofile(OUT / f'{name}.input.bin')
    np.asarray(y, dtype='<f4').reshape(-1).tofile(OUT / f'{name}.expected.bin')


def record(name, kind, opset, input_shape, note, output_len=None, expect=None):
    entry = {'name': name, 'kind': kind, 'opset': opset, 'input_shape': list(input_shape)}
    if kind == 'ok':
        entry['output_len'] = int(output_len)
    else:
        entry['expect'] = expect
    entry['note'] = note
    MANIFEST.append(entry)


def ops_of(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def export(name, model, x, opset, note, *, expect=None, inputs=('input',),
           outputs=('output',), **kw):
    """torch.onnx.export + check; for ok fixtures (expect is None) also the .bin files."""
    path = OUT / f'{name}.onnx'
    model = model.eval()
    torch.onnx.export(model, x, str(path), opset_version=opset, input_names=list(inputs),
                      output_names=list(outputs), do_constant_folding=True, **kw)
    onnx.checker.check_model(str(path))
    first = x[0] if isinstance(x, tuple) else x
    if expect is None:
        with torch.no_grad():
            y = model(x)
        write_bins(name, x, y)
        record(name, 'ok', opset, x.shape, note, output_len=y.numel())
    elif expect in CONVERTS:
        record(name, 'converts', opset, first.shape, note + CONVERTS_NOTE)
    else:
        record(name, 'refuse', opset, first.shape, note, expect=expect)
    return path


def save_graph(name, nodes, inits, x, y, note, *, opset=13, expect=None, check=True,
               out_shape=None, **model_kw):
    """Save a hand-built graph with input 'input' (shape of x) and output 'output'."""
    out_shape = out_shape if out_shape is not None else (list(y.shape) if y is not None else None)
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info('input', TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info('output', TensorProto.FLOAT, out_shape)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) if not isinstance(v, TensorProto)
                     else v for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', opset)],
                              producer_name='make_fixtures.py', **model_kw)
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(OUT / f'{name}.onnx'))
    if expect is None:
        write_bins(name, x, y)
        record(name, 'ok', opset, x.shape, note, output_len=y.numel())
    elif name in CONVERTS:
        record(name, 'converts', opset, x.shape, note + CONVERTS_NOTE)
    else:
        record(name, 'refuse', opset, x.shape, note, expect=expect)


def rand(rng, *shape, scale=0.5):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t(a):
    return torch.from_numpy(np.asarray(a, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# models


def mnist_cnn():
    """The upstream example's architecture, small: 1x30x30 -> 28 -> 14 -> 12 -> 6 -> 4 -> 2."""
    seed('mnist_cnn')    # same weights in every mnist-based fixture
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 2 * 2, 10))


MNIST_X = (1, 1, 30, 30)


class SimpleModel(nn.Module):
    """The seed article's SimpleModel: Conv 1->4 (pad 1), ReLU, view(-1, 3600), Linear."""

    def __init__(self, size0=False):
        super().__init__()
        seed('simple_model')
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 30 * 30, 10)
        self.size0 = size0

    def forward(self, x):
        x = torch.relu(self.conv(x))
        x = x.view(x.size(0), -1) if self.size0 else x.view(-1, 4 * 30 * 30)
        return self.fc(x)


class SmallView(SimpleModel):
    """SimpleModel on 1x1x10x10 (400 features) to keep the view(size(0), -1) variants small."""

    def __init__(self):
        nn.Module.__init__(self)
        seed('small_view')
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 10 * 10, 10)
        self.size0 = True


class MatMulModel(nn.Module):
    def __init__(self, add):
        super().__init__()
        self.W = nn.Parameter(torch.randn(12, 8) * 0.3)
        self.b = nn.Parameter(torch.randn(8) * 0.3) if add else None

    def forward(self, x):
        y = x.flatten(1) @ self.W
        return torch.relu(y + self.b) if self.b is not None else y


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x)) + x


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 4)

    def forward(self, a, b):
        return self.fc(a.flatten(1)) + b


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        return y, torch.relu(y)


class ReshapeNotFlatten(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * 4 * 9, 3)

    def forward(self, x):
        x = self.conv(x).view(1, 2, 8, 18)    # 2x12x12 = 288 values, regrouped
        return self.fc(self.pool(x).flatten(1))


# ---------------------------------------------------------------------------------------------
# "ok" fixtures


def mnist_cnn_fixtures():
    for opset in (11, 13, 17):
        export(f'mnist_cnn_op{opset}', mnist_cnn(), sample('mnist', MNIST_X), opset,
               'upstream-like CNN (Conv/Relu/MaxPool x3, Flatten, Gemm); same weights, input '
               'and expected output in every mnist-based fixture, so their blobs should be identical')


def simple_model_fixtures():
    for opset in (11, 17):
        export(f'simple_model_op{opset}', SimpleModel(), sample('simple', MNIST_X), opset,
               "seed article's SimpleModel: view(-1, 3600) -> Constant + Reshape, Linear 3600->10 "
               '(3600 features do not fit the u8 channel field)')
    path = export('view_size0_op11', SimpleModel(size0=True), sample('simple', MNIST_X), 11,
                  'SimpleModel with x.view(x.size(0), -1): with a static batch torch 1.13 folds '
                  'the shape to Constant -> Reshape (no Shape/Gather chain); same weights/output '
                  'as simple_model_op11')
    assert 'Shape' not in ops_of(path), ops_of(path)
    path = export('view_size0_shape_chain_op11', SmallView(), sample('small_view', (1, 1, 10, 10)),
                  11, 'view(x.size(0), -1) with a dynamic batch axis: '
                  'Shape -> Gather -> Unsqueeze -> Concat(with Constant -1) -> Reshape chain '
                  '(batch fixed to 1 by the converter)',
                  dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
    ops = ops_of(path)
    assert all(o in ops for o in ('Shape', 'Gather', 'Unsqueeze', 'Concat', 'Reshape')), ops
    path = OUT / 'view_size0_nofold_op11.onnx'
    model, x = SmallView().eval(), sample('small_view', (1, 1, 10, 10))
    torch.onnx.export(model, x, str(path), opset_version=11, input_names=['input'],
                      output_names=['output'], do_constant_folding=False)
    onnx.checker.check_model(str(path))
    ops = ops_of(path)
    assert all(o in ops for o in ('Unsqueeze', 'Concat', 'Reshape')), ops
    with torch.no_grad():
        y = model(x)
    write_bins('view_size0_nofold_op11', x, y)
    record('view_size0_nofold_op11', 'ok', 11, x.shape,
           'view(x.size(0), -1) exported with do_constant_folding=False: Constant -> Unsqueeze '
           '-> Concat -> Reshape shape chain (all constants, no Shape op); same weights/output as '
           'view_size0_shape_chain_op11', output_len=y.numel())


def no_bias_fixtures():
    for name, opset in (('no_bias_op13', 13), ('no_bias_matmul_op11', 11)):
        seed('no_bias')
        model = nn.Sequential(nn.Conv2d(1, 3, 3, bias=False), nn.ReLU(), nn.Flatten(),
                              nn.Linear(3 * 6 * 6, 5, bias=False))
        path = export(name, model, sample('no_bias', (1, 1, 8, 8)), opset,
                      'Conv without bias (2 inputs) and Linear(bias=False), which torch 1.13 '
                      f'exports at opset {opset} as MatMul with a transposed (in,out) initializer, '
                      'not Gemm: the converter must write zero biases')
        assert ops_of(path) == ['Conv', 'Relu', 'Flatten', 'MatMul'], ops_of(path)


def conv_stride2():
    seed('conv_stride2')
    model = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 5 * 5, 3))
    export('conv_stride2_op13', model, sample('conv_stride2', (1, 2, 9, 9)), 13,
           'Conv stride 2, padding 1 (9x9 -> 5x5), two input channels')


def maxpool_fixtures():
    seed('maxpool_stride1')
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, stride=1), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 4))
    export('maxpool_stride1_op13', model, sample('maxpool_stride1', (1, 1, 7, 7)), 13,
           'MaxPool kernel 2 stride 1 (overlapping windows, 5x5 -> 4x4)')
    seed('maxpool_k3s2')
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(3, stride=2), nn.Flatten(),
                          nn.Linear(2 * 4 * 4, 4))
    export('maxpool_k3s2_op13', model, sample('maxpool_k3s2', (1, 1, 11, 11)), 13,
           'MaxPool kernel 3 stride 2 on a 2x9x9 conv output (-> 2x4x4)')


def dense_softmax():
    seed('dense_softmax')
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10),
                          nn.Softmax(dim=1))
    export('dense_softmax_op13', model, sample('dense_softmax', (1, 1, 8, 8)), 13,
           'dense only, input (64) larger than every layer output: the converter must prepend '
           'a shape-keeping Flatten so the firmware scratch is big enough; ends in Softmax')


def matmul_fixtures():
    seed('matmul_add')
    path = export('matmul_add_op13', MatMulModel(add=True), sample('matmul', (1, 12)), 13,
                  'x.flatten(1) @ W + b, ReLU: Flatten(on 2-D) + MatMul with (in,out) weights '
                  '+ Add of the bias initializer; 2-D input 1x12')
    assert ops_of(path) == ['Flatten', 'MatMul', 'Add', 'Relu'], ops_of(path)
    seed('matmul_add')
    path = export('matmul_noadd_op13', MatMulModel(add=False), sample('matmul', (1, 12)), 13,
                  'x.flatten(1) @ W only: MatMul without bias (converter writes a zero bias); '
                  'same W as matmul_add_op13')
    assert ops_of(path) == ['Flatten', 'MatMul'], ops_of(path)


def dropout_identity():
    # torch 1.13 removes nn.Dropout and nn.Identity from eval-mode exports, so build the graph.
    rng = seed('dropout_identity')
    w, b = rand(rng, 2, 1, 3, 3), rand(rng, 2)
    fw, fb = rand(rng, 3, 2 * 6 * 6, scale=0.2), rand(rng, 3)
    false = helper.make_tensor('false_value', TensorProto.BOOL, [], [False])
    nodes = [
        helper.make_node('Conv', ['input', 'w', 'b'], ['c'], kernel_shape=[3, 3]),
        helper.make_node('Dropout', ['c', 'ratio'], ['d1']),
        helper.make_node('Identity', ['d1'], ['i1']),
        helper.make_node('Relu', ['i1'], ['r']),
        helper.make_node('Constant', [], ['training_mode'], value=false),
        helper.make_node('Dropout', ['r', 'ratio', 'training_mode'], ['d2', 'mask']),
        helper.make_node('Flatten', ['d2'], ['f']),
        helper.make_node('Gemm', ['f', 'fw', 'fb'], ['output'], transB=1),
    ]
    x = sample('dropout_identity', (1, 1, 8, 8))
    y = F.linear(F.relu(F.conv2d(x, t(w), t(b))).flatten(1), t(fw), t(fb))
    save_graph('dropout_identity_op13', nodes, {'w': w, 'b': b, 'ratio': np.float32(0.5),
                                                'fw': fw, 'fb': fb}, x, y,
               'hand-built (torch 1.13 drops them from eval exports): Dropout(ratio input, no '
               'training_mode), Identity, Dropout(ratio, training_mode from a Constant False, '
               'unused mask output) - all no-ops in inference')


def batchnorm_fixtures():
    rng = seed('batchnorm_conv')
    w, b = rand(rng, 3, 1, 3, 3), rand(rng, 3)
    scale, bias = (1 + rand(rng, 3)), rand(rng, 3)
    mean, var = rand(rng, 3), (0.5 + rng.uniform(size=3)).astype(np.float32)
    fw, fb = rand(rng, 4, 3 * 6 * 6, scale=0.2), rand(rng, 4)
    nodes = [
        helper.make_node('Conv', ['input', 'w', 'b'], ['c'], kernel_shape=[3, 3],
                         pads=[0, 0, 0, 0], strides=[1, 1]),
        helper.make_node('BatchNormalization', ['c', 'scale', 'bias', 'mean', 'var'], ['n'],
                         epsilon=1e-3),
        helper.make_node('Relu', ['n'], ['r']),
        helper.make_node('Flatten', ['r'], ['f'], axis=1),
        helper.make_node('Gemm', ['f', 'fw', 'fb'], ['output'], transB=1),
    ]
    x = sample('batchnorm_conv', (1, 1, 8, 8))
    c = F.conv2d(x, t(w), t(b))
    n = F.batch_norm(c, t(mean), t(var), t(scale), t(bias), training=False, eps=1e-3)
    y = F.linear(F.relu(n).flatten(1), t(fw), t(fb))
    save_graph('batchnorm_conv_op13', nodes,
               {'w': w, 'b': b, 'scale': scale, 'bias': bias, 'mean': mean, 'var': var,
                'fw': fw, 'fb': fb}, x, y,
               'hand-built Conv + BatchNormalization (epsilon 1e-3, non-trivial mean/var/scale/'
               'bias; torch folds BatchNorm2d into the Conv on export) + Relu + Flatten + Gemm')

    seed('batchnorm_linear')
    model = nn.Sequential(nn.Linear(12, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    with torch.no_grad():
        bn = model[1]
        bn.weight.copy_(1 + 0.3 * torch.randn(6))
        bn.bias.copy_(0.3 * torch.randn(6))
        bn.running_mean.copy_(0.3 * torch.randn(6))
        bn.running_var.copy_(0.5 + torch.rand(6))
    path = export('batchnorm_linear_op13', model, sample('batchnorm_linear', (1, 12)), 13,
                  'Linear -> BatchNorm1d (eval, non-trivial stats) -> ReLU -> Linear: torch 1.13 '
                  'keeps BatchNormalization on the 2-D Gemm output (eps 1e-5); 2-D input 1x12')
    assert 'BatchNormalization' in ops_of(path), ops_of(path)

    seed('batchnorm_linear')
    model = nn.Sequential(nn.Linear(12, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 3))
    path = export('batchnorm_default_stats_op13', model, sample('batchnorm_linear', (1, 12)), 13,
                  'as batchnorm_linear_op13 but a fresh BatchNorm1d (scale 1, bias 0, mean 0, '
                  'var 1): torch dedups equal initializers, so running_mean/var come from '
                  'Identity nodes applied to the scale/bias initializers')
    assert ops_of(path)[:2] == ['Identity', 'Identity'], ops_of(path)


def gemm_fixtures():
    rng = seed('gemm_transb0_alpha')
    B, C = rand(rng, 18, 6), rand(rng, 6)
    nodes = [helper.make_node('Flatten', ['input'], ['f']),
             helper.make_node('Gemm', ['f', 'B', 'C'], ['output'], transB=0, alpha=0.5, beta=2.0)]
    x = sample('gemm_transb0_alpha', (1, 2, 3, 3))
    y = 0.5 * (x.flatten(1) @ t(B)) + 2.0 * t(C)
    save_graph('gemm_transb0_alpha_op13', nodes, {'B': B, 'C': C}, x, y,
               'hand-built Flatten + Gemm transB=0 (B stored (in,out)), alpha=0.5, beta=2.0, '
               'C of shape (out,): converter must transpose B and scale weights/bias')
    rng = seed('gemm_noc')
    B = rand(rng, 6, 18)
    nodes = [helper.make_node('Flatten', ['input'], ['f']),
             helper.make_node('Gemm', ['f', 'B'], ['output'], transB=1)]
    x = sample('gemm_noc', (1, 2, 3, 3))
    y = F.linear(x.flatten(1), t(B))
    save_graph('gemm_noc_op13', nodes, {'B': B}, x, y,
               'hand-built Flatten + Gemm transB=1 without C: converter must write a zero bias')


def conv_autopad_fixtures():
    for mode, pad, hw in (('SAME_UPPER', 1, 6), ('VALID', 0, 4)):
        name = f'conv_autopad_{mode.split("_")[0].lower()}_op13'
        rng = seed(name)
        w, b = rand(rng, 3, 2, 3, 3), rand(rng, 3)
        fw, fb = rand(rng, 4, 3 * hw * hw, scale=0.2), rand(rng, 4)
        # SAME_UPPER gives kernel_shape explicitly; VALID leaves it to the weight shape.
        conv_kw = {'kernel_shape': [3, 3]} if mode == 'SAME_UPPER' else {}
        nodes = [helper.make_node('Conv', ['input', 'w', 'b'], ['c'], auto_pad=mode, **conv_kw),
                 helper.make_node('Relu', ['c'], ['r']),
                 helper.make_node('Flatten', ['r'], ['f']),
                 helper.make_node('Gemm', ['f', 'fw', 'fb'], ['output'], transB=1)]
        x = sample(name, (1, 2, 6, 6))
        y = F.linear(F.relu(F.conv2d(x, t(w), t(b), padding=pad)).flatten(1), t(fw), t(fb))
        save_graph(name, nodes, {'w': w, 'b': b, 'fw': fw, 'fb': fb}, x, y,
                   f'hand-built Conv auto_pad={mode}, kernel 3, stride 1 (= padding {pad} on '
                   'every side)' + ('' if conv_kw else '; no kernel_shape attribute (from W)'))


def softmax_fixtures():
    for opset in (11, 17):
        seed('softmax_cnn')
        model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(2 * 3 * 3, 5), nn.Softmax(dim=1))
        export(f'softmax_op{opset}', model, sample('softmax_cnn', (1, 1, 8, 8)), opset,
               f'small CNN ending in Softmax(axis=1) on the 2-D Gemm output at opset {opset} '
               '(axis 1 = last axis' + (', 2-D coercion semantics of opset < 13)'
                                        if opset < 13 else ')'))


def init_storage_fixtures():
    """The mnist_cnn_op13 model with its initializers stored in other ways."""
    x = sample('mnist', MNIST_X)
    model = mnist_cnn().eval()
    tmp = OUT / 'init_base.onnx'
    torch.onnx.export(model, x, str(tmp), opset_version=13, input_names=['input'],
                      output_names=['output'], do_constant_folding=True)
    base = onnx.load(str(tmp))
    tmp.unlink()
    with torch.no_grad():
        y = model(x)

    def variant(name, convert, y_ref, note, check=True):
        m = onnx.ModelProto()
        m.CopyFrom(base)
        inits = [convert(i, numpy_helper.to_array(i)) for i in m.graph.initializer]
        del m.graph.initializer[:]
        m.graph.initializer.extend(inits)
        if check:
            onnx.checker.check_model(m)
        onnx.save(m, str(OUT / f'{name}.onnx'))
        write_bins(name, x, y_ref)
        record(name, 'ok', 13, x.shape, note, output_len=y_ref.numel())

    variant('init_float_data',
            lambda i, a: helper.make_tensor(i.name, TensorProto.FLOAT, a.shape, a.ravel().tolist()),
            y, 'mnist_cnn_op13 with every initializer in the typed float_data field instead of '
               'raw_data; same expected output (and blob) as mnist_cnn_op13')

    # float16: weights (4-D conv, 2-D Gemm) as raw_data, biases (1-D) in the typed int32_data
    # field (ONNX stores float16 bit patterns there). Not strictly valid ONNX (Conv/Gemm would
    # need all-float16 operands), so the converter upcasts; onnx's checker does not infer types.
    def to_f16(i, a):
        if a.ndim > 1:
            return numpy_helper.from_array(a.astype(np.float16), i.name)
        return helper.make_tensor(i.name, TensorProto.FLOAT16, a.shape, a.astype(np.float16))
    half = mnist_cnn().eval()
    with torch.no_grad():
        for p in half.parameters():
            p.copy_(p.half().float())
        y16 = half(x)
    variant('init_float16', to_f16, y16,
            'FLOAT16 initializers (weights in raw_data, biases in int32_data as bit patterns) '
            'with float32 input/compute: converter upcasts; reference = torch model with '
            'weights rounded to float16 and back')

    # float64: values just off the float32 grid (relative 2^-30), which round back to the
    # original float32 weights; weights as raw_data, biases in the typed double_data field.
    def to_f64(i, a):
        d = a.astype(np.float64) * (1 + 2.0 ** -30)
        assert np.array_equal(d.astype(np.float32), a)
        if a.ndim > 1:
            return numpy_helper.from_array(d, i.name)
        return helper.make_tensor(i.name, TensorProto.DOUBLE, a.shape, d.ravel().tolist())
    variant('init_float64', to_f64, y,
            'DOUBLE initializers (weights raw_data, biases double_data) whose float64->float32 '
            'rounding gives exactly the mnist_cnn_op13 weights: same expected output and blob')

    # external data: everything (size_threshold=0) in one file next to the model. onnx 1.12
    # appends to an existing data file, so remove the old one first.
    weights = OUT / 'external_data.weights'
    if weights.exists():
        weights.unlink()
    m = onnx.ModelProto()
    m.CopyFrom(base)
    onnx.save_model(m, str(OUT / 'external_data.onnx'), save_as_external_data=True,
                    all_tensors_to_one_file=True, location='external_data.weights',
                    size_threshold=0)
    onnx.checker.check_model(str(OUT / 'external_data.onnx'))
    write_bins('external_data', x, y)
    record('external_data', 'ok', 13, x.shape,
           'mnist_cnn_op13 with all initializers in external_data.weights (external_data '
           'location/offset/length entries); same expected output and blob as mnist_cnn_op13',
           output_len=y.numel())


def batch_dynamic():
    export('batch_dynamic_op13', mnist_cnn(), sample('mnist', MNIST_X), 13,
           'mnist_cnn_op13 with a dynamic batch axis (dim_param "batch" on input and output): '
           'the converter fixes it to 1; same expected output and blob as mnist_cnn_op13',
           dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})


def opset18():
    # torch 1.13 exports opsets <= 17 only, and onnx 1.12 knows opsets <= 17. Conv, Relu,
    # MaxPool, Flatten and Gemm are unchanged at opset 18 (only Reduce*/Pad/Split/... changed),
    # so the opset-17 export relabelled 18 (with IR version 8, as onnx 1.13 writes for opset 18)
    # is a valid opset-18 model; onnx 1.12's checker cannot validate it.
    m = onnx.load(str(OUT / 'mnist_cnn_op17.onnx'))
    m.opset_import[0].version = 18
    m.ir_version = 8
    onnx.save(m, str(OUT / 'opset18_cnn.onnx'))
    x = sample('mnist', MNIST_X)
    with torch.no_grad():
        y = mnist_cnn().eval()(x)
    write_bins('opset18_cnn', x, y)
    record('opset18_cnn', 'ok', 18, x.shape,
           'mnist_cnn_op17 relabelled opset 18, IR 8 (torch 1.13 cannot export 18; none of its '
           'ops changed at 18); not checkable with onnx 1.12; same output and blob as mnist_cnn',
           output_len=y.numel())


# ---------------------------------------------------------------------------------------------
# "refuse" fixtures


def refuse(name, model, shape, expect, note, opset=13, **kw):
    seed(name)
    model = model()    # built after seeding
    x = tuple(sample(name + str(i), s) for i, s in enumerate(shape)) \
        if isinstance(shape[0], tuple) else sample(name, shape)
    export(name, model, x, opset, note, expect=name if name in CONVERTS else expect, **kw)


def refuse_fixtures():
    refuse('refuse_grouped_conv',
           lambda: nn.Sequential(nn.Conv2d(4, 4, 3, groups=2), nn.ReLU()),
           (1, 4, 6, 6), 'group', 'Conv with group=2')
    refuse('refuse_dilated_conv',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.ReLU()),
           (1, 1, 9, 9), 'dilation', 'Conv with dilations [2, 2]')
    refuse('refuse_ceil_mode',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, ceil_mode=True)),
           (1, 1, 9, 9), 'ceil', 'MaxPool ceil_mode=1 on a 7x7 map (4x4 output needs a partial '
                                 'window)')
    # count_include_pad=False: with the default (True) torch 1.13 puts a Pad node before the
    # AveragePool (that export is refuse_avgpool_default below).
    refuse('refuse_avgpool',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2, count_include_pad=False)),
           (1, 1, 8, 8), 'averagepool', 'AveragePool alone (AvgPool2d(2, count_include_pad='
                                        'False)): unsupported op')
    refuse('refuse_avgpool_default',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2)),
           (1, 1, 8, 8), 'pad', 'plain AvgPool2d(2): torch 1.13 emits Constant -> Pad -> '
                                'AveragePool; the first unsupported op is Pad')
    refuse('refuse_sigmoid',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sigmoid()),
           (1, 1, 8, 8), 'sigmoid', 'Sigmoid (unsupported op)')
    refuse('refuse_residual', Residual, (1, 2, 6, 6), 'chain',
           'relu(conv(x)) + x: Add of two activations, the graph is not a chain')
    refuse('refuse_two_inputs', TwoInputs, ((1, 1, 4, 4), (1, 4)), 'input',
           'forward(a, b): two graph inputs (input, input2; Gemm + Add of input2)',
           inputs=('input', 'input2'))
    refuse('refuse_two_outputs', TwoOutputs, (1, 1, 6, 6), 'output',
           'returns (conv(x), relu(conv(x))): two graph outputs', outputs=('output', 'output2'))
    refuse('refuse_batch2',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 3)),
           (2, 1, 8, 8), 'batch', 'static batch size 2 (input 2x1x8x8)')
    refuse('refuse_dynamic_hw',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()),
           (1, 1, 8, 8), 'dynamic', 'dynamic H and W (dim_params "h", "w" on input and output)',
           dynamic_axes={'input': {2: 'h', 3: 'w'}, 'output': {2: 'oh', 3: 'ow'}})
    refuse('refuse_channels_300',
           lambda: nn.Sequential(nn.Conv2d(1, 300, 1), nn.ReLU()),
           (1, 1, 2, 2), '255', 'Conv with 300 output channels: does not fit the u8 field')
    refuse('refuse_relu_too_big',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU()),
           (1, 1, 200, 200), '65535', 'ReLU over 2x200x200 = 80000 values: the engine counts in '
                                      'a uint16')
    refuse('refuse_softmax_axis',
           lambda: nn.Sequential(nn.Conv2d(1, 3, 1), nn.Softmax(dim=1)),
           (1, 1, 4, 4), 'axis', 'Softmax(axis=1) of a 1x3x4x4 tensor: per-pixel softmax over '
                                 'channels, not over all values')
    refuse('refuse_maxpool_pads',
           lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, padding=1)),
           (1, 1, 8, 8), 'pad', 'MaxPool with pads [1, 1, 1, 1] (the engine pools without '
                                'padding)')
    refuse('refuse_reshape_not_flatten', ReshapeNotFlatten, (1, 1, 12, 12), 'reshape',
           'after Conv (2x12x12) a Reshape to 1x2x8x18 followed by MaxPool: not a flatten')

    # hand-built: Conv with pads [top, left, bottom, right] = [0, 0, 1, 1]
    rng = seed('refuse_asymmetric_pads')
    w, b = rand(rng, 2, 1, 3, 3), rand(rng, 2)
    nodes = [helper.make_node('Conv', ['input', 'w', 'b'], ['c'], kernel_shape=[3, 3],
                              pads=[0, 0, 1, 1]),
             helper.make_node('Relu', ['c'], ['output'])]
    save_graph('refuse_asymmetric_pads', nodes, {'w': w, 'b': b},
               sample('refuse_asymmetric_pads', (1, 1, 6, 6)), None,
               'hand-built Conv with pads [0, 0, 1, 1] (padding only at the bottom/right)',
               expect='pad', out_shape=[1, 2, 5, 5])


# ---------------------------------------------------------------------------------------------


def write_readme():
    lines = [
        '# ONNX fixtures for the blob converter',
        '',
        'Generated by `tools/make_fixtures.py`; do not edit by hand. To regenerate:',
        '',
        '```sh',
        '/usr/bin/python3 tools/make_fixtures.py test/fixtures/models',
        '```',
        '',
        f'Made with torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__} '
        '(Debian packages python3-torch, python3-onnx, python3-numpy, for /usr/bin/python3).',
        'Weights and inputs are seeded (a crc32 of a per-fixture key), so a rerun writes '
        'identical `.bin` files and identical `.onnx` files for the same package versions.',
        '',
        'Files per fixture `NAME`:',
        '',
        '- `NAME.onnx` (plus `external_data.weights` for `external_data`);',
        '- for `ok` fixtures, `NAME.input.bin`: one input sample, batch 1, raw little-endian '
        'float32 (standard normal values), and `NAME.expected.bin`: the reference output, '
        'raw float32, flattened, computed by the PyTorch module in eval mode (hand-built graphs: '
        'torch functional ops on the same weights).',
        '',
        '`manifest.json` lists every fixture: `name`, `kind` (`ok`: the converter must accept '
        'it and the blob must reproduce `expected.bin`; `refuse`: the converter must refuse it '
        'with a message containing `expect`, case-insensitively), `opset`, `input_shape`, '
        '`output_len` (ok) and `note`. The opset-11/13/17/18 mnist fixtures, `init_float_data`, '
        '`init_float64`, `external_data` and `batch_dynamic_op13` hold the same weights, input '
        'and expected output, so their blobs should be byte-identical.',
        '',
        '| fixture | kind | opset | what it exercises |',
        '|---|---|---|---|',
    ]
    for e in MANIFEST:
        extra = f" (expect `{e['expect']}`)" if e['kind'] == 'refuse' else ''
        lines.append(f"| `{e['name']}` | {e['kind']} | {e['opset']} | {e['note']}{extra} |")
    (OUT / 'README.md').write_text('\n'.join(lines) + '\n')


def main():
    global OUT
    if len(sys.argv) != 2:
        sys.exit('usage: /usr/bin/python3 tools/make_fixtures.py OUTPUT_DIR')
    OUT = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    for make in (mnist_cnn_fixtures, simple_model_fixtures, no_bias_fixtures, conv_stride2,
                 maxpool_fixtures, dense_softmax, matmul_fixtures, dropout_identity,
                 batchnorm_fixtures, gemm_fixtures, conv_autopad_fixtures, softmax_fixtures,
                 init_storage_fixtures, batch_dynamic, opset18, refuse_fixtures):
        make()
    (OUT / 'manifest.json').write_text(json.dumps(MANIFEST, indent=2) + '\n')
    write_readme()
    total = sum(f.stat().st_size for f in OUT.iterdir() if f.is_file())
    print(f'{len(MANIFEST)} fixtures, {total} bytes in {OUT}')


if __name__ == '__main__':
    main()
