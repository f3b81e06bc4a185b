// A copy-on-write fault with no free frame: after the OOM killer's first victim, the fault looks
// again at what it needs. The faulting process, now the page's only mapper, reuses the frame (no
// second kill). The reference model must say the same, and so must the kernel under the free schedule.
import test from 'ava';
import { configFor, runFile, scenarioPath, sessionLimiter } from './helpers.js';
import { runScenario } from '../harness/run.js';
import { parseScenario } from '../shared/scenario.js';
import { runModel } from '../model/model.js';

const gate = sessionLimiter(2);

for (const [schedule, seed] of [['lockstep', 1], ['lockstep', 2], ['free', 0]] as const) {
  test(`cow-oom-sole-mapper (${schedule}, seed ${seed}): one OOM kill, and B writes in place`, async (t) => {
    const { report, history } = await gate((session) => runFile(scenarioPath('cow-oom-sole-mapper'), { schedule, seed }, schedule === 'lockstep', session));
    const kills = history.filter((e) => e.kind === 'oom-kill');
    t.deepEqual(kills.map((e) => e.process), ['A'], 'one victim: A');
    const b = report.kernel.processes.find((p) => p.name === 'B')!;
    t.is(b.state, 'exited');
    const result = (p: string, i: number) => report.steps.find((s) => s.process === p && s.index === i)?.result;
    t.deepEqual(result('B', 1), { ok: true });
    t.deepEqual(result('B', 2), { ok: true, value: 'b0' });
    // A was asleep in its wait (lockstep: B's write runs only after A's signal completed); free: the
    // signal may still have been in flight. Either way A's last step reports SIGKILL.
    const lastOfA = report.steps.filter((s) => s.process === 'A').at(-1)!;
    t.deepEqual(lastOfA.result, { ok: false, signal: 'SIGKILL' });
    if (schedule === 'lockstep') t.is(lastOfA.index, 5);
    else t.true(lastOfA.index === 4 || lastOfA.index === 5);
    t.deepEqual(report.failures, []);
    t.true(report.ok, JSON.stringify(report.invariants.filter((i) => !i.ok)));
    if (schedule === 'lockstep') t.true(report.invariants.some((i) => i.name === 'matches-model' && i.ok && !i.detail));
  });
}

test('the model alone: after the OOM kill of the other mapper, the fault reuses the frame', (t) => {
  const s = parseScenario(`
name: cow-oom
memory: { frames: 1 }
processes:
  A:
    steps:
      - { op: mmap, as: buf, pages: 1 }
      - { op: write, map: buf, page: 0, value: "a0" }
      - { op: fork, child: B }
      - { op: wait, name: done }
  B:
    forked: true
    steps:
      - { op: write, map: buf, page: 0, value: "b0" }
      - { op: read, map: buf, page: 0 }
      - { op: signal, name: done }
`, 'inline.yaml');
  const step = (process: string) => ({ kind: 'step' as const, process });
  const out = runModel(s, configFor(s), [step('A'), step('A'), step('A'), step('B'), step('B'), step('B')]);
  t.deepEqual(out.steps.map((x) => `${x.process}#${x.index}:${JSON.stringify(x.result)}`), [
    'A#0:{"ok":true,"addr":4096}', 'A#1:{"ok":true}', 'A#2:{"ok":true,"pid":3}',
    'A#3:{"ok":false,"signal":"SIGKILL"}', 'B#0:{"ok":true}', 'B#1:{"ok":true,"value":"b0"}', 'B#2:{"ok":true}',
  ]);
  t.is(out.framesUsed, 0);
});

test('a private file page being copied is not locked: reclaim purges it (volatile file range) and the write gets SIGBUS, nobody is OOM-killed', async (t) => {
  const yaml = `
name: cow-file-private-purged
memory: { frames: 1 }
files:
  - { name: f, pages: 1 }
processes:
  W:
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 1 }
      - { op: write, map: m, page: 0, value: "f0" }
      - { op: fvrange, fd: f, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: ready }
      - { op: wait, name: done }
  P:
    sigbus: handle
    steps:
      - { op: open, file: f }
      - { op: mmap, as: m, fd: f, pages: 1, share: private }
      - { op: wait, name: ready }
      - { op: write, map: m, page: 0, value: "p0", expect: { signal: SIGBUS } }
      - { op: signal, name: done }
`;
  for (const [schedule, seed] of [['lockstep', 1], ['free', 0]] as const) {
    const s = parseScenario(yaml, 'inline.yaml');
    const { report, history } = await gate((session) => runScenario(s, configFor(s, { schedule, seed }), { checkModel: schedule === 'lockstep', session }));
    t.deepEqual(history.filter((e) => e.kind === 'oom-kill'), [], schedule);
    t.deepEqual(report.failures, [], schedule);
    t.true(report.ok, `${schedule}: ${JSON.stringify(report.invariants.filter((i) => !i.ok))}`);
  }
});
