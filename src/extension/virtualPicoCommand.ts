// "Start Virtual Pico": a simulated board (real MicroPython running code.py from a temporary
// CIRCUITPY folder, cnn_helper backed by the host engine) on a pseudo-terminal, connected like
// a real board. Running the command again offers to stop it.
import * as vscode from 'vscode';
import type { VirtualPico } from '../sim/virtualPico.js';
import type { ExtensionState } from './extensionState.js';
import { toolchain } from './lazyToolchain.js';
import { errorMessage } from './userErrors.js';

let running: VirtualPico | undefined;

export async function startVirtualPico(state: ExtensionState): Promise<void> {
  if (running) {
    const choice = await vscode.window.showInformationMessage('The virtual Pico is running.', 'Open Its Drive', 'Stop It');
    if (choice === 'Stop It') await stopVirtualPico(state);
    if (choice === 'Open Its Drive' && state.board.board?.drive) {
      await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(state.board.board.drive.path));
    }
    return;
  }
  // Windows has no pseudo-terminals: the extension talks to the virtual board in-process there.
  const inProcess = process.platform === 'win32';
  const pico = new (toolchain().VirtualPico)({ heapBytes: Math.round(state.config.heapBudgetKB * 1024), pty: inProcess ? false : 'auto' });
  // Its errors are CpmlErrors (what went wrong on the virtual board, and the fix): no stack.
  pico.on('error', (error) => {
    const message = errorMessage(error);
    state.log.warn(`virtual Pico: ${message}`);
    state.monitor.status(`virtual Pico: ${message}`);
  });
  // From here on, whatever fails, closing the window stops it (its port helper and drive watcher
  // would otherwise outlive the extension).
  running = pico;
  state.push({ dispose: () => void disposeVirtualPico() });
  const info = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Starting the virtual Pico…' }, () => pico.start())
    .then(undefined, (error: unknown) => {
      if (running === pico) running = undefined;
      throw error;
    });
  const port = info.port ?? 'virtual Pico (in-process)';
  state.log.info(`virtual Pico: port ${port}, drive ${info.drive} (${info.relay ?? 'in-process'}); its timings are simulated from the RP2040 latency model`);
  await state.board.useVirtualBoard({ port, drive: info.drive, key: info.uid, openPort: info.port ? undefined : pico.openPort });
  state.monitor.status(`virtual Pico started: port ${port}, drive ${info.drive} — timings are simulated`);
  state.monitor.show();
  state.board.connect();
}

export async function stopVirtualPico(state: ExtensionState): Promise<void> {
  if (!running) return;
  await state.board.useVirtualBoard(undefined);
  await disposeVirtualPico();
  state.monitor.status('virtual Pico stopped');
}

/** Stops the virtual Pico, if one runs: its program, port helper and temporary drive. Called on deactivation too. */
export async function disposeVirtualPico(): Promise<void> {
  const pico = running;
  running = undefined;
  await pico?.dispose();
}
