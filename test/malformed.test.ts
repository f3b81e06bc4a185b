// Malformed scenarios the loader refuses with a message that says what was written and where: the
// classes a generated sweep of several hundred malformed files found (numbers YAML reads as .nan
// or .inf, expectations no result can match, JSON mistakes JSON.parse places by a quote of the
// text, names with line breaks, keys a dotted path cannot show, YAML's duplicate keys).
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseScenario, ScenarioError } from '../shared/scenario.js';
import { jsonErrorOffset } from '../shared/scenario_text.js';
import { cli } from './helpers.js';

function refusedAt(t: ExecutionContext, text: string, file: string, path: string, ...parts: Array<string | RegExp>): ScenarioError {
  const e = t.throws(() => parseScenario(text, file), { instanceOf: ScenarioError })!;
  t.is(e.path, path, e.message);
  for (const p of parts) {
    if (typeof p === 'string') t.true(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    else t.regex(e.message, p);
  }
  t.false(/\n|\r|\u2028/.test(e.message), `one line: ${JSON.stringify(e.message)}`);
  t.notRegex(e.message, text.includes('NaN') ? /\bundefined\b|\[object Object\]/ : /\bNaN\b|\bundefined\b|\[object Object\]/);
  return e;
}

/** Through the real CLI, in a TMPDIR of its own: exit 2, one stderr line, nothing on stdout, no file made. */
async function refusedByCli(t: ExecutionContext, name: string, text: string, what: RegExp): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-malformed-'));
  const tmp = join(dir, 'tmp');
  const file = join(dir, name);
  writeFileSync(file, text);
  await import('node:fs').then((fs) => fs.mkdirSync(tmp));
  const r = await cli(['run', file, '--trace', join(dir, 'h.jsonl'), '--html', join(dir, 'r.html')], undefined, { TMPDIR: tmp });
  t.is(r.code, 2, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr.trimEnd().split('\n').length, 1, `one line: ${r.stderr}`);
  t.true(r.stderr.includes(file), r.stderr);
  t.regex(r.stderr, what);
  t.notRegex(r.stderr, /\bNaN\b|\bundefined\b|\[object Object\]|\n\s+at /);
  t.false(existsSync(join(dir, 'h.jsonl')) || existsSync(join(dir, 'r.html')), 'no output file');
  t.deepEqual(readdirSync(tmp), [], 'no run folder');
  return r.stderr;
}

const oneProcess = (step: string, before = '{ op: mmap, as: b, pages: 1 }') => `name: x\nprocesses:\n  A:\n    steps:\n      - ${before}\n      - ${step}\n`;

// ---- numbers YAML (and JSON) read as not-a-number or infinity

test('.nan, .inf and 1e400 in a whole-number field are named as written, never as NaN', async (t) => {
  for (const v of ['.nan', '.NaN', '.NAN']) {
    refusedAt(t, `name: x\nmemory: { frames: ${v} }\nprocesses: {}\n`, 'n.yaml', 'memory.frames', 'got not a number (.nan)', 'a whole number >= 1');
  }
  refusedAt(t, oneProcess('{ op: read, map: b, page: .inf }'), 'n.yaml', 'processes.A.steps[1].page', 'got an infinite number (.inf, or one too large to hold such as 1e400)');
  refusedAt(t, oneProcess('{ op: exit, code: -.inf }'), 'n.yaml', 'processes.A.steps[1].code', 'got an infinite number (-.inf', 'from 0 to 255');
  refusedAt(t, oneProcess('{ op: read, map: b, page: 1e400 }'), 'n.yaml', 'processes.A.steps[1].page', 'got an infinite number');
  refusedAt(t, '{"name":"x","memory":{"frames":1e400},"processes":{}}', 'n.json', 'memory.frames', 'got an infinite number');
  const err = await refusedByCli(t, 'nan.yaml', `name: x\nfiles: [ { name: f, pages: .nan } ]\nprocesses: {}\n`, /files\[0\]\.pages: expected a whole number >= 1 \(at most 4000000\), got not a number \(\.nan\)/);
  t.notRegex(err, /NaN/);
});

// ---- expectations that no result could match

