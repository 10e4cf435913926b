// Deploy's source side: the samples folder. Only what belongs to it is copied to the drive: a
// file that is a symbolic link leading outside the folder (labels.txt → /etc/passwd) is skipped
// with a warning and never opened, as is anything that is not a regular file (a FIFO named
// sample.bin would block a reader forever). Every read is bounded by what the file can be: a
// sample is exactly the model's input size, checked before it is read.
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { listSome, quoted } from '../text/untrustedText.js';
import { DeployError, formatSize } from './deployErrors.js';
import type { DeployFileSystem, FileInfo } from './deployFileSystem.js';
import type { FileRole } from './planDeploy.js';

/** Folder names looked for next to the model when no samples folder is given. */
export const DEFAULT_SAMPLE_FOLDERS = ['samples', 'mnist_samples'] as const;
export const LABELS_FILE = 'labels.txt';
/** A preview image or labels.txt larger than this would not fit a Pico's drive (about 1 MB) anyway. */
export const MAX_PREVIEW_BYTES = 1024 * 1024;
/** All samples together: four times the largest RP2040 board's flash (16 MB). */
export const MAX_SAMPLE_SET_BYTES = 64 * 1024 * 1024;

export interface SampleEntry {
  /** Path on the drive, '/'-separated. */
  path: string;
  role: FileRole;
  data: Uint8Array;
}

export interface SampleSet {
  folder?: string;
  /** The samples folder's name on the drive (undefined without samples). */
  driveFolder?: string;
  /** In write order: samples and previews, labels.txt last. */
  entries: SampleEntry[];
  files: string[];
  labels?: string[];
}

const naturalOrder = new Intl.Collator('en', { numeric: true }).compare;

function roleOf(name: string): FileRole | undefined {
  const lower = name.toLowerCase();
  return lower.endsWith('.bin') ? 'sample' : lower.endsWith('.rgb') ? 'preview' : lower === LABELS_FILE ? 'labels' : undefined;
}

