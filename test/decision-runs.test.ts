// Decisions by run (issue 14, docs/history-format.md "Decisions by run"): the pages of a unit that
// share their mappers and votes get one decision; a page whose votes differ starts a new run; each
// page is decided as it would be alone, and vrange check and explain read the runs page by page,
// as they read the one-page decisions of histories written before.
import test from 'ava';
import { checkHistory } from '../checker/check.js';
import { decisionPageName, decisionRun, type HistoryEvent } from '../coordinator/history.js';
import { explainRun } from '../report/explain.js';
import { parseScenario } from '../shared/scenario.js';
import { configFor, resultsOf, runYaml } from './helpers.js';
import { pagesOf } from '../shared/runs.js';

const yaml = `
name: decision-runs
description: P marks 12 pages volatile and forks C; C marks pages 4-5 non-volatile again; the kernel reclaims all.
memory: { frames: 32 }
processes:
  P:
    sigbus: handle
    steps:
      - { op: mmap, as: a, pages: 12 }
${Array.from({ length: 12 }, (_, j) => `      - { op: write, map: a, page: ${j}, value: p${j} }`).join('\n')}
      - { op: vrange, map: a, page: 0, pages: 12, mode: volatile }
      - { op: fork, child: C }
      - { op: wait, name: done }
      - { op: read, map: a, page: 3, expect: { signal: SIGBUS } }
      - { op: read, map: a, page: 4, expect: { value: p4 } }
      - { op: read, map: a, page: 5, expect: { value: p5 } }
      - { op: read, map: a, page: 6, expect: { signal: SIGBUS } }
  C:
    forked: true
    steps:
      - { op: vrange, map: a, page: 4, pages: 2, mode: nonvolatile, expect: { purged: false } }
      - { op: signal, name: marked }
      - { op: wait, name: done }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, expect: { freed: 10 } }
  - { op: signal, name: done }
`;

type Ev = Record<string, any>;

/**
 * The history as a reader before decisions by run saw it: one `decision` per page, no `pages`; a
 * `purge-notify` lists every page in `vpages`, no `runs`.
 */
function perPage(h: readonly HistoryEvent[]): Ev[] {
  const out: Ev[] = [];
  for (const e of h as readonly Ev[]) {
    if (e.kind === 'purge-notify') {
      const { runs, ...rest } = structuredClone(e);
      out.push({ ...rest, vpages: pagesOf(runs) });
      continue;
    }
    if (e.kind !== 'decision') { out.push(structuredClone(e)); continue; }
    const { frame, count } = decisionRun(e);
    for (let k = 0; k < count; k++) {
      const d = structuredClone(e);
      delete d.pages;
      d.page = decisionPageName(e as Parameters<typeof decisionPageName>[0], k);
      d.frame = frame + k;
      if (typeof d.filePage === 'number') d.filePage += k;
      d.vpages = (d.vpages ?? []).map(([pid, v]: [number, number]) => [pid, v + k]);
      d.votes = d.votes.map((v: Ev) => ({ ...v, vpage: v.vpage + k }));
      out.push(d);
    }
  }
  out.forEach((e, i) => { e.seq = i; delete e.line; });
  return out;
}

test('one decision a run: the pages whose votes differ are a run of their own, and each page is decided as alone', async (t) => {
  for (const schedule of ['lockstep', 'free'] as const) {
    const o = await runYaml(yaml, { schedule, seed: 3 });
    t.true(o.report.ok, `${schedule}: ${JSON.stringify(o.report.failures)} ${JSON.stringify(o.report.invariants.filter((i) => !i.ok))}`);
    const ds = o.history.filter((e) => e.kind === 'decision');
    // P's range unit comes first (marked first) and decides every page: 0-3 purged, 4-5 kept (C objects), 6-11 purged.
    t.deepEqual(ds.map((d) => [d.purge, d.pages![1]]), [[true, 4], [false, 2], [true, 6]], `${schedule}: three runs`);
    const first = ds[0]!.frame!;
    t.deepEqual(ds.map((d) => d.pages![0] - first), [0, 4, 6], `${schedule}: the runs follow each other frame by frame`);
    for (const d of ds) t.deepEqual(d.votes!.map((v) => v.process), ['P', 'C']);
    t.deepEqual(ds[1]!.votes!.map((v) => v.volatile), [true, false]);
    t.regex(ds[0]!.page!, /^anonymous frames \d+-\d+ \(P@\d+-\d+, C@\d+-\d+\)$/);
    const p = resultsOf(o, 'P');
    t.deepEqual([...p.values()].slice(-4).map((r) => r.signal ?? r.value), ['SIGBUS', 'p4', 'p5', 'SIGBUS']);
    t.deepEqual(checkHistory(o.history).violations, [], `${schedule}: vrange check accepts the runs`);
  }
});

