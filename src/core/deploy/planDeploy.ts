// Deploy, part 1: decide everything before the drive is touched. planDeploy reads the model, the
// samples and what the drive already holds, refuses a deploy that cannot work (the model would not
// run or not fit, the drive is not a CIRCUITPY drive or is too full, a sample does not fit the
// model) and returns the files to write, in order, each marked write or skip. It never writes.
// It never reads through a symbolic link on the drive either, and refuses one where it would
// write (driveGuard.ts); from the samples folder it copies only what belongs to it (sampleSource.ts).
import { createHash } from 'node:crypto';
import { basename, extname, join, resolve } from 'node:path';
import { listSome, quoted } from '../text/untrustedText.js';
import type { ModelReport } from '../analysis/modelReport.js';
import { DEFAULT_HEAP_BUDGET_BYTES, type MemoryPlan } from '../analysis/memoryPlan.js';
import { parseBootOut, type BootInfo } from '../board/bootOut.js';
import { modelFromBytes, modelReportFor } from '../modelFile.js';
import { codeOrigin, generateCodePy, sameGeneratedProgram, type CodeOrigin } from './codeTemplate.js';
import { DeployError, formatSize, kb } from './deployErrors.js';
import { nodeDeployFileSystem, withFileErrors, type DeployFileSystem } from './deployFileSystem.js';
import { fileOnDrive, folderOnDrive, onDrive, readDriveFile, resolveDrive, stampOf, type DriveFolder, type DriveRef } from './driveGuard.js';
import { checkNotLocked } from './driveLock.js';
import { readSamples } from './sampleSource.js';

export { DEFAULT_SAMPLE_FOLDERS, LABELS_FILE } from './sampleSource.js';
export const CODE_FILE = 'code.py';
/** code.py.bak … code.py.bak999: a drive with more backups than that is refused, not searched forever. */
const MAX_BACKUPS = 1000;
/**
 * Heap the generated code.py itself needs while the model stays loaded (the softmax list, the
 * formatted lines, the timing list): keep-loaded is enabled only with this much to spare.
 */
export const KEEP_LOADED_RESERVE_BYTES = 8 * 1024;

export interface DeployRequest {
  /** An .onnx model (converted in memory) or a cnn_helper blob (.bin). */
  model: string;
  /** The CIRCUITPY drive's folder. */
  drive: string;
  /** Folder of sample inputs; default `samples/` or `mnist_samples/` next to the model, if present. */
  samples?: string;
  /** Heap the model may use on the board; default DEFAULT_HEAP_BUDGET_BYTES. */
  heapBudgetBytes?: number;
  /** Keep the model loaded between samples (only if the memory plan leaves room for it). */
  keepLoaded?: boolean;
  /** Deploy to a folder without boot_out.txt. */
  force?: boolean;
  /** Header date of code.py; default now. */
  date?: Date;
  fs?: DeployFileSystem;
}

export type FileRole = 'model' | 'sample' | 'preview' | 'labels' | 'backup' | 'code';

export interface PlannedFile {
  /** Path on the drive, relative to its root, '/'-separated. */
  path: string;
  role: FileRole;
  data: Uint8Array;
  /** write: new or different; skip: the drive already holds exactly these bytes. */
  action: 'write' | 'skip';
  /** Size of the file it replaces; undefined when there is none. */
  existingBytes?: number;
  /** SHA-256 of the file it replaces (hex), when it was read. */
  existingSha256?: string;
  /** What the drive had at the path when planned (identity, size, times); undefined: nothing. */
  seen?: string;
}

export interface DeployModelSummary {
  /** The model file deployed from. */
  source: string;
  kind: 'onnx' | 'blob';
  /** The blob's name on the drive. */
  name: string;
  blobBytes: number;
  layers: number;
  parameters: number;
  macs: number;
  inputElements: number;
  outputElements: number;
  memory: MemoryPlan;
  latency: ModelReport['latency'];
  notes: string[];
  /** Ops run as other layers, with their cost (the memory above includes them). */
  rewrites: string[];
  warnings: string[];
}

