// The --html snapshots (report/snapshot.ts) cost what a step changed: a row is redrawn only when
// its process stepped, something that changes anyone's pages happened, or a page of it depends on
// another mapper. Counted (page letters drawn), never timed. What they show is checked against a
// fresh drawing at every snapshot in verify mode (VRANGE_VERIFY=1, these tests' setting); here,
// the rows another process's step changes are checked by hand.

import test from 'ava';
import { parseScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { Snapshots } from '../report/snapshot.js';
import { configFor } from './helpers.js';
import { decodeSnapshots } from './html_helpers.js';
import { verify } from '../coordinator/verify.js';

/**
 * Counts the page letters Snapshots draws while `fn` runs, with verify mode off (it draws every
 * snapshot afresh once more, to compare).
 */
async function lettersDrawn(fn: () => Promise<unknown>): Promise<number> {
  const proto = Snapshots.prototype as unknown as { mapPage: (...a: unknown[]) => string };
  const original = proto.mapPage;
  const verifying = verify.enabled;
  let n = 0;
  proto.mapPage = function (this: unknown, ...a: unknown[]) { n++; return original.apply(this, a); };
  verify.enabled = false;
  try { await fn(); } finally { proto.mapPage = original; verify.enabled = verifying; }
  return n;
}

/** `processes` processes, each mapping `pages` anonymous pages and writing each: one step a page. */
function writers(processes: number, pages: number): string {
  const procs: Record<string, unknown> = {};
  for (let i = 1; i <= processes; i++) {
    const steps: unknown[] = [{ op: 'mmap', as: 'buf', pages }];
    for (let p = 0; p < pages; p++) steps.push({ op: 'write', map: 'buf', page: p, value: `W${i}-${p}` });
    procs[`W${i}`] = { steps };
  }
  return JSON.stringify({ name: 'snapshot-writers', memory: { frames: processes * pages + 16 }, processes: procs });
}

test.serial('a step redraws only its own process\'s rows: the letters drawn grow with the steps, not with every mapped page', async (t) => {
  const [processes, pages] = [6, 40];
  const s = parseScenario(writers(processes, pages), 'inline.json');
  let snapshots = 0;
  const drawn = await lettersDrawn(async () => {
    const { history } = await runScenario(s, configFor(s), { pictures: true });
    snapshots = history.filter((e) => e.kind === 'snapshot').length;
  });
  // Each snapshot redraws the row of the process that stepped (at most `pages` letters), and a
  // death every live row once. Drawing every live row each time is about processes / 2 times as many.
  t.true(snapshots >= processes * pages);
  t.true(drawn <= 2 * snapshots * pages, `${drawn} letters drawn for ${snapshots} snapshots of ${pages}-page rows`);
  t.true(drawn > 0);
});

test.serial('another process\'s step redraws the rows it changes: a copy-on-write break and an exit turn the parent\'s c into r', async (t) => {
  const s = parseScenario(JSON.stringify({
    name: 'snapshot-cow', memory: { frames: 32 },
    processes: {
      A: { steps: [
        { op: 'mmap', as: 'buf', pages: 3 },
        { op: 'write', map: 'buf', page: 0, value: 'a0' }, { op: 'write', map: 'buf', page: 1, value: 'a1' },
        { op: 'write', map: 'buf', page: 2, value: 'a2' },
        { op: 'fork', child: 'B' }, { op: 'waitpid', process: 'B' }, { op: 'read', map: 'buf', page: 2 },
      ] },
      B: { forked: true, steps: [{ op: 'write', map: 'buf', page: 1, value: 'b1' }, { op: 'exit', code: 0 }] },
    },
  }), 'inline.json');
  const { history } = await runScenario(s, configFor(s), { pictures: true });
  const rows = decodeSnapshots(history);
  const afterFork = rows.find((r) => r['B:buf'] !== undefined);
  t.is(afterFork?.['A:buf'], 'ccc', 'after the fork every page is shared');
  const afterWrite = rows.find((r) => r['B:buf'] === 'crc');
  t.truthy(afterWrite, 'B\'s write gives B its own page 1');
  t.is(afterWrite!['A:buf'], 'crc', 'and A\'s page 1, now its alone, is r in the same snapshot (B\'s step)');
  const afterExit = rows.find((r, i) => i > rows.indexOf(afterWrite!) && r['B:buf'] === undefined);
  t.is(afterExit?.['A:buf'], 'rrr', 'B\'s exit leaves A the only mapper of every page');
});