test('an expected addr or bytes that is not a whole number >= 0 is refused at load, not a failure at run time', async (t) => {
  for (const v of ['1.5', '-1', '.nan', '.inf', '1e400', '"4096"']) {
    refusedAt(t, oneProcess(`{ op: vrange, map: b, page: 0, pages: 1, mode: volatile, expect: { bytes: ${v} } }`), 'e.yaml', 'processes.A.steps[1].expect.bytes', 'expected a whole number >= 0');
    refusedAt(t, `name: x\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: b, pages: 1, expect: { addr: ${v} } }\n`, 'e.yaml', 'processes.A.steps[0].expect.addr', 'expected a whole number >= 0');
    refusedAt(t, oneProcess(`{ op: vrange, map: b, page: 0, pages: 1, mode: volatile, expect: { byPolicy: { default: { bytes: ${v} } } } }`), 'e.yaml', 'processes.A.steps[1].expect.byPolicy.default.bytes');
  }
  // What a run can give still loads.
  t.notThrows(() => parseScenario(oneProcess('{ op: vrange, map: b, page: 0, pages: 1, mode: volatile, expect: { bytes: 4096 } }', '{ op: mmap, as: b, pages: 1, expect: { addr: 4096 } }'), 'ok.yaml'));
  // Before, a run of it failed (exit 1) on an expectation nothing could meet.
  await refusedByCli(t, 'bytes.yaml', oneProcess('{ op: vrange, map: b, page: 0, pages: 1, mode: volatile, expect: { bytes: 4096.5 } }'), /expect\.bytes: expected a whole number >= 0/);
});

// ---- JSON mistakes: the place, one line, what JSON allows

test('a JSON mistake is placed by line and column, on one line, whatever JSON.parse quoted', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['// a comment\n{"name":"x","processes":{}}', 'line 1, column 1', /Unexpected token '\/' \(JSON has no comments\)/],
    ['{"name":"x",\n  "memory": {"frames": NaN},\n "processes":{}}', 'line 2, column 24', /NaN and Infinity are not JSON numbers/],
    ['{"name":"x","processes":{}}\n{"name":"y"}', 'line 2, column 1', /after JSON/],
    ["{'name':'x'}", 'line 1, column 2', /double quotes/],
    ['{"name":"x","processes":{},}', 'line 1, column 28', /Expected double-quoted property name/],
    ['{"name":"x",\n"processes":', 'line 2, column 13', /Unexpected end of JSON input/],
  ];
  for (const [text, where, what] of cases) {
    const e = refusedAt(t, text, 'j.json', '', `invalid JSON at ${where}: `, what, 'a .json scenario is strict JSON');
    t.notRegex(e.message, /is not valid JSON|at position/, e.message);
  }
  await refusedByCli(t, 'comment.json', '// c\n{"name":"x","processes":{}}\n', /comment\.json: invalid JSON at line 1, column 1: .*no comments/);
});

test('jsonErrorOffset agrees with JSON.parse on valid JSON and on thousands of broken texts', (t) => {
  const valid = JSON.stringify({ name: 'x', a: [1, -2.5e3, true, false, null, 'q\\"\u00e9\n\u{1f600}', {}, [], [[{ b: 0 }]]], c: { d: '' } }, null, 1);
  t.is(jsonErrorOffset(valid), -1);
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const chars = ['{', '}', '[', ']', ',', ':', '"', '\\', '1', '-', '.', 'e', 'n', 't', ' ', '\n', '\u0001', 'x', '0'];
  for (let k = 0; k < 3000; k++) {
    let s = valid;
    for (let m = 0; m <= rand(3); m++) {
      const at = rand(s.length + 1);
      const op = rand(3);
      s = op === 0 ? s.slice(0, at) + s.slice(at + 1) : op === 1 ? s.slice(0, at) + chars[rand(chars.length)] + s.slice(at) : s.slice(0, at);
    }
    let ok = true;
    try { JSON.parse(s); } catch { ok = false; }
    const off = jsonErrorOffset(s);
    t.is(off === -1, ok, JSON.stringify(s));
    if (!ok) {
      const pos = /at position (\d+)/.exec((() => { try { JSON.parse(s); return ''; } catch (e) { return (e as Error).message; } })());
      if (pos) t.is(off, Number(pos[1]), JSON.stringify(s));
    }
  }
});

// ---- a name with a line break; a key a dotted path cannot show

test('a message quoting a name with a line break stays one line', async (t) => {
  const json = (o: unknown) => JSON.stringify(o);
  refusedAt(t, json({ name: 'x', processes: { A: { steps: [{ op: 'wait', name: 'go\nvrange: all ok' }] } } }), 'l.json', 'processes.A.steps[0].name', 'nothing can ever signal "go\\nvrange: all ok"');
  refusedAt(t, json({ name: 'x', processes: { A: { steps: [{ op: 'read', map: 'm\r\n', page: 0 }] } } }), 'l.json', 'processes.A.steps[0].map', 'map "m\\r\\n" is used before');
  refusedAt(t, json({ name: 'x', files: [{ name: 'f\u2028', pages: 1 }, { name: 'f\u2028', pages: 1 }], processes: {} }), 'l.json', 'files[1].name', 'duplicate file name "f\\u2028"');
  await refusedByCli(t, 'nl.json', json({ name: 'x', processes: { A: { steps: [{ op: 'waitpid', process: 'B\nvrange: fine' }] } } }), /unknown process "B\\nvrange: fine"/);
});

