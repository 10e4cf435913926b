// The board job's Python on real MicroPython (cnn_helper backed by the host engine, as in the
// deploy tests), and the parsing of what it prints: the outputs must come back bit for bit.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { inferenceJobCode, NoCnnHelperError, parseInferenceOutput, type InferenceJob } from '../../src/core/board/boardInference.js';
import { runBlob } from '../../src/core/engine/firmwareEngine.js';
import { CpmlError } from '../../src/core/errors.js';
import { runCodePy } from '../deploy/micropythonHarness.js';
import { readBytes, upstreamPath } from '../support/fixtures.js';

describe('board inference job', () => {
  it('runs each input through cnn_helper and reports the float32 bits and the times', async () => {
    const drive = mkdtempSync(join(tmpdir(), 'cpml-job-'));
    mkdirSync(join(drive, 'cpml'));
    cpSync(upstreamPath('model.bin'), join(drive, 'cpml', 'model.bin'));
    const inputs = ['sample_00.bin', 'sample_07.bin'].map((s) => {
      cpSync(upstreamPath('mnist_samples', s), join(drive, 'cpml', s));
      return `cpml/${s}`;
    });
    const job: InferenceJob = { blob: 'cpml/model.bin', inputs, repetitions: 2 };
    writeFileSync(join(drive, 'code.py'), inferenceJobCode(job));
    const run = await runCodePy({ driveFolder: drive, circuitPythonTime: true });
    assert.equal(run.uncaught, undefined, run.lines.join('\n'));
    const results = parseInferenceOutput(run.lines.join('\n'), job);
    assert.equal(results.length, 2);
    for (const r of results) {
      const expected = runBlob(readBytes(upstreamPath('model.bin')), readBytes(join(drive, r.input)));
      assert.deepEqual(Array.from(r.output), Array.from(expected));
      assert.equal(r.ms.length, 2);
      assert.ok(r.ms.every((ms) => ms >= 0 && Number.isFinite(ms)));
    }
    assert.equal(run.calls.infer, 4);
  });

  it('says when the firmware has no cnn_helper, and refuses output that is not the job\'s', () => {
    const job: InferenceJob = { blob: 'cpml/m.bin', inputs: ['cpml/a.bin', 'cpml/b.bin'] };
    assert.throws(() => parseInferenceOutput('CPML-NO-CNN-HELPER\r\nCPML-DONE\r\n', job), NoCnnHelperError);
    assert.throws(() => parseInferenceOutput('CPML-RESULT 0 5 0000803f\r\nCPML-DONE\r\n', job), /ran 1 of 2 inputs/);
    assert.throws(() => parseInferenceOutput('CPML-RESULT 1 5 0000803f\r\n', job), /out of order/);
    assert.throws(() => parseInferenceOutput('CPML-RESULT 0 5 00803f\r\n', job), /not whole float32 values/);
    const one = parseInferenceOutput('noise\r\nCPML-RESULT 0 1500000,1400000 0000803f000000c0\r\nCPML-RESULT 1 7 \r\nCPML-DONE\r\n', job);
    assert.deepEqual(Array.from(one[0].output), [1, -2]);
    assert.deepEqual(one[0].ms, [1.5, 1.4]);
  });

  it('puts only plain drive paths into the Python it writes', () => {
    for (const bad of ['../x.bin', '/abs.bin', "a'b.bin", 'a\nb', '']) {
      assert.throws(() => inferenceJobCode({ blob: bad, inputs: [] }), (e: unknown) => e instanceof CpmlError);
    }
    assert.match(inferenceJobCode({ blob: 'cpml/m.bin', inputs: ['cpml/x.bin'] }), /load_model\('cpml\/m\.bin'\)/);
  });
});
