import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Run } from '../../src/core/timing/run.js';
import { runStatistics, statistics } from '../../src/core/timing/statistics.js';

describe('statistics', () => {
  it('odd n: the middle value is the median', () => {
    assert.deepEqual(statistics([5, 1, 3]), { n: 3, min: 1, median: 3, mean: 3, p95: 5, max: 5 });
  });

  it('even n: the median is the mean of the two middle values', () => {
    const s = statistics([4, 1, 3, 2]);
    assert.equal(s.median, 2.5);
    assert.equal(s.mean, 2.5);
  });

  it('p95 by nearest rank: the value at rank ceil(0.95 n)', () => {
    const twenty = Array.from({ length: 20 }, (_, i) => i + 1); // rank 19
    assert.equal(statistics(twenty).p95, 19);
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i); // rank 95
    assert.equal(statistics(hundred).p95, 95);
    assert.equal(statistics(Array.from({ length: 21 }, (_, i) => i + 1)).p95, 20); // ceil(19.95) = 20
    assert.equal(statistics([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).p95, 10); // ceil(9.5) = 10
  });

  it('a single value is every statistic', () => {
    assert.deepEqual(statistics([150.2]), { n: 1, min: 150.2, median: 150.2, mean: 150.2, p95: 150.2, max: 150.2 });
  });

  it('no values: n 0 and NaN for the rest; non-finite values are left out', () => {
    const empty = statistics([]);
    assert.equal(empty.n, 0);
    for (const key of ['min', 'median', 'mean', 'p95', 'max'] as const) assert.ok(Number.isNaN(empty[key]), key);
    assert.equal(statistics([NaN, Infinity]).n, 0);
    assert.equal(statistics([NaN, 2, -Infinity]).median, 2);
  });

  it('does not reorder the values it is given', () => {
    const values = [3, 1, 2];
    statistics(values);
    assert.deepEqual(values, [3, 1, 2]);
  });
});

describe('runStatistics', () => {
  const run = (over: Partial<Run> = {}): Run => ({ id: 1, startedAt: new Date(0), label: '', samples: [], droppedSamples: 0, ended: true, ...over });

  it('measures inference and load times, counts predictions and errors, and compares with the host estimate', () => {
    const s = runStatistics(run({
      model: { name: 'model.bin', estInferMs: 164.21, simulated: false },
      samples: [
        { index: 0, file: 'a', pred: 7, inferMs: 150.2, loadMs: 12 },
        { index: 1, file: 'b', error: 'OSError' },
        { index: 2, file: 'c', pred: 1, inferMs: 149.8, loadMs: 14 },
        { index: 3, file: 'd', pred: 1 },
      ],
    }));
    assert.equal(s.infer.n, 2);
    assert.equal(s.infer.median, 150);
    assert.equal(s.load.median, 13);
    assert.equal(s.predictions, 3);
    assert.equal(s.errors, 1);
    assert.equal(s.estInferMs, 164.21);
    assert.equal(s.ratio, 150 / 164.21);
  });

  it('has no ratio without measurements or without a usable estimate', () => {
    assert.equal(runStatistics(run({ model: { name: 'm', estInferMs: 10, simulated: false } })).ratio, undefined);
    assert.equal(runStatistics(run({ model: { name: 'm', estInferMs: 0, simulated: false }, samples: [{ index: 0, inferMs: 1 }] })).ratio, undefined);
    const plain = runStatistics(run({ samples: [{ index: 0, inferMs: 1 }] }));
    assert.equal(plain.estInferMs, undefined);
    assert.equal(plain.ratio, undefined);
  });
});
