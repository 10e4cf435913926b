// Deploy, part 2: carry out a plan on the drive.
//
// Staged (the normal case): every changed file is written under a temporary name in its own
// folder (`.<name>.cpml-tmp`), fsync'd and closed; only when all are written are they renamed
// over the old files, in plan order — model, samples, labels, the backup of the user's code.py,
// code.py last, so the board's auto-reload finds the data its new program needs. A failure or a
// cancellation before the renames removes the temporaries (and any folder the deploy created):
// the drive is exactly as it was. Unchanged files are never opened for writing.
// Sequential (a nearly full drive, see planDeploy): the same per file, one file at a time.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describeFsError } from '../files/readFileChecked.js';
import { DeployError } from './deployErrors.js';
import { nodeDeployFileSystem, type DeployFileSystem } from './deployFileSystem.js';
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
const TEMP_PATTERN = /^\..+\.cpml-tmp(?:-\d+)?$/;

export function temporaryName(path: string): string {
  const slash = path.lastIndexOf('/');
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}${TEMP_SUFFIX}`;
}

export async function executeDeploy(plan: DeployPlan, options: ExecuteOptions = {}): Promise<DeployResult> {
  const fs = options.fs ?? nodeDeployFileSystem;
  const started = performance.now();
  const drive = plan.drive.path;
  const onDrive = (path: string) => join(drive, ...path.split('/'));
  const writes = plan.files.filter((f) => f.action === 'write');
  const total = plan.files.length + writes.length;
  let index = 0;
  const emit = (file: string, action: DeployAction) => options.onProgress?.({ index: ++index, total, file, action });
  const cancelled = () => options.isCancelled?.() === true;

  const pending = new Set<string>(); // temporaries on the drive (full paths)
  const createdFolders: string[] = [];
  const placed: string[] = []; // drive paths renamed into place
  const skipped: string[] = [];
  let current: string | undefined; // the drive path being written or renamed
  let lastWritten: string | undefined; // full path of the file written last (temporary or in place)

  const folders = [...new Set(plan.files.map((f) => parentOf(f.path)))];
  const writeTemporary = async (f: PlannedFile) => {
    current = f.path;
    const folder = parentOf(f.path);
    if (folder && !(await fs.stat(onDrive(folder)))) {
      await fs.mkdir(onDrive(folder));
      createdFolders.push(onDrive(folder));
    }
    const temp = onDrive(temporaryName(f.path));
    pending.add(temp);
    const previous = f.role === 'code' && lastWritten ? (await fs.stat(lastWritten))?.mtimeMs : undefined;
    await writeFile(temp, f.data, fs);
    // code.py is written last, and its time says so: file systems stamp with a coarse clock
    // (a few ms), so a file written right after another can carry the same time. Rewrite the
    // temporary until its time is newer, for at most ~0.1 s (FAT's 2 s resolution cannot be met).
    for (let tries = 0; previous !== undefined && tries < 25; tries++) {
      const stamped = (await fs.stat(temp))?.mtimeMs;
      if (stamped === undefined || stamped > previous) break;
      await new Promise((resolve) => setTimeout(resolve, 4));
      await writeFile(temp, f.data, fs);
    }
    lastWritten = temp;
  };
  /** Nothing the plan did not see may be lost: code.py is still what it was, no backup appeared where ours goes. */
  const preflight = async (f: PlannedFile) => {
    if (f.role === 'code') await checkCodeUnchanged(f, onDrive(f.path), fs);
    if (f.role === 'backup' && (await fs.stat(onDrive(f.path)))) {
      throw new DeployError('write', `${f.path} appeared on the drive during the deploy; it was not overwritten`, 'Deploy again');
    }
  };
  const putInPlace = async (f: PlannedFile) => {
    current = f.path;
    await preflight(f);
    const temp = onDrive(temporaryName(f.path));
    await fs.rename(temp, onDrive(f.path));
    pending.delete(temp);
    if (lastWritten === temp) lastWritten = onDrive(f.path);
    placed.push(f.path);
    emit(f.path, f.role === 'backup' ? 'backup' : 'rename');
  };
  const stopIfCancelled = () => {
    if (cancelled()) throw new DeployError('cancelled', 'deploy cancelled');
  };

  try {
    await removeStaleTemporaries(folders.map((f) => (f ? onDrive(f) : drive)), fs);
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
    if (plan.strategy === 'staged') {
      stopIfCancelled();
      for (const f of writes) await preflight(f); // before the first rename: a refusal here changes nothing
      for (const f of writes) await putInPlace(f);
    }
    current = undefined;
    for (const folder of folders) await fs.syncDirectory(folder ? onDrive(folder) : drive);
  } catch (error) {
    await cleanUp(pending, createdFolders, fs);
    throw describeFailure(error, current === undefined ? drive : join(drive, ...current.split('/')), placed);
  }

  const backupFile = plan.files.find((f) => f.role === 'backup');
  return {
    drive,
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

async function writeFile(path: string, data: Uint8Array, fs: DeployFileSystem): Promise<void> {
  const file = await fs.create(path);
  try {
    await file.write(data);
    await file.sync();
  } finally {
    await file.close();
  }
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}

/** code.py must still be what the plan saw: otherwise the user changed it meanwhile and it has no backup. */
async function checkCodeUnchanged(f: PlannedFile, path: string, fs: DeployFileSystem): Promise<void> {
  const info = await fs.stat(path);
  const now = info?.isFile ? createHash('sha256').update(await fs.readFile(path)).digest('hex') : undefined;
  if (now !== f.existingSha256) {
    throw new DeployError('write', 'code.py changed on the drive during the deploy; it was left as it is', 'Deploy again: your new code.py will be kept as a backup');
  }
}

async function removeStaleTemporaries(folders: readonly string[], fs: DeployFileSystem): Promise<void> {
  for (const folder of folders) {
    if (!(await fs.stat(folder))?.isDirectory) continue;
    for (const name of await fs.readdir(folder)) {
      if (TEMP_PATTERN.test(name)) await fs.remove(join(folder, name));
    }
  }
}

async function cleanUp(pending: ReadonlySet<string>, createdFolders: readonly string[], fs: DeployFileSystem): Promise<void> {
  for (const temp of pending) {
    try {
      await fs.remove(temp);
    } catch {
      // Keep going: remove what can be removed.
    }
  }
  for (const folder of [...createdFolders].reverse()) {
    try {
      if (!(await fs.readdir(folder)).length) await fs.removeDirectory(folder);
    } catch {
      // A folder that cannot be removed is harmless.
    }
  }
}

function describeFailure(error: unknown, path: string, placed: readonly string[]): DeployError {
  const state = placed.length === 0
    ? 'nothing on the drive was changed'
    : `${placed.length} file${placed.length > 1 ? 's were' : ' was'} already replaced (${placed.slice(0, 3).join(', ')}${placed.length > 3 ? ', …' : ''})${placed.includes('code.py') ? '' : '; code.py was not, so the board still runs the previous program'}`;
  if (error instanceof DeployError) {
    const hint = error.reason === 'cancelled' ? undefined : error.hint;
    return new DeployError(error.reason, `${error.message}: ${state}`, hint, placed);
  }
  const described = describeFsError(error, path, 'write');
  return new DeployError('write', `${described.message}: ${state}`, described.hint ?? 'Check the drive and deploy again', placed);
}
