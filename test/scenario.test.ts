// The scenario loader against the public format (shared/spec/scenario-format.md): what the spec
// shows must load exactly, and each kind of mistake must name its path and what is allowed.

import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { KERNEL_OPS, LIMITS, PROCESS_OPS, ScenarioError, loadScenario, parseScenario } from '../shared/scenario.js';
import type { Scenario } from '../shared/scenario-types.js';

/** The spec's "Top level" example, comments kept, with its `[ ... ]` filled in with real steps. */
const SPEC_EXAMPLE = `
name: fork-cow-purge            # required, [a-z0-9-]+
description: >                  # optional, shown by \`vrange list\` and at the top of a run
  Parent marks a buffer volatile and forks; pages not yet copied-on-write are shared.
policy: shared-file             # optional default policy (see Policies); the CLI --policy overrides it
access: sigbus                  # optional: sigbus | zero   (default sigbus)
purgeUnit: range                # optional: range | page    (default range)
memory:
  frames: 64                    # physical page frames the kernel has (default 1024)
files:                          # files that exist before any process starts
  - { name: cache, pages: 8 }                 # kind defaults to tmpfs
  - { name: region, pages: 4, kind: ashmem }  # tmpfs | ashmem
processes:                      # name -> process; names are [A-Za-z][A-Za-z0-9_-]*
  A:
    sigbus: handle              # handle | kill  (default kill: a SIGBUS ends the process)
    steps:
      - { op: open, file: cache }
      - { op: open, file: region, fd: r }
      - { op: mmap, as: buf, pages: 4 }
      - { op: mmap, as: shared, fd: cache, pages: 8, offset: 0, share: shared }
      - { op: write, map: buf, page: 0, value: "hello" }
      - { op: vrange, map: buf, page: 0, pages: 4, mode: volatile }
      - { op: fork, child: B }
      - { op: signal, name: forked }
      - { op: waitpid, process: B, expect: { exitCode: 0 } }
      - { op: vrange, map: buf, page: 0, pages: 4, mode: nonvolatile, expect: { purged: true } }
      - { op: read, map: buf, page: 2, expect: { signal: SIGBUS } }
      - op: read
        map: shared
        page: 0
        expect:
          byPolicy:                 # per-policy expectations; \`default\` covers the rest
            per-mm: { value: "hello" }
            default: { signal: SIGBUS }
      - { op: fvrange, fd: r, byteOffset: 0, byteLength: 8192, mode: volatile, label: ashmem-half }
      - { op: query, fd: cache, page: 0, pages: 8 }
      - { op: munmap, map: shared }
      - { op: close, fd: cache }
  B:
    forked: true                # not started at boot: it is created by a \`fork\` step naming it
    steps:
      - { op: wait, name: purged }
      - { op: query, map: buf, page: 0, pages: 4 }
      - { op: munmap, map: buf, page: 1, pages: 2 }
      - { op: exit, code: 3 }
  C:
    steps:
      - { op: crash }
kernel:                         # optional kernel-side steps, same step syntax, kernel ops only
  - { op: wait, name: forked }
  - { op: reclaim, pages: 2 }
  - { op: reclaim, all: true, expect: { freed: 4 } }
  - { op: signal, name: purged }
  - { op: kill, process: C }
  - { op: waitpid, process: A }
  - op: check
    framesUsed: 0
    framesFree: 64
    processes: { A: exited, B: exited, C: killed }
    files: { cache: { open: 0, mapped: 0, volatile: [] }, region: { volatile: [[0, 2]] } }
`;