test('vrange check and explain read a run as its pages: the same verdicts and rules as from one decision a page', async (t) => {
  const o = await runYaml(yaml, { schedule: 'lockstep', seed: 3 });
  const runs = o.history;
  const pages = perPage(runs);
  t.is(pages.filter((e) => e.kind === 'decision').length, 12, 'the older format: one decision a page');
  // Notifications by run: each process is told of its 10 purged pages in two runs (4-5 were kept), the older format lists them.
  const notify = runs.filter((e) => e.kind === 'purge-notify') as Ev[];
  t.deepEqual(notify.map((e) => [e.process, e.runs.length, e.vpages]), [['P', 4, undefined], ['C', 4, undefined]]);
  t.deepEqual(pages.filter((e) => e.kind === 'purge-notify').map((e) => e.vpages.length), [10, 10]);
  const a = checkHistory(runs);
  const b = checkHistory(pages);
  t.deepEqual(a.violations, []);
  t.deepEqual(b.violations, []);
  // Every page of a run is checked as one page each (well-formed counts the lines, 9 more in the older form).
  t.deepEqual({ ...a.checked, 'well-formed': 0 }, { ...b.checked, 'well-formed': 0 });
  t.is(b.checked['well-formed'] - a.checked['well-formed'], 12 - 3);
  const s = parseScenario(yaml, 'decision-runs.yaml');
  const rules = (h: readonly HistoryEvent[]) => [...explainRun(s, configFor(s), h as HistoryEvent[])].map(([k, x]) => [k, x.rules]);
  t.deepEqual(rules(runs), rules(pages as unknown as HistoryEvent[]), 'the same rules for every step');
  // P's SIGBUS on page 3 goes back to the first run's purge, its read of page 4 to the second run's keep.
  const x = explainRun(s, configFor(s), runs);
  const ds = runs.filter((e) => e.kind === 'decision');
  t.deepEqual(x.get('P#16')?.rules, [ds[0]!.rule]);
  t.deepEqual(x.get('P#17')?.rules, [ds[1]!.rule]);
  // Named as the page itself, not the run: the same words as one decision a page gives.
  t.regex(x.get('P#16')!.why[0]!, new RegExp(`purged anonymous frame ${ds[0]!.frame! + 3} \\(P@\\d+, C@\\d+\\)`));
  const y = explainRun(s, configFor(s), pages as unknown as HistoryEvent[]);
  for (const [k, v] of x) if (!k.startsWith('@kernel')) t.deepEqual(v.why, y.get(k)?.why, `${k}: the same words`);

  // A run moved by one page in one mapper now covers page 4 of C, non-volatile there: found in both forms.
  const moved = (h: Ev[]) => {
    const copy = structuredClone(h);
    const d = copy.find((e) => e.kind === 'decision' && e.purge === true)!;
    d.votes[1].vpage += 1;
    return copy;
  };
  const planted = moved(runs as Ev[]);
  const v = checkHistory(planted as HistoryEvent[]).violations.filter((x) => x.check === 'purge-was-volatile');
  t.is(v.length, 1, 'one violation for the run');
  t.regex(v[0]!.text, /purged, but C had page \d+ not volatile/);
  t.true(checkHistory(perPage(planted as HistoryEvent[]) as HistoryEvent[]).violations.some((x) => x.check === 'purge-was-volatile'));
});
