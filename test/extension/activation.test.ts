// Activates the built extension (dist/extension.js) against a stand-in `vscode` module: every
// contributed command is registered, even when the serial port library cannot load, and
// nothing heavy happens during activation.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { createVscodeStub, interceptRequire, type StubRecord } from './vscodeStub.js';

const EXTENSION = resolve('dist/extension.js');
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const contributed: string[] = manifest.contributes.commands.map((c: { command: string }) => c.command);

interface Activated {
  vscode: Record<string, unknown>;
  record: StubRecord;
  subscriptions: { dispose(): void }[];
  deactivate(): Promise<void>;
}

function activate(options: { serialportFails?: boolean; drivelistFails?: boolean; config?: Record<string, unknown> } = {}): Activated {
  const { vscode, record } = createVscodeStub();
  Object.assign(record.config, options.config ?? {});
  const hooks = interceptRequire({
    vscode: () => vscode,
    ...(options.serialportFails ? { serialport: () => { throw new Error('No native build was found for platform=test'); } } : {}),
    ...(options.drivelistFails ? { drivelist: () => { throw new Error('Could not locate the bindings file. Tried:\n → build/drivelist.node'); } } : {}),
  });
  after(() => hooks.restore());
  delete require.cache[EXTENSION];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ext = require(EXTENSION) as { activate(context: unknown): void; deactivate(): Promise<void> | void };
  const state = new Map<string, unknown>();
  const subscriptions: { dispose(): void }[] = [];
  ext.activate({
    subscriptions,
    workspaceState: { get: (k: string) => state.get(k), update: async (k: string, v: unknown) => { state.set(k, v); } },
    extension: { packageJSON: manifest },
  });
  return { vscode, record, subscriptions, deactivate: async () => { await ext.deactivate(); for (const s of subscriptions) s.dispose(); } };
}

const until = async (condition: () => boolean, what: string | (() => string)) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(condition(), `timed out waiting for ${typeof what === 'string' ? what : what()}`);
};

