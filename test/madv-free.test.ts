// `--policy madv-free` on real processes: each rule of docs/semantics.md, "What Linux merged:
// MADV_FREE", as a run whose step results show it (each scenario's `expect`s, and the results
// asserted here once more), with every invariant and `vrange check` holding on its history. The
// checker's own madv-free rules are tested on histories made to break them.
import test, { type ExecutionContext } from 'ava';
import { parseScenario } from '../shared/scenario.js';
import { runScenario, type RunOutcome } from '../harness/run.js';
import { checkHistory } from '../checker/check.js';
import type { HistoryEvent } from '../coordinator/history.js';
import type { RunConfig } from '../shared/scenario-types.js';
import { configFor, resultsOf, sessionLimiter } from './helpers.js';
import { randomScenario } from '../shared/generate.js';
import { aWrites, kernelReclaims, preferring } from './scenario_helpers.js';
import type { Chooser } from '../coordinator/scheduler.js';

const gate = sessionLimiter(2);

/** Runs `yaml` under madv-free; every expectation, invariant (the reference model's agreement too) and history check must hold. */
async function run(t: ExecutionContext, yaml: string, over: Partial<RunConfig> = {}, chooser?: Chooser): Promise<RunOutcome> {
  const s = parseScenario(`name: madv-free\npolicy: madv-free\n${yaml}`, 'madv-free.yaml');
  const out = await gate((session) => runScenario(s, configFor(s, { seed: 1, ...over }), { session, chooser, checkModel: true }));
  t.deepEqual(out.report.failures, [], 'every expectation holds');
  t.deepEqual(out.report.invariants.filter((i) => !i.ok), [], 'every invariant holds');
  t.deepEqual(checkHistory(out.history).violations, [], 'vrange check finds the history valid');
  return out;
}

const decisions = (o: RunOutcome) => o.history.filter((e) => e.kind === 'decision');

test('only private anonymous memory: shared anonymous memory, file mappings, fvrange and nonvolatile are EINVAL; no mapping is ENOMEM', async (t) => {
  const o = await run(t, `
memory: { frames: 16 }
files: [ { name: f, pages: 2 } ]
processes:
  A:
    steps:
      - { op: mmap, as: sh, pages: 2, share: shared }
      - { op: write, map: sh, page: 0, value: "s" }
      - { op: vrange, map: sh, page: 0, pages: 2, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: open, file: f }
      - { op: mmap, as: fs, pages: 2, fd: f }
      - { op: vrange, map: fs, page: 0, pages: 1, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: mmap, as: fp, pages: 2, fd: f, share: private }
      - { op: write, map: fp, page: 0, value: "copy" }
      - { op: vrange, map: fp, page: 0, pages: 1, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: close, fd: f }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "a" }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: nonvolatile, expect: { ok: false, errno: EINVAL } }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatil, expect: { ok: false, errno: EINVAL } }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile, expect: { ok: true, bytes: 4096 } }
      - { op: mmap, as: none, pages: 0, expect: { ok: false, errno: EINVAL } }
      - { op: vrange, map: none, page: 0, pages: 1, mode: volatile, expect: { ok: false, errno: ENOMEM } }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: read, map: sh, page: 0, expect: { value: "s" } }
      - { op: read, map: fp, page: 0, expect: { value: "copy" } }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
${kernelReclaims(1)}
`);
  const a = resultsOf(o, 'A');
  // The fvrange of a closed fd is EINVAL too, not EBADF: there is no such call to look the fd up.
  t.deepEqual(a.get(11), { ok: false, errno: 'EINVAL' });
  t.deepEqual(a.get(14), { ok: false, errno: 'EINVAL' });
  t.is(decisions(o).length, 1, 'only the private anonymous page was a reclaim candidate');
});

test('a mark takes only the pages resident now; a page faulted in later is not marked', async (t) => {
  const o = await run(t, `
${aWrites(3, 1)}
      - { op: vrange, map: buf, page: 0, pages: 3, mode: volatile, expect: { bytes: 12288 } }
      - op: query
        map: buf
        page: 0
        pages: 3
        expect: { pages: [ { page: 0, resident: true, volatile: true, purged: false }, { page: 1, resident: false, volatile: false, purged: false }, { page: 2, resident: false, volatile: false, purged: false } ] }
      - { op: write, map: buf, page: 1, value: "a1" }
      - { op: query, map: buf, page: 1, pages: 1, expect: { pages: [ { page: 1, resident: true, volatile: false, purged: false } ] } }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
${kernelReclaims(1)}
`);
  t.deepEqual(resultsOf(o, 'A').get(9), { ok: true, value: 'a1' });
});