const EXPECTED: Scenario = {
  file: 'fork-cow-purge.yaml',
  name: 'fork-cow-purge',
  description: 'Parent marks a buffer volatile and forks; pages not yet copied-on-write are shared.\n',
  policy: 'shared-file',
  access: 'sigbus',
  purgeUnit: 'range',
  memory: { frames: 64 },
  files: [{ name: 'cache', pages: 8, kind: 'tmpfs' }, { name: 'region', pages: 4, kind: 'ashmem' }],
  processes: [
    {
      name: 'A', forked: false, sigbus: 'handle', steps: [
        { op: 'open', file: 'cache' },
        { op: 'open', file: 'region', fd: 'r' },
        { op: 'mmap', as: 'buf', pages: 4 },
        { op: 'mmap', as: 'shared', fd: 'cache', pages: 8, offset: 0, share: 'shared' },
        { op: 'write', map: 'buf', page: 0, value: 'hello' },
        { op: 'vrange', map: 'buf', page: 0, pages: 4, mode: 'volatile' },
        { op: 'fork', child: 'B' },
        { op: 'signal', name: 'forked' },
        { op: 'waitpid', process: 'B', expect: { exitCode: 0 } },
        { op: 'vrange', map: 'buf', page: 0, pages: 4, mode: 'nonvolatile', expect: { purged: true } },
        { op: 'read', map: 'buf', page: 2, expect: { signal: 'SIGBUS' } },
        { op: 'read', map: 'shared', page: 0, expect: { byPolicy: { 'per-mm': { value: 'hello' }, default: { signal: 'SIGBUS' } } } },
        { op: 'fvrange', fd: 'r', byteOffset: 0, byteLength: 8192, mode: 'volatile', label: 'ashmem-half' },
        { op: 'query', fd: 'cache', page: 0, pages: 8 },
        { op: 'munmap', map: 'shared' },
        { op: 'close', fd: 'cache' },
      ],
    },
    {
      name: 'B', forked: true, sigbus: 'kill', steps: [
        { op: 'wait', name: 'purged' },
        { op: 'query', map: 'buf', page: 0, pages: 4 },
        { op: 'munmap', map: 'buf', page: 1, pages: 2 },
        { op: 'exit', code: 3 },
      ],
    },
    { name: 'C', forked: false, sigbus: 'kill', steps: [{ op: 'crash' }] },
  ],
  kernel: [
    { op: 'wait', name: 'forked' },
    { op: 'reclaim', pages: 2 },
    { op: 'reclaim', all: true, expect: { freed: 4 } },
    { op: 'signal', name: 'purged' },
    { op: 'kill', process: 'C' },
    { op: 'waitpid', process: 'A' },
    {
      op: 'check', framesUsed: 0, framesFree: 64, processes: { A: 'exited', B: 'exited', C: 'killed' },
      files: { cache: { open: 0, mapped: 0, volatile: [] }, region: { volatile: [[0, 2]] } },
    },
  ],
};

/** A one-process scenario around the given YAML step lines (each a flow map). */
function oneProcess(steps: string[], extra = ''): string {
  return `name: t\nfiles: [{ name: cache, pages: 8 }]\n${extra}processes:\n  A:\n    steps:${steps.length ? '' : ' []'}\n`
    + steps.map((s) => `      - ${s}\n`).join('');
}

function rejects(t: ExecutionContext, text: string, path: string, fragment: string, file = 't.yaml'): ScenarioError {
  const err = t.throws(() => parseScenario(text, file), { instanceOf: ScenarioError })!;
  t.is(err.path, path, err.message);
  t.true(err.detail.includes(fragment), `detail "${err.detail}" lacks "${fragment}"`);
  t.is(err.message, path ? `${file}: ${path}: ${err.detail}` : `${file}: ${err.detail}`);
  return err;
}

test('the spec\'s top-level example, filled in, loads exactly as written', (t) => {
  t.deepEqual(parseScenario(SPEC_EXAMPLE, 'fork-cow-purge.yaml'), EXPECTED);
});

test('the JSON form gives the same scenario', (t) => {
  const { file: _file, processes, ...rest } = EXPECTED;
  const json = JSON.stringify({
    ...rest,
    processes: Object.fromEntries(processes.map(({ name, ...p }) => [name, p])),
  });
  t.deepEqual(parseScenario(json, 'fork-cow-purge.json'), { ...EXPECTED, file: 'fork-cow-purge.json' });
});

