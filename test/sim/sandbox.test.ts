// The virtual Pico runs other people's code: a program (code.py, or a line typed at its REPL)
// must reach nothing but its drive. First wall: MicroPython's bridges to JavaScript are cut;
// second wall: the VM's process runs under Node's permission model. Each escape route is tried
// for real, and the host is checked for the marker files an escape would leave.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { vmCommand, vmFiles } from '../../src/sim/vmSandbox.js';
import { NO_PTY, openConsole, startBoard } from './simHarness.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function hostFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cpml-sandbox-host-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A program that tries `label`: prints "label -> value" or "label !! Type message". */
function attempts(lines: [label: string, expression: string][]): string {
  return [
    'def attempt(label, fn):',
    '    try:',
    '        print(label, "->", repr(fn())[:100])',
    '    except BaseException as e:',
    '        print(label, "!!", type(e).__name__, str(e)[:100])',
    ...lines.map(([label, expression]) => `attempt(${JSON.stringify(label)}, lambda: ${expression})`),
    'print("END")',
  ].join('\n') + '\n';
}

function results(output: string): Map<string, string> {
  const found = new Map<string, string>();
  // eslint-disable-next-line no-control-regex -- the window-title and line-clear sequences the board prints
  for (const line of output.replace(/\x1b\][^\x1b]*\x1b\\|\x1b\[[0-9;]*[A-Za-z]/g, '').split(/\r?\n/)) {
    const m = /^(.+?) (->|!!) (.*)$/.exec(line);
    if (m) found.set(m[1], `${m[2]} ${m[3]}`);
  }
  return found;
}