test('a hole in the span: the mapped parts are still marked, then ENOMEM; a VMA not anonymous stops the walk with EINVAL', async (t) => {
  const o = await run(t, `
${aWrites(4, 1)}
      - { op: write, map: buf, page: 3, value: "a3" }
      - { op: munmap, map: buf, page: 1, pages: 2 }
      - { op: vrange, map: buf, page: 0, pages: 4, mode: volatile, expect: { ok: false, errno: ENOMEM } }
      - { op: query, map: buf, page: 0, pages: 1, expect: { pages: [ { page: 0, resident: true, volatile: true, purged: false } ] } }
      - { op: query, map: buf, page: 3, pages: 1, expect: { pages: [ { page: 3, resident: true, volatile: true, purged: false } ] } }
      - { op: mmap, as: x, pages: 1 }
      - { op: mmap, as: sh, pages: 1, share: shared }
      - { op: mmap, as: y, pages: 1 }
      - { op: write, map: x, page: 0, value: "x" }
      - { op: write, map: y, page: 0, value: "y" }
      - { op: vrange, map: x, page: 0, pages: 3, mode: volatile, expect: { ok: false, errno: EINVAL } }
      - { op: query, map: x, page: 0, pages: 1, expect: { pages: [ { page: 0, resident: true, volatile: true, purged: false } ] } }
      - { op: query, map: y, page: 0, pages: 1, expect: { pages: [ { page: 0, resident: true, volatile: false, purged: false } ] } }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 3, expect: { value: "" } }
      - { op: read, map: x, page: 0, expect: { value: "" } }
      - { op: read, map: y, page: 0, expect: { value: "y" } }
${kernelReclaims(3)}
`);
  const a = resultsOf(o, 'A');
  t.deepEqual(a.get(4), { ok: false, errno: 'ENOMEM' });
  t.deepEqual(a.get(20), { ok: true, value: 'y' }, 'the anonymous VMA after the shared one was not marked');
});

test('a write to a marked page before reclaim cancels the free of that page only; a read does not', async (t) => {
  const o = await run(t, `
${aWrites(3, 3)}
      - { op: vrange, map: buf, page: 0, pages: 3, mode: volatile }
      - { op: write, map: buf, page: 1, value: "new" }
      - { op: query, map: buf, page: 1, pages: 1, expect: { pages: [ { page: 1, resident: true, volatile: false, purged: false } ] } }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 1, expect: { value: "new" } }
      - { op: read, map: buf, page: 2, expect: { value: "" } }
${kernelReclaims(2, 0)}
`);
  // The second scan finds page 1 old again (the write made it young): still not freed, as it is dirty.
  t.deepEqual(resultsOf(o, 'kernel').get(1), { ok: true, freed: 2 });
  t.deepEqual(resultsOf(o, 'kernel').get(2), { ok: true, freed: 0 });
  t.deepEqual(resultsOf(o, 'A').get(10), { ok: true, value: 'new' });
});

test('a freed page reads "" with no SIGBUS and no purged; a write faults in a new page; nothing is ever purged', async (t) => {
  const o = await run(t, `
${aWrites(1, 1)}
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: query, map: buf, page: 0, pages: 1, expect: { pages: [ { page: 0, resident: false, volatile: false, purged: false } ] } }
      - { op: read, map: buf, page: 0, expect: { ok: true, value: "" } }
      - { op: write, map: buf, page: 0, value: "again" }
      - { op: read, map: buf, page: 0, expect: { ok: true, value: "again" } }
      - { op: signal, name: written }
${kernelReclaims(1)}
  - { op: wait, name: written }
  - { op: reclaim, all: true, expect: { freed: 0 } }
`, { access: 'sigbus' });
  t.deepEqual(resultsOf(o, 'A').get(6), { ok: true, value: '' });
  t.false(o.history.some((e) => e.kind === 'complete' && e.result.signal === 'SIGBUS'));
  t.deepEqual(decisions(o).map((d) => d.rule), ['lazyfree-clean'], 'the rewritten page is no candidate');
});

