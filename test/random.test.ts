// Random scenarios from the generator, run on the real system in lockstep and replayed through
// the reference model: every step must agree and every invariant hold, under every policy.
import test from 'ava';
import { randomScenario } from '../shared/generate.js';
import { runScenario } from '../harness/run.js';
import { POLICIES } from '../shared/scenario-types.js';
import { configFor, sessionLimiter } from './helpers.js';
import { checkHistory } from '../checker/check.js';

const gate = sessionLimiter(2);
// A fixed range of seeds keeps the suite reproducible; `vrange` prints the seed of any failure.
const seeds = Array.from({ length: 12 }, (_, i) => 1000 + i);

// The `anon` kind (private anonymous memory written, marked, written again, read, forked, reclaimed):
// what madv-free's rules are about, and the proposals' anonymous rules too.
const anonSeeds = Array.from({ length: 8 }, (_, i) => 2000 + i);

for (const [seed, kind] of [...seeds.map((x) => [x, 'mixed'] as const), ...anonSeeds.map((x) => [x, 'anon'] as const)]) {
  test(`random ${kind === 'anon' ? 'anon ' : ''}scenario ${seed}: real run and model agree under every policy`, async (t) => {
    const s = randomScenario(seed, kind);
    for (const policy of POLICIES) {
      const { report, history } = await gate((session) => runScenario(s, configFor(s, { policy, seed }), { checkModel: true, session }));
      const broken = report.invariants.filter((i) => !i.ok);
      t.deepEqual(broken, [], `seed ${seed} ${policy}`);
      t.deepEqual(checkHistory(history).violations, [], `seed ${seed} ${policy}: the history checker`);
      t.true(report.steps.length > 0);
      t.true(report.invariants.some((i) => i.name === 'matches-model' && i.ok && !i.detail), 'the model was consulted');
    }
  });
}

test('the generator makes the same scenario from the same seed, and different ones from others', (t) => {
  t.deepEqual(randomScenario(5), randomScenario(5));
  t.notDeepEqual(randomScenario(5).processes, randomScenario(6).processes);
  t.deepEqual(randomScenario(5, 'anon'), randomScenario(5, 'anon'));
  t.notDeepEqual(randomScenario(5, 'anon').processes, randomScenario(6, 'anon').processes);
});

test('the anon kind is private anonymous memory: marks of written pages, writes and reads after them, forks, reclaims', (t) => {
  const all = Array.from({ length: 40 }, (_, i) => randomScenario(3000 + i, 'anon'));
  const steps = all.flatMap((s) => s.processes.flatMap((p) => p.steps));
  t.false(steps.some((x) => x.op === 'open' || x.op === 'fvrange' || (x.op === 'mmap' && x.fd !== undefined)));
  const count = (f: (x: (typeof steps)[number]) => boolean) => steps.filter(f).length;
  t.true(count((x) => x.op === 'vrange' && x.mode === 'volatile') > 100);
  t.true(count((x) => x.op === 'mmap' && x.share !== 'shared') > 5 * count((x) => x.op === 'mmap' && x.share === 'shared'));
  t.true(all.filter((s) => s.processes.some((p) => p.steps.some((x) => x.op === 'fork'))).length > 15);
  // A write or read after a volatile mark of the same mapping, in one process: what MADV_FREE's rules are about.
  const after = all.filter((s) => s.processes.some((p) => p.steps.some((x, i) => x.op === 'vrange' && x.mode === 'volatile'
    && p.steps.slice(i + 1).some((y) => (y.op === 'write' || y.op === 'read') && y.map === x.map)))).length;
  t.true(after > 25, `scenarios with an access after a mark: ${after} of 40`);
  t.true(all.every((s) => s.kernel.filter((k) => k.op === 'reclaim').length >= 2));
});