describe('virtual Pico sandbox: the program reaches nothing but its drive', () => {
  it('refuses every route to JavaScript from code.py, and leaves no marker on the host', async () => {
    const host = hostFolder();
    const marker = join(host, 'escaped');
    const shell = `execSync("touch ${marker}")`;
    const board = await startBoard({
      'code.py': attempts([
        ['import js', '__import__("js")'],
        ['import jsffi', '__import__("jsffi")'],
        ['js process', `__import__("js").process.getBuiltinModule("child_process").${shell}`],
        ['no way round the guard', '__import__("_cpml_boot")._real_import'],
        // Past the guard: a fresh import machinery (del builtins.__import__) gets the modules themselves.
        ['raw js', `(delattr(__import__("builtins"), "__import__"), __import__("js"))[1].process.getBuiltinModule("child_process").${shell}`],
        ['raw js globalThis', '__import__("js").globalThis'],
        ['raw js new', '__import__("js").Function.new("return process")'],
        ['to_js', '__import__("jsffi").to_js({"a": 1})'],
        ['to_js constructor', '__import__("jsffi").to_js([1]).constructor'],
        ['create_proxy', '__import__("jsffi").create_proxy(print)'],
        ['JsProxy', '__import__("jsffi").JsProxy(0)'],
        ['host file', 'open("/etc/passwd").read()'],
        ['host write', `open(${JSON.stringify(marker)}, "w")`],
        ['raw host write', `__import__("_cpml_boot")._real_open(${JSON.stringify(marker)}, "w").write("x")`],
      ]),
    }, { pty: false }, cleanups);
    await board.waitForOutput('END');
    const r = results(board.output());
    assert.equal(r.get('import js'), "!! ImportError no module named 'js'");
    assert.equal(r.get('import jsffi'), "!! ImportError no module named 'jsffi'");
    assert.equal(r.get('js process'), "!! ImportError no module named 'js'");
    assert.equal(r.get('no way round the guard'), "!! AttributeError module '_cpml_boot' has no attribute '_real_import'");
    // Past the import guard, the module can do nothing: JS objects have no attributes, conversions give None.
    assert.equal(r.get('raw js'), "!! AttributeError module 'js' has no attribute 'process'");
    assert.equal(r.get('raw js globalThis'), "!! AttributeError module 'js' has no attribute 'globalThis'");
    assert.equal(r.get('raw js new'), "!! AttributeError module 'js' has no attribute 'Function'");
    assert.equal(r.get('to_js'), '-> None');
    assert.equal(r.get('to_js constructor'), "!! AttributeError 'NoneType' object has no attribute 'constructor'");
    assert.equal(r.get('create_proxy'), '-> None');
    assert.match(r.get('JsProxy') ?? '', /^!! TypeError/);
    assert.equal(r.get('host file'), '!! OSError [Errno 2] ENOENT');
    assert.equal(r.get('host write'), '!! OSError 30');
    // The VM's own file system has no such folder: the write never leaves it.
    assert.match(r.get('raw host write') ?? '', /^!! OSError/);
    assert.equal(existsSync(marker), false, 'nothing appeared on the host');
  });

  it('shows the program only the drive: no host folders, links out of the drive are not followed', async () => {
    const host = hostFolder();
    writeFileSync(join(host, 'secret.txt'), 'host secret');
    const board = await startBoard({
      'code.py': attempts([
        ['root', 'sorted(__import__("os").listdir("/"))'],
        ['link', 'open("secret.txt").read()'],
        ['folder link', '__import__("os").listdir("outside")'],
      ]),
    }, { pty: false }, cleanups);
    // (Links made after boot: the VM copies the drive when it starts.)
    symlinkSync(join(host, 'secret.txt'), join(board.drive, 'secret.txt'));
    symlinkSync(host, join(board.drive, 'outside'));
    await board.waitForOutput('END');
    const rerun = board.output().length;
    board.pico.input('\x04');
    await board.waitForOutput('END', rerun);
    const r = results(board.output().slice(rerun));
    assert.equal(r.get('root'), "-> ['boot_out.txt', 'code.py', 'dev', 'proc']");
    assert.equal(r.get('link'), '!! OSError [Errno 2] ENOENT');
    assert.equal(r.get('folder link'), '!! OSError [Errno 2] ENOENT');
    assert.doesNotMatch(board.output(), /host secret/);
  });

  it('lets the program write no file at all: not the drive, not /proc, not through the unguarded open (nothing to fill memory with)', async () => {
    const board = await startBoard({
      'code.py': attempts([
        ['drive', 'open("new.txt", "w")'],
        ['proc', 'open("/proc/f0", "w")'],
        ['raw proc', '__import__("_cpml_boot")._real_open("/proc/f1", "w").write("x" * 1000000)'],
        ['raw drive', '__import__("_cpml_boot")._real_open("code.py", "a").write("x")'],
        ['device', 'open("/dev/cpml", "r+b").write(b"T")'],
      ]),
    }, { pty: false }, cleanups);
    await board.waitForOutput('END');
    const r = results(board.output());
    assert.equal(r.get('drive'), '!! OSError 30');
    assert.equal(r.get('proc'), '!! OSError 30');
    assert.match(r.get('raw proc') ?? '', /^!! OSError/);
    assert.match(r.get('raw drive') ?? '', /^!! OSError/);
    assert.equal(r.get('device'), '-> 1', 'the virtual board\'s device still takes requests');
  });

  it('refuses the same routes typed at the REPL', { skip: NO_PTY }, async () => {
    const host = hostFolder();
    const marker = join(host, 'escaped');
    const board = await startBoard({}, {}, cleanups);
    await board.waitForState('waiting');
    const con = await openConsole(board.info.port!, cleanups);
    await con.session.write('\r');
    await con.waitForText('>>> ');
    await con.session.sendLine(`import js; js.process.getBuiltinModule("child_process").execSync("touch ${marker}")`);
    await con.waitForText("ImportError: no module named 'js'\n>>> ");
    await con.session.sendLine('import jsffi');
    await con.waitForText("ImportError: no module named 'jsffi'\n>>> ");
    await con.session.sendLine('import builtins; del builtins.__import__; import js; js.process');
    await con.waitForText("AttributeError: module 'js' has no attribute 'process'\n>>> ");
    assert.equal(existsSync(marker), false);
  });

  it('runs its VMs under Node\'s permission model and says so', async () => {
    const board = await startBoard({ 'code.py': 'print("up")\n' }, { pty: false }, cleanups);
    await board.waitForOutput('up');
    assert.deepEqual(board.pico.sandbox && { permissionModel: board.pico.sandbox.permissionModel, bridgesCut: board.pico.sandbox.bridgesCut }, { permissionModel: true, bridgesCut: true });
  });

  it('second wall: code in a VM process cannot write files, start processes or workers, read outside, or make code from strings', () => {
    // The VM's exact command line, with a probe in place of the VM: what an escaped program would face.
    const host = hostFolder();
    const control = join(host, 'control');
    writeFileSync(control, Buffer.alloc(8));
    const probe = join(host, 'probe.js');
    const marker = join(host, 'marker');
    writeFileSync(probe, `
      const fs = require('node:fs');
      const out = {};
      const attempt = (name, fn) => { try { fn(); out[name] = 'allowed'; } catch (e) { out[name] = e.code || e.name; } };
      attempt('write', () => fs.writeFileSync(${JSON.stringify(marker)}, 'x'));
      attempt('read outside', () => fs.readFileSync('/etc/hostname'));
      attempt('child process', () => require('node:child_process').execSync('touch ${marker}'));
      attempt('worker', () => new (require('node:worker_threads').Worker)('1', { eval: true }));
      attempt('eval', () => eval('1 + 1'));
      attempt('Function', () => new Function('return process')());
      attempt('env', () => { if (Object.keys(process.env).filter((k) => k !== 'SystemRoot').length) throw new Error('env'); });
      process.stdout.write(JSON.stringify(out));
    `);
    const { command, args, env } = vmCommand(control);
    const files = vmFiles();
    const probeArgs = args.map((a) => (a === files.worker ? probe : a === `--allow-fs-read=${files.worker}` ? `--allow-fs-read=${probe}` : a));
    assert.ok(probeArgs.includes(probe));
    const r = spawnSync(command, probeArgs, { env, encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      write: 'ERR_ACCESS_DENIED', 'read outside': 'ERR_ACCESS_DENIED', 'child process': 'ERR_ACCESS_DENIED', worker: 'ERR_ACCESS_DENIED',
      eval: 'EvalError', Function: 'EvalError', env: 'allowed',
    });
    assert.equal(existsSync(marker), false);
  });
});
