// Runs a drive's code.py on real MicroPython (the WebAssembly build from npm) with `cnn_helper`
// backed by the host engine — the same results and the same errors as the firmware.
//
// How the parts meet (found by trying, MicroPython 1.27 pyscript variant):
// - A JS function called from Python gets an array('f') as a proxy whose iteration is slow and
//   whose exceptions are not Python exceptions: a JS `throw` escapes runPython altogether. So
//   `cnn_helper` is a small Python module (in /lib of the interpreter's file system) that reads
//   the model file itself (the filesystem's OSError is MicroPython's own), hands bytes to JS as
//   hex text (byte-exact, any buffer as the firmware takes it), and raises the firmware's
//   exception from an error string the JS side returns.
// - Returned JS arrays arrive as JsProxy objects; the shim turns them into a list of floats.
// - time.monotonic_ns (CircuitPython) is missing; `circuitPythonTime` installs a `time` module
//   that has it, to run the code path a real board takes.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FirmwareError, isCpmlError } from '../../src/core/errors.js';
import { HOST_HEAP_BYTES, loadModel, performInference, type LoadedModel } from '../../src/core/engine/firmwareEngine.js';

interface EmscriptenFs {
  mkdir(path: string): void;
  writeFile(path: string, data: Uint8Array | string): void;
  chdir(path: string): void;
}

interface MicroPython {
  FS: EmscriptenFs;
  registerJsModule(name: string, module: object): void;
  runPython(code: string): unknown;
}

type LoadMicroPython = (options: { stdout?: (line: string) => void; stderr?: (line: string) => void; linebuffer?: boolean; heapsize?: number }) => Promise<MicroPython>;

let loader: Promise<LoadMicroPython> | undefined;

/** The module is imported once per process; each run gets a fresh interpreter (about 20 ms). */
function micropython(): Promise<LoadMicroPython> {
  const specifier = '@micropython/micropython-webassembly-pyscript';
  loader ??= (import(specifier) as Promise<{ loadMicroPython: LoadMicroPython }>).then((m) => m.loadMicroPython);
  return loader;
}

const CNN_HELPER_SHIM = `
import binascii
import _cnn_host

_ERRORS = {"ValueError": ValueError, "RuntimeError": RuntimeError, "MemoryError": MemoryError, "OSError": OSError}


def _check(result):
    if isinstance(result, str) and result.startswith("!"):
        kind, _, message = result[1:].partition(":")
        raise _ERRORS.get(kind, RuntimeError)(message)
    return result


def load_model(path):
    with open(path, "rb") as f:
        data = f.read()
    _check(_cnn_host.load(binascii.hexlify(data).decode()))


def perform_inference(buf):
    return [float(x) for x in _check(_cnn_host.infer(binascii.hexlify(bytes(buf)).decode()))]


def unload_model():
    _cnn_host.unload()
`;

const CIRCUITPYTHON_TIME = `
import sys
import time as _time


class _CircuitPythonTime:
    pass


_t = _CircuitPythonTime()
_t.monotonic_ns = _time.time_ns
_t.monotonic = _time.time
_t.sleep = _time.sleep
sys.modules["time"] = _t
`;

export interface BoardRunOptions {
  /** The drive: every file under it is copied into the interpreter's file system. */
  driveFolder: string;
  /** Files to leave out (drive-relative, '/'-separated), e.g. to make a sample unreadable. */
  omit?: readonly string[];
  /** Heap the host engine grants load_model (the board's budget); default HOST_HEAP_BYTES. */
  heapBytes?: number;
  /** Provide CircuitPython's time.monotonic_ns (MicroPython has none). */
  circuitPythonTime?: boolean;
}

export interface BoardRun {
  /** Console lines (stdout, then stderr lines as they came). */
  lines: string[];
  /** An exception that ended the program: its type and traceback text. */
  uncaught?: { type: string; message: string };
  calls: { load: number; infer: number; unload: number };
}

const hexBytes = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));

function errorString(error: unknown): string {
  if (error instanceof FirmwareError) return `!${error.pythonType}:${error.message}`;
  if (isCpmlError(error)) return `!ValueError:${error.message}`;
  throw error;
}

function copyFolder(fs: EmscriptenFs, from: string, to: string, relative: string, omit: ReadonlySet<string>): void {
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const rel = relative ? `${relative}/${name}` : name;
    if (omit.has(rel)) continue;
    if (statSync(source).isDirectory()) {
      fs.mkdir(`${to}/${name}`);
      copyFolder(fs, source, `${to}/${name}`, rel, omit);
    } else {
      fs.writeFile(`${to}/${name}`, new Uint8Array(readFileSync(source)));
    }
  }
}

/** Runs the drive's code.py to the end and returns what it printed. */
export async function runCodePy(options: BoardRunOptions): Promise<BoardRun> {
  const load = await micropython();
  const lines: string[] = [];
  const mp = await load({ stdout: (l) => lines.push(l), stderr: (l) => lines.push(l), linebuffer: true, heapsize: 2 * 1024 * 1024 });
  const calls = { load: 0, infer: 0, unload: 0 };
  let model: LoadedModel | undefined;
  mp.registerJsModule('_cnn_host', {
    load(hex: string) {
      calls.load++;
      model = undefined; // reloading frees the old model first, as the firmware does
      try {
        model = loadModel(hexBytes(hex), { heapBytes: options.heapBytes ?? HOST_HEAP_BYTES });
        return '';
      } catch (error) {
        return errorString(error);
      }
    },
    infer(hex: string) {
      calls.infer++;
      if (!model) return '!RuntimeError:model not loaded';
      try {
        return Array.from(performInference(model, hexBytes(hex)));
      } catch (error) {
        return errorString(error);
      }
    },
    unload() {
      calls.unload++;
      model = undefined;
      return null;
    },
  });
  mp.FS.mkdir('/lib');
  mp.FS.writeFile('/lib/cnn_helper.py', CNN_HELPER_SHIM);
  mp.FS.mkdir('/drive');
  copyFolder(mp.FS, options.driveFolder, '/drive', '', new Set(options.omit ?? []));
  mp.FS.chdir('/drive');
  if (options.circuitPythonTime) mp.runPython(CIRCUITPYTHON_TIME);
  let uncaught: BoardRun['uncaught'];
  try {
    mp.runPython(readFileSync(join(options.driveFolder, 'code.py'), 'utf8'));
  } catch (error) {
    const e = error as { name?: string; type?: string; message?: string };
    if (e?.name !== 'PythonError') throw error;
    uncaught = { type: e.type ?? '', message: e.message ?? '' };
  }
  return { lines, uncaught, calls };
}

/** Runs a snippet on a fresh interpreter and returns its console lines. */
export async function runPython(source: string): Promise<string[]> {
  const load = await micropython();
  const lines: string[] = [];
  const mp = await load({ stdout: (l) => lines.push(l), stderr: (l) => lines.push(l), linebuffer: true });
  mp.runPython(source);
  return lines;
}
