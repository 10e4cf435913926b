// "Deploy Model to Pico": pick the model, find the board's drive, plan (convert, validate,
// memory plan, free space — refusing before anything is written), then copy with a cancellable
// progress notification. The console streams in the serial monitor; the timing view fills in.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { DeployPlan } from '../core/deploy/planDeploy.js';
import { CpmlError } from '../core/errors.js';
import type { ExtensionState } from './extensionState.js';
import { toolchain } from './lazyToolchain.js';
import { pickModel } from './modelPicker.js';
import { errorMessage, isUserError } from './userErrors.js';

export async function deployModel(state: ExtensionState, arg: unknown): Promise<void> {
  const uri = await pickModel(arg, { title: 'Deploy Model to Pico' });
  if (!uri) return;
  const board = state.board.board;
  if (!board?.drive) {
    const message = !board
      ? (state.board.boards.length > 1 ? 'Several boards are attached: choose one with "Select Board…" first.' : 'No CircuitPython board found: plug in a Pico running CircuitPython, or start a virtual one.')
      : `${board.name} has no CIRCUITPY drive mounted${board.kind === 'bootloader' ? ' (it is in BOOTSEL mode)' : ''}; set cpml.board.drive if it is mounted somewhere unusual.`;
    const action = await vscode.window.showErrorMessage(message, 'Start Virtual Pico', 'Select Board…');
    if (action === 'Start Virtual Pico') await vscode.commands.executeCommand('cpml.startVirtualPico');
    if (action === 'Select Board…') await vscode.commands.executeCommand('cpml.selectBoard');
    return;
  }
  const drive = board.drive.path;
  const label = board.drive.label;
  const plan = await planWithSamples(state, uri, drive).catch((error: unknown) => {
    // A refusal says which model and that the board was not touched (the plan writes nothing).
    if (isUserError(error)) throw new CpmlError(`Cannot deploy ${path.basename(uri.fsPath)}; nothing was written to ${label}. ${errorMessage(error, { sentence: true })}`);
    throw error;
  });
  if (!plan) return;

  // Connect first, so the run the deploy triggers shows in the monitor from its first line.
  if (board.port) {
    try {
      state.board.connect();
      state.monitor.show();
    } catch (error) {
      state.log.warn(`deploy: not connecting to the console: ${errorMessage(error)}`);
    }
  }
  state.board.deploying = true;
  try {
    const result = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `Deploying ${plan.model.name} to ${board.drive.label}`,
      cancellable: true,
    }, (progress, token) => toolchain().executeDeploy(plan, {
      isCancelled: () => token.isCancellationRequested,
      onProgress: (step) => progress.report({ message: `${step.action === 'skip' ? 'unchanged' : step.action} ${step.file}`, increment: 100 / step.total }),
    }));
    state.log.info(`deploy to ${drive}: wrote ${result.written.join(', ') || 'nothing'}; unchanged ${result.skipped.length} file(s)${result.backup ? `; your code.py is kept as ${result.backup}` : ''} (${result.durationMs.toFixed(0)} ms)`);
    for (const warning of result.warnings) state.log.warn(`deploy: ${warning}`);
    const what = result.written.length ? `${result.written.length} file(s) written, ${result.skipped.length} unchanged` : 'nothing changed on the drive';
    void vscode.window.showInformationMessage(
      `Deployed ${plan.model.name} with ${plan.samples.files.length} sample(s) to ${board.drive.label}: ${what}.${result.backupCreated ? ` Your previous code.py is kept as ${result.backup}.` : ''}`);
  } finally {
    state.board.deploying = false;
  }
}

/** Plans the deploy; when no sample folder is found, offers to choose one. */
async function planWithSamples(state: ExtensionState, uri: vscode.Uri, drive: string): Promise<DeployPlan | undefined> {
  const request = {
    model: uri.fsPath,
    drive,
    samples: state.config.samplesFolder ? path.resolve(path.dirname(uri.fsPath), state.config.samplesFolder) : undefined,
    heapBudgetBytes: Math.round(state.config.heapBudgetKB * 1024),
    keepLoaded: state.config.keepModelLoaded,
  };
  const plan = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Checking the model…' },
    () => toolchain().planDeploy(request));
  if (plan.samples.files.length) return plan;
  const choice = await vscode.window.showWarningMessage(
    `No sample inputs found next to ${path.basename(uri.fsPath)} (a samples/ or mnist_samples/ folder of float32 .bin files). The board will load the model but run nothing.`,
    'Choose Samples Folder…', 'Deploy Without Samples');
  if (choice === 'Deploy Without Samples') return plan;
  if (choice !== 'Choose Samples Folder…') return undefined;
  const folder = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, title: 'Folder of sample inputs (.bin float32)' });
  if (!folder?.[0]) return undefined;
  const replanned = await toolchain().planDeploy({ ...request, samples: folder[0].fsPath });
  if (!replanned.samples.files.length) throw new CpmlError(`${folder[0].fsPath} holds no .bin sample files`);
  return replanned;
}
