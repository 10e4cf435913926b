#!/usr/bin/env python3
"""Regenerate the PyTorch 2.x ONNX fixtures (both exporters) of the ONNX -> blob converter.

    /tmp/tv/bin/python tools/make_torch2_fixtures.py [OUTDIR]      # default test/fixtures/torch2

CI does not have torch: the generated files are committed. To rebuild them, make a venv with
torch 2.13 (CPU), onnx, onnxscript, onnxruntime and numpy, e.g. (offline mirrors of this
machine)

    python3 -m venv /tmp/tv
    /tmp/tv/bin/pip install --index-url file:///opt/pypi/simple \\
        --extra-index-url file:///opt/pypi-more/simple --find-links /opt/wheels \\
        torch onnx onnxscript onnxruntime numpy

(or plain `pip install torch onnx onnxscript onnxruntime numpy` from PyPI).

Every model NAME is a small nn.Module written the way users write them, in eval mode, exported
the way a user would export it:

- dynamo (the torch 2.x default): `torch.onnx.export(model, (x,), 'NAME.dynamo.onnx')`. With
  the default `external_data=True` the exporter writes every initializer larger than 256 bytes
  to `NAME.dynamo.onnx.data` next to the model (smaller ones stay inline). A few models are
  also exported with `external_data=False` (`NAME.dynamo-inline.onnx`, all weights inline).
- legacy TorchScript exporter: `torch.onnx.export(model, (x,), 'NAME.legacy.onnx',
  dynamo=False)` at its default opset; some models also with `opset_version=11` / `13`
  (`NAME.legacy-op11.onnx`, `NAME.legacy-op13.onnx`).
- both exporters fold a BatchNorm that directly follows a Conv into that Conv; the
  non-default `optimize=False` (dynamo, `NAME.dynamo-noopt.onnx`, conv_bn_dropout) and
  `do_constant_folding=False` (legacy, `NAME.legacy-nofold.onnx`, conv_bn_dropout and
  depthwise_separable) exports keep the pair.

The dynamo files embed node metadata (`pkg.torch.onnx.stack_trace`, with this script's path
and line numbers and the venv's paths), so they are byte-identical across reruns only for an
unchanged script at the same paths; the legacy files, .data files and .bin files depend only
on the package versions.

If an exporter fails on a model the variant is skipped and the reason is appended to the
notes of that model's other manifest entries (and listed in skipped.json and README.md).

Per model it writes `NAME.input.bin` (the input sample, batch 1, float32 little-endian,
standard normal from numpy.random.RandomState(crc32('input:' + NAME))) and `NAME.expected.bin`
(the PyTorch eval-mode output, flattened float32 LE), shared by all exports of the model.
Weights are seeded with torch.manual_seed(crc32(NAME)); BatchNorm running statistics and
affine parameters are set to random non-trivial values. Every exported file is run with
onnxruntime on the same input and max |ort - torch| is recorded in the manifest.

manifest.json: a list with one entry per exported FILE: name, exporter (dynamo|legacy), file,
kind (ok|refuse), opset (the default-domain opset in the file), input_shape, output_len (ok),
refuse_op (refuse: the op type the refusal must name), ops (top-level node op types in
order), external_data, ort_max_diff, note. README.md is generated from the same notes.
"""

import contextlib
import io
import json
import logging
import sys
import traceback
import warnings
import zlib
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings('ignore')
logging.getLogger('torch.onnx').setLevel(logging.ERROR)  # 'torchvision is not installed'
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT = Path('test/fixtures/torch2')
MANIFEST = []
SKIPPED = []
MODELS = []

# ---------------------------------------------------------------------------------------------
# helpers


def seed_of(key):
    return zlib.crc32(key.encode())


def sample(name, shape):
    rs = np.random.RandomState(seed_of('input:' + name))
    return torch.from_numpy(rs.standard_normal(shape).astype(np.float32))


