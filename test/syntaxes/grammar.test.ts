// The serial monitor's TextMate grammar, run through the same engine VS Code uses
// (vscode-textmate + the Oniguruma WebAssembly build), on console text a board really prints.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';

const GRAMMAR_PATH = join('syntaxes', 'cpml-monitor.tmLanguage.json');
const SCOPE = 'source.cpml-monitor';

interface Token {
  text: string;
  scopes: string[];
}

let grammar: vsctm.IGrammar;

before(async () => {
  const wasm = readFileSync(createRequire(join(process.cwd(), 'package.json')).resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    // Only our grammar; an embedded language (source.python after a REPL prompt) that is not
    // installed must be skipped quietly, as VS Code does.
    loadGrammar: async (scopeName: string) =>
      scopeName === SCOPE ? vsctm.parseRawGrammar(readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH) : null,
  });
  const loaded = await registry.loadGrammar(SCOPE);
  assert.ok(loaded, 'grammar loads');
  grammar = loaded;
});

/** Tokenizes console text line by line, carrying the rule stack as VS Code does. */
function tokenize(text: string): Token[][] {
  let stack = vsctm.INITIAL;
  return text.split('\n').map((line) => {
    const result = grammar.tokenizeLine(line, stack);
    stack = result.ruleStack;
    return result.tokens.map((t) => ({ text: line.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
  });
}

function tokenizeLine(line: string): Token[] {
  return tokenize(line)[0];
}

/**
 * The scopes shared by the token(s) covering `text` in the line: its first occurrence, or its
 * first occurrence inside the first occurrence of `context`.
 */
function scopesOf(tokens: Token[], text: string, context = text): string[] {
  const line = tokens.map((t) => t.text).join('');
  const at = line.indexOf(context);
  const start = at < 0 ? -1 : line.indexOf(text, at);
  assert.ok(at >= 0 && start >= 0, `"${text}" (in "${context}") is in "${line}"`);
  const end = start + text.length;
  let pos = 0;
  const covering: Token[] = [];
  for (const t of tokens) {
    const tEnd = pos + t.text.length;
    if (tEnd > start && pos < end) covering.push(t);
    pos = tEnd;
  }
  return covering.map((t) => t.scopes).reduce((a, b) => a.filter((s) => b.includes(s)));
}

function hasScope(scopes: string[], prefix: string): boolean {
  return scopes.some((s) => s === prefix || s.startsWith(prefix + '.'));
}

function assertScope(tokens: Token[], text: string, prefix: string, context?: string): void {
  const scopes = scopesOf(tokens, text, context);
  assert.ok(hasScope(scopes, prefix), `"${text}" should have ${prefix}.*, has ${scopes.join(' ')}`);
}

function assertNoScope(tokens: Token[], text: string, prefix: string): void {
  const scopes = scopesOf(tokens, text);
  assert.ok(!hasScope(scopes, prefix), `"${text}" should not have ${prefix}.*, has ${scopes.join(' ')}`);
}

describe('serial monitor grammar', () => {
  it('is the grammar package.json declares for the cpml-monitor language', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
      contributes: { grammars: { language: string; scopeName: string; path: string }[]; languages: { id: string; configuration: string }[] };
    };
    const g = pkg.contributes.grammars.find((x) => x.language === 'cpml-monitor');
    assert.ok(g);
    assert.equal(g.scopeName, SCOPE);
    assert.equal(join(g.path), GRAMMAR_PATH);
    const raw = JSON.parse(readFileSync(GRAMMAR_PATH, 'utf8')) as { scopeName: string };
    assert.equal(raw.scopeName, SCOPE);
    const lang = pkg.contributes.languages.find((x) => x.id === 'cpml-monitor');
    assert.ok(lang);
    const config = JSON.parse(readFileSync(lang.configuration, 'utf8')) as { brackets: unknown[]; wordPattern: string };
    assert.ok(Array.isArray(config.brackets));
    assert.ok(new RegExp(config.wordPattern).test('mnist_samples/sample_00.bin'));
  });

  it('has only regular expressions Oniguruma compiles', () => {
    const found: string[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if ((key === 'match' || key === 'begin' || key === 'end') && typeof value === 'string') found.push(value);
          else walk(value);
        }
      }
    };
    walk(JSON.parse(readFileSync(GRAMMAR_PATH, 'utf8')));
    assert.ok(found.length > 20);
    for (const source of found) assert.doesNotThrow(() => new oniguruma.OnigScanner([source]).dispose(), source);
  });

  it('colours a traceback: header, frame (file, line number, function) and the error line', () => {
    const [header, frame, error] = tokenize(
      ['Traceback (most recent call last):', '  File "code.py", line 12, in <module>', 'ValueError: wrong input size'].join('\n'),
    );
    assertScope(header, 'Traceback (most recent call last):', 'markup.heading');
    assertScope(frame, '"code.py"', 'string.quoted.double');
    assertScope(frame, '12', 'constant.numeric');
    assertScope(frame, '<module>', 'entity.name.function');
    assertScope(error, 'ValueError', 'invalid.illegal');
    assertScope(error, 'wrong input size', 'invalid.illegal');
    assertScope(error, 'ValueError: wrong input size', 'message.error');
  });

  it('colours other exception lines, with or without a message', () => {
    for (const line of ['MemoryError: memory allocation failed, allocating 4096 bytes', 'KeyboardInterrupt', 'OSError: [Errno 5] Input/output error', 'Exception']) {
      assertScope(tokenizeLine(line), line, 'message.error');
    }
  });

  it("colours CircuitPython's own messages", () => {
    const lines = tokenize(
      [
        'Auto-reload is on. Simply save files over USB to run them or enter REPL to disable.',
        'code.py output:',
        'Code done running.',
        'Code stopped by auto-reload. Reloading soon.',
        'Press any key to enter the REPL. Use CTRL-D to reload.',
        'soft reboot',
        'Running in safe mode! Not running saved code.',
        'Adafruit CircuitPython 9.2.1 on 2024-11-20; Raspberry Pi Pico with rp2040',
        '>>> import gc; gc.mem_free()',
        '... ',
        'boot.py output:',
      ].join('\n'),
    );
    assertScope(lines[0], 'Auto-reload is on.', 'comment');
    assertScope(lines[1], 'code.py output:', 'markup.heading');
    assertScope(lines[2], 'Code done running.', 'markup.inserted');
    assertScope(lines[3], 'Code stopped by auto-reload.', 'markup.changed');
    assertScope(lines[4], 'Press any key to enter the REPL.', 'comment');
    assertScope(lines[4], 'CTRL-D', 'keyword');
    assertScope(lines[5], 'soft reboot', 'keyword');
    assertScope(lines[6], 'Running in safe mode!', 'invalid');
    assertScope(lines[7], 'Adafruit CircuitPython', 'markup.heading');
    assertScope(lines[7], '9.2.1', 'constant.numeric');
    assertScope(lines[7], 'Raspberry Pi Pico', 'entity.name.type');
    assertScope(lines[7], 'rp2040', 'entity.name.type');
    assertScope(lines[8], '>>>', 'keyword.control.prompt');
    assertScope(lines[8], 'gc.mem_free()', 'meta.embedded.line.python');
    assertScope(lines[9], '...', 'keyword.control.prompt');
    assertScope(lines[10], 'boot.py output:', 'markup.heading');
  });

  it('colours a prediction line: file path, predicted class and confidence', () => {
    const line = tokenizeLine('File: mnist_samples/sample_00.bin -> Pred: 7 (99.1%)');
    assertScope(line, 'mnist_samples/sample_00.bin', 'string');
    assertScope(line, '7', 'constant.numeric.prediction');
    assertScope(line, '99.1', 'constant.numeric.confidence');
    assertScope(line, '%', 'keyword.other.unit');
    assertScope(line, 'File', 'keyword');
    assertScope(line, 'Pred', 'keyword');
    // Text after the prediction (the monitor check sends a trailing word) keeps the rest intact.
    const trailing = tokenizeLine('File: s.bin -> Pred: 7 (99.1%) café');
    assertScope(trailing, '7', 'constant.numeric.prediction');
    assertNoScope(trailing, 'café', 'constant');
    const label = tokenizeLine('File: img/cat_01.bin -> Pred: cat (87%)');
    assertScope(label, 'cat', 'support.constant.prediction', 'Pred: cat');
    assertScope(label, '87', 'constant.numeric.confidence');
  });

  it('colours machine-readable timing lines key by key', () => {
    const [timing, summary] = tokenize(
      [
        'CPML-TIMING v=1 file=mnist_samples/sample_00.bin load_ms=12.3 infer_ms=150.2 unload_ms=0.4 pred=7 conf=99.1 mem_free=123456',
        'CPML-SUMMARY v=1 n=20 infer_ms_min=148.9 infer_ms_median=150.1 infer_ms_max=152.7',
      ].join('\n'),
    );
    assertScope(timing, 'CPML-TIMING', 'keyword');
    for (const key of ['v', 'file', 'load_ms', 'infer_ms', 'unload_ms', 'pred', 'conf', 'mem_free']) {
      assertScope(timing, key, 'entity.other.attribute-name', ` ${key}=`);
    }
    assertScope(timing, 'load_ms', 'entity.other.attribute-name');
    assertScope(timing, '12.3', 'constant.numeric');
    assertScope(timing, '150.2', 'constant.numeric');
    assertScope(timing, '123456', 'constant.numeric');
    assertScope(timing, 'mnist_samples/sample_00.bin', 'string');
    assertNoScope(timing, 'mnist_samples/sample_00.bin', 'constant.numeric');
    assertScope(summary, 'CPML-SUMMARY', 'keyword');
    assertScope(summary, 'n', 'entity.other.attribute-name', ' n=');
    assertScope(summary, '20', 'constant.numeric');
    assertScope(summary, 'infer_ms_median', 'entity.other.attribute-name');
  });

  it('colours numbers with units in free output', () => {
    const line = tokenizeLine('inference took 150.2 ms, 99.1% sure, 7.1 KB free');
    assertScope(line, '150.2', 'constant.numeric');
    assertScope(line, 'ms', 'keyword.other.unit');
    assertScope(line, '99.1', 'constant.numeric');
    assertScope(line, '%', 'keyword.other.unit');
    assertScope(line, 'KB', 'keyword.other.unit');
    // Not inside words or versions.
    const plain = tokenizeLine('sample_00 rp2040 v1.2');
    assertNoScope(plain, '00', 'constant.numeric');
    assertNoScope(plain, '2040', 'constant.numeric');
  });

  it("colours the extension's own [cpml] status lines", () => {
    const [connected, reconnecting, failed] = tokenize(
      ['[cpml] connected to /dev/ttyACM0', '[cpml] reconnecting…', '[cpml] cannot open COM5: Access denied'].join('\n'),
    );
    assertScope(connected, 'cpml', 'entity.name.tag');
    assertScope(connected, 'connected', 'markup.inserted');
    assertScope(connected, '/dev/ttyACM0', 'string');
    assertScope(connected, ' to ', 'comment');
    assertScope(reconnecting, 'reconnecting', 'markup.changed');
    assertScope(failed, 'cannot', 'invalid');
    assertScope(failed, 'COM5', 'string');
  });

  it('does not let one line leak its colours into the next', () => {
    const lines = tokenize(['[cpml] connected to /dev/ttyACM0', 'CPML-TIMING v=1 infer_ms=1.5', '>>> x = (1,', 'hello world'].join('\n'));
    for (const t of lines[3]) assert.deepEqual(t.scopes, [SCOPE], `"${t.text}" is plain`);
  });
});
