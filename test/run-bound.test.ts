// A scenario within the documented limits must finish: the run's time bound grows with the
// scenario (shared/limits.ts runTimeoutFor), `--timeout MS` replaces it, its message says how to
// raise it, and the loader refuses a scenario with more steps in all than a run can take.
import test from 'ava';
import {
  runStepsMax, runTimeoutBaseMs, runTimeoutFor, runTimeoutMaxMs, runTimeoutPerProcessMs, runTimeoutPerStepMs,
} from '../shared/limits.js';
import { LIMITS, parseScenario, ScenarioError } from '../shared/scenario.js';
import { runBoundMs, runScenario, scenarioSize, timeoutText } from '../harness/run.js';
import { cli, configFor, tempFile } from './helpers.js';

test('the bound: a base, plus an allowance per step and per process', (t) => {
  t.is(runTimeoutFor({ steps: 0, processes: 0 }), runTimeoutBaseMs);
  const one = runTimeoutFor({ steps: 1, processes: 0 }) - runTimeoutBaseMs;
  const proc = runTimeoutFor({ steps: 0, processes: 1 }) - runTimeoutBaseMs;
  t.true(one > 0 && proc > 0);
  // Linear in each: n steps cost n times one step.
  for (const n of [10, 1_000, 250_000]) t.is(runTimeoutFor({ steps: n, processes: 3 }), runTimeoutBaseMs + n * one + 3 * proc);
  // The documented largest process (LIMITS.stepsPerProcessMax steps) gets far more than the old fixed 120 s:
  // at least 1 ms a step beyond the base, where 250,000 steps were measured at 0.5 (lockstep) and 0.94 ms (free).
  const largest = runTimeoutFor({ steps: LIMITS.stepsPerProcessMax, processes: 1 });
  t.true(largest >= runTimeoutBaseMs + LIMITS.stepsPerProcessMax * 1, String(largest));
  t.is(largest, runTimeoutBaseMs + LIMITS.stepsPerProcessMax * runTimeoutPerStepMs + runTimeoutPerProcessMs);
  // Within what a timer can hold, for every scenario the loader accepts.
  t.true(runTimeoutFor({ steps: runStepsMax, processes: LIMITS.processesMax }) <= runTimeoutMaxMs);
  t.is(runTimeoutFor({ steps: Number.MAX_SAFE_INTEGER, processes: 0 }), runTimeoutMaxMs);
  t.throws(() => runTimeoutFor({ steps: -1, processes: 0 }));
  t.throws(() => runTimeoutFor({ steps: 1.5, processes: 0 }));
});

test('a scenario\'s size counts every process\'s steps and the kernel\'s; its bound and message follow', (t) => {
  const s = parseScenario(`
name: sized
processes:
  A: { steps: [ { op: signal, name: a }, { op: signal, name: b } ] }
  B: { forked: true, steps: [ { op: signal, name: c } ] }
  C: { steps: [ { op: fork, child: B } ] }
kernel:
  - { op: wait, name: a }
  - { op: reclaim, all: true }
`, 'sized.yaml');
  t.deepEqual(scenarioSize(s), { steps: 6, processes: 3 });
  t.is(runBoundMs(s), runTimeoutFor({ steps: 6, processes: 3 }));
  const text = timeoutText(s, runBoundMs(s), false);
  t.true(text.includes(`longer than ${runBoundMs(s)} ms`), text);
  t.true(text.includes('6 step(s)') && text.includes('3 process(es)'), text);
  t.true(text.includes('--timeout MS'), text);
  t.true(timeoutText(s, 5, true).includes('set by --timeout'));
});

test('the loader refuses more steps in all than one run can take (exit 2 material), counted before the schema', (t) => {
  const steps = Array.from({ length: LIMITS.stepsPerProcessMax }, () => ({ op: 'signal', name: 'a' }));
  // Each process within its own limit, the whole past runStepsMax.
  const n = Math.ceil((runStepsMax + 1) / LIMITS.stepsPerProcessMax);
  const processes = Object.fromEntries(Array.from({ length: n }, (_, i) => [`P${i}`, { steps }]));
  const extra = runStepsMax + 1 - n * LIMITS.stepsPerProcessMax;
  const kernel = extra > 0 ? Array.from({ length: extra }, () => ({ op: 'signal', name: 'k' })) : [{ op: 'signal', name: 'k' }];
  const text = JSON.stringify({ name: 'too-many', processes, kernel });
  const e = t.throws(() => parseScenario(text, 'too-many.json'), { instanceOf: ScenarioError })!;
  t.true(e.message.startsWith('too-many.json: processes: '), e.message);
  t.regex(e.message, new RegExp(`at most ${runStepsMax} in one scenario`));
});

test('a run past its bound stops with a message that says how to raise it; --timeout is checked (exit 2)', async (t) => {
  const s = parseScenario(`
name: slow
processes:
  A: { steps: [ { op: signal, name: a }, { op: wait, name: b, expect: { ok: true } } ] }
kernel:
  - { op: wait, name: a }
  - { op: signal, name: b }
`, 'slow.yaml');
  const { report } = await runScenario(s, configFor(s), { timeoutMs: 1 });
  const done = report.invariants.find((i) => i.name === 'run-completed')!;
  t.false(done.ok);
  t.regex(done.detail!, /the run took longer than 1 ms \(set by --timeout\); give it more with --timeout MS/);
  t.false(report.ok);
  const file = tempFile('x.yaml', 'name: x\nprocesses:\n  A: { steps: [ { op: signal, name: a } ] }\n');
  const bad = await cli(['run', file, '--timeout', '0']);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /--timeout: "0" is not allowed; expected a whole number from 1 to/);
});

test('a moderately large scenario (20,000 steps in one process) finishes within its bound, every step reported', async (t) => {
  const steps: Array<Record<string, unknown>> = [{ op: 'mmap', as: 'b', pages: 1 }];
  for (let i = 1; i < 20_000; i++) steps.push(i % 2 ? { op: 'write', map: 'b', page: 0, value: `v${i}` } : { op: 'read', map: 'b', page: 0 });
  steps.push({ op: 'read', map: 'b', page: 0, expect: { value: 'v19999' } });
  const s = parseScenario(JSON.stringify({ name: 'large', processes: { A: { steps } } }), 'large.json');
  const { report } = await runScenario(s, configFor(s));
  t.true(report.ok, JSON.stringify(report.invariants.filter((i) => !i.ok)));
  t.is(report.steps.length, steps.length);
});
