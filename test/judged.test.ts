// A step a death interrupts is reported the same way by both schedules, and an expectation on a
// step that never ran fails the run (unless faults were injected). Real runs (agents, ZeroMQ) and
// the reference model alone.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { cli, configFor, limiter, runFile, runYaml, scenarioPath, tempFile } from './helpers.js';
import { checkHistory } from '../checker/check.js';
import { parseScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { parseFault } from '../harness/faults.js';
import { runModel } from '../model/model.js';

const gate = limiter(2);

// oom-kill with an expectation that cannot hold on H's `wait f-done`, the step H is asleep in
// when F's write OOM-kills it (the reproduction, seed 1, had `value: "bogus"`: a field no
// wait result has, which the loader now refuses; `ok: true` cannot hold either, as H is killed).
const oomBogus = readFileSync(scenarioPath('oom-kill'), 'utf8')
  .replace('- { op: wait, name: f-done }\n      - { op: write, map: big, page: 0, value: "never runs" }',
    '- { op: wait, name: f-done, expect: { ok: true } }\n      - { op: write, map: big, page: 0, value: "never runs" }');

test('a process killed while asleep in wait: its wait reports SIGKILL in lockstep and in free alike', async (t) => {
  t.true(oomBogus.includes('name: f-done, expect: { ok: true } }'));
  const runs = await Promise.all((['lockstep', 'free'] as const).map((schedule) => gate(async () => {
    const s = parseScenario(oomBogus, 'oom-bogus.yaml');
    return runScenario(s, configFor(s, { schedule, seed: 1 }), { checkModel: schedule === 'lockstep' });
  })));
  const [lock, free] = runs.map((r) => r.report);
  for (const r of [lock!, free!]) {
    const h5 = r.steps.find((x) => x.process === 'H' && x.index === 5);
    t.deepEqual(h5?.result, { ok: false, signal: 'SIGKILL' }, r.schedule);
    t.false(r.ok, r.schedule);
    t.deepEqual(r.failures.map((f) => `${f.process}#${f.index}`), ['H#5'], r.schedule);
  }
  // The same steps reported by both (the order may differ: free runs concurrently).
  const keys = (r: typeof lock) => r!.steps.map((x) => `${x.process}#${x.index}`).sort();
  t.deepEqual(keys(lock), keys(free));
  t.is(lock!.steps.length, 26);
  // The reference model agrees with the kernel step for step.
  t.true(lock!.invariants.some((i) => i.name === 'matches-model' && i.ok && !i.detail), JSON.stringify(lock!.invariants));
  // And the history still pairs every completion with an invocation.
  const runsHistory = runs[0]!.history;
  const inv = runsHistory.findIndex((e) => e.kind === 'invoke' && e.process === 'H' && e.index === 5);
  const done = runsHistory.findIndex((e) => e.kind === 'complete' && e.process === 'H' && e.index === 5);
  t.true(inv >= 0 && inv < done);
  t.is(runsHistory[done]!.type, 'info');
});

// Every way a step can fail to run, each with an expectation on it.
const neverRun = `
name: never-run
memory: { frames: 16 }
processes:
  E:
    steps:
      - { op: exit, code: 3 }
      - { op: signal, name: after-exit, expect: { ok: true } }
  C:
    steps:
      - { op: crash }
      - { op: signal, name: after-crash, expect: {} }
  S:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "x" }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: wait, name: purged }
      - { op: read, map: m, page: 0, expect: { signal: SIGBUS } }
      - { op: read, map: m, page: 0, expect: { byPolicy: { per-mm: { value: "" } } } }
      - { op: read, map: m, page: 0, expect: { byPolicy: { anon-only: { value: "" } } } }
  U:
    forked: true
    steps:
      - { op: signal, name: unborn, expect: { ok: true } }
  W:
    steps:
      - { op: wait, name: never-sent }
      - { op: signal, name: after-stuck, expect: { ok: true } }
  N:
    steps:
      - { op: wait, name: after-stuck }
      - { op: signal, name: never-sent }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
  - { op: signal, name: purged }
  - { op: wait, name: unborn }
  - { op: check, framesUsed: 0 }
`;

test('an expectation on a step that never ran fails the run: after exit, crash, SIGBUS, deadlock; unborn; kernel steps; byPolicy', async (t) => {
  const { report } = await gate(() => runYaml(neverRun, { policy: 'per-mm' }));
  t.false(report.ok);
  const never = report.failures.filter((f) => f.ran === false).map((f) => `${f.process}#${f.index}`).sort();
  // S#6 expects under per-mm: never ran. S#7 expects only under anon-only: nothing to judge here.
  // The kernel's wait on "unborn" is stuck (reported); the check after it never ran (a check always expects ok).
  t.deepEqual(never, ['C#1', 'E#1', 'S#6', 'U#0', 'W#1', 'kernel#4'].sort());
  const s6 = report.failures.find((f) => f.process === 'S' && f.index === 6)!;
  t.deepEqual(s6.expected, { value: '' });
  t.is(s6.actual, undefined);
  t.regex(s6.why!, /S was killed by SIGBUS at step 5/);
  t.regex(report.failures.find((f) => f.process === 'U')!.why!, /never forked/);
  t.regex(report.failures.find((f) => f.process === 'W')!.why!, /stuck at step 0/);
  // The SIGBUS read itself ran and held.
  t.false(report.failures.some((f) => f.process === 'S' && f.index === 5));
  // Under anon-only S#7's expectation applies, S#6's does not.
  const anon = await gate(() => runYaml(neverRun, { policy: 'anon-only' }));
  t.deepEqual(anon.report.failures.filter((f) => f.process === 'S').map((f) => f.index), [7]);
});

test('vrange run exits 1 and names the step that never ran, in the text report and in --json', async (t) => {
  const file = tempFile('after-exit.yaml', `
name: after-exit
processes:
  H:
    steps:
      - { op: signal, name: a }
      - { op: exit }
      - { op: signal, name: b, expect: { ok: true } }
`);
  const text = await gate(() => cli(['run', file, '--seed', '1']));
  t.is(text.code, 1, text.stdout + text.stderr);
  t.true(text.stdout.includes('processes.H.steps[2]: expected {"ok":true}, but the step never ran (H exited with code 0 at step 1)'), text.stdout);
  t.regex(text.stdout, /verdict: FAIL \(1 expectation\(s\) failed/);
  const json = await gate(() => cli(['run', file, '--seed', '1', '--json', '--schedule', 'free']));
  t.is(json.code, 1);
  const r = JSON.parse(json.stdout);
  t.false(r.ok);
  t.deepEqual(r.failures, [{ process: 'H', index: 2, expected: { ok: true }, ran: false, why: 'H exited with code 0 at step 1' }]);
  t.deepEqual(r.notJudged, []);
});

test('with faults injected, expectations on steps that never ran are listed but not judged', async (t) => {
  const s = parseScenario(`
name: killed-early
processes:
  A:
    steps:
      - { op: signal, name: a }
      - { op: signal, name: b, expect: { ok: true } }
`, 'inline.yaml');
  const { report } = await gate(() => runScenario(s, configFor(s), { faults: [parseFault('kill:A@1', s)] }));
  t.deepEqual(report.failures, []);
  t.true(report.ok);
  t.deepEqual(report.notJudged.map((f) => `${f.process}#${f.index}`), ['A#1']);
});

test('the model: a kill of a process asleep in wait reports its wait as SIGKILL; a satisfied wait not yet granted is not in flight', (t) => {
  const yaml = `
name: asleep
memory: { frames: 1 }
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "a" }
      - { op: wait, name: go }
  B:
    steps:
      - { op: wait, name: go }
      - { op: signal, name: x }
kernel:
  - { op: signal, name: go }
  - { op: kill, process: B }
  - { op: kill, process: A }
`;
  const s = parseScenario(yaml, 'inline.yaml');
  const cfg = configFor(s);
  const step = (process: string) => ({ kind: 'step' as const, process });
  // A, A (asleep in wait go), then the kernel signals go and kills B before B is granted: B's wait had
  // its signal, so B was runnable, not in the step. Then A is killed: A's wait was satisfied too.
  const woken = runModel(s, cfg, [step('A'), step('A'), { kind: 'kernel' }, { kind: 'kernel' }, { kind: 'kernel' }]).steps;
  t.deepEqual(woken.map((x) => `${x.process}#${x.index}`), ['A#0', 'A#1', 'kernel#0', 'kernel#1', 'kernel#2']);
  // Killed before the signal: asleep in the wait, which reports SIGKILL before the kill step completes.
  const noSignal = parseScenario(yaml.replace('  - { op: signal, name: go }\n', '').replace('  - { op: kill, process: A }\n', '  - { op: kill, process: A }\n  - { op: signal, name: go }\n'), 'inline.yaml');
  const asleep = runModel(noSignal, configFor(noSignal), [step('A'), step('A'), { kind: 'kernel' }, { kind: 'kernel' }, { kind: 'kernel' }]).steps;
  t.deepEqual(asleep.map((x) => `${x.process}#${x.index}:${JSON.stringify(x.result)}`), [
    'A#0:{"ok":true,"addr":4096}', 'A#1:{"ok":true}',
    'B#0:{"ok":false,"signal":"SIGKILL"}', 'kernel#0:{"ok":true}',
    'A#2:{"ok":false,"signal":"SIGKILL"}', 'kernel#1:{"ok":true}', 'kernel#2:{"ok":true}',
  ]);
});

test('a deadlock in either schedule: each stuck step is reported once, and the history stays well-formed', async (t) => {
  for (const [schedule, seed] of [['lockstep', 1], ['free', 0]] as const) {
    const { report, history } = await gate(() => runFile(scenarioPath('deadlock-demo'), { schedule, seed }));
    const keys = report.steps.map((s) => `${s.process}#${s.index}`);
    t.is(new Set(keys).size, keys.length, `${schedule}: ${keys.join(' ')}`);
    t.deepEqual(checkHistory(history).violations, [], schedule);
    // S was asleep in its wait when the kernel killed it: both schedules report that step.
    t.deepEqual(report.steps.find((s) => s.process === 'S' && s.index === 0)?.result, { ok: false, signal: 'SIGKILL' }, schedule);
    t.deepEqual(report.steps.find((s) => s.process === 'W' && s.index === 0)?.result, { ok: false, stuck: true }, schedule);
  }
});