export interface DeployPlan {
  /** The drive as named, its real path (where it is written) and its root's identity. */
  drive: DriveRef & { boot?: BootInfo };
  /** The folders the files go into: the root, and the samples folder (made by the deploy when it has no identity). */
  folders: DriveFolder[];
  /** In write order: model, samples (with previews), labels, backup, code.py last. */
  files: PlannedFile[];
  /** Where the user's previous code.py is kept, when this deploy replaces one that is not ours. */
  backup?: { path: string; origin: Exclude<CodeOrigin, 'generated'>; alreadyKept: boolean };
  model: DeployModelSummary;
  samples: {
    /** Source folder, when there is one. */
    folder?: string;
    /** Sample files on the drive, in the order code.py runs them. */
    files: string[];
    /** labels.txt's lines, when there is one. */
    labels?: string[];
  };
  /** Keep-loaded as generated into code.py (asked for and enough heap). */
  keepLoaded: boolean;
  /**
   * staged: every changed file is written under a temporary name first, then all are renamed
   * (a failure while writing leaves the drive as it was). sequential: one file at a time, each
   * still atomic — chosen only when the drive is too full to hold all temporaries at once.
   */
  strategy: 'staged' | 'sequential';
  space?: { freeBytes: number; blockSize: number; stagedBytes: number; sequentialBytes: number };
  warnings: string[];
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** The blob's file name on the drive: the model's name with .bin, safe for FAT and for the timing lines. */
export function driveModelName(modelPath: string): string {
  const stem = basename(modelPath, extname(modelPath)).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.]+/, '');
  return `${stem || 'model'}.bin`;
}

