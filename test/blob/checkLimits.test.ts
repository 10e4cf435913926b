// checkLimits (layers from lowering, before encoding): refusals name the ONNX node or the
// layer, and u8/u16 messages name the field and the limit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkLimits, recordProblems } from '../../src/core/blob/checkLimits.js';
import { LayerType, type Layer } from '../../src/core/blob/blobFormat.js';
import { FirmwareLimitError } from '../../src/core/errors.js';
import { shape } from '../support/blobBuilder.js';

const { Conv2D, MaxPool2D, ReLU, Flatten, Linear, Softmax } = LayerType;

function conv(overrides: Partial<Layer> = {}): Layer {
  return {
    type: Conv2D, in: shape(1, 8, 8), out: shape(2, 8, 8), kernel: 3, stride: 1, padding: 1,
    weights: new Float32Array(18), bias: new Float32Array(2),
    sources: [{ name: '/conv1/Conv', index: 3, op: 'Conv' }], ...overrides,
  };
}

function refusal(pattern: RegExp, check?: (e: FirmwareLimitError) => void) {
  return (error: unknown) => {
    assert.ok(error instanceof FirmwareLimitError, String(error));
    assert.match(error.message, pattern);
    check?.(error);
    return true;
  };
}

describe('checkLimits', () => {
  it('accepts a valid chain', () => {
    assert.doesNotThrow(() => checkLimits([
      conv(),
      { type: ReLU, in: shape(2, 8, 8), out: shape(2, 8, 8), kernel: 0, stride: 1, padding: 0, sources: [] },
      { type: MaxPool2D, in: shape(2, 8, 8), out: shape(2, 4, 4), kernel: 2, stride: 2, padding: 0, sources: [] },
    ]));
  });

  it('names the ONNX node (name, #index, op) that made the layer', () => {
    assert.throws(() => checkLimits([conv({ out: shape(300, 8, 8) })]), refusal(/^node '\/conv1\/Conv' \(#3, Conv\): output channels 300 exceeds the firmware's limit of 255$/, (e) => {
      assert.deepEqual(e.node, { name: '/conv1/Conv', index: 3, op: 'Conv' });
      assert.ok(e.hint);
    }));
  });

  it('names the layer (index and type) when no ONNX node made it', () => {
    const layers: Layer[] = [
      { type: Flatten, in: shape(1, 8, 8), out: shape(1, 8, 8), kernel: 0, stride: 1, padding: 0, sources: [] },
      { type: ReLU, in: shape(1, 1, 70000), out: shape(1, 1, 70000), kernel: 0, stride: 1, padding: 0, sources: [] },
    ];
    assert.throws(() => checkLimits(layers), refusal(/^layer 1 \(ReLU\): input width 70000 exceeds the firmware's limit of 65535$/, (e) => {
      assert.equal(e.node, undefined);
    }));
  });

  it('u8 fields: each message names the field and 255', () => {
    const cases: [Partial<Layer>, string][] = [
      [{ in: shape(256, 8, 8) }, 'input channels 256'],
      [{ out: shape(256, 8, 8) }, 'output channels 256'],
      [{ kernel: 256 }, 'kernel size 256'],
      [{ stride: 300 }, 'stride 300'],
      [{ padding: 256 }, 'padding 256'],
    ];
    for (const [overrides, text] of cases) {
      assert.throws(() => checkLimits([conv(overrides)]), refusal(new RegExp(`${text} exceeds the firmware's limit of 255`)), text);
    }
  });

  it('u16 fields: each message names the field and 65535', () => {
    const cases: [Partial<Layer>, string][] = [
      [{ in: shape(1, 65536, 1) }, 'input height 65536'],
      [{ in: shape(1, 1, 65536) }, 'input width 65536'],
      [{ out: shape(2, 70000, 8) }, 'output height 70000'],
      [{ out: shape(2, 8, 65536) }, 'output width 65536'],
    ];
    for (const [overrides, text] of cases) {
      assert.throws(() => checkLimits([conv(overrides)]), refusal(new RegExp(`${text} exceeds the firmware's limit of 65535`)), text);
    }
  });

  it('16-bit element counts of ReLU, Softmax and Linear', () => {
    const src = [{ name: 'big', index: 7, op: 'Relu' }];
    const big = shape(2, 200, 200);
    for (const type of [ReLU, Softmax]) {
      assert.throws(() => checkLimits([{ type, in: big, out: big, kernel: 0, stride: 1, padding: 0, sources: src }]),
        refusal(/^node 'big' \(#7, Relu\): .*element count 80000 exceeds 65535: the firmware counts it in 16 bits and would process only 14464$/));
    }
    const linear: Layer = { type: Linear, in: shape(2, 1, 40000), out: shape(10), kernel: 0, stride: 1, padding: 0, sources: [{ name: 'fc', index: 9, op: 'Gemm' }] };
    assert.throws(() => checkLimits([linear]), refusal(/^node 'fc' \(#9, Gemm\): Linear in_features 80000 exceeds 65535/));
  });

  it('refuses a chain whose shapes disagree, naming the later node', () => {
    const relu: Layer = { type: ReLU, in: shape(3, 8, 8), out: shape(3, 8, 8), kernel: 0, stride: 1, padding: 0, sources: [{ name: 'r', index: 4, op: 'Relu' }] };
    assert.throws(() => checkLimits([conv(), relu]), refusal(/^node 'r' \(#4, Relu\): input 3×8×8 does not match the previous layer's output 2×8×8$/));
  });

  it('refuses an input larger than every layer output, and an empty model', () => {
    const fc: Layer = { type: Linear, in: shape(64), out: shape(10), kernel: 0, stride: 1, padding: 0, weights: new Float32Array(640), bias: new Float32Array(10), sources: [] };
    assert.throws(() => checkLimits([fc]), refusal(/input \(64 values\) is larger than every layer's output \(10\).*model scratch too small/));
    assert.throws(() => checkLimits([]), refusal(/no layers/));
  });
});

describe('checkLimits on very long chains', () => {
  it('150 000 layers (no stack overflow)', () => {
    const s = shape(1, 1, 2);
    const layers: Layer[] = Array.from({ length: 150_000 }, () => ({ type: ReLU, in: s, out: s, kernel: 0, stride: 1, padding: 0, sources: [] }));
    assert.doesNotThrow(() => checkLimits(layers));
    layers.push({ type: ReLU, in: shape(3), out: shape(3), kernel: 0, stride: 1, padding: 0, sources: [] });
    assert.throws(() => checkLimits(layers), /^FirmwareLimitError: layer 150000 \(ReLU\): input 3×1×1 does not match/);
  });
});

describe('recordProblems', () => {
  it('reports an unknown type alone', () => {
    assert.deepEqual(recordProblems({ type: 0 as LayerType, in: shape(1), out: shape(1), kernel: 0, stride: 1, padding: 0 }),
      [{ message: 'unknown layer type 0 (the firmware knows 1–6)' }]);
  });

  it('reports zero dimensions', () => {
    const problems = recordProblems({ type: Flatten, in: shape(1, 0, 2), out: shape(0, 1, 1), kernel: 0, stride: 1, padding: 0 });
    assert.deepEqual(problems.map((p) => p.message), ['input shape 1×0×2 has a zero dimension', 'output shape 0×1×1 has a zero dimension']);
  });

  it('Flatten must keep the element count', () => {
    const problems = recordProblems({ type: Flatten, in: shape(2, 3, 3), out: shape(17), kernel: 0, stride: 1, padding: 0 });
    assert.deepEqual(problems.map((p) => p.message), ['input has 18 elements but output 17']);
  });
});
