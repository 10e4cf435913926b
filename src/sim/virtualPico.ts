// The virtual Pico: a CIRCUITPY folder, a serial port, and CircuitPython's supervisor around
// real MicroPython — the console messages, Ctrl-C / Ctrl-D / any key, the REPL, auto-reload
// 500 ms after the last write to the drive — as docs/circuitpython-board.md describes them,
// byte for byte where it gives bytes. Each program run or REPL session is a fresh MicroPython
// VM in a worker thread (simWorker.ts); stopping one means ending its thread. Typed bytes and
// printed bytes cross through shared memory (sharedConsole.ts), so a program's output arrives
// as it prints it and Ctrl-C reaches a program that is busy.
//
// Lifecycle: new VirtualPico(options) → await start() → { port, drive } → … → await dispose().
// The console is reachable through the pseudo-terminal `port` (serialport opens it like a
// board) and in-process: connect() or `openPort` (a PortOpener for SerialSession).
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync, watch, type FSWatcher } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DEFAULT_HEAP_BUDGET_BYTES } from '../core/analysis/memoryPlan.js';
import { CpmlError } from '../core/errors.js';
import type { PortOpener } from '../core/serial/portOpener.js';
import { PtyRelay, type RelayKind } from './ptyRelay.js';
import { SharedConsole } from './sharedConsole.js';
import { CP_VERSION, type RunResult, type VmMode, type WorkerInput, type WorkerMessage } from './simProtocol.js';
import { BOOT_OUT, checkDriveFolder, createTempDrive, writeBootOut } from './virtualDrive.js';

export interface VirtualPicoOptions {
  /** Folder playing CIRCUITPY; default a new temporary folder, removed by dispose(). */
  drive?: string;
  /** Heap for user code, what gc.mem_free() reports when a program starts; default the memory plan's budget. */
  heapBytes?: number;
  /** Where the serial port appears (a symlink); default ttyPICO in a new temporary folder. */
  portLink?: string;
  /** The pseudo-terminal: 'auto' (socat, else python3; an error when neither exists), a helper, or false for in-process only. */
  pty?: 'auto' | RelayKind | false;
  /** Quiet time after the last write to the drive before the board reloads; 500 ms as the firmware. */
  autoReloadDelayMs?: number;
  /** A program that takes no Ctrl-C for this long (a loop that calls nothing) is stopped by ending its VM. */
  interruptTimeoutMs?: number;
  /** Host memory a program may take before it is stopped (a runaway loop; a Pico has 264 KB). */
  hostMemoryLimitBytes?: number;
}

export interface VirtualPicoInfo {
  /** The pseudo-terminal, or undefined with pty: false. */
  port?: string;
  drive: string;
  /** The UID in boot_out.txt. */
  uid: string;
  relay?: RelayKind;
}

/** What the supervisor is doing. */
export type PicoState = 'off' | 'starting' | 'running' | 'waiting' | 'repl' | 'disposed';

interface PicoEvents {
  /** Every byte the board prints, as it prints it. */
  output: [bytes: Uint8Array];
  state: [state: PicoState];
  /** Trouble outside the program (the port helper died, the drive folder vanished). */
  error: [error: CpmlError];
}

/** An in-process console connection (Windows, tests). */
export interface VirtualConnection {
  write(data: string | Uint8Array): void;
  onData(listener: (bytes: Uint8Array) => void): void;
  /** Called once when the board goes away (dispose), not after close(). */
  onClose(listener: () => void): void;
  close(): void;
}

interface Connection {
  data: Set<(bytes: Uint8Array) => void>;
  closed: Set<() => void>;
}

const LINE_CLEAR = '\x1b[2K\x1b[0G';
const title = (status: string) => `\x1b]0;🐍${status} | ${CP_VERSION}\x1b\\`;
const STATUS_MESSAGE = `\r\n${LINE_CLEAR}Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.\r\n`;
const PRESS_ANY_KEY = '\r\nPress any key to enter the REPL. Use CTRL-D to reload.\r\n';
/** The firmware looks for these, in this order. */
const PROGRAM_FILES = ['code.txt', 'code.py', 'main.py', 'main.txt'];
const CTRL_C = 0x03;
const CTRL_D = 0x04;

