// Every scenario in scenarios/ passes under every policy, in both schedules, on the real
// multi-process system (agents are OS processes, messages cross a ZeroMQ socket), and every
// lockstep run gives, step for step, what the reference model (model/) gives for its schedule;
// every history passes the offline checker (`vrange check`).
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, runFile, limiter, sessionLimiter } from './helpers.js';
import { POLICIES, type PolicyName } from '../shared/scenario-types.js';
import { checkHistory } from '../checker/check.js';

/** Scenarios that demonstrate a failure on purpose, with the invariants they must break. */
const failsOnPurpose: Record<string, string[]> = { 'deadlock-demo': ['no-deadlock'] };
/**
 * Scenarios that cannot run to their end under one policy, with the invariants that break there
 * (each one's description says why; scenarios/README.md lists them).
 */
const failsUnder: Record<string, Partial<Record<PolicyName, string[]>>> = {
  // MADV_FREE refuses shared memory, so nothing can be purged: C1 is OOM-killed before it signals.
  'port-chromium-lru': { 'madv-free': ['no-deadlock'] },
};

const dir = join(root, 'scenarios');
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();
// One scenario at a time, its runs two at a time: tests then finish one by one, so ava's timeout
// (which counts from the last result) is never waiting on all of them at once. Each of the two
// runs under way has a run session: agents are reused from run to run (harness/session.ts).
const oneTest = limiter(1);
const gate = sessionLimiter(2);

test('the scenario library is not empty', (t) => {
  t.true(files.length >= 10, `only ${files.length} scenarios`);
});

for (const file of files) {
  const name = file.replace(/\.yaml$/, '');
  test(`${name}: every policy, lockstep and free`, (t) => oneTest(async () => {
    for (const policy of POLICIES) {
      for (const [schedule, seed] of [['lockstep', 1], ['lockstep', 2], ['free', 0]] as const) {
        const { report, history } = await gate((session) => runFile(join(dir, file), { policy, schedule, seed }, schedule === 'lockstep', session));
        const where = `${policy}/${schedule}/seed ${seed}`;
        const check = checkHistory(history);
        t.deepEqual(check.violations, [], `${where}: the history checker`);
        const broken = report.invariants.filter((i) => !i.ok).map((i) => i.name);
        const mustBreak = failsOnPurpose[name] ?? failsUnder[name]?.[policy];
        if (mustBreak) {
          t.false(report.ok, where);
          t.deepEqual(broken, mustBreak, where);
          continue;
        }
        t.deepEqual(report.failures, [], `${where}: expectations`);
        t.deepEqual(broken, [], `${where}: invariants ${JSON.stringify(report.invariants.filter((i) => !i.ok))}`);
        t.true(report.ok, where);
        if (schedule === 'lockstep') t.true(report.invariants.some((i) => i.name === 'matches-model' && i.ok && !i.detail), `${where}: model checked`);
      }
    }
  }));
}
