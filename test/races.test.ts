// The race scenarios: every outcome their descriptions promise is reached by the seed they name,
// and a step released by a commit always completes after the reclaim step that committed it (it
// once raced the exchange's acks, and the model check failed one run in three), and steps released
// together complete in pid order whichever agent is quicker (they once raced each other).
import test from 'ava';
import { cli, runFile, scenarioPath, resultsOf, sessionLimiter } from './helpers.js';
import type { RunSession } from '../harness/session.js';

// Runs of the same file share run sessions (agents reused from run to run).
const gate = sessionLimiter(2);
const run = (name: string, over: Parameters<typeof runFile>[1], checkModel = false) => gate((session: RunSession) => runFile(scenarioPath(name), over, checkModel, session));

test('race-purge-vs-nonvolatile: seed 3 keeps the data, seed 1 purges it and says so', async (t) => {
  const kept = await run('race-purge-vs-nonvolatile', { seed: 3 }, true);
  const gone = await run('race-purge-vs-nonvolatile', { seed: 1 }, true);
  t.true(kept.report.ok && gone.report.ok);
  t.like(resultsOf(kept, 'A').get(5), { purged: false });
  t.deepEqual(resultsOf(kept, 'A').get(6), { ok: true, value: 'a0' });
  t.like(resultsOf(gone, 'A').get(5), { purged: true });
  t.deepEqual(resultsOf(gone, 'A').get(6), { ok: true, value: '' });
});

test('race-fork-vs-reclaim: seed 15 forks between prepare and commit, and the unasked child keeps the page', async (t) => {
  const o = await run('race-fork-vs-reclaim', { seed: 15 }, true);
  t.true(o.report.ok);
  const d = o.history.find((e) => e.kind === 'decision')!;
  t.is(d.purge, false);
  t.deepEqual((d.votes as Array<{ answered: boolean }>).map((v) => v.answered), [true, false]);
});

test('race-death-during-reclaim: seed 18 kills B between prepare and commit, and the exchange purges without it', async (t) => {
  const o = await run('race-death-during-reclaim', { seed: 18 }, true);
  t.true(o.report.ok);
  const at = (kind: string) => o.history.findIndex((e) => e.kind === kind && (kind !== 'cleanup' || e.process === 'B'));
  t.true(at('reclaim-prepare') < at('cleanup') && at('cleanup') < at('reclaim-commit'));
  t.like(resultsOf(o, 'A').get(5), { purged: true });
});

test('a step released by a commit completes after the reclaim step, in every run of the same seed', async (t) => {
  for (let i = 0; i < 4; i++) {
    const o = await run('race-fork-vs-reclaim', { seed: 7 }, true);
    t.true(o.history.some((e) => e.kind === 'blocked'), 'seed 7 blocks B on the exchange');
    const order = o.report.steps.map((s) => `${s.process}#${s.index}`);
    t.true(order.indexOf('kernel#1') < order.indexOf('B#0'), order.join(' '));
    t.true(o.report.invariants.some((x) => x.name === 'matches-model' && x.ok));
  }
});

test('race-fork-vs-reclaim, free schedule: a prepare during a fork skips the child that has no agent yet', async (t) => {
  // The prepare used to send to the half-born child and stop the run ("B has no agent").
  for (let i = 0; i < 5; i++) {
    const o = await run('race-fork-vs-reclaim', { schedule: 'free', seed: 0 });
    t.deepEqual(o.report.failures, []);
    t.true(o.report.ok, JSON.stringify(o.report.invariants.filter((x) => !x.ok)));
  }
});

test('steps one commit releases complete in pid order, whichever agent is slower: same seed, same history', async (t) => {
  // Seed 3 blocks A#5 and B#0 on the exchange's pages; the commit releases both. A test hook
  // (agents/agent.ts, VRANGE_TEST_RELEASE_DELAY) makes one agent dawdle after the release, so that
  // left to themselves the other's messages would reach the kernel first. The kernel must release
  // them one at a time (pid order, as the model does): the history is the same every time.
  const file = scenarioPath('race-fork-vs-reclaim');
  const runs = await Promise.all([undefined, 'A:400', 'B:400'].map(async (delay) => {
    const r = await cli(['run', file, '--seed', '3', '--check-model', '--json'], undefined, delay ? { VRANGE_TEST_RELEASE_DELAY: delay } : undefined);
    const report = JSON.parse(r.stdout) as { ok: boolean; steps: Array<{ process: string; index: number; result: unknown }>; invariants: Array<{ name: string; ok: boolean }> };
    return { delay, code: r.code, report };
  }));
  const order = (r: (typeof runs)[number]) => r.report.steps.map((s) => `${s.process}#${s.index}`).join(' ');
  for (const r of runs) {
    t.is(r.code, 0, `delay ${r.delay ?? 'none'}: ${order(r)}`);
    t.true(r.report.invariants.find((x) => x.name === 'matches-model')!.ok, `delay ${r.delay ?? 'none'}: ${order(r)}`);
    const o = order(r);
    t.true(o.indexOf('kernel#1') < o.indexOf('A#5') && o.indexOf('A#5') < o.indexOf('B#0'), `released in pid order (delay ${r.delay ?? 'none'}): ${o}`);
    t.deepEqual(r.report.steps, runs[0]!.report.steps, `delay ${r.delay ?? 'none'} gives the same steps and results as no delay`);
  }
});
