// `vrange compare`: every policy, same seed, real processes; the rows that differ and the rules
// that made each answer. Each compare runs the scenario four times on real agents (the three
// proposals and madv-free, what Linux merged).
import test from 'ava';
import fs from 'node:fs';
import { loadScenario } from '../shared/scenario.js';
import { compare, compareTable, type CompareResult, type CompareRow } from '../harness/compare.js';
import { cli, scenarioPath, configFor, runYaml } from './helpers.js';
import { parseScenario } from '../shared/scenario.js';
import { explainRun } from '../report/explain.js';

function base(name: string, seed = 1) {
  const s = loadScenario(scenarioPath(name));
  const { policy: _p, ...rest } = configFor(s, { seed });
  return { s, base: rest };
}

const row = (rows: CompareRow[], process: string, index: number) => rows.find((r) => r.process === process && r.index === index);

test('file-vrange-policies: the reclaim, the reads and the refused vrange differ, each with its rule', async (t) => {
  const { s, base: b } = base('file-vrange-policies');
  const c = await compare(s, b);
  t.deepEqual(c.policies, ['shared-file', 'per-mm', 'anon-only', 'madv-free']);
  t.deepEqual(Object.values(c.runs).map((r) => r.ok || r.why), [true, true, true, true]);
  const reclaim = row(c.differing, 'kernel', 3)!;
  // madv-free refuses every mark on the file's mappings: nothing to free.
  t.deepEqual(reclaim.answers['madv-free'].result, { ok: true, freed: 0 });
  t.truthy(reclaim, 'the reclaim differs');
  t.deepEqual([reclaim.answers['shared-file'].result, reclaim.answers['per-mm'].result, reclaim.answers['anon-only'].result],
    [{ ok: true, freed: 4 }, { ok: true, freed: 2 }, { ok: true, freed: 0 }]);
  t.deepEqual(reclaim.answers['shared-file'].rules, ['file-range-volatile']);
  t.deepEqual([...reclaim.answers['per-mm'].rules].sort(), ['per-mm-every-mapper-marked', 'per-mm-mapper-not-marked']);
  t.deepEqual(reclaim.answers['anon-only'].rules, ['nothing-volatile']);
  // B never marked page 1: shared-file purged it anyway (A's mark is on the file), per-mm kept it.
  const b5 = row(c.differing, 'B', 5)!;
  t.deepEqual(b5.answers['shared-file'], { result: { ok: false, signal: 'SIGBUS' }, rules: ['file-range-volatile'], why: b5.answers['shared-file'].why });
  t.deepEqual(b5.answers['per-mm'].result, { ok: true, value: 'v1' });
  t.deepEqual(b5.answers['per-mm'].rules, ['per-mm-mapper-not-marked']);
  t.deepEqual(b5.answers['anon-only'].rules, ['no-decision']);
  t.true(b5.answers['shared-file'].why[0]!.includes('exchange 1 purged f page 1'));
  // A's vrange is refused under anon-only, for the rule's own reason.
  const a6 = row(c.differing, 'A', 6)!;
  t.deepEqual(a6.answers['anon-only'], { result: { ok: false, errno: 'EINVAL' }, rules: ['anon-only-refuses-file'], why: a6.answers['anon-only'].why });
  // B's nonvolatile: shared-file's purge was already reported to A; per-mm's is B's own.
  const b9 = row(c.differing, 'B', 9)!;
  t.deepEqual(b9.answers['shared-file'].rules, ['purge-already-reported']);
  t.deepEqual(b9.answers['per-mm'].rules, ['per-mm-every-mapper-marked']);
  // Steps that agree are not rows: every open, mmap and write agrees.
  t.false(c.differing.some((r) => /^(open|mmap|write)/.test(r.step)));
});

test('thread-shared-and-private: a private copy is explained by the anonymous rule, the file page by the file rule', async (t) => {
  const { s, base: b } = base('thread-shared-and-private');
  const c = await compare(s, b);
  const p8 = row(c.differing, 'P', 8)!;
  t.deepEqual(p8.answers['shared-file'].rules, ['anon-every-mapper-volatile']);
  t.deepEqual(p8.answers['per-mm'].rules, ['anon-every-mapper-volatile']);
  const s12 = row(c.differing, 'S', 12)!;
  t.deepEqual([s12.answers['shared-file'].rules, s12.answers['per-mm'].rules], [['file-range-volatile'], ['per-mm-private-mapper']]);
});

