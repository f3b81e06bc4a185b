// The run-time footprints of the model's actions (model/footprint.ts) against the model itself: two
// enabled actions of different threads that the relation calls independent reach the same state in
// either order (same digest, each still enabled after the other). Random states of random scenarios
// (shared/generate.ts) and of the race library, every policy.
import test from 'ava';
import fc from 'fast-check';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { modelSession, commute, type Footprint, type ModelSession } from '../model/model.js';
import { randomScenario } from '../shared/generate.js';
import { loadScenario, parseScenario } from '../shared/scenario.js';
import { POLICIES, type Scenario } from '../shared/scenario-types.js';
import { Prng } from '../shared/prng.js';
import { configFor, scenarioPath } from './helpers.js';

const show = (f: Footprint) => JSON.stringify([f.all, ...[f.reads, f.writes, f.adds].map((x) => [...x].sort())]);
const thread = (a: string) => (a === '@commit' ? '@kernel' : a);

/** Walks a random path; at each state checks every independent pair. Returns the pairs checked and the first failure. */
function checkPairs(s: Scenario, policy: (typeof POLICIES)[number], seed: number): { pairs: number; failure?: string } {
  const r = new Prng(seed, 'schedule');
  let m: ModelSession = modelSession(s, configFor(s, { policy }));
  let pairs = 0;
  for (let depth = 0; depth < 200; depth++) {
    const enabled = m.enabled();
    if (enabled.length === 0) break;
    for (const a of enabled) for (const b of enabled) {
      if (a >= b || thread(a) === thread(b)) continue;
      if (!commute(m.footprint(a), m.footprint(b))) continue;
      pairs++;
      const ab = m.clone(); ab.apply(a);
      if (!ab.enabled().includes(b)) return { pairs, failure: `${a} disables ${b}` };
      // Moving an independent action past b leaves b's footprint as it was (the dependence of a trace is well defined).
      if (show(ab.footprint(b)) !== show(m.footprint(b))) return { pairs, failure: `${a} changes ${b}'s footprint at depth ${depth}: ${show(m.footprint(b))} -> ${show(ab.footprint(b))}` };
      ab.apply(b);
      const ba = m.clone(); ba.apply(b);
      if (!ba.enabled().includes(a)) return { pairs, failure: `${b} disables ${a}` };
      if (show(ba.footprint(a)) !== show(m.footprint(a))) return { pairs, failure: `${b} changes ${a}'s footprint at depth ${depth}` };
      ba.apply(a);
      if (ab.digest() !== ba.digest()) return { pairs, failure: `${a};${b} and ${b};${a} differ at depth ${depth}:\n${ab.digest()}\n${ba.digest()}` };
    }
    // An action that enables another depends on it (the other cannot move before it).
    for (const a of enabled) {
      const after = m.clone(); after.apply(a);
      for (const c of after.enabled()) {
        if (enabled.some((x) => thread(x) === thread(c)) || thread(c) === thread(a)) continue;
        pairs++;
        if (commute(m.footprint(a), after.footprint(c))) return { pairs, failure: `${a} enables ${c} yet commutes with it at depth ${depth}` };
      }
    }
    m.apply(enabled[r.below(enabled.length)]!);
  }
  return { pairs };
}

test('independent actions commute in the model: random scenarios, random states, every policy', (t) => {
  let total = 0;
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 2 ** 30 }), fc.constantFrom(...POLICIES), fc.constantFrom('mixed', 'anon' as const), (sseed, wseed, policy, kind) => {
    const s = randomScenario(sseed, kind);
    const { pairs, failure } = checkPairs(s, policy, wseed);
    total += pairs;
    if (failure) throw new Error(`random-${kind}-${sseed}, ${policy}, walk ${wseed}: ${failure}`);
  }), { numRuns: 250, seed: 16 });
  t.true(total > 300, `independent pairs checked: ${total}`);
});

test('independent actions commute in the model: the race library and every scenario, random states', (t) => {
  const dir = join(scenarioPath('race-two-marks'), '..');
  const names = readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.replace(/\.yaml$/, ''));
  let total = 0;
  for (const name of names) {
    const s = loadScenario(scenarioPath(name));
    for (const policy of POLICIES) for (let w = 0; w < (name.startsWith('race-') ? 20 : 3); w++) {
      const { pairs, failure } = checkPairs(s, policy, w);
      total += pairs;
      t.is(failure, undefined, `${name}, ${policy}, walk ${w}`);
    }
  }
  t.true(total > 1000, `independent pairs checked: ${total}`);
});

