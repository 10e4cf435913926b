// One deploy per drive at a time. Two deploys writing the same drive at once leave a mix of
// both, so executeDeploy holds a lock file on the drive's root while it writes: created
// exclusively, holding the owner's pid, host and start time. A lock whose process is gone (on
// this host), or that is unreadable and old, is stale and taken over. It is a write to the drive,
// so only a deploy that writes anything takes it; planDeploy only looks (and refuses early).
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DeployError } from './deployErrors.js';
import type { DeployFileSystem } from './deployFileSystem.js';
import { quoted } from '../text/untrustedText.js';

/** The lock's name on the drive's root (a dot file: hidden, and ignored by the samples reader). */
export const LOCK_FILE = '.cpml-deploy.lock';
/** A lock from another host is trusted this long: its pid cannot be checked from here. */
const FOREIGN_LOCK_MS = 60 * 60 * 1000;
/** An unreadable or half-written lock younger than this may be a deploy starting right now. */
const UNREADABLE_LOCK_MS = 60 * 1000;
const MAX_LOCK_BYTES = 4096;

interface LockOwner {
  pid: number;
  host: string;
  /** ISO time the deploy started. */
  started: string;
  /** Tells two deploys of one process apart. */
  token: string;
}

export interface DriveLock {
  /** Removes the lock, if it is still this deploy's; `root` is where the drive is now. */
  release(root?: string): Promise<void>;
}

type Judgement = { state: 'free' } | { state: 'stale'; raw?: string } | { state: 'held'; owner?: LockOwner } | { state: 'not a lock'; kind: string };

const code = (error: unknown) => (error as NodeJS.ErrnoException)?.code;

function parseOwner(raw: string): LockOwner | undefined {
  try {
    const value = JSON.parse(raw) as Partial<LockOwner>;
    const validPid = typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0;
    if (!validPid || typeof value.host !== 'string' || typeof value.started !== 'string' || typeof value.token !== 'string') return undefined;
    return value as LockOwner;
  } catch {
    return undefined;
  }
}

/** Signal 0 checks a process exists without touching it; EPERM: it exists, as another user's. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return code(error) === 'EPERM';
  }
}

async function readRaw(path: string, fs: DeployFileSystem): Promise<string | undefined> {
  try {
    return new TextDecoder().decode(await fs.readFile(path, { maxBytes: MAX_LOCK_BYTES, noFollow: true, what: 'lock' }));
  } catch {
    return undefined; // Unreadable: judged by its age.
  }
}

async function judge(path: string, fs: DeployFileSystem): Promise<Judgement> {
  const info = await fs.lstat(path);
  if (!info) return { state: 'free' };
  // Not a file a deploy made (a link, a folder, a FIFO): not ours to take over or remove.
  if (!info.isFile) return { state: 'not a lock', kind: info.kind };
  let raw = await readRaw(path, fs);
  let owner = raw === undefined ? undefined : parseOwner(raw);
  // Created but not yet written (another deploy is taking it right now): look again shortly.
  for (let tries = 0; !owner && raw !== undefined && tries < 5; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    raw = await readRaw(path, fs);
    owner = raw === undefined ? undefined : parseOwner(raw);
  }
  if (raw === undefined && !(await fs.lstat(path))) return { state: 'free' };
  if (!owner) return Date.now() - info.mtimeMs < UNREADABLE_LOCK_MS ? { state: 'held' } : { state: 'stale', raw };
  if (owner.host === hostname()) return processAlive(owner.pid) ? { state: 'held', owner } : { state: 'stale', raw };
  const age = Date.now() - Date.parse(owner.started);
  return age >= 0 && age < FOREIGN_LOCK_MS ? { state: 'held', owner } : { state: 'stale', raw };
}

function busy(owner: LockOwner | undefined, driveLabel: string): DeployError {
  const who = owner ? `pid ${owner.pid}${owner.host === hostname() ? '' : ` on ${quoted(owner.host, 80)}`}` : 'pid unknown: its lock file was written moments ago';
  return new DeployError('busy', `another deploy to this drive is running (${who})`,
    `Wait for it to finish and deploy again; if no deploy is running, remove ${join(driveLabel, LOCK_FILE)}`);
}

/** Refuses when a live deploy holds the drive's lock (planDeploy: nothing is written). */
export async function checkNotLocked(root: string, driveLabel: string, fs: DeployFileSystem): Promise<void> {
  const judgement = await judge(join(root, LOCK_FILE), fs);
  if (judgement.state === 'held') throw busy(judgement.owner, driveLabel);
  if (judgement.state === 'not a lock') throw notALock(judgement.kind, driveLabel);
}

function notALock(kind: string, driveLabel: string): DeployError {
  return new DeployError('drive', `the drive has a ${LOCK_FILE} that is a ${kind}, not a deploy's lock file`,
    `Remove ${join(driveLabel, LOCK_FILE)} (deploy keeps its lock there while it writes)`);
}

/**
 * Takes the drive's lock or refuses with the owner's pid. Errors creating it (a read-only
 * drive, permissions) are thrown as they are, for the caller to name the lock's path.
 */
export async function acquireDriveLock(root: string, driveLabel: string, fs: DeployFileSystem): Promise<DriveLock> {
  const path = join(root, LOCK_FILE);
  const owner: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), token: randomUUID() };
  const data = new TextEncoder().encode(JSON.stringify(owner) + '\n');
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const file = await fs.create(path);
      try {
        await file.write(data);
        await file.sync();
      } finally {
        await file.close();
      }
      return { release: (where = root) => releaseLock(join(where, LOCK_FILE), owner.token, fs) };
    } catch (error) {
      if (code(error) !== 'EEXIST') throw error;
    }
    const judgement = await judge(path, fs);
    if (judgement.state === 'held') throw busy(judgement.owner, driveLabel);
    if (judgement.state === 'not a lock') throw notALock(judgement.kind, driveLabel);
    // Stale: remove it only if it is still the lock judged (another deploy may have just taken it over).
    if (judgement.state === 'stale' && (await readRaw(path, fs)) === judgement.raw) await fs.remove(path);
  }
  throw busy(undefined, driveLabel);
}

async function releaseLock(path: string, token: string, fs: DeployFileSystem): Promise<void> {
  try {
    const raw = await readRaw(path, fs);
    if (raw !== undefined && parseOwner(raw)?.token === token) await fs.remove(path);
  } catch {
    // Best effort: a lock left behind is stale once this process ends.
  }
}