describe('activation', () => {
  it('registers every contributed command and both model editors, and logs its time', async (t: TestContext) => {
    const a = activate();
    try {
      for (const id of contributed) assert.ok(a.record.commands.has(id), `command ${id} is not registered`);
      assert.deepEqual(a.record.customEditors.sort(), ['cpml.blobView', 'cpml.modelView']);
      const log = a.record.outputChannels.find((c) => c.name === 'CircuitPython ML')!;
      const line = log.lines.find((l) => /activated in [\d.]+ ms/.test(l));
      assert.ok(line, 'activation time is logged');
      t.diagnostic(line!);
      const monitor = a.record.outputChannels.find((c) => c.name === 'CircuitPython Serial Monitor');
      assert.equal(monitor?.languageId, 'cpml-monitor');
      const item = a.record.statusBarItems[0];
      assert.ok(item.visible);
      assert.equal(item.command, 'cpml.boardActions');
    } finally {
      await a.deactivate();
    }
  });

  it('keeps every command when serialport cannot load, and explains it when the monitor is opened', async () => {
    const a = activate({ serialportFails: true, config: { 'board.port': '/dev/ttyCPML-none' } });
    try {
      for (const id of contributed) assert.ok(a.record.commands.has(id), `command ${id} is not registered`);
      await until(() => a.record.statusBarItems[0].text.includes('/dev/ttyCPML-none'), 'the board from the port setting');
      await a.record.commands.get('cpml.openMonitor')!();
      await until(() => a.record.messages.some((m) => m.level === 'error'), 'an error message');
      const error = a.record.messages.find((m) => m.level === 'error')!.text;
      // The core's SerialPortUnavailableError, worded by formatUserError: what, then the fix.
      assert.match(error, /^The serial port library \(serialport\) could not be loaded on this machine: No native build was found for platform=test\. Converting and checking models still works; to talk to a board, reinstall cpml/);
      assert.doesNotMatch(error, /\n\s+at /, 'no stack trace for the user');
      // Logged once, as a warning with the fix (a user-facing condition), not as a bug with a stack.
      const log = a.record.outputChannels.find((c) => c.name === 'CircuitPython ML')!;
      const logged = log.lines.flatMap((line, i) => (/serialport/.test(line) ? [{ line, level: log.levels[i] }] : []));
      assert.equal(logged.length, 1, JSON.stringify(logged));
      assert.equal(logged[0].level, 'warn');
      assert.match(logged[0].line, /reinstall cpml/);
      assert.doesNotMatch(log.lines.join('\n'), /\n\s+at /);
    } finally {
      await a.deactivate();
    }
  });

  it('says in the log which drive lister runs: drivelist where it loads, else the mount table and why', async () => {
    let drivelistLoads = true;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require('drivelist');
    } catch {
      drivelistLoads = false;
    }
    const lines = async (options: { drivelistFails?: boolean }) => {
      const a = activate(options);
      try {
        const log = a.record.outputChannels.find((c) => c.name === 'CircuitPython ML')!;
        await until(() => log.lines.some((l) => l.startsWith('board discovery: ')), 'the discovery line');
        return log.lines.find((l) => l.startsWith('board discovery: '))!;
      } finally {
        await a.deactivate();
      }
    };
    // (Without the failure first: a stand-in, once set, stays for the rest of the test.)
    const usual = await lines({});
    assert.match(usual, drivelistLoads ? /looking for CIRCUITPY drives with drivelist and in / : /\(drivelist is not installed\)$/);
    const fallback = await lines({ drivelistFails: true });
    const where = process.platform === 'linux' ? '/proc/mounts, /media, /run/media' : process.platform === 'darwin' ? '/Volumes' : 'D: to Z:';
    assert.ok(fallback.startsWith(`board discovery: looking for CIRCUITPY drives in ${where}`), fallback);
    assert.match(fallback, /\(drivelist could not be loaded: Could not locate the bindings file\. Tried:\)$/);
  });

  it('warns about an invalid cpml.monitor.baudRate, naming it, and uses 115200', async () => {
    const a = activate({ config: { 'board.port': '/dev/ttyCPML-none', 'monitor.baudRate': 1e12 } });
    try {
      await until(() => a.record.messages.some((m) => m.level === 'warning'), 'a warning');
      const expected = 'the setting cpml.monitor.baudRate must be a whole number from 1 to 4000000, not 1000000000000; using 115200';
      assert.deepEqual(a.record.messages.filter((m) => m.level === 'warning').map((m) => m.text), [expected.charAt(0).toUpperCase() + expected.slice(1)]);
      const log = a.record.outputChannels.find((c) => c.name === 'CircuitPython ML')!;
      assert.equal(log.levels[log.lines.indexOf(expected)], 'warn');
      // Another settings change does not repeat it; a different invalid value is told again.
      a.record.setConfig({ 'monitor.openOnConnect': false });
      a.record.setConfig({ 'monitor.baudRate': '9600' });
      assert.deepEqual(a.record.messages.filter((m) => m.level === 'warning').map((m) => m.text).slice(1),
        ["The setting cpml.monitor.baudRate must be a whole number from 1 to 4000000, not '9600'; using 115200"]);
    } finally {
      await a.deactivate();
    }
  });

  it('tells the monitor that a file set as the port is not a serial port', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cpml-ext-')), 'not-a-port.txt');
    writeFileSync(file, 'hello\n');
    const a = activate({ config: { 'board.port': file } });
    try {
      await until(() => a.record.statusBarItems[0].text.includes('not-a-port.txt'), 'the board from the port setting');
      await a.record.commands.get('cpml.openMonitor')!();
      await until(() => a.record.messages.some((m) => m.level === 'error'), 'an error message');
      const error = a.record.messages.find((m) => m.level === 'error')!.text;
      assert.match(error, /^'.*not-a-port\.txt' is not a serial port \(it is a regular file\)\. Choose the board's console port \(e\.g\. \/dev\/ttyACM0/);
      const monitor = a.record.outputChannels.find((c) => c.name === 'CircuitPython Serial Monitor')!;
      assert.match(monitor.lines.join(''), /is not a serial port \(it is a regular file\)/);
      assert.equal(readFileSync(file, 'utf8'), 'hello\n', 'the file is left as it was');
    } finally {
      await a.deactivate();
    }
  });

  it('shows the board found from a drive setting in the status bar', async () => {
    const drive = join(mkdtempSync(join(tmpdir(), 'cpml-ext-')), 'CIRCUITPY');
    mkdirSync(drive);
    writeFileSync(join(drive, 'boot_out.txt'), 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n');
    const a = activate({ config: { 'board.drive': drive } });
    try {
      await until(() => a.record.statusBarItems[0].text.includes('Pico · CP 9.2.1 · CIRCUITPY'), 'the status bar text');
      const tooltip = (a.record.statusBarItems[0].tooltip as { value: string }).value;
      assert.match(tooltip, /CircuitPython 9\.2\.1/);
      assert.match(tooltip, /E66038B7137F6F2A/);
    } finally {
      await a.deactivate();
    }
  });

  it('converts a model through the separately bundled toolchain (dist/toolchain.js)', async () => {
    const a = activate();
    try {
      const dir = mkdtempSync(join(tmpdir(), 'cpml-ext-'));
      copyFileSync('examples/mnist/model.onnx', join(dir, 'digits.onnx'));
      const Uri = (a.vscode.Uri as { file(p: string): unknown });
      await a.record.commands.get('cpml.convertModel')!(Uri.file(join(dir, 'digits.onnx')));
      assert.deepEqual(readFileSync(join(dir, 'digits.bin')), readFileSync('examples/mnist/model.bin'));
      assert.match(a.record.messages.at(-1)!.text, /Converted to .*digits\.bin: 11 layers, 7\.1 KB/);
      await a.record.commands.get('cpml.convertModel')!(Uri.file('test/fixtures/models/refuse_sigmoid.onnx'));
      const error = a.record.messages.at(-1)!;
      assert.equal(error.level, 'error');
      assert.match(error.text, /operator Sigmoid is not supported/);
    } finally {
      await a.deactivate();
    }
  });

  it('starts the virtual Pico, shows it as virtual, deploys to it, fills the timing view; deactivation stops it', async (t: TestContext) => {
    const a = activate();
    let deactivated = false;
    try {
      await a.record.commands.get('cpml.startVirtualPico')!();
      const failed = a.record.messages.find((m) => m.level === 'error');
      if (failed && /socat or python3/.test(failed.text)) {
        t.skip(failed.text);
        return;
      }
      assert.equal(failed, undefined, 'starting the virtual Pico shows no error');
      // The command resolves once discovery knows the board: no waiting for a poll.
      assert.match(a.record.statusBarItems[0].text, /Virtual Pico · CP 9\.2\.1 · CIRCUITPY/);
      const log = a.record.outputChannels.find((c) => c.name === 'CircuitPython ML')!;
      const [, port, drive] = /virtual Pico: port (\S+), drive (\S+)/.exec(log.lines.join('\n'))!;
      assert.ok(existsSync(port) && existsSync(join(drive, 'boot_out.txt')), 'the port and the drive exist while it runs');
      // A settings change while it runs does not send discovery back to the real boards.
      a.record.setConfig({ 'board.port': '/dev/ttyCPML-none', 'heapBudgetKB': 160 });
      // Select Board… rescans after the change: it offers the virtual board alone.
      await a.record.commands.get('cpml.selectBoard')!();
      assert.deepEqual((a.record.quickPicks.at(-1) as { detail: string }[]).map((i) => i.detail), [`${port}  ·  ${drive}  ·  UID ${/UID:(\S+)/.exec(readFileSync(join(drive, 'boot_out.txt'), 'utf8'))![1]}`]);
      assert.match(a.record.statusBarItems[0].text, /Virtual Pico · CP 9\.2\.1 · CIRCUITPY/);

      const workspace = mkdtempSync(join(tmpdir(), 'cpml-vp-'));
      cpSync('examples/mnist', workspace, { recursive: true });
      const Uri = (a.vscode.Uri as { file(p: string): unknown });
      await a.record.commands.get('cpml.deployModel')!(Uri.file(join(workspace, 'model.onnx')));
      assert.match(a.record.messages.at(-1)!.text, /Deployed model\.bin with 20 sample\(s\)/);
      const monitor = a.record.outputChannels.find((c) => c.name === 'CircuitPython Serial Monitor')!;
      await until(() => (monitor.lines.join('').match(/Pred: \d/g) ?? []).length >= 20, () => `20 predictions in the monitor; it shows ${JSON.stringify(monitor.lines.join('').slice(-600))}`);

      // The Inference Timing view: one simulated run with 20 samples.
      const provider = a.record.treeViews.get('cpml.timing')!.treeDataProvider as { getChildren(n?: unknown): unknown[]; getTreeItem(n: unknown): { label?: unknown; description?: unknown } };
      await until(() => provider.getChildren().length === 1 && provider.getChildren(provider.getChildren()[0]).length >= 20, 'one run with 20 samples in the timing view');
      const run = provider.getTreeItem(provider.getChildren()[0]);
      assert.match(`${run.label} ${run.description}`, /simulated/i);

      await a.record.commands.get('cpml.startVirtualPico')!(); // running: offers to stop (the stub answers nothing)
      await a.deactivate();
      deactivated = true;
      // Deactivation waited for the port helper and the temporary drive to go.
      assert.equal(existsSync(port), false, `the port ${port} is gone`);
      assert.equal(existsSync(drive), false, `the temporary drive ${drive} is gone`);
    } finally {
      if (!deactivated) await a.deactivate();
    }
  });
});

