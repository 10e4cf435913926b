// One console line → what it means for inference timing. Two program formats are understood:
//
// 1. The generated code.py (version 1 of the `CPML-*` lines):
//      CPML-MODEL v=1 model=model.bin bytes=7312 est_infer_ms=164.210 est_load_ms=17.900 samples=20 keep_loaded=0 [simulated=1]
//      CPML-TIMING v=1 i=0 pred=7 conf=100.0 load_ms=12.345 infer_ms=150.200 unload_ms=0.400 mem_free=123456 file=mnist_samples/sample_00.bin
//      CPML-ERROR v=1 i=5 error=OSError: [Errno 2] No such file/directory file=mnist_samples/sample_05.bin
//      CPML-SUMMARY v=1 n=19 errors=1 infer_ms_min=149.8 infer_ms_median=150.2 infer_ms_mean=150.3 infer_ms_max=151.0 total_ms=3210.5
//    Fields are `key=value` separated by spaces, in any order, except: `file=` is always the last
//    field and its value runs to the end of the line (it may contain spaces); `error=` is free
//    text that runs up to ` file=`. Unknown keys are ignored, so later versions can add fields;
//    `v` must be a positive integer. A TIMING or ERROR line without `file=` was cut off (or
//    interleaved with other output) and is ignored.
// 2. The upstream example's plain output: `File: mnist_samples/sample_00.bin -> Pred: 7 (99.1%)`
//    and `Error: <exception>` (no index, no file, no timings).
//
// Plus CircuitPython's own console messages, which delimit runs (docs/circuitpython-board.md).
// Anything else — garbage, REPL output, unrelated prints — is null.
import type { EndReason, RunSummary, Sample } from './run.js';

export type TimingRecord =
  | ModelRecord
  | SampleRecord
  | ErrorRecord
  | SummaryRecord
  | PredictionRecord
  | UpstreamErrorRecord
  | RunStartRecord
  | RunEndRecord;

export interface ModelRecord {
  kind: 'model';
  version: number;
  name: string;
  bytes?: number;
  estInferMs?: number;
  estLoadMs?: number;
  samples?: number;
  keepLoaded?: boolean;
  simulated: boolean;
}

/** A CPML-TIMING line: a sample of the run (see run.ts) whose file is always known. */
export interface SampleRecord extends Omit<Sample, 'file' | 'error'> {
  kind: 'sample';
  version: number;
  file: string;
}

export interface ErrorRecord {
  kind: 'error';
  version: number;
  index: number;
  file: string;
  error: string;
}

/** A CPML-SUMMARY line: the run's summary as the program printed it. */
export interface SummaryRecord extends RunSummary {
  kind: 'summary';
  version: number;
}

/** A plain upstream `File: … -> Pred: 7 (99.1%)` line. */
export interface PredictionRecord {
  kind: 'prediction';
  file: string;
  pred: number;
  conf?: number;
}

/** A plain upstream `Error: …` line (printed when a sample fails). */
export interface UpstreamErrorRecord {
  kind: 'upstreamError';
  error: string;
}

/** `code.py output:` (or main.py, code.txt, main.txt): the board starts the program. */
export interface RunStartRecord {
  kind: 'runStart';
  program: string;
}

/**
 * The program stopped: `Code done running.` (done), `Code stopped by auto-reload. Reloading soon.`
 * and `soft reboot` (reload), `Traceback (most recent call last):` (error: the exception line
 * follows; the recorder reads it), or a `>>>` REPL prompt line (done: output of code run from the
 * REPL has no start or end message of its own).
 */
export interface RunEndRecord {
  kind: 'runEnd';
  reason: EndReason;
  traceback?: true;
}

const PREDICTION = /^File:\s*(\S.*?)\s*->\s*Pred:\s*(-?\d+)\s*\(\s*([^()%]*?)\s*%\s*\)$/;
const RUN_START = /^((?:code|main)\.(?:py|txt)) output:$/;
const CPML = /^CPML-(MODEL|TIMING|ERROR|SUMMARY)(?=\s|$)\s*(.*)$/;
const NUMBER = /^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

export function parseTimingLine(line: string): TimingRecord | null {
  const text = line.trim();
  if (!text) return null;
  const cpml = CPML.exec(text);
  if (cpml) return parseCpml(cpml[1], cpml[2]);
  const prediction = PREDICTION.exec(text);
  if (prediction) {
    const pred = integer(prediction[2]);
    if (pred === undefined) return null;
    return { kind: 'prediction', file: prediction[1], pred, conf: number(prediction[3]) };
  }
  if (text.startsWith('Error:')) return { kind: 'upstreamError', error: text.slice('Error:'.length).trim() };
  const start = RUN_START.exec(text);
  if (start) return { kind: 'runStart', program: start[1] };
  switch (text) {
    case 'Code done running.': return { kind: 'runEnd', reason: 'done' };
    case 'Code stopped by auto-reload. Reloading soon.': return { kind: 'runEnd', reason: 'reload' };
    case 'soft reboot': return { kind: 'runEnd', reason: 'reload' };
    case 'Traceback (most recent call last):': return { kind: 'runEnd', reason: 'error', traceback: true };
  }
  if (text === '>>>' || text.startsWith('>>> ')) return { kind: 'runEnd', reason: 'done' };
  return null;
}

