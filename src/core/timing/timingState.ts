// Runs ↔ plain JSON, for the extension's workspace state (kept across window reloads). Dates
// become ISO strings. Loading validates everything: saved data can be from an older version, cut
// short or edited; whatever is not valid is left out, and data that is not ours at all gives no
// runs — fromJSON never throws.
import { END_REASONS, runLabel, type EndReason, type Run, type RunModel, type RunSummary, type Sample } from './run.js';

export const TIMING_STATE_VERSION = 1;

export interface SavedRun extends Omit<Run, 'startedAt'> {
  startedAt: string;
}

export interface SavedTiming {
  version: typeof TIMING_STATE_VERSION;
  runs: SavedRun[];
}

export interface SaveLimits {
  /** Most samples saved over all runs: the newest runs are kept whole while they fit (the newest always, cut to its last samples if need be). */
  maxSamples?: number;
}

/** Oldest first, like the runs given. */
export function toJSON(runs: readonly Run[], limits: SaveLimits = {}): SavedTiming {
  const budget = limits.maxSamples ?? Infinity;
  const saved: SavedRun[] = [];
  let used = 0;
  for (let i = runs.length - 1; i >= 0; i--) {
    const run = runs[i];
    let samples = run.samples;
    let dropped = run.droppedSamples;
    if (used + samples.length > budget) {
      if (saved.length) break;
      const keep = Math.max(0, budget - used);
      dropped += samples.length - keep;
      samples = samples.slice(samples.length - keep);
    }
    used += samples.length;
    saved.push({ ...run, startedAt: run.startedAt.toISOString(), samples: samples.map((s) => ({ ...s })), droppedSamples: dropped, ...(run.model && { model: { ...run.model } }), ...(run.summary && { summary: { ...run.summary } }) });
  }
  return { version: TIMING_STATE_VERSION, runs: saved.reverse() };
}

/** Saved runs back, all marked ended (the program that printed them is not being followed any more). */
export function fromJSON(data: unknown): Run[] {
  if (!isObject(data) || data.version !== TIMING_STATE_VERSION || !Array.isArray(data.runs)) return [];
  const runs: Run[] = [];
  const ids = new Set<number>();
  for (const item of data.runs) {
    const run = readRun(item);
    if (!run || ids.has(run.id)) continue;
    ids.add(run.id);
    runs.push(run);
  }
  return runs;
}

type Obj = Record<string, unknown>;

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => isNum(v) && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string';

/** Copies the optional fields of `source` that pass `check`; false when one is present but invalid. */
function optional<T extends object>(target: T, source: Obj, keys: readonly (keyof T & string)[], check: (v: unknown) => boolean): boolean {
  for (const key of keys) {
    const value = source[key];
    if (value === undefined) continue;
    if (!check(value)) return false;
    (target as Obj)[key] = value;
  }
  return true;
}

function readRun(item: unknown): Run | undefined {
  if (!isObject(item) || !isCount(item.id) || item.id < 1 || !isText(item.startedAt) || !Array.isArray(item.samples) || typeof item.ended !== 'boolean') return undefined;
  const startedAt = new Date(item.startedAt);
  if (Number.isNaN(startedAt.getTime())) return undefined;
  const samples: Sample[] = [];
  for (const s of item.samples) {
    const sample = readSample(s);
    if (!sample) return undefined;
    samples.push(sample);
  }
  const dropped = item.droppedSamples ?? 0;
  if (!isCount(dropped)) return undefined;
  const run: Run = { id: item.id, startedAt, label: '', samples, droppedSamples: dropped, ended: true };
  if (item.endReason !== undefined) {
    if (!END_REASONS.includes(item.endReason as EndReason)) return undefined;
    run.endReason = item.endReason as EndReason;
  }
  if (item.exception !== undefined) {
    if (!isText(item.exception)) return undefined;
    run.exception = item.exception;
  }
  if (item.model !== undefined) {
    const model = readModel(item.model);
    if (!model) return undefined;
    run.model = model;
  }
  if (item.summary !== undefined) {
    if (!isObject(item.summary)) return undefined;
    const summary: RunSummary = {};
    if (!optional(summary, item.summary, ['n', 'errors', 'inferMsMin', 'inferMsMedian', 'inferMsMean', 'inferMsMax', 'totalMs'], isNum)) return undefined;
    run.summary = summary;
  }
  run.label = runLabel(run);
  return run;
}

function readSample(s: unknown): Sample | undefined {
  if (!isObject(s) || !isCount(s.index)) return undefined;
  const sample: Sample = { index: s.index };
  const ok = optional(sample, s, ['file', 'error'], isText)
    && optional(sample, s, ['pred', 'conf', 'loadMs', 'inferMs', 'unloadMs', 'memFree'], isNum);
  return ok ? sample : undefined;
}

function readModel(m: unknown): RunModel | undefined {
  if (!isObject(m) || !isText(m.name) || (m.simulated !== undefined && typeof m.simulated !== 'boolean')) return undefined;
  const model: RunModel = { name: m.name, simulated: m.simulated === true };
  const ok = optional(model, m, ['bytes', 'estInferMs', 'estLoadMs', 'expectedSamples'], isNum)
    && optional(model, m, ['keepLoaded'], (v) => typeof v === 'boolean');
  return ok ? model : undefined;
}