test('fork-cow-purge: anonymous memory follows one rule in the proposals; only madv-free differs (B\'s written copy survives)', async (t) => {
  const { s, base: b } = base('fork-cow-purge');
  const c = await compare(s, b);
  t.true(c.steps >= 17);
  t.deepEqual(Object.values(c.runs).map((r) => r.ok || r.why), [true, true, true, true]);
  t.is(c.amongProposals, 0);
  t.true(c.differing.length > 0 && c.differing.every((r) => r.proposalsAgree));
  const reclaim = row(c.differing, 'kernel', 2)!;
  t.deepEqual(['shared-file', 'per-mm', 'anon-only', 'madv-free'].map((p) => reclaim.answers[p as 'madv-free'].result), [
    { ok: true, freed: 3 }, { ok: true, freed: 3 }, { ok: true, freed: 3 }, { ok: true, freed: 2 }]);
  t.deepEqual(row(c.differing, 'B', 3)!.answers['madv-free'].result, { ok: true, value: '' }); // no SIGBUS: a freed page reads ""
  t.deepEqual(row(c.differing, 'A', 7)!.answers['madv-free'].result, { ok: false, errno: 'EINVAL' }); // no nonvolatile call
});

// Spans that reach a file mapping from an anonymous binding: over a hole (A #5), over another
// anonymous mapping with the file one last (A #7), from the file mapping itself (A #8), the file
// mapping first and an anonymous one after (A #10); and an EINVAL of the arguments (A #11).
const refusals = `
name: refusals-whatever-lies-between
description: anon-only and madv-free refuse a span that reaches a file mapping, whatever lies before it.
files:
  - { name: f, pages: 4 }
processes:
  A:
    steps:
      - { op: open, file: f, fd: fd }
      - { op: mmap, as: a, pages: 1 }
      - { op: mmap, as: g, pages: 1 }
      - { op: mmap, as: m, pages: 1, fd: fd, share: shared }
      - { op: munmap, map: g, page: 0, pages: 1 }
      - { op: vrange, map: a, page: 0, pages: 3, mode: volatile }
      - { op: mmap, as: b, pages: 1 }
      - { op: vrange, map: a, page: 0, pages: 3, mode: volatile }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: mmap, as: c, pages: 1 }
      - { op: vrange, map: m, page: 0, pages: 2, mode: nonvolatile }
      - { op: vrange, map: a, page: 0, pages: 0, mode: volatile }
kernel: []
`;

test('a refused vrange is named by its rule whatever its span crosses: a hole, several mappings, the file mapping first or last', async (t) => {
  const s = parseScenario(refusals, 'refusals.yaml');
  const { policy: _p, ...b } = configFor(s, { seed: 1 });
  const c = await compare(s, b);
  const einval = { ok: false, errno: 'EINVAL' };
  for (const index of [5, 7, 8, 10]) {
    const r = row(c.differing, 'A', index)!;
    t.deepEqual([r.answers['anon-only'].result, r.answers['anon-only'].rules], [einval, ['anon-only-refuses-file']], `A #${index} under anon-only`);
    t.deepEqual([r.answers['madv-free'].result, r.answers['madv-free'].rules], [einval, ['madv-free-refuses']], `A #${index} under madv-free`);
  }
  // The hole is the proposals' answer where the file mapping is allowed: ENOMEM, an error of the call.
  t.deepEqual([row(c.differing, 'A', 5)!.answers['per-mm'].result, row(c.differing, 'A', 5)!.answers['per-mm'].rules], [{ ok: false, errno: 'ENOMEM' }, ['syscall-error']]);
  // An EINVAL of the arguments (a zero-length span) is no refusal, under either policy.
  for (const policy of ['anon-only', 'madv-free'] as const) {
    const { history } = await runYaml(refusals, { policy, seed: 1 });
    const x = explainRun(s, configFor(s, { policy, seed: 1 }), history).get('A#11')!;
    t.deepEqual(x.rules, ['syscall-error'], policy);
  }
});

const answer = (result: Record<string, unknown>, rules: string[], why: string[]) => ({ result: result as CompareRow['answers']['madv-free']['result'], rules, why });