test('footprints at run time: marks on different files commute; a kill commutes with a step that shares nothing with the victim', (t) => {
  const s = parseScenario(`
name: two-files
description: two marks on two files, and a victim with its own memory
memory: { frames: 16 }
files: [ { name: f, pages: 1 }, { name: g, pages: 1 } ]
processes:
  A: { steps: [ { op: open, file: f }, { op: mmap, as: m, fd: f, pages: 1 }, { op: write, map: m, page: 0, value: a },
                { op: vrange, map: m, page: 0, pages: 1, mode: volatile }, { op: read, map: m, page: 0 } ] }
  B: { steps: [ { op: open, file: g }, { op: mmap, as: m, fd: g, pages: 1 }, { op: write, map: m, page: 0, value: b },
                { op: vrange, map: m, page: 0, pages: 1, mode: volatile }, { op: read, map: m, page: 0 } ] }
  C: { steps: [ { op: mmap, as: c, pages: 1 }, { op: write, map: c, page: 0, value: c }, { op: read, map: c, page: 0 } ] }
kernel: [ { op: kill, process: C }, { op: reclaim, all: true } ]
`, 'two-files.yaml');
  const m = modelSession(s, configFor(s));
  for (const a of ['A', 'A', 'A', 'B', 'B', 'B', 'C']) m.apply(a);
  t.true(commute(m.footprint('A'), m.footprint('B')), 'marks on different files');
  t.true(commute(m.footprint('A'), m.footprint('@kernel')), 'killing C, which shares nothing with A\'s mark');
  t.false(commute(m.footprint('C'), m.footprint('@kernel')), 'but not with a step of C');
  m.apply('@kernel');
  t.false(commute(m.footprint('A'), m.footprint('@kernel')), 'a reclaim\'s prepare reads every mm');
  const per = modelSession({ ...s, kernel: [{ op: 'reclaim', pages: 1 }] }, configFor(s));
  for (const a of ['A', 'A', 'A', 'B', 'B', 'B']) per.apply(a);
  t.false(commute(per.footprint('A'), per.footprint('B')), 'with a reclaim of one page, the older mark goes first: their order shows');
});

test('madv-free: the footprints hold where MADV_FREE state is shared after a fork (a marked frame, two writers, a mark and a query)', (t) => {
  // Pages shared after a fork: marked before it (page 0) or not (page 1). Who copies on write, who
  // marks and who queries then decide which mm keeps the marked frame and whether a scan may free it.
  const s = parseScenario(`
name: madv-shared
memory: { frames: 16 }
processes:
  A: { steps: [ { op: mmap, as: m, pages: 2 }, { op: write, map: m, page: 0, value: a }, { op: write, map: m, page: 1, value: b },
                { op: vrange, map: m, page: 0, pages: 1, mode: volatile }, { op: fork, child: C },
                { op: write, map: m, page: 0, value: a2 }, { op: query, map: m, page: 0, pages: 2 },
                { op: vrange, map: m, page: 0, pages: 2, mode: volatile }, { op: read, map: m, page: 1 }, { op: wait, name: done } ] }
  C: { forked: true, steps: [ { op: write, map: m, page: 0, value: c }, { op: query, map: m, page: 0, pages: 2 },
                { op: vrange, map: m, page: 1, pages: 1, mode: volatile }, { op: query, map: m, page: 0, pages: 2 },
                { op: read, map: m, page: 1 }, { op: wait, name: done } ] }
kernel: [ { op: reclaim, all: true }, { op: reclaim, all: true }, { op: signal, name: done } ]
`, 'madv-shared.yaml');
  // A scan finds C's dirty pte and redirties page 1; then C's mark (skipped while A still maps it) races A's copy-on-write.
  const redirtied = parseScenario(`
name: madv-redirtied
memory: { frames: 16 }
processes:
  A: { steps: [ { op: mmap, as: m, pages: 2 }, { op: write, map: m, page: 1, value: b }, { op: fork, child: C },
                { op: vrange, map: m, page: 0, pages: 2, mode: volatile }, { op: signal, name: marked }, { op: wait, name: scanned },
                { op: write, map: m, page: 1, value: a }, { op: wait, name: done } ] }
  C: { forked: true, steps: [ { op: wait, name: scanned }, { op: vrange, map: m, page: 1, pages: 1, mode: volatile },
                { op: query, map: m, page: 0, pages: 2 }, { op: wait, name: done } ] }
kernel: [ { op: wait, name: marked }, { op: reclaim, all: true }, { op: signal, name: scanned }, { op: reclaim, all: true }, { op: signal, name: done } ]
`, 'madv-redirtied.yaml');
  // A mark that then fails (a hole after the page: ENOMEM) still marks the shared page, racing C's copy-on-write.
  const partial = parseScenario(`
name: madv-partial
memory: { frames: 16 }
processes:
  A: { steps: [ { op: mmap, as: m, pages: 2 }, { op: write, map: m, page: 0, value: a }, { op: munmap, map: m, page: 1, pages: 1 },
                { op: fork, child: C }, { op: vrange, map: m, page: 0, pages: 2, mode: volatile }, { op: query, map: m, page: 0, pages: 1 },
                { op: wait, name: done } ] }
  C: { forked: true, steps: [ { op: write, map: m, page: 0, value: c }, { op: vrange, map: m, page: 0, pages: 2, mode: volatile }, { op: wait, name: done } ] }
kernel: [ { op: reclaim, all: true }, { op: signal, name: done } ]
`, 'madv-partial.yaml');
  let pairs = 0;
  for (const sc of [s, redirtied, partial]) {
    for (let w = 0; w < 80; w++) {
      const r = checkPairs(sc, 'madv-free', w);
      pairs += r.pairs;
      t.is(r.failure, undefined, `${sc.name}, walk ${w}`);
    }
  }
  t.true(pairs > 100, `independent pairs checked: ${pairs}`);
});
