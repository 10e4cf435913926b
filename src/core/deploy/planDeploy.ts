// Deploy, part 1: decide everything before the drive is touched. planDeploy reads the model, the
// samples and what the drive already holds, refuses a deploy that cannot work (the model would not
// run or not fit, the drive is not a CIRCUITPY drive or is too full, a sample does not fit the
// model) and returns the files to write, in order, each marked write or skip. It never writes.
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { buildModelReport, type ModelReport } from '../analysis/modelReport.js';
import { DEFAULT_HEAP_BUDGET_BYTES, type MemoryPlan } from '../analysis/memoryPlan.js';
import { BLOB_MAGIC } from '../blob/blobFormat.js';
import { validateBlob } from '../blob/validateBlob.js';
import { parseBootOut, type BootInfo } from '../board/bootOut.js';
import { convertOnnxFile } from '../convert.js';
import { describeFsError } from '../files/readFileChecked.js';
import { codeOrigin, generateCodePy, sameGeneratedProgram, type CodeOrigin } from './codeTemplate.js';
import { DeployError, formatSize, kb } from './deployErrors.js';
import { nodeDeployFileSystem, type DeployFileSystem } from './deployFileSystem.js';

/** Folder names looked for next to the model when no samples folder is given. */
export const DEFAULT_SAMPLE_FOLDERS = ['samples', 'mnist_samples'] as const;
export const LABELS_FILE = 'labels.txt';
export const CODE_FILE = 'code.py';
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
  warnings: string[];
}

export interface DeployPlan {
  drive: { path: string; boot?: BootInfo };
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
const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;
const toPosix = (...parts: string[]) => parts.join('/');

/** The blob's file name on the drive: the model's name with .bin, safe for FAT and for the timing lines. */
export function driveModelName(modelPath: string): string {
  const stem = basename(modelPath, extname(modelPath)).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[.]+/, '');
  return `${stem || 'model'}.bin`;
}

export async function planDeploy(request: DeployRequest): Promise<DeployPlan> {
  const fs = request.fs ?? nodeDeployFileSystem;
  const warnings: string[] = [];
  const heapBudgetBytes = request.heapBudgetBytes ?? DEFAULT_HEAP_BUDGET_BYTES;

  // 1. The model: converted or validated, and it must fit.
  const { blob, report, kind } = await readModel(request.model, heapBudgetBytes, fs);
  if (report.errors.length) {
    const more = report.errors.length > 1 ? ` (and ${report.errors.length - 1} more)` : '';
    throw new DeployError('model', `${basename(request.model)} must not be deployed: ${report.errors[0]}${more}`,
      'The firmware would read outside the blob or compute garbage; convert the ONNX model again with cpml');
  }
  const memory = report.memory;
  if (!memory.fits) {
    throw new DeployError('memory',
      `${basename(request.model)} needs ${kb(memory.totalBytes)} of RAM, ${kb(-memory.marginBytes)} more than the ${kb(memory.heapBudgetBytes)} heap budget — load_model would fail with MemoryError on the board`,
      'Make the model smaller (fewer channels, a smaller Linear layer), or if gc.mem_free() on your board shows more heap, raise the budget (--heap KB, or the setting cpml.model.heapBudgetKB)');
  }
  const modelName = driveModelName(request.model);
  const model: DeployModelSummary = {
    source: request.model, kind, name: modelName, blobBytes: blob.length,
    layers: report.totals.layers, parameters: report.totals.parameters, macs: report.totals.macs,
    inputElements: report.inputElements, outputElements: report.outputElements,
    memory, latency: report.latency, notes: report.notes, warnings: report.warnings,
  };
  warnings.push(...report.warnings);

  // 2. The drive.
  const drivePath = resolve(request.drive);
  const driveInfo = await fs.stat(drivePath);
  if (!driveInfo?.isDirectory) {
    throw new DeployError('drive', `the drive folder ${drivePath} ${driveInfo ? 'is not a folder' : 'does not exist'}`,
      'Plug in the board and check that its CIRCUITPY drive is mounted, then pass its folder');
  }
  const boot = await readBootOut(drivePath, fs);
  if (!boot && !request.force) {
    throw new DeployError('drive', `${drivePath} has no CircuitPython boot_out.txt, so it does not look like a CIRCUITPY drive`,
      'Pass the folder the board\'s drive is mounted at, or --force to deploy to this folder anyway');
  }

  // 3. The samples.
  const samples = await readSamples(request, report.inputElements, fs, warnings);

  // 4. The desired files, in write order (code.py is added below).
  const desired: { path: string; role: FileRole; data: Uint8Array }[] = [{ path: modelName, role: 'model', data: blob }];
  for (const s of samples.entries) desired.push(s);

  const planned: PlannedFile[] = [];
  for (const d of desired) planned.push(await diff(drivePath, d.path, d.role, d.data, fs));

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
  const codePath = join(drivePath, CODE_FILE);
  const codeInfo = await fs.stat(codePath);
  if (codeInfo && !codeInfo.isFile) throw new DeployError('drive', `the drive has a folder named ${CODE_FILE}`, 'Rename or remove that folder: CircuitPython runs the file code.py');
  if ((await fs.stat(join(drivePath, 'code.txt')))?.isFile) {
    warnings.push('the drive has a code.txt, which CircuitPython runs instead of code.py: rename or remove it to run the model');
  }
  const existingCode = await readIfFile(codePath, fs);
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
      const kept = await findBackup(drivePath, existingCode, fs);
      backup = { path: kept.name, origin, alreadyKept: kept.alreadyKept };
      if (!kept.alreadyKept) planned.push({ path: kept.name, role: 'backup', data: existingCode, action: 'write' });
      codeData = utf8(generateCodePy({ ...codeConfig, backupName: kept.name }));
    }
  }
  const codeExisting = existingCode && { existingBytes: existingCode.length, existingSha256: sha256(existingCode) };
  planned.push({ path: CODE_FILE, role: 'code', data: codeData, action: codeSkip ? 'skip' : 'write', ...codeExisting });

  // 6. Space: staged writes hold every new file next to the one it replaces until the renames.
  const plan: DeployPlan = {
    drive: { path: drivePath, boot }, files: planned, backup, model,
    samples: { folder: samples.folder, files: samples.files, labels: samples.labels },
    keepLoaded, strategy: 'staged', warnings,
  };
  await checkSpace(plan, samples.newFolder, fs);
  return plan;
}