function parseCpml(tag: string, rest: string): TimingRecord | null {
  const f = splitFields(rest, tag === 'ERROR' ? 'error' : undefined);
  const version = integer(f.fields.get('v'));
  if (version === undefined || version < 1) return null;
  const get = (key: string) => number(f.fields.get(key));
  switch (tag) {
    case 'MODEL': {
      const name = f.fields.get('model');
      if (!name) return null;
      return {
        kind: 'model', version, name,
        bytes: get('bytes'), estInferMs: get('est_infer_ms'), estLoadMs: get('est_load_ms'), samples: integer(f.fields.get('samples')),
        keepLoaded: flag(f.fields.get('keep_loaded')), simulated: flag(f.fields.get('simulated')) ?? false,
      };
    }
    case 'TIMING': {
      const index = integer(f.fields.get('i'));
      if (index === undefined || index < 0 || !f.file) return null;
      return {
        kind: 'sample', version, index, file: f.file,
        pred: integer(f.fields.get('pred')), conf: get('conf'),
        loadMs: get('load_ms'), inferMs: get('infer_ms'), unloadMs: get('unload_ms'), memFree: get('mem_free'),
      };
    }
    case 'ERROR': {
      const index = integer(f.fields.get('i'));
      if (index === undefined || index < 0 || !f.file || f.freeText === undefined) return null;
      return { kind: 'error', version, index, file: f.file, error: f.freeText };
    }
    default:
      return {
        kind: 'summary', version,
        n: integer(f.fields.get('n')), errors: integer(f.fields.get('errors')),
        inferMsMin: get('infer_ms_min'), inferMsMedian: get('infer_ms_median'), inferMsMean: get('infer_ms_mean'), inferMsMax: get('infer_ms_max'),
        totalMs: get('total_ms'),
      };
  }
}

interface Fields {
  fields: Map<string, string>;
  /** The value of `file=`, which runs to the end of the line. */
  file?: string;
  /** The value of the free-text key, which runs up to `file=`. */
  freeText?: string;
}

/**
 * Splits `k=v k=v … [free=text with spaces] file=name with spaces`. With a free-text key the last
 * ` file=` ends the free text (an exception message is likelier to contain odd text than a file
 * name is); otherwise the first ` file=` starts the file name.
 */
function splitFields(rest: string, freeKey?: string): Fields {
  const out: Fields = { fields: new Map() };
  let head = rest;
  const fileAt = freeKey ? lastFieldStart(head, 'file') : firstFieldStart(head, 'file');
  if (fileAt !== -1) {
    out.file = head.slice(fileAt + 'file='.length).trim();
    head = head.slice(0, fileAt);
  }
  if (freeKey) {
    const freeAt = firstFieldStart(head, freeKey);
    if (freeAt !== -1) {
      out.freeText = head.slice(freeAt + freeKey.length + 1).trim();
      head = head.slice(0, freeAt);
    }
  }
  for (const token of head.split(/\s+/)) {
    const eq = token.indexOf('=');
    if (eq <= 0) continue;
    const key = token.slice(0, eq);
    // The first occurrence wins: a repeated key is more likely garbage than a correction.
    if (!out.fields.has(key)) out.fields.set(key, token.slice(eq + 1));
  }
  return out;
}

/** Index of `key=` at the start of `text` or after whitespace, or -1. */
function firstFieldStart(text: string, key: string): number {
  const match = new RegExp(`(?:^|\\s)${key}=`).exec(text);
  return match ? match.index + match[0].length - key.length - 1 : -1;
}

function lastFieldStart(text: string, key: string): number {
  let found = -1;
  const pattern = new RegExp(`(?:^|\\s)${key}=`, 'g');
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) found = m.index + m[0].length - key.length - 1;
  return found;
}

function number(text: string | undefined): number | undefined {
  if (text === undefined || !NUMBER.test(text)) return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

function integer(text: string | undefined): number | undefined {
  const value = number(text);
  return value !== undefined && Number.isSafeInteger(value) && !/[.eE]/.test(text!) ? value : undefined;
}

function flag(text: string | undefined): boolean | undefined {
  if (text === '1' || text === 'true' || text === 'True') return true;
  if (text === '0' || text === 'false' || text === 'False') return false;
  return undefined;
}