def randomize_bn(model):
    """Give every BatchNorm random non-trivial statistics and affine parameters (torch RNG,
    already seeded from the model name). At least one channel of each BN gets a negative
    weight, so max-pool / ReLU commuting mistakes show."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c) * 0.5)
                m.running_var.copy_(torch.rand(c) * 1.5 + 0.5)
                w = torch.rand(c) + 0.5
                neg = torch.rand(c) < 0.3
                if c > 1:
                    neg[int(torch.randint(c, (1,)))] = True
                w[neg] = -w[neg]
                m.weight.copy_(w)
                m.bias.copy_(torch.randn(c) * 0.3)


def model(name, shape, kind='ok', refuse_op=None, note='', legacy_opsets=(), inline=False,
          dynamic=False, extra=()):
    """Register a model factory (decorator). `refuse_op` may be a str or a dict per exporter
    ('dynamo'/'legacy', value a str or a callable(ops) -> str)."""
    def deco(factory):
        MODELS.append(dict(name=name, shape=tuple(shape), kind=kind, refuse_op=refuse_op,
                           note=note, legacy_opsets=tuple(legacy_opsets), inline=inline,
                           dynamic=dynamic, extra=tuple(extra), factory=factory))
        return factory
    return deco


# ---------------------------------------------------------------------------------------------
# models the converter must accept (kind ok)


@model('lenet5', (1, 1, 28, 28),
       note='classic LeNet-5 for MNIST: Conv(1,6,5,pad 2) ReLU AvgPool2d(2) Conv(6,16,5) ReLU '
            'AvgPool2d(2) flatten Linear 400-120-84-10 (AveragePool k2 s2 -> rewrite)')
def lenet5():
    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.pool = nn.AvgPool2d(2)
            self.fc1 = nn.Linear(400, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)
    return LeNet5()


class Seq(nn.Module):
    """nn.Sequential whose forward argument is called x (so the dynamo graph input is 'x')."""

    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


@model('avgpool_k3s1_pad1', (1, 1, 12, 12),
       note='Conv ReLU AvgPool2d(3, stride=1, padding=1) (count_include_pad=True: border '
            'windows divide by 9) MaxPool2d(2) flatten Linear')
def avgpool_k3s1_pad1():
    return Seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(3, stride=1, padding=1),
               nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


@model('avgpool_k2s2_odd', (1, 1, 9, 9),
       note='Conv(3) -> 7x7 map, ReLU, AvgPool2d(2) on the odd map (floor: 3x3, last row/col '
            'dropped), flatten Linear')
def avgpool_k2s2_odd():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
               nn.Linear(4 * 3 * 3, 10))


@model('avgpool_first', (1, 1, 16, 16),
       note='AvgPool2d(2) directly on the input, then Conv(pad 1) ReLU MaxPool flatten Linear')
def avgpool_first():
    return Seq(nn.AvgPool2d(2), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


@model('gap_linear', (1, 3, 12, 12), legacy_opsets=(11, 13), inline=True,
       note='Conv ReLU Conv ReLU AdaptiveAvgPool2d(1) flatten Linear(16,10) (global average '
            'pool head)')
def gap_linear():
    return Seq(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2),
               nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


@model('mean_linear', (1, 1, 12, 12), legacy_opsets=(11, 13),
       note='Conv ReLU Conv ReLU x.mean((2, 3)) -> Linear (ReduceMean over H,W without '
            'keepdims: axes attribute below opset 18, axes input from 18)')
def mean_linear():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 8, 3)
            self.c2 = nn.Conv2d(8, 12, 3)
            self.fc = nn.Linear(12, 10)

        def forward(self, x):
            x = F.relu(self.c2(F.relu(self.c1(x))))
            return self.fc(x.mean((2, 3)))
    return M()


@model('mean_keepdim_linear', (1, 1, 12, 12),
       note='Conv ReLU Conv ReLU x.mean((2, 3), keepdim=True) -> flatten -> Linear')
def mean_keepdim_linear():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 8, 3)
            self.c2 = nn.Conv2d(8, 12, 3)
            self.fc = nn.Linear(12, 10)

        def forward(self, x):
            x = F.relu(self.c2(F.relu(self.c1(x))))
            x = x.mean((2, 3), keepdim=True)
            return self.fc(torch.flatten(x, 1))
    return M()


@model('gap_end', (1, 1, 12, 12),
       note='Conv ReLU AdaptiveAvgPool2d(1) flatten: the model ends with the pooled channels '
            '(8 outputs, no Linear after)')
def gap_end():
    return Seq(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())


@model('gap_softmax', (1, 1, 12, 12),
       note='Conv ReLU AdaptiveAvgPool2d(1) flatten softmax(dim=1) (no Linear before Softmax)')
def gap_softmax():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 10, 3)
            self.gap = nn.AdaptiveAvgPool2d(1)

        def forward(self, x):
            x = self.gap(F.relu(self.conv(x)))
            return F.softmax(torch.flatten(x, 1), dim=1)
    return M()


@model('gap_conv1x1_head', (1, 3, 12, 12),
       note='SqueezeNet-style classifier: Conv ReLU AdaptiveAvgPool2d(1) Conv2d(16, 10, 1) '
            'flatten (1x1 conv on a 1x1 map = Linear)')
def gap_conv1x1_head():
    return Seq(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
               nn.Conv2d(16, 10, 1), nn.Flatten())


# Both exporters fold a BatchNorm that directly follows a Conv into the Conv by default; these
# non-default exports keep the Conv -> BatchNormalization pair. (dynamo optimize=False on
# depthwise_separable also builds the zero biases of its bias-less convs with a
# Shape/Expand/CastLike subgraph, so only the legacy one is kept there.)
UNFUSED = (('dynamo', 'dynamo-noopt', {'optimize': False},
            'optimize=False (non-default): Conv -> BatchNormalization kept, Reshape shape built '
            'by Constant + Concat'),
           ('legacy', 'legacy-nofold', {'dynamo': False, 'do_constant_folding': False},
            'do_constant_folding=False (non-default): Conv -> BatchNormalization kept, plus '
            'Identity nodes'))


@model('depthwise_separable', (1, 1, 12, 12), extra=UNFUSED[1:],
       note='Conv(1,8,3,pad 1) ReLU; depthwise Conv(8,8,3,pad 1,groups=8,bias=False) BN ReLU; '
            'pointwise Conv(8,16,1,bias=False) BN ReLU; MaxPool2d(2) flatten Linear '
            '(depthwise conv; by default both exporters fold each BN into its bias-less conv)')
def depthwise_separable():
    return Seq(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
               nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
               nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
               nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 6 * 6, 10))


@model('grouped_conv', (1, 1, 12, 12),
       note='Conv(1,4,3,pad 1) ReLU Conv(4,8,3,groups=2) ReLU MaxPool flatten Linear')
def grouped_conv():
    return Seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 8, 3, groups=2),
               nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 5 * 5, 10))


@model('dilated_conv', (1, 1, 12, 12),
       note='Conv ReLU Conv(4,8,3,dilation=2,padding=2) ReLU MaxPool flatten Linear')
def dilated_conv():
    return Seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
               nn.Conv2d(4, 8, 3, dilation=2, padding=2), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(8 * 6 * 6, 10))


@model('dilated_depthwise', (1, 1, 12, 12),
       note='Conv ReLU depthwise Conv(6,6,3,groups=6,dilation=2,padding=2) ReLU MaxPool '
            'flatten Linear')
def dilated_depthwise():
    return Seq(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(),
               nn.Conv2d(6, 6, 3, groups=6, dilation=2, padding=2), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(6 * 6 * 6, 10))


@model('mobilenet_tiny', (1, 3, 16, 16), legacy_opsets=(11, 13), inline=True,
       note='tiny MobileNet: stem Conv(3,8,3,s2) BN ReLU, two depthwise-separable blocks '
            '(dw 3x3 + pw 1x1, the second dw with stride 2), BN+ReLU everywhere, '
            'AdaptiveAvgPool2d(1) flatten Linear(32,5)')
def mobilenet_tiny():
    def cbr(cin, cout, k, s, groups=1):
        return [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

    class MobileNetTiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                *cbr(3, 8, 3, 2),
                *cbr(8, 8, 3, 1, groups=8), *cbr(8, 16, 1, 1),
                *cbr(16, 16, 3, 2, groups=16), *cbr(16, 32, 1, 1))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(32, 5)

        def forward(self, x):
            x = self.pool(self.features(x))
            return self.classifier(torch.flatten(x, 1))
    return MobileNetTiny()


@model('bn_after_relu', (1, 1, 10, 10),
       note='Conv ReLU BN Conv(padding=1) ReLU flatten Linear: the BN cannot fold exactly into '
            'the padded conv that follows (its shift would also hit the zero padding)')
def bn_after_relu():
    return Seq(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.BatchNorm2d(6), nn.Conv2d(6, 8, 3, padding=1),
               nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 10))


@model('bn_after_relu_pad0', (1, 1, 10, 10),
       note='Conv ReLU BN Conv(padding=0) ReLU flatten Linear: BN folds exactly into the '
            'following unpadded conv')
def bn_after_relu_pad0():
    return Seq(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.BatchNorm2d(6), nn.Conv2d(6, 8, 3),
               nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))


@model('bn_input', (1, 1, 12, 12),
       note='BatchNorm2d(1) on the input, then Conv(padding=1) ReLU MaxPool flatten Linear')
def bn_input():
    return Seq(nn.BatchNorm2d(1), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


@model('bn_before_linear', (1, 1, 12, 12),
       note='Conv ReLU MaxPool flatten BatchNorm1d(100) Linear (BN1d folds into the Linear)')
def bn_before_linear():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
               nn.BatchNorm1d(100), nn.Linear(100, 10))


@model('bn1d_end', (1, 1, 8, 8),
       note='flatten Linear(64,16) ReLU BatchNorm1d(16): the model ends with the BN')
def bn1d_end():
    return Seq(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.BatchNorm1d(16))


@model('bn_before_maxpool', (1, 1, 12, 12),
       note='Conv ReLU BN MaxPool2d(2) flatten Linear (BN has negative scales: it cannot move '
            'past the max pool, only be applied before it)')
def bn_before_maxpool():
    return Seq(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.BatchNorm2d(6), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(6 * 5 * 5, 10))


@model('zeropad_conv', (1, 1, 12, 12), legacy_opsets=(11, 13),
       note='nn.ZeroPad2d(1) then Conv(padding=0) ReLU MaxPool flatten Linear (dynamo folds the '
            'pad into the Conv pads; legacy emits a Pad node)')
def zeropad_conv():
    return Seq(nn.ZeroPad2d(1), nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(4 * 6 * 6, 10))


@model('zeropad_maxpool', (1, 1, 12, 12),
       note='Conv ReLU nn.ZeroPad2d(1) MaxPool2d(2) flatten Linear (zero padding before a max '
            'pool of non-negative values)')
def zeropad_maxpool():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.ZeroPad2d(1), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(4 * 6 * 6, 10))


@model('zeropad_avgpool', (1, 1, 12, 12),
       note='nn.ZeroPad2d(1) AvgPool2d(3, stride=1) on the input (= count_include_pad avg '
            'pool), then Conv ReLU MaxPool flatten Linear')
def zeropad_avgpool():
    return Seq(nn.ZeroPad2d(1), nn.AvgPool2d(3, stride=1), nn.Conv2d(1, 4, 3), nn.ReLU(),
               nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 5 * 5, 10))


@model('nhwc_flatten', (1, 1, 12, 12),
       note='Conv ReLU MaxPool; x.permute(0, 2, 3, 1).reshape(1, -1); Linear (NHWC flatten '
            'order: Transpose + Reshape)')
def nhwc_flatten():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 5 * 5, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv(x)))
            x = x.permute(0, 2, 3, 1).reshape(1, -1)
            return self.fc(x)
    return M()


@model('nhwc_flatten_view', (1, 1, 12, 12),
       note='Conv ReLU MaxPool; x.permute(0, 2, 3, 1).contiguous().view(x.size(0), -1); Linear')
def nhwc_flatten_view():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(4 * 5 * 5, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv(x)))
            x = x.permute(0, 2, 3, 1).contiguous().view(x.size(0), -1)
            return self.fc(x)
    return M()


@model('maxpool_ceil', (1, 1, 9, 9),
       note='Conv -> 7x7 map, ReLU, MaxPool2d(2, ceil_mode=True) -> 4x4, flatten Linear')
def maxpool_ceil():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten(),
               nn.Linear(4 * 4 * 4, 10))


@model('maxpool_ceil_k3s2', (1, 1, 10, 10),
       note='Conv -> 8x8 map, ReLU, MaxPool2d(3, 2, ceil_mode=True) -> 4x4, flatten Linear')
def maxpool_ceil_k3s2():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), nn.Flatten(),
               nn.Linear(4 * 4 * 4, 10))


@model('clamp_min0', (1, 1, 12, 12),
       note='torch.clamp(x, min=0) instead of ReLU after the first conv')
def clamp_min0():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 4, 3)
            self.c2 = nn.Conv2d(4, 8, 3)
            self.fc = nn.Linear(8 * 3 * 3, 10)

        def forward(self, x):
            x = F.max_pool2d(torch.clamp(self.c1(x), min=0), 2)
            x = F.relu(self.c2(x))
            return self.fc(torch.flatten(x, 1))
    return M()


@model('squeeze_unsqueeze', (1, 1, 12, 12),
       note='Conv ReLU MaxPool x.flatten(1).unsqueeze(1) ([1,1,100]) .squeeze(1) Linear (rank '
            'changes around a flatten)')
def squeeze_unsqueeze():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 5 * 5, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            x = x.flatten(1).unsqueeze(1)
            return self.fc(x.squeeze(1))
    return M()


@model('flatten_start_dim2', (1, 1, 12, 12),
       note='Conv ReLU Conv(4->1 channel) then x.flatten(2) ([1,1,100]) -> Linear on the 3-D '
            'tensor (MatMul + Add) -> flatten(1) -> output [1,10]')
def flatten_start_dim2():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 1, 3)
            self.fc = nn.Linear(100, 10)

        def forward(self, x):
            x = self.c2(F.relu(self.c1(x)))
            x = self.fc(x.flatten(2))
            return x.flatten(1)
    return M()


@model('normalize_input', (1, 1, 12, 12),
       note='forward starts with (x - 0.5) / 0.25 (Sub + Div on the input), then Conv(padding=1) '
            'ReLU MaxPool flatten Linear')
def normalize_input():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 6 * 6, 10)

        def forward(self, x):
            x = (x - 0.5) / 0.25
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            return self.fc(torch.flatten(x, 1))
    return M()


@model('scale_mid', (1, 1, 12, 12),
       note='Conv ReLU x * 0.5 + 0.1 (Mul + Add between layers) Conv ReLU flatten Linear')
def scale_mid():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 4, 3)
            self.c2 = nn.Conv2d(4, 8, 3)
            self.fc = nn.Linear(8 * 8 * 8, 10)

        def forward(self, x):
            x = F.relu(self.c1(x))
            x = x * 0.5 + 0.1
            x = F.relu(self.c2(x))
            return self.fc(torch.flatten(x, 1))
    return M()


@model('unflatten', (1, 16),
       note='1x16 vector input: Linear(16,64) ReLU x.view(1, 4, 4, 4) Conv(4,8,3,pad 1) ReLU '
            'flatten Linear(128,3) (Reshape from a vector to a CHW map)')
def unflatten():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(16, 64)
            self.conv = nn.Conv2d(4, 8, 3, padding=1)
            self.fc2 = nn.Linear(8 * 4 * 4, 3)

        def forward(self, x):
            x = F.relu(self.fc1(x)).view(1, 4, 4, 4)
            x = F.relu(self.conv(x))
            return self.fc2(torch.flatten(x, 1))
    return M()


@model('dynamic_batch', (1, 1, 30, 30), dynamic=True,
       note='upstream-like MNIST CNN (Conv(1,4,3) ReLU MaxPool x2, flatten, Linear(288,10)) '
            'exported with a dynamic batch axis (dynamo: dynamic_shapes Dim("batch"); legacy: '
            'input_names=["input"], dynamic_axes={"input": {0: "batch"}}); ORT also checked on '
            'a batch of 3')
def dynamic_batch():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 4, 3)
            self.conv2 = nn.Conv2d(4, 8, 3)
            self.fc = nn.Linear(8 * 6 * 6, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return self.fc(torch.flatten(x, 1))
    return Net()


@model('conv_bn_dropout', (1, 1, 12, 12), extra=UNFUSED,
       note='standard Conv BN ReLU MaxPool Dropout(0.25) flatten Linear ReLU Dropout(0.5) '
            'Linear (dropout vanishes in eval; by default both exporters fold the BN into the '
            'conv)')
def conv_bn_dropout():
    return Seq(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
               nn.Dropout(0.25), nn.Flatten(), nn.Linear(8 * 5 * 5, 32), nn.ReLU(),
               nn.Dropout(0.5), nn.Linear(32, 10))


@model('softmax_head', (1, 1, 14, 14),
       note='classic MNIST CNN: Conv ReLU Conv ReLU MaxPool Dropout flatten Linear ReLU Linear '
            'F.softmax(x, dim=1)')
def softmax_head():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 8, 3)
            self.conv2 = nn.Conv2d(8, 16, 3)
            self.dropout = nn.Dropout(0.25)
            self.fc1 = nn.Linear(16 * 5 * 5, 32)
            self.fc2 = nn.Linear(32, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.relu(self.conv2(x))
            x = self.dropout(F.max_pool2d(x, 2))
            x = F.relu(self.fc1(torch.flatten(x, 1)))
            return F.softmax(self.fc2(x), dim=1)
    return Net()


# ---------------------------------------------------------------------------------------------
# models the converter must refuse (kind refuse)


@model('residual_add', (1, 1, 12, 12), kind='refuse', refuse_op='Add',
       note='residual block: Conv ReLU, y = Conv(pad 1)(x) + x (tensor + tensor Add), ReLU, '
            'flatten Linear')
def residual_add():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(1, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Linear(4 * 12 * 12, 10)

        def forward(self, x):
            x = F.relu(self.c1(x))
            x = F.relu(self.c2(x) + x)
            return self.fc(torch.flatten(x, 1))
    return M()


@model('concat_branch', (1, 1, 12, 12), kind='refuse', refuse_op='Concat',
       note='two conv branches (3x3 and 1x1) concatenated on channels (torch.cat dim=1)')
def concat_branch():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(1, 4, 3, padding=1)
            self.b = nn.Conv2d(1, 4, 1)
            self.fc = nn.Linear(8 * 6 * 6, 10)

        def forward(self, x):
            x = torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], dim=1)
            return self.fc(torch.flatten(F.max_pool2d(x, 2), 1))
    return M()


def act_mid(act):
    return Seq(nn.Conv2d(1, 4, 3), act, nn.Conv2d(4, 8, 3), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


@model('leakyrelu_mid', (1, 1, 12, 12), kind='refuse', refuse_op='LeakyRelu',
       note='Conv nn.LeakyReLU(0.1) Conv ReLU MaxPool flatten Linear')
def leakyrelu_mid():
    return act_mid(nn.LeakyReLU(0.1))


@model('sigmoid_mid', (1, 1, 12, 12), kind='refuse', refuse_op='Sigmoid',
       note='Conv nn.Sigmoid Conv ReLU MaxPool flatten Linear')
def sigmoid_mid():
    return act_mid(nn.Sigmoid())


@model('tanh_mid', (1, 1, 12, 12), kind='refuse', refuse_op='Tanh',
       note='Conv nn.Tanh Conv ReLU MaxPool flatten Linear')
def tanh_mid():
    return act_mid(nn.Tanh())


@model('relu6_mid', (1, 1, 12, 12), legacy_opsets=(11,),
       note='Conv nn.ReLU6 (Clip 0..6) Conv ReLU MaxPool flatten Linear (min(x, 6) = '
            '6 - relu(6 - x): ReLUs with a negation and shift, exact)')
def relu6_mid():
    return act_mid(nn.ReLU6())


@model('upsample_nearest', (1, 1, 8, 8), kind='refuse', refuse_op='Resize',
       note='Conv ReLU nn.Upsample(scale_factor=2, mode="nearest") Conv ReLU flatten Linear')
def upsample_nearest():
    return Seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
               nn.Conv2d(4, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(4 * 7 * 7, 10))


@model('lstm', (1, 8, 6), kind='refuse', refuse_op='LSTM',
       note='sequence model on [1, T=8, F=6]: nn.LSTM(6, 12, batch_first=True), last time '
            'step -> Linear(12, 3)')
def lstm():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(6, 12, batch_first=True)
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])
    return M()


@model('gru', (1, 8, 6), kind='refuse', refuse_op='GRU',
       note='sequence model on [1, T=8, F=6]: nn.GRU(6, 12, batch_first=True), last time '
            'step -> Linear(12, 3)')
def gru():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(6, 12, batch_first=True)
            self.fc = nn.Linear(12, 3)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.fc(out[:, -1])
    return M()


@model('layernorm', (1, 1, 12, 12), kind='refuse', refuse_op='LayerNormalization',
       note='Conv ReLU MaxPool flatten Linear(100,32) nn.LayerNorm(32) ReLU Linear(32,10)')
def layernorm():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(100, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 10))


def asym_pad_op(ops):
    return 'Pad' if 'Pad' in ops else 'Conv'


@model('asym_zeropad', (1, 1, 12, 12),
       note='nn.ZeroPad2d((1, 0, 1, 0)) (left/top only) before Conv(padding=0): asymmetric '
            'padding with the same reach on both axes runs as a 4x4 kernel with padding 1 and '
            'zeros (legacy: a Pad node; dynamo: the Conv carries the pads)')
def asym_zeropad():
    return Seq(nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(4 * 5 * 5, 10))


@model('adaptive_max', (1, 1, 12, 12),
       note='Conv ReLU nn.AdaptiveMaxPool2d(1) flatten Linear (dynamo: ReduceMax over H, W; '
            'legacy: MaxPool over the map): one MaxPool window as large as the map')
def adaptive_max():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3), nn.ReLU(),
               nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(6, 3))


@model('adaptive_avg2', (1, 1, 12, 12),
       note='Conv ReLU nn.AdaptiveAvgPool2d(2) on a 10x10 map (exported as AveragePool k5 s5) '
            'flatten Linear')
def adaptive_avg2():
    return Seq(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(),
               nn.Linear(32, 5))


@model('adaptive_avg3', (1, 1, 12, 12), kind='refuse', refuse_op='GatherND',
       note='nn.AdaptiveAvgPool2d(3) on a 10x10 map: overlapping windows of varying size '
            '(dynamo: Transpose GatherND ReduceMean; the legacy exporter cannot export it)')
def adaptive_avg3():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(3), nn.Flatten(),
               nn.Linear(36, 3))


@model('silu_mid', (1, 1, 12, 12), kind='refuse', refuse_op='Sigmoid',
       note='Conv nn.SiLU (x * sigmoid(x): a Sigmoid on a branch joined by a Mul) flatten '
            'Linear: the refusal names the Sigmoid, not the Mul')
def silu_mid():
    return Seq(nn.Conv2d(1, 4, 3), nn.SiLU(), nn.Flatten(), nn.Linear(4 * 10 * 10, 3))


@model('pad_width_only', (1, 1, 12, 12),
       note='nn.ZeroPad2d((1, 1, 0, 0)) (width only) before a square Conv: no square kernel '
            'with one padding reproduces it, so the padding runs as a Linear that places each '
            'value (exact; its cost is reported)')
def pad_width_only():
    return Seq(nn.ZeroPad2d((1, 1, 0, 0)), nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(4 * 5 * 6, 10))


@model('reflection_pad', (1, 1, 12, 12), kind='refuse', refuse_op='Pad',
       note='nn.ReflectionPad2d(1) before a Conv: reflect mode, the firmware pads with zeros')
def reflection_pad():
    return Seq(nn.ReflectionPad2d(1), nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
               nn.Flatten(), nn.Linear(4 * 6 * 6, 10))


@model('maxpool_pad_negative', (1, 1, 12, 12), kind='refuse', refuse_op='MaxPool',
       note='Conv then MaxPool2d(3, 2, padding=1) with no ReLU between: -inf padding on values '
            'that may be negative, which zero padding does not reproduce')
def maxpool_pad_negative():
    return Seq(nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(3, 2, padding=1), nn.Flatten(),
               nn.Linear(4 * 6 * 6, 10))


@model('resnet_stem', (1, 3, 16, 16),
       note='ResNet-style stem: Conv(3,8,7,stride 2,padding 3) BN ReLU MaxPool2d(3, 2, '
            'padding=1) (zero padding equals -inf padding after the ReLU) flatten Linear')
def resnet_stem():
    return Seq(nn.Conv2d(3, 8, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(8),
               nn.ReLU(), nn.MaxPool2d(3, 2, padding=1), nn.Flatten(), nn.Linear(8 * 4 * 4, 5))


@model('avgpool_nocount_pad', (1, 1, 12, 12), kind='refuse', refuse_op='AveragePool',
       note='Conv ReLU AvgPool2d(3, 1, 1, count_include_pad=False) (border windows divide by '
            'the number of real pixels) MaxPool flatten Linear')
def avgpool_nocount_pad():
    return Seq(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
               nn.AvgPool2d(3, 1, 1, count_include_pad=False), nn.MaxPool2d(2), nn.Flatten(),
               nn.Linear(4 * 6 * 6, 10))


@model('transpose_conv', (1, 1, 12, 10), kind='refuse', refuse_op='Transpose',
       note='x.permute(0, 1, 3, 2) (swap H and W of a 12x10 input) then Conv ReLU MaxPool '
            'flatten Linear')
def transpose_conv():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 4 * 5, 10)

        def forward(self, x):
            x = x.permute(0, 1, 3, 2)
            x = F.max_pool2d(F.relu(self.conv(x)), 2)
            return self.fc(torch.flatten(x, 1))
    return M()


@model('avgpool_ceil_odd', (1, 1, 9, 9), kind='refuse', refuse_op='AveragePool',
       note='Conv -> 7x7 map, ReLU, AvgPool2d(2, ceil_mode=True) -> 4x4 (the border windows '
            'divide by a different count), flatten Linear')
def avgpool_ceil_odd():
    return Seq(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AvgPool2d(2, ceil_mode=True), nn.Flatten(),
               nn.Linear(4 * 4 * 4, 10))


# ---------------------------------------------------------------------------------------------
# export + check


def onnx_info(path):
    m = onnx.load(str(path), load_external_data=False)
    opset = next(o.version for o in m.opset_import if o.domain in ('', 'ai.onnx'))
    ops = [n.op_type if n.domain in ('', 'ai.onnx') else f'{n.domain}:{n.op_type}'
           for n in m.graph.node]
    ext = any(t.data_location == onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
    return opset, ops, ext


def ort_diff(path, x, y):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])
    feed = {sess.get_inputs()[0].name: x.numpy()}
    out = sess.run(None, feed)[0]
    if out.shape != tuple(y.shape):
        raise RuntimeError(f'{path.name}: ORT output shape {out.shape} != torch {tuple(y.shape)}')
    return float(np.max(np.abs(out.astype(np.float64) - y.numpy().astype(np.float64))))


def quiet(fn):
    """Run fn with the exporter's progress prints captured; return (result, captured text)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        return fn(), buf.getvalue()