test('defaults are applied and optional top-level fields stay absent', (t) => {
  const s = parseScenario('name: min\nfiles: [{ name: f, pages: 1 }]\nprocesses:\n  Z: { steps: [] }\n  a1: { forked: true, steps: [] }\n', 'min.yaml');
  t.deepEqual(s, {
    file: 'min.yaml', name: 'min', description: '', memory: { frames: 1024 },
    files: [{ name: 'f', pages: 1, kind: 'tmpfs' }],
    processes: [{ name: 'Z', forked: false, sigbus: 'kill', steps: [] }, { name: 'a1', forked: true, sigbus: 'kill', steps: [] }],
    kernel: [],
  });
  t.false('policy' in s || 'access' in s || 'purgeUnit' in s);
  t.deepEqual(parseScenario('name: m\nmemory: {}\nprocesses: {}\n', 'm.yaml').memory, { frames: 1024 });
});

test('loadScenario reads a file, and names a missing one', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'scenario-'));
  writeFileSync(join(dir, 'ok.yaml'), SPEC_EXAMPLE);
  t.is(loadScenario(join(dir, 'ok.yaml')).processes.length, 3);
  const err = t.throws(() => loadScenario(join(dir, 'nope.yaml')), { instanceOf: ScenarioError })!;
  t.is(err.message, `${join(dir, 'nope.yaml')}: no such file (ENOENT)`);
});

test('not YAML: the line and column are given', (t) => {
  rejects(t, 'name: t\nprocesses:\n  A: { steps: [ }\n', '', 'line 3');
  rejects(t, 'name: t\nname: u\nprocesses: {}\n', 'name', 'invalid YAML at line 2, column 1: the key "name" is given twice in one map (first at line 1, column 1)');
  rejects(t, '', '', 'the file is empty');
});

test('not JSON', (t) => {
  rejects(t, '{ "name": ', '', 'invalid JSON', 't.json');
});

test('unknown op lists the allowed ops, which differ for process and kernel steps', (t) => {
  rejects(t, oneProcess(['{ op: mmapp, as: b }']), 'processes.A.steps[0].op', `unknown op "mmapp"; allowed: ${PROCESS_OPS.join(', ')}`);
  rejects(t, oneProcess([]) + 'kernel: [{ op: nap }]\n', 'kernel[0].op', `unknown op "nap"; allowed: ${KERNEL_OPS.join(', ')}`);
  rejects(t, oneProcess(['{ op: reclaim, all: true }']), 'processes.A.steps[0].op', 'only allowed in kernel steps');
  rejects(t, oneProcess(['{ as: b }']), 'processes.A.steps[0].op', 'missing required field "op"');
});

test('unknown field lists the fields of that op', (t) => {
  rejects(t, oneProcess(['{ op: mmap, as: b, pgae: 2 }']), 'processes.A.steps[0].pgae',
    'unknown field "pgae"; allowed fields for op mmap: as, pages, fd, offset, share, expect, label');
  rejects(t, 'name: t\nprocesses: { A: { stpes: [] } }\n', 'processes.A.stpes', 'allowed fields for a process: forked, sigbus, steps');
  rejects(t, 'name: t\nprocesses: {}\ncolour: red\n', 'colour', 'unknown field "colour"');
});