describe('the model view', () => {
  /** The model view's page for `path`, as the provider of `viewType` renders it. */
  async function render(a: Activated, viewType: string, path: string): Promise<string> {
    const provider = a.record.customEditorProviders.get(viewType) as {
      openCustomDocument(uri: unknown): unknown;
      resolveCustomEditor(document: unknown, panel: unknown): Promise<void>;
    };
    const panel = { webview: { options: {}, html: '', cspSource: 'vscode-resource:' }, onDidDispose: () => ({ dispose() {} }) };
    const Uri = (a.vscode.Uri as { file(p: string): unknown });
    await provider.resolveCustomEditor(provider.openCustomDocument(Uri.file(path)), panel);
    return panel.webview.html;
  }

  it('shows a blob\'s report with Deploy, and says a sample input is not a model, offering no model commands', async () => {
    const a = activate();
    try {
      const model = await render(a, 'cpml.blobView', resolve('examples/mnist/model.bin'));
      assert.match(model, /11 layers · cnn_helper blob/);
      assert.match(model, /command:cpml\.deployModel/);
      const sample = await render(a, 'cpml.blobView', resolve('examples/mnist/mnist_samples/sample_00.bin'));
      assert.match(sample, /This is not a model\./);
      assert.match(sample, /looks like a sample input of 900 float32 values, not a model/);
      assert.doesNotMatch(sample, /cannot run on the board|0 layers|command:cpml\./);
    } finally {
      await a.deactivate();
    }
  });
});