const utf8 = (text: string) => new TextEncoder().encode(text);

async function readModel(path: string, heapBudgetBytes: number, fs: DeployFileSystem): Promise<{ blob: Uint8Array; report: ModelReport; kind: 'onnx' | 'blob' }> {
  const source = basename(path);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(path);
  } catch (error) {
    throw describeFsError(error, path, 'read');
  }
  const isBlob = extname(path).toLowerCase() !== '.onnx'
    && (extname(path).toLowerCase() === '.bin' || (bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === BLOB_MAGIC));
  if (isBlob) {
    const validation = validateBlob(bytes);
    const report = buildModelReport({ source, kind: 'blob', records: validation.blob.records, blobBytes: bytes.length, issues: validation, heapBudgetBytes });
    return { blob: bytes, report, kind: 'blob' };
  }
  // Conversion refusals (unsupported op, firmware limits, unreadable ONNX) pass through as they are.
  const conversion = convertOnnxFile(path);
  const validation = validateBlob(conversion.blob);
  const report = buildModelReport({
    source, kind: 'onnx', records: conversion.records, blobBytes: conversion.blob.length,
    layers: conversion.layers, notes: conversion.notes, issues: validation, heapBudgetBytes,
  });
  return { blob: conversion.blob, report, kind: 'onnx' };
}

async function readBootOut(drive: string, fs: DeployFileSystem): Promise<BootInfo | undefined> {
  const bytes = await readIfFile(join(drive, 'boot_out.txt'), fs);
  return bytes && parseBootOut(new TextDecoder().decode(bytes));
}

async function readIfFile(path: string, fs: DeployFileSystem): Promise<Uint8Array | undefined> {
  const info = await fs.stat(path);
  if (!info?.isFile) return undefined;
  try {
    return await fs.readFile(path);
  } catch (error) {
    throw describeFsError(error, path, 'read');
  }
}

interface SampleSet {
  folder?: string;
  /** The samples folder on the drive does not exist yet (it takes a directory entry). */
  newFolder: boolean;
  entries: { path: string; role: FileRole; data: Uint8Array }[];
  files: string[];
  labels?: string[];
}

