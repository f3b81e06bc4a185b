// Planted violations: for every invariant the report lists, a run's state or history broken in
// exactly the way that invariant is there to catch, and the check that it (and only it) fails with
// a detail naming the problem. The states are real FrameTable, Rmap and AddressSpace objects put
// into a broken state through their own methods; the histories are events as the kernel records
// them (docs/history-format.md). A clean view passes every one.
import test from 'ava';
import { FrameTable } from '../coordinator/frames.js';
import { Rmap } from '../coordinator/rmap.js';
import { AddressSpace } from '../coordinator/address_space.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { parseScenario } from '../shared/scenario.js';
import { checkInvariants, invariantCheckers, type InvariantResult, type RunView } from '../checker/invariants.js';
import { checkRun, matchesModel, runCompleted } from '../checker/run_checks.js';
import { compose } from '../checker/compose.js';
import { runScenario } from '../harness/run.js';
import { configFor } from './helpers.js';
import type { MapperVote } from '../shared/policy.js';
import type { RunConfig } from '../shared/scenario-types.js';
import type { Kernel } from '../coordinator/kernel.js';

// The kernel after a run is a RunView (harness/run.ts hands it to the checkers as is): a compile-time check.
const kernelIsAView: Kernel extends RunView ? true : false = true;

const reportOrder = ['frames-conserved', 'no-frame-leak', 'no-protected-page-purged', 'purged-exact',
  'private-mappings-untouched', 'nonvolatile-data-kept', 'no-deadlock'];

// A fills an anonymous page (vpage 1) and page 0 of tmpfs file f (mapped shared at vpage 3),
// marks its buffer volatile, reclaim purges the anonymous page, A's nonvolatile is told so.
const scenario = parseScenario(`
name: planted
files: [ { name: f, pages: 2 }, { name: g, pages: 2, kind: ashmem } ]
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 2 }
      - { op: write, map: buf, page: 0, value: a }
      - { op: vrange, map: buf, page: 0, pages: 2, mode: volatile }
      - { op: vrange, map: buf, page: 0, pages: 2, mode: nonvolatile }
`, 'planted.yaml');
const config: RunConfig = { ...configFor(scenario), policy: 'per-mm' };

const vote = (over: Partial<MapperVote> = {}): MapperVote => ({ pid: 2, share: 'private', answered: true, volatile: true, privatePresent: false, ...over });

function events(list: Array<Record<string, unknown>>): HistoryEvent[] {
  return list.map((e, seq) => ({ seq, at: seq, ...e }) as HistoryEvent);
}

/** The history of the clean run: one purge every mapper consented to, reported to A and found by its nonvolatile. */
function cleanHistory(): Array<Record<string, unknown>> {
  return [
    { kind: 'birth', process: 'A', pid: 2, osPid: 1000 },
    { kind: 'complete', process: 'A', index: 0, op: 'mmap', type: 'ok', result: { ok: true, addr: 4096 }, detail: { span: [1, 3] } },
    { kind: 'complete', process: 'A', index: 2, op: 'vrange', type: 'ok', result: { ok: true, bytes: 8192 }, detail: { span: [1, 3], purgedPages: [] } },
    { kind: 'decision', xid: 1, page: 'anonymous frame 0 (A@4096)', purge: true, pageKind: 'anon', policy: 'per-mm',
      rule: 'anon-every-mapper-volatile', frame: 0, votes: [vote()] },
    { kind: 'decision', xid: 1, page: 'f page 0 (frame 1)', purge: false, pageKind: 'file', policy: 'per-mm',
      rule: 'per-mm-mapper-not-marked', frame: 1, votes: [vote({ share: 'shared', volatile: false })] },
    { kind: 'purge-notify', xid: 1, process: 'A', vpages: [1] },
    { kind: 'complete', process: 'A', index: 3, op: 'vrange', type: 'ok', result: { ok: true, bytes: 8192, purged: true }, detail: { span: [1, 3], purgedPages: [1] } },
  ];
}

/**
 * The final state of the clean run: A has ended and its cleanup dropped its page-table entries;
 * tmpfs file f keeps its page 0 in the page cache (tmpfs keeps its pages), ashmem file g is empty.
 */
function world(history = cleanHistory()) {
  const frames = new FrameTable(8);
  const rmap = new Rmap(frames);
  const f = new AddressSpace(0, 'f', 2, 'tmpfs');
  const g = new AddressSpace(1, 'g', 2, 'ashmem');
  const anon = frames.alloc(1);
  rmap.add(2, 1, anon, 'anon');
  frames.decref(anon); // the mapping holds the reference now
  const cached = frames.alloc(2);
  f.insert(0, cached, frames);
  rmap.add(2, 3, cached, 'file-shared');
  // reclaim purged the anonymous page; A's exit cleanup dropped the rest.
  rmap.dropFrame(anon);
  rmap.remove(2, 3);
  const procs = [{ name: 'A', pid: 2, live: false }];
  const view = {
    scenario, config, frames, rmap, files: [f, g], procs, violations: [] as Array<{ name: string; text: string }>,
    steps: [] as RunView['steps'], history: { events: events(history) },
  };
  return { view, frames, rmap, f, g, procs, cached };
}