describe('Deploy Model to Pico', () => {
  it('copies model, samples and code.py to the board\'s drive, with progress, and refuses what cannot run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cpml-deploy-ext-'));
    const drive = join(root, 'CIRCUITPY');
    mkdirSync(drive);
    writeFileSync(join(drive, 'boot_out.txt'), 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n');
    writeFileSync(join(drive, 'code.py'), 'print("mine")\n');
    const workspace = join(root, 'project');
    cpSync('examples/mnist', workspace, { recursive: true });
    copyFileSync('test/fixtures/models/refuse_sigmoid.onnx', join(workspace, 'broken.onnx'));
    const a = activate({ config: { 'board.drive': drive } });
    try {
      await until(() => a.record.statusBarItems[0].text.includes('CIRCUITPY'), 'the board');
      const Uri = (a.vscode.Uri as { file(p: string): unknown });
      await a.record.commands.get('cpml.deployModel')!(Uri.file(join(workspace, 'model.onnx')));
      const done = a.record.messages.at(-1)!;
      assert.equal(done.level, 'info', done.text);
      assert.match(done.text, /Deployed model\.bin with 20 sample\(s\) to CIRCUITPY/);
      assert.deepEqual(readFileSync(join(drive, 'model.bin')), readFileSync('examples/mnist/model.bin'));
      assert.match(readFileSync(join(drive, 'code.py'), 'utf8'), /cnn_helper/);
      assert.ok(a.record.progress.some((p) => /code\.py/.test(p)), 'progress names the files');
      const before = readdirSync(drive).sort();
      await a.record.commands.get('cpml.deployModel')!(Uri.file(join(workspace, 'broken.onnx')));
      const refusal = a.record.messages.at(-1)!;
      assert.equal(refusal.level, 'error');
      assert.match(refusal.text, /^Cannot deploy broken\.onnx; nothing was written to CIRCUITPY\. Node '\/1\/Sigmoid' .*operator Sigmoid is not supported/);
      assert.deepEqual(readdirSync(drive).sort(), before, 'a refused deploy leaves the drive as it was');
      // A sample input chosen as the model: said to be one, not reported as a broken model.
      await a.record.commands.get('cpml.deployModel')!(Uri.file(join(workspace, 'mnist_samples', 'sample_00.bin')));
      const sample = a.record.messages.at(-1)!;
      assert.equal(sample.level, 'error');
      assert.match(sample.text, /^Cannot deploy sample_00\.bin; nothing was written to CIRCUITPY\. 'sample_00\.bin' looks like a sample input of 900 float32 values, not a model/);
      assert.doesNotMatch(sample.text, /layers/);
      assert.deepEqual(readdirSync(drive).sort(), before);
    } finally {
      await a.deactivate();
    }
  });
});
