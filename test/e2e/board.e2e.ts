// End-to-end, in real VS Code: the board indicator and the serial monitor. One code-server
// session; the board is a folder named CIRCUITPY with a boot_out.txt (the drive) and a socat
// pseudo-terminal pair (the console), set through the workspace settings cpml.board.drive and
// cpml.board.port while VS Code runs.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BoardEnd, PtyPair, socatMissing } from '../serial/ptyPair.js';
import {
  makeCircuitPyDrive, makeWorkspace, SCENARIO_TIMEOUT, SESSION_TIMEOUT, sessionDir, UI_TIMEOUT, waitUntil, Workbench, writeWorkspaceSettings,
} from './support/workbench.js';

describe('board indicator and serial monitor (code-server)', () => {
  let wb: Workbench;
  let workspace: string;
  let drive: string;
  let pair: PtyPair | undefined;
  let board: BoardEnd | undefined;

  before(async () => {
    const dir = sessionDir('board-fixtures');
    workspace = makeWorkspace(dir);
    drive = makeCircuitPyDrive(dir);
    wb = await Workbench.start({ name: 'board', workspace });
  }, { timeout: SESSION_TIMEOUT });

  after(async () => {
    await board?.close();
    await pair?.dispose();
    await wb?.close();
  });

  it('activates: the status bar item appears, then shows the board of the cpml.board.drive setting', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('status bar shows the Pico', async () => {
      // No setting, no board attached to this machine.
      await wb.waitForStatusText('No board');
      writeWorkspaceSettings(workspace, { 'cpml.board.drive': drive });
      await wb.waitForStatusText('Pico · CP 9.2.1 · CIRCUITPY');
      // The tooltip (part of the item's accessible label) names the drive and the UID.
      await wb.waitForStatusTooltip(drive);
      await wb.waitForStatusTooltip('E66038B7137F6F2A');
    });
  });

  it('shows the Inference Timing view, empty, in the CircuitPython ML container', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('inference timing view empty', async () => {
      const pane = await wb.showView('Inference Timing');
      await pane.locator('.welcome-view-content', { hasText: 'No inference runs yet.' }).waitFor({ timeout: UI_TIMEOUT });
      assert.deepEqual(await wb.treeRows(pane), []);
    });
  });

  it('Open Serial Monitor shows what the board prints; Stop Program sends Ctrl-C', { timeout: SCENARIO_TIMEOUT, skip: socatMissing() }, async () => {
    await wb.scenario('serial monitor', async () => {
      pair = await PtyPair.create();
      board = await BoardEnd.open(pair.board);
      writeWorkspaceSettings(workspace, { 'cpml.board.drive': drive, 'cpml.board.port': pair.host });
      // The port is not in the item's text, but in its tooltip: wait until the extension has it.
      await wb.waitForStatusTooltip(pair.host);

      await wb.runCommand('CircuitPython ML: Open Serial Monitor');
      // The command shows the monitor's channel in the Output panel by itself.
      await wb.waitForOutputChannel('CircuitPython Serial Monitor');
      await wb.waitForStatusText('Pico · CP 9.2.1 · CIRCUITPY · connected');
      await wb.showOutputChannel('CircuitPython Serial Monitor');
      await wb.waitForOutput(`[cpml] connected to ${pair.host}`);

      // What CircuitPython 9 prints when code.py starts: the title escape (running code.py),
      // the reload banner, then the program's output, in CRLF lines with UTF-8 in them.
      await board.write('\x1b]0;🐍code.py | 9.2.1\x1b\\'
        + 'Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.\r\n'
        + 'code.py output:\r\n'
        + 'sample_00.bin → prediction 7 (confidence 0.98)\r\n'
        + 'sample_01.bin → prediction 2 (confidence 0.95)\r\n');
      await wb.waitForOutput('sample_01.bin → prediction 2 (confidence 0.95)');
      const text = await wb.outputText();
      assert.match(text, /code\.py output:/);
      assert.match(text, /sample_00\.bin → prediction 7 \(confidence 0\.98\)/);
      assert.ok(!text.includes('\x1b') && !text.includes(']0;') && !text.includes('🐍code.py |'), 'the title escape sequence is not shown as text');
      // The channel's whole text (the panel renders only what is in view), as stored on disk:
      // CRLF became LF, the title escape is gone, UTF-8 intact.
      await waitUntil(() => wb.outputChannelText('CircuitPython Serial Monitor').includes('sample_01.bin → prediction 2'),
        () => `the monitor channel's text is ${JSON.stringify(wb.outputChannelText('CircuitPython Serial Monitor'))}`);
      assert.match(wb.outputChannelText('CircuitPython Serial Monitor'), /\nAuto-reload is on\. Simply save files over USB to run them or enter REPL to disable\.\ncode\.py output:\nsample_00\.bin → prediction 7 \(confidence 0\.98\)\nsample_01\.bin → prediction 2 \(confidence 0\.95\)\n$/);
      // The title told the extension that code.py runs.
      await wb.waitForStatusText('Pico · CP 9.2.1 · CIRCUITPY · running');

      const before = board.received.length;
      await wb.runCommand('CircuitPython ML: Stop Program (Ctrl-C)');
      const end = board;
      await waitUntil(() => end.received.subarray(before).includes(0x03),
        () => `the board received ${JSON.stringify(end.received.subarray(before).toString('latin1'))} after Stop Program, no Ctrl-C (0x03)`);
      assert.deepEqual([...board.received.subarray(before)], [0x03], 'Stop Program sends exactly one Ctrl-C');
    });
  });
});