export async function planDeploy(request: DeployRequest): Promise<DeployPlan> {
  // Permission errors and the like become "permission denied: PATH" with the fix, not a stack trace.
  const fs = withFileErrors(request.fs ?? nodeDeployFileSystem);
  const warnings: string[] = [];
  const heapBudgetBytes = request.heapBudgetBytes ?? DEFAULT_HEAP_BUDGET_BYTES;

  // 1. The model: converted or validated, and it must fit.
  const { blob, report, kind } = await readModel(request.model, heapBudgetBytes, fs);
  if (report.errors.length) {
    const more = report.errors.length > 1 ? ` (and ${report.errors.length - 1} more)` : '';
    throw new DeployError('model', `${basename(request.model)} must not be deployed: ${report.errors[0]}${more}`,
      'On the firmware it would crash the board, read outside the blob or compute garbage; convert the ONNX model again with cpml');
  }
  const memory = report.memory;
  if (!memory.fits) {
    // Rewrites (a depthwise Conv run as a full one…) can be what makes a model too big: say so.
    const rewrites = report.rewrites.length ? `; it includes the converter's rewrites: ${listSome(report.rewrites, 3)}` : '';
    throw new DeployError('memory',
      `${basename(request.model)} needs ${kb(memory.totalBytes)} of RAM, ${kb(-memory.marginBytes)} more than the ${kb(memory.heapBudgetBytes)} heap budget — load_model would fail with MemoryError on the board${rewrites}`,
      'Make the model smaller (fewer channels, a smaller Linear layer), or if gc.mem_free() on your board shows more heap, raise the budget (--heap KB, or the setting cpml.model.heapBudgetKB)');
  }
  const modelName = driveModelName(request.model);
  const model: DeployModelSummary = {
    source: request.model, kind, name: modelName, blobBytes: blob.length,
    layers: report.totals.layers, parameters: report.totals.parameters, macs: report.totals.macs,
    inputElements: report.inputElements, outputElements: report.outputElements,
    memory, latency: report.latency, notes: report.notes, rewrites: report.rewrites, warnings: report.warnings,
  };
  warnings.push(...report.warnings);

  // 2. The drive.
  const drive = await resolveDrive(resolve(request.drive), fs);
  const drivePath = drive.path;
  const boot = await readBootOut(drive, fs);
  if (!boot && !request.force) {
    const found = await fs.lstat(join(drive.realPath, 'boot_out.txt'));
    const why = found && !found.isFile ? `has a boot_out.txt that is ${found.isSymbolicLink ? 'a symbolic link' : `a ${found.kind}`}, not the file the firmware writes` : 'has no CircuitPython boot_out.txt';
    throw new DeployError('drive', `${quoted(drivePath, 300)} ${why}, so it does not look like a CIRCUITPY drive`,
      'Pass the folder the board\'s drive is mounted at, or --force to deploy to this folder anyway');
  }
  await checkNotLocked(drive.realPath, drivePath, fs);

  // 3. The samples, and the folder they go to on the drive.
  const samples = await readSamples(request.model, request.samples, report.inputElements, fs, warnings);
  const folders: DriveFolder[] = [{ path: '', identity: drive.identity }];
  if (samples.driveFolder !== undefined) folders.push({ path: samples.driveFolder, identity: await folderOnDrive(drive, samples.driveFolder, fs) });

  // 4. The desired files, in write order (code.py is added below).
  const desired: { path: string; role: FileRole; data: Uint8Array }[] = [{ path: modelName, role: 'model', data: blob }];
  for (const s of samples.entries) desired.push(s);

  const planned: PlannedFile[] = [];
  for (const d of desired) planned.push(await diff(drive, d.path, d.role, d.data, fs));

  // 5. code.py, and the user's previous one.
  const requestedKeepLoaded = request.keepLoaded ?? false;
  const keepLoaded = requestedKeepLoaded && memory.marginBytes >= KEEP_LOADED_RESERVE_BYTES;
  if (requestedKeepLoaded && !keepLoaded) {
    warnings.push(`keep-loaded is off: the model leaves ${kb(memory.marginBytes)} of the heap budget, and keeping it loaded between samples needs ${kb(KEEP_LOADED_RESERVE_BYTES)} for code.py itself`);
  }
  const codeConfig = {
    model: modelName, modelBytes: blob.length, inputSize: report.inputElements, samples: samples.files,
    keepLoaded, estInferMs: report.latency.inferMs, estLoadMs: report.latency.loadMs, date: request.date,
  };
  // A code.py that is a link is refused: its backup would be read through it, code.py written over it.
  const codeInfo = await fileOnDrive(drive, CODE_FILE, fs, 'Rename or remove that folder: CircuitPython runs the file code.py');
  if ((await fs.lstat(onDrive(drive.realPath, 'code.txt')))?.isFile) {
    warnings.push('the drive has a code.txt, which CircuitPython runs instead of code.py: rename or remove it to run the model');
  }
  const existingCode = await readDriveFile(drive, CODE_FILE, fs, codeInfo);
  let backup: DeployPlan['backup'];
  let codeData: Uint8Array;
  let codeSkip = false;
  if (existingCode === undefined) {
    codeData = utf8(generateCodePy(codeConfig));
  } else {
    const existingText = new TextDecoder().decode(existingCode);
    const origin = codeOrigin(existingText);
    const generated = generateCodePy(codeConfig);
    if (origin === 'generated') {
      codeSkip = sameGeneratedProgram(existingText, generated);
      codeData = codeSkip ? existingCode : utf8(generated);
    } else {
      const kept = await findBackup(drive, existingCode, fs);
      backup = { path: kept.name, origin, alreadyKept: kept.alreadyKept };
      if (!kept.alreadyKept) planned.push({ path: kept.name, role: 'backup', data: existingCode, action: 'write' });
      codeData = utf8(generateCodePy({ ...codeConfig, backupName: kept.name }));
    }
  }
  const codeExisting = existingCode && { existingBytes: existingCode.length, existingSha256: sha256(existingCode) };
  planned.push({ path: CODE_FILE, role: 'code', data: codeData, action: codeSkip ? 'skip' : 'write', ...codeExisting, seen: stampOf(codeInfo) });

  // 6. Space: staged writes hold every new file next to the one it replaces until the renames.
  const plan: DeployPlan = {
    drive: { ...drive, boot }, folders, files: planned, backup, model,
    samples: { folder: samples.folder, files: samples.files, labels: samples.labels },
    keepLoaded, strategy: 'staged', warnings,
  };
  await checkSpace(plan, folders.some((f) => f.identity === undefined), fs);
  return plan;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** The model through readModelFile's one decision (blob, ONNX, or a sample input: refused), with its report. */
async function readModel(path: string, heapBudgetBytes: number, fs: DeployFileSystem): Promise<{ blob: Uint8Array; report: ModelReport; kind: 'onnx' | 'blob' }> {
  const model = modelFromBytes(path, await fs.readFile(path, { what: 'model' }));
  return { blob: model.blob, report: modelReportFor(model, heapBudgetBytes), kind: model.kind };
}

async function readBootOut(drive: DriveRef, fs: DeployFileSystem): Promise<BootInfo | undefined> {
  const bytes = await readDriveFile(drive, 'boot_out.txt', fs);
  return bytes && parseBootOut(new TextDecoder().decode(bytes));
}

async function diff(drive: DriveRef, path: string, role: FileRole, data: Uint8Array, fs: DeployFileSystem): Promise<PlannedFile> {
  const info = await fileOnDrive(drive, path, fs);
  const seen = stampOf(info);
  if (!info) return { path, role, data, action: 'write' };
  if (info.size !== data.length) return { path, role, data, action: 'write', existingBytes: info.size, seen };
  const existing = await readDriveFile(drive, path, fs, info);
  const existingSha256 = existing && sha256(existing);
  return { path, role, data, action: existingSha256 === sha256(data) ? 'skip' : 'write', existingBytes: info.size, existingSha256, seen };
}

/** code.py.bak, then code.py.bak1, …: an existing backup with the same bytes is reused, no backup (nor anything else) is ever overwritten. */
async function findBackup(drive: DriveRef, code: Uint8Array, fs: DeployFileSystem): Promise<{ name: string; alreadyKept: boolean }> {
  const hash = sha256(code);
  for (let n = 0; n < MAX_BACKUPS; n++) {
    const name = `${CODE_FILE}.bak${n === 0 ? '' : n}`;
    const info = await fs.lstat(onDrive(drive.realPath, name));
    if (!info) return { name, alreadyKept: false };
    if (info.isFile && info.size === code.length) {
      const existing = await readDriveFile(drive, name, fs, info);
      if (existing && sha256(existing) === hash) return { name, alreadyKept: true };
    }
  }
  throw new DeployError('drive', `the drive already has ${MAX_BACKUPS} backups of code.py (code.py.bak … code.py.bak${MAX_BACKUPS - 1}), and yours must be kept too`,
    'Delete the backups you no longer need from the drive, then deploy again');
}

async function checkSpace(plan: DeployPlan, newFolder: boolean, fs: DeployFileSystem): Promise<void> {
  const space = await fs.statfs(plan.drive.realPath);
  if (!space) return;
  const unit = Math.max(1, space.blockSize);
  const onDisk = (bytes: number) => Math.ceil(bytes / unit) * unit;
  // Headroom: directory entries (FAT long names take several), and a new folder's first cluster.
  const margin = Math.max(2 * unit, 4096) + (newFolder ? unit : 0);
  const writes = plan.files.filter((f) => f.action === 'write');
  const stagedBytes = writes.reduce((sum, f) => sum + onDisk(f.data.length), 0) + margin;
  let peak = 0, freed = 0;
  for (const f of writes) {
    peak = Math.max(peak, onDisk(f.data.length) - freed);
    freed += onDisk(f.existingBytes ?? 0) - onDisk(f.data.length);
  }
  const sequentialBytes = Math.max(0, peak) + margin;
  plan.space = { freeBytes: space.freeBytes, blockSize: unit, stagedBytes, sequentialBytes };
  if (!writes.length || space.freeBytes >= stagedBytes) return;
  if (space.freeBytes >= sequentialBytes) {
    plan.strategy = 'sequential';
    plan.warnings.push(`the drive has ${formatSize(space.freeBytes)} free, not enough to stage all ${writes.length} changed files at once (${formatSize(stagedBytes)}): they are written one at a time, each still atomically`);
    return;
  }
  throw new DeployError('space', `not enough space on the drive: the deploy needs ${formatSize(sequentialBytes)} free, the drive has ${formatSize(space.freeBytes)}`,
    'Delete files you no longer need from the drive (old models or samples), or deploy fewer samples');
}
