/* eslint-disable no-control-regex -- these tests look for control characters */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CpmlError, describeNode, FirmwareError, formatUserError } from '../../src/core/errors.js';
import { escapeControls, escapeControlsInMessage, jsonForTerminal, listSome, quoted, truncate } from '../../src/core/text/untrustedText.js';

const HOSTILE = 'conv\x1b[2J\x1b]0;owned\x07\u009b31m\u202eevil\x7f\u2028x';

describe('untrusted text', () => {
  it('escapes C0, DEL, C1 and bidi controls so a terminal obeys none of them', () => {
    const out = escapeControls(HOSTILE);
    assert.equal(out, 'conv\\x1b[2J\\x1b]0;owned\\x07\\x9b31m\\u202eevil\\x7f\\u2028x');
    assert.doesNotMatch(out, /[\u0000-\u001f\u007f-\u009f\u202e\u2028]/);
  });

  it('keeps a message\'s own newlines and tabs but escapes carriage returns', () => {
    assert.equal(escapeControlsInMessage('a\n\tb\rc\x1b'), 'a\n\tb\\rc\\x1b');
  });

  it('caps quoted names at 200 characters with an ellipsis, never splitting a surrogate pair', () => {
    const q = quoted('x'.repeat(5000));
    assert.equal(q.length, 202);
    assert.ok(q.endsWith('…\''));
    const cut = truncate('a'.repeat(8) + '😀' + 'b', 10);
    assert.equal(cut, 'a'.repeat(8) + '…');
  });

  it('lists the first ten items and says how many more', () => {
    const items = Array.from({ length: 25 }, (_, i) => `n${i}`);
    assert.equal(listSome(items), 'n0, n1, n2, n3, n4, n5, n6, n7, n8, n9 … and 15 more');
    assert.equal(listSome(['a', 'b']), 'a, b');
  });

  it('writes JSON whose strings carry C1 and bidi controls as \\u escapes, the same value', () => {
    const text = jsonForTerminal({ name: HOSTILE });
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e\u2028]/);
    assert.deepEqual(JSON.parse(text), { name: HOSTILE });
  });
});

describe('formatUserError', () => {
  it('words firmware errors as the board raises them, others as message and hint', () => {
    assert.equal(formatUserError(new FirmwareError('ValueError', 'wrong input size', 'Give it 784 values')),
      'the firmware raises ValueError("wrong input size"): Give it 784 values');
    assert.equal(formatUserError(new CpmlError('the drive is full', 'Free some space')), 'the drive is full. Free some space');
    assert.equal(formatUserError(new CpmlError('the drive is full'), { sentence: true }), 'The drive is full');
  });

  it('escapes what a message quotes and bounds its length', () => {
    const node = describeNode({ name: HOSTILE.repeat(100), index: 3, op: 'Sig\x1bmoid' });
    const text = formatUserError(new CpmlError(`${node}: not supported`.repeat(20)));
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    assert.ok(text.length <= 2000);
    assert.match(node, /^node 'conv\\x1b\[2J/);
    assert.match(node, /\(#3, Sig\\x1bmoid\)$/);
  });
});