const inside = (folder: string, path: string) => {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/** The folder the user named (it may itself be a link: that is the folder they chose), or the default next to the model. */
async function findFolder(model: string, samples: string | undefined, fs: DeployFileSystem): Promise<string | undefined> {
  if (samples !== undefined) {
    const folder = resolve(samples);
    if (!(await fs.stat(folder))?.isDirectory) {
      throw new DeployError('samples', `the samples folder ${folder} does not exist or is not a folder`, 'Pass a folder of .bin sample inputs (raw float32), or leave --samples out');
    }
    return folder;
  }
  for (const name of DEFAULT_SAMPLE_FOLDERS) {
    const candidate = resolve(dirname(model), name);
    if ((await fs.stat(candidate))?.isDirectory) return candidate;
  }
  return undefined;
}

interface Skipped {
  outside: string[];
  broken: string[];
  special: string[];
}

/** What a folder entry is, following a link only when it stays inside the folder; undefined: skipped. */
async function inspect(folder: string, realFolder: string, name: string, fs: DeployFileSystem, skipped: Skipped): Promise<FileInfo | undefined> {
  const path = join(folder, name);
  const own = await fs.lstat(path);
  if (!own) return undefined; // removed since the listing
  let info = own;
  if (own.isSymbolicLink) {
    let target: string;
    try {
      target = await fs.realpath(path);
    } catch {
      skipped.broken.push(quoted(name));
      return undefined;
    }
    if (!inside(realFolder, target)) {
      skipped.outside.push(`${quoted(name)} → ${quoted(target)}`);
      return undefined;
    }
    const followed = await fs.stat(path);
    if (!followed) {
      skipped.broken.push(quoted(name));
      return undefined;
    }
    info = followed;
  }
  if (info.isDirectory) return undefined;
  if (!info.isFile) {
    skipped.special.push(`${quoted(name)} (${info.kind})`);
    return undefined;
  }
  return info;
}

export async function readSamples(model: string, samples: string | undefined, inputElements: number, fs: DeployFileSystem, warnings: string[]): Promise<SampleSet> {
  const folder = await findFolder(model, samples, fs);
  if (!folder) {
    warnings.push('no sample inputs: code.py has nothing to run (pass --samples DIR with .bin files of raw float32 inputs)');
    return { entries: [], files: [] };
  }
  const realFolder = await fs.realpath(folder);
  const driveFolder = basename(folder).replace(/[\\/:*?"<>|]/g, '_') || 'samples';
  const names = (await fs.readdir(folder)).filter((n) => !n.startsWith('.') && roleOf(n) !== undefined).sort(naturalOrder);
  const sampleBytes = inputElements * 4;
  const skipped: Skipped = { outside: [], broken: [], special: [] };
  const entries: SampleEntry[] = [];
  const files: string[] = [];
  let labelsEntry: SampleEntry | undefined;
  let labels: string[] | undefined;
  let total = 0;
  for (const name of names) {
    const role = roleOf(name)!;
    const path = join(folder, name);
    const info = await inspect(folder, realFolder, name, fs, skipped);
    if (!info) continue;
    if (role === 'sample' && info.size !== sampleBytes) throw wrongSize(path, info.size, inputElements);
    const maxBytes = role === 'sample' ? sampleBytes : MAX_PREVIEW_BYTES;
    if (info.size > maxBytes) {
      throw new DeployError('samples', `${quoted(path, 500)} has ${formatSize(info.size)}, more than the ${formatSize(maxBytes)} a ${role === 'labels' ? LABELS_FILE : 'preview'} may have`,
        'Remove it from the samples folder: it would not fit on the board\'s drive');
    }
    total += info.size;
    if (total > MAX_SAMPLE_SET_BYTES) {
      throw new DeployError('samples', `the samples in ${folder} take more than ${formatSize(MAX_SAMPLE_SET_BYTES)}, more than any CIRCUITPY drive holds`,
        'Deploy a smaller set of samples (a few dozen are enough to check the model on the board)');
    }
    // The file opened must be the one just checked: a swap for a link to elsewhere is refused.
    const data = await fs.readFile(path, { maxBytes, what: role === 'sample' ? 'sample input' : role, expect: info.identity });
    const entry = { path: `${driveFolder}/${name}`, role, data };
    if (role === 'labels') {
      labelsEntry = entry;
      labels = new TextDecoder().decode(data).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      continue;
    }
    if (role === 'sample') {
      if (data.length !== sampleBytes) throw wrongSize(path, data.length, inputElements);
      files.push(entry.path);
    }
    entries.push(entry);
  }
  warnSkipped(folder, skipped, warnings);
  if (!files.length) warnings.push(`no .bin sample inputs in ${folder}: code.py has nothing to run`);
  if (labels && labels.length !== files.length) warnings.push(`${LABELS_FILE} has ${labels.length} labels for ${files.length} samples`);
  if (labelsEntry) entries.push(labelsEntry);
  return { folder, driveFolder, entries, files, labels };
}

function wrongSize(path: string, bytes: number, inputElements: number): DeployError {
  return new DeployError('samples', `${quoted(path, 500)} has ${bytes} bytes, but the model takes ${inputElements} float32 values (${inputElements * 4} bytes) per sample`,
    'Remove it from the samples folder, or deploy the model it was made for');
}

function warnSkipped(folder: string, skipped: Skipped, warnings: string[]): void {
  const files = (n: number) => `${n} file${n > 1 ? 's' : ''}`;
  if (skipped.outside.length) {
    warnings.push(`not copied: ${files(skipped.outside.length)} in ${folder} ${skipped.outside.length > 1 ? 'are symbolic links' : 'is a symbolic link'} to outside the samples folder: ${listSome(skipped.outside)} (copy the file into the folder to deploy it)`);
  }
  if (skipped.broken.length) warnings.push(`not copied: ${files(skipped.broken.length)} in ${folder} ${skipped.broken.length > 1 ? 'are broken symbolic links' : 'is a broken symbolic link'}: ${listSome(skipped.broken)}`);
  if (skipped.special.length) warnings.push(`not copied: ${files(skipped.special.length)} in ${folder} ${skipped.special.length > 1 ? 'are not regular files' : 'is not a regular file'}: ${listSome(skipped.special)}`);
}