/** Only `name` fails, and its detail matches `detail`. */
function onlyFails(t: import('ava').ExecutionContext, results: InvariantResult[], name: string, detail: RegExp): void {
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  t.deepEqual(failed, [name], JSON.stringify(results));
  t.regex(results.find((r) => r.name === name)!.detail ?? '', detail);
}

test('the invariants come in the order the report lists them, and a clean run passes every one', (t) => {
  t.true(kernelIsAView);
  t.deepEqual(Object.keys(invariantCheckers), reportOrder);
  const { view } = world();
  const results = checkInvariants(view);
  t.deepEqual(results.map((r) => r.name), reportOrder);
  t.deepEqual(results, reportOrder.map((name) => ({ name, ok: true })), 'all ok, no detail: no-frame-leak was checked (every process ended)');
  t.deepEqual(runCompleted(view), { ok: true });
});

test('compose runs named checkers in the order given and names their results', (t) => {
  const seen: string[] = [];
  const both = compose<number>({ b: (n) => { seen.push('b'); return { ok: n > 0 }; }, a: (n) => { seen.push('a'); return { ok: false, detail: `n=${n}` }; } });
  t.deepEqual(both(1), [{ name: 'b', ok: true }, { name: 'a', ok: false, detail: 'n=1' }]);
  t.deepEqual(seen, ['b', 'a']);
});

test('frames-conserved: a reference taken and never given back', (t) => {
  const { view, frames, cached } = world();
  frames.incref(cached); // as a fault that took a reference and lost its page-table entry
  onlyFails(t, checkInvariants(view), 'frames-conserved', new RegExp(`^frame ${cached}: refcount 2 but 1 references$`));
});

test('no-frame-leak: an ended process still mapping a frame, an ashmem file still caching one', (t) => {
  const w = world();
  const leaked = w.frames.alloc(5);
  w.rmap.add(2, 7, leaked, 'anon'); // the cleanup missed a page-table entry
  w.frames.decref(leaked);
  onlyFails(t, checkInvariants(w.view), 'no-frame-leak', /^1 frames still mapped by ended processes; 2 frames used but only 1 are page cache$/);
  const v = world();
  v.g.insert(1, v.frames.alloc(6), v.frames); // g's final release did not evict it
  onlyFails(t, checkInvariants(v.view), 'no-frame-leak', /^ashmem file g still holds 1 frames after its final release$/);
  // While a process is alive it is not checked, and says so.
  v.procs[0] = { ...v.procs[0]!, live: true };
  t.deepEqual(checkInvariants(v.view)[1], { name: 'no-frame-leak', ok: true, detail: 'not checked: a process is still alive' });
});

test('no-protected-page-purged: a purge by an mm rule that no mapper voted for; an agent reporting a purge of an unmarked page', (t) => {
  const history = cleanHistory();
  history.splice(4, 0, { kind: 'decision', xid: 1, page: 'anonymous frame 4 (A@12288)', purge: true, pageKind: 'anon', policy: 'per-mm',
    rule: 'anon-every-mapper-volatile', frame: 4, votes: [] });
  onlyFails(t, checkInvariants(world(history).view), 'no-protected-page-purged',
    /^anonymous frame 4 \(A@12288\) purged by rule anon-every-mapper-volatile although a mapper did not have it volatile$/);
  const { view } = world();
  view.violations.push({ name: 'no-protected-page-purged', text: 'A: page 2 purged though its mm never marked it' });
  onlyFails(t, checkInvariants(view), 'no-protected-page-purged', /^A: page 2 purged though its mm never marked it$/);
});

test('purged-exact: a nonvolatile reporting a page the kernel never purged, and one missing a page it did', (t) => {
  const history = cleanHistory();
  history[6] = { ...history[6]!, detail: { span: [1, 3], purgedPages: [1, 2] } };
  onlyFails(t, checkInvariants(world(history).view), 'purged-exact', /^A step 3: nonvolatile found purged pages \[1,2\] but the kernel purged \[1\]$/);
  const missed = cleanHistory();
  missed[6] = { ...missed[6]!, detail: { span: [1, 3], purgedPages: [] } };
  onlyFails(t, checkInvariants(world(missed).view), 'purged-exact', /^A step 3: nonvolatile found purged pages \[\] but the kernel purged \[1\]$/);
});

test('private-mappings-untouched: a file page purged while a private mapper still shared it; per-mm purging a privately mapped file page', (t) => {
  const history = cleanHistory();
  history[4] = { ...history[4]!, purge: true, rule: 'file-range-volatile', votes: [vote({ pid: 3, privatePresent: true })] };
  const sharedFile = { ...world(history).view, config: { ...config, policy: 'shared-file' as const } };
  onlyFails(t, checkInvariants(sharedFile), 'private-mappings-untouched', /^f page 0 \(frame 1\) purged while pid 3 mapped it private and had not copied it$/);
  const perMm = cleanHistory();
  perMm[4] = { ...perMm[4]!, purge: true, rule: 'per-mm-every-mapper-marked', votes: [vote({ pid: 3 })] };
  onlyFails(t, checkInvariants(world(perMm).view), 'private-mappings-untouched', /^f page 0 \(frame 1\) purged under per-mm while pid 3 maps it private$/);
});

