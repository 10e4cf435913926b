// Reads an .onnx file and the external data files it names (which must stay in its folder).
import { closeSync, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { OnnxReadError } from '../errors.js';
import { describeFsError, readFileChecked } from '../files/readFileChecked.js';
import type { OnnxGraph } from './onnxGraph.js';
import { readOnnx } from './readOnnx.js';

export function loadOnnxFile(path: string): OnnxGraph {
  const bytes = readFileChecked(path);
  return readOnnx(bytes, { source: basename(path), loadExternal: externalLoader(path) });
}

function externalLoader(modelPath: string) {
  const folder = realOr(dirname(resolve(modelPath)));
  return (location: string, offset: number, length: number | undefined, tensorName: string): Uint8Array => {
    const target = resolve(folder, location);
    // Symlinks are followed before the check, so a link cannot lead out of the folder either.
    const rel = relative(folder, realOr(target));
    if (isAbsolute(location) || rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
      throw new OnnxReadError(`tensor '${tensorName}' points to external data '${location}' outside the model's folder; refusing to read it`,
        'Keep external data files next to the .onnx file');
    }
    let fd: number | undefined;
    try {
      fd = openSync(target, 'r');
      const size = fstatSync(fd).size;
      const count = length ?? size - offset;
      if (offset + count > size) {
        throw new OnnxReadError(`tensor '${tensorName}' needs bytes ${offset}–${offset + count} of '${location}', which has only ${size}`,
          'The external data file is truncated or belongs to another model');
      }
      const buffer = new Uint8Array(count);
      let done = 0;
      while (done < count) {
        const n = readSync(fd, buffer, done, count - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return buffer;
    } catch (error) {
      if (error instanceof OnnxReadError) throw error;
      throw describeFsError(error, target, `read external data of tensor '${tensorName}' from`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}
