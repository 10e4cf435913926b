#!/usr/bin/env python3
"""Regenerate test/fixtures/folding/: small models from PyTorch's legacy exporter whose shape
and pad computations the constant folder (src/core/onnx/foldConstants.ts) must evaluate.

    python3 tools/make_folding_fixtures.py test/fixtures/folding

Needs torch (2.x, with the TorchScript exporter: dynamo=False) and onnx. The tests only read
the committed .onnx files (CI has no Python). Seeded, so a rerun gives the same weights.
"""

import sys
import warnings
from pathlib import Path

import torch
import torch.nn as nn

warnings.filterwarnings('ignore')


class Flatten(nn.Module):
    """x.view(x.size(0), -1) after a Conv."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)

    def forward(self, x):
        y = self.conv(x)
        return y.view(y.size(0), -1)


class LstmZeroState(nn.Module):
    """An LSTM given zero initial states sized from the batch."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 3, batch_first=True)

    def forward(self, x):
        h = torch.zeros(1, x.size(0), 3)
        c = torch.zeros(1, x.size(0), 3)
        return self.lstm(x, (h, c))[0]


def pad_model(padding):
    return nn.Sequential(nn.ZeroPad2d(padding), nn.Conv2d(1, 2, 3))


IMAGE = (1, 1, 8, 8)
# name: (module factory, input shape, export keyword arguments)
MODELS = {
    'zeropad1_default': (lambda: pad_model(1), IMAGE, {}),
    'zeropad1_op11': (lambda: pad_model(1), IMAGE, {'opset_version': 11}),
    'zeropad1_op13': (lambda: pad_model(1), IMAGE, {'opset_version': 13}),
    'zeropad1202_default': (lambda: pad_model((1, 2, 0, 1)), IMAGE, {}),
    'zeropad1_nofold': (lambda: pad_model(1), IMAGE, {'do_constant_folding': False}),
    'view_size0_dynamic': (Flatten, IMAGE, {'input_names': ['x'], 'dynamic_axes': {'x': {0: 'batch'}}}),
    'view_size0_nofold': (Flatten, IMAGE, {'do_constant_folding': False}),
    'lstm_zero_state': (LstmZeroState, (1, 5, 4), {}),
    'lstm_zero_state_dynamic': (LstmZeroState, (1, 5, 4), {'input_names': ['x'], 'dynamic_axes': {'x': {0: 'batch'}}}),
}


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else 'test/fixtures/folding')
    out.mkdir(parents=True, exist_ok=True)
    for name, (make, shape, kwargs) in MODELS.items():
        torch.manual_seed(0)
        model = make().eval()
        torch.onnx.export(model, (torch.randn(*shape),), str(out / f'{name}.onnx'), dynamo=False, **kwargs)
        print(name)


if __name__ == '__main__':
    main()
