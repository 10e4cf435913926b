// Reads an .onnx file and the external data files it names (which must stay in its folder).
// Only regular files are read, each with its size checked before reading: a model path or an
// external data location may as well name /dev/zero, a FIFO or a file of many gigabytes.
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { basename, extname, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { CpmlError, FileError, OnnxReadError } from '../errors.js';
import { describeFsError, fileKind, readFileChecked } from '../files/readFileChecked.js';
import { quoted } from '../text/untrustedText.js';
import type { OnnxGraph } from './onnxGraph.js';
import { readOnnx } from './readOnnx.js';

/**
 * Largest .onnx file read. A model the Pico can run has at most a few MB of weights (its flash
 * holds 2–16 MB); this leaves room for float64 weights and models inspected to see why they do
 * not fit, while keeping memory use (the bytes, then the decoded tensors) well bounded.
 */
export const MAX_MODEL_FILE_BYTES = 256 * 1024 * 1024;
/** External data read for one model, all tensors together: the same bound as a model file. */
export const MAX_EXTERNAL_DATA_BYTES = MAX_MODEL_FILE_BYTES;
/** protobuf cannot encode a message over 2 GiB, so no single .onnx file is larger. */
const PROTOBUF_MAX_BYTES = 2 ** 31 - 1;
const PICO_FLASH = 'no model that large can run on a Pico (its flash holds at most 16 MB)';
const SMALLER_MODEL_HINT = 'Check that this is the right file; a model for the Pico has at most a few MB of weights';

/** The bytes of a model file (.onnx or blob): a regular file, refused before reading when it is too large. */
export function readModelBytes(path: string): Uint8Array {
  return readFileChecked(path, { maxBytes: MAX_MODEL_FILE_BYTES, what: 'model', tooLarge: (size) => modelTooLarge(path, size) });
}

/** Reads and parses an .onnx file (or parses `bytes` already read from `path` with readModelBytes). */
export function loadOnnxFile(path: string, bytes: Uint8Array = readModelBytes(path)): OnnxGraph {
  return readOnnx(bytes, { source: basename(path), loadExternal: externalLoader(path) });
}

function modelTooLarge(path: string, size: number): FileError {
  const what = `${quoted(path, 500)} is ${formatSize(size)}`;
  if (size > PROTOBUF_MAX_BYTES && extname(path).toLowerCase() !== '.bin') {
    return new FileError(`${what}, more than an ONNX file can be (protobuf stops at 2 GiB; larger models keep their weights in external data files), and ${PICO_FLASH}`,
      path, SMALLER_MODEL_HINT);
  }
  return new FileError(`${what}, more than the ${formatLimit(MAX_MODEL_FILE_BYTES)} this tool reads; ${PICO_FLASH}`, path, SMALLER_MODEL_HINT);
}

/** A file's size, in decimal units as file managers show them. */
function formatSize(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

/** This tool's own limits are powers of two. */
function formatLimit(bytes: number): string {
  return `${Math.round(bytes / 2 ** 20)} MiB`;
}

/** O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, by fstat). */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

function externalLoader(modelPath: string) {
  const folder = realOr(dirname(resolve(modelPath)));
  let total = 0;
  return (location: string, offset: number, length: number | undefined, tensorName: string): Uint8Array => {
    const tensor = `tensor ${quoted(tensorName)}`;
    const file = quoted(location, 500);
    if (location.includes('\0')) throw new OnnxReadError(`${tensor} names external data ${file} with a NUL character`, 'The model file is corrupt; export it again');
    const target = resolve(folder, location);
    // Symlinks are followed before the check, so a link cannot lead out of the folder either.
    const rel = relative(folder, realOr(target));
    if (isAbsolute(location) || rel === '' || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
      throw new OnnxReadError(`${tensor} points to external data ${file} outside the model's folder; refusing to read it`,
        'Keep external data files next to the .onnx file');
    }
    const notRegular = (stats: Stats) => new OnnxReadError(`${tensor} keeps its data in ${file}, which is ${fileKind(stats)}, not a regular file; refusing to read it`,
      'External data must be a regular file next to the .onnx file');
    let fd: number | undefined;
    try {
      // stat first: opening a socket fails (ENXIO) without saying what it is.
      const before = statSync(target);
      if (!before.isFile()) throw notRegular(before);
      fd = openSync(target, OPEN_FLAGS);
      const stats = fstatSync(fd); // the file opened, which may have been swapped since the stat
      if (!stats.isFile()) throw notRegular(stats);
      const size = stats.size;
      const count = length ?? size - offset;
      if (count < 0 || offset + count > size) {
        throw new OnnxReadError(`${tensor} needs bytes ${offset}–${offset + count} of ${file}, which has only ${size}`,
          'The external data file is truncated or belongs to another model');
      }
      if (count > MAX_EXTERNAL_DATA_BYTES - total) {
        throw new OnnxReadError(`the model's external data comes to more than ${formatLimit(MAX_EXTERNAL_DATA_BYTES)} (at ${tensor}); ${PICO_FLASH}`,
          SMALLER_MODEL_HINT);
      }
      total += count;
      const buffer = new Uint8Array(count);
      let done = 0;
      while (done < count) {
        const n = readSync(fd, buffer, done, count - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      if (done < count) {
        throw new OnnxReadError(`${tensor} needs bytes ${offset}–${offset + count} of ${file}, which ended after ${offset + done} while being read`,
          'Something else is writing the file; try again when it is complete');
      }
      return buffer;
    } catch (error) {
      if (error instanceof CpmlError) throw error;
      throw describeFsError(error, target, `read external data of ${tensor} from`);
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
