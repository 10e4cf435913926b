// One MicroPython VM of the virtual Pico, in a worker thread (runPython is synchronous, so the
// console thread stays free to take Ctrl-C, watch the drive and stop this thread). A VM lives
// as long as CircuitPython's does: one run of code.py, or one REPL session; a reload, a soft
// reboot or a stuck program ends the thread and the next VM starts fresh.
//
// Here: MicroPython's WebAssembly build with the drive's files copied into its file system,
// the JS module `_cpml_host` behind the Python shims (pythonShims.ts) — cnn_helper on the host
// engine, the Pico's heap, the virtual clock, console input — and the console output, filtered
// to read like CircuitPython's (consoleFilter.ts) and written to the shared console as printed.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { estimateLatency } from '../core/analysis/latencyModel.js';
import { loadModel, performInference, type LoadedModel } from '../core/engine/firmwareEngine.js';
import { CpmlError, FirmwareError } from '../core/errors.js';
import { ConsoleFilter, SHIM_DIR } from './consoleFilter.js';
import { shimFiles } from './pythonShims.js';
import { SharedConsole } from './sharedConsole.js';
import type { RunResult, WorkerInput, WorkerMessage } from './simProtocol.js';
import { readDriveFiles } from './virtualDrive.js';

const MICROPYTHON = '@micropython/micropython-webassembly-pyscript';
/** Emscripten's errno numbers (WASI) → the board's, for OSError raised from JS. */
const ERRNO: Record<number, number> = { 44: 2, 20: 17, 54: 20, 31: 21, 2: 13, 28: 22, 51: 28, 69: 30, 55: 39, 8: 9, 63: 1, 29: 5 };
/** MicroPython's PYEXEC_FORCED_EXIT: the REPL wants a soft reboot. */
const FORCED_EXIT = 0x100;
const RAW_PASTE = '\x05A\x01';

interface EmscriptenFs {
  mkdir(path: string): void;
  rmdir(path: string): void;
  writeFile(path: string, data: string | Uint8Array): void;
  readFile(path: string): Uint8Array;
}

interface MicroPython {
  FS: EmscriptenFs;
  _module: {
    _mp_sched_keyboard_interrupt(): void;
    getValue(address: number, type: 'i8' | 'float'): number;
    setValue(address: number, value: number, type: 'i8' | 'float'): void;
  };
  registerJsModule(name: string, module: object): void;
  runPython(code: string): unknown;
  replInit(): void;
  replProcessChar(c: number): number;
}

interface LoadOptions {
  heapsize: number;
  pystack?: number;
  linebuffer: boolean;
  stdin: () => number | null;
  stdout: (bytes: Uint8Array) => void;
  stderr: (bytes: Uint8Array) => void;
}

type Loader = (options: LoadOptions) => Promise<MicroPython>;

const input = workerData as WorkerInput;
const shared = new SharedConsole(input.console);
const clock = new BigInt64Array(input.clock);

function post(message: WorkerMessage): void {
  parentPort!.postMessage(message);
}

// --- console output ---------------------------------------------------------------------------

const filter = new ConsoleFilter();
/** What went out since the last takeOutput(): the REPL loop reads it to follow raw/friendly mode. */
let sent = '';
let muted = false;

/** Console bytes (latin1: one char per byte), straight into the output ring. */
function send(text: string): void {
  if (!text || muted) return;
  sent += text;
  shared.writeOutput(text);
}

/** Releases what the filter holds back (the output has paused: a prompt must not stay hidden). */
function flush(): void {
  send(filter.flush());
}

function takeOutput(): string {
  const text = sent;
  sent = '';
  return text;
}

function onOutput(bytes: Uint8Array): void {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  send(filter.push(text));
  if (shared.busy) takeInterrupt();
}

// --- console input and Ctrl-C -----------------------------------------------------------------

let mp: MicroPython;

/** A Ctrl-C that arrived while Python ran: raise KeyboardInterrupt at the VM's next check. */
function takeInterrupt(): boolean {
  if (!shared.takeInterrupt()) return false;
  mp._module._mp_sched_keyboard_interrupt();
  return true;
}

/** The next typed byte; waits for it. undefined when Ctrl-C interrupts the wait (only while busy). */
function readByte(): number | undefined {
  for (;;) {
    const byte = shared.shiftInput();
    if (byte !== undefined) return byte;
    if (shared.busy && shared.interruptPending) return undefined;
    shared.waitForInput(1000);
  }
}

