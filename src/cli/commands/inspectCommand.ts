import { jsonForTerminal } from '../../core/text/untrustedText.js';
import { buildModelReport, type ModelReport } from '../../core/analysis/modelReport.js';
import { formatShape } from '../../core/blob/blobFormat.js';
import { validateBlob } from '../../core/blob/validateBlob.js';
import { UsageError } from '../cliIo.js';
import { numberOption, type CommandSpec } from '../commandSpec.js';
import { formatBytes, formatCount, formatMs, formatTable } from '../format.js';
import { readModelArgument } from '../modelArgument.js';

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
    const heapKb = numberOption(args, 'heap', 150, (n) => n > 0, 'a positive number of kilobytes');
    const model = readModelArgument(args.positionals[0]);
    const heapBudgetBytes = Math.round(heapKb * 1024);
    const report = model.kind === 'onnx'
      ? buildModelReport({
          source: model.name, kind: 'onnx', records: model.conversion.records, blobBytes: model.blob.length,
          layers: model.conversion.layers, notes: model.conversion.notes, heapBudgetBytes,
        })
      : (() => {
          const validation = validateBlob(model.blob);
          return buildModelReport({
            source: model.name, kind: 'blob', records: validation.blob.records, blobBytes: model.blob.length,
            issues: validation, heapBudgetBytes,
          });
        })();
    io.out(args.values.json ? jsonForTerminal(report) + '\n' : renderReport(report));
    return report.errors.length ? 1 : 0;
  },
};

export function renderReport(r: ModelReport): string {
  const rows = r.layers.map((l) => [
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
  lines.push('');
  lines.push(`Totals: ${formatCount(r.totals.parameters)} parameters, ${formatCount(r.totals.macs)} MACs; input ${formatCount(r.inputElements)} values, output ${formatCount(r.outputElements)} values`);
  lines.push(`Flash: ${formatBytes(r.totals.blobBytes)} blob on CIRCUITPY`);
  lines.push(`RAM:   ${formatBytes(m.totalBytes)} = blob ${formatBytes(m.blobBytes)} + scratch 2 × ${formatBytes(m.scratchBytes / 2)} + input array ${formatBytes(m.inputArrayBytes)} + output list ${formatBytes(m.outputListBytes)}`);
  lines.push(`       ${m.fits ? 'fits' : 'DOES NOT FIT'} the heap budget of ${formatBytes(m.heapBudgetBytes)} (${m.fits ? `${formatBytes(m.marginBytes)} to spare` : `${formatBytes(-m.marginBytes)} short`})`);
  lines.push(`Speed: estimated ${formatMs(r.latency.inferMs)} ms per inference, ${formatMs(r.latency.loadMs)} ms to load — ${r.latency.model}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  for (const e of r.errors) lines.push(`error: ${e}`);
  if (r.errors.length) lines.push('This blob must not be deployed: the firmware would read outside it or compute garbage. Convert the ONNX model again with cpml.');
  return lines.join('\n') + '\n';
}
