// Real VS Code for the end-to-end tests: code-server (installed by tools/e2e-setup.sh) serving a
// workspace with the packaged extension installed, and Debian's Chromium driven by
// playwright-core. test/e2e/run.mjs sets the environment (where code-server and the installed
// extension are, the run's temporary folder); `npm run test:e2e` is the way to run these.
//
// Everything here waits for what the UI shows (locators, the status bar item's text, palette
// entries, webview content) with generous time limits, never for a fixed time.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type FrameLocator, type Locator, type Page } from 'playwright-core';

/** The first workbench load: ~6–10 s for the workbench and ~10 s more for the extension host on 2 cores. */
export const STARTUP_TIMEOUT = 120_000;
/** Anything after start-up: a command, a webview, a notification. */
export const UI_TIMEOUT = 30_000;
/** node:test time limits (a scenario's own waits stay below them, so their messages win). */
export const SCENARIO_TIMEOUT = 120_000;
export const SESSION_TIMEOUT = STARTUP_TIMEOUT + 30_000;

/** Screenshots and logs of each session (gitignored; CI keeps them as artefacts). */
export const RESULTS = resolve('test-results', 'e2e');
/** The extension's status bar item: `${publisher}.${name}.${item id}`. */
const STATUS_ITEM = '[id="cpml.circuitpython-ml.cpml.board"]';

const PALETTE_PLACEHOLDER = 'Type the name of a command to run.';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** User settings of every session: no trust prompt, no start page, nothing that goes online. */
const BASE_SETTINGS = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
};

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the end-to-end tests with \`npm run test:e2e\` (test/e2e/run.mjs sets it up)`);
  return value;
}

/** A new folder for one session (or fixture) inside the run's temporary folder. */
export function sessionDir(name: string): string {
  return mkdtempSync(join(env('CPML_E2E_TMP'), `${name}-`));
}

/**
 * The sample workspace: a copy of examples/mnist (model.onnx and mnist_samples/, not its
 * model.bin) plus a model the firmware cannot run, broken.onnx (a Sigmoid).
 */
export function makeWorkspace(parent: string): string {
  const dir = join(parent, 'mnist');
  mkdirSync(join(dir, '.vscode'), { recursive: true });
  cpSync('examples/mnist/model.onnx', join(dir, 'model.onnx'));
  cpSync('examples/mnist/mnist_samples', join(dir, 'mnist_samples'), { recursive: true });
  cpSync('test/fixtures/models/refuse_sigmoid.onnx', join(dir, 'broken.onnx'));
  // A torch 2.x (dynamo) export with its .onnx.data, whose depthwise Convs the converter rewrites.
  for (const f of ['depthwise_separable.dynamo.onnx', 'depthwise_separable.dynamo.onnx.data']) cpSync(join('test/fixtures/torch2', f), join(dir, f));
  return dir;
}

/** Replaces the workspace's .vscode/settings.json (VS Code picks the change up by itself). */
export function writeWorkspaceSettings(workspace: string, settings: Record<string, unknown>): void {
  writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2) + '\n');
}

/** A folder named CIRCUITPY with the boot_out.txt a Pico running CircuitPython 9.2.1 writes. */
export function makeCircuitPyDrive(parent: string): string {
  const drive = join(parent, 'CIRCUITPY');
  mkdirSync(drive, { recursive: true });
  writeFileSync(join(drive, 'boot_out.txt'), 'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040\nBoard ID:raspberry_pi_pico\nUID:E66038B7137F6F2A\n');
  return drive;
}

const escapeAttr = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');

export interface WorkbenchOptions {
  /** Names the session's folder, its logs and its screenshots. */
  name: string;
  /** The folder to open. */
  workspace: string;
  /** User settings on top of BASE_SETTINGS. */
  userSettings?: Record<string, unknown>;
}