async function readSamples(request: DeployRequest, inputElements: number, fs: DeployFileSystem, warnings: string[]): Promise<SampleSet> {
  let folder: string | undefined;
  if (request.samples !== undefined) {
    folder = resolve(request.samples);
    if (!(await fs.stat(folder))?.isDirectory) {
      throw new DeployError('samples', `the samples folder ${folder} does not exist or is not a folder`, 'Pass a folder of .bin sample inputs (raw float32), or leave --samples out');
    }
  } else {
    for (const name of DEFAULT_SAMPLE_FOLDERS) {
      const candidate = resolve(dirname(request.model), name);
      if ((await fs.stat(candidate))?.isDirectory) {
        folder = candidate;
        break;
      }
    }
  }
  if (!folder) {
    warnings.push('no sample inputs: code.py has nothing to run (pass --samples DIR with .bin files of raw float32 inputs)');
    return { newFolder: false, entries: [], files: [] };
  }
  const driveFolder = basename(folder).replace(/[\\/:*?"<>|]/g, '_') || 'samples';
  const names = (await fs.readdir(folder)).filter((n) => !n.startsWith('.')).sort(naturalOrder);
  const entries: SampleSet['entries'] = [];
  const files: string[] = [];
  let labelsEntry: SampleSet['entries'][number] | undefined;
  let labels: string[] | undefined;
  for (const name of names) {
    const lower = name.toLowerCase();
    const role: FileRole | undefined = lower.endsWith('.bin') ? 'sample' : lower.endsWith('.rgb') ? 'preview' : lower === LABELS_FILE ? 'labels' : undefined;
    if (!role) continue;
    const path = join(folder, name);
    const data = await readIfFile(path, fs);
    if (!data) continue;
    const entry = { path: toPosix(driveFolder, name), role, data };
    if (role === 'labels') {
      labelsEntry = entry;
      labels = new TextDecoder().decode(data).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      continue;
    }
    if (role === 'sample') {
      if (data.length !== inputElements * 4) {
        throw new DeployError('samples', `${path} has ${data.length} bytes, but the model takes ${inputElements} float32 values (${inputElements * 4} bytes) per sample`,
          'Remove it from the samples folder, or deploy the model it was made for');
      }
      files.push(entry.path);
    }
    entries.push(entry);
  }
  if (!files.length) warnings.push(`no .bin sample inputs in ${folder}: code.py has nothing to run`);
  if (labels && labels.length !== files.length) warnings.push(`${LABELS_FILE} has ${labels.length} labels for ${files.length} samples`);
  if (labelsEntry) entries.push(labelsEntry);
  const existing = await fs.stat(join(resolve(request.drive), driveFolder));
  if (existing && !existing.isDirectory) {
    throw new DeployError('drive', `the drive has a file named ${driveFolder} where the samples folder must go`, 'Rename or remove it, or pass a samples folder with another name');
  }
  return { folder, newFolder: !existing, entries, files, labels };
}

async function diff(drive: string, path: string, role: FileRole, data: Uint8Array, fs: DeployFileSystem): Promise<PlannedFile> {
  const full = join(drive, ...path.split('/'));
  const info = await fs.stat(full);
  if (!info) return { path, role, data, action: 'write' };
  if (!info.isFile) throw new DeployError('drive', `the drive has a folder named ${path} where a file must go`, 'Rename or remove that folder');
  if (info.size !== data.length) return { path, role, data, action: 'write', existingBytes: info.size };
  let existing: Uint8Array;
  try {
    existing = await fs.readFile(full);
  } catch (error) {
    throw describeFsError(error, full, 'read');
  }
  const existingSha256 = sha256(existing);
  return { path, role, data, action: existingSha256 === sha256(data) ? 'skip' : 'write', existingBytes: info.size, existingSha256 };
}

/** code.py.bak, then code.py.bak1, …: an existing backup with the same bytes is reused, no backup is ever overwritten. */
async function findBackup(drive: string, code: Uint8Array, fs: DeployFileSystem): Promise<{ name: string; alreadyKept: boolean }> {
  const hash = sha256(code);
  for (let n = 0; ; n++) {
    const name = `${CODE_FILE}.bak${n === 0 ? '' : n}`;
    const info = await fs.stat(join(drive, name));
    if (!info) return { name, alreadyKept: false };
    if (info.isFile && info.size === code.length) {
      const existing = await readIfFile(join(drive, name), fs);
      if (existing && sha256(existing) === hash) return { name, alreadyKept: true };
    }
  }
}

async function checkSpace(plan: DeployPlan, newFolder: boolean, fs: DeployFileSystem): Promise<void> {
  const space = await fs.statfs(plan.drive.path);
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
