// A small stand-in for the `vscode` module, enough to activate dist/extension.js in Node and
// observe what it registers. (Real VS Code runs in the end-to-end tests.)
import { writeFileSync } from 'node:fs';
import Module from 'node:module';

export interface StubRecord {
  commands: Map<string, (...args: unknown[]) => unknown>;
  customEditors: string[];
  /** The provider registered for each custom editor's view type. */
  customEditorProviders: Map<string, unknown>;
  /** `levels[i]` is the level `lines[i]` was logged at (info, warn, error, …; append for plain channels). */
  outputChannels: { name: string; languageId?: string; lines: string[]; levels: string[] }[];
  statusBarItems: { text: string; tooltip: unknown; command?: unknown; visible: boolean }[];
  messages: { level: 'info' | 'warning' | 'error'; text: string }[];
  contexts: Map<string, unknown>;
  config: Record<string, unknown>;
  treeViews: Map<string, { treeDataProvider: unknown }>;
  /** The options of each save dialog shown; it answers `saveDialogAnswer` (undefined: cancelled). */
  saveDialogs: Record<string, unknown>[];
  saveDialogAnswer?: { fsPath: string };
  /** Messages reported through withProgress. */
  progress: string[];
  /** The items of each quick pick shown; it picks none (as Escape). */
  quickPicks: unknown[][];
  /** Changes settings (keys without the `cpml.` prefix) and fires onDidChangeConfiguration, as the Settings editor does. */
  setConfig(changes: Record<string, unknown>): void;
}

