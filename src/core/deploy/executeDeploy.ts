// Deploy, part 2: carry out a plan on the drive.
//
// Staged (the normal case): every changed file is written under a temporary name in its own
// folder (`.<name>.cpml-tmp`), fsync'd and closed; only when all are written are they renamed
// over the old files, in plan order — model, samples, labels, the backup of the user's code.py,
// code.py last, so the board's auto-reload finds the data its new program needs. A failure or a
// cancellation before the renames removes the temporaries (and any folder the deploy created):
// the drive is exactly as it was. Unchanged files are never opened for writing.
// Sequential (a nearly full drive, see planDeploy): the same per file, one file at a time.
//
// While it writes, the deploy holds the drive's lock (one deploy per drive), first checks that
// the drive is still what the plan saw, and before every file checks that the drive is still
// there (driveGuard.ts): a drive that goes away stops the deploy, whose temporaries are removed
// wherever they can still be reached. A deploy with nothing to write does not touch the drive.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CpmlError } from '../errors.js';
import { describeFsError } from '../files/readFileChecked.js';
import { quoted } from '../text/untrustedText.js';
import { DeployError } from './deployErrors.js';
import { nodeDeployFileSystem, withFileErrors, type DeployFileSystem } from './deployFileSystem.js';
import { DriveGuard, readDriveFile, stampOf } from './driveGuard.js';
import { acquireDriveLock, LOCK_FILE, processAlive, type DriveLock } from './driveLock.js';
import type { DeployModelSummary, DeployPlan, PlannedFile } from './planDeploy.js';

export type DeployAction = 'write' | 'skip' | 'rename' | 'backup';

export interface DeployStep {
  /** 1-based. */
  index: number;
  /** Steps of the whole deploy: one per planned file, plus one per rename. */
  total: number;
  /** Path on the drive, relative to its root. */
  file: string;
  /**
   * write: the file's new bytes are on the drive under a temporary name; skip: unchanged, not
   * touched; rename: the new file replaced the old one; backup: the user's code.py is now kept
   * under this name.
   */
  action: DeployAction;
}

export interface ExecuteOptions {
  onProgress?(step: DeployStep): void;
  /** Asked between files; once true the deploy stops (before the renames: nothing changed). */
  isCancelled?(): boolean;
  fs?: DeployFileSystem;
}

export interface DeployResult {
  drive: string;
  /** Files written (new or changed), in the order they were put in place; code.py last if written. */
  written: string[];
  /** Files the drive already had with the same bytes. */
  skipped: string[];
  /** Where the user's previous code.py is kept (made by this deploy, or found already kept). */
  backup?: string;
  backupCreated: boolean;
  model: DeployModelSummary;
  keepLoaded: boolean;
  strategy: DeployPlan['strategy'];
  warnings: string[];
  durationMs: number;
}

const TEMP_SUFFIX = '.cpml-tmp';
/** Temporaries of this module and of files/atomicWrite.ts (which adds the process id). */
const TEMP_PATTERN = /^\..+\.cpml-tmp(?:-(\d+))?$/;