test('a read gives the page one second chance; read again after it, the page is activated; a later scan frees it', async (t) => {
  const o = await run(t, `
${aWrites(2, 2)}
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: read, map: buf, page: 0, expect: { value: "a0" } }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
      - { op: signal, name: read }
      - { op: wait, name: scanned }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
      - { op: signal, name: again }
      - { op: wait, name: scanned2 }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: signal, name: checked }
      - { op: wait, name: scanned3 }
      - { op: read, map: buf, page: 1, expect: { value: "" } }
kernel:
  - { op: wait, name: read }
  - { op: reclaim, all: true, expect: { freed: 0 } }
  - { op: signal, name: scanned }
  - { op: wait, name: again }
  - { op: reclaim, all: true, expect: { freed: 1 } }
  - { op: signal, name: scanned2 }
  - { op: wait, name: checked }
  - { op: reclaim, all: true, expect: { freed: 1 } }
  - { op: signal, name: scanned3 }
`);
  t.deepEqual(decisions(o).map((d) => `frame ${d.frame}: ${d.rule}`), [
    'frame 0: lazyfree-second-chance', 'frame 1: lazyfree-second-chance', // scan 1: each page read once since the mark
    'frame 0: lazyfree-clean', 'frame 1: lazyfree-activated',             // scan 2: page 0 unread since: freed; page 1 read again
    'frame 1: lazyfree-clean',                                             // scan 3: PG_referenced alone on a clean page: freed
  ]);
  t.deepEqual(resultsOf(o, 'kernel').get(1), { ok: true, freed: 0 });
});

test('after fork: a page both share is freed only when every pte is clean; a dirty copy blocks it and takes the mark back', async (t) => {
  const o = await run(t, `
${aWrites(3, 3)}
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: vrange, map: buf, page: 2, pages: 1, mode: volatile }
      - { op: fork, child: B }
      - { op: vrange, map: buf, page: 1, pages: 1, mode: volatile }
      - { op: signal, name: forked }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
      - { op: read, map: buf, page: 2, expect: { value: "" } }
      - { op: wait, name: copied }
      - { op: signal, name: go }
      - { op: wait, name: freed2 }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
  B:
    forked: true
    steps:
      - { op: write, map: buf, page: 2, value: "b2" }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
      - { op: read, map: buf, page: 2, expect: { value: "b2" } }
      - { op: write, map: buf, page: 1, value: "b1" }
      - { op: signal, name: copied }
kernel:
  - { op: wait, name: forked }
  - { op: reclaim, all: true, expect: { freed: 2 } }
  - { op: signal, name: freed }
  - { op: wait, name: go }
  - { op: reclaim, all: true, expect: { freed: 0 } }
  - { op: signal, name: freed2 }
`);
  const rules = decisions(o).map((d) => d.rule);
  // Exchange 1: page 0 (both clean) and A's page 2 (B wrote its own copy) freed; page 1 kept (B's pte dirty).
  t.deepEqual(rules.filter((r) => r === 'lazyfree-clean').length, 2);
  t.true(rules.includes('lazyfree-redirtied'));
  t.deepEqual(resultsOf(o, 'B').get(4), { ok: true, value: 'b2' }, "B's written copy survives");
  // Exchange 2: B copied page 1 away, so A alone maps it, clean; but its mark was taken back: kept.
  t.deepEqual(resultsOf(o, 'kernel').get(4), { ok: true, freed: 0 });
});

test('reclaim pages: N frees page by page, least recently used first; direct reclaim frees a lazyfree page instead of an OOM kill', async (t) => {
  const o = await run(t, `
${aWrites(5, 3, { frames: 3 })}
      - { op: write, map: buf, page: 0, value: "A0" }
      - { op: vrange, map: buf, page: 0, pages: 3, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: one }
      - { op: read, map: buf, page: 1, expect: { value: "" } }
      - { op: write, map: buf, page: 3, value: "a3" }
      - { op: write, map: buf, page: 4, value: "a4" }
      - { op: read, map: buf, page: 2, expect: { value: "" } }
      - { op: read, map: buf, page: 0, expect: { value: "A0" } }
      - { op: read, map: buf, page: 3, expect: { value: "a3" } }
      - { op: read, map: buf, page: 4, expect: { value: "a4" } }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, pages: 1, expect: { freed: 1 } }
  - { op: signal, name: one }
`);
  // Page 1 was used least recently (page 0 was written again after it): the first to go.
  t.deepEqual(resultsOf(o, 'A').get(8), { ok: true, value: '' });
  t.deepEqual(resultsOf(o, 'A').get(12), { ok: true, value: 'A0' });
  t.false(o.history.some((e) => e.kind === 'oom-kill'), 'the write of page 4 found a lazyfree page to free');
  t.deepEqual(decisions(o).filter((d) => d.reason.startsWith('direct reclaim')).map((d) => `frame ${d.frame}: ${d.rule}`), ['frame 2: lazyfree-clean'],
    'the write of page 4 freed page 2, the least recently used lazyfree page left');
});