def export_variants(spec, net, x):
    name = spec['name']
    variants = [('dynamo', f'{name}.dynamo.onnx', {}, '')]
    if spec['inline']:
        variants.append(('dynamo', f'{name}.dynamo-inline.onnx', {'external_data': False},
                         'external_data=False: all initializers inline'))
    variants.append(('legacy', f'{name}.legacy.onnx', {'dynamo': False}, ''))
    for op in spec['legacy_opsets']:
        variants.append(('legacy', f'{name}.legacy-op{op}.onnx',
                         {'dynamo': False, 'opset_version': op}, ''))
    for exporter, suffix, kw, note in spec['extra']:
        variants.append((exporter, f'{name}.{suffix}.onnx', dict(kw), note))
    if spec['dynamic']:
        for exporter, _, kw, _ in variants:
            if exporter == 'dynamo':
                kw['dynamic_shapes'] = {'x': {0: torch.export.Dim('batch')}}
            else:
                kw['input_names'] = ['input']
                kw['dynamic_axes'] = {'input': {0: 'batch'}}
    return variants


def build(spec):
    name = spec['name']
    torch.manual_seed(seed_of(name))
    net = spec['factory']()
    randomize_bn(net)
    net.eval()
    x = sample(name, spec['shape'])
    with torch.no_grad():
        y = net(x)
    np.asarray(x.numpy(), dtype='<f4').tofile(OUT / f'{name}.input.bin')
    np.asarray(y.numpy(), dtype='<f4').reshape(-1).tofile(OUT / f'{name}.expected.bin')

    entries, skipped = [], []
    for exporter, fname, kw, vnote in export_variants(spec, net, x):
        path = OUT / fname
        for stale in (path, Path(str(path) + '.data')):
            if stale.exists():
                stale.unlink()
        try:
            with torch.no_grad():
                _, log = quiet(lambda: torch.onnx.export(net, (x,), str(path), **kw))
        except Exception as e:  # noqa: BLE001 - an exporter failure is recorded, not fatal
            msg = f'{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ""}'
            for stale in (path, Path(str(path) + '.data')):
                if stale.exists():
                    stale.unlink()
            skipped.append(f'{fname} not written, the export failed: {msg[:200]}')
            SKIPPED.append({'name': name, 'exporter': exporter, 'file': fname,
                            'options': {k: str(v) for k, v in kw.items()}, 'reason': msg[:300]})
            print(f'  SKIP {fname}: {msg[:200]}')
            continue
        opset, ops, ext = onnx_info(path)
        data = Path(str(path) + '.data')
        if ext != data.exists():
            raise RuntimeError(f'{fname}: external initializers {ext} but .data file '
                               f'{data.exists()}')
        diff = ort_diff(path, x, y)
        entry = {'name': name, 'exporter': exporter, 'file': fname, 'kind': spec['kind'],
                 'opset': opset, 'input_shape': list(spec['shape'])}
        if spec['kind'] == 'ok':
            entry['output_len'] = int(y.numel())
        else:
            r = spec['refuse_op']
            if isinstance(r, dict):
                r = r[exporter]
            if callable(r):
                r = r(ops)
            if r not in ops:
                print(f'  WARNING {fname}: refuse_op {r} not among ops {ops}')
            entry['refuse_op'] = r
        entry['ops'] = ops
        entry['external_data'] = ext
        if ext:
            entry['external_data_file'] = data.name
        entry['ort_max_diff'] = diff
        options = {k: v for k, v in kw.items() if k != 'dynamo'}
        if options:
            entry['export_options'] = {k: (str(v) if k == 'dynamic_shapes' else v)
                                       for k, v in options.items()}
        if spec['dynamic']:
            entry['dynamic_batch'] = True
            xb = torch.cat([x, sample(name + ':batch3', (2,) + spec['shape'][1:])])
            with torch.no_grad():
                yb = net(xb)
            entry['ort_max_diff_batch3'] = ort_diff(path, xb, yb)
        entry['note'] = spec['note'] + (f'. This file: {vnote}' if vnote else '')
        MANIFEST.append(entry)
        entries.append(entry)
        print(f'  {fname:40s} opset {opset:2d} ext={int(ext)} diff={diff:.2e} {" ".join(ops)}')


    for e in entries:
        for s in skipped:
            e['note'] += f'. NOTE: {s}'


