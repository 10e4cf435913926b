// The virtual Pico: a CIRCUITPY folder, a serial port, and CircuitPython's supervisor around
// real MicroPython — the console messages, Ctrl-C / Ctrl-D / any key, the REPL, auto-reload
// 500 ms after the last write to the drive — as docs/circuitpython-board.md describes them,
// byte for byte where it gives bytes. Each program run or REPL session is a fresh MicroPython
// VM in a sandboxed child process (vmProcess.ts, simWorker.ts): the program sees only the drive's
// files, and stopping a VM means ending its process. Typed and printed bytes cross as frames; a
// program's output is flow-controlled like a USB CDC port (it blocks while the port is not read)
// and Ctrl-C reaches a program that is busy.
//
// Lifecycle: new VirtualPico(options) → await start() → { port, drive } → … → await dispose().
// The console is reachable through the pseudo-terminal `port` (serialport opens it like a
// board) and in-process: connect() or `openPort` (a PortOpener for SerialSession).
import { EventEmitter } from 'node:events';
import { closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_HEAP_BUDGET_BYTES } from '../core/analysis/memoryPlan.js';
import { LOCK_FILE } from '../core/deploy/driveLock.js';
import { DEFAULT_MAX_MACS } from '../core/engine/computeBudget.js';
import { CpmlError, formatUserError } from '../core/errors.js';
import type { PortOpener } from '../core/serial/portOpener.js';
import { DriveWatcher } from './driveWatcher.js';
import { PtyRelay, type RelayKind } from './ptyRelay.js';
import { OUTPUT_WINDOW_BYTES, statusTitle, type RunResult, type VmMode, type VmReady, type WorkerMessage } from './simProtocol.js';
import { BOOT_OUT, checkDriveFolder, PROGRAM_FILES, readDriveFiles, writeBootOut, type DriveEntry } from './virtualDrive.js';
import { VmProcess } from './vmProcess.js';

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
  /** Largest model cnn_helper runs, in MACs per inference (a model that would run for hours on a board is refused). */
  maxMacs?: number;
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
  /** Trouble outside the program (the port helper died, the drive folder vanished, a sandbox wall is missing). */
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
const title = statusTitle;
const STATUS_MESSAGE = `\r\n${LINE_CLEAR}Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.\r\n`;
const PRESS_ANY_KEY = '\r\nPress any key to enter the REPL. Use CTRL-D to reload.\r\n';
const CTRL_C = 0x03;
const CTRL_D = 0x04;
/** Keys typed while no VM runs are kept, up to a board's input buffer. */
const MAX_PENDING_KEYS = 4096;
/** Files the supervisor itself writes or the deploy's lock: writing them is not a change of the program. */
const NOT_A_CHANGE = new Set([BOOT_OUT, LOCK_FILE]);

interface Vm {
  process: VmProcess;
  mode: VmMode;
  /** A raw-REPL block is running (its stdout is open). */
  rawJob?: boolean;
}

function isRegularFile(path: string): boolean {
  try {
    return lstatSync(path).isFile();
  } catch {
    return false;
  }
}

export class VirtualPico extends EventEmitter<PicoEvents> {
  private readonly heapBytes: number;
  private readonly reloadDelayMs: number;
  private readonly interruptTimeoutMs: number;
  private readonly maxMacs: number;
  private readonly bootHrtime = process.hrtime.bigint();
  private current: PicoState = 'off';
  private drive = '';
  /** Holds the control file, the VMs' stderr, and by default the drive and the port link. */
  private workDir?: string;
  private controlFd?: number;
  private relay?: PtyRelay;
  private watcher?: DriveWatcher;
  private vm?: Vm;
  private reloadTimer?: NodeJS.Timeout;
  private interruptTimer?: NodeJS.Timeout;
  /** The Ctrl-C the interrupt timer waits for the VM to take (or a later one). */
  private interruptTimerSeq = 0;
  /** "Press any key…" waits until a pending auto-reload has happened, as the firmware does. */
  private pressAnyKeyDue = false;
  private readonly connections = new Set<Connection>();
  private info?: VirtualPicoInfo;
  /** The control file's cells: Ctrl-Cs so far, input bytes sent to the current VM. */
  private interruptSeq = 0;
  private inputSent = 0;
  /** ns the virtual clock runs ahead of the host's, carried from VM to VM. */
  private clockOffset = 0n;
  private pendingKeys: number[] = [];
  private waitingForDrain = false;
  private wallWarned = false;
  private walls?: VmReady;

