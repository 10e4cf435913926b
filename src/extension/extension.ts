// Activation: register every command and view synchronously, then start board discovery in
// the background. Heavy modules (serialport, the ONNX toolchain) load on first use.
import * as vscode from 'vscode';
import { COMMANDS, guarded } from './commands.js';
import { ExtensionState } from './extensionState.js';
import { createLog } from './log.js';
import { MODEL_VIEW_TYPES, ModelEditorProvider } from './modelEditor.js';
import { toolchain } from './lazyToolchain.js';
import { disposeVirtualPico } from './virtualPicoCommand.js';

export function activate(context: vscode.ExtensionContext): void {
  const started = performance.now();
  const log = createLog();
  context.subscriptions.push(log);
  const s = new ExtensionState(context, log);
  context.subscriptions.push(s);

  for (const [id, handler] of Object.entries(COMMANDS)) {
    context.subscriptions.push(vscode.commands.registerCommand(id, guarded(s, id, handler)));
  }
  const editor = new ModelEditorProvider((uri) => toolchain().reportFor(uri, s.config.heapBudgetKB), log);
  for (const viewType of MODEL_VIEW_TYPES) {
    context.subscriptions.push(vscode.window.registerCustomEditorProvider(viewType, editor, { supportsMultipleEditorsPerDocument: true }));
  }

  // Discovery touches the file system and maybe a native module: after activation returns.
  setImmediate(() => {
    try {
      s.board.start();
    } catch (error) {
      log.error(`board discovery could not start: ${(error as Error).stack ?? error}`);
    }
  });
  log.info(`CircuitPython ML ${context.extension.packageJSON.version as string} activated in ${(performance.now() - started).toFixed(1)} ms`);
}

/**
 * Everything is in context.subscriptions, which VS Code disposes; the virtual Pico's port helper
 * and worker are stopped here too, and VS Code waits for them (a child process left behind would
 * hold the extension host, or a test's process, open).
 */
export function deactivate(): Promise<void> {
  return disposeVirtualPico();
}