/** One code-server + one Chromium page showing the workbench. */
export class Workbench {
  private exited: Promise<void>;
  private closed = false;
  private screenshotCount = 0;
  private readonly onExit = () => this.killServer('SIGKILL');

  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly workspace: string,
    private readonly server: ChildProcess,
    private readonly browser: Browser,
    readonly page: Page,
    private readonly pidFile: string,
  ) {
    this.exited = server.exitCode !== null ? Promise.resolve() : new Promise((done) => server.once('exit', () => done()));
    process.once('exit', this.onExit);
  }

  /** Starts code-server on a free port, opens the workspace in Chromium, waits for the extension's status bar item. */
  static async start(options: WorkbenchOptions): Promise<Workbench> {
    const entry = env('CPML_E2E_ENTRY');
    const extensions = env('CPML_E2E_EXTENSIONS');
    const dir = sessionDir(options.name);
    const userData = join(dir, 'user-data');
    mkdirSync(join(userData, 'User'), { recursive: true });
    writeFileSync(join(userData, 'User', 'settings.json'), JSON.stringify({ ...BASE_SETTINGS, ...options.userSettings }, null, 2));

    // Port 0: the system picks a free port and code-server prints it (no race with other runs).
    // Its own process group, so it goes with its extension host and watchers.
    const server = spawn(process.execPath, [entry,
      '--auth', 'none', '--bind-addr', '127.0.0.1:0',
      '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust',
      '--user-data-dir', userData, '--extensions-dir', extensions,
      options.workspace,
    ], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pidFile = join(env('CPML_E2E_PIDS'), String(server.pid));
    writeFileSync(pidFile, `code-server for ${options.name}\n`);
    mkdirSync(RESULTS, { recursive: true });
    const log = createWriteStream(join(RESULTS, `${options.name}-code-server.log`));
    let output = '';
    const url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`code-server did not start listening within 60 s:\n${output.slice(-2000)}`)), 60_000);
      const onData = (chunk: Buffer) => {
        log.write(chunk);
        if (output.length < 100_000) output += chunk.toString();
        const m = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (m) {
          clearTimeout(timer);
          done(m[1]);
        }
      };
      server.stdout!.on('data', onData);
      server.stderr!.on('data', onData);
      server.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`code-server exited (${code ?? signal}) before listening:\n${output.slice(-2000)}`));
      });
      server.once('error', fail);
    }).catch((error) => {
      killGroup(server, 'SIGKILL');
      rmSync(pidFile, { force: true });
      throw error;
    });

    let browser: Browser | undefined;
    try {
      // TMPDIR (set by run.mjs) puts the browser's profile in the run's folder.
      browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const pageLog = createWriteStream(join(RESULTS, `${options.name}-page.log`));
      page.on('pageerror', (error) => pageLog.write(`pageerror: ${error.stack ?? error.message}\n`));
      page.on('console', (message) => { if (message.type() === 'error') pageLog.write(`console: ${message.text()}\n`); });
      const workbench = new Workbench(options.name, dir, options.workspace, server, browser, page, pidFile);
      try {
        await page.goto(`${url}/?folder=${encodeURIComponent(options.workspace)}`, { timeout: STARTUP_TIMEOUT });
        // The status bar item exists once the extension host has started and activated the extension.
        await workbench.statusItem.waitFor({ timeout: STARTUP_TIMEOUT });
      } catch (error) {
        await workbench.screenshot('startup-failed').catch(() => undefined);
        await workbench.close();
        throw new Error(`the workbench did not show the extension's status bar item: ${(error as Error).message}\ncode-server said:\n${output.slice(-2000)}`, { cause: error });
      }
      return workbench;
    } catch (error) {
      await browser?.close().catch(() => undefined);
      killGroup(server, 'SIGKILL');
      rmSync(pidFile, { force: true });
      throw error;
    }
  }

  /** Closes the browser, stops code-server and everything it started. Never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.browser.close().catch(() => undefined);
    this.killServer('SIGTERM');
    const stopped = await Promise.race([this.exited.then(() => true), new Promise<boolean>((done) => setTimeout(() => done(false), 5000).unref())]);
    // The extension host and watchers are in the group too: make sure they are gone.
    this.killServer('SIGKILL');
    if (!stopped) await this.exited;
    rmSync(this.pidFile, { force: true });
    process.off('exit', this.onExit);
    // VS Code's logs, with the extension's own ("CircuitPython ML") under exthost*/cpml.circuitpython-ml/.
    try {
      cpSync(join(this.dir, 'user-data', 'logs'), join(RESULTS, `${this.name}-logs`), { recursive: true });
    } catch {
      // no logs written
    }
  }

  private killServer(signal: NodeJS.Signals): void {
    killGroup(this.server, signal);
  }

  /** Saves a screenshot as test-results/e2e/<session>-<n>-<label>.png and returns its path. */
  async screenshot(label: string): Promise<string> {
    mkdirSync(RESULTS, { recursive: true });
    const slug = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    const path = join(RESULTS, `${this.name}-${String(++this.screenshotCount).padStart(2, '0')}-${slug}.png`);
    await this.page.screenshot({ path });
    return path;
  }

  /**
   * Runs `body`, then saves a screenshot named after the scenario whether it passed or not
   * (the evidence a person looks at; on failure it shows what the UI showed instead).
   */
  async scenario(label: string, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } finally {
      if (!this.closed) await this.screenshot(label).catch((error) => console.log(`# screenshot failed: ${(error as Error).message}`));
    }
  }

  // --- status bar -------------------------------------------------------------------------

  /** The extension's board indicator. */
  get statusItem(): Locator {
    return this.page.locator(STATUS_ITEM);
  }

  /** The indicator's text without its codicon, e.g. "Pico · CP 9.2.1 · CIRCUITPY". */
  async statusText(): Promise<string> {
    return ((await this.statusItem.textContent()) ?? '').replace(/\s+/g, ' ').trim();
  }

  /** Waits until the indicator's text is exactly `text` (codicon aside). */
  async waitForStatusText(text: string, timeout = UI_TIMEOUT): Promise<void> {
    await waitUntil(async () => (await this.statusText()) === text, async () => `the status bar item shows ${JSON.stringify(await this.statusText())}, not ${JSON.stringify(text)}`, timeout);
  }

  /** Waits until the indicator's accessible label (its text and tooltip) contains `text`. */
  async waitForStatusTooltip(text: string, timeout = UI_TIMEOUT): Promise<void> {
    await this.page.locator(`${STATUS_ITEM}[aria-label*="${escapeAttr(text)}"]`).waitFor({ timeout }).catch(async () => {
      throw new Error(`the status bar item's label is ${JSON.stringify(await this.statusItem.getAttribute('aria-label'))}, without ${JSON.stringify(text)}`);
    });
  }

  // --- command palette --------------------------------------------------------------------

  private get quickInput(): Locator {
    return this.page.locator('.quick-input-widget');
  }

  /** A quick pick / palette entry whose label is `label` (VS Code may append ", recently used" and the like to the accessible label). */
  quickPickRow(label: string): Locator {
    const l = escapeAttr(label);
    return this.quickInput.locator(`.quick-input-list .monaco-list-row[aria-label="${l}"], .quick-input-list .monaco-list-row[aria-label^="${l}, "]`);
  }

  /** Opens the command palette (F1), types `title` and runs the entry with exactly that title, e.g. "CircuitPython ML: Inspect Model". */
  async runCommand(title: string): Promise<void> {
    const row = this.quickPickRow(title).first();
    const palette = this.quickInput.locator(`.quick-input-box input[placeholder="${PALETTE_PLACEHOLDER}"]`);
    // A command run just before may still be moving the focus (e.g. an output channel shown
    // with focus), which closes the palette: then it is opened again, up to 3 times.
    for (let attempt = 1; ; attempt++) {
      await this.page.keyboard.press('Escape');
      await this.page.keyboard.press('F1');
      await palette.waitFor({ state: 'visible', timeout: UI_TIMEOUT });
      const typed = await palette.fill(`>${title}`, { timeout: 5000 }).then(() => true, () => false);
      // true: the entry is there; false: the palette closed; undefined: no such entry.
      const found = typed && await Promise.race([
        row.waitFor({ timeout: UI_TIMEOUT }).then(() => true, () => undefined),
        palette.waitFor({ state: 'hidden', timeout: UI_TIMEOUT + 1000 }).then(() => false, () => undefined),
      ]);
      if (found) break;
      if (found === false && attempt < 3) console.log(`# the command palette closed before "${title}" could be picked (focus moved); opening it again`);
      if (found === undefined || attempt === 3) {
        const offered = await this.quickInput.locator('.quick-input-list .monaco-list-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label')));
        await this.page.keyboard.press('Escape');
        throw new Error(`the command palette has no entry ${JSON.stringify(title)}${found === undefined ? `; it offers ${JSON.stringify(offered)}` : ': it closed by itself 3 times'}`);
      }
    }
    await row.click();
    // The palette closes, or turns into the command's own quick pick (another placeholder).
    await palette.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
  }

  /** Picks `label` in an open quick pick (e.g. one a command shows). */
  async pickQuickPickItem(label: string): Promise<void> {
    const row = this.quickPickRow(label).first();
    await row.waitFor({ timeout: UI_TIMEOUT });
    await row.click();
  }

  // --- explorer and editors ----------------------------------------------------------------

  /** Shows the Explorer and clicks a top-level entry of the workspace folder (opens it in the editor). */
  async openFromExplorer(fileName: string): Promise<void> {
    // A command palette still closing takes the focus back from the editor that opens.
    await this.quickInput.waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    const explorer = this.page.locator('.explorer-folders-view');
    if (!(await explorer.isVisible())) {
      await this.page.locator('.activitybar .action-item a[aria-label^="Explorer"]').click();
      await explorer.waitFor({ timeout: UI_TIMEOUT });
    }
    const row = explorer.locator(`.monaco-list-row[aria-label="${escapeAttr(fileName)}"]`);
    await row.waitFor({ timeout: UI_TIMEOUT });
    await row.click();
    await this.page.locator(`.tabs-container .tab.active[aria-label^="${escapeAttr(fileName)}"]`).waitFor({ timeout: UI_TIMEOUT });
  }

  /**
   * Opens `fileName` from the explorer in its custom editor and waits for the webview showing
   * `text`. code-server sometimes leaves the content frame of a webview empty for good when it
   * opens right after another webview's editor (seen only while the virtual Pico streams to the
   * Output panel): the editor is then closed and opened again, up to 3 times.
   */
  async openWebviewFromExplorer(fileName: string, text: string): Promise<FrameLocator> {
    for (let attempt = 1; ; attempt++) {
      await this.openFromExplorer(fileName);
      try {
        return await this.webview(text, attempt < 3 ? 10_000 : UI_TIMEOUT);
      } catch (error) {
        if (attempt >= 3) throw error;
        await this.runCommand('View: Close All Editors');
      }
    }
  }

  /**
   * The webview (e.g. a custom editor) whose page contains `text`. Webviews render in two nested
   * iframes: `iframe.webview` (named by the webview's id) holding `#active-frame` with the content.
   * Hidden webviews stay in the page, so the one wanted is found by what it shows, then addressed
   * by a frameLocator chain that survives the content being re-rendered.
   */
  async webview(text: string, timeout = UI_TIMEOUT): Promise<FrameLocator> {
    const deadline = Date.now() + timeout;
    while (true) {
      for (const frame of this.page.frames()) {
        const id = /\/webview\/browser\/pre\/fake\.html\?.*\bid=([^&]+)/.exec(frame.url())?.[1];
        if (!id) continue;
        const body = await frame.locator('body').textContent({ timeout: 1000 }).catch(() => '');
        if (body?.includes(text)) {
          return this.page.frameLocator(`iframe.webview[name="${escapeAttr(decodeURIComponent(id))}"]`).frameLocator('#active-frame');
        }
      }
      if (Date.now() > deadline) {
        const seen = await Promise.all(this.page.frames().map(async (f) => `${f.url().slice(0, 120)} → ${JSON.stringify(((await f.locator('body').textContent({ timeout: 500 }).catch(() => '(no body)')) ?? '').slice(0, 80))}`));
        throw new Error(`no webview shows ${JSON.stringify(text)} after ${timeout} ms; frames: ${seen.join(' | ')}`);
      }
      // A webview appears as a new frame; its content arrives with a navigation.
      await this.page.waitForEvent('framenavigated', { timeout: 500 }).catch(() => undefined);
    }
  }

  // --- notifications ------------------------------------------------------------------------

  /** The notification toast whose message contains `text` (waits for it, and for its fade-in, so that screenshots show it whole). */
  async notification(text: string, timeout = UI_TIMEOUT): Promise<Locator> {
    const toast = this.page.locator('.notifications-toasts .notification-toast').filter({ hasText: text });
    await toast.first().waitFor({ timeout }).then(() => this.page.locator('.notifications-toasts .notification-toast.notification-fade-in-done').filter({ hasText: text }).first().waitFor({ timeout })).catch(async () => {
      const shown = await this.page.locator('.notifications-toasts .notification-toast').allInnerTexts();
      throw new Error(`no notification says ${JSON.stringify(text)}; shown: ${JSON.stringify(shown)}`);
    });
    return toast.first();
  }

  /** Clears every notification (so the next screenshot shows only what the next scenario does). */
  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
    await this.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
  }

  // --- output channels ----------------------------------------------------------------------

  /** The Output panel's text view. */
  get outputView(): Locator {
    return this.page.locator('.part.panel .monaco-editor .view-lines').first();
  }

  /**
   * Shows the Output panel with channel `channel` ("CircuitPython Serial Monitor",
   * "CircuitPython ML"), chosen with "Output: Show Output Channels..." (the quick pick lists the
   * same channels as the panel's dropdown, and takes keyboard input reliably).
   */
  async showOutputChannel(channel: string): Promise<void> {
    await this.runCommand('Output: Show Output Channels...');
    await this.pickQuickPickItem(channel);
    await this.waitForOutputChannel(channel);
  }

  /** Waits until the Output panel is open on channel `channel` (its dropdown shows it). */
  async waitForOutputChannel(channel: string, timeout = UI_TIMEOUT): Promise<void> {
    const dropdown = this.page.locator('.part.panel select.monaco-select-box').filter({ visible: true }).first();
    await waitUntil(async () => (await dropdown.inputValue({ timeout: 1000 }).catch(() => '')) === channel,
      async () => `the Output panel's dropdown shows ${JSON.stringify(await dropdown.inputValue({ timeout: 1000 }).catch(() => 'nothing'))}, not ${JSON.stringify(channel)}`, timeout);
    await this.outputView.waitFor({ timeout });
  }

  /** Waits until the visible output contains `text` (whitespace-normalised; word wrap aside). */
  async waitForOutput(text: string, timeout = UI_TIMEOUT): Promise<void> {
    await this.outputView.filter({ hasText: text }).waitFor({ timeout }).catch(async () => {
      throw new Error(`the output does not show ${JSON.stringify(text)}; it shows:\n${await this.outputText()}`);
    });
  }

  /** The visible lines of the Output panel (what the editor has rendered). */
  async outputText(): Promise<string> {
    return ((await this.outputView.innerText().catch(() => '')) ?? '').replace(/\u00a0/g, ' ');
  }

  /**
   * The whole text of output channel `channel` as the extension host stores it on disk (the
   * panel only renders the lines in view): `<user-data>/logs/<time>/exthost<N>/output_logging_<time>/<n>-<channel>.log`
   * for plain channels, `…/exthost<N>/cpml.circuitpython-ml/<channel>.log` for log channels.
   * '' while the channel has written nothing.
   */
  outputChannelText(channel: string): string {
    const names = new Set([`${channel}.log`]);
    const found: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (names.has(entry.name) || names.has(entry.name.replace(/^\d+-/, ''))) found.push(path);
      }
    };
    const logs = join(this.dir, 'user-data', 'logs');
    if (existsSync(logs)) walk(logs);
    return found.sort().map((path) => readFileSync(path, 'utf8')).join('');
  }

  // --- the CircuitPython ML container ---------------------------------------------------------

  /** Opens the CircuitPython ML activity-bar container and returns the pane of view `viewName` (e.g. "Inference Timing"). */
  async showView(viewName: string): Promise<Locator> {
    await this.page.locator('.activitybar .action-item a[aria-label^="CircuitPython ML"]').click();
    const pane = this.page.locator('.part.sidebar .pane').filter({ has: this.page.locator('.pane-header', { hasText: viewName }) });
    await pane.first().waitFor({ timeout: UI_TIMEOUT });
    return pane.first();
  }

  /** The rows of a tree view pane, by their accessible labels (an item's tooltip when it has one). */
  async treeRows(pane: Locator): Promise<string[]> {
    return pane.locator('.monaco-list-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('aria-label') ?? ''));
  }

  /** The rows of a tree view pane as shown: label and description, whitespace-normalised (the whole text, even where the row cuts it off). */
  async treeRowTexts(pane: Locator): Promise<string[]> {
    return pane.locator('.monaco-list-row .monaco-tl-contents').evaluateAll((rows) => rows.map((r) => (r.textContent ?? '').replace(/\s+/g, ' ').trim()));
  }
}

/**
 * Waits until `condition` holds, checking every 100 ms, for what no locator can wait on (a value
 * compared exactly, a file on disk); fails with `describe()`'s account of what was there instead.
 */
export async function waitUntil(condition: () => Promise<boolean> | boolean, describe: () => Promise<string> | string, timeout = UI_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${await describe()} (after ${timeout} ms)`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!child.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone
  }
}