  constructor(private readonly options: VirtualPicoOptions = {}) {
    super();
    this.heapBytes = options.heapBytes ?? DEFAULT_HEAP_BUDGET_BYTES;
    this.reloadDelayMs = options.autoReloadDelayMs ?? 500;
    this.interruptTimeoutMs = options.interruptTimeoutMs ?? 1000;
    this.maxMacs = options.maxMacs ?? DEFAULT_MAX_MACS;
    if (!Number.isFinite(this.heapBytes) || this.heapBytes <= 0) throw new CpmlError(`the heap size must be a positive number of bytes, got ${options.heapBytes}`);
  }

  get state(): PicoState {
    return this.current;
  }

  /** The sandbox's walls as the last VM found them (undefined until a VM has started). */
  get sandbox(): VmReady | undefined {
    return this.walls;
  }

  /** Creates the drive's boot_out.txt and the serial port, then boots: runs code.py. */
  async start(): Promise<VirtualPicoInfo> {
    if (this.info) return this.info;
    if (this.current !== 'off') throw new CpmlError('this virtual Pico has been disposed');
    this.setState('starting');
    try {
      if (this.options.drive) checkDriveFolder(this.options.drive);
      this.workDir = mkdtempSync(join(tmpdir(), 'cpml-sim-'));
      if (this.options.drive) this.drive = this.options.drive;
      else {
        this.drive = join(this.workDir, 'CIRCUITPY');
        mkdirSync(this.drive);
      }
      this.controlFd = openSync(join(this.workDir, 'control'), 'w+', 0o600);
      this.writeControl();
      const uid = writeBootOut(this.drive);
      const pty = this.options.pty ?? 'auto';
      if (pty !== false) {
        const relay = await PtyRelay.create(this.options.portLink ?? join(this.workDir, 'ttyPICO'), pty === 'auto' ? undefined : pty);
        // dispose() may have run meanwhile (the user stopped it while it started).
        if (this.state === 'disposed') {
          await relay.dispose();
          throw new CpmlError('the virtual Pico was stopped while starting');
        }
        this.relay = relay;
        this.relay.on('data', (bytes) => this.input(bytes));
        this.relay.on('exit', (message) => this.emitError(new CpmlError(message)));
      }
      this.watcher = new DriveWatcher(this.drive, (name) => this.driveWritten(name), (message) => this.emitError(new CpmlError(message)));
      this.watcher.start();
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
    if (this.controlFd !== undefined) closeSync(this.controlFd);
    this.controlFd = undefined;
    if (this.workDir) rmSync(this.workDir, { recursive: true, force: true });
    this.removeAllListeners();
  }

  /** Bytes typed on the console (what a host writes to the serial port). */
  input(data: string | Uint8Array): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    // Runs of typed bytes go to the VM as they are (slices, not copies byte by byte).
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      switch (this.current) {
        case 'waiting':
          this.sendKeys(bytes.subarray(start, i));
          start = i + 1;
          this.keyAtPrompt(b);
          break;
        case 'running':
        case 'repl':
        case 'starting':
          // The VM decides what a Ctrl-C is: KeyboardInterrupt while Python runs, a key at the prompt.
          if (b === CTRL_C && this.vm) {
            this.sendKeys(bytes.subarray(start, i));
            start = i + 1;
            this.interrupt();
          }
          break;
        default:
          return;
      }
    }
    this.sendKeys(bytes.subarray(start));
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
    // A regular file, as on the board's FAT drive (a folder or a link named code.py is not a program).
    const file = PROGRAM_FILES.find((name) => isRegularFile(join(this.drive, name)));
    if (!file) {
      this.programEnded(undefined);
      return;
    }
    this.print(`${LINE_CLEAR}${file} output:\r\n${title(file)}`);
    this.startVm({ kind: 'run', file });
  }

  private programEnded(result: RunResult | undefined, unread: readonly number[] = []): void {
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
    // Keys typed while the program ran (and it did not read) are read now.
    const keys = [...unread, ...this.pendingKeys.splice(0)];
    if (keys.length) this.input(Uint8Array.from(keys));
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

  // --- the console --------------------------------------------------------------------------------

  /** The control file: what a VM reads without blocking (Ctrl-C while it computes, input on its way). */
  private writeControl(): void {
    if (this.controlFd === undefined) return;
    const cells = Buffer.alloc(8);
    cells.writeUInt32LE(this.interruptSeq >>> 0, 0);
    cells.writeUInt32LE(this.inputSent >>> 0, 4);
    writeSync(this.controlFd, cells, 0, 8, 0);
  }

  private sendKeys(keys: Uint8Array): void {
    if (!keys.length) return;
    const vm = this.vm;
    if (!vm) {
      const room = Math.max(0, MAX_PENDING_KEYS - this.pendingKeys.length);
      for (const key of keys.subarray(0, room)) this.pendingKeys.push(key);
      return;
    }
    const length = keys.length;
    vm.process.input(keys, () => {
      if (this.vm !== vm) return;
      this.inputSent = (this.inputSent + length) >>> 0;
      this.writeControl();
    });
  }

  /** Ctrl-C while a VM runs: it raises KeyboardInterrupt (or, at its prompt, takes it as a key). */
  private interrupt(): void {
    const vm = this.vm;
    if (!vm) return;
    this.interruptSeq = (this.interruptSeq + 1) >>> 0;
    this.writeControl();
    vm.process.interrupt(this.interruptSeq);
    // Whatever the program waits to print, it may print now: its traceback must get out.
    vm.process.acknowledge();
    if (this.interruptTimer) return;
    this.interruptTimerSeq = this.interruptSeq;
    this.interruptTimer = setTimeout(() => {
      this.interruptTimer = undefined;
      // Still running and the interrupt was never taken: a loop that calls nothing. End its VM.
      if (this.vm === vm) void this.stopStuck(vm, 'KeyboardInterrupt', '');
    }, this.interruptTimeoutMs);
  }

  /**
   * Ends a VM that does not respond, printing what the firmware would (without the line: it is
   * not known). A raw-REPL block ends framed as the raw REPL frames it: the end of its stdout,
   * the traceback, \x04, then the raw prompt (the new VM prints it).
   */
  private async stopStuck(vm: Vm, exception: string, message: string): Promise<void> {
    await this.stopVm();
    if (this.current === 'disposed') return;
    const traceback = `Traceback (most recent call last):\r\n${exception}: ${message}\r\n`;
    if (vm.mode.kind === 'run') {
      this.print(traceback);
      this.programEnded({ end: 'exception', exception });
      return;
    }
    // Only a running block can be stuck in the raw REPL (waiting there for keys is not being stuck).
    const raw = vm.rawJob === true;
    this.print(raw ? `\x04${traceback}\x04` : traceback);
    this.startVm({ kind: 'repl', raw, banner: false });
  }

  // --- auto-reload ----------------------------------------------------------------------------

  private driveWritten(name: string): void {
    if (NOT_A_CHANGE.has(name)) return;
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
    if (this.current === 'disposed' || !this.workDir) return;
    this.setState('starting');
    let files: DriveEntry[];
    try {
      files = readDriveFiles(this.drive);
    } catch (error) {
      this.print(`\r\n[virtual Pico] ${error instanceof CpmlError ? formatUserError(error) : String(error)}\r\n`);
      if (mode.kind === 'run') this.programEnded({ end: 'exception', exception: 'OSError' });
      else this.setState('waiting');
      return;
    }
    const vmProcess = new VmProcess(join(this.workDir, 'control'), join(this.workDir, 'vm-stderr.log'));
    const vm: Vm = { process: vmProcess, mode };
    this.vm = vm;
    this.inputSent = 0;
    this.writeControl();
    vmProcess.on('ready', (ready) => {
      this.checkWalls(ready);
      if (this.vm === vm) this.setState(mode.kind === 'run' ? 'running' : 'repl');
    });
    vmProcess.on('output', (bytes) => {
      // Also the last bytes of a VM being stopped: they come before anything printed after it.
      this.printBytes(bytes);
      if (this.vm === vm) this.acknowledgeWhenTaken(vm);
    });
    vmProcess.on('message', (message) => {
      if (this.vm === vm) this.fromVm(vm, message);
    });
    vmProcess.on('clock', (offset) => { this.clockOffset = offset; });
    vmProcess.on('exit', (why) => {
      if (this.vm === vm) void this.vmFailed(vm, why || 'it stopped');
    });
    vmProcess.start({
      mode, heapBytes: this.heapBytes, bootHrtime: String(this.bootHrtime), clockOffsetNs: String(this.clockOffset),
      interruptSeq: this.interruptSeq, maxMacs: this.maxMacs,
    }, files);
    if (this.pendingKeys.length) this.sendKeys(Uint8Array.from(this.pendingKeys.splice(0)));
  }

  /** The walls as the VM found them: say so once if one is missing (a runtime without Node's permission model). */
  private checkWalls(ready: VmReady): void {
    this.walls = ready;
    if (ready.permissionModel || this.wallWarned) return;
    this.wallWarned = true;
    this.emitError(new CpmlError(`the virtual Pico runs without its second wall: the Node.js that runs its programs (${ready.node}) does not enforce the permission model, so they are kept from this computer by the interpreter alone (it has no bridge to JavaScript)`,
      'Install Node.js 20 or later and put it on the PATH, then restart the virtual Pico'));
  }

  /** Output credit for the VM once the port has taken what it printed: a port nobody reads makes the program wait. */
  private acknowledgeWhenTaken(vm: Vm): void {
    if (!this.relay?.congested) {
      vm.process.acknowledge(OUTPUT_WINDOW_BYTES / 4);
      return;
    }
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.relay.once('drain', () => {
      this.waitingForDrain = false;
      this.vm?.process.acknowledge();
    });
  }

  private fromVm(vm: Vm, message: WorkerMessage): void {
    switch (message.type) {
      case 'run-ended':
        void this.stopVm().then(() => this.programEnded(message.result, message.unread));
        break;
      case 'repl-exit':
        void this.stopVm().then(() => {
          if (!message.raw) this.print(title('Done'));
          this.print('soft reboot\r\n');
          // From the raw REPL a soft reboot returns to it without running code.py (as the firmware does).
          if (message.raw) this.startVm({ kind: 'repl', raw: true, banner: true });
          else {
            this.print(STATUS_MESSAGE);
            this.runCode();
          }
        });
        break;
      case 'raw-job':
        vm.rawJob = message.running;
        break;
      case 'interrupted':
        // Taking that Ctrl-C or a later one shows the VM responds.
        if (((message.seq - this.interruptTimerSeq) | 0) >= 0) {
          clearTimeout(this.interruptTimer);
          this.interruptTimer = undefined;
        }
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
    if (this.current !== 'disposed') this.setState('starting');
    // Resolves once its process is gone and everything it printed has been read.
    await vm.process.kill();
  }
}
