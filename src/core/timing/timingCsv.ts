// Runs → CSV (RFC 4180: CRLF line ends, fields with a comma, quote or line break in double
// quotes, quotes doubled). One row per sample kept, runs oldest first; empty fields for what the
// board did not print.
import type { Run } from './run.js';

export const CSV_COLUMNS = ['run_id', 'run_start', 'model', 'sample', 'file', 'pred', 'conf', 'load_ms', 'infer_ms', 'unload_ms', 'mem_free', 'error'] as const;

export function runsToCsv(runs: readonly Run[]): string {
  const rows: string[] = [CSV_COLUMNS.join(',')];
  for (const run of runs) {
    const start = run.startedAt.toISOString();
    for (const s of run.samples) {
      rows.push([run.id, start, run.model?.name, s.index, s.file, s.pred, s.conf, s.loadMs, s.inferMs, s.unloadMs, s.memFree, s.error].map(csvField).join(','));
    }
  }
  return rows.join('\r\n') + '\r\n';
}

export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
