// One MicroPython VM of the virtual Pico, in a child process of its own that runs under Node's
// permission model (vmProcess.ts starts it: it may read only this bundle, MicroPython's package
// and its control file; no writes, no child processes, no workers, no code from strings). A VM
// lives as long as CircuitPython's does: one run of code.py, or one REPL session; a reload, a
// soft reboot or a stuck program ends the process and the next VM starts fresh.
//
// Inside: MicroPython's WebAssembly build with its bridges to JavaScript cut (jsBridgeWall.ts),
// the drive's files (sent by the supervisor) in its own in-memory file system, the Python shims
// (pythonShims.ts) talking to the host through the device file /dev/cpml (hostDevice.ts), and the
// console over fd 3 (vmConsole.ts). argv: [node, this file, MicroPython's micropython.mjs, control file].
import { openSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { CpmlError } from '../core/errors.js';
import { SHIM_DIR } from './consoleFilter.js';
import { HostDevice, type DeviceFs } from './hostDevice.js';
import { instantiateWalled } from './jsBridgeWall.js';
import { shimFiles } from './pythonShims.js';
import { RAW_BANNER, RawRepl } from './vmRawRepl.js';
import { FROM_VM, statusTitle, TO_VM, type RunResult, type VmReady, type VmStart } from './simProtocol.js';
import { VirtualClock } from './virtualClock.js';
import { VirtualCnnHelper } from './virtualCnnHelper.js';
import { VmChannel, type Frame } from './vmChannel.js';
import { VmConsole } from './vmConsole.js';

const CHANNEL_FD = 3;
/** MicroPython's PYEXEC_FORCED_EXIT: the REPL wants a soft reboot. */
const FORCED_EXIT = 0x100;
/** MicroPython's own heap: programs that need more get MemoryError, as on a board. */
const MICROPYTHON_HEAP_BYTES = 4 * 1024 * 1024;

interface EmscriptenFs extends DeviceFs {
  mkdir(path: string): void;
  rmdir(path: string): void;
  writeFile(path: string, data: string | Uint8Array): void;
  readFile(path: string): Uint8Array;
  write(stream: { node: { mode: number } }, ...args: unknown[]): number;
  doTruncate(...args: unknown[]): void;
  isChrdev(mode: number): boolean;
  ErrnoError: new (errno: number) => Error;
}

/** WASI's EROFS. */
const EROFS = 69;

/**
 * Once the drive and the shims are in place, nothing writes files: the drive is read-only to
 * programs (as CIRCUITPY is while a computer has it mounted), and whatever a program wrote
 * elsewhere (under /proc, or through the unguarded open) would be kept in this process's memory,
 * outside every cap. Devices — the console, /dev/cpml — still take writes.
 */
function freezeFiles(fs: EmscriptenFs): void {
  const write = fs.write.bind(fs);
  fs.write = (stream, ...args) => {
    if (!fs.isChrdev(stream.node.mode)) throw new fs.ErrnoError(EROFS);
    return write(stream, ...args);
  };
  fs.doTruncate = () => {
    throw new fs.ErrnoError(EROFS);
  };
}

interface MicroPython {
  FS: EmscriptenFs;
  _module: { _mp_sched_keyboard_interrupt(): void };
  runPython(code: string): unknown;
  replInit(): void;
  replProcessChar(c: number): number;
}

type Loader = (options: {
  heapsize: number;
  linebuffer: boolean;
  stdin: () => number | null;
  stdout: (bytes: Uint8Array) => void;
  stderr: (bytes: Uint8Array) => void;
}) => Promise<MicroPython>;

const [micropythonPath, controlFile] = process.argv.slice(2);
// The package runs its own REPL when it thinks it is Node's main script (it compares argv[1]).
process.argv.splice(1);

const channel = new VmChannel(CHANNEL_FD, openSync(controlFile, 'r'));
const encoder = new TextEncoder();
const log = (text: string) => channel.send(FROM_VM.log, encoder.encode(text.slice(0, 2000)));
// The VM's own diagnostics (Emscripten's warnings) are not the board's console.
console.log = console.info = console.warn = console.error = (...args: unknown[]) => log(args.map(String).join(' '));

let mp: MicroPython;
let vmConsole: VmConsole | undefined;

// --- loading, and what an escaped program would find ----------------------------------------

/**
 * Takes away what could load code or reach the network (the permission model of Node 20 covers
 * files, processes and workers, not sockets): nothing left here can require a module.
 */
function scrubProcess(): void {
  const proc = process as unknown as Record<string, unknown>;
  for (const name of ['binding', '_linkedBinding', 'dlopen', 'getBuiltinModule', 'mainModule', 'openStdin']) {
    try {
      delete proc[name];
    } catch {
      // not configurable: overwritten below
    }
    if (name in proc) Object.defineProperty(proc, name, { value: undefined, configurable: false, writable: false });
  }
  const global = globalThis as unknown as Record<string, unknown>;
  for (const name of ['fetch', 'WebSocket', 'EventSource']) {
    try {
      delete global[name];
    } catch {
      global[name] = undefined;
    }
  }
}

function permissionModelOn(): boolean {
  const permission = (process as { permission?: { has(scope: string): boolean } }).permission;
  return !!permission && !permission.has('fs.write') && !permission.has('child') && !permission.has('worker');
}

async function loadWalled(): Promise<MicroPython> {
  const { loadMicroPython } = await (import(pathToFileURL(micropythonPath).href) as Promise<{ loadMicroPython: Loader }>);
  const onOutput = (bytes: Uint8Array) => {
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    vmConsole?.print(text);
  };
  return instantiateWalled(() => loadMicroPython({
    heapsize: MICROPYTHON_HEAP_BYTES,
    linebuffer: false,
    stdin: () => vmConsole?.readByte() ?? null,
    stdout: onOutput,
    stderr: onOutput,
  }));
}

// --- the drive, the shims, the device ---------------------------------------------------------

function safeDrivePath(path: string): string | undefined {
  const parts = path.split('/');
  if (!path || parts.some((p) => !p || p === '.' || p === '..') || parts[0] === 'dev' || parts[0] === 'proc') return undefined;
  return `/${path}`;
}

/** Receives the start frame and the drive's files; frames for the console that come early are kept for it. */
function receiveStart(): { start: VmStart; early: Frame[] } {
  for (const dir of ['/home/web_user', '/home', '/tmp']) {
    try {
      mp.FS.rmdir(dir);
    } catch {
      // Not there in this build.
    }
  }
  let start: VmStart | undefined;
  const early: Frame[] = [];
  const decoder = new TextDecoder();
  for (;;) {
    const frame = channel.next();
    if (frame.type === TO_VM.start) start = JSON.parse(decoder.decode(frame.payload)) as VmStart;
    else if (frame.type === TO_VM.folder) {
      const path = safeDrivePath(decoder.decode(frame.payload));
      if (path) mp.FS.mkdir(path);
    } else if (frame.type === TO_VM.file) {
      const view = new DataView(frame.payload.buffer, frame.payload.byteOffset, frame.payload.byteLength);
      const length = view.getUint16(0, true);
      const path = safeDrivePath(decoder.decode(frame.payload.subarray(2, 2 + length)));
      if (path) mp.FS.writeFile(path, frame.payload.subarray(2 + length));
    } else if (frame.type === TO_VM.go) {
      if (!start) throw new Error('the supervisor sent no start frame');
      return { start, early };
    } else early.push(frame);
  }
}

// --- running ------------------------------------------------------------------------------------

/** The frame a traceback ends in, outside the virtual board's modules: the status title's `<line>@<file>`. */
function innermostFrame(traceback: string): { file: string; line: number } | undefined {
  const frames = [...traceback.matchAll(/^ {2}File "([^"]+)", line (\d+)/gm)].filter((m) => !m[1].startsWith(`${SHIM_DIR}/`));
  const last = frames[frames.length - 1];
  return last ? { file: last[1], line: Number(last[2]) } : undefined;
}

function runProgram(file: string, con: VmConsole, device: HostDevice): RunResult {
  con.busy = true;
  try {
    mp.runPython(`__import__("_cpml_boot").run(${JSON.stringify(file)})`);
  } catch (error) {
    // A KeyboardInterrupt that fired after the program ended, in the runner itself.
    const e = error as { name?: string; type?: string; message?: string };
    if (e.name !== 'PythonError') throw error;
    con.print(e.message ?? '');
    device.state.uncaught = { name: e.type ?? 'Exception', traceback: e.message ?? '' };
  } finally {
    con.busy = false;
  }
  con.pause();
  const { uncaught, reloadRequested } = device.state;
  if (reloadRequested) return { end: 'reload' };
  if (!uncaught) return { end: 'ok' };
  return { end: 'exception', exception: uncaught.name, ...innermostFrame(uncaught.traceback) };
}

/** Runs a raw-REPL block: stdout, \x04, the traceback if it raised (rawRepl.ts frames the rest). */
function runRawBlock(source: Uint8Array, con: VmConsole, device: HostDevice): boolean {
  device.rawSource = source;
  device.state.reloadRequested = false;
  con.send({ type: 'raw-job', running: true });
  let late: string | undefined;
  con.busy = true;
  try {
    mp.runPython('__import__("_cpml_boot").raw_run()');
  } catch (error) {
    // A KeyboardInterrupt that fired outside the block, in the runner itself.
    const e = error as { name?: string; message?: string };
    if (e.name !== 'PythonError') throw error;
    late = e.message ?? '';
  } finally {
    con.busy = false;
    device.rawSource = undefined;
    // A Ctrl-C that came too late for the block is not kept for the next one.
    con.discardInterrupt();
  }
  con.pause();
  con.write('\x04');
  if (late === undefined) {
    try {
      mp.runPython('__import__("_cpml_boot").raw_report()');
    } catch (error) {
      const e = error as { name?: string; message?: string };
      if (e.name !== 'PythonError') throw error;
      late = e.message ?? '';
    }
  }
  if (late) con.print(late);
  con.pause();
  con.send({ type: 'raw-job', running: false });
  const reload = device.state.reloadRequested;
  device.state.reloadRequested = false;
  return reload;
}

/**
 * The REPL: MicroPython's own for the friendly REPL (and paste mode), rawRepl.ts for the raw
 * REPL. `banner`: the mode's banner (the version banner; "raw REPL; CTRL-B to exit") before the
 * prompt, or the prompt alone (the REPL back after a stuck program was ended).
 */
function repl(raw: boolean, banner: boolean, con: VmConsole, device: HostDevice): void {
  con.muted = !banner || raw;
  mp.replInit();
  // MicroPython's REPL is put in raw mode too: leaving it (Ctrl-B) goes through it.
  if (raw) mp.replProcessChar(0x01);
  con.pause();
  con.muted = false;
  if (raw) con.write(banner ? `${RAW_BANNER}>` : '>');
  else if (!banner) con.write('>>> ');
  con.pause();
  con.takeWritten();
  let rawMode = raw;
  const rawRepl = new RawRepl(con, {
    run: (source) => runRawBlock(source, con, device),
    friendly: () => {
      // The firmware starts the friendly REPL afresh, its status line first.
      con.write(Buffer.from(statusTitle('REPL'), 'utf8').toString('latin1'));
      mp.replProcessChar(0x02);
      con.pause();
    },
  }, MICROPYTHON_HEAP_BYTES);
  for (;;) {
    const b = con.readByte();
    if (b === undefined) continue;
    if (rawMode) {
      const outcome = rawRepl.key(b);
      con.takeWritten();
      if (outcome === 'friendly') rawMode = false;
      else if (outcome === 'soft-reboot') {
        con.send({ type: 'repl-exit', raw: true });
        return;
      }
      continue;
    }
    // Enter (a line) and Ctrl-D (paste mode) run code: Ctrl-C interrupts it.
    con.busy = b === 0x0d || b === 0x04;
    let status: number;
    try {
      status = mp.replProcessChar(b);
    } finally {
      con.busy = false;
      // A Ctrl-C that came too late for the line is not kept for the next one.
      con.discardInterrupt();
    }
    con.pause();
    const out = con.takeWritten();
    // Ctrl-A at the prompt: MicroPython has printed "\r\nraw REPL; CTRL-B to exit\r\n>".
    if (b === 0x01 && out.endsWith(`${RAW_BANNER}>`)) rawMode = true;
    if (status & FORCED_EXIT) {
      con.send({ type: 'repl-exit', raw: false });
      return;
    }
  }
}

async function main(): Promise<void> {
  mp = await loadWalled();
  scrubProcess();
  const ready: VmReady = { permissionModel: permissionModelOn(), bridgesCut: true, node: process.version };
  channel.send(FROM_VM.ready, encoder.encode(JSON.stringify(ready)));

  const { start, early } = receiveStart();
  const con = new VmConsole(channel, start.interruptSeq);
  for (const frame of early) con.accept(frame);
  con.onInterrupt = () => mp._module._mp_sched_keyboard_interrupt();
  vmConsole = con;
  const clock = new VirtualClock(BigInt(start.bootHrtime), BigInt(start.clockOffsetNs), (offset) => {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setBigInt64(0, offset, true);
    channel.send(FROM_VM.clock, bytes);
  });
  const cnn = new VirtualCnnHelper({ heapBytes: start.heapBytes, maxMacs: start.maxMacs, clock, readFile: (path) => mp.FS.readFile(path) });
  const device = new HostDevice(con, clock, cnn, start.heapBytes);
  device.install(mp.FS);
  mp.FS.mkdir(SHIM_DIR);
  for (const [name, text] of Object.entries(shimFiles())) mp.FS.writeFile(`${SHIM_DIR}/${name}`, text);
  freezeFiles(mp.FS);
  mp.runPython(`__import__("sys").path.append(${JSON.stringify(SHIM_DIR)})\n__import__("_cpml_boot")`);

  if (start.mode.kind === 'run') {
    const result = runProgram(start.mode.file, con, device);
    con.send({ type: 'run-ended', result, unread: con.takeUnread(64) });
  }
  else repl(start.mode.raw, start.mode.banner, con, device);
  process.exit(0);
}

main().catch((error: unknown) => {
  const message = error instanceof CpmlError ? error.userMessage : error instanceof Error ? error.message : String(error);
  try {
    vmConsole?.pause();
    channel.send(FROM_VM.message, encoder.encode(JSON.stringify({ type: 'fatal', message })));
  } catch {
    // The supervisor is gone.
  }
  process.exit(1);
});
