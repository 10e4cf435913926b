// The second wall of the virtual Pico's sandbox: how a VM process is started. Even a program that
// got past the first wall (jsBridgeWall.ts) would run in a Node process under the permission
// model that may read only its own code (this bundle, MicroPython's package) and its control
// file: no file writes, no child processes, no worker threads, no native addons, no code from
// strings, no inherited environment, its heap capped.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { CpmlError } from '../core/errors.js';

const MICROPYTHON = '@micropython/micropython-webassembly-pyscript';
/** JS heap of a VM process (MicroPython's own heap is inside its wasm memory, capped separately). */
const VM_HEAP_MB = 128;

export interface VmCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** The VM's bundle (dist/simWorker.js) and MicroPython's module, as the VM process needs them. */
export interface VmFiles {
  worker: string;
  micropython: string;
}

let cachedFiles: VmFiles | undefined;

/** The bundle next to this one (dist/), or — from the TypeScript sources under tests — the project's dist/. */
export function vmFiles(): VmFiles {
  if (cachedFiles) return cachedFiles;
  const candidates = [join(__dirname, 'simWorker.js'), join(__dirname, '..', '..', 'dist', 'simWorker.js')];
  const worker = candidates.find((path) => existsSync(path));
  if (!worker) throw new CpmlError(`the virtual Pico's worker bundle is missing (${candidates[0]})`, 'Build it with npm run build');
  const micropython = createRequire(__filename).resolve(MICROPYTHON);
  cachedFiles = { worker, micropython };
  return cachedFiles;
}

interface NodeRuntime {
  command: string;
  version: string;
  env: Record<string, string>;
}

let cachedRuntime: NodeRuntime | undefined;

function nodeOnPath(): string | undefined {
  const name = process.platform === 'win32' ? 'node.exe' : 'node';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * The Node.js that runs VMs: this process's own, unless it is Electron (VS Code desktop), whose
 * embedded Node may not honour the permission model: then a Node.js 20+ on the PATH, else
 * Electron as Node (the VM reports whether the permission model is on; see VmReady).
 */
function nodeRuntime(): NodeRuntime {
  if (cachedRuntime) return cachedRuntime;
  const base: Record<string, string> = process.platform === 'win32' && process.env.SystemRoot ? { SystemRoot: process.env.SystemRoot } : {};
  if (!process.versions.electron) {
    cachedRuntime = { command: process.execPath, version: process.version, env: base };
    return cachedRuntime;
  }
  const onPath = nodeOnPath();
  if (onPath) {
    const probe = spawnSync(onPath, ['--version'], { encoding: 'utf8', timeout: 5000, env: base });
    const version = probe.stdout?.trim() ?? '';
    if (probe.status === 0 && Number(/^v(\d+)/.exec(version)?.[1] ?? 0) >= 20) {
      cachedRuntime = { command: onPath, version, env: base };
      return cachedRuntime;
    }
  }
  cachedRuntime = { command: process.execPath, version: `v${process.versions.node}`, env: { ...base, ELECTRON_RUN_AS_NODE: '1' } };
  return cachedRuntime;
}

let cachedDeathSignal: string | undefined | null;

/**
 * Linux: util-linux's setpriv, when it can set the parent-death signal. A VM spinning in a loop
 * that calls nothing cannot notice that its supervisor was killed; with this the kernel ends it.
 */
function parentDeathWrapper(): string | undefined {
  if (cachedDeathSignal !== undefined) return cachedDeathSignal ?? undefined;
  cachedDeathSignal = null;
  if (process.platform === 'linux') {
    const setpriv = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));
    const probe = setpriv && spawnSync(setpriv, ['--help'], { encoding: 'utf8', timeout: 5000 });
    if (setpriv && probe && probe.status === 0 && probe.stdout.includes('--pdeathsig')) cachedDeathSignal = setpriv;
  }
  return cachedDeathSignal ?? undefined;
}

/** Node 20–22.12 spells the flag --experimental-permission; later versions --permission. */
function permissionFlag(version: string): string {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 13) ? '--permission' : '--experimental-permission';
}

/** The command line of a VM process that may read only `controlFile` besides its own code. */
export function vmCommand(controlFile: string): VmCommand {
  const files = vmFiles();
  const runtime = nodeRuntime();
  const readable = [files.worker, `${dirname(files.micropython)}/`, controlFile];
  const setpriv = parentDeathWrapper();
  return {
    command: setpriv ?? runtime.command,
    args: [
      ...(setpriv ? ['--pdeathsig', 'KILL', '--', runtime.command] : []),
      permissionFlag(runtime.version),
      ...readable.map((path) => `--allow-fs-read=${path}`),
      '--disallow-code-generation-from-strings',
      `--max-old-space-size=${VM_HEAP_MB}`,
      '--no-warnings',
      files.worker, files.micropython, controlFile,
    ],
    env: runtime.env,
  };
}