export function temporaryName(path: string): string {
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}${TEMP_SUFFIX}`;
}

const code = (error: unknown) => (error as NodeJS.ErrnoException)?.code;

export async function executeDeploy(plan: DeployPlan, options: ExecuteOptions = {}): Promise<DeployResult> {
  const fs = withFileErrors(options.fs ?? nodeDeployFileSystem);
  const started = performance.now();
  const guard = new DriveGuard(plan.drive, plan.folders, fs);
  const writes = plan.files.filter((f) => f.action === 'write');
  const total = plan.files.length + writes.length;
  let index = 0;
  const emit = (file: string, action: DeployAction) => options.onProgress?.({ index: ++index, total, file, action });
  const cancelled = () => options.isCancelled?.() === true;

  const pending = new Map<string, string>(); // temporaries on the drive (relative path → identity)
  const placed: string[] = []; // drive paths renamed into place
  const skipped: string[] = [];
  let current: string | undefined; // the drive path being written or renamed
  let lastWritten: string | undefined; // full path of the file written last (temporary or in place)
  let lock: DriveLock | undefined;

  const folders = plan.folders.map((f) => f.path);
  const writeTemporary = async (f: PlannedFile) => {
    current = f.path;
    await guard.checkDrive();
    await guard.folder(parentOf(f.path), true);
    const tempPath = temporaryName(f.path);
    const previous = f.role === 'code' && lastWritten ? (await fs.lstat(lastWritten))?.mtimeMs : undefined;
    const file = await fs.create(guard.full(tempPath)).catch((error: unknown) => {
      if (code(error) !== 'EEXIST') throw error;
      // A crash's temporaries were removed before writing: this one is something else's.
      throw new DeployError('changed', `something else on the drive has the name of deploy's temporary file ${quoted(tempPath)}; it was left alone`, 'Remove it from the drive, then deploy again');
    });
    try {
      const identity = await file.stat().then((info) => info.identity, async (error: unknown) => {
        await fs.remove(guard.full(tempPath)); // just created, exclusively: ours, whatever it is now
        throw error;
      });
      pending.set(tempPath, identity);
      await file.write(f.data);
      await file.sync();
      // code.py is written last, and its time says so: file systems stamp with a coarse clock
      // (a few ms), so a file written right after another can carry the same time. Write the
      // temporary again until its time is newer, for at most ~0.1 s (FAT's 2 s resolution cannot be met).
      for (let tries = 0; previous !== undefined && tries < 25; tries++) {
        if ((await file.stat()).mtimeMs > previous) break;
        await new Promise((resolve) => setTimeout(resolve, 4));
        await file.write(f.data, 0);
        await file.sync();
      }
    } finally {
      await file.close();
    }
    lastWritten = guard.full(tempPath);
  };
  /** Nothing the plan did not see may be lost: code.py is still what it was, no backup appeared where ours goes. */
  const preflight = async (f: PlannedFile) => {
    if (f.role === 'code') await checkCodeUnchanged(f, guard, fs);
    if (f.role === 'backup' && (await fs.lstat(guard.full(f.path)))) {
      throw new DeployError('write', `${f.path} appeared on the drive during the deploy; it was not overwritten`, 'Deploy again');
    }
  };
  const putInPlace = async (f: PlannedFile) => {
    current = f.path;
    await guard.checkDrive();
    await guard.folder(parentOf(f.path), false);
    await preflight(f);
    const tempPath = temporaryName(f.path);
    // Still the temporary this deploy wrote: a link swapped in would be renamed into place.
    const temp = await fs.lstat(guard.full(tempPath));
    if (!temp?.isFile || temp.identity !== pending.get(tempPath)) {
      throw new DeployError('changed', `${quoted(tempPath)} was replaced on the drive during the deploy`, 'Deploy again');
    }
    await fs.rename(guard.full(tempPath), guard.full(f.path));
    pending.delete(tempPath);
    if (lastWritten === guard.full(tempPath)) lastWritten = guard.full(f.path);
    placed.push(f.path);
    emit(f.path, f.role === 'backup' ? 'backup' : 'rename');
  };
  const stopIfCancelled = () => {
    if (cancelled()) throw new DeployError('cancelled', 'deploy cancelled');
  };

  try {
    stopIfCancelled(); // before the lock: a deploy cancelled before it began does not touch the drive
    if (writes.length) {
      await guard.open();
      current = LOCK_FILE;
      lock = await acquireDriveLock(guard.root, plan.drive.path, fs);
      current = undefined;
    }
    // Another deploy (or program) may have written the drive since the plan: this one would mix with it.
    await checkPlanCurrent(plan, guard, fs);
    if (writes.length) await removeStaleTemporaries(guard, folders, fs);
    for (const f of plan.files) {
      stopIfCancelled();
      if (f.action === 'skip') {
        skipped.push(f.path);
        emit(f.path, 'skip');
        continue;
      }
      await writeTemporary(f);
      emit(f.path, 'write');
      if (plan.strategy === 'sequential') await putInPlace(f);
    }
    if (plan.strategy === 'staged' && writes.length) {
      stopIfCancelled();
      for (const f of writes) await preflight(f); // before the first rename: a refusal here changes nothing
      for (const f of writes) await putInPlace(f);
    }
    current = undefined;
    if (writes.length) for (const folder of folders) await fs.syncDirectory(guard.full(folder));
  } catch (error) {
    // Where is the drive now? At its path, moved (found by its identity), or gone.
    const where = await guard.locate().catch(() => undefined);
    const roots = where && where !== guard.root ? [guard.root, where] : [guard.root];
    let left = 0;
    for (const [path, identity] of pending) if (!(await guard.removeOwnFile(path, identity, roots))) left++;
    await guard.removeCreatedFolders(roots);
    for (const root of roots) await lock?.release(root);
    await guard.close();
    if (where !== guard.root) throw driveGone(plan, where, placed, left);
    throw describeFailure(error, current === undefined ? plan.drive.path : join(plan.drive.path, ...current.split('/')), placed);
  }
  await lock?.release();
  await guard.close();

  const backupFile = plan.files.find((f) => f.role === 'backup');
  return {
    drive: plan.drive.path,
    written: placed.filter((p) => p !== backupFile?.path),
    skipped,
    backup: plan.backup?.path,
    backupCreated: backupFile !== undefined,
    model: plan.model,
    keepLoaded: plan.keepLoaded,
    strategy: plan.strategy,
    warnings: plan.warnings,
    durationMs: performance.now() - started,
  };
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** Every file and folder the plan looked at is still as it saw it. */
async function checkPlanCurrent(plan: DeployPlan, guard: DriveGuard, fs: DeployFileSystem): Promise<void> {
  await guard.checkFolders();
  for (const f of plan.files) {
    if (stampOf(await fs.lstat(guard.full(f.path))) !== f.seen) {
      if (f.role === 'code') throw codeChanged();
      throw new DeployError('changed', `${quoted(f.path)} changed on the drive since the deploy was planned (another program or deploy wrote to it)`, 'Deploy again');
    }
  }
}

