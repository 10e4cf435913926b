// The model view: a read-only custom editor for .onnx and model .bin files showing the report
// (layers, memory plan against the heap budget, latency estimate, warnings or the refusal).
// A webview with a strict Content-Security-Policy: no scripts, no remote content.
import * as vscode from 'vscode';
import type { Log } from './log.js';
import type { ReportResult } from './toolchain.js';

export const MODEL_VIEW_TYPES = ['cpml.modelView', 'cpml.blobView'] as const;

export class ModelEditorProvider implements vscode.CustomReadonlyEditorProvider {
  constructor(private readonly makeReport: (uri: vscode.Uri) => Promise<ReportResult>, private readonly log: Log) {}

  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.options = { enableScripts: false, enableCommandUris: ['cpml.deployModel', 'cpml.convertModel', 'cpml.validateModel'] };
    const render = async () => {
      const started = performance.now();
      const result = await this.makeReport(document.uri);
      panel.webview.html = renderHtml(document.uri, result, panel.webview.cspSource);
      this.log.debug(`model view ${document.uri.fsPath}: ${(performance.now() - started).toFixed(1)} ms`);
    };
    await render();
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(document.uri, '..'), document.uri.path.split('/').pop()!));
    watcher.onDidChange(() => void render());
    panel.onDidDispose(() => watcher.dispose());
  }
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const num = (n: number) => n.toLocaleString('en-US');
/** Larger models keep the page fast: only this many layer rows are drawn. */
const MAX_ROWS = 500;

function renderHtml(uri: vscode.Uri, result: ReportResult, cspSource: string): string {
  const nonce = Array.from({ length: 16 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
  const name = esc(uri.path.split('/').pop() ?? '');
  const arg = encodeURIComponent(JSON.stringify([uri]));
  const buttons = `<p class="actions">${/\.onnx$/i.test(uri.path) ? `<a href="command:cpml.convertModel?${arg}">Convert</a> · <a href="command:cpml.validateModel?${arg}">Validate</a> · ` : ''}<a href="command:cpml.deployModel?${arg}">Deploy to Pico</a></p>`;
  let body: string;
  if ('error' in result && result.notAModel) {
    // A sample input opened as a model: say what it is, and offer no model commands on it.
    body = `<h1>${name}</h1><div class="note"><strong>This is not a model.</strong><p>${esc(result.error)}</p></div>`;
  } else if ('error' in result) {
    body = `<h1>${name}</h1><div class="error"><strong>This model cannot run on the board.</strong><p>${esc(result.error)}</p></div>`;
  } else {
    const r = result.report;
    const m = r.memory;
    const pct = Math.min(100, (m.totalBytes / m.heapBudgetBytes) * 100);
    const rows = r.layers.slice(0, MAX_ROWS).map((l) => `<tr><td>${l.index}</td><td>${l.type}</td><td>${l.in.c}×${l.in.h}×${l.in.w}</td><td>${l.out.c}×${l.out.h}×${l.out.w}</td><td>${l.kernel ? `${l.kernel}/${l.stride}/${l.padding}` : ''}</td><td class="n">${num(l.parameters)}</td><td class="n">${num(l.macs)}</td><td class="n">${kb(l.activationBytes)}</td><td class="n">${l.estimatedMs.toFixed(2)}</td><td>${esc(l.note ?? l.sources.join(' + '))}</td></tr>`).join('');
    const more = r.layers.length > MAX_ROWS ? `<p>… and ${r.layers.length - MAX_ROWS} more layers</p>` : '';
    const list = (cls: string, items: string[]) => (items.length ? `<ul class="${cls}">${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '');
    body = `<h1>${name} <span class="sub">${r.totals.layers} layers · ${r.kind === 'onnx' ? 'converted from ONNX' : 'cnn_helper blob'}</span></h1>
${buttons}
<table><thead><tr><th>#</th><th>layer</th><th>in</th><th>out</th><th>k/s/p</th><th>params</th><th>MACs</th><th>activations</th><th>est. ms</th><th>from</th></tr></thead><tbody>${rows}</tbody></table>${more}
<h2>Memory on the board</h2>
<div class="bar ${m.fits ? '' : 'over'}"><div style="width:${pct.toFixed(1)}%"></div></div>
<p>${kb(m.totalBytes)} of the ${kb(m.heapBudgetBytes)} heap budget — ${m.fits ? `${kb(m.marginBytes)} to spare` : `<strong>${kb(-m.marginBytes)} short</strong>`}: blob ${kb(m.blobBytes)}, scratch 2 × ${kb(m.scratchBytes / 2)}, input ${kb(m.inputArrayBytes)}, output ${kb(m.outputListBytes)}. Flash: ${kb(r.totals.blobBytes)}.</p>
<h2>Speed (estimate)</h2>
<p>${r.latency.inferMs.toFixed(1)} ms per inference, ${r.latency.loadMs.toFixed(1)} ms to load — ${esc(r.latency.model)}. ${num(r.totals.macs)} MACs, ${num(r.totals.parameters)} parameters.</p>
${r.rewrites.length ? `<h2>Rewrites</h2><p>The firmware has no layer for these operations; they run exactly as other layers, at this cost (already in the table, memory and speed above):</p>${list('rewrite', r.rewrites)}` : ''}
${list('error', r.errors)}${list('warning', r.warnings)}${list('note', r.notes)}`;
  }
  return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; img-src ${cspSource};">
<style nonce="${nonce}">
body{font-family:var(--vscode-font-family);color:var(--vscode-foreground);padding:0 16px}
.sub{font-weight:normal;color:var(--vscode-descriptionForeground);font-size:0.7em}
table{border-collapse:collapse;font-family:var(--vscode-editor-font-family);font-size:var(--vscode-editor-font-size)}
th,td{padding:2px 8px;text-align:left;border-bottom:1px solid var(--vscode-editorWidget-border)}
td.n{text-align:right}
.bar{height:10px;background:var(--vscode-editorWidget-background);border:1px solid var(--vscode-editorWidget-border);max-width:480px}
.bar div{height:100%;background:var(--vscode-charts-green)} .bar.over div{background:var(--vscode-charts-red)}
.error{color:var(--vscode-errorForeground)} .warning{color:var(--vscode-editorWarning-foreground)}
a{color:var(--vscode-textLink-foreground)}
</style></head><body>${body}</body></html>`;
}
