import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Run } from '../../src/core/timing/run.js';
import { TimingRecorder } from '../../src/core/timing/timingRecorder.js';
import { fromJSON, toJSON } from '../../src/core/timing/timingState.js';

function recorded(): Run[] {
  let t = Date.UTC(2025, 0, 15, 12);
  const r = new TimingRecorder({ now: () => new Date((t += 60_000)) });
  for (const line of `code.py output:
CPML-MODEL v=1 model=model.bin bytes=7312 est_infer_ms=164.210 est_load_ms=17.900 samples=3 keep_loaded=0 simulated=1
CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.345 infer_ms=150.200 unload_ms=0.400 mem_free=123456 file=mnist_samples/sample 00.bin
CPML-ERROR v=1 i=1 error=OSError: [Errno 2] No such file/directory file=mnist_samples/sample_01.bin
CPML-SUMMARY v=1 n=1 errors=1 infer_ms_median=150.2 total_ms=300
Traceback (most recent call last):
  File "code.py", line 3, in <module>
MemoryError: memory allocation failed
code.py output:
File: a.bin -> Pred: 1 (50.0%)
Error: something`.split('\n')) r.push(line);
  return r.runs.map((run) => structuredClone(run));
}

describe('timing state (workspace state JSON)', () => {
  it('round-trips runs through JSON, dates as ISO strings; a run still open comes back ended', () => {
    const runs = recorded();
    const json = JSON.parse(JSON.stringify(toJSON(runs)));
    assert.equal(json.version, 1);
    assert.equal(json.runs[0].startedAt, '2025-01-15T12:01:00.000Z');
    const back = fromJSON(json);
    assert.equal(runs[1].ended, false);
    assert.deepEqual(back, [runs[0], { ...runs[1], ended: true }]);
    assert.ok(back[0].startedAt instanceof Date);
    assert.match(back[0].label, / · model\.bin · 2\/3 samples · simulated$/);
  });

  it('keeps at most maxSamples, newest runs first, and the newest run always (its last samples)', () => {
    const run = (id: number, n: number): Run => ({ id, startedAt: new Date(id * 1000), label: '', droppedSamples: 0, ended: true, samples: Array.from({ length: n }, (_, i) => ({ index: i, inferMs: i })) });
    const saved = toJSON([run(1, 5), run(2, 5), run(3, 5)], { maxSamples: 12 });
    assert.deepEqual(saved.runs.map((r) => r.id), [2, 3]);
    const cut = toJSON([run(1, 5), run(2, 20)], { maxSamples: 8 });
    assert.deepEqual(cut.runs.map((r) => [r.id, r.samples.length, r.droppedSamples, r.samples[0].index]), [[2, 8, 12, 12]]);
  });

  it('starts empty on data that is not ours, never throwing', () => {
    for (const data of [undefined, null, 42, 'runs', [], {}, { version: 2, runs: [] }, { version: 1, runs: 'x' }, { version: 1 }]) {
      assert.deepEqual(fromJSON(data), [], JSON.stringify(data));
    }
  });

  it('leaves out runs that are corrupt, keeping the valid ones', () => {
    const good = toJSON(recorded()).runs[0];
    const bad = [
      { ...good, id: 'one' },
      { ...good, id: 0 },
      { ...good, startedAt: 'yesterday' },
      { ...good, samples: [{ index: -1 }] },
      { ...good, samples: [{ index: 0, inferMs: '150' }] },
      { ...good, samples: null },
      { ...good, endReason: 'exploded' },
      { ...good, model: { name: 5 } },
      { ...good, model: { name: 'm', simulated: 'yes' } },
      { ...good, summary: { n: 'many' } },
      { ...good, droppedSamples: -3 },
      { ...good, ended: 'no' },
      null,
      'run',
    ];
    for (const item of bad) assert.deepEqual(fromJSON({ version: 1, runs: [item] }), [], JSON.stringify(item));
    const kept = fromJSON({ version: 1, runs: [bad[0], good, { ...good }, bad[3]] });
    assert.deepEqual(kept.map((r) => r.id), [good.id], 'a duplicate id is left out too');
  });
});
