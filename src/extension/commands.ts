// Every command of the extension in one table: id → handler. Registered synchronously at
// activation, so they exist even when a native module or a later step fails.
import * as vscode from 'vscode';
import type { ExtensionState } from './extensionState.js';
import { pickModel } from './modelPicker.js';
import { deployModel } from './deployModel.js';
import { startVirtualPico } from './virtualPicoCommand.js';
import { toolchain } from './lazyToolchain.js';
import { errorMessage, isUserError } from './userErrors.js';

type Handler = (state: ExtensionState, ...args: unknown[]) => unknown;

const boardCommand = (action: (s: ReturnType<ExtensionState['board']['connect']>) => Promise<void>, label: string): Handler => async (state) => {
  const session = state.board.connect();
  state.monitor.show();
  await action(session);
  state.log.info(label);
};

export const COMMANDS: Record<string, Handler> = {
  'cpml.deployModel': (state, arg) => deployModel(state, arg),
  'cpml.startVirtualPico': (state) => startVirtualPico(state),

  'cpml.convertModel': async (state, arg) => {
    const uri = await pickModel(arg, { onnxOnly: true, title: 'Convert ONNX to Blob' });
    if (!uri) return;
    const { outPath, conversion } = await toolchain().convertToBlob(uri);
    const rel = vscode.workspace.asRelativePath(outPath);
    const rewrites = toolchain().describeRewrites(conversion.rewrites);
    state.log.info(`converted ${uri.fsPath} → ${outPath} (${conversion.layers.length} layers, ${conversion.blob.length} bytes)${rewrites.map((r) => `\n  rewrite: ${r}`).join('')}${conversion.notes.map((n) => `\n  note: ${n}`).join('')}`);
    const choice = await vscode.window.showInformationMessage(
      `Converted to ${rel}: ${conversion.layers.length} layers, ${(conversion.blob.length / 1024).toFixed(1)} KB.${rewrites.length ? ` ${rewrites.length} operation(s) rewritten for the firmware (costs in the log).` : ''}${conversion.notes.length ? ` ${conversion.notes.length} note(s) in the log.` : ''}`,
      'Inspect', 'Show Log');
    if (choice === 'Inspect') await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(outPath), 'cpml.blobView');
    if (choice === 'Show Log') state.log.show(true);
  },

  'cpml.inspectModel': async (_state, arg) => {
    const uri = await pickModel(arg, { title: 'Inspect Model' });
    if (!uri) return;
    await vscode.commands.executeCommand('vscode.openWith', uri, /\.onnx$/i.test(uri.path) ? 'cpml.modelView' : 'cpml.blobView');
  },

  'cpml.validateModel': async (state, arg) => {
    const uri = await pickModel(arg, { onnxOnly: true, title: 'Validate Model on Host' });
    if (!uri) return;
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Validating ${vscode.workspace.asRelativePath(uri)} on the host…` },
      () => toolchain().validateOnHost(uri));
    const o = result.overall;
    const summary = `max abs error ${o.maxAbsError.toExponential(2)}, cosine ≥ ${o.cosineMin.toFixed(6)}, argmax agreement ${Math.round(o.argmaxAgreement * o.samples)}/${o.samples}`;
    state.log.info(`validate ${uri.fsPath}: ${result.pass ? 'PASS' : 'FAIL'} — ${summary}`);
    if (result.pass) void vscode.window.showInformationMessage(`The converted blob matches the ONNX model on ${o.samples} random inputs: ${summary}.`);
    else void vscode.window.showWarningMessage(`The converted blob differs from the ONNX model beyond tolerance ${result.tolerance}: ${summary}.`, 'Show Log').then((c) => c && state.log.show(true));
  },

  'cpml.openMonitor': (state) => {
    state.monitor.show(false);
    try {
      state.board.connect();
    } catch (error) {
      state.monitor.status(errorMessage(error, { sentence: true }));
      throw error;
    }
  },
  'cpml.stopProgram': boardCommand((s) => s.sendCtrlC(), 'sent Ctrl-C'),
  'cpml.softReload': boardCommand((s) => s.sendCtrlD(), 'sent Ctrl-D'),
  'cpml.enterRepl': boardCommand((s) => s.enterRepl(), 'entering the REPL'),
  'cpml.sendToRepl': async (state) => {
    const line = await vscode.window.showInputBox({ title: 'Send to REPL', prompt: 'A line of Python for the board\'s REPL (sent with Enter)', placeHolder: 'import gc; print(gc.mem_free())' });
    if (line === undefined) return;
    const session = state.board.connect();
    state.monitor.show();
    await session.sendLine(line);
  },

  'cpml.selectBoard': async (state) => {
    const boards = await state.board.refresh();
    if (!boards.length) {
      void vscode.window.showInformationMessage('No CircuitPython board found. Plug one in, set cpml.board.port / cpml.board.drive, or start a virtual Pico.');
      return;
    }
    const current = state.board.board?.key;
    const pick = await vscode.window.showQuickPick(boards.map((b) => ({
      label: `${b.key === current ? '$(check) ' : ''}${b.name}`,
      description: [b.version && `CP ${b.version}`, b.kind !== 'circuitpython' && b.kind].filter(Boolean).join(' · '),
      detail: [b.port?.path, b.drive?.path, b.uid && `UID ${b.uid}`].filter(Boolean).join('  ·  '),
      key: b.key,
    })), { title: 'Select Board', placeHolder: 'The board the commands act on (remembered for this workspace)' });
    if (pick) await state.board.select(pick.key);
  },

  'cpml.boardActions': async (state) => {
    const connected = Boolean(state.board.session);
    const board = state.board.board;
    const items: (vscode.QuickPickItem & { command?: string; run?: () => void })[] = [
      { label: '$(terminal) Open Serial Monitor', command: 'cpml.openMonitor' },
      ...(connected ? [
        { label: '$(debug-stop) Stop Program (Ctrl-C)', command: 'cpml.stopProgram' },
        { label: '$(debug-restart) Soft Reload (Ctrl-D)', command: 'cpml.softReload' },
        { label: '$(terminal-cmd) Enter REPL', command: 'cpml.enterRepl' },
        { label: '$(debug-disconnect) Disconnect', run: () => state.board.disconnect() },
      ] : []),
      ...(board?.drive ? [{ label: '$(folder-opened) Open CIRCUITPY Drive', run: () => void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(board.drive!.path)) }] : []),
      { label: '$(circuit-board) Select Board…', command: 'cpml.selectBoard' },
      { label: '$(rocket) Deploy Model to Pico', command: 'cpml.deployModel' },
      { label: '$(vm) Start Virtual Pico', command: 'cpml.startVirtualPico' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: board ? `${board.name}${board.version ? ` · CircuitPython ${board.version}` : ''}` : 'No board' });
    if (pick?.command) await vscode.commands.executeCommand(pick.command);
    else pick?.run?.();
  },

  'cpml.timing.clear': (state) => state.timing.clear(),
  'cpml.timing.exportCsv': (state) => state.timing.exportCsv(),
};

/** Wraps a handler so a user mistake becomes a message (never a stack trace) and bugs reach the log. */
export function guarded(state: ExtensionState, id: string, handler: Handler) {
  return async (...args: unknown[]) => {
    try {
      return await handler(state, ...args);
    } catch (error) {
      const message = errorMessage(error, { sentence: true });
      // The user sees the message; the log keeps the detail (a stack only for what is not a user error).
      if (isUserError(error)) state.log.warn(`${id}: ${message}`);
      else state.log.error(`${id}: ${error instanceof Error ? error.stack ?? message : message}`);
      void vscode.window.showErrorMessage(message);
    }
  };
}