test('wrong type says what is allowed and what was given', (t) => {
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: x }']), 'processes.A.steps[0].pages', 'expected a whole number >= 0');
  rejects(t, 'name: x\nfiles: [{ name: f, pages: 0 }]\nprocesses: {}\n', 'files[0].pages', 'expected a whole number >= 1');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: x }']), 'processes.A.steps[0].pages', 'got "x"');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: 1.5 }']), 'processes.A.steps[0].pages', 'got 1.5');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: -1 }']), 'processes.A.steps[0].pages', 'got -1');
  // A number or boolean where a string is needed says so: "got 123" alone reads like a valid name.
  rejects(t, 'name: 123\nprocesses: {}\n', 'name', 'got 123 (a number, not a string; in YAML write it in quotes: "123")');
  rejects(t, oneProcess(['{ op: open, file: true }']), 'processes.A.steps[0].file', 'got true (a boolean, not a string');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: 1, share: both }']), 'processes.A.steps[0].share', 'one of shared, private, got "both"');
  rejects(t, 'name: Bad_Name\nprocesses: {}\n', 'name', '[a-z0-9-]+');
  rejects(t, 'name: t\nprocesses: { 9lives: { steps: [] } }\n', 'processes["9lives"]', 'a letter then letters');
  rejects(t, 'name: t\nprocesses: [A]\n', 'processes', 'got a list of 1 item');
  rejects(t, oneProcess(['{ op: read, map: b, page: 0, expect: { byPolicy: { per_mm: {} } } }']),
    'processes.A.steps[0].expect.byPolicy.per_mm', 'shared-file, per-mm, anon-only, madv-free, default');
  rejects(t, oneProcess([]) + 'kernel: [{ op: check, processes: { A: dead } }]\n', 'kernel[0].processes.A', 'one of unborn, running, exited, killed');
});

test('missing required field', (t) => {
  rejects(t, oneProcess(['{ op: mmap, as: b }']), 'processes.A.steps[0].pages', 'missing required field "pages"');
  rejects(t, 'processes: {}\n', 'name', 'missing required field "name"');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: 1 }', '{ op: vrange, map: b, mode: volatile }']),
    'processes.A.steps[1]', 'give page and pages, or byteOffset and byteLength');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: 1 }', '{ op: vrange, map: b, page: 0, mode: volatile }']),
    'processes.A.steps[1].pages', 'missing required field "pages"');
});

test('limits are stated in the user\'s terms, not by internal constant names', (t) => {
  rejects(t, 'name: t\nmemory: { frames: 4000001 }\nprocesses: {}\n', 'memory.frames', 'at most 4000000), got 4000001');
  rejects(t, oneProcess([`{ op: mmap, as: b, pages: ${LIMITS.mmapPagesMax + 1} }`]), 'processes.A.steps[0].pages', `at most ${LIMITS.mmapPagesMax}`);
  rejects(t, oneProcess([`{ op: signal, name: ${'s'.repeat(65)} }`]), 'processes.A.steps[0].name', '1 to 64 characters');
  rejects(t, oneProcess(['{ op: mmap, as: b, pages: 1 }', `{ op: write, map: b, page: 0, value: ${'x'.repeat(4097)} }`]),
    'processes.A.steps[1].value', 'at most 4096 bytes');
  for (const text of ['name: t\nmemory: { frames: 4000001 }\nprocesses: {}\n', oneProcess([`{ op: signal, name: ${'s'.repeat(65)} }`])]) {
    const e = t.throws(() => parseScenario(text, 't.yaml'));
    t.notRegex(e!.message, /LIMITS|Max\b/);
  }
});

test('a binding used before it is made', (t) => {
  rejects(t, oneProcess(['{ op: read, map: buf, page: 0 }', '{ op: mmap, as: buf, pages: 1 }']),
    'processes.A.steps[0].map', 'map "buf" is used before an mmap step');
  rejects(t, oneProcess(['{ op: open, file: cache, fd: c }', '{ op: close, fd: cache }']),
    'processes.A.steps[1].fd', 'fds bound so far: c');
  rejects(t, oneProcess(['{ op: mmap, as: m, pages: 1, fd: cache }']), 'processes.A.steps[0].fd', 'fds bound so far: none');
  // a binding made by another (non-parent) process is not visible
  rejects(t, 'name: t\nprocesses:\n  A: { steps: [{ op: mmap, as: m, pages: 1 }] }\n  B: { steps: [{ op: read, map: m, page: 0 }] }\n',
    'processes.B.steps[0].map', 'map "m" is used before');
});

