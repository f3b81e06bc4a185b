// `vrange compare`: every policy, same seed, real processes; the rows that differ and the rules
// that made each answer. Each compare runs the scenario four times on real agents (madv-free the fourth).
import test from 'ava';
import { loadScenario } from '../shared/scenario.js';
import { compare, type CompareRow } from '../harness/compare.js';
import { cli, scenarioPath, configFor } from './helpers.js';

function base(name: string, seed = 1) {
  const s = loadScenario(scenarioPath(name));
  const { policy: _p, ...rest } = configFor(s, { seed });
  return { s, base: rest };
}

const row = (rows: CompareRow[], process: string, index: number) => rows.find((r) => r.process === process && r.index === index);
/** The three proposals; `madv-free`, what Linux merged, is the fourth policy of every compare. */
const PROPOSALS = ['shared-file', 'per-mm', 'anon-only'] as const;

test('file-vrange-policies: the reclaim, the reads and the refused vrange differ, each with its rule', async (t) => {
  const { s, base: b } = base('file-vrange-policies');
  const c = await compare(s, b);
  t.deepEqual(PROPOSALS.map((p) => c.runs[p]!.ok), [true, true, true]);
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

test('fork-cow-purge: anonymous memory follows one rule in the proposals, so no step differs between them; madv-free keeps B\'s written copy', async (t) => {
  const { s, base: b } = base('fork-cow-purge');
  const c = await compare(s, b);
  const differsInProposals = (r: CompareRow) => new Set(PROPOSALS.map((p) => JSON.stringify(r.answers[p]?.result))).size > 1;
  t.deepEqual(c.differing.filter(differsInProposals), []);
  t.true(c.steps >= 17);
  t.deepEqual(PROPOSALS.map((p) => c.runs[p]!.ok), [true, true, true]);
  // MADV_FREE never marked B's copy (written after the fork): 2 frames freed where the proposals free 3.
  t.deepEqual(row(c.differing, 'kernel', 2)!.answers['madv-free'].result, { ok: true, freed: 2 });
  t.deepEqual(row(c.differing, 'kernel', 2)!.answers['shared-file'].result, { ok: true, freed: 3 });
});

test('the command: a table with one column per policy, --json the same rows, --policy refused', async (t) => {
  const text = await cli(['compare', scenarioPath('file-vrange-policies'), '--seed', '1']);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /step +shared-file +per-mm +anon-only/);
  t.regex(text.stdout, /kernel #3 reclaim all +freed=4 +freed=2 +freed=0/);
  t.regex(text.stdout, /B #5 under per-mm: per-mm-mapper-not-marked: exchange 1 kept f page 1/);
  const json = await cli(['compare', scenarioPath('file-vrange-policies'), '--seed', '1', '--json']);
  t.is(json.code, 0);
  const doc = JSON.parse(json.stdout) as { differing: CompareRow[]; seed: number };
  t.is(doc.seed, 1);
  t.is(doc.differing.length, Number(/(\d+) of \d+ step\(s\) differ/.exec(text.stdout)![1]));
  t.deepEqual(row(doc.differing, 'kernel', 3)!.answers['per-mm'].result, { ok: true, freed: 2 });
  const bad = await cli(['compare', scenarioPath('file-vrange-policies'), '--policy', 'per-mm']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--policy does not go with compare/);
});
