// loadOnnxFile: external data next to the model is read; anything outside the model's folder
// (.., absolute paths, symlinks) is refused; truncated or missing data files are clean errors.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { onnx } from 'onnx-proto';
import { loadOnnxFile } from '../../src/core/onnx/loadOnnxFile.js';
import { convertOnnxFile } from '../../src/core/convert.js';
import { CpmlError, FileError, OnnxReadError } from '../../src/core/errors.js';
import { buildModel, externalize, type ModelSpec } from '../support/onnxBuilder.js';
import { fixturePath } from '../support/fixtures.js';

const WEIGHTS = Float32Array.from({ length: 18 }, (_, i) => Math.fround((i - 9) / 7));
const BIAS = Float32Array.of(0.25, -0.5);

/** Conv 1→2 (k3, pad 1) on 1×1×4×4, then Relu. */
function convSpec(): ModelSpec {
  return {
    opset: 13,
    inputs: [{ name: 'x', dims: [1, 1, 4, 4] }],
    outputs: [{ name: 'y', dims: [1, 2, 4, 4] }],
    initializers: [
      { name: 'w', dims: [2, 1, 3, 3], data: WEIGHTS },
      { name: 'b', dims: [2], data: BIAS },
    ],
    nodes: [
      { op: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['c'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: ['c'], outputs: ['y'] },
    ],
  };
}

/** The model with its initializers in an external file at `location` (bytes returned, not written). */
function externalModel(location: string): { model: Uint8Array; weights: Uint8Array } {
  const { spec, weights } = externalize(convSpec(), location);
  return { model: buildModel(spec), weights };
}

function refusedOutside(error: unknown): boolean {
  assert.ok(error instanceof OnnxReadError, String(error));
  assert.match(error.message, /outside the model's folder; refusing to read it/);
  assert.ok(error.hint);
  return true;
}

describe('loadOnnxFile with external data', () => {
  let root: string;
  let n = 0;
  /** A fresh folder holding model.onnx (and whatever the test writes next to it). */
  const folder = () => {
    const dir = join(root, `case${n++}`, 'model');
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'cpml-external-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('reads a data file in the model\'s folder (and a subfolder)', () => {
    for (const location of ['model.weights', 'data/model.weights', './model.weights']) {
      const dir = folder();
      const { model, weights } = externalModel(location);
      mkdirSync(join(dir, 'data'));
      writeFileSync(join(dir, 'model.onnx'), model);
      writeFileSync(join(dir, location), weights);
      const graph = loadOnnxFile(join(dir, 'model.onnx'));
      assert.deepEqual(graph.initializers.get('w'), { kind: 'float', dims: [2, 1, 3, 3], data: WEIGHTS });
      assert.deepEqual(graph.initializers.get('b'), { kind: 'float', dims: [2], data: BIAS });
    }
  });

  it('converts to the same blob as the inline model', () => {
    const dir = folder();
    const { model, weights } = externalModel('w.bin');
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, 'w.bin'), weights);
    const inline = join(dir, 'inline.onnx');
    writeFileSync(inline, buildModel(convSpec()));
    assert.deepEqual(convertOnnxFile(join(dir, 'model.onnx')).blob, convertOnnxFile(inline).blob);
  });

  it('works when the model is given by a relative path', () => {
    const graph = loadOnnxFile(fixturePath('external_data', '.onnx'));
    assert.equal(graph.initializers.size, 8);
  });

  it('refuses ../x.weights even though the file exists', () => {
    const dir = folder();
    const { model, weights } = externalModel('../x.weights');
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, '..', 'x.weights'), weights);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
    // A path that leaves and comes back in is inside.
    const back = externalModel('../model/back.weights');
    writeFileSync(join(dir, 'back.onnx'), back.model);
    writeFileSync(join(dir, 'back.weights'), back.weights);
    assert.equal(loadOnnxFile(join(dir, 'back.onnx')).initializers.size, 2);
  });

  it('refuses an absolute path, even to a file in the folder', () => {
    const dir = folder();
    const target = resolve(dir, 'abs.weights');
    const { model, weights } = externalModel(target);
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(target, weights);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
    const outside = externalModel('/etc/passwd');
    writeFileSync(join(dir, 'passwd.onnx'), outside.model);
    assert.throws(() => loadOnnxFile(join(dir, 'passwd.onnx')), refusedOutside);
  });

  it('refuses a symlink in the folder that points outside it', () => {
    const dir = folder();
    const { model, weights } = externalModel('link.weights');
    const outsideFile = join(dir, '..', 'secret.weights');
    writeFileSync(outsideFile, weights);
    symlinkSync(outsideFile, join(dir, 'link.weights'));
    writeFileSync(join(dir, 'model.onnx'), model);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
  });

  it('refuses a symlinked subfolder that leads outside', () => {
    const dir = folder();
    const { model, weights } = externalModel('sub/w.weights');
    const elsewhere = join(dir, '..', 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'w.weights'), weights);
    symlinkSync(elsewhere, join(dir, 'sub'));
    writeFileSync(join(dir, 'model.onnx'), model);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), refusedOutside);
  });

  it('accepts a symlink that stays inside the folder, and a model folder reached through a symlink', () => {
    const dir = folder();
    const { model, weights } = externalModel('link.weights');
    writeFileSync(join(dir, 'real.weights'), weights);
    symlinkSync(join(dir, 'real.weights'), join(dir, 'link.weights'));
    writeFileSync(join(dir, 'model.onnx'), model);
    assert.equal(loadOnnxFile(join(dir, 'model.onnx')).initializers.size, 2);
    const alias = join(dir, '..', 'alias');
    symlinkSync(dir, alias);
    assert.equal(loadOnnxFile(join(alias, 'model.onnx')).initializers.size, 2);
  });

  it('a truncated data file is an OnnxReadError', () => {
    const dir = folder();
    const { model, weights } = externalModel('model.weights');
    writeFileSync(join(dir, 'model.onnx'), model);
    for (const cut of [1, 4, weights.length - 8, weights.length]) {
      writeFileSync(join(dir, 'model.weights'), weights.subarray(0, weights.length - cut));
      assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), (e: unknown) => {
        assert.ok(e instanceof OnnxReadError, String(e));
        assert.match(e.message, /tensor '[wb]' needs bytes \d+–\d+ of 'model.weights', which has only \d+/);
        return true;
      }, `cut ${cut}`);
    }
  });

  it('a data file longer than needed is fine (offset/length select the bytes)', () => {
    const dir = folder();
    const { model, weights } = externalModel('model.weights');
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, 'model.weights'), Buffer.concat([weights, Buffer.alloc(100, 0xff)]));
    assert.deepEqual(loadOnnxFile(join(dir, 'model.onnx')).initializers.get('b')?.data, BIAS);
  });

  it('a missing data file is a FileError naming the path', () => {
    const dir = folder();
    writeFileSync(join(dir, 'model.onnx'), externalModel('missing.weights').model);
    assert.throws(() => loadOnnxFile(join(dir, 'model.onnx')), (e: unknown) => {
      assert.ok(e instanceof FileError, String(e));
      assert.match(e.message, /missing\.weights': no such file/);
      return true;
    });
  });

  it('a missing or unreadable model file is a CpmlError, not a raw system error', () => {
    const dir = folder();
    assert.throws(() => loadOnnxFile(join(dir, 'nope.onnx')), (e: unknown) => e instanceof FileError && /no such file/.test(e.message));
    assert.throws(() => loadOnnxFile(dir), (e: unknown) => e instanceof CpmlError);
  });
});