/** input(): a line typed on the console, echoed as the board echoes it. null on Ctrl-D (EOFError). */
function readLine(): string | null {
  flush();
  let line = '';
  for (;;) {
    const b = readByte();
    if (b === undefined || b === 0x03) {
      if (!takeInterrupt()) mp._module._mp_sched_keyboard_interrupt();
      return '';
    }
    if (b === 0x0d || b === 0x0a) {
      send('\r\n');
      if (b === 0x0d && shared.peekInput() === 0x0a) shared.shiftInput();
      return Buffer.from(line, 'latin1').toString('utf8');
    }
    if (b === 0x04 && !line) return null;
    if (b === 0x08 || b === 0x7f) {
      if (!line) continue;
      // Remove a whole UTF-8 character.
      let cut = line.length - 1;
      while (cut > 0 && (line.charCodeAt(cut) & 0xc0) === 0x80) cut--;
      line = line.slice(0, cut);
      send('\b \b');
      continue;
    }
    if (b < 0x20) continue;
    line += String.fromCharCode(b);
    send(String.fromCharCode(b));
  }
}

function sleep(seconds: number): void {
  flush();
  const end = Date.now() + seconds * 1000;
  for (;;) {
    if (takeInterrupt()) return;
    const left = end - Date.now();
    if (left <= 0) return;
    shared.waitForInput(Math.min(left, 1000));
  }
}

// --- the virtual clock and cnn_helper ---------------------------------------------------------

/**
 * The virtual clock: host time since the board's power-up plus the shared offset. A cnn_helper
 * call moves it by exactly the RP2040 estimate, whatever it took here. The Python between a
 * clock read and the call that follows it at once (and between the call and the read right
 * after it) is absorbed: `monotonic_ns()` before and after the call differ by the estimate,
 * not by the estimate plus the host's hiccups.
 */
const ABSORB_NS = 100_000_000n;
/** Host calls so far: "at once" means no other call to the host in between. */
let hostCalls = 0;
let lastRead: { host: bigint; virtual: bigint; call: number } | undefined;
/** The virtual time a cnn_helper call ended at, kept for a clock read that follows at once. */
let callEnd: { host: bigint; virtual: bigint; call: number } | undefined;
/** A cnn_helper call in progress: the virtual time it started at, and what it costs on the board once known. */
let call: { virtualStart: bigint; simulatedMs?: number } | undefined;

const hostNow = () => process.hrtime.bigint() - input.bootHrtime;

function monotonicNs(): bigint {
  const host = hostNow();
  let virtual = host + Atomics.load(clock, 0);
  if (callEnd && callEnd.call === hostCalls - 1 && host - callEnd.host < ABSORB_NS) {
    Atomics.add(clock, 0, callEnd.virtual - virtual);
    virtual = callEnd.virtual;
  }
  callEnd = undefined;
  lastRead = { host, virtual, call: hostCalls };
  return virtual;
}

function beginCall(): void {
  const host = hostNow();
  // A read is two calls (clock_high, clock_low): begin follows it at once when it is the call after those.
  const atOnce = lastRead && lastRead.call === hostCalls - 2 && host - lastRead.host < ABSORB_NS;
  call = { virtualStart: atOnce ? lastRead!.virtual : host + Atomics.load(clock, 0) };
}

function endCall(): void {
  if (call?.simulatedMs !== undefined) {
    const host = hostNow();
    const target = call.virtualStart + BigInt(Math.round(call.simulatedMs * 1e6));
    Atomics.add(clock, 0, target - (host + Atomics.load(clock, 0)));
    callEnd = { host, virtual: target, call: hostCalls };
  }
  call = undefined;
}

let model: { loaded: LoadedModel; inferMs: number } | undefined;
/** Heap the model holds: the blob and two scratch buffers, as the firmware allocates them. */
let modelBytes = 0;
/** Why the last cnn_helper call failed, as "Type:message" for the Python side to raise. */
let lastError = '';

function fail(error: unknown): false {
  if (error instanceof FirmwareError) lastError = `${error.pythonType}:${error.message}`;
  else if (error instanceof CpmlError) lastError = `RuntimeError:(virtual Pico) the firmware cannot run this model safely, a real board may crash or compute garbage: ${error.message}`;
  else lastError = `RuntimeError:(virtual Pico) internal error: ${error instanceof Error ? error.message : String(error)}`;
  return false;
}