test('a binding of the wrong kind', (t) => {
  rejects(t, oneProcess(['{ op: open, file: cache }', '{ op: read, map: cache, page: 0 }']),
    'processes.A.steps[1].map', '"cache" is an fd binding, not a map');
  rejects(t, oneProcess(['{ op: mmap, as: m, pages: 1 }', '{ op: fvrange, fd: m, page: 0, pages: 1, mode: volatile }']),
    'processes.A.steps[1].fd', '"m" is a map binding, not an fd');
  // fds and maps are separate names: the same name may be both
  t.notThrows(() => parseScenario(oneProcess(['{ op: open, file: cache }', '{ op: mmap, as: cache, fd: cache, pages: 8 }',
    '{ op: query, map: cache, page: 0, pages: 1 }', '{ op: close, fd: cache }', '{ op: munmap, map: cache }', '{ op: read, map: cache, page: 0 }']), 't.yaml'));
});

test('a forked child inherits the bindings made before its fork step, and only those', (t) => {
  const text = (late: string) => `name: t\nfiles: [{ name: cache, pages: 8 }]\nprocesses:
  P:
    steps:
      - { op: open, file: cache }
      - { op: mmap, as: m, fd: cache, pages: 8 }
      - { op: fork, child: C }
      - { op: mmap, as: late, pages: 1 }
  C:
    forked: true
    steps:
      - { op: read, map: m, page: 0 }
      - { op: close, fd: cache }
      - { op: fork, child: G }
      - { op: ${late} }
  G:
    forked: true
    steps: [{ op: write, map: m, page: 1, value: grandchild }]
`;
  t.is(parseScenario(text('crash'), 't.yaml').processes.length, 3);
  rejects(t, text('read, map: late, page: 0'), 'processes.C.steps[3].map', 'including those inherited at the fork: m');
});

test('fork must name another, forked: true process, once', (t) => {
  const procs = (a: string, more = '') => `name: t\nprocesses:\n  A: { steps: [${a}] }\n  B: { forked: true, steps: [] }\n  N: { steps: [] }\n${more}`;
  rejects(t, procs('{ op: fork, child: N }'), 'processes.A.steps[0].child', 'process "N" is not forked: true');
  rejects(t, procs('{ op: fork, child: Q }'), 'processes.A.steps[0].child', 'unknown process "Q"; processes with forked: true: B');
  rejects(t, procs('{ op: fork, child: B }', '  D: { steps: [{ op: fork, child: B }] }\n'), 'processes.D.steps[0].child',
    'already forked by processes.A.steps[0]');
  rejects(t, procs('{ op: fork, child: B }, { op: fork, child: B }'), 'processes.A.steps[1].child', 'already forked');
  rejects(t, 'name: t\nprocesses: { A: { forked: true, steps: [{ op: fork, child: A }] } }\n', 'processes.A.steps[0].child', 'cannot fork itself');
  rejects(t, 'name: t\nprocesses: { A: { forked: true, steps: [{ op: fork, child: B }] }, B: { forked: true, steps: [{ op: fork, child: A }] } }\n',
    'processes.B.steps[0].child', 'fork cycle');
  t.notThrows(() => parseScenario(procs(''), 't.yaml'), 'a forked: true process nobody forks is allowed');
});

test('wait on a name nothing signals', (t) => {
  rejects(t, oneProcess(['{ op: signal, name: go }', '{ op: wait, name: og }']), 'processes.A.steps[1].name',
    'nothing can ever signal "og"');
  rejects(t, oneProcess(['{ op: signal, name: go }']) + 'kernel: [{ op: wait, name: og }]\n', 'kernel[0].name', 'names signalled: go');
  t.notThrows(() => parseScenario(oneProcess(['{ op: wait, name: go }']) + 'kernel: [{ op: signal, name: go }]\n', 't.yaml'));
});