interface Vm {
  worker: Worker;
  mode: VmMode;
  memoryTimer?: NodeJS.Timeout;
}

/** How the worker is started: the bundle next to this one (dist/simWorker.js), or the TypeScript source under tsx. */
function workerEntry(): { filename: string; eval: boolean } {
  const bundled = join(__dirname, 'simWorker.js');
  if (!__filename.endsWith('.ts') && existsSync(bundled)) return { filename: bundled, eval: false };
  const source = join(__dirname, 'simWorker.ts');
  if (!existsSync(source)) throw new CpmlError(`the virtual Pico's worker is missing (${bundled})`, 'Rebuild with npm run build');
  // Node 20 does not run --import hooks in worker threads: the worker registers tsx itself.
  return { filename: `require('tsx/cjs'); require(${JSON.stringify(source)});`, eval: true };
}

export class VirtualPico extends EventEmitter<PicoEvents> {
  private readonly heapBytes: number;
  private readonly reloadDelayMs: number;
  private readonly interruptTimeoutMs: number;
  private readonly memoryLimit: number;
  private readonly shared = SharedConsole.create();
  private readonly clock = new SharedArrayBuffer(8);
  private readonly bootHrtime = process.hrtime.bigint();
  private current: PicoState = 'off';
  private drive = '';
  private tempRoot?: string;
  private relay?: PtyRelay;
  private watcher?: FSWatcher;
  private vm?: Vm;
  private reloadTimer?: NodeJS.Timeout;
  private interruptTimer?: NodeJS.Timeout;
  /** "Press any key…" waits until a pending auto-reload has happened, as the firmware does. */
  private pressAnyKeyDue = false;
  private readonly connections = new Set<Connection>();
  private info?: VirtualPicoInfo;

  constructor(private readonly options: VirtualPicoOptions = {}) {
    super();
    this.heapBytes = options.heapBytes ?? DEFAULT_HEAP_BUDGET_BYTES;
    this.reloadDelayMs = options.autoReloadDelayMs ?? 500;
    this.interruptTimeoutMs = options.interruptTimeoutMs ?? 1000;
    this.memoryLimit = options.hostMemoryLimitBytes ?? 512 * 1024 * 1024;
    if (!Number.isFinite(this.heapBytes) || this.heapBytes <= 0) throw new CpmlError(`the heap size must be a positive number of bytes, got ${options.heapBytes}`);
  }

  get state(): PicoState {
    return this.current;
  }

  /** Creates the drive's boot_out.txt and the serial port, then boots: runs code.py. */
  async start(): Promise<VirtualPicoInfo> {
    if (this.info) return this.info;
    if (this.current !== 'off') throw new CpmlError('this virtual Pico has been disposed');
    this.setState('starting');
    try {
      if (this.options.drive) {
        checkDriveFolder(this.options.drive);
        this.drive = this.options.drive;
      } else {
        const temp = createTempDrive();
        this.tempRoot = temp.root;
        this.drive = temp.drive;
      }
      const uid = writeBootOut(this.drive);
      const pty = this.options.pty ?? 'auto';
      if (pty !== false) {
        const link = this.options.portLink ?? join(this.tempRoot ?? (this.tempRoot = mkdtempSync(join(tmpdir(), 'cpml-sim-'))), 'ttyPICO');
        const relay = await PtyRelay.create(link, pty === 'auto' ? undefined : pty);
        // dispose() may have run meanwhile (the user stopped it while it started).
        if (this.state === 'disposed') {
          await relay.dispose();
          throw new CpmlError('the virtual Pico was stopped while starting');
        }
        this.relay = relay;
        this.relay.on('data', (bytes) => this.input(bytes));
        this.relay.on('exit', (message) => this.emitError(new CpmlError(message)));
      }
      this.watchDrive();
      this.info = { port: this.relay?.path, drive: this.drive, uid, relay: this.relay?.kind };
    } catch (error) {
      await this.dispose();
      throw error;
    }
    this.print(STATUS_MESSAGE);
    this.runCode();
    return this.info;
  }