function loadModelFile(path: string): boolean {
  // Reloading frees the old model first, as the firmware does.
  model = undefined;
  modelBytes = 0;
  let bytes: Uint8Array;
  try {
    bytes = mp.FS.readFile(path);
  } catch (error) {
    const errno = (error as { errno?: number }).errno;
    lastError = `OSError:${errno !== undefined ? ERRNO[errno] ?? errno : 5}`;
    return false;
  }
  try {
    const loaded = loadModel(bytes, { heapBytes: input.heapBytes });
    const estimate = estimateLatency(loaded.blob.records, bytes.length);
    model = { loaded, inferMs: estimate.inferMs };
    modelBytes = bytes.length + 2 * loaded.scratchElements * 4;
    if (call) call.simulatedMs = estimate.loadMs;
    return true;
  } catch (error) {
    return fail(error);
  }
}

/** Reads the caller's buffer and writes the outputs as float32 into the array the shim made for them. */
function infer(inputAddress: number, inputBytes: number, outputAddress: number): boolean {
  if (!model) return fail(new FirmwareError('RuntimeError', 'model not loaded'));
  const memory = mp._module;
  const bytes = new Uint8Array(inputBytes);
  for (let i = 0; i < inputBytes; i++) bytes[i] = memory.getValue(inputAddress + i, 'i8');
  try {
    const out = performInference(model.loaded, bytes);
    for (let i = 0; i < out.length; i++) memory.setValue(outputAddress + 4 * i, out[i], 'float');
    if (call) call.simulatedMs = model.inferMs;
    return true;
  } catch (error) {
    return fail(error);
  }
}

// --- _cpml_host -------------------------------------------------------------------------------

let uncaught: { name: string; traceback: string } | undefined;
let reloadRequested = false;
/** monotonic_ns() crosses as two small ints (30 bits each): this build keeps every larger object handed to Python alive. */
let clockRead = 0n;

/** Every call first takes a pending Ctrl-C, so a loop that calls into the board can be interrupted. */
function hostCall<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args: A) => {
    hostCalls++;
    if (shared.busy) takeInterrupt();
    return fn(...args);
  };
}

const host = {
  clock_high: hostCall(() => {
    clockRead = monotonicNs();
    return Number(clockRead >> 30n);
  }),
  clock_low: hostCall(() => Number(clockRead & 0x3fffffffn)),
  begin: hostCall(() => beginCall()),
  end: hostCall(() => endCall()),
  sleep: hostCall((seconds: number) => sleep(Number(seconds))),
  readline: hostCall(() => readLine()),
  bytes_available: hostCall(() => shared.pendingInput),
  heap_size: hostCall(() => input.heapBytes),
  model_bytes: hostCall(() => modelBytes),
  load_model: hostCall((path: string) => loadModelFile(String(path))),
  output_size: hostCall(() => model?.loaded.outputElements ?? 0),
  perform_inference: hostCall((inputAddress: number, inputBytes: number, outputAddress: number) => infer(inputAddress, inputBytes, outputAddress)),
  unload_model: hostCall(() => { model = undefined; modelBytes = 0; }),
  error: hostCall(() => lastError),
  reload: hostCall(() => { reloadRequested = true; }),
  uncaught: hostCall((name: string, traceback: string) => { uncaught = { name, traceback }; }),
};

// --- starting the VM --------------------------------------------------------------------------

async function loadMicroPython(): Promise<Loader> {
  const path = createRequire(__filename).resolve(MICROPYTHON);
  // A real dynamic import (the package is an ES module); a plain import() would be turned into require() by the bundler.
  const importModule = new Function('url', 'return import(url)') as (url: string) => Promise<{ loadMicroPython: Loader }>;
  return (await importModule(pathToFileURL(path).href)).loadMicroPython;
}

function copyDrive(fs: EmscriptenFs): void {
  for (const dir of ['/home/web_user', '/home', '/tmp']) {
    try {
      fs.rmdir(dir);
    } catch {
      // Not there in this build.
    }
  }
  for (const entry of readDriveFiles(input.drive)) {
    const top = entry.path.split('/')[0];
    if (top === 'dev' || top === 'proc') continue; // MicroPython's own folders
    if (entry.data) fs.writeFile(`/${entry.path}`, entry.data);
    else fs.mkdir(`/${entry.path}`);
  }
  fs.mkdir(SHIM_DIR);
  for (const [name, text] of Object.entries(shimFiles())) fs.writeFile(`${SHIM_DIR}/${name}`, text);
}

