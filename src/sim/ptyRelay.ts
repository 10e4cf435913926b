// A real pseudo-terminal for the virtual Pico, so that serialport (cpml monitor, the extension)
// opens it like a board's USB serial port. Node cannot make a pty without native code, so a
// small helper process holds the pty's controller side and relays it over its stdin/stdout:
// socat when installed, otherwise a few lines of python3 (os.openpty). The port is a symlink
// to the pty's device (/dev/pts/N, /dev/ttysNNN). The helper exits when this process ends (its
// stdin closes) or on dispose(). When the port is not read, the helper stops taking output and
// `congested` says so: the virtual Pico then makes the program wait, as a USB CDC port does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { lstatSync, readlinkSync, rmSync } from 'node:fs';
import { CpmlError } from '../core/errors.js';
import { quoted } from '../core/text/untrustedText.js';

export type RelayKind = 'socat' | 'python3';

export class PtyUnavailableError extends CpmlError {}

export const NO_PTY_HINT = 'The virtual Pico needs socat or python3 to create a serial port (apt-get install socat, brew install socat); on Windows use the in-process connection';

/** Output queued for the helper beyond this means the port is not being read: the program waits. */
const CONGESTED_BYTES = 64 * 1024;
/** Output queued beyond this is dropped (only reached when a Ctrl-C lets a waiting program's traceback out). */
const MAX_QUEUED_BYTES = 1024 * 1024;
const START_TIMEOUT_MS = 10_000;

const PYTHON_RELAY = String.raw`
import errno, os, select, signal, sys, time, tty
link = sys.argv[1]
controller, device = os.openpty()
tty.setraw(device)
name = os.ttyname(device)
if os.path.islink(link):
    os.unlink(link)
os.symlink(name, link)
os.close(device)
def leave(*_):
    try:
        os.unlink(link)
    except OSError:
        pass
    os._exit(0)
signal.signal(signal.SIGTERM, leave)
signal.signal(signal.SIGINT, leave)
os.set_blocking(controller, False)
sys.stderr.write("relaying " + name + "\n")
sys.stderr.flush()
while True:
    ready = select.select([0, controller], [], [], 1.0)[0]
    if 0 in ready:
        data = os.read(0, 65536)
        if not data:
            leave()
        try:
            os.write(controller, data)
        except OSError:
            pass  # nobody has the port open, or its buffer is full: dropped, as a board's output
    if controller in ready:
        try:
            data = os.read(controller, 65536)
        except OSError as e:
            if e.errno == errno.EIO:
                time.sleep(0.05)  # no program has the port open
                continue
            if e.errno == errno.EAGAIN:
                continue
            raise
        if data:
            os.write(1, data)
`;

function works(command: string, args: string[]): boolean {
  const probe = spawnSync(command, args, { stdio: 'ignore', timeout: 5000 });
  return !probe.error && probe.status === 0;
}

/** The helper this machine has, or undefined (then only the in-process connection works). */
export function findRelay(): RelayKind | undefined {
  if (process.platform === 'win32') return undefined;
  if (works('socat', ['-V'])) return 'socat';
  if (works('python3', ['-c', 'import os, pty, tty, select; os.openpty'])) return 'python3';
  return undefined;
}

interface RelayEvents {
  data: [bytes: Uint8Array];
  /** The helper took what was queued: no longer congested. */
  drain: [];
  /** The helper went away without dispose(): the port is gone. */
  exit: [message: string];
}

export class PtyRelay extends EventEmitter<RelayEvents> {
  private disposed = false;
  private readonly exited: Promise<void>;

  private constructor(readonly path: string, readonly kind: RelayKind, private readonly child: ChildProcess) {
    super();
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.on('data', (chunk: Buffer) => this.emit('data', chunk));
    child.stdin!.on('error', () => undefined);
    child.stdin!.on('drain', () => this.emit('drain'));
    child.once('exit', (code, signal) => {
      if (!this.disposed) this.emit('exit', `the serial port helper (${kind}) stopped (${signal ?? `exit status ${code}`})`);
    });
  }

