// Run in a fresh process by bench/run.ts: loads dist/extension.js against the stand-in vscode
// module and prints how long require() and activate() took, as JSON.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createVscodeStub, interceptRequire } from '../test/extension/vscodeStub.js';

const { vscode } = createVscodeStub();
interceptRequire({ vscode: () => vscode });
const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
const t0 = performance.now();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require(resolve('dist/extension.js')) as { activate(context: unknown): void };
const t1 = performance.now();
const subscriptions: { dispose(): void }[] = [];
ext.activate({ subscriptions, workspaceState: { get: () => undefined, update: async () => undefined }, extension: { packageJSON: manifest } });
const t2 = performance.now();
for (const s of subscriptions) s.dispose();
process.stdout.write(JSON.stringify({ requireMs: t1 - t0, activateMs: t2 - t1 }) + '\n');
