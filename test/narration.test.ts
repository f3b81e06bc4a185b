// The narrated output shows every value as it is, but nothing a terminal would act on: a value, a
// label or an expectation cannot move the cursor, colour the screen or reverse the text after it.

import test from 'ava';
import fc from 'fast-check';
import { printableJson } from '../shared/printable.js';
import { cli, tempFile } from './helpers.js';

const actsOnTerminal = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]/u;

test('printableJson: nothing a terminal acts on survives, and the text still parses back to the value', (t) => {
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
    const shown = printableJson(s);
    if (actsOnTerminal.test(shown)) return false;
    // Escapes are JSON's own (a UTF-16 pair past the BMP), so every string reads back exactly: a --json document stays JSON.
    return JSON.parse(shown) === s;
  }), { numRuns: 2000 });
  t.is(printableJson('x\u001b[31m\u202e\u0085'), '"x\\u001b[31m\\u202e\\u0085"');
  t.is(printableJson('\u{f0000}\u{e0001}'), '"\\udb80\\udc00\\udb40\\udc01"');
  t.deepEqual(JSON.parse(printableJson({ a: ['\u{f0000}'] }, 2)), { a: ['\u{f0000}'] });
});

test('a run narrates a written value with escapes in it escaped, in the step, its result and its label', async (t) => {
  const file = tempFile('esc.yaml', [
    'name: esc',
    'processes:',
    '  A:',
    '    steps:',
    '      - { op: mmap, as: m, pages: 1 }',
    '      - { op: write, map: m, page: 0, value: "x\\u001b[31mred\\u202eevil\\u0085", label: "l\\u202ebl" }',
    '      - { op: read, map: m, page: 0, expect: { value: "nope\\u001b[2J" } }',
    '',
  ].join('\n'));
  const r = await cli(['run', file, '--seed', '1']);
  t.is(r.code, 1, 'the expectation fails');
  t.false(actsOnTerminal.test(r.stdout.replace(/\n/g, '')), 'no raw control or format character in the output');
  t.regex(r.stdout, /#2 read .* value="x\\u001b\[31mred\\u202eevil\\u0085"/);
  t.regex(r.stdout, /\(l\\u\{202e\}bl\)/);
  t.regex(r.stdout, /EXPECTED \{"value":"nope\\u001b\[2J"\}/);
});

test('a description, a file name and a path with escapes in them reach the terminal escaped', async (t) => {
  const file = tempFile('esc\u001b[2J.yaml', [
    'name: esc',
    'description: "clear\\u001b[2J the screen\\u202e reversed"',
    'files: [ { name: "f\\u001b]0;title\\u0007", pages: 1 } ]',
    'processes:',
    '  A:',
    '    steps:',
    '      - { op: open, file: "f\\u001b]0;title\\u0007", fd: f }',
    '      - { op: close, fd: f }',
    '',
  ].join('\n'));
  const r = await cli(['run', file, '--seed', '1']);
  t.is(r.code, 0, r.stdout + r.stderr);
  for (const line of r.stdout.split('\n')) t.false(actsOnTerminal.test(line), line);
  t.regex(r.stdout, /clear\\u\{1b\}\[2J the screen\\u\{202e\} reversed/);
  const listed = await cli(['list', file.replace(/\/[^/]*$/, '')]);
  for (const line of listed.stdout.split('\n')) t.false(actsOnTerminal.test(line), line);
});
