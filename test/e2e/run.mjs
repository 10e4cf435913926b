#!/usr/bin/env node
// `npm run test:e2e`: the end-to-end tests in real VS Code (code-server + Debian's Chromium,
// driven by playwright-core). Steps:
//   1. build the VSIX (npm run package) — the tests run what users install;
//   2. install code-server once into .e2e-cache/ (tools/e2e-setup.sh; a no-op when cached);
//   3. install the VSIX into a fresh extensions folder under a temporary folder;
//   4. run test/e2e/*.e2e.ts with node:test, one file at a time (each starts its own
//      code-server and browser: test/e2e/support/workbench.ts);
//   5. kill whatever the tests started that is still alive, and remove the temporary folder.
// Extra arguments: file filters and node --test flags, as in tools/run-tests.mjs
// (e.g. `npm run test:e2e -- model`). CPML_E2E_SKIP_PACKAGE=1 reuses circuitpython-ml.vsix.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..', '..');
process.chdir(root);
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)}s`;
const say = (message) => console.log(`# e2e [${elapsed()}] ${message}`);

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result;
}

const args = process.argv.slice(2);
const filters = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
let files = readdirSync('test/e2e').filter((f) => f.endsWith('.e2e.ts')).sort().map((f) => join('test/e2e', f));
if (filters.length) files = files.filter((f) => filters.some((p) => f.includes(p)));
if (!files.length) {
  console.error('no e2e test files matched');
  process.exit(1);
}

const vsix = join(root, 'circuitpython-ml.vsix');
if (process.env.CPML_E2E_SKIP_PACKAGE !== '1' || !existsSync(vsix)) {
  say('packaging the extension (npm run package)');
  if (run('npm', ['run', 'package', '--silent']).status !== 0) process.exit(1);
}

say('code-server (tools/e2e-setup.sh)');
const setup = run('bash', ['tools/e2e-setup.sh'], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
if (setup.status !== 0) process.exit(1);
const entry = setup.stdout.trim().split('\n').pop();
if (!entry || !existsSync(entry)) {
  console.error(`e2e: tools/e2e-setup.sh did not name code-server's entry point (${JSON.stringify(entry)})`);
  process.exit(1);
}

// Screenshots and logs of this run only (test/e2e/support/workbench.ts writes them there).
rmSync('test-results/e2e', { recursive: true, force: true });

// Everything of this run lives here: extensions, user data, workspaces, drives, ptys, and the
// browser's profile (TMPDIR below), so the clean-up can find every process by its arguments.
const tmp = mkdtempSync(join(tmpdir(), 'cpml-e2e-'));
const pidDir = join(tmp, 'pids');
mkdirSync(pidDir);
const extensions = join(tmp, 'extensions');
// code-server writes a default config file unless it is given one: keep it out of $HOME.
const env = { ...process.env, CODE_SERVER_CONFIG: join(tmp, 'code-server.yaml') };

let status = 1;
try {
  say(`installing ${vsix} into ${extensions}`);
  const install = run(process.execPath, [entry, '--extensions-dir', extensions, '--user-data-dir', join(tmp, 'install-user-data'), '--install-extension', vsix], { env });
  if (install.status !== 0) throw new Error('code-server could not install the VSIX');

  say(`running ${files.length} file(s): ${files.join(' ')}`);
  const result = run(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...flags, ...files], {
    env: {
      ...env,
      TMPDIR: tmp,
      CPML_E2E_ENTRY: entry,
      CPML_E2E_EXTENSIONS: extensions,
      CPML_E2E_TMP: tmp,
      CPML_E2E_PIDS: pidDir,
    },
  });
  status = result.status ?? 1;
} catch (error) {
  console.error(`e2e: ${error.message}`);
} finally {
  killLeftovers();
  rmSync(tmp, { recursive: true, force: true });
  say(`done (exit ${status}); screenshots in test-results/e2e/`);
}
process.exit(status);

/**
 * The tests stop what they start in `after` hooks; this catches what a crashed or timed-out test
 * file left behind: the process groups whose leaders the tests recorded (code-server with its
 * extension host, socat), then any process whose command line names this run's folder
 * (Chromium: its profile is under TMPDIR). Only processes of this run, each by its id.
 */
function killLeftovers() {
  const pids = new Set();
  for (const name of existsSync(pidDir) ? readdirSync(pidDir) : []) {
    const pid = Number(name);
    if (Number.isInteger(pid) && pid > 1) {
      try {
        process.kill(-pid, 'SIGKILL');
        pids.add(pid);
      } catch {
        // already gone
      }
    }
  }
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cmdline;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(tmp)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      pids.add(pid);
    } catch {
      // already gone
    }
  }
  if (pids.size) say(`killed ${pids.size} process(es) left behind: ${[...pids].join(' ')}`);
}
