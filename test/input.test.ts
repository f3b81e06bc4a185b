// What vrange reads and writes on the user's behalf: input files (only regular files under a size
// limit, strict UTF-8), scenario documents (bounded, no name that a JavaScript object would
// swallow, no silent duplicate or unknown tag), and output paths (checked before a run, written
// whole). Every refusal is exit 2 with one line, before anything runs.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario, ScenarioError } from '../shared/scenario.js';
import { readInputText, InputError, checkOutputPath, firstBadUtf8 } from '../shared/files.js';
import { documentDepthMax, scenarioFileBytesMax } from '../shared/limits.js';
import { cli, scenarioPath, tempFile } from './helpers.js';

const demo = scenarioPath('fork-cow-purge');
const dir = () => mkdtempSync(join(tmpdir(), 'vrange-input-'));

function refusedAtLoad(t: import('ava').ExecutionContext, text: string, file: string, ...parts: Array<string | RegExp>): void {
  const e = t.throws(() => parseScenario(text, file), { instanceOf: ScenarioError });
  for (const p of parts) {
    if (typeof p === 'string') t.true(e!.message.includes(p), `"${e!.message}" lacks "${p}"`);
    else t.regex(e!.message, p);
  }
  t.false(e!.message.includes('\n'), 'one line');
}