test('names of files and processes must exist', (t) => {
  // An undeclared file is accepted: its open fails at run time with ENOENT.
  t.notThrows(() => parseScenario(oneProcess(['{ op: open, file: cahce }']), 'x.yaml'));
  rejects(t, oneProcess(['{ op: waitpid, process: X }']), 'processes.A.steps[0].process', 'unknown process "X"; processes: A');
  rejects(t, oneProcess([]) + 'kernel: [{ op: kill, process: X }]\n', 'kernel[0].process', 'unknown process "X"');
  rejects(t, oneProcess([]) + 'kernel: [{ op: check, files: { other: { open: 1 } } }]\n', 'kernel[0].files.other', 'unknown file "other"; files: cache');
  rejects(t, oneProcess([]) + 'kernel: [{ op: check, processes: { X: running } }]\n', 'kernel[0].processes.X', 'unknown process "X"');
  rejects(t, 'name: t\nfiles: [{ name: f, pages: 1 }, { name: f, pages: 2 }]\nprocesses: {}\n', 'files[1].name', 'duplicate file name "f"');
});

test('reclaim takes pages or all: true, not both, not neither', (t) => {
  rejects(t, oneProcess([]) + 'kernel: [{ op: reclaim, pages: 2, all: true }]\n', 'kernel[0].all', 'give either pages or all: true, not both');
  rejects(t, oneProcess([]) + 'kernel: [{ op: reclaim }]\n', 'kernel[0]', 'give pages or all: true');
  rejects(t, oneProcess([]) + 'kernel: [{ op: reclaim, all: false }]\n', 'kernel[0].all', 'expected true');
});

test('query takes map or fd; vrange takes pages or bytes, not a mix', (t) => {
  const mapped = ['{ op: open, file: cache }', '{ op: mmap, as: m, fd: cache, pages: 8 }'];
  rejects(t, oneProcess([...mapped, '{ op: query, map: m, fd: cache, page: 0, pages: 1 }']), 'processes.A.steps[2].fd', 'not both');
  rejects(t, oneProcess([...mapped, '{ op: query, page: 0, pages: 1 }']), 'processes.A.steps[2]', 'give map or fd');
  rejects(t, oneProcess([...mapped, '{ op: vrange, map: m, page: 0, byteLength: 4096, mode: volatile }']),
    'processes.A.steps[2].byteLength', 'not a mix');
});

test('mode: any string loads (a run-time EINVAL), a non-string does not; zero lengths load', (t) => {
  const mapped = ['{ op: mmap, as: m, pages: 4 }'];
  const s = parseScenario(oneProcess([...mapped, '{ op: vrange, map: m, page: 0, pages: 4, mode: sideways }',
    '{ op: vrange, map: m, page: 0, pages: 0, mode: volatile }', '{ op: vrange, map: m, byteOffset: 100, byteLength: 0, mode: volatile }']), 't.yaml');
  t.like(s.processes[0]!.steps[1], { op: 'vrange', mode: 'sideways' });
  rejects(t, oneProcess([...mapped, '{ op: vrange, map: m, page: 0, pages: 4, mode: 1 }']), 'processes.A.steps[1].mode',
    'expected a string: volatile or nonvolatile, got 1');
});

test('processes keep file order, including names that look alike', (t) => {
  const s = parseScenario('name: t\nprocesses: { zed: { steps: [] }, Alpha: { steps: [] }, m_1: { steps: [] } }\n', 't.yaml');
  t.deepEqual(s.processes.map((p) => p.name), ['zed', 'Alpha', 'm_1']);
});

// ---------------------------------------------------------------------------------------------
// Property: steps generated from the schema always load, with their count, in YAML and JSON;
// arbitrary junk in a step only ever gives a ScenarioError.

const page = fc.integer({ min: 0, max: 7 });
const pages = fc.integer({ min: 1, max: 8 });
const opt = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const expectArb = opt(fc.record({ ok: fc.boolean() }));
const withExtras = (arb: fc.Arbitrary<Record<string, unknown>>) =>
  fc.tuple(arb, expectArb, opt(fc.string({ maxLength: 10 }))).map(([s, expect, label]) => prune({ ...s, expect, label }));

