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

for (const seed of seeds) {
  test(`random scenario ${seed}: real run and model agree under every policy`, async (t) => {
    const s = randomScenario(seed);
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
});