test('nonvolatile-data-kept: an agent that exited in the middle of a step; a purge against a non-volatile vote', (t) => {
  const { view } = world();
  view.violations.push({ name: 'agent-alive', text: "A's agent exited with code 1 during step 3" });
  onlyFails(t, checkInvariants(view), 'nonvolatile-data-kept', /^A's agent exited with code 1 during step 3$/);
  // A purge against a mapper's vote is also a purge of a page not every mapper had volatile: both say so.
  const history = cleanHistory();
  history[4] = { ...history[4]!, purge: true, rule: 'per-mm-every-mapper-marked' };
  const results = checkInvariants(world(history).view);
  t.deepEqual(results.filter((r) => !r.ok).map((r) => r.name), ['no-protected-page-purged', 'nonvolatile-data-kept']);
  t.is(results.find((r) => r.name === 'nonvolatile-data-kept')!.detail, 'f page 0 (frame 1) purged while pid 2 had it non-volatile');
});

test('no-deadlock: the scheduler found a step waiting for what can no longer happen', (t) => {
  const { view } = world();
  view.violations.push({ name: 'no-deadlock', text: 'A step 1 waits for signal b, which nothing left can send' });
  onlyFails(t, checkInvariants(view), 'no-deadlock', /^A step 1 waits for signal b, which nothing left can send$/);
});

test('more than five problems are told as the first five and how many more', (t) => {
  const { view } = world();
  for (let i = 0; i < 7; i++) view.violations.push({ name: 'no-deadlock', text: `p${i}` });
  t.is(checkInvariants(view)[6]!.detail, 'p0; p1; p2; p3; p4; and 2 more');
});

test('run-completed: a run past its bound fails it, and only it, with the bound in words', async (t) => {
  const s = parseScenario(`
name: slow
processes:
  A: { steps: [ { op: signal, name: a }, { op: wait, name: b } ] }
kernel:
  - { op: wait, name: a }
  - { op: signal, name: b }
`, 'slow.yaml');
  const { report } = await runScenario(s, configFor(s), { timeoutMs: 1 });
  t.deepEqual(report.invariants.map((i) => i.name), [...reportOrder, 'run-completed']);
  onlyFails(t, report.invariants, 'run-completed', /^the run took longer than 1 ms \(set by --timeout\); give it more with --timeout MS$/);
  const { view } = world();
  view.violations.push({ name: 'run-completed', text: 'interrupted by SIGINT' }, { name: 'run-completed', text: 'kernel error' });
  t.deepEqual(runCompleted(view), { ok: false, detail: 'interrupted by SIGINT; kernel error' });
  t.deepEqual(checkRun(view, { checkModel: false, faultsPlanned: 0 }).at(-1), { name: 'run-completed', ok: false, detail: 'interrupted by SIGINT; kernel error' });
});

test('matches-model: a run whose step result differs from the model\'s fails it with both results', async (t) => {
  const s = parseScenario(`
name: small
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: x }
      - { op: read, map: buf, page: 0 }
`, 'small.yaml');
  const out = await runScenario(s, configFor(s), { checkModel: true, trace: undefined });
  t.deepEqual(out.report.invariants.map((i) => i.name), [...reportOrder, 'run-completed', 'matches-model']);
  t.true(out.report.invariants.every((i) => i.ok && !i.detail), JSON.stringify(out.report.invariants));
  const view = { ...world().view, scenario: s, config: configFor(s), history: { events: out.history }, steps: out.report.steps };
  t.deepEqual(matchesModel(0)(view), { ok: true }, 'the checker agrees with the run');
  t.deepEqual(checkRun(view, { checkModel: true, faultsPlanned: 0 }), out.report.invariants, 'checkRun gives what the report lists');
  t.deepEqual(checkRun(view, { checkModel: false, faultsPlanned: 0 }).map((i) => i.name), [...reportOrder, 'run-completed']);
  const changed = out.report.steps.map((st) => (st.op === 'read' ? { ...st, result: { ok: true, value: 'y' } } : st));
  t.deepEqual(matchesModel(0)({ ...view, steps: changed }),
    { ok: false, detail: 'completed step 2: the run gave A #2 read {"ok":true,"value":"y"}, the model A #2 read {"ok":true,"value":"x"}' });
  t.deepEqual(matchesModel(0)({ ...view, steps: changed.slice(0, 2) }),
    { ok: false, detail: 'completed step 2: the run gave nothing, the model A #2 read {"ok":true,"value":"x"}' });
  t.deepEqual(matchesModel(1)({ ...view, steps: changed }), { ok: true, detail: 'not checked: the model does not inject faults' });
  t.deepEqual(matchesModel(0)({ ...view, violations: [{ name: 'run-completed', text: 'x' }] }), { ok: false, detail: 'the run did not complete' });
});
