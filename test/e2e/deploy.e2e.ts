// End-to-end, in real VS Code: the main flow on the virtual Pico, through the UI only. One
// code-server session, scenarios in order: Start Virtual Pico from the palette; Deploy Model to
// Pico on it (predictions in the serial monitor, samples and a summary in Inference Timing);
// Stop Program and Soft Reload on a program that loops; a broken model's deploy refused with
// the drive left as it was. The board's console is read from the monitor channel's file on disk
// (the panel renders only the lines in view) and shown in the panel for the screenshots.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { socatMissing } from '../serial/ptyPair.js';
import { makeWorkspace, SCENARIO_TIMEOUT, SESSION_TIMEOUT, sessionDir, UI_TIMEOUT, waitUntil, Workbench } from './support/workbench.js';

const MONITOR = 'CircuitPython Serial Monitor';
const VIRTUAL_CONNECTED = 'Virtual Pico · CP 9.2.1 · CIRCUITPY · connected';
const VIRTUAL_RUNNING = 'Virtual Pico · CP 9.2.1 · CIRCUITPY · running';

/** What the firmware predicts for the 20 samples: the argmax of each of its output rows. */
function firmwarePredictions(): number[] {
  return readFileSync('examples/mnist/firmware_outputs.txt', 'utf8').trim().split('\n').map((line) => {
    const scores = line.trim().split(/\s+/).slice(1).map(Number);
    return scores.indexOf(Math.max(...scores));
  });
}

/** Every file under `dir` (relative path → size and SHA-256), to tell whether anything changed. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(dir, path), `${statSync(path).size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    }
  };
  walk(dir);
  return files;
}

/** A program a user might save to the drive: prints a count, forever. */
const TICKING = 'import time\ni = 0\nwhile True:\n    i += 1\n    print("tick", i)\n    time.sleep(0.1)\n';