test('direct reclaim scans again when a scan only spent second chances, before any OOM kill', async (t) => {
  const o = await run(t, `
${aWrites(3, 2, { frames: 2 })}
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: read, map: buf, page: 0, expect: { value: "a0" } }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
      - { op: write, map: buf, page: 2, value: "a2", expect: { ok: true } }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 1, expect: { value: "a1" } }
`);
  t.false(o.history.some((e) => e.kind === 'oom-kill'));
  t.deepEqual(decisions(o).map((d) => `frame ${d.frame}: ${d.rule}`),
    ['frame 0: lazyfree-second-chance', 'frame 1: lazyfree-second-chance', 'frame 0: lazyfree-clean']);
});

test('between prepare and commit, a dirty mapper of a lazyfree page holds it too: its write waits, and the page is kept', async (t) => {
  // Lockstep, preferring A, then the kernel, then B, then the commit: B's write comes between the prepare and the commit.
  const chooser = preferring(['A', 'kernel', 'B', 'commit']);
  const o = await run(t, `
${aWrites(1, 1)}
      - { op: fork, child: B }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: done }
      - { op: read, map: buf, page: 0, expect: { value: "a0" } }
  B:
    forked: true
    steps:
      - { op: wait, name: go }
      - { op: write, map: buf, page: 0, value: "b0" }
      - { op: signal, name: wrote }
      - { op: read, map: buf, page: 0, expect: { value: "b0" } }
kernel:
  - { op: wait, name: marked }
  - { op: signal, name: go }
  - { op: reclaim, all: true, expect: { freed: 0 } }
  - { op: wait, name: wrote }
  - { op: reclaim, all: true, expect: { freed: 0 } }
  - { op: signal, name: done }
`, {}, chooser);
  t.true(o.history.some((e) => e.kind === 'blocked' && e.process === 'B'), "B's write waited for the commit");
  // B's pte was dirty (it inherited A's written page): the page was redirtied, and A's mark taken back, so the
  // second reclaim, with A alone mapping it after B's copy, frees nothing either.
  t.deepEqual(decisions(o).map((d) => d.rule), ['lazyfree-redirtied']);
  t.deepEqual(resultsOf(o, 'A').get(6), { ok: true, value: 'a0' });
});

test('a mark over a hole waits for a held page it marks, then fails with ENOMEM', async (t) => {
  const chooser = preferring(['kernel', 'A', 'commit']);
  const o = await run(t, `
${aWrites(3, 1)}
      - { op: munmap, map: buf, page: 1, pages: 1 }
      - { op: vrange, map: buf, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: vrange, map: buf, page: 0, pages: 3, mode: volatile, expect: { ok: false, errno: ENOMEM } }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true, expect: { freed: 1 } }
`, {}, chooser);
  // The kernel's prepare comes first (the chooser prefers it), so A's second mark meets its held page 0.
  t.true(o.history.some((e) => e.kind === 'blocked' && e.process === 'A' && e.index === 5), 'the mark waited for the commit');
  t.deepEqual(resultsOf(o, 'A').get(5), { ok: false, errno: 'ENOMEM' });
});

test('the free schedule: the rules hold with processes running at once', async (t) => {
  const o = await run(t, `
${aWrites(2, 2)}
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: write, map: buf, page: 1, value: "kept" }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0, expect: { value: "" } }
      - { op: read, map: buf, page: 1, expect: { value: "kept" } }
${kernelReclaims(1, 0)}
`, { schedule: 'free' });
  t.deepEqual(resultsOf(o, 'A').get(8), { ok: true, value: 'kept' });
});

// ---- vrange check under madv-free: histories made to break a rule

const FREED = `
${aWrites(2, 2)}
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: write, map: buf, page: 1, value: "new" }
      - { op: signal, name: marked }
      - { op: wait, name: freed }
      - { op: read, map: buf, page: 0 }
      - { op: read, map: buf, page: 1 }
${kernelReclaims(null, null)}
`;

function forged(history: HistoryEvent[], change: (e: HistoryEvent) => HistoryEvent | undefined): unknown[] {
  return history.map((e) => change(structuredClone(e)) ?? e);
}

