// The model toolchain for the extension: a bundle of its own, loaded on first use through
// lazyToolchain.ts (the ONNX code is not needed to activate). All logic is in src/core; this
// only adapts it to URIs and settings.
import type * as vscode from 'vscode';
import type { ModelReport } from '../core/analysis/modelReport.js';
import { convertOnnxFile, convertOnnxFileTo, type Conversion } from '../core/convert.js';
import { inputElementsOf, randomSamples, validateModel, type ModelValidation } from '../core/engine/validateModel.js';
import { modelReportFor, NotAModelError, readModelFile } from '../core/modelFile.js';
import { errorMessage, isUserError } from './userErrors.js';

/** What the model view shows: the report, or why there is none (`notAModel`: a sample input, not a broken model). */
export type ReportResult = { report: ModelReport } | { error: string; notAModel?: boolean };

export async function reportFor(uri: vscode.Uri, heapBudgetKB: number): Promise<ReportResult> {
  try {
    return { report: modelReportFor(readModelFile(uri.fsPath), Math.round(heapBudgetKB * 1024)) };
  } catch (error) {
    if (!isUserError(error)) throw error;
    return { error: errorMessage(error, { sentence: true }), notAModel: error instanceof NotAModelError };
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
export { describeRewrites } from '../core/onnx/lowerGraph.js';
export { executeDeploy } from '../core/deploy/executeDeploy.js';
export { VirtualPico } from '../sim/virtualPico.js';