def write_readme():
    lines = [
        '# PyTorch 2.x ONNX fixtures (dynamo and legacy exporters)',
        '',
        'Generated by `tools/make_torch2_fixtures.py`; do not edit by hand. To regenerate '
        '(needs torch, onnx, onnxscript, onnxruntime, numpy; CI does not, the files are '
        'committed):',
        '',
        '```sh',
        'python3 -m venv /tmp/tv',
        '/tmp/tv/bin/pip install torch onnx onnxscript onnxruntime numpy',
        '/tmp/tv/bin/python tools/make_torch2_fixtures.py test/fixtures/torch2',
        '```',
        '',
        f'Made with torch {torch.__version__}, onnx {onnx.__version__}, onnxscript '
        f'{__import__("onnxscript").__version__}, onnxruntime {ort.__version__}, numpy '
        f'{np.__version__}. Weights and inputs are seeded from the model name (crc32), so a '
        'rerun with the same versions writes identical files (the dynamo `.onnx` files embed '
        'node stack traces with the script\'s path and line numbers, so they are identical only '
        'for an unchanged script at the same paths).',
        '',
        'Files per model `NAME`:',
        '',
        '- `NAME.dynamo.onnx` + `NAME.dynamo.onnx.data`: `torch.onnx.export(model, (x,), path)` '
        '(dynamo, the default; the default `external_data=True` moves every initializer larger than '
        '256 bytes to the `.data` file, smaller ones stay inline; graph input named '
        '`x` after the forward argument);',
        '- `NAME.dynamo-inline.onnx` (some models): the same with `external_data=False`;',
        '- `NAME.legacy.onnx`: `torch.onnx.export(model, (x,), path, dynamo=False)` (TorchScript '
        'exporter, default opset); `NAME.legacy-op11.onnx` / `NAME.legacy-op13.onnx` (some '
        'models): the same with `opset_version=11` / `13`;',
        '- `NAME.dynamo-noopt.onnx` / `NAME.legacy-nofold.onnx` (one / two models): `optimize=False` / '
        '`do_constant_folding=False`, which keep the Conv -> BatchNormalization pair that both '
        'exporters otherwise fold;',
        '- `NAME.input.bin`: one input sample, batch 1, raw little-endian float32 (standard '
        'normal), and `NAME.expected.bin`: the PyTorch eval-mode output, flattened float32; '
        'shared by all exports of the model.',
        '',
        '`manifest.json` has one entry per exported file: `name`, `exporter`, `file`, `kind` '
        '(`ok`: the converter must accept it and reproduce `expected.bin`; `refuse`: it must '
        'refuse, naming `refuse_op`), `opset`, `input_shape`, `output_len` (ok), `refuse_op` '
        '(refuse), `ops` (top-level node op types in order), `external_data`, `ort_max_diff` '
        '(max |onnxruntime - torch| on the sample), `export_options` (if any) and `note`. '
        'BatchNorm layers have random running statistics and affine weights (some negative).',
        '',
        'License: generated test data, Apache-2.0 like the rest of the project.',
        '',
        '| file | kind | opset | ops | what it exercises |',
        '|---|---|---|---|---|',
    ]
    for e in MANIFEST:
        extra = f" (refuse: `{e['refuse_op']}`)" if e['kind'] == 'refuse' else ''
        ops = ' '.join(e['ops'])
        lines.append(f"| `{e['file']}` | {e['kind']} | {e['opset']} | {ops} | {e['note']}{extra} |")
    if SKIPPED:
        lines += ['', 'Exports that failed (skipped):', '']
        for s in SKIPPED:
            lines.append(f"- `{s['file']}`: {s['reason']}")
    (OUT / 'README.md').write_text('\n'.join(lines) + '\n')


def main():
    global OUT
    if len(sys.argv) > 3:
        sys.exit('usage: python tools/make_torch2_fixtures.py [OUTDIR]')
    if len(sys.argv) == 2:
        OUT = Path(sys.argv[1])
    OUT.mkdir(parents=True, exist_ok=True)
    only = set(sys.argv[2].split(',')) if len(sys.argv) > 2 else None
    for spec in MODELS:
        if only and spec['name'] not in only:
            continue
        print(spec['name'])
        try:
            build(spec)
        except Exception:
            traceback.print_exc()
            raise
    for e in MANIFEST:
        if e['ort_max_diff'] > 1e-5:
            print(f"NOTE {e['file']}: ort_max_diff {e['ort_max_diff']:.3g}")
    doc = MANIFEST
    (OUT / 'manifest.json').write_text(json.dumps(doc, indent=2) + '\n')
    if SKIPPED:
        (OUT / 'skipped.json').write_text(json.dumps(SKIPPED, indent=2) + '\n')
    write_readme()
    total = sum(f.stat().st_size for f in OUT.iterdir() if f.is_file())
    print(f'{len(MANIFEST)} files in manifest, {len(SKIPPED)} skipped, {total} bytes in {OUT}')


if __name__ == '__main__':
    main()