test('vrange check: a freed page that reads its old data, a marked page that loses data written after the mark, a SIGBUS: each a violation', async (t) => {
  const o = await run(t, FREED);
  const readOf = (e: HistoryEvent, index: number) => e.kind === 'complete' && e.process === 'A' && e.index === index;
  // The freed page 0 read back its old content: under madv-free it must read "".
  const stale = checkHistory(forged(o.history, (e) => (readOf(e, 7) ? { ...e, result: { ok: true, value: 'a0' } } as HistoryEvent : undefined)));
  t.true(stale.violations.some((v) => v.check === 'read-last-write' && v.text.includes('madv-free freed')), JSON.stringify(stale.violations));
  // Page 1, written after the mark, read as "": its data was lost.
  const lost = checkHistory(forged(o.history, (e) => (readOf(e, 8) ? { ...e, result: { ok: true, value: '' } } as HistoryEvent : undefined)));
  t.true(lost.violations.some((v) => v.check === 'read-last-write'), JSON.stringify(lost.violations));
  // A kernel that freed page 1 anyway (the write had taken its mark back).
  const freedWritten = checkHistory(forged(o.history, (e) => (e.kind === 'decision' ? { ...e, vpages: [[2, 2]], votes: e.votes.map((v) => ({ ...v, vpage: 2 })) } as HistoryEvent : undefined)));
  t.true(freedWritten.violations.some((v) => v.check === 'purge-was-volatile' && v.text.includes('not marked lazyfree')), JSON.stringify(freedWritten.violations));
  // A SIGBUS: madv-free has none.
  const sigbus = checkHistory(forged(o.history, (e) => (readOf(e, 7) ? { ...e, type: 'fail', result: { ok: false, signal: 'SIGBUS' } } as HistoryEvent : undefined)));
  t.true(sigbus.violations.some((v) => v.check === 'sigbus-on-purged' && v.text.includes('madv-free')), JSON.stringify(sigbus.violations));
});

test('vrange check: a read that overlaps another process\'s write of a shared page may return either value, and nothing else', async (t) => {
  // Found by madv-free's random runs in the free schedule (the proposals' marks hid it): the kernel
  // applies a write at its syscall, which the history does not order against the other step's complete.
  const o = await run(t, `
memory: { frames: 16 }
processes:
  A:
    steps:
      - { op: mmap, as: sh, pages: 1, share: shared }
      - { op: write, map: sh, page: 0, value: "a" }
      - { op: fork, child: B }
      - { op: read, map: sh, page: 0 }
  B:
    forked: true
    steps:
      - { op: write, map: sh, page: 0, value: "b" }
`);
  const at = (process: string, index: number, kind: string) => o.history.findIndex((e) => e.kind === kind && e.process === process && e.index === index);
  // Interleave as the free schedule may: B's write begins, A's read begins, B's write completes, A's read completes.
  const picks = [at('B', 0, 'invoke'), at('A', 3, 'invoke'), at('B', 0, 'complete'), at('A', 3, 'complete')];
  const interleaved = (value: string): unknown[] => {
    const moved = picks.map((i) => structuredClone(o.history[i]!));
    (moved[3] as unknown as { result: { value: string } }).result.value = value;
    const rest = o.history.filter((_, i) => !picks.includes(i));
    const first = Math.min(...picks);
    return [...rest.slice(0, first), ...moved, ...rest.slice(first)].map((e, seq) => ({ ...e, seq }));
  };
  t.deepEqual(checkHistory(interleaved('a')).violations, [], 'the read may have come before the write');
  t.deepEqual(checkHistory(interleaved('b')).violations, [], 'or after it');
  t.true(checkHistory(interleaved('c')).violations.some((v) => v.check === 'read-last-write'), 'but never a value nobody wrote');
});

test('a fault OOM-killed while it pins its copy-on-write source lets the pin go at its cleanup (random anon seed 31861)', async (t) => {
  // C's write faulted on a page it shared with A, pinned it, and was OOM-killed; the pin outlived C
  // until its fault's continuation ran, so the next reclaim's prepare had no candidate where the
  // model had A's page. Found by the madv-free random sweep; the class is every policy's.
  const s = randomScenario(31861, 'anon');
  const o = await gate((session) => runScenario(s, configFor(s, { policy: 'madv-free', seed: 31861 }), { session, checkModel: true }));
  t.true(o.history.some((e) => e.kind === 'oom-kill'), 'the scenario still OOM-kills a faulting process');
  t.deepEqual(o.report.invariants.filter((i) => !i.ok), []);
});