  /** Stops the program, the port helper and the drive watcher; removes the temporary folder. */
  async dispose(): Promise<void> {
    if (this.current === 'disposed') return;
    this.setState('disposed');
    clearTimeout(this.reloadTimer);
    clearTimeout(this.interruptTimer);
    this.watcher?.close();
    const connections = [...this.connections];
    this.connections.clear();
    for (const connection of connections) for (const listener of connection.closed) listener();
    await Promise.all([this.stopVm(), this.relay?.dispose()]);
    if (this.tempRoot) rmSync(this.tempRoot, { recursive: true, force: true });
    this.removeAllListeners();
  }

  /** Bytes typed on the console (what a host writes to the serial port). */
  input(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      switch (this.current) {
        case 'waiting':
          this.keyAtPrompt(b);
          break;
        case 'running':
        case 'repl':
          if (b === CTRL_C && (this.current === 'running' || this.shared.busy)) this.interrupt();
          else this.shared.pushInput(b);
          break;
        case 'starting':
          // A program about to start takes Ctrl-C as soon as it runs.
          if (b === CTRL_C && this.vm?.mode.kind === 'run') this.interrupt();
          else this.shared.pushInput(b);
          break;
        default:
          return;
      }
    }
  }

  /** An in-process connection to the console. */
  connect(): VirtualConnection {
    const connection: Connection = { data: new Set(), closed: new Set() };
    if (this.current !== 'disposed') this.connections.add(connection);
    return {
      write: (data) => this.input(data),
      onData: (listener) => connection.data.add(listener),
      onClose: (listener) => connection.closed.add(listener),
      close: () => { this.connections.delete(connection); },
    };
  }

  /** Opens the console in-process for a SerialSession (`new SerialSession({ path: 'virtual', openPort: pico.openPort })`). */
  readonly openPort: PortOpener = async ({ path }, listener) => {
    if (this.current === 'disposed' || this.current === 'off') throw Object.assign(new Error(`the virtual Pico is ${this.current === 'off' ? 'not started' : 'gone'}`), { code: 'ENOENT' });
    const connection = this.connect();
    connection.onData((bytes) => listener.data(bytes));
    connection.onClose(() => listener.closed(Object.assign(new Error('the virtual Pico stopped'), { disconnected: true })));
    return {
      path,
      write: async (bytes) => connection.write(bytes),
      close: async () => connection.close(),
    };
  };

  // --- the supervisor -------------------------------------------------------------------------

  private setState(state: PicoState): void {
    if (this.current === state || this.current === 'disposed') return;
    this.current = state;
    this.emit('state', state);
  }

  private print(text: string): void {
    this.printBytes(Buffer.from(text, 'utf8'));
  }

  private emitError(error: CpmlError): void {
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }

  /** run_code_py: the program, or straight to "Code done running." when there is none. */
  private runCode(): void {
    if (this.current === 'disposed') return;
    const file = PROGRAM_FILES.find((name) => existsSync(join(this.drive, name)));
    if (!file) {
      this.programEnded(undefined);
      return;
    }
    this.print(`${LINE_CLEAR}${file} output:\r\n${title(file)}`);
    this.startVm({ kind: 'run', file });
  }

  private programEnded(result: RunResult | undefined): void {
    if (this.current === 'disposed') return;
    if (result) {
      const error = result.end === 'exception' && result.line ? `${result.line}@${result.file} ${result.exception}` : undefined;
      this.print(title(error ?? 'Done'));
    }
    this.print('\r\nCode done running.\r\n');
    if (result?.end === 'reload') {
      this.softReboot();
      return;
    }
    this.setState('waiting');
    this.pressAnyKeyDue = true;
    if (!this.reloadTimer) this.printPressAnyKey();
    // Keys typed while the program ran are read now.
    while (this.current === 'waiting') {
      const key = this.shared.shiftInput();
      if (key === undefined) break;
      this.keyAtPrompt(key);
    }
  }

  private printPressAnyKey(): void {
    if (!this.pressAnyKeyDue) return;
    this.pressAnyKeyDue = false;
    this.print(PRESS_ANY_KEY);
  }

  private keyAtPrompt(key: number): void {
    if (key === CTRL_D) {
      this.softReboot();
      return;
    }
    this.print(title('REPL'));
    this.startVm({ kind: 'repl', raw: false, banner: true });
  }

  private softReboot(): void {
    this.print('soft reboot\r\n');
    this.print(STATUS_MESSAGE);
    this.runCode();
  }

  /** Ctrl-C while Python runs: drop unread input (as the firmware flushes its buffer) and raise KeyboardInterrupt. */
  private interrupt(): void {
    const vm = this.vm;
    this.shared.requestInterrupt();
    if (!vm || this.interruptTimer) return;
    this.interruptTimer = setTimeout(() => {
      this.interruptTimer = undefined;
      // Still running and the interrupt was never taken: a loop that calls nothing. End its VM.
      if (this.vm === vm && this.shared.interruptPending) void this.stopStuck(vm, 'KeyboardInterrupt', '');
    }, this.interruptTimeoutMs);
  }

  /** Ends a VM that does not respond, printing what the firmware would (without the line: it is not known). */
  private async stopStuck(vm: Vm, exception: string, message: string): Promise<void> {
    await this.stopVm();
    if (this.current === 'disposed') return;
    this.print(`Traceback (most recent call last):\r\n${exception}: ${message}\r\n`);
    if (vm.mode.kind === 'run') this.programEnded({ end: 'exception', exception });
    else this.startVm({ kind: 'repl', raw: vm.mode.raw, banner: false });
  }

  // --- auto-reload ----------------------------------------------------------------------------

  private watchDrive(): void {
    try {
      this.watcher = watch(this.drive, { recursive: true }, (_event, name) => this.driveWritten(name ?? undefined));
      this.watcher.on('error', (error) => this.emitError(new CpmlError(`stopped watching the drive folder ${this.drive}: ${error.message}`, 'Auto-reload is off; restart the virtual Pico')));
    } catch (error) {
      this.emitError(new CpmlError(`cannot watch the drive folder ${this.drive}: ${(error as Error).message}`, 'Auto-reload is off; press Ctrl-D in the console to reload'));
    }
  }

  private driveWritten(name: string | undefined): void {
    if (name === BOOT_OUT) return;
    // The REPL turns auto-reload off, as on the board.
    if (this.current === 'repl' || this.current === 'disposed' || this.current === 'off') return;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.autoReload(), this.reloadDelayMs);
  }

  private autoReload(): void {
    this.reloadTimer = undefined;
    if (this.current === 'running') {
      void this.stopVm().then(() => {
        this.print(title('Done'));
        this.print('\r\nCode stopped by auto-reload. Reloading soon.\r\n');
        this.softReboot();
      });
    } else if (this.current === 'waiting') {
      this.pressAnyKeyDue = false;
      this.softReboot();
    } else if (this.current === 'starting') {
      // Between VMs: try once it is up.
      this.reloadTimer = setTimeout(() => this.autoReload(), this.reloadDelayMs);
    }
  }

  // --- VMs ------------------------------------------------------------------------------------

  private startVm(mode: VmMode): void {
    if (this.current === 'disposed') return;
    this.shared.resetFlags();
    this.setState('starting');
    const entry = workerEntry();
    const workerData: WorkerInput = {
      mode, drive: this.drive, heapBytes: this.heapBytes, bootHrtime: this.bootHrtime,
      console: this.shared.buffers, clock: this.clock,
    };
    const worker = new Worker(entry.filename, { eval: entry.eval, workerData, stdout: true, stderr: true });
    const vm: Vm = { worker, mode };
    this.vm = vm;
    // The worker's own console (Emscripten's warnings) is not the board's console.
    worker.stdout.resume();
    let stderr = '';
    worker.stderr.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
    worker.on('message', (message: WorkerMessage) => {
      if (this.vm !== vm) return;
      this.drainOutput();
      this.fromWorker(vm, message);
    });
    void this.pumpOutput(vm);
    worker.on('error', (error) => {
      if (this.vm === vm) void this.vmFailed(vm, error.message);
    });
    worker.on('exit', () => {
      if (this.vm === vm) void this.vmFailed(vm, stderr.trim().split('\n').pop() || 'it stopped');
    });
    worker.once('online', () => {
      if (this.vm === vm) this.setState(mode.kind === 'run' ? 'running' : 'repl');
    });
    const rssAtStart = process.memoryUsage.rss();
    vm.memoryTimer = setInterval(() => {
      if (this.vm === vm && process.memoryUsage.rss() - rssAtStart > this.memoryLimit) {
        void this.stopStuck(vm, 'MemoryError', `memory allocation failed (the virtual Pico stopped the program after it took ${Math.round(this.memoryLimit / 1024 / 1024)} MB of this computer's memory; a Pico has 264 KB of RAM)`);
      }
    }, 250);
    vm.memoryTimer.unref();
  }

  private fromWorker(vm: Vm, message: WorkerMessage): void {
    switch (message.type) {
      case 'run-ended':
        void this.stopVm().then(() => this.programEnded(message.result));
        break;
      case 'repl-exit':
        void this.stopVm().then(() => {
          if (!message.raw) this.print(title('Done'));
          this.print('soft reboot\r\n');
          // From the raw REPL a soft reboot returns to it without running code.py (as tools expect).
          if (message.raw) this.startVm({ kind: 'repl', raw: true, banner: false });
          else {
            this.print(STATUS_MESSAGE);
            this.runCode();
          }
        });
        break;
      case 'fatal':
        void this.vmFailed(vm, message.message);
        break;
    }
  }

  private printBytes(bytes: Uint8Array): void {
    if (this.current === 'disposed' || !bytes.length) return;
    this.relay?.write(bytes);
    for (const connection of this.connections) for (const listener of connection.data) listener(bytes);
    this.emit('output', bytes);
  }

  /** MicroPython itself failed (not the program): say so, then carry on as after a crash of the program. */
  private async vmFailed(vm: Vm, why: string): Promise<void> {
    await this.stopVm();
    if (this.current === 'disposed') return;
    this.print(`\r\n[virtual Pico] MicroPython stopped: ${why}\r\n`);
    if (vm.mode.kind === 'run') {
      this.programEnded({ end: 'exception', exception: 'RuntimeError' });
    } else {
      this.print(title('Done'));
      this.setState('waiting');
      this.print(PRESS_ANY_KEY);
    }
  }

  private async stopVm(): Promise<void> {
    const vm = this.vm;
    this.vm = undefined;
    clearTimeout(this.interruptTimer);
    this.interruptTimer = undefined;
    if (!vm) return;
    clearInterval(vm.memoryTimer);
    if (this.current !== 'disposed') this.setState('starting');
    await vm.worker.terminate();
    // What it printed before it stopped still goes out, as a board's last bytes do.
    this.drainOutput();
  }

  // --- output -------------------------------------------------------------------------------------

  /** Prints what the VM has put in the output ring, as it comes (also while it spins in a loop). */
  private async pumpOutput(vm: Vm): Promise<void> {
    while (this.vm === vm) {
      this.drainOutput();
      await this.shared.outputWritten(250);
    }
  }

  private drainOutput(): void {
    const bytes = this.shared.takeOutput();
    if (bytes) this.printBytes(bytes);
  }
}
