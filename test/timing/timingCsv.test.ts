import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Run } from '../../src/core/timing/run.js';
import { csvField, runsToCsv } from '../../src/core/timing/timingCsv.js';

const HEADER = 'run_id,run_start,model,sample,file,pred,conf,load_ms,infer_ms,unload_ms,mem_free,error';

describe('runsToCsv', () => {
  it('writes a header and one row per sample, runs oldest first, empty fields for what is missing', () => {
    const runs: Run[] = [
      {
        id: 3, startedAt: new Date('2025-01-15T12:00:00.000Z'), label: '', droppedSamples: 0, ended: true, endReason: 'done',
        model: { name: 'model.bin', simulated: false },
        samples: [
          { index: 0, file: 'mnist_samples/sample_00.bin', pred: 7, conf: 100, loadMs: 12.345, inferMs: 150.2, unloadMs: 0.4, memFree: 123456 },
          { index: 5, file: 'mnist_samples/sample_05.bin', error: 'OSError: [Errno 2] No such file/directory' },
        ],
      },
      { id: 4, startedAt: new Date('2025-01-15T12:01:00.000Z'), label: '', droppedSamples: 0, ended: false, samples: [{ index: 0, file: 'a.bin', pred: 1, conf: 99.1 }] },
      { id: 5, startedAt: new Date('2025-01-15T12:02:00.000Z'), label: '', droppedSamples: 0, ended: false, samples: [] },
    ];
    assert.equal(runsToCsv(runs), [
      HEADER,
      '3,2025-01-15T12:00:00.000Z,model.bin,0,mnist_samples/sample_00.bin,7,100,12.345,150.2,0.4,123456,',
      '3,2025-01-15T12:00:00.000Z,model.bin,5,mnist_samples/sample_05.bin,,,,,,,OSError: [Errno 2] No such file/directory',
      '4,2025-01-15T12:01:00.000Z,,0,a.bin,1,99.1,,,,,',
      '',
    ].join('\r\n'));
  });

  it('quotes fields with commas, quotes and line breaks (RFC 4180)', () => {
    assert.equal(csvField('plain text'), 'plain text');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('cr\rhere'), '"cr\rhere"');
    assert.equal(csvField(undefined), '');
    assert.equal(csvField(0), '0');
    const csv = runsToCsv([{ id: 1, startedAt: new Date(0), label: '', droppedSamples: 0, ended: true, samples: [{ index: 0, file: 'my "odd", file.bin', error: 'ValueError: a, b' }] }]);
    assert.equal(csv.split('\r\n')[1], '1,1970-01-01T00:00:00.000Z,,0,"my ""odd"", file.bin",,,,,,,"ValueError: a, b"');
  });

  it('writes only the header for no runs', () => {
    assert.equal(runsToCsv([]), HEADER + '\r\n');
  });
});