/** exit 2, one line on stderr naming `what`, nothing on stdout (nothing ran), no stack trace. */
async function refused(t: import('ava').ExecutionContext, args: string[], what: RegExp): Promise<void> {
  const r = await cli(args);
  t.is(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  t.is(r.stdout, '', `${args.join(' ')}: nothing runs`);
  t.is(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: one line: ${r.stderr}`);
  t.notRegex(r.stderr, /\n\s+at /, 'no stack trace');
  t.regex(r.stderr, what, args.join(' '));
}

// ---- item 5: what is not a regular file under the size limit is never read

test('readInputText refuses, unread, what is not a regular file or is too large', (t) => {
  const d = dir();
  const fifo = join(d, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(d, 'big.yaml');
  writeFileSync(big, '');
  truncateSync(big, scenarioFileBytesMax + 1); // sparse: nothing is written, and nothing must be read
  const cases: Array<[string, RegExp]> = [
    ['/dev/zero', /is a device/], [fifo, /is a FIFO/], [d, /is a directory/], ['/proc/self/status', /under \/proc/],
    [join(d, 'missing.yaml'), /no such file/], [big, new RegExp(`is ${scenarioFileBytesMax + 1} bytes; at most 16 MiB`)],
  ];
  for (const [path, why] of cases) {
    t.throws(() => readInputText(path, '--thing', scenarioFileBytesMax), { instanceOf: InputError, message: why }, path);
  }
});

test('every command that reads a file refuses a device, a FIFO, a directory, /proc and a missing file with exit 2', async (t) => {
  const d = dir();
  const fifo = join(d, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const bad = ['/dev/zero', fifo, d, '/proc/self/status', join(d, 'missing.yaml')];
  for (const path of bad) {
    await refused(t, ['run', path], /vrange: .*(device|FIFO|directory|under \/proc|no such file)/);
    await refused(t, ['explore', path, '--runs', '1'], /(device|FIFO|directory|under \/proc|no such file)/);
    await refused(t, ['compare', path], /(device|FIFO|directory|under \/proc|no such file)/);
    await refused(t, ['check', path], /check .*(device|FIFO|directory|under \/proc|no such file)/);
    await refused(t, ['run', demo, '--schedule-file', path], /--schedule-file .*(device|FIFO|directory|under \/proc|no such file)/);
    await refused(t, ['kernel', '--listen', 'tcp://127.0.0.1:0', '--key', `${path}.key`, '--trust', path], /(device|FIFO|directory|under \/proc|no such file|cannot be read)/);
  }
  const big = join(d, 'big.yaml');
  writeFileSync(big, '');
  truncateSync(big, 17 * 1024 * 1024);
  await refused(t, ['run', big], /big\.yaml: is 17825792 bytes; at most 16 MiB are read/);
});

test('list refuses a missing directory and a file', async (t) => {
  await refused(t, ['list', '/nonexistent'], /list \/nonexistent: no such directory/);
  await refused(t, ['list', 'README.md'], /list README\.md: is a file, not a directory/);
});

// ---- item 7: nesting and size of free-form values are bounded at load

test('a document nested 100,000 deep inside expect is refused at load with its path, YAML and JSON', async (t) => {
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const yaml = `name: x\nprocesses:\n  A:\n    steps:\n      - op: crash\n        expect: { ok: ${deep} }\n`;
  const json = `{"name":"x","processes":{"A":{"steps":[{"op":"crash","expect":{"ok":${deep}}}]}}}`;
  refusedAtLoad(t, yaml, 'deep.yaml', /deep\.yaml: processes\.A\.steps\[0\]\.expect\.ok\[0\].*nested more than 32 maps and lists deep \(line 6, column \d+\)/);
  refusedAtLoad(t, json, 'deep.json', 'processes.A.steps[0].expect.ok[0]', `nested more than ${documentDepthMax} maps and lists deep`);
  await refused(t, ['run', tempFile('deep.json', json)], /processes\.A\.steps\[0\]\.expect\.ok\[0\].*nested more than 32/);
  await refused(t, ['run', tempFile('deep.yaml', yaml)], /deep\.yaml: .*nested/);
  // block style: `- - - ...` nests without growing indentation
  refusedAtLoad(t, `name: x\nprocesses:\n  A:\n    steps:\n      - op: crash\n        expect:\n          ok:\n            ${'- '.repeat(100_000)}x\n`, 'block.yaml', 'nested more than 32');
});

test('labels, values and check maps are bounded in size at load', (t) => {
  const one = (step: string) => `name: x\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: m, pages: 1 }\n      - ${step}\n`;
  refusedAtLoad(t, one(`{ op: read, map: m, page: 0, label: "${'x'.repeat(5000)}" }`), 'x.yaml', 'processes.A.steps[1].label', 'at most 4096');
  refusedAtLoad(t, one(`{ op: read, map: m, page: 0, expect: { value: "${'x'.repeat(20000)}" } }`), 'x.yaml', 'processes.A.steps[1].expect.value', 'at most 16384');
  const keys = Array.from({ length: 5000 }, (_, i) => `"k${i}": 1`).join(', ');
  refusedAtLoad(t, `{"name":"x","processes":{"A":{"steps":[{"op":"crash","expect":{${keys}}}]}}}`, 'x.json', 'processes.A.steps[0].expect', 'a map of 5000 keys; at most 4096');
});

test('a string with a lone surrogate (no UTF-8 encoding) is refused at load, in JSON and YAML', (t) => {
  refusedAtLoad(t, '{"name":"x","processes":{"A":{"steps":[{"op":"crash","label":"a\\ud800b"}]}}}', 'x.json', 'processes.A.steps[0].label', 'lone surrogate');
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [ { op: crash, label: "\\udc00" } ] }\n', 'x.yaml', 'processes.A.steps[0].label', 'lone surrogate');
  t.notThrows(() => parseScenario('name: x\nprocesses:\n  A: { steps: [ { op: crash, label: "\\ud83d\\ude00 ok" } ] }\n', 'x.yaml'));
});

test('a YAML value of a type a scenario cannot hold (binary) is refused', (t) => {
  // A YAML 1.1 type: refused by its tag, with its line, before any value is built (test/yaml-rules.test.ts).
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [ { op: crash, label: !!binary aGVsbG8= } ] }\n', 'x.yaml', /^x\.yaml: invalid YAML at line 3, column 37: the tag !!binary is a YAML 1\.1 type/);
});

// ---- item 11: names a JavaScript object would swallow, duplicates, tags, encoding

test('a process named __proto__ is refused, not silently dropped', async (t) => {
  const text = 'name: x\nprocesses:\n  __proto__: { steps: [ { op: crash } ] }\n  A: { steps: [] }\n';
  refusedAtLoad(t, text, 'p.yaml', 'processes.__proto__', '"__proto__" is not allowed');
  refusedAtLoad(t, '{"name":"x","processes":{"__proto__":{"steps":[]},"A":{"steps":[]}}}', 'p.json', 'processes.__proto__');
  refusedAtLoad(t, 'name: x\nfiles: [ { name: __proto__, pages: 1 } ]\nprocesses: {}\n', 'p.yaml', 'files[0].name', 'not __proto__');
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [ { op: crash, expect: { __proto__: { ok: true } } } ] }\n', 'p.yaml', 'processes.A.steps[0].expect.__proto__');
  await refused(t, ['run', tempFile('p.yaml', text)], /processes\.__proto__/);
});

test('names like constructor, toString, hasOwnProperty and valueOf work end to end', async (t) => {
  const text = `name: proto-names
files: [ { name: toString, pages: 2 }, { name: hasOwnProperty, pages: 1, kind: ashmem } ]
processes:
  constructor:
    steps:
      - { op: open, file: toString, fd: valueOf }
      - { op: mmap, as: hasOwnProperty, pages: 2, fd: valueOf, share: shared }
      - { op: write, map: hasOwnProperty, page: 0, value: "a" }
      - { op: fvrange, fd: valueOf, page: 0, pages: 2, mode: volatile }
      - { op: fork, child: toString }
      - { op: signal, name: constructor }
      - { op: waitpid, process: toString, expect: { ok: true, exitCode: 0 } }
  toString:
    forked: true
    steps:
      - { op: wait, name: constructor }
      - { op: read, map: hasOwnProperty, page: 0, expect: { ok: true, value: "a" } }
      - { op: open, file: hasOwnProperty, fd: isPrototypeOf, expect: { ok: true } }
  valueOf:
    steps:
      - { op: wait, name: constructor }
kernel:
  - { op: waitpid, process: constructor }
  - { op: waitpid, process: valueOf }
  - { op: reclaim, all: true, expect: { ok: true } }
  - { op: check, processes: { constructor: exited, toString: exited, valueOf: exited }, files: { toString: { open: 0, mapped: 0, volatile: [] }, hasOwnProperty: { open: 0, mapped: 0 } } }
`;
  const path = tempFile('proto-names.yaml', text);
  const trace = join(dir(), 'trace.jsonl');
  const r = await cli(['run', path, '--seed', '3', '--check-model', '--json', '--trace', trace]);
  t.is(r.code, 0, r.stdout + r.stderr);
  const report = JSON.parse(r.stdout);
  t.deepEqual(report.kernel.processes.map((p: { name: string; state: string }) => [p.name, p.state]),
    [['constructor', 'exited'], ['toString', 'exited'], ['valueOf', 'exited']]);
  t.is(report.steps.length, 15);
  t.true(report.invariants.every((i: { ok: boolean }) => i.ok));
  const c = await cli(['check', trace]);
  t.is(c.code, 0, c.stdout + c.stderr);
  // a check naming such a process or file really compares it
  const wrong = text.replace('constructor: exited, toString: exited', 'constructor: running, toString: exited');
  const w = await cli(['run', tempFile('proto-wrong.yaml', wrong), '--seed', '3', '--json']);
  t.is(w.code, 1);
  t.deepEqual(JSON.parse(w.stdout).failures[0].actual.mismatches, [{ field: 'processes.constructor', expected: 'running', actual: 'exited' }]);
});

test('duplicate keys are refused in JSON as in YAML, with the place', (t) => {
  refusedAtLoad(t, '{"name":"x","name":"y","processes":{}}', 'd.json', 'invalid JSON at line 1, column 13: duplicate key');
  refusedAtLoad(t, '{"name":"x",\n "processes":{"A":{"steps":[]},\n "A":{"steps":[]}}}', 'd.json', 'line 3, column 2: duplicate key');
  refusedAtLoad(t, 'name: x\nname: y\nprocesses: {}\n', 'd.yaml', 'invalid YAML at line 2');
});

test('YAML keys written two ways that name one key (true and "true", 1 and "1", an alias of a key) are refused, not the first dropped', (t) => {
  const twice = /is given twice in one map \(first at line \d+, column \d+, written another way\); each key may appear once/;
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [] }\n  true: { steps: [] }\n  "true": { steps: [] }\n', 'k.yaml',
    'k.yaml: processes.true: invalid YAML at line 5, column 3', twice);
  refusedAtLoad(t, 'name: x\nfiles: [ { name: "1", pages: 1 } ]\nprocesses:\n  A: { steps: [] }\nkernel:\n  - { op: check, files: { 1: { open: 0 }, "1": { open: 1 } } }\n', 'k.yaml',
    'kernel[0].files["1"]: invalid YAML at line 6', twice);
  // An alias of an anchored key: the second process A would replace the first, steps and all.
  refusedAtLoad(t, 'name: x\nprocesses:\n  &k A:\n    steps: [ { op: mmap, as: m, pages: 1 } ]\n  *k :\n    steps: []\n', 'k.yaml', 'processes.A: invalid YAML at line 5, column 3', twice);
  refusedAtLoad(t, 'name: &n A\nprocesses:\n  A: { steps: [] }\n  *n : { steps: [ { op: exit } ] }\n', 'k.yaml', 'processes.A:', twice);
  // A key that is a map or a list has no name in the data but its YAML text: refused.
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [] }\nkernel:\n  - op: check\n    expect:\n      mismatches:\n        - field: f\n          expected: { ? [a] : 1 }\n', 'k.yaml',
    'kernel[0].expect.mismatches[0].expected: invalid YAML at line 9', 'a key that is a map or a list');
  // Still fine: one alias reused as a value. (A merge key `<<` is refused: test/yaml-rules.test.ts.)
  t.notThrows(() => parseScenario('name: x\nprocesses:\n  A:\n    steps:\n      - &s { op: mmap, as: m, pages: 1 }\n  B:\n    steps:\n      - *s\n', 'k.yaml'));
});

test('an unknown YAML tag is refused, not read as its plain value', (t) => {
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [ { op: mmap, as: m, pages: !fred 1 } ] }\n', 't.yaml', 'invalid YAML at line 3', 'Unresolved tag: !fred');
});

test('a value that does not fit its core tag (!!float 1, !!bool yes) is refused as such, not as an unknown tag the message then lists as allowed', (t) => {
  const doc = (v: string) => `name: x\nprocesses:\n  A: { steps: [ { op: mmap, as: m, pages: ${v} } ] }\n`;
  for (const [v, takes] of [['!!float 1', 'a number with a point or an exponent'], ['!!bool yes', 'true or false'], ['!!int 1.5', 'a whole number'], ['!!seq { b: 1 }', 'a list'], ['!!null x', 'null, ~ or nothing']]) {
    const e = t.throws(() => parseScenario(doc(v!), 't.yaml'), { instanceOf: ScenarioError })!;
    t.regex(e.message, new RegExp(`^t\\.yaml: invalid YAML at line 3, column 43: the value tagged !!\\w+ is not one that tag reads; !!\\w+ takes ${takes}`), v);
    t.notRegex(e.message, /Unresolved tag/, v);
  }
  t.is(parseScenario(doc('!!int 2'), 't.yaml').processes[0]!.steps[0]!.op, 'mmap');
});

test('invalid UTF-8 is refused with its byte offset and line', async (t) => {
  const bytes = Buffer.concat([Buffer.from('name: x\nprocesses:\n  A: { steps: [ { op: crash, label: "'), Buffer.from([0xff, 0xfe]), Buffer.from('" } ] }\n')]);
  t.is(firstBadUtf8(bytes), 'byte offset 56 (line 3)');
  t.is(firstBadUtf8(Buffer.from('héllo ✓ 😀')), undefined);
  t.is(firstBadUtf8(Buffer.from([0x61, 0xe2, 0x9c])), 'byte offset 1 (line 1)', 'a character cut short at the end');
  t.is(firstBadUtf8(Buffer.from([0x61, 0xed, 0xa0, 0x80])), 'byte offset 2 (line 1)', 'an encoded surrogate');
  const path = join(dir(), 'bad.yaml');
  writeFileSync(path, bytes);
  await refused(t, ['run', path], /bad\.yaml: is not UTF-8 text: invalid byte at byte offset 56 \(line 3\)/);
});

test('a byte-order mark is accepted in JSON and in YAML alike', async (t) => {
  const doc = { name: 'bom', processes: { A: { steps: [{ op: 'mmap', as: 'm', pages: 1, expect: { ok: true } }] } } };
  for (const [name, text] of [['bom.json', JSON.stringify(doc)], ['bom.yaml', 'name: bom\nprocesses:\n  A: { steps: [ { op: mmap, as: m, pages: 1, expect: { ok: true } } ] }\n']] as const) {
    const path = join(dir(), name);
    writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    const r = await cli(['run', path, '--seed', '1', '--json']);
    t.is(r.code, 0, name + r.stderr);
    t.is(JSON.parse(r.stdout).scenario, 'bom');
    // One mark is dropped, not two (or, in YAML, three: the parser drops one more itself).
    const two = join(dir(), name);
    writeFileSync(two, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    await refused(t, ['run', two, '--seed', '1'], new RegExp(`${name.replace('.', '\\.')}: starts with two byte-order marks \\(U\\+FEFF\\); one is allowed at the start, and dropped`));
    refusedAtLoad(t, '\ufeff\ufeff' + text, name, 'starts with two byte-order marks');
  }
});

test('an expect field that no result of the op can have is refused at load, with the allowed fields', (t) => {
  const one = (step: string) => `name: x\nfiles: [ { name: cache, pages: 1 } ]\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: m, pages: 1 }\n      - ${step}\n`;
  refusedAtLoad(t, one('{ op: read, map: m, page: 0, expect: { fred: 5 } }'), 'x.yaml', 'processes.A.steps[1].expect.fred',
    'allowed fields for expect of op read: ok, errno, signal, stuck, value, byPolicy');
  refusedAtLoad(t, one('{ op: read, map: m, page: 0, expect: { vaule: x } }'), 'x.yaml', 'did you mean "value"?');
  refusedAtLoad(t, one('{ op: write, map: m, page: 0, value: a, expect: { value: a } }'), 'x.yaml', 'processes.A.steps[1].expect.value', 'op write');
  refusedAtLoad(t, one('{ op: read, map: m, page: 0, expect: { byPolicy: { default: { purged: true } } } }'), 'x.yaml',
    'processes.A.steps[1].expect.byPolicy.default.purged', 'allowed fields for a result of op read');
  refusedAtLoad(t, one('{ op: read, map: m, page: 0, expect: { ok: "yes" } }'), 'x.yaml', 'processes.A.steps[1].expect.ok', 'true or false');
  refusedAtLoad(t, 'name: x\nprocesses: {}\nkernel: [ { op: reclaim, all: true, expect: { bytes: 1 } } ]\n', 'x.yaml', 'kernel[0].expect.bytes', 'freed');
  // every field of the spec's table loads on its op
  for (const step of ['{ op: open, file: cache, fd: c, expect: { ok: true, fd: 3 } }', '{ op: read, map: m, page: 0, expect: { value: "", errno: EFAULT, signal: SIGBUS, stuck: true } }',
    '{ op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile, expect: { bytes: 4096, purged: false } }',
    '{ op: query, map: m, page: 0, pages: 1, expect: { pages: [ { page: 0, resident: false, volatile: false, purged: false } ] } }']) {
    t.notThrows(() => parseScenario(one(step), 'x.yaml'), step);
  }
});

test('"did you mean" for unknown fields, ops, enums, processes, signals and bindings', (t) => {
  const one = (step: string) => `name: x\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: buf, pages: 1 }\n      - ${step}\n  Child: { forked: true, steps: [] }\n`;
  refusedAtLoad(t, one('{ op: raed, map: buf, page: 0 }'), 'x.yaml', 'unknown op "raed"', 'did you mean "read"?');
  refusedAtLoad(t, one('{ op: read, map: buf, pgae: 0 }'), 'x.yaml', 'unknown field "pgae"', 'did you mean "page"?');
  refusedAtLoad(t, one('{ op: mmap, as: m, pages: 1, share: shraed }'), 'x.yaml', 'did you mean "shared"?');
  refusedAtLoad(t, 'name: x\npolicy: per-mn\nprocesses: {}\n', 'x.yaml', 'policy', 'did you mean "per-mm"?');
  refusedAtLoad(t, one('{ op: fork, child: Chlid }'), 'x.yaml', 'unknown process "Chlid"', 'did you mean "Child"?');
  refusedAtLoad(t, one('{ op: waitpid, process: a }'), 'x.yaml', 'did you mean "A"?');
  refusedAtLoad(t, one('{ op: read, map: bfu, page: 0 }'), 'x.yaml', 'did you mean "buf"?');
  refusedAtLoad(t, 'name: x\nprocesses:\n  A: { steps: [ { op: wait, name: ready } ] }\nkernel: [ { op: signal, name: raedy } ]\n', 'x.yaml', 'did you mean "raedy"?');
  refusedAtLoad(t, 'name: x\nfiles: [ { name: cache, pages: 1 } ]\nprocesses: {}\nkernel: [ { op: check, files: { cahce: { open: 0 } } } ]\n', 'x.yaml',
    'kernel[0].files.cahce', 'did you mean "cache"?');
});

test('mode: volatil stays a run-time EINVAL, and vrange run warns with "did you mean"', async (t) => {
  const text = 'name: x\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: m, pages: 1 }\n      - { op: vrange, map: m, page: 0, pages: 1, mode: volatil, expect: { errno: EINVAL } }\n';
  const r = await cli(['run', tempFile('mode.yaml', text), '--seed', '1', '--json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout).steps[1].result, { ok: false, errno: 'EINVAL' });
  t.regex(r.stderr, /processes\.A\.steps\[1\]\.mode: warning: mode "volatil" .* gives EINVAL; did you mean "volatile"\?/);
});

// ---- item 9: output paths are checked before anything runs, and written whole

test('a bad output path is refused before the run, with exit 2 and one line', async (t) => {
  const d = dir();
  mkdirSync(join(d, 'sub'));
  await refused(t, ['run', demo, '--trace', '/nonexistent/x'], /--trace \/nonexistent\/x: the directory \/nonexistent does not exist/);
  await refused(t, ['run', demo, '--html', '/nonexistent/x.html'], /--html/);
  await refused(t, ['run', demo, '--trace', join(d, 'sub')], /--trace .*sub: is a directory/);
  await refused(t, ['run', demo, '--trace', '/proc/self/nope'], /under \/proc/);
  await refused(t, ['run', demo, '--html', '/sys/nope.html'], /under \/sys/);
  await refused(t, ['run', demo, '--trace', '/dev/null'], /--trace \/dev\/null: is under \/dev/);
  await refused(t, ['run', demo, '--trace', join(demo, 'x')], /is not a directory/);
  await refused(t, ['explore', demo, '--all', '--html', '/nonexistent/x.html'], /--html \/nonexistent\/x\.html/);
  await refused(t, ['keygen', '--out', '/sys/nope'], /--out \/sys\/nope: is under \/sys/);
  await refused(t, ['keygen', '--out', '/proc/nope'], /--out \/proc\/nope: is under \/proc/);
  await refused(t, ['keygen', '--out', join(demo, 'keys')], /is a file, not a directory/);
  t.throws(() => checkOutputPath('', '--trace'), { instanceOf: InputError, message: /--trace: the path is empty/ });
  // A path that names a directory by its form, whether or not it exists: never written as a file of the name before the slash.
  for (const p of [join(d, 'new.html') + '/', join(d, 'new.html') + '/.', join(d, 'x') + '/..', '.', '..']) {
    await refused(t, ['run', demo, '--html', p], /--html .*: ends with .*, so it names a directory; give a file to write/);
    await refused(t, ['run', demo, '--trace', p], /--trace .*: ends with .*, so it names a directory/);
  }
  t.false(existsSync(join(d, 'new.html')));
});

test('outputs are written whole: an existing file is replaced and no temporary file is left', async (t) => {
  const d = dir();
  const trace = join(d, 'trace.jsonl');
  const html = join(d, 'run.html');
  writeFileSync(trace, 'old\n');
  const r = await cli(['run', demo, '--seed', '2', '--trace', trace, '--html', html]);
  t.is(r.code, 0, r.stderr);
  t.true(readFileSync(trace, 'utf8').startsWith('{'));
  t.true(readFileSync(html, 'utf8').includes('<html'));
  t.deepEqual(readdirSync(d).sort(), ['run.html', 'trace.jsonl']);
  const k = await cli(['keygen', '--out', join(d, 'keys'), '--name', 'a']);
  t.is(k.code, 0, k.stderr);
  t.deepEqual(readdirSync(join(d, 'keys')).sort(), ['a.key', 'a.pub']);
  t.true(existsSync(join(d, 'keys', 'a.key')));
});

// ---- what loads must run: a field's largest value reaches the kernel as a step's error, never a protocol breach

test('fvrange\'s byte form past every file (offsets up to 2^53 bytes load) is EINVAL, as the model says, not a dead agent', async (t) => {
  const path = tempFile('fvrange-far.yaml', `name: fvrange-far