  /** Starts the helper and resolves once the port exists. */
  static async create(link: string, kind: RelayKind | undefined = findRelay()): Promise<PtyRelay> {
    if (!kind) {
      throw new PtyUnavailableError(process.platform === 'win32' ? 'Windows has no pseudo-terminals for the virtual Pico\'s serial port' : 'neither socat nor python3 is installed', NO_PTY_HINT);
    }
    claimPortLink(link);
    // A process group of its own: a Ctrl-C in the terminal that runs cpml sim is for cpml, which
    // then stops the helper (it also ends by itself when our end of its stdin closes).
    const options = { stdio: ['pipe', 'pipe', 'pipe'] as ('pipe')[], detached: true };
    const child = kind === 'socat'
      ? spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${link}`, 'STDIO'], options)
      : spawn('python3', ['-c', PYTHON_RELAY, link], options);
    const ready = kind === 'socat' ? 'starting data transfer loop' : 'relaying ';
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new PtyUnavailableError(`could not create the virtual Pico's serial port with ${kind}: ${why}`, NO_PTY_HINT));
      };
      const timer = setTimeout(() => fail(`no answer in ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (!log.includes(ready)) return;
        clearTimeout(timer);
        child.stderr!.off('data', onData);
        child.stderr!.resume();
        resolve();
      };
      child.stderr!.on('data', onData);
      child.once('error', (error) => fail(error.message));
      child.once('exit', (code) => fail(`it exited (${code}): ${log.trim().split('\n').slice(-2).join(' ')}`));
    });
    return new PtyRelay(link, kind, child);
  }

  /** The port is not being read (as fast as the board prints): wait for 'drain'. */
  get congested(): boolean {
    const stdin = this.child.stdin!;
    return !this.disposed && !stdin.destroyed && stdin.writableLength > CONGESTED_BYTES;
  }

  /** Bytes the board prints. */
  write(bytes: Uint8Array): void {
    const stdin = this.child.stdin!;
    if (this.disposed || stdin.destroyed || stdin.writableLength > MAX_QUEUED_BYTES) return;
    stdin.write(bytes);
  }

  /** Stops the helper (the port disappears) and waits for it to exit. */
  async dispose(): Promise<void> {
    if (this.disposed) return this.exited;
    this.disposed = true;
    this.child.stdin!.destroy();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await this.exited;
    clearTimeout(timer);
    removeStaleLink(this.path);
  }
}

/** Where pseudo-terminal devices live: a link to one of them is a port a relay made. */
const PTY_DEVICE = /^\/dev\/(pts\/\d+|ttys\d+|pty\w+|tty[p-za-e][0-9a-f])$/;

/**
 * The port's path must be free, or hold a link to a pseudo-terminal that a killed relay left
 * (it would stop the new one, so it is removed). Anything else there is not ours: socat would
 * replace it, so it is refused.
 */
export function claimPortLink(link: string): void {
  let stats;
  try {
    stats = lstatSync(link);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new PtyUnavailableError(`cannot use ${quoted(link, 300)} for the virtual Pico's serial port: ${(error as Error).message}`, 'Choose another --link');
  }
  const target = stats.isSymbolicLink() ? readlinkSync(link) : undefined;
  if (target !== undefined && PTY_DEVICE.test(target)) {
    rmSync(link, { force: true });
    return;
  }
  const what = target !== undefined ? `a link to ${quoted(target, 200)}` : stats.isDirectory() ? 'a folder' : stats.isFile() ? 'a file' : 'something else';
  throw new PtyUnavailableError(`${quoted(link, 300)} already exists (${what}); the virtual Pico's serial port would replace it`,
    'Choose a path that does not exist for --link (the port is a new symbolic link), or remove it yourself');
}

function removeStaleLink(link: string): void {
  try {
    const stats = lstatSync(link);
    if (stats.isSymbolicLink() && PTY_DEVICE.test(readlinkSync(link))) rmSync(link, { force: true });
  } catch {
    // Not there.
  }
}