test('the table with four policies: madv-free behind a bar, rows that differ only from it marked *, the counts split', (t) => {
  const policies = ['shared-file', 'per-mm', 'anon-only', 'madv-free'] as const;
  const same = (r: Record<string, unknown>, rule: string) => answer(r, [rule], [rule.startsWith('anon') ? 'anon' : rule.startsWith('lazyfree') ? 'freed' : rule]);
  const c: CompareResult = {
    scenario: 'demo', seed: 1, schedule: 'lockstep', policies: [...policies], steps: 9, amongProposals: 1,
    differing: [
      { process: 'kernel', index: 3, step: 'reclaim all', proposalsAgree: false, answers: {
        'shared-file': same({ ok: true, freed: 4 }, 'file-range-volatile'), 'per-mm': same({ ok: true, freed: 2 }, 'per-mm-every-mapper-marked'),
        'anon-only': same({ ok: true, freed: 0 }, 'nothing-volatile'), 'madv-free': same({ ok: true, freed: 0 }, 'nothing-volatile') } },
      { process: 'B', index: 3, step: 'read buf 0', proposalsAgree: true, answers: {
        'shared-file': same({ ok: false, signal: 'SIGBUS' }, 'anon-every-mapper-volatile'), 'per-mm': same({ ok: false, signal: 'SIGBUS' }, 'anon-every-mapper-volatile'),
        'anon-only': same({ ok: false, signal: 'SIGBUS' }, 'anon-every-mapper-volatile'), 'madv-free': same({ ok: true, value: '' }, 'lazyfree-clean') } },
    ],
    runs: Object.fromEntries(policies.map((p) => [p, { ok: true, failures: 0, broken: [] }])) as unknown as CompareResult['runs'],
  };
  const lines = compareTable(c, []);
  t.true(lines.includes('2 of 9 step(s) differ between policies: 1 among the proposals, 1 only between the proposals and madv-free (marked *)'));
  const header = lines.find((l) => /^ step/.test(l))!;
  t.regex(header, /^ step +shared-file +per-mm +anon-only +\| madv-free$/);
  t.regex(lines[lines.indexOf(header) - 1]!, /^ +proposals +\| merged$/);
  // Columns line up: the bar sits at the same place in the header and in every row.
  const bar = header.indexOf('|');
  const rows = lines.filter((l) => /^[ *](kernel|B) #/.test(l));
  t.is(rows.length, 2);
  for (const l of rows) t.is(l.indexOf('|'), bar, l);
  t.regex(rows[0]!, /^ kernel #3 reclaim all +freed=4 +freed=2 +freed=0 +\| freed=0$/);
  t.true(rows[1]!.startsWith('*B #3 read buf 0'));
  t.is(lines.find((l) => /anon-every-mapper-volatile +\| +lazyfree-clean$/.test(l))?.indexOf('|'), bar, 'the rule under madv-free, behind the bar');
  // The same explanation under several policies is one line naming them all.
  t.true(lines.includes('  B #3 under shared-file, per-mm, anon-only: anon'));
  t.true(lines.includes('  B #3 under madv-free: freed'));
  // Without madv-free (an interrupted compare, say) the table is as it was: no bar, no marks, no split.
  const three = compareTable({ ...c, policies: ['shared-file', 'per-mm', 'anon-only'], differing: [c.differing[0]!] }, []);
  t.true(three.includes('1 of 9 step(s) differ between policies'));
  t.false(three.some((l) => l.includes('|') || l.startsWith('*')));
});

test('the command: a table with one column per policy, --json the same rows, --policy refused', async (t) => {
  const text = await cli(['compare', scenarioPath('file-vrange-policies'), '--seed', '1']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /step +shared-file +per-mm +anon-only +\| madv-free/);
  t.regex(text.stdout, /kernel #3 reclaim all +freed=4 +freed=2 +freed=0 +\| freed=0/);
  t.regex(text.stdout, /B #5 under per-mm: per-mm-mapper-not-marked: exchange 1 kept f page 1/);
  const json = await cli(['compare', scenarioPath('file-vrange-policies'), '--seed', '1', '--json']);
  t.is(json.code, 0);
  const doc = JSON.parse(json.stdout) as { differing: CompareRow[]; seed: number };
  t.is(doc.seed, 1);
  t.is(doc.differing.length, Number(/(\d+) of \d+ step\(s\) differ/.exec(text.stdout)![1]));
  t.is(doc.differing.filter((r) => !r.proposalsAgree).length, Number(/: (\d+) among the proposals/.exec(text.stdout)![1]));
  t.deepEqual(row(doc.differing, 'kernel', 3)!.answers['per-mm'].result, { ok: true, freed: 2 });
  const bad = await cli(['compare', scenarioPath('file-vrange-policies'), '--policy', 'per-mm']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--policy does not go with compare/);
});

test('a run that is not ok says why: its failed expectations, in --json and in the table', async (t) => {
  // The expectation holds under the proposals and fails under madv-free, where a freed page reads "".
  const dir = fs.mkdtempSync('/tmp/vrange-compare-why-');
  const file = `${dir}/why.yaml`;
  fs.writeFileSync(file, `
name: why
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: x }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: done }
      - { op: read, map: m, page: 0, expect: { signal: SIGBUS } }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
  - { op: signal, name: done }
`);
  const json = await cli(['compare', file, '--seed', '1', '--json']);
  t.is(json.code, 0, json.stderr); // compare exits 1 only for a broken invariant: expectations may differ by policy
  const doc = JSON.parse(json.stdout) as CompareResult;
  t.deepEqual(doc.policies.map((p) => doc.runs[p].ok), [true, true, true, false]);
  t.is(doc.runs['per-mm'].why, undefined, 'a run that is ok has no why');
  t.deepEqual(doc.runs['madv-free'].why, ['A step 5: expected {"signal":"SIGBUS"}, got {"ok":true,"value":""}']);
  const text = await cli(['compare', file, '--seed', '1']);
  t.true(text.stdout.includes('run under madv-free: FAIL, 1 expectation(s) failed\n  A step 5: expected {"signal":"SIGBUS"}, got {"ok":true,"value":""}'), text.stdout);
  fs.rmSync(dir, { recursive: true, force: true });
});
