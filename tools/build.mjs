#!/usr/bin/env node
// Bundles the CLI (and the extension, once it exists) with esbuild.
//   node tools/build.mjs              → dist/cli.js, dist/extension.js
//   node tools/build.mjs --vsix OUT   → OUT, the extension's one VSIX for all platforms (npm run package)
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // Minified: the CLI's start-up is dominated by parsing its own bundle. Stack traces map back
  // through the linked source map (node --enable-source-maps dist/cli.js …).
  sourcemap: 'linked',
  minify: true,
  define: { CPML_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
};
/**
 * The extension's model toolchain (ONNX reading, lowering, reports: most of the code) is a bundle
 * of its own, dist/toolchain.js, which src/extension/lazyToolchain.ts requires on first use:
 * activation then parses only the small extension bundle.
 */
const toolchainSeparate = {
  name: 'toolchain-separate',
  setup(b) {
    b.onResolve({ filter: /^\.\/toolchain\.js$/ }, (args) =>
      args.importer.endsWith('lazyToolchain.ts') ? { path: './toolchain.js', external: true } : undefined);
  },
};
const toolchain = { ...common, entryPoints: ['src/extension/toolchain.ts'] };
/** The code.py template, read at run time from next to the bundles (src/core/deploy/codeTemplate.ts). */
const CODE_TEMPLATE = 'src/core/deploy/code_template.py';
const copyCodeTemplate = (distDir) => cpSync(CODE_TEMPLATE, join(distDir, 'code_template.py'));
/**
 * The virtual Pico's MicroPython thread: src/sim/virtualPico.ts starts dist/simWorker.js next to
 * its own bundle. MicroPython itself (an ES module and its .wasm) is loaded from node_modules at
 * run time: a runtime dependency, shipped in the VSIX (see .vscodeignore).
 */
const simWorker = { ...common, entryPoints: ['src/sim/simWorker.ts'], external: ['@micropython/micropython-webassembly-pyscript'] };
const extension = {
  ...common,
  plugins: [toolchainSeparate],
  entryPoints: ['src/extension/extension.ts'],
  // External: `vscode`; serialport, whose native binding is found relative to its own files
  // (the VSIX ships it under node_modules/, see .vscodeignore); drivelist, which is not
  // shipped (no prebuilt binaries) and which the extension does without.
  external: ['vscode', 'serialport', '@serialport/*', 'drivelist'],
};

/** Folders of the packages `dependencies` pulls in at run time, found as Node resolves them. */
function productionPackages(root) {
  const found = new Set();
  const locate = (from, name) => {
    for (let dir = from; ; dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      if (dir === root || dirname(dir) === dir) return undefined;
    }
  };
  const visit = (dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const [names, optional] of [[pkg.dependencies, false], [pkg.optionalDependencies, true]]) {
      for (const name of Object.keys(names ?? {})) {
        const at = locate(dir, name);
        if (!at) {
          if (optional) continue;
          throw new Error(`${name} (a dependency of ${relative(root, dir) || 'the project'}) is not installed: run npm ci`);
        }
        if (!found.has(at)) {
          found.add(at);
          visit(at);
        }
      }
    }
  };
  visit(root);
  return [...found];
}

/**
 * The VSIX, packed by vsce in a staging folder: vsce refuses a package.json that has both a
 * "files" list (npm's, for the CLI) and a .vscodeignore, and it only packs node_modules/ in its
 * dependency mode, which needs the production dependency tree in place. The staging folder gets
 * the manifest (without "files"), a fresh extension bundle, the files .vscodeignore
 * may let through, and the production dependencies; .vscodeignore then keeps only what the
 * extension needs at run time.
 */
async function packageVsix(out) {
  const root = process.cwd();
  const stage = mkdtempSync(join(tmpdir(), 'cpml-vsix-'));
  try {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
    delete manifest.files;
    writeFileSync(join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    // No source map in the VSIX: nothing there would read it.
    await build({ ...extension, sourcemap: false, outfile: join(stage, 'dist', 'extension.js') });
    await build({ ...toolchain, sourcemap: false, outfile: join(stage, 'dist', 'toolchain.js') });
    await build({ ...simWorker, sourcemap: false, outfile: join(stage, 'dist', 'simWorker.js') });
    copyCodeTemplate(join(stage, 'dist'));
    for (const path of ['.vscodeignore', 'README.md', 'CHANGELOG.md', 'LICENSE', 'NOTICE', 'media', 'syntaxes', 'walkthrough', 'examples']) {
      if (existsSync(path)) cpSync(path, join(stage, path), { recursive: true });
    }
    for (const dir of productionPackages(root)) {
      // Nested node_modules/ are packages of their own (copied when they are dependencies).
      cpSync(dir, join(stage, relative(root, dir)), { recursive: true, filter: (src) => !relative(dir, src).split(sep).includes('node_modules') });
    }
    const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
    if (!existsSync(vsce)) throw new Error('vsce is not installed (devDependency @vscode/vsce): run npm ci');
    execFileSync(process.execPath, [vsce, 'package', '--allow-missing-repository', '--out', resolve(root, out)], { cwd: stage, stdio: ['ignore', 'inherit', 'inherit'] });
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

try {
  const vsix = process.argv.indexOf('--vsix');
  if (vsix !== -1) {
    if (!existsSync('src/extension/extension.ts')) throw new Error('src/extension/extension.ts does not exist yet: there is no extension to package');
    await packageVsix(process.argv[vsix + 1] ?? `${JSON.parse(readFileSync('package.json', 'utf8')).name}.vsix`);
  } else {
    await build({ ...common, entryPoints: ['src/cli/cli.ts'], outfile: 'dist/cli.js' });
    await build({ ...simWorker, outfile: 'dist/simWorker.js' });
    copyCodeTemplate('dist');
    if (existsSync('src/extension/extension.ts')) {
      await build({ ...extension, outfile: 'dist/extension.js' });
      await build({ ...toolchain, outfile: 'dist/toolchain.js' });
    }
  }
} catch (error) {
  // esbuild has already printed its own errors.
  if (!error?.errors) console.error(`build: ${error?.message ?? error}`);
  process.exit(1);
}
