// The offline checker's state grows with what is touched, not with what is marked or mapped
// (issue 11, item 5; `vrange check` and every `explore` run use it). Real runs mmap and mark
// 4,000,000 pages volatile, unmark part, purge a few touched pages and read a purged one (SIGBUS);
// the checker must judge those histories as before (valid; a planted violation found) while it
// holds a few cells and intervals: `held` is the structural measure (per-page records, interval
// pieces), read deterministically, never a time.
import test from 'ava';
import { checkHistory, type CheckName } from '../checker/check.js';
import { explainRun } from '../report/explain.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { parseScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { configFor } from './helpers.js';
import type { RunConfig } from '../shared/scenario-types.js';
type Policy = RunConfig['policy'];

const big = 4_000_000;
/** Generous: a few dozen touched pages and pieces; per-page state would be millions. */
const heldMax = 200;

const anonYaml = `
name: check-scale-anon
memory: { frames: 64 }
processes:
  A:
    sigbus: handle
    steps:
      - { op: mmap, as: buf, pages: ${big}, expect: { ok: true } }
      - { op: write, map: buf, page: 0, value: "p0", expect: { ok: true } }
      - { op: write, map: buf, page: 1999999, value: "mid", expect: { ok: true } }
      - { op: write, map: buf, page: 3999999, value: "last", expect: { ok: true } }
      - { op: vrange, map: buf, page: 0, pages: ${big}, mode: volatile, expect: { ok: true } }
      - { op: vrange, map: buf, page: 1000000, pages: 2000000, mode: nonvolatile, expect: { ok: true, purged: false } }
      - { op: fork, child: B }
      - { op: signal, name: marked }
      - { op: wait, name: purged }
      - { op: read, map: buf, page: 0, expect: { ok: false, signal: SIGBUS } }
      - { op: read, map: buf, page: 1999999, expect: { ok: true, value: "mid" } }
      - { op: vrange, map: buf, page: 0, pages: ${big}, mode: nonvolatile, expect: { ok: true, purged: true } }
      - { op: read, map: buf, page: 0, expect: { ok: true, value: "" } }
      - { op: read, map: buf, page: 3999999, expect: { ok: true, value: "" } }
      - { op: write, map: buf, page: 2500000, value: "late", expect: { ok: true } }
      - { op: read, map: buf, page: 2500000, expect: { ok: true, value: "late" } }
  B:
    forked: true
    steps:
      - { op: read, map: buf, page: 1999999, expect: { ok: true, value: "mid" } }
      - { op: vrange, map: buf, page: 0, pages: ${big}, mode: nonvolatile, expect: { ok: true, purged: false } }
kernel:
  - { op: wait, name: marked }
  - { op: waitpid, process: B, expect: { ok: true, exitCode: 0 } }
  - { op: reclaim, all: true, expect: { ok: true, freed: 2 } }
  - { op: signal, name: purged }
  - { op: waitpid, process: A, expect: { ok: true, exitCode: 0 } }
`;

// A file of 4,000,000 pages mapped shared and private, marked by fvrange and by vrange (the file's
// range or the mm's, by policy), partly unmarked, reclaimed: no expectations (they differ by policy),
// the run's own invariants and the model judge it.
const fileYaml = `
name: check-scale-file
memory: { frames: 64 }
files:
  - { name: big, pages: ${big} }
processes:
  A:
    sigbus: handle
    steps:
      - { op: open, file: big }
      - { op: mmap, as: m, fd: big, pages: ${big} }
      - { op: mmap, as: p, fd: big, pages: ${big}, share: private }
      - { op: write, map: m, page: 0, value: "f0" }
      - { op: write, map: m, page: 1999999, value: "fmid" }
      - { op: write, map: p, page: 3999999, value: "own" }
      - { op: write, map: m, page: 3999999, value: "flast" }
      - { op: fvrange, fd: big, page: 0, pages: ${big}, mode: volatile }
      - { op: vrange, map: m, page: 0, pages: ${big}, mode: volatile }
      - { op: vrange, map: p, page: 0, pages: ${big}, mode: volatile }
      - { op: fvrange, fd: big, page: 1000000, pages: 2000000, mode: nonvolatile }
      - { op: vrange, map: m, page: 1000000, pages: 2000000, mode: nonvolatile }
      - { op: signal, name: marked }
      - { op: wait, name: purged }
      - { op: read, map: m, page: 0 }
      - { op: read, map: m, page: 1999999 }
      - { op: read, map: p, page: 3999999 }
      - { op: fvrange, fd: big, page: 0, pages: ${big}, mode: nonvolatile }
      - { op: vrange, map: m, page: 0, pages: ${big}, mode: nonvolatile }
      - { op: vrange, map: p, page: 0, pages: ${big}, mode: nonvolatile }
      - { op: read, map: m, page: 0 }
      - { op: write, map: m, page: 2500000, value: "late" }
      - { op: read, map: m, page: 2500000 }
      - { op: munmap, map: m }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
  - { op: signal, name: purged }
  - { op: waitpid, process: A }
`;