/** The frame a traceback ends in, outside the virtual board's modules: the status title's `<line>@<file>`. */
function innermostFrame(traceback: string): { file: string; line: number } | undefined {
  const frames = [...traceback.matchAll(/^ {2}File "([^"]+)", line (\d+)/gm)].filter((m) => !m[1].startsWith(`${SHIM_DIR}/`));
  const last = frames[frames.length - 1];
  return last ? { file: last[1], line: Number(last[2]) } : undefined;
}

function runProgram(file: string): RunResult {
  shared.setBusy(true);
  try {
    mp.runPython(`__import__("_cpml_boot").run(${JSON.stringify(file)})`);
  } catch (error) {
    // A KeyboardInterrupt that fired after the program ended, in the runner itself.
    const e = error as { name?: string; type?: string; message?: string };
    if (e.name !== 'PythonError') throw error;
    send(filter.push(e.message ?? ''));
    uncaught = { name: e.type ?? 'Exception', traceback: e.message ?? '' };
  } finally {
    shared.setBusy(false);
  }
  flush();
  if (reloadRequested) return { end: 'reload' };
  if (!uncaught) return { end: 'ok' };
  return { end: 'exception', exception: uncaught.name, ...innermostFrame(uncaught.traceback) };
}

function repl(raw: boolean, banner: boolean): void {
  muted = !banner || raw;
  mp.replInit();
  if (raw) mp.replProcessChar(0x01);
  flush();
  muted = false;
  if (raw) send('raw REPL; CTRL-B to exit\r\n>');
  else if (!banner) send('>>> ');
  takeOutput();
  let rawMode = raw;
  // Raw-paste requests (\x05A\x01 at the start of a raw REPL line) would make this build wait
  // for input it cannot get: they are answered as by a firmware without raw paste.
  let held = '';
  let lineStart = true;
  for (;;) {
    const b = readByte();
    if (b === undefined) continue;
    if (rawMode) {
      const candidate = held + String.fromCharCode(b);
      if (lineStart && RAW_PASTE.startsWith(candidate)) {
        held = candidate === RAW_PASTE ? '' : candidate;
        // "Understood, not supported": tools then send the code the plain raw-REPL way.
        if (candidate === RAW_PASTE) send('R\x00');
        continue;
      }
      for (const c of held) mp.replProcessChar(c.charCodeAt(0));
      held = '';
      lineStart = b === 0x01 || b === 0x03 || b === 0x04;
    }
    // Enter (a line) and Ctrl-D (raw REPL, paste mode) run code: Ctrl-C interrupts it.
    shared.setBusy(b === 0x0d || b === 0x04);
    let status: number;
    try {
      status = mp.replProcessChar(b);
    } finally {
      shared.setBusy(false);
      shared.takeInterrupt();
    }
    flush();
    const out = takeOutput();
    if (out.includes('raw REPL; CTRL-B to exit')) {
      rawMode = true;
      lineStart = true;
    } else if (/>>> $/.test(out)) {
      rawMode = false;
    }
    if (status & FORCED_EXIT) {
      post({ type: 'repl-exit', raw: rawMode });
      return;
    }
  }
}

async function main(): Promise<void> {
  // The package runs its own REPL when it thinks it is Node's main script (it compares argv[1]).
  process.argv.splice(1);
  const load = await loadMicroPython();
  mp = await load({
    heapsize: 4 * 1024 * 1024,
    linebuffer: false,
    stdin: () => {
      const b = readByte();
      if (b === undefined) takeInterrupt();
      return b ?? null;
    },
    stdout: onOutput,
    stderr: onOutput,
  });
  copyDrive(mp.FS);
  mp.registerJsModule('_cpml_host', host);
  mp.runPython(`__import__("sys").path.append(${JSON.stringify(SHIM_DIR)})\n__import__("_cpml_boot")`);
  if (input.mode.kind === 'run') {
    const result = runProgram(input.mode.file);
    post({ type: 'run-ended', result });
  } else {
    repl(input.mode.raw, input.mode.banner);
  }
}

main().catch((error: unknown) => {
  flush();
  const message = error instanceof CpmlError ? error.userMessage : error instanceof Error ? error.message : String(error);
  post({ type: 'fatal', message });
});
