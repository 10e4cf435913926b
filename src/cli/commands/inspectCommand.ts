import { jsonForTerminal } from '../../core/text/untrustedText.js';
import type { ModelReport } from '../../core/analysis/modelReport.js';
import { formatShape } from '../../core/blob/blobFormat.js';
import { formatDuration } from '../../core/engine/computeBudget.js';
import { modelReportFor, readModelFile } from '../../core/modelFile.js';
import { UsageError } from '../cliIo.js';
import { DEFAULT_HEAP_BUDGET_BYTES } from '../../core/analysis/memoryPlan.js';
import { heapOption, type CommandSpec } from '../commandSpec.js';
import { formatBytes, formatCount, formatMs, formatTable } from '../format.js';

export const inspectCommand: CommandSpec = {
  name: 'inspect',
  summary: 'check a model or blob and report its layers, memory and estimated speed',
  usage: 'inspect <model.onnx|model.bin> [--heap KB] [--json]',
  details: [
    '--heap KB   heap available on the board (default 150; use gc.mem_free() / 1024 measured on yours)',
    '--json      print the report as JSON',
    'Exit status 1 when a blob would not run on the firmware.',
  ].join('\n'),
  options: { heap: { type: 'string' }, json: { type: 'boolean' } },
  run(args, io) {
    if (args.positionals.length !== 1) throw new UsageError('inspect takes exactly one model file');
    const heapBudgetBytes = heapOption(args, DEFAULT_HEAP_BUDGET_BYTES / 1024);
    const report = modelReportFor(readModelFile(args.positionals[0]), heapBudgetBytes);
    io.out(args.values.json ? jsonForTerminal(report) + '\n' : renderReport(report));
    return report.errors.length ? 1 : 0;
  },
};

/** Layers and messages shown in the text report; --json has them all (a blob may hold 150k layers). */
const MAX_TABLE_ROWS = 1000;
const MAX_LISTED_MESSAGES = 100;

/** `prefix: item` lines, the first MAX_LISTED_MESSAGES of them, then how many more there are. */
function listed(prefix: string, items: readonly string[]): string[] {
  const shown = items.slice(0, MAX_LISTED_MESSAGES).map((item) => `${prefix}: ${item}`);
  if (items.length > MAX_LISTED_MESSAGES) shown.push(`… and ${formatCount(items.length - MAX_LISTED_MESSAGES)} more ${prefix}s (cpml inspect --json lists them all)`);
  return shown;
}

export function renderReport(r: ModelReport): string {
  const rows = r.layers.slice(0, MAX_TABLE_ROWS).map((l) => [
    String(l.index), l.type, formatShape(l.in), formatShape(l.out),
    l.kernel ? `${l.kernel}/${l.stride}/${l.padding}` : '',
    formatCount(l.parameters), formatBytes(l.weightBytes), formatCount(l.macs), formatCount(l.outputElements),
    formatMs(l.estimatedMs), l.note ?? l.sources.join(' + '),
  ]);
  const m = r.memory;
  const lines: string[] = [];
  lines.push(`${r.source}: ${r.totals.layers} layers (${r.kind === 'onnx' ? 'converted from ONNX' : 'cnn_helper blob'})`);
  lines.push('');
  lines.push(formatTable(['#', 'layer', 'in', 'out', 'k/s/p', 'params', 'weights', 'MACs', 'outputs', 'est. ms', r.kind === 'onnx' ? 'from' : ''],
    rows, 'rllllrrrrrl').trimEnd());
  if (r.layers.length > MAX_TABLE_ROWS) lines.push(`… and ${formatCount(r.layers.length - MAX_TABLE_ROWS)} more layers (cpml inspect --json lists them all)`);
  lines.push('');
  lines.push(`Totals: ${formatCount(r.totals.parameters)} parameters, ${formatCount(r.totals.macs)} MACs; input ${formatCount(r.inputElements)} values, output ${formatCount(r.outputElements)} values`);
  lines.push(`Flash: ${formatBytes(r.totals.blobBytes)} blob on CIRCUITPY`);
  lines.push(`RAM:   ${formatBytes(m.totalBytes)} = blob ${formatBytes(m.blobBytes)} + scratch 2 × ${formatBytes(m.scratchBytes / 2)} + input array ${formatBytes(m.inputArrayBytes)} + output list ${formatBytes(m.outputListBytes)}`);
  lines.push(`       ${m.fits ? 'fits' : 'DOES NOT FIT'} the heap budget of ${formatBytes(m.heapBudgetBytes)} (${m.fits ? `${formatBytes(m.marginBytes)} to spare` : `${formatBytes(-m.marginBytes)} short`})`);
  const long = r.latency.inferMs >= 60_000 ? ` (${formatDuration(r.latency.inferMs)})` : '';
  lines.push(`Speed: estimated ${formatMs(r.latency.inferMs)} ms${long} per inference, ${formatMs(r.latency.loadMs)} ms to load — ${r.latency.model}`);
  lines.push(...listed('rewrite', r.rewrites), ...listed('note', r.notes), ...listed('warning', r.warnings), ...listed('error', r.errors));
  if (r.errors.length) lines.push('This blob must not be deployed: on the firmware it would crash the board, read outside the blob or compute garbage. Convert the ONNX model again with cpml.');
  return lines.join('\n') + '\n';
}
