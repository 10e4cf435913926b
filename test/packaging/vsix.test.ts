// The one VSIX for all platforms (npm run package → node tools/build.mjs --vsix): what is in it,
// what is not, and that the packed extension finds serialport and its native binding from its
// own node_modules/ once unpacked, as VS Code installs it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { inflateRawSync } from 'node:zlib';

/** Measured: 0.86 MB (bundle 0.23 MB; serialport's prebuilds 1.7 MB before compression). */
const SIZE_BUDGET_BYTES = 3 * 1024 * 1024;

const VSCE = join('node_modules', '@vscode', 'vsce', 'vsce');
const skip = existsSync(VSCE) ? false : 'vsce (devDependency @vscode/vsce) is not installed: run npm ci';

interface ZipEntry {
  name: string;
  size: number;
  compressedSize: number;
  method: number;
  localHeaderOffset: number;
}

/** The entries of a zip file, read from its central directory. */
function readZip(zip: Buffer): ZipEntry[] {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  assert.ok(eocd >= 0, 'zip end-of-central-directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50, 'central directory entry');
    const nameLength = zip.readUInt16LE(at + 28);
    entries.push({
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localHeaderOffset: zip.readUInt32LE(at + 42),
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
    });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

function extract(zip: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localHeaderOffset;
  assert.equal(zip.readUInt32LE(at), 0x04034b50, 'local file header');
  const start = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
  const data = zip.subarray(start, start + entry.compressedSize);
  const bytes = entry.method === 0 ? Buffer.from(data) : inflateRawSync(data);
  assert.equal(bytes.length, entry.size, `size of ${entry.name}`);
  return bytes;
}

describe('VSIX', { skip }, () => {
  let work: string;
  let vsix: string;
  let names: string[];
  /** The unpacked VSIX's extension/ folder: what VS Code installs. */
  let installed: string;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'cpml-vsix-test-'));
    vsix = join(work, 'circuitpython-ml.vsix');
    execFileSync(process.execPath, ['tools/build.mjs', '--vsix', vsix], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    const zip = readFileSync(vsix);
    const entries = readZip(zip);
    names = entries.map((e) => e.name);
    for (const entry of entries) {
      if (entry.name.endsWith('/')) continue;
      const path = join(work, 'unpacked', entry.name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, extract(zip, entry));
    }
    installed = join(work, 'unpacked', 'extension');
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('stays within its size budget', (t) => {
    const size = statSync(vsix).size;
    t.diagnostic(`VSIX ${(size / 1024).toFixed(0)} KB in ${names.length} entries (budget ${SIZE_BUDGET_BYTES / 1024} KB)`);
    assert.ok(size < SIZE_BUDGET_BYTES, `${size} bytes`);
  });

  it('holds the manifest, the extension bundle and every file package.json points at', () => {
    for (const name of ['extension.vsixmanifest', 'extension/package.json', 'extension/dist/extension.js', 'extension/dist/toolchain.js', 'extension/readme.md']) {
      assert.ok(names.includes(name), name);
    }
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
    const project = JSON.parse(readFileSync('package.json', 'utf8'));
    assert.deepEqual(manifest.contributes, project.contributes, 'contributions as in the project');
    assert.equal(manifest.files, undefined, "npm's files list is not the extension's");
    const referenced = [
      manifest.main,
      manifest.icon,
      ...manifest.contributes.grammars.map((g: { path: string }) => g.path),
      ...manifest.contributes.languages.map((l: { configuration: string }) => l.configuration),
      ...manifest.contributes.viewsContainers.activitybar.map((c: { icon: string }) => c.icon),
      ...Object.values(manifest.contributes.views as Record<string, { icon?: string }[]>).flat().map((v) => v.icon),
      ...manifest.contributes.walkthroughs.flatMap((w: { steps: { media: Record<string, string> }[] }) => w.steps.map((s) => s.media.markdown ?? s.media.image ?? s.media.svg)),
    ].filter((p): p is string => typeof p === 'string');
    assert.ok(referenced.length >= 10);
    for (const path of referenced) assert.ok(existsSync(join(installed, path)), `${path} is in the VSIX`);
  });

  it('carries the serialport binding prebuilt for Windows, macOS and Linux (x64 and arm64)', (t) => {
    const prebuilds = names.filter((n) => n.startsWith('extension/node_modules/@serialport/bindings-cpp/prebuilds/'));
    for (const platform of ['linux-x64', 'linux-arm64', 'linux-arm', 'win32-x64', 'win32-arm64', 'darwin-x64+arm64']) {
      assert.ok(prebuilds.some((n) => n.includes(`/prebuilds/${platform}/`) && n.endsWith('.node')), platform);
    }
    for (const platform of ['android-arm', 'android-arm64', 'win32-ia32']) {
      assert.ok(!prebuilds.some((n) => n.includes(`/prebuilds/${platform}/`)), `no ${platform} (VS Code does not run there)`);
    }
    t.diagnostic(`prebuilds: ${prebuilds.map((n) => n.slice(n.indexOf('/prebuilds/') + 11)).join(', ')}`);
  });

  it('leaves out sources, tests, tools, dev dependencies and everything else not needed at run time', (t) => {
    const forbidden: [RegExp, string][] = [
      [/\.ts$/, 'TypeScript (sources or .d.ts)'],
      [/\.map$/, 'source map'],
      [/^extension\/(src|test|bench|tools|\.ci|\.git|\.vscode|out)\//, 'project folder not needed at run time'],
      [/^extension\/examples\/(?!mnist\/)/, 'example other than mnist'],
      [/^extension\/dist\/(?!((extension|toolchain|simWorker)\.js|code_template\.py)$)/, 'other build output (the CLI is not shipped)'],
      [/^extension\/(tsconfig|eslint\.config|package-lock)/, 'build file'],
      [/^extension\/media\/icon\.svg$/, 'icon source'],
      [/node_modules\/(typescript|esbuild|tsx|eslint|@types|@vscode|vscode-textmate|vscode-oniguruma|node-addon-api|onnx-proto|protobufjs|long|drivelist)\//, 'dev dependency or bundled package'],
      [/node_modules\/.*\/(README|CHANGELOG|SECURITY|CODE_OF_CONDUCT)[^/]*$/i, 'package docs'],
      [/node_modules\/(?!@micropython\/).*\.(c|cc|cpp|h|gyp|gypi|mjs)$/, 'native sources, build files or ESM copies (MicroPython is an ES module)'],
      [/node_modules\/[^/]+\/(test|tests|src\/serialport)\//, 'package tests or native sources'],
      [/node_modules\/.*\/(bin|build-test|optional)\.js$/, 'package tooling'],
    ];
    for (const name of names) {
      for (const [pattern, what] of forbidden) assert.ok(!pattern.test(name), `${name}: ${what}`);
    }
    const packages = [...new Set(names.filter((n) => n.includes('/node_modules/')).map((n) => n.match(/^(extension\/(?:.*\/)?node_modules\/(?:@[^/]+\/)?[^/]+)\//)?.[1]))];
    t.diagnostic(`node_modules packages: ${packages.map((p) => p?.replace('extension/node_modules/', '')).join(', ')}`);
  });

  it('loads serialport and its native binding from its own node_modules, and ships nothing unused', () => {
    // A fresh Node process, as the extension host loads the bundle: require('serialport') from
    // dist/ (the bundle's own require, and core/serial's createRequire(__filename)).
    const probe = `
      const { createRequire } = require('node:module');
      const req = createRequire(${JSON.stringify(join(installed, 'dist', 'extension.js'))});
      const serialport = req('serialport');
      const bindings = req('@serialport/bindings-cpp');
      const Binding = bindings.autoDetect();
      console.log(JSON.stringify({
        list: typeof serialport.SerialPort.list,
        open: typeof serialport.SerialPort.prototype.open,
        bindingList: typeof Binding.list,
        loaded: Object.keys(require.cache),
      }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', probe], { cwd: work, env: { ...process.env, NODE_PATH: '' }, encoding: 'utf8' })) as {
      list: string; open: string; bindingList: string; loaded: string[];
    };
    assert.equal(out.list, 'function');
    assert.equal(out.open, 'function');
    assert.equal(out.bindingList, 'function');
    const outside = out.loaded.filter((p) => !p.startsWith(installed));
    assert.deepEqual(outside, [], 'everything loaded comes from the unpacked VSIX');
    if (process.platform === 'linux' && process.arch === 'x64') {
      assert.ok(out.loaded.some((p) => p.includes('/prebuilds/linux-x64/') && p.endsWith('.node')), 'the linux-x64 prebuild is the binding that loaded');
    }
    // Every JavaScript file shipped under node_modules/ is one serialport loads.
    const rel = (p: string) => p.slice(installed.length + 1).split('\\').join('/');
    const loadedJs = new Set(out.loaded.filter((p) => p.endsWith('.js')).map(rel));
    const shippedJs = names.filter((n) => n.startsWith('extension/node_modules/') && n.endsWith('.js')).map((n) => n.slice('extension/'.length));
    assert.deepEqual(shippedJs.filter((n) => !loadedJs.has(n)), [], 'shipped but never loaded');
  });

  it('leaves no require() in the bundle that the VSIX cannot satisfy', () => {
    const bundle = readFileSync(join(installed, 'dist', 'extension.js'), 'utf8');
    const required = new Set([...bundle.matchAll(/\brequire\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]));
    // vscode comes from the host; drivelist is optional (the extension falls back without it).
    const optional = new Set(['vscode', 'drivelist']);
    const bare = [...required].filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s) && !optional.has(s));
    for (const specifier of bare) {
      const probe = `require('node:module').createRequire(${JSON.stringify(join(installed, 'dist', 'extension.js'))}).resolve(${JSON.stringify(specifier)})`;
      assert.doesNotThrow(() => execFileSync(process.execPath, ['-e', probe], { cwd: work, env: { ...process.env, NODE_PATH: '' }, stdio: 'pipe' }), `${specifier} resolves inside the VSIX`);
    }
  });
});