describe('loadOnnxFile reads only regular files, with sizes checked before reading', () => {
  let root: string;
  let n = 0;
  const folder = () => {
    const dir = join(root, `case${n++}`);
    mkdirSync(dir);
    return dir;
  };
  const isWindows = process.platform === 'win32';
  /** A refusal must come at once, not after waiting on a FIFO or reading an endless device. */
  const QUICK = { timeout: 20_000 };
  const mkfifo = (path: string) => assert.equal(spawnSync('mkfifo', [path]).status, 0, `mkfifo ${path}`);
  /** A sparse file: its size is real, but it takes no disk space and nothing of it need be read. */
  const sparse = (path: string, size: number) => {
    const fd = openSync(path, 'w');
    ftruncateSync(fd, size);
    closeSync(fd);
  };
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'cpml-load-checked-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('a FIFO as the model is refused without waiting for a writer', { ...QUICK, skip: isWindows && 'no mkfifo' }, () => {
    const fifo = join(folder(), 'model.onnx');
    mkfifo(fifo);
    assert.throws(() => loadOnnxFile(fifo), (e: unknown) => e instanceof FileError && /it is a FIFO \(named pipe\), not a model file/.test(e.message));
  });

  it('/dev/zero as the model is refused without reading it', { ...QUICK, skip: isWindows && 'no /dev/zero' }, () => {
    assert.throws(() => loadOnnxFile('/dev/zero'), (e: unknown) => e instanceof FileError && /'\/dev\/zero': it is a character device/.test(e.message));
  });

  it('a model over the size limit is refused before reading, with the reason (Pico flash) and the 2 GiB protobuf limit', QUICK, () => {
    const dir = folder();
    const large = join(dir, 'large.onnx');
    sparse(large, 300e6);
    assert.throws(() => loadOnnxFile(large), (e: unknown) => {
      assert.ok(e instanceof FileError, String(e));
      assert.match(e.message, /large\.onnx' is 300 MB, more than the 256 MiB this tool reads; no model that large can run on a Pico \(its flash holds at most 16 MB\)/);
      assert.ok(e.hint);
      return true;
    });
    const huge = join(dir, 'huge.onnx');
    sparse(huge, 2 ** 31 + 1);
    assert.throws(() => loadOnnxFile(huge), (e: unknown) => {
      assert.ok(e instanceof FileError, String(e));
      assert.match(e.message, /huge\.onnx' is 2\.1 GB, more than an ONNX file can be \(protobuf stops at 2 GiB; larger models keep their weights in external data files\)/);
      return true;
    });
  });

  /** A model whose initializers live in `location`, next to it. */
  const withExternal = (dir: string, location: string) => {
    const { spec } = externalize(convSpec(), location);
    writeFileSync(join(dir, 'model.onnx'), buildModel(spec));
    return join(dir, 'model.onnx');
  };
  const refusedData = (model: string, pattern: RegExp) => assert.throws(() => loadOnnxFile(model), (e: unknown) => {
    assert.ok(e instanceof OnnxReadError, String(e));
    assert.match(e.message, pattern);
    assert.match(e.hint ?? '', /regular file/);
    return true;
  });

  it('a FIFO named as external data is refused at once, not waited on', { ...QUICK, skip: isWindows && 'no mkfifo' }, () => {
    const dir = folder();
    mkfifo(join(dir, 'weights.bin'));
    refusedData(withExternal(dir, 'weights.bin'), /tensor 'w' keeps its data in 'weights\.bin', which is a FIFO \(named pipe\), not a regular file/);
  });

  it('a folder or a socket named as external data is refused', { ...QUICK, skip: isWindows && 'no Unix sockets' }, async () => {
    const dir = folder();
    mkdirSync(join(dir, 'weights'));
    refusedData(withExternal(dir, 'weights'), /which is a folder, not a regular file/);
    const other = folder();
    const server = createServer();
    await new Promise<void>((done) => server.listen(join(other, 'sock'), done));
    try {
      refusedData(withExternal(other, 'sock'), /which is a socket, not a regular file/);
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  it('a symlink to /dev/zero as external data is refused (it leads outside the folder)', { ...QUICK, skip: isWindows && 'no /dev/zero' }, () => {
    const dir = folder();
    symlinkSync('/dev/zero', join(dir, 'zero.bin'));
    assert.throws(() => loadOnnxFile(withExternal(dir, 'zero.bin')), refusedOutside);
  });

  /** model.onnx with one tensor 'big' of `dims` floats stored externally in data.bin, with these entries. */
  const oneExternal = (dir: string, dims: number[], external: { offset?: number; length?: number }, entries?: Record<string, string>) => {
    const spec: ModelSpec = {
      inputs: [{ name: 'x', dims: [1, 2] }], outputs: [{ name: 'y', dims: [1, 2] }],
      initializers: [{ name: 'big', dims, data: [], storage: { external: { location: 'data.bin', ...external } } }],
      nodes: [{ op: 'MatMul', inputs: ['x', 'big'], outputs: ['y'] }],
    };
    const proto = onnx.ModelProto.decode(buildModel(spec));
    if (entries) proto.graph!.initializer![0].externalData = [{ key: 'location', value: 'data.bin' }, ...Object.entries(entries).map(([key, value]) => ({ key, value }))];
    writeFileSync(join(dir, 'model.onnx'), onnx.ModelProto.encode(proto).finish());
    return join(dir, 'model.onnx');
  };

  it('a length that disagrees with the shape is refused before anything is read', QUICK, () => {
    const dir = folder();
    sparse(join(dir, 'data.bin'), 1e9);
    const model = oneExternal(dir, [2, 2], { offset: 0, length: 999_999_000 });
    assert.throws(() => loadOnnxFile(model), (e: unknown) => {
      assert.ok(e instanceof OnnxReadError, String(e));
      assert.match(e.message, /tensor 'big' says its external data has 999999000 bytes, but its shape \[2, 2\] needs 16/);
      return true;
    });
  });

  it('offsets and lengths must be whole numbers written as digits', QUICK, () => {
    const dir = folder();
    writeFileSync(join(dir, 'data.bin'), new Uint8Array(64));
    for (const [key, value] of [['offset', '-1'], ['offset', '1e3'], ['offset', '0x10'], ['offset', ' 8'], ['offset', ''], ['length', '16.0'],
      ['length', '99999999999999999999']]) {
      const model = oneExternal(dir, [2, 2], {}, { [key]: value });
      assert.throws(() => loadOnnxFile(model), (e: unknown) => {
        assert.ok(e instanceof OnnxReadError, `${key}=${value}: ${String(e)}`);
        assert.match(e.message, new RegExp(`tensor 'big' has an invalid external data ${key} '`));
        return true;
      }, `${key}=${JSON.stringify(value)}`);
    }
    // Plain digits are fine.
    assert.equal(loadOnnxFile(oneExternal(dir, [2, 2], {}, { offset: '16', length: '16' })).initializers.get('big')?.dims.join(), '2,2');
  });

  it('external data over the size limit is refused before reading it', QUICK, () => {
    const dir = folder();
    sparse(join(dir, 'data.bin'), 300e6);
    const model = oneExternal(dir, [75_000_000], { offset: 0, length: 300e6 });
    assert.throws(() => loadOnnxFile(model), (e: unknown) => {
      assert.ok(e instanceof OnnxReadError, String(e));
      assert.match(e.message, /external data comes to more than 256 MiB \(at tensor 'big'\); no model that large can run on a Pico/);
      return true;
    });
  });
});
