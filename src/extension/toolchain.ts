// The model toolchain for the extension: a bundle of its own, loaded on first use through
// lazyToolchain.ts (the ONNX code is not needed to activate). All logic is in src/core; this
// only adapts it to URIs and settings.
import type * as vscode from 'vscode';
import { buildModelReport, type ModelReport } from '../core/analysis/modelReport.js';
import { validateBlob } from '../core/blob/validateBlob.js';
import { convertOnnxFile, convertOnnxFileTo, type Conversion } from '../core/convert.js';
import { inputElementsOf, randomSamples, validateModel, type ModelValidation } from '../core/engine/validateModel.js';
import { readFileChecked } from '../core/files/readFileChecked.js';
import { errorMessage, isUserError } from './userErrors.js';

export type ReportResult = { report: ModelReport } | { error: string };

export async function reportFor(uri: vscode.Uri, heapBudgetKB: number): Promise<ReportResult> {
  const heapBudgetBytes = Math.round(heapBudgetKB * 1024);
  const name = uri.path.split('/').pop() ?? uri.fsPath;
  try {
    if (/\.onnx$/i.test(uri.fsPath)) {
      const c = convertOnnxFile(uri.fsPath);
      return { report: buildModelReport({ source: name, kind: 'onnx', records: c.records, blobBytes: c.blob.length, layers: c.layers, notes: c.notes, heapBudgetBytes }) };
    }
    const bytes = readFileChecked(uri.fsPath);
    const v = validateBlob(bytes);
    return { report: buildModelReport({ source: name, kind: 'blob', records: v.blob.records, blobBytes: bytes.length, issues: v, heapBudgetBytes }) };
  } catch (error) {
    if (!isUserError(error)) throw error;
    return { error: errorMessage(error) };
  }
}

export async function convertToBlob(uri: vscode.Uri): Promise<{ outPath: string; conversion: Conversion }> {
  const outPath = uri.fsPath.replace(/\.onnx$/i, '') + '.bin';
  return { outPath, conversion: convertOnnxFileTo(uri.fsPath, outPath) };
}

export async function validateOnHost(uri: vscode.Uri, samples = 8): Promise<ModelValidation> {
  const conversion = convertOnnxFile(uri.fsPath);
  return validateModel(conversion, randomSamples(inputElementsOf(conversion), samples, 1));
}


export { planDeploy } from '../core/deploy/planDeploy.js';
export { executeDeploy } from '../core/deploy/executeDeploy.js';
export { VirtualPico } from '../sim/virtualPico.js';
