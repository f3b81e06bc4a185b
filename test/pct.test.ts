// PCT as a lockstep chooser (harness/pct.ts, `--scheduler pct --depth D`): random distinct
// priorities, depth-1 change points, the highest-priority enabled thread runs, all from the seed;
// a PCT run replays with --choices, and its reproducing line carries the scheduler.
import test from 'ava';
import fc from 'fast-check';
import { decisionsOf, pctChooser } from '../harness/pct.js';
import { reproduce } from '../harness/command.js';
import { replayChooser } from '../harness/replay.js';
import { runScenario } from '../harness/run.js';
import { modelSession } from '../model/model.js';
import { loadScenario } from '../shared/scenario.js';
import type { Scenario } from '../shared/scenario-types.js';
import { cli, configFor, scenarioPath } from './helpers.js';
import { scheduleAction } from '../shared/kernel_name.js';

const races = ['race-two-marks', 'race-fork-vs-reclaim', 'race-shared-file-marks', 'race-death-during-reclaim', 'race-purge-vs-nonvolatile'];
// The model names the kernel's actions @kernel/@commit, as the scheduler does; the chooser's thread for them is @kernel.
const thread = (a: string) => (a === '@commit' ? '@kernel' : a);

/** Drives the model with a chooser: the choices it makes, and what it saw at each. */
function drive(s: Scenario, choose: (enabled: string[]) => number): Array<{ enabled: string[]; pick: number }> {
  const m = modelSession(s, configFor(s));
  const out: Array<{ enabled: string[]; pick: number }> = [];
  for (let en = m.enabled(); en.length > 0; en = m.enabled()) {
    const pick = choose(en);
    out.push({ enabled: en, pick });
    m.apply(en[pick]!);
  }
  return out;
}

test('pct: each thread (every process and the kernel) gets a distinct priority from D to D+n-1; D-1 distinct change points within the run', (t) => {
  fc.assert(fc.property(fc.constantFrom(...races), fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 12 }), (name, seed, depth) => {
    const s = loadScenario(scenarioPath(name));
    const c = pctChooser(seed, depth, s);
    const n = s.processes.length + 1;
    const prios = [...c.priorities.values()].sort((a, b) => a - b);
    t.deepEqual([...c.priorities.keys()].sort(), [...s.processes.map((p) => p.name), '@kernel'].sort());
    t.deepEqual(prios, Array.from({ length: n }, (_, i) => depth + i));
    const k = decisionsOf(s);
    t.is(c.changePoints.length, Math.min(depth - 1, k));
    t.is(new Set(c.changePoints).size, c.changePoints.length);
    t.deepEqual([...c.changePoints], [...c.changePoints].sort((a, b) => a - b));
    t.true(c.changePoints.every((p) => p >= 1 && p <= k));
  }), { numRuns: 200, seed: 16 });
});

test('pct: the enabled thread of highest priority runs; at the j-th change point it drops to D-1-j, below every other', (t) => {
  for (const name of races) {
    const s = loadScenario(scenarioPath(name));
    for (let seed = 0; seed < 30; seed++) {
      const depth = 1 + (seed % 4);
      const c = pctChooser(seed, depth, s);
      drive(s, (enabled) => {
        const before = new Map(c.priorities);
        const pick = c.choose(enabled);
        const at = c.changePoints.indexOf(c.decisions);
        const chosen = thread(enabled[pick]!);
        if (at >= 0) {
          // The thread that would have run loses its priority; the pick is the best after the drop.
          const top = enabled.map(thread).reduce((a, b) => (before.get(b)! > before.get(a)! ? b : a));
          t.is(c.priorities.get(top), depth - 1 - at, `${name} seed ${seed}: the change point lowers the top thread`);
          t.is(new Set(c.priorities.values()).size, c.priorities.size);
        }
        for (const e of enabled) t.true(c.priorities.get(thread(e))! <= c.priorities.get(chosen)!, `${name} seed ${seed}: ${chosen} outranks ${e}`);
        return pick;
      });
    }
  }
});

test('pct: the same seed gives the same schedule; seeds differ; depth 1 never changes a priority', (t) => {
  const s = loadScenario(scenarioPath('race-shared-file-marks'));
  const run = (seed: number, depth: number) => { const c = pctChooser(seed, depth, s); return drive(s, (en) => c.choose(en)).map((x) => x.enabled[x.pick]).join(','); };
  const schedules = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    t.is(run(seed, 3), run(seed, 3), `seed ${seed}`);
    schedules.add(run(seed, 3));
  }
  t.true(schedules.size > 5, `${schedules.size} distinct schedules from 40 seeds`);
  const one = pctChooser(7, 1, s);
  const initial = new Map(one.priorities);
  drive(s, (en) => one.choose(en));
  t.deepEqual(one.changePoints, []);
  t.deepEqual(new Map(one.priorities), initial);
});

test('a pct run replays with --choices, and its reproducing line carries --scheduler pct --depth D', async (t) => {
  const s = loadScenario(scenarioPath('race-two-marks'));
  const config = configFor(s, { seed: 11 });
  const first = await runScenario(s, config, { chooser: pctChooser(11, 3, s), checkModel: true });
  // The events write the kernel's actions as --choices does (`kernel`); the chooser takes the scheduler's (`@kernel`).
  const choices = first.history.filter((e) => e.kind === 'schedule').map((e) => scheduleAction(e));
  const replay = replayChooser(choices);
  const again = await runScenario(s, config, { chooser: replay });
  t.is(replay.deviated, 0);
  t.is(replay.followed, choices.length);
  t.deepEqual(again.report.steps, first.report.steps);
  // The reproducing line names the scheduler, and running it gives the same run.
  const line = reproduce(scenarioPath('race-two-marks'), config, [], undefined, { name: 'pct', depth: 3 });
  t.regex(line, /^vrange run \S+ --seed 11 .* --scheduler pct --depth 3$/);
  const r = await cli([...line.split(' ').slice(1), '--json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout).steps, first.report.steps, 'the reproducing line gives the same run');
  t.false(reproduce('x.yaml', config, [], choices, { name: 'pct', depth: 3 }).includes('--scheduler'), 'a replayed schedule needs no scheduler');
  const ex = await cli(['explore', scenarioPath('race-two-marks'), '--scheduler', 'pct', '--runs', '2', '--seed', '11', '--json']);
  t.is(ex.code, 0, ex.stderr);
  t.true((JSON.parse(ex.stdout).runs as Array<{ repro: string }>).every((x) => x.repro.includes('--scheduler pct --depth 3')));
  for (const bad of [['--depth', '3'], ['--scheduler', 'pct', '--choices', 'A'], ['--scheduler', 'pct', '--schedule', 'free'], ['--scheduler', 'lifo'], ['--scheduler', 'pct', '--depth', '0']]) {
    const b = await cli(['run', scenarioPath('race-two-marks'), ...bad]);
    t.is(b.code, 2, bad.join(' '));
    t.is(b.stderr.trim().split('\n').length, 1, `${bad.join(' ')}: one line`);
  }
});