export function createVscodeStub(): { vscode: Record<string, unknown>; record: StubRecord } {
  const disposable = () => ({ dispose() {} });
  const configChanged: ((e: { affectsConfiguration(section: string): boolean }) => void)[] = [];
  const record: StubRecord = {
    commands: new Map(), customEditors: [], customEditorProviders: new Map(), outputChannels: [], statusBarItems: [], messages: [], contexts: new Map(), config: {}, treeViews: new Map(), saveDialogs: [], progress: [], quickPicks: [],
    setConfig(changes) {
      Object.assign(record.config, changes);
      const keys = Object.keys(changes).map((k) => `cpml.${k}`);
      for (const listener of configChanged) listener({ affectsConfiguration: (section) => keys.some((k) => k === section || k.startsWith(`${section}.`)) });
    },
  };

  class EventEmitter<T> {
    private listeners: ((e: T) => void)[] = [];
    event = (listener: (e: T) => void, thisArg?: unknown, disposables?: { dispose(): void }[]) => {
      this.listeners.push(listener.bind(thisArg));
      const d = { dispose: () => { this.listeners = this.listeners.filter((l) => l !== listener); } };
      disposables?.push(d);
      return d;
    };
    fire(e: T) { for (const l of this.listeners) l(e); }
    dispose() { this.listeners = []; }
  }
  class Uri {
    constructor(readonly scheme: string, readonly path: string) {}
    get fsPath() { return this.path; }
    static file(path: string) { return new Uri('file', path); }
    static joinPath(base: Uri, ...parts: string[]) { return new Uri(base.scheme, [base.path, ...parts].join('/')); }
    toString() { return `${this.scheme}://${this.path}`; }
  }
  const channel = (name: string, options?: unknown) => {
    const entry = { name, languageId: typeof options === 'string' ? options : undefined, lines: [] as string[], levels: [] as string[] };
    record.outputChannels.push(entry);
    const log = (level: string) => (text: string) => { entry.lines.push(text); entry.levels.push(level); };
    return { name, append: log('append'), appendLine: log('append'), info: log('info'), warn: log('warn'), error: log('error'), debug: log('debug'), trace: log('trace'), show() {}, hide() {}, clear() {}, dispose() {} };
  };
  const vscode = {
    EventEmitter,
    Uri,
    Disposable: class { constructor(private readonly f: () => void) {} dispose() { this.f(); } },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { Notification: 15, Window: 10 },
    ThemeColor: class { constructor(readonly id: string) {} },
    MarkdownString: class { value = ''; constructor(v = '') { this.value = v; } appendMarkdown(t: string) { this.value += t; return this; } },
    RelativePattern: class { constructor(readonly base: unknown, readonly pattern: string) {} },
    TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
    TreeItem: class {
      id?: string; description?: string; tooltip?: unknown; iconPath?: unknown; contextValue?: string;
      constructor(readonly label: string, readonly collapsibleState = 0) {}
    },
    ThemeIcon: class { constructor(readonly id: string, readonly color?: unknown) {} },
    TabInputCustom: class {},
    TabInputText: class {},
    window: {
      createOutputChannel: channel,
      createStatusBarItem: () => {
        const item = { text: '', tooltip: undefined as unknown, command: undefined as unknown, visible: false, name: '', backgroundColor: undefined, show() { item.visible = true; }, hide() { item.visible = false; }, dispose() {} };
        record.statusBarItems.push(item);
        return item;
      },
      registerCustomEditorProvider: (viewType: string, provider: unknown) => {
        record.customEditors.push(viewType);
        record.customEditorProviders.set(viewType, provider);
        return disposable();
      },
      createTreeView: (id: string, options: { treeDataProvider: unknown }) => { record.treeViews.set(id, options); return { dispose: () => record.treeViews.delete(id) }; },
      showQuickPick: async (items: unknown[] | Promise<unknown[]>) => { record.quickPicks.push(await items); return undefined; },
      showSaveDialog: async (options: Record<string, unknown>) => { record.saveDialogs.push(options); return record.saveDialogAnswer; },
      showTextDocument: async () => undefined,
      showInformationMessage: async (text: string) => { record.messages.push({ level: 'info', text }); return undefined; },
      showWarningMessage: async (text: string) => { record.messages.push({ level: 'warning', text }); return undefined; },
      withProgress: async <T>(_options: unknown, task: (progress: { report(p: { message?: string }): void }, token: { isCancellationRequested: boolean }) => Promise<T>) => {
        return task({ report: (p) => { if (p.message) record.progress.push(p.message); } }, { isCancellationRequested: false });
      },
      showErrorMessage: async (text: string) => { record.messages.push({ level: 'error', text }); return undefined; },
      tabGroups: { activeTabGroup: { activeTab: undefined } },
      activeTextEditor: undefined,
    },
    commands: {
      registerCommand: (id: string, f: (...args: unknown[]) => unknown) => { record.commands.set(id, f); return disposable(); },
      executeCommand: async (id: string, ...args: unknown[]) => {
        if (id === 'setContext') { record.contexts.set(args[0] as string, args[1]); return undefined; }
        return record.commands.get(id)?.(...args);
      },
    },
    workspace: {
      getConfiguration: () => ({ get: <T>(key: string, fallback: T) => (key in record.config ? record.config[key] as T : fallback) }),
      onDidChangeConfiguration: (listener: (e: { affectsConfiguration(section: string): boolean }) => void, thisArg?: unknown, disposables?: { dispose(): void }[]) => {
        const bound = listener.bind(thisArg);
        configChanged.push(bound);
        const d = { dispose: () => { configChanged.splice(configChanged.indexOf(bound) >>> 0, 1); } };
        disposables?.push(d);
        return d;
      },
      createFileSystemWatcher: () => ({ onDidChange: disposable, dispose() {} }),
      findFiles: async () => [],
      asRelativePath: (p: string | Uri) => (typeof p === 'string' ? p : p.path),
      workspaceFolders: undefined,
      fs: { writeFile: async (uri: Uri, bytes: Uint8Array) => writeFileSync(uri.fsPath, bytes) },
    },
  };
  return { vscode, record };
}

type Loader = (request: string, parent: unknown, isMain: boolean) => unknown;

/** Makes `require('vscode')` (and optionally other modules) return stand-ins until restore() is called. */
export function interceptRequire(modules: Record<string, () => unknown>): { restore(): void } {
  const m = Module as unknown as { _load: Loader };
  const original = m._load;
  m._load = function (request, parent, isMain) {
    if (request in modules) return modules[request]();
    return original.call(this, request, parent, isMain);
  };
  return { restore: () => { m._load = original; } };
}