describe('the virtual Pico: deploy, console, timings (code-server)', { skip: socatMissing() }, () => {
  let wb: Workbench;
  /** The virtual Pico's CIRCUITPY folder and serial port, as the extension logged them. */
  let drive = '';
  let port = '';
  /** How much of the monitor's text came before the current scenario step. */
  let mark = 0;
  const monitorText = () => wb.outputChannelText(MONITOR);
  const monitorSince = () => monitorText().slice(mark);
  const waitForMonitor = (pattern: RegExp, what: string) => waitUntil(() => pattern.test(monitorSince()),
    () => `the serial monitor does not show ${what}; since the step began it shows:\n${monitorSince().slice(-1500)}`);

  before(async () => {
    const workspace = makeWorkspace(sessionDir('deploy-fixtures'));
    wb = await Workbench.start({ name: 'deploy', workspace });
  }, { timeout: SESSION_TIMEOUT });

  after(async () => {
    await wb?.close();
  });

  it('Start Virtual Pico from the command palette: the status bar shows the virtual board, connected', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('start virtual pico', async () => {
      await wb.waitForStatusText('No board');
      await wb.runCommand('CircuitPython ML: Start Virtual Pico');
      await wb.waitForStatusText(VIRTUAL_CONNECTED);
      await waitUntil(() => /virtual Pico: port (\S+), drive (\S+) \(/.test(wb.outputChannelText('CircuitPython ML')),
        () => `the extension's log does not name the virtual Pico's port and drive:\n${wb.outputChannelText('CircuitPython ML')}`);
      [, port, drive] = /virtual Pico: port (\S+), drive (\S+) \(/.exec(wb.outputChannelText('CircuitPython ML'))!;
      assert.ok(existsSync(join(drive, 'boot_out.txt')), `the virtual drive ${drive} has a boot_out.txt`);
      await wb.waitForStatusTooltip(drive);
      await wb.waitForStatusTooltip(port);
      await waitForMonitor(/\[cpml\] virtual Pico started: port .* — timings are simulated\n/, 'that the virtual Pico started');
      await waitForMonitor(/\[cpml\] connected to /, 'the connection');
      await wb.showOutputChannel(MONITOR);
    });
  });

  it('Deploy Model to Pico from the command palette: 20 predictions in the monitor, 20 samples and a summary in Inference Timing', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('deploy to the virtual pico', async () => {
      mark = monitorText().length;
      await wb.openFromExplorer('model.onnx');
      await wb.webview('model.onnx');
      await wb.runCommand('CircuitPython ML: Deploy Model to Pico');
      await wb.notification('Deployed model.bin with 20 sample(s) to CIRCUITPY');

      // On the drive: the blob the reference converter makes, the samples, and code.py.
      assert.deepEqual(readFileSync(join(drive, 'model.bin')), readFileSync('examples/mnist/model.bin'));
      const samples = readdirSync(join(drive, 'mnist_samples')).filter((f) => f.endsWith('.bin'));
      assert.equal(samples.length, 20);
      assert.match(readFileSync(join(drive, 'code.py'), 'utf8'), /^# Generated by CircuitPython ML/);
      assert.deepEqual([...snapshot(drive).keys()].filter((f) => f.includes('.cpml-tmp')), [], 'no temporary files are left');

      // The drive changed, so the board reloaded and ran the new code.py; the monitor shows it all.
      await waitForMonitor(/CPML-SUMMARY v=1 n=20 errors=0 /, 'the run\'s summary line');
      const run = monitorSince();
      assert.match(run, /code\.py output:\n/);
      assert.match(run, /CPML-MODEL v=1 model=model\.bin bytes=7312 .*simulated=1/);
      const predictions = [...run.matchAll(/^File: mnist_samples\/sample_(\d\d)\.bin -> Pred: (\d) \(/gm)].map((m) => [Number(m[1]), Number(m[2])]);
      assert.deepEqual(predictions, firmwarePredictions().map((pred, i) => [i, pred]), 'the 20 predictions are the firmware\'s');
      await waitForMonitor(/Code done running\.\n/, 'the end of the run');
      await wb.waitForOutput('Code done running.');

      // Inference Timing: the run (newest, expanded) with its summary and the 20 samples.
      const pane = await wb.showView('Inference Timing');
      const runRow = pane.locator('.monaco-list-row[aria-level="1"]');
      await runRow.filter({ hasText: 'model.bin · 20 samples · simulated' }).waitFor({ timeout: UI_TIMEOUT });
      let rows: string[] = [];
      await waitUntil(async () => (rows = await wb.treeRowTexts(pane)).length === 22,
        () => `the Inference Timing view shows ${rows.length} rows, not 1 run + its summary + 20 samples: ${JSON.stringify(rows)}`);
      assert.equal(await runRow.count(), 1, 'one run');
      assert.match(rows[0], /model\.bin · 20 samples · simulated/);
      assert.match(rows[1], /^n 20 · min [\d.]+ · median [\d.]+ · mean [\d.]+ · p95 [\d.]+ · max [\d.]+ ms/);
      assert.match(rows[1], /host estimate [\d.]+ ms · measured\/estimate [\d.]+×/);
      assert.deepEqual(rows.slice(2).map((r) => /^#(\d+) sample_(\d\d)\.bin → (\d) \(/.exec(r)?.slice(1).map(Number)),
        firmwarePredictions().map((pred, i) => [i, i, pred]));
    });
  });

  it('Stop Program (Ctrl-C) and Soft Reload (Ctrl-D) act on the virtual board', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('stop and soft reload', async () => {
      // The user saves a program that loops over code.py on the drive: the board reloads and runs it.
      mark = monitorText().length;
      writeFileSync(join(drive, 'code.py'), TICKING);
      await waitForMonitor(/code\.py output:\ntick 1\ntick 2\n/, 'the looping program running');
      await wb.waitForStatusText(VIRTUAL_RUNNING);

      mark = monitorText().length;
      await wb.runCommand('CircuitPython ML: Stop Program (Ctrl-C)');
      await waitForMonitor(/Traceback \(most recent call last\):\n {2}File "code\.py", line \d+, in <module>\nKeyboardInterrupt: ?\n\nCode done running\.\n\nPress any key to enter the REPL\. Use CTRL-D to reload\.\n/,
        'the KeyboardInterrupt traceback and the REPL prompt');
      await wb.waitForOutput('Press any key to enter the REPL. Use CTRL-D to reload.');
      // Stopped by the user: said so, not shown as an error.
      await wb.waitForStatusText('Virtual Pico · CP 9.2.1 · CIRCUITPY · stopped');
      const stopped = monitorSince();
      assert.doesNotMatch(stopped.slice(stopped.indexOf('Code done running.')), /tick \d/, 'nothing runs after the stop');

      mark = monitorText().length;
      await wb.runCommand('CircuitPython ML: Soft Reload (Ctrl-D)');
      await waitForMonitor(/soft reboot\n[^]*code\.py output:\ntick 1\ntick 2\n/, 'the soft reboot and the program starting over');
      await wb.waitForStatusText(VIRTUAL_RUNNING);
      await wb.waitForOutput('soft reboot');
    });
  });

  it('a broken model\'s deploy is refused, naming the node, and leaves the drive untouched', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('deploy broken model refused', async () => {
      await wb.clearNotifications();
      const before = snapshot(drive);
      assert.ok(before.has('code.py') && before.has('model.bin'), 'the drive holds the earlier deploy and the user\'s code.py');
      await wb.openWebviewFromExplorer('broken.onnx', 'broken.onnx');
      await wb.runCommand('CircuitPython ML: Deploy Model to Pico');
      const toast = await wb.notification('Cannot deploy broken.onnx; nothing was written to CIRCUITPY.');
      const message = (await toast.locator('.notification-list-item-message').textContent())!;
      assert.match(message, /nothing was written to CIRCUITPY\. Node '\/1\/Sigmoid' \(#1, Sigmoid\): operator Sigmoid is not supported by the firmware\. Remove the activation or use ReLU/, 'the refusal names the node and the fix');
      // The refusal comes from the plan, before anything is written: the drive is as it was.
      assert.deepEqual(snapshot(drive), before);
      // The program saved earlier still runs: no reload happened.
      await wb.waitForStatusText(VIRTUAL_RUNNING);
    });
  });
});