function prune(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

// Bindings `f` (fd) and `m` (map) are made by a fixed prefix; `go` is signalled by the kernel.
const validStep: fc.Arbitrary<Record<string, unknown>> = withExtras(fc.oneof(
  fc.record({ op: fc.constant('open'), file: fc.constant('cache'), fd: fc.constant('f') }),
  fc.record({ op: fc.constant('close'), fd: fc.constant('f') }),
  fc.record({ op: fc.constant('mmap'), as: fc.constant('m'), pages, fd: opt(fc.constant('f')), offset: opt(page),
    share: opt(fc.constantFrom('shared', 'private')) }).map(prune),
  fc.record({ op: fc.constant('munmap'), map: fc.constant('m'), page: opt(page), pages: opt(pages) }).map(prune),
  fc.record({ op: fc.constant('write'), map: fc.constant('m'), page, value: fc.string({ maxLength: 20 }) }),
  fc.record({ op: fc.constant('read'), map: fc.constant('m'), page }),
  fc.record({ op: fc.constant('vrange'), map: fc.constant('m'), page, pages: fc.nat(8), mode: fc.string({ maxLength: 12 }) }),
  fc.record({ op: fc.constant('fvrange'), fd: fc.constant('f'), byteOffset: fc.nat(), byteLength: fc.nat(), mode: fc.constantFrom('volatile', 'nonvolatile') }),
  fc.record({ op: fc.constant('query'), map: fc.constant('m'), page, pages: fc.nat(8) }),
  fc.record({ op: fc.constant('query'), fd: fc.constant('f'), page, pages: fc.nat(8) }),
  fc.record({ op: fc.constant('exit'), code: opt(fc.integer({ min: 0, max: 255 })) }).map(prune),
  fc.record({ op: fc.constantFrom('crash') }),
  fc.record({ op: fc.constantFrom('signal', 'wait'), name: fc.constant('go') }),
  fc.record({ op: fc.constant('waitpid'), process: fc.constant('B') }), // A's own: refused (a waitpid of itself)
));

function scenarioWith(steps: unknown[]): Record<string, unknown> {
  const prefix = [{ op: 'open', file: 'cache', fd: 'f' }, { op: 'mmap', as: 'm', pages: 8, fd: 'f' }];
  return {
    name: 'prop', files: [{ name: 'cache', pages: 8 }],
    processes: { A: { steps: [...prefix, ...steps] }, B: { forked: true, steps: [] } },
    kernel: [{ op: 'signal', name: 'go' }],
  };
}

test('property: generated valid steps load in YAML and JSON with their count', (t) => {
  fc.assert(fc.property(fc.array(validStep, { maxLength: 30 }), fc.boolean(), (steps, json) => {
    const doc = scenarioWith(steps);
    const s = json ? parseScenario(JSON.stringify(doc), 'p.json') : parseScenario(stringify(doc), 'p.yaml');
    return s.processes[0]!.steps.length === steps.length + 2 && s.processes[1]!.name === 'B';
  }), { numRuns: 300 });
  t.pass();
});

test('property: junk in a step gives only ScenarioError', (t) => {
  const key = fc.constantFrom('op', 'map', 'fd', 'page', 'pages', 'as', 'mode', 'all', 'byteOffset');
  const value = fc.oneof(fc.constantFrom('m', 'f', 'mmap', 'vrange', 'query', 'reclaim'), fc.jsonValue());
  const junkStep = fc.oneof(validStep, fc.jsonValue(), fc.dictionary(key, value));
  fc.assert(fc.property(fc.array(junkStep, { maxLength: 8 }), fc.boolean(), (steps, json) => {
    const doc = scenarioWith(steps);
    try {
      parseScenario(json ? JSON.stringify(doc) : stringify(doc), json ? 'p.json' : 'p.yaml');
      return true;
    } catch (e) {
      return e instanceof ScenarioError && !e.message.includes('\n');
    }
  }), { numRuns: 500 });
  t.pass();
});
