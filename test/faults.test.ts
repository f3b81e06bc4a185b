// Fault injection: real SIGKILL at every step of a scenario, and a SIGSTOPped mapper during a
// reclaim exchange. Whatever dies, the kernel cleans up and loses nothing.
import test from 'ava';
import { loadScenario, parseScenario } from '../shared/scenario.js';
import { runScenario } from '../harness/run.js';
import { parseFault } from '../harness/faults.js';
import { configFor, scenarioPath, sessionLimiter } from './helpers.js';
import { checkHistory } from '../checker/check.js';

const gate = sessionLimiter(2);
/** A kill may leave others waiting forever (a deadlock in the scenario): that is the only allowed failure. */
const allowed = new Set(['no-deadlock']);

test('kill:P@N and kill:P@N+ at every step of fork-cow-purge: always cleaned up, nothing leaks', async (t) => {
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  const specs: string[] = [];
  for (const p of s.processes) for (let n = 0; n < p.steps.length; n++) specs.push(`kill:${p.name}@${n}`, `kill:${p.name}@${n}+`);
  const runs = await Promise.all(specs.map((spec) => gate(async (session) => {
    const out = await runScenario(s, configFor(s, { seed: 1 }), { faults: [parseFault(spec, s)], session });
    return { spec, ...out };
  })));
  let injected = 0;
  for (const { spec, report, history } of runs) {
    const broken = report.invariants.filter((i) => !i.ok && !allowed.has(i.name));
    t.deepEqual(broken, [], spec);
    const fault = history.find((e) => e.kind === 'fault');
    if (!fault) continue; // the process died (SIGBUS) before reaching the step
    injected++;
    const victim = report.kernel.processes.find((p) => p.name === fault.process)!;
    t.is(victim.state, 'killed', spec);
    t.is(victim.signal, 'SIGKILL', spec);
    if (spec.endsWith('+')) {
      const [, name, n] = spec.match(/^kill:(\w+)@(\d+)\+$/)!;
      const step = report.steps.find((x) => x.process === name && x.index === Number(n));
      t.deepEqual(step?.result, { ok: false, signal: 'SIGKILL' }, `${spec}: the step in flight reports SIGKILL`);
    }
    t.is(report.kernel.frames.used, 0, `${spec}: every frame freed`);
    t.deepEqual(checkHistory(history).violations, [], `${spec}: the history checker`);
  }
  t.true(injected >= specs.length - 4, `faults injected ${injected} of ${specs.length}`);
});

test('kill:reclaim kills a mapper inside the exchange; the commit completes without it', async (t) => {
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  const { report, history } = await runScenario(s, configFor(s, { seed: 1 }), { faults: [parseFault('kill:reclaim', s)] });
  const seq = (kind: string) => history.find((e) => e.kind === kind)!.seq;
  t.true(seq('reclaim-prepare') < seq('fault') && seq('fault') < seq('reclaim-commit'));
  t.deepEqual(report.invariants.filter((i) => !i.ok).map((i) => i.name), []);
  t.is(report.kernel.frames.used, 0);
});

test('a mapper SIGSTOPped during a prepare does not answer: its pages are kept and it loses nothing', async (t) => {
  const s = parseScenario(`
name: paused-mapper
processes:
  A:
    steps:
      - { op: mmap, as: m, pages: 1 }
      - { op: write, map: m, page: 0, value: "mine" }
      - { op: vrange, map: m, page: 0, pages: 1, mode: volatile }
      - { op: signal, name: marked }
      - { op: mmap, as: other, pages: 1 }
      - { op: wait, name: reclaimed }
      - { op: vrange, map: m, page: 0, pages: 1, mode: nonvolatile }
      - { op: read, map: m, page: 0 }
kernel:
  - { op: wait, name: marked }
  - { op: reclaim, all: true }
  - { op: signal, name: reclaimed }
`, 'paused.yaml');
  let seen = 0;
  for (let seed = 1; seed <= 8 && seen === 0; seed++) {
    const { report, history } = await runScenario(s, configFor(s, { seed }), { faults: [parseFault('pause:A@4:2600', s)] });
    t.true(report.ok, JSON.stringify(report.invariants));
    const fault = history.find((e) => e.kind === 'fault');
    const prepare = history.find((e) => e.kind === 'reclaim-prepare')!;
    const resume = history.find((e) => e.kind === 'resume');
    if (!fault || fault.seq > prepare.seq || !resume || resume.seq < prepare.seq) continue;
    seen++;
    t.truthy(history.find((e) => e.kind === 'no-answer' && e.process === 'A'), 'the kernel noted the missing answer');
    t.false(history.some((e) => e.kind === 'decision' && e.purge), 'nothing purged');
    const steps = report.steps.filter((x) => x.process === 'A');
    t.deepEqual(steps.find((x) => x.index === 6)!.result, { ok: true, bytes: 4096, purged: false });
    t.deepEqual(steps.find((x) => x.index === 7)!.result, { ok: true, value: 'mine' });
  }
  t.is(seen, 1, 'some seed pauses A before the prepare');
});

test('a fault naming no such process or step is a usage error', (t) => {
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  t.throws(() => parseFault('kill:Z@0', s), { message: /no process "Z"/ });
  t.throws(() => parseFault('kill:A@99', s), { message: /process A has steps 0 to 8/ });
  t.throws(() => parseFault('explode:A', s), { message: /not a fault; allowed/ });
  t.throws(() => parseFault('random:kill=2', s), { message: /not a probability/ });
});