test('a key that is not a plain name is quoted in the path', (t) => {
  refusedAt(t, 'name: x\nprocesses:\n  1.5: { steps: [] }\n', 'k.yaml', 'processes["1.5"]', 'process name "1.5" is not allowed');
  refusedAt(t, 'name: x\nprocesses:\n  "": { steps: [] }\n', 'k.yaml', 'processes[""]', 'process name "" is not allowed');
  refusedAt(t, 'name: x\nfiles: [ { name: f, pages: 1 } ]\nprocesses: {}\nkernel:\n  - { op: check, files: { "a.b c": { open: 0 } } }\n', 'k.yaml', 'kernel[0].files["a.b c"]', 'unknown file "a.b c"');
  refusedAt(t, 'name: x\nprocesses:\n  A: { steps: [ { op: crash, "x[0]": 1 } ] }\n', 'k.yaml', 'processes.A.steps[0]["x[0]"]', 'unknown field "x[0]"');
  // Names stay dotted: processes, policies, fields.
  refusedAt(t, 'name: x\nprocesses:\n  my-proc_2: { steps: [ { op: crash, expect: { byPolicy: { per-mm: { value: 1 } } } } ] }\n', 'k.yaml',
    'processes.my-proc_2.steps[0].expect.byPolicy.per-mm.value');
});

// ---- YAML duplicate keys: which key, in which map, and where it was first

test('a YAML key given twice is named with its map and both places', (t) => {
  refusedAt(t, 'name: x\nname: y\nprocesses: {}\n', 'd.yaml', 'name', 'invalid YAML at line 2, column 1: the key "name" is given twice in one map (first at line 1, column 1); each key may appear once');
  refusedAt(t, 'name: x\nprocesses:\n  A: { steps: [] }\n  B: { steps: [] }\n  A: { steps: [] }\n', 'd.yaml', 'processes.A', 'line 5, column 3: the key "A" is given twice in one map (first at line 3, column 3)');
  refusedAt(t, 'name: x\nprocesses:\n  A: { steps: [ { op: signal, name: a, op: wait } ] }\n', 'd.yaml', 'processes.A.steps[0].op', 'the key "op" is given twice');
  // Written two ways that name one key: said so.
  refusedAt(t, 'name: x\nprocesses:\n  A: { steps: [] }\n  "A": { steps: [] }\n', 'd.yaml', 'processes.A', '(first at line 3, column 3, written another way)');
});

test('an expected errno or signal that is not written as Linux names them is refused at load', (t) => {
  for (const [field, v] of [['errno', 'einval'], ['errno', 'EINVAL '], ['errno', 'x'], ['errno', '""'], ['signal', 'sigbus'], ['signal', 'BUS'], ['signal', 'SIGBUS\\n']] as const) {
    refusedAt(t, oneProcess(`{ op: read, map: b, page: 0, expect: { ${field}: "${v.replace(/^"|"$/g, '')}" } }`), 'e.yaml', `processes.A.steps[1].expect.${field}`,
      field === 'errno' ? 'expected an errno name such as EINVAL (E, then capital letters and digits)' : 'expected a signal name such as SIGBUS (SIG, then capital letters and digits)');
  }
  t.notThrows(() => parseScenario(oneProcess('{ op: read, map: b, page: 0, expect: { byPolicy: { default: { errno: E2BIG }, per-mm: { signal: SIGSEGV } } } }'), 'ok.yaml'));
});

test('a process that waitpids itself is refused at load, as a wait on a name nothing signals is', async (t) => {
  refusedAt(t, 'name: x\nprocesses:\n  A: { steps: [ { op: waitpid, process: A } ] }\n  B: { steps: [] }\n', 'w.yaml', 'processes.A.steps[0].process',
    'process "A" waits for its own end, which cannot come while it waits; waitpid names another process: B');
  refusedAt(t, 'name: x\nprocesses:\n  A: { steps: [ { op: fork, child: C } ] }\n  C: { forked: true, steps: [ { op: waitpid, process: C } ] }\n', 'w.yaml', 'processes.C.steps[0].process', 'waits for its own end');
  // Before, it ran until the deadlock detector stopped it: exit 1, not 2.
  await refusedByCli(t, 'self.yaml', 'name: x\nprocesses:\n  A: { steps: [ { op: waitpid, process: A } ] }\n', /waits for its own end/);
});
