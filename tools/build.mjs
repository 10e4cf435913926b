#!/usr/bin/env node
// Bundles the CLI (and the extension, once it exists) with esbuild.
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';

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

try {
  await build({ ...common, entryPoints: ['src/cli/cli.ts'], outfile: 'dist/cli.js' });
  if (existsSync('src/extension/extension.ts')) {
    await build({ ...common, entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', external: ['vscode', 'serialport', '@serialport/*', 'drivelist'] });
  }
} catch {
  // esbuild has already printed the errors.
  process.exit(1);
}