files: [ { name: f, pages: 2 } ]
processes:
  A:
    steps:
      - { op: open, file: f }
      - { op: fvrange, fd: f, byteOffset: 9007199254736896, byteLength: 4096, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: fvrange, fd: f, byteOffset: 0, byteLength: 9007199254740991, mode: nonvolatile, expect: { ok: false, errno: EINVAL } }
      - { op: fvrange, fd: f, byteOffset: 8192, byteLength: 4096, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: fvrange, fd: f, byteOffset: 4096, byteLength: 4096, mode: volatile, expect: { ok: true, bytes: 4096 } }
      - { op: close, fd: f }
      - { op: fvrange, fd: f, byteOffset: 9007199254736896, byteLength: 4096, mode: volatile, expect: { ok: false, errno: EBADF } }
`);
  for (const policy of ['shared-file', 'madv-free']) {
    const r = await cli(['run', path, '--seed', '1', '--json', '--check-model', '--policy', policy]);
    if (policy === 'madv-free') { t.is(r.code, 1, r.stderr); continue; } // every fvrange is EINVAL there: two expectations fail
    t.is(r.code, 0, r.stderr);
    t.notRegex(r.stderr, /broke the protocol|bug in vrange/);
    const report = JSON.parse(r.stdout);
    t.true(report.invariants.every((i: { ok: boolean }) => i.ok), JSON.stringify(report.invariants));
    t.is(report.steps.length, 7);
  }
});

test('a file name with a newline stays in its line: vrange check and vrange list cannot be made to print a line of their own', async (t) => {
  const d = dir();
  const trace = join(d, 'ok.jsonl');
  const r = await cli(['run', demo, '--seed', '1', '--trace', trace, '--quiet']);
  t.is(r.code, 0, r.stderr);
  const fake = join(d, 'x\nFAKE: valid.jsonl');
  writeFileSync(fake, readFileSync(trace));
  const c = await cli(['check', fake]);
  t.is(c.code, 0, c.stderr);
  t.is(c.stdout.trim().split('\n').length, 1, c.stdout);
  t.true(c.stdout.includes('x\\u{a}FAKE: valid.jsonl: valid'), c.stdout);
  const l = join(d, 'list');
  mkdirSync(l);
  writeFileSync(join(l, 'a\nFAKE-ROW.yaml'), 'name: x\n');
  writeFileSync(join(l, 'b\nc.yaml'), 'name: b\ndescription: "one\\ntwo"\nprocesses: { A: { steps: [] } }\n');
  const ls = await cli(['list', l]);
  t.is(ls.code, 0, ls.stderr);
  const lines = ls.stdout.trimEnd().split('\n');
  t.is(lines.length, 3, ls.stdout); // the bad file's row, and the good one's two lines
  t.regex(lines[0]!, /^a\\u\{a\}FAKE-ROW\.yaml +INVALID: .*a\\u\{a\}FAKE-ROW\.yaml: /);
  t.regex(lines[1]!, /^b +.*b\\u\{a\}c\.yaml$/);
  t.is(lines[2], '    one');
});

test('an op key in the wrong case (`Op: read`) is named with "did you mean op", through the CLI', async (t) => {
  const d = dir();
  const file = join(d, 'op-case.yaml');
  writeFileSync(file, 'name: op-case\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: m, pages: 1 }\n      - { Op: read, map: m, page: 0 }\n');
  await refused(t, ['run', file], /op-case\.yaml: processes\.A\.steps\[1\]\.Op: unknown field "Op"; did you mean "op"\?/);
  refusedAtLoad(t, '{"name":"k","processes":{},"kernel":[{"OP":"reclaim","all":true}]}', 'k.json', 'kernel[0].OP: unknown field "OP"; did you mean "op"?');
});