// A planted history may set any field of any event: its events as plain records (checkHistory
// validates each, as it does a history built in memory).
type Ev = Record<string, any>;
async function history(yaml: string, policy: Policy): Promise<Ev[]> {
  const s = parseScenario(yaml, 'check-scale.yaml');
  const { report, history: h } = await runScenario(s, configFor(s, { policy }), { checkModel: true });
  if (!report.ok) throw new Error(`${s.name} under ${policy} failed: ${JSON.stringify(report.failures)} ${JSON.stringify(report.invariants.filter((i) => !i.ok))}`);
  return h as Ev[];
}
const found = (h: Ev[]): CheckName[] => [...new Set(checkHistory(h).violations.map((v) => v.check))];
function plant(h: Ev[], fn: (h: Ev[]) => void): Ev[] {
  const copy = structuredClone(h);
  fn(copy);
  return copy;
}
const complete = (h: Ev[], process: string, index: number) => h.find((e) => e.kind === 'complete' && e.process === process && e.index === index)!;

test('an anonymous mapping of 4,000,000 pages marked volatile: judged right, with state for the touched pages only', async (t) => {
  const h = await history(anonYaml, 'shared-file');
  const r = checkHistory(h);
  t.deepEqual(r.violations, []);
  t.true(r.checked['sigbus-on-purged'] >= 1 && r.checked['read-last-write'] >= 1 && r.checked['purge-was-volatile'] >= 2 && r.checked['purge-reported'] >= 2);
  t.true(r.held.cells <= heldMax, `${r.held.cells} per-page records held`);
  t.true(r.held.intervals <= heldMax, `${r.held.intervals} interval pieces held`);

  // Still judged at this scale: a SIGBUS on the page left non-volatile, a purge of it, a lost report.
  t.deepEqual(found(plant(h, (c) => { const e = complete(c, 'A', 10); e.type = 'fail'; e.result = { ok: false, signal: 'SIGBUS' }; })), ['sigbus-on-purged']);
  t.deepEqual(found(plant(h, (c) => { complete(c, 'A', 15).result.value = 'other'; })), ['read-last-write']);
  t.deepEqual(found(plant(h, (c) => { complete(c, 'A', 11).result.purged = false; })), ['purge-reported']);
  t.deepEqual(found(plant(h, (c) => {
    const d = c.find((e) => e.kind === 'decision' && e.purge === true)!;
    const start = (c.find((e) => e.kind === 'complete' && e.process === 'A' && e.index === 0)!.result.addr as number) / 4096;
    d.votes[0].vpage = start + 1999999;
  })), ['purge-was-volatile']);
  // The explanations of the run (compare, quiz) are read from the same history, span by span.
  const s = parseScenario(anonYaml, 'check-scale.yaml');
  const x = explainRun(s, configFor(s), h as HistoryEvent[]);
  t.true((x.get('A#9')?.rules.length ?? 0) > 0, 'the SIGBUS is explained by the purge');
  t.true((x.get('A#11')?.rules.length ?? 0) > 0, 'the purged: true is explained by the purge');
});

for (const policy of ['shared-file', 'per-mm', 'anon-only'] as const) {
  test(`a file of 4,000,000 pages marked by fvrange and vrange (${policy}): judged right, with state for the touched pages only`, async (t) => {
    const h = await history(fileYaml, policy);
    const r = checkHistory(h);
    t.deepEqual(r.violations, []);
    t.true(r.checked['read-last-write'] >= 1 && r.checked['purge-was-volatile'] >= 1);
    t.true(r.held.cells <= heldMax, `${r.held.cells} per-page records held`);
    t.true(r.held.intervals <= heldMax, `${r.held.intervals} interval pieces held`);
    // The page read back after the write that followed every nonvolatile: a changed value is caught.
    t.deepEqual(found(plant(h, (c) => { complete(c, 'A', 22).result.value = 'other'; })), ['read-last-write']);
  });
}
