// The reclaim exchange on real agents: pages travel as runs, and a kernel that was itself busy
// past the exchange bound reads the answers waiting in its socket before it judges anyone silent.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exchangeTimeoutMs } from '../shared/limits.js';
import { parseScenario } from '../shared/scenario.js';
import { runScenario, type RunOptions } from '../harness/run.js';
import type { HistoryEvent } from '../coordinator/history.js';
import type { RunConfig } from '../shared/scenario-types.js';
import { configFor } from './helpers.js';

const pages = 40;

/** P writes `pages` pages, marks them volatile and forks C; the kernel reclaims them all. */
function sharedVolatile(): unknown {
  const steps: unknown[] = [{ op: 'mmap', as: 'a', pages }];
  for (let j = 0; j < pages; j++) steps.push({ op: 'write', map: 'a', page: j, value: `p${j}` });
  steps.push({ op: 'vrange', map: 'a', page: 0, pages, mode: 'volatile' }, { op: 'fork', child: 'C' },
    { op: 'signal', name: 'ready' }, { op: 'wait', name: 'done' });
  return {
    name: 'exchange-runs', memory: { frames: pages + 8 },
    processes: { P: { steps }, C: { forked: true, steps: [{ op: 'wait', name: 'done' }] } },
    kernel: [{ op: 'wait', name: 'ready' }, { op: 'reclaim', all: true, expect: { freed: pages } }, { op: 'signal', name: 'done' }],
  };
}

/**
 * One run of the scenario through the harness, as `vrange run` makes it; the history records every
 * message (a trace is written), and the run must pass, as the scenario's expectations say.
 */
async function run(doc: unknown, over: Partial<RunConfig>, opts: RunOptions = {}): Promise<{ history: HistoryEvent[] }> {
  const s = parseScenario(JSON.stringify(doc), 'exchange-runs.json');
  const dir = mkdtempSync(join(tmpdir(), 'vrange-exchange-'));
  try {
    const outcome = await runScenario(s, configFor(s, over), { ...opts, trace: join(dir, 'history.jsonl') });
    if (!outcome.report.ok) throw new Error(`the run failed: ${JSON.stringify(outcome.report.failures.slice(0, 3))} ${JSON.stringify(outcome.report.invariants.filter((i) => !i.ok))}`);
    return outcome;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const messages = (h: HistoryEvent[], t: string) =>
  h.filter((e) => e.kind === 'message' && (e.msg as { t: string }).t === t).map((e) => ({ agent: e.agent as string, msg: e.msg as Record<string, unknown> }));

test('prepare, prepared and commit name the pages as runs: one entry for a whole range', async (t) => {
  for (const schedule of ['lockstep', 'free'] as const) {
    const outcome = await run(sharedVolatile(), { schedule });
    const prepares = messages(outcome.history, 'prepare');
    t.deepEqual(prepares.map((m) => m.agent).sort(), ['C', 'P'], `${schedule}: one prepare per mapper`);
    const vpage0 = (prepares[0]!.msg.runs as number[])[0]!;
    for (const m of prepares) t.deepEqual(m.msg.runs, [vpage0, pages], `${schedule}: ${m.agent} is asked about one run of ${pages} pages`);
    for (const m of messages(outcome.history, 'prepared')) {
      const runs = m.msg.runs as number[];
      t.is(runs.length, 4, `${schedule}: ${m.agent} answers with one [start, count, rangeId, markedAt] entry`);
      t.deepEqual(runs.slice(0, 2), [vpage0, pages]);
    }
    for (const m of messages(outcome.history, 'commit')) t.deepEqual(m.msg.runs, [vpage0, pages], `${schedule}: ${m.agent} is told of the purge in one run`);
    const notify = outcome.history.filter((e) => e.kind === 'purge-notify');
    t.is(notify.length, 2);
    for (const e of notify) t.deepEqual(e.runs, [vpage0, pages], `${schedule}: the history names the purged pages as one run`);
    // Decisions by run: the shared pages have the same mappers and votes, in one unit: one decision for all of them.
    const purges = outcome.history.filter((e) => e.kind === 'decision' && e.purge === true);
    t.is(purges.length, 1, `${schedule}: one decision for the run`);
    t.deepEqual(purges[0]!.pages, [purges[0]!.frame, pages], `${schedule}: the decision names its ${pages} frames`);
    t.is(purges[0]!.votes!.length, 2);
  }
});

test('a kernel busy past the exchange bound still reads the answers that arrived meanwhile', async (t) => {
  let blockedMs = 0;
  const outcome = await run(sharedVolatile(), { schedule: 'free' }, {
    // The narration's line for a `reclaim-prepare` event, told as the kernel records it.
    narrate: (line) => {
      if (!/^reclaim\s+exchange \d+ prepare /.test(line)) return;
      // Once the prepares are out and the kernel waits for the answers, hold its event loop (as
      // a large exchange's own work would) well past the bound while the agents answer into the
      // socket.
      setImmediate(() => {
        const t0 = Date.now();
        while (Date.now() - t0 < exchangeTimeoutMs + 500) { /* busy */ }
        blockedMs = Date.now() - t0;
      });
    },
  });
  t.true(blockedMs > exchangeTimeoutMs);
  t.is(outcome.history.filter((e) => e.kind === 'no-answer').length, 0, 'nobody was judged silent');
  const commit = outcome.history.find((e) => e.kind === 'reclaim-commit')!;
  t.is(commit.freed, pages, 'every page was purged: both answers counted');
});