/** code.py must still be what the plan saw: otherwise the user changed it meanwhile and it has no backup. */
async function checkCodeUnchanged(f: PlannedFile, guard: DriveGuard, fs: DeployFileSystem): Promise<void> {
  const info = await fs.lstat(guard.full(f.path));
  if (info?.isSymbolicLink) throw new DeployError('changed', 'code.py on the drive was replaced by a symbolic link during the deploy; it was left as it is', 'Remove the link and deploy again');
  const bytes = info?.isFile ? await readDriveFile(guard.drive, f.path, fs, info) : undefined;
  const now = bytes && createHash('sha256').update(bytes).digest('hex');
  if (now !== f.existingSha256) throw codeChanged();
}

const codeChanged = () => new DeployError('changed', 'code.py changed on the drive during the deploy; it was left as it is', 'Deploy again: your new code.py will be kept as a backup');

/**
 * Temporaries a crashed deploy left (this deploy holds the lock: none is another deploy's).
 * atomicWrite.ts's carry their writer's pid: those of a live process are left alone.
 */
async function removeStaleTemporaries(guard: DriveGuard, folders: readonly string[], fs: DeployFileSystem): Promise<void> {
  for (const folder of folders) {
    const full = guard.full(folder);
    const info = await fs.lstat(full);
    if (!info?.isDirectory) continue;
    for (const name of await fs.readdir(full)) {
      const match = TEMP_PATTERN.exec(name);
      if (!match) continue;
      const pid = match[1] === undefined ? undefined : Number(match[1]);
      if (pid !== undefined && pid !== process.pid && processAlive(pid)) continue;
      const temp = await fs.lstat(join(full, name));
      if (temp?.isFile || temp?.isSymbolicLink) await fs.remove(join(full, name));
    }
  }
}

function replacedState(placed: readonly string[]): string {
  return placed.length === 0
    ? 'nothing on the drive was changed'
    : `${placed.length} file${placed.length > 1 ? 's were' : ' was'} already replaced (${placed.slice(0, 3).join(', ')}${placed.length > 3 ? ', …' : ''})${placed.includes('code.py') ? '' : '; code.py was not, so the board still runs the previous program'}`;
}

function driveGone(plan: DeployPlan, where: string | undefined, placed: readonly string[], left: number): DeployError {
  const now = where ? `it is now at ${quoted(where, 500)}` : `${plan.drive.path} was unplugged, unmounted, moved or deleted`;
  const temporaries = left === 0
    ? 'no temporary file of this deploy is left'
    : `${left} temporary file${left > 1 ? 's' : ''} (.*.cpml-tmp) could not be reached: the next deploy to the drive removes them`;
  return new DeployError('gone', `the drive went away during the deploy (${now}): ${replacedState(placed)}; ${temporaries}`,
    `Check that the board is connected and its drive is mounted at ${plan.drive.path}, then deploy again`, placed);
}

/** A user-facing DeployError for a failure; anything that is not a file-system error is a bug and stays as it is. */
function describeFailure(error: unknown, path: string, placed: readonly string[]): unknown {
  const state = replacedState(placed);
  if (!(error instanceof CpmlError) && typeof code(error) !== 'string') return error;
  if (error instanceof DeployError) {
    const hint = error.reason === 'cancelled' ? undefined : error.hint;
    return new DeployError(error.reason, `${error.message}: ${state}`, hint, placed);
  }
  const described = error instanceof CpmlError ? error : describeFsError(error, path, 'write');
  return new DeployError('write', `${described.message}: ${state}`, described.hint ?? 'Check the drive and deploy again', placed);
}
