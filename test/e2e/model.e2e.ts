// End-to-end, in real VS Code: the model view (custom editor for *.onnx) and Convert ONNX to
// Blob, on a copy of examples/mnist plus a model the firmware cannot run (broken.onnx).
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeWorkspace, SCENARIO_TIMEOUT, SESSION_TIMEOUT, sessionDir, UI_TIMEOUT, Workbench } from './support/workbench.js';

const MNIST_LAYERS = ['Conv2D', 'ReLU', 'MaxPool2D', 'Conv2D', 'ReLU', 'MaxPool2D', 'Conv2D', 'ReLU', 'MaxPool2D', 'Flatten', 'Linear'];

describe('model view and conversion (code-server)', () => {
  let wb: Workbench;
  let workspace: string;

  before(async () => {
    workspace = makeWorkspace(sessionDir('model-fixtures'));
    wb = await Workbench.start({ name: 'model', workspace });
  }, { timeout: SESSION_TIMEOUT });

  after(async () => {
    await wb?.close();
  });

  it('opening model.onnx from the explorer shows its 11 layers and the memory plan', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('model view of model.onnx', async () => {
      await wb.openFromExplorer('model.onnx');
      const view = await wb.webview('model.onnx');
      await view.locator('h1', { hasText: '11 layers · converted from ONNX' }).waitFor({ timeout: UI_TIMEOUT });
      const types = await view.locator('tbody tr td:nth-child(2)').allTextContents();
      assert.deepEqual(types, MNIST_LAYERS);
      const memory = view.locator('h2:has-text("Memory on the board") + .bar + p');
      await memory.waitFor({ timeout: UI_TIMEOUT });
      const plan = (await memory.textContent())!.replace(/\s+/g, ' ');
      assert.match(plan, /^38\.9 KB of the 150\.0 KB heap budget — 111\.1 KB to spare: blob 7\.1 KB, scratch 2 × 14\.1 KB, input 3\.5 KB, output 0\.1 KB\. Flash: 7\.1 KB\.$/);
      await view.locator('p', { hasText: 'ms per inference' }).waitFor({ timeout: UI_TIMEOUT });
      assert.equal(await view.locator('.error').count(), 0, 'no refusal for a model that runs');
    });
  });

  it('Convert ONNX to Blob from the command palette writes model.bin next to the open model', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('convert model.onnx', async () => {
      const out = join(workspace, 'model.bin');
      assert.equal(existsSync(out), false, 'the workspace starts without model.bin');
      // The command converts the model of the active editor.
      await wb.openFromExplorer('model.onnx');
      await wb.webview('model.onnx');
      await wb.runCommand('CircuitPython ML: Convert ONNX to Blob');
      const toast = await wb.notification('Converted to model.bin: 11 layers, 7.1 KB.');
      // The notification comes after the file is written.
      assert.equal(statSync(out).size, 7312);
      await toast.getByRole('button', { name: 'Inspect' }).waitFor({ timeout: UI_TIMEOUT });
      // The new file shows in the explorer (VS Code's file watcher saw it).
      await wb.page.locator('.explorer-folders-view .monaco-list-row[aria-label="model.bin"]').waitFor({ timeout: UI_TIMEOUT });
    });
  });

  it('a torch 2.x export with depthwise Convs shows each rewrite and its cost', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('model view of a rewritten model', async () => {
      const view = await wb.openWebviewFromExplorer('depthwise_separable.dynamo.onnx', 'Rewrites');
      await view.locator('h2', { hasText: 'Rewrites' }).waitFor({ timeout: UI_TIMEOUT });
      const rewrites = await view.locator('ul.rewrite li').allTextContents();
      assert.ok(rewrites.some((r) => /^depthwise Conv '.+' \(#\d+\) runs as a full Conv 8→8 \(zero weights between the 8 groups\): 8× the MACs/.test(r)), rewrites.join('\n'));
      assert.equal(await view.locator('.error').count(), 0);
    });
  });

  it('the broken model opens in the model view with the reason it cannot run', { timeout: SCENARIO_TIMEOUT }, async () => {
    await wb.scenario('model view of broken.onnx', async () => {
      await wb.clearNotifications();
      await wb.openFromExplorer('broken.onnx');
      const view = await wb.webview('broken.onnx');
      const refusal = view.locator('.error');
      await refusal.locator('strong', { hasText: 'This model cannot run on the board.' }).waitFor({ timeout: UI_TIMEOUT });
      const reason = (await refusal.locator('p').textContent())!;
      assert.match(reason, /operator Sigmoid is not supported/);
      assert.match(reason, /'\/1\/Sigmoid'/, 'the reason names the node');
      assert.equal(await view.locator('table').count(), 0, 'no layer table for a refused model');
    });
  });
});
