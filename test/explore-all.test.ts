// `vrange explore --all`: every lockstep schedule, counted by the reference model; the sleep-set
// reduction cuts the count and still reaches every outcome class; the reduced schedules run on
// real processes and each class gets a witness whose replay command gives that outcome.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, parseScenario } from '../shared/scenario.js';
import { POLICIES } from '../shared/scenario-types.js';
import { enumerate, footprintFor, independent, outcomeOf, outcomeSteps, TooManySchedules } from '../harness/enumerate.js';
import { runScenario } from '../harness/run.js';
import { replayChooser } from '../harness/replay.js';
import { cli, configFor, scenarioPath } from './helpers.js';

const races = ['race-purge-vs-nonvolatile', 'race-fork-vs-reclaim', 'race-death-during-reclaim', 'race-two-marks'];

test('the reduction cuts the count and reaches every outcome class (model), for every race scenario and policy', (t) => {
  for (const name of races) {
    const s = loadScenario(scenarioPath(name));
    for (const policy of POLICIES) {
      const e = enumerate(s, configFor(s, { policy }));
      t.true(e.reduced.length < e.all, `${name}/${policy}: ${e.reduced.length} of ${e.all}`);
      t.is(e.reducedClasses, e.classes.length, `${name}/${policy}: every outcome class reached`);
      t.is(e.classes.reduce((n, c) => n + c.schedules, 0), e.all);
    }
  }
});

test('the race scenarios have the outcomes their descriptions promise', (t) => {
  const classes = (name: string, policy: (typeof POLICIES)[number]) => {
    const s = loadScenario(scenarioPath(name));
    return enumerate(s, configFor(s, { policy })).classes.map((c) => c.results.join('\n'));
  };
  const purge = classes('race-purge-vs-nonvolatile', 'shared-file');
  t.is(purge.length, 2);
  t.true(purge.some((c) => /A#5 vrange -> .*"purged":true/.test(c)) && purge.some((c) => /A#5 vrange -> .*"purged":false/.test(c)));
  t.is(classes('race-two-marks', 'shared-file').length, 3);
  t.is(classes('race-two-marks', 'per-mm').length, 2);
  t.is(classes('race-two-marks', 'anon-only').length, 1);
});

test('footprints: steps of different processes on their own anonymous memory commute; kernel reclaim commutes with nothing', (t) => {
  const s = loadScenario(scenarioPath('race-fork-vs-reclaim'));
  const foot = footprintFor(s, configFor(s));
  t.false(independent(foot('kernel', { op: 'reclaim', all: true }), foot('A', { op: 'signal', name: 'x' })));
  t.true(independent(foot('kernel', { op: 'wait', name: 'x' }), foot('A', { op: 'wait', name: 'x' })), 'two waits only read the signal');
  t.false(independent(foot('kernel', { op: 'wait', name: 'x' }), foot('A', { op: 'signal', name: 'x' })));
  const two = parseScenario(`
name: two
description: two processes on their own anonymous memory
memory: { frames: 16 }
processes:
  A: { steps: [ { op: mmap, as: a, pages: 1 }, { op: write, map: a, page: 0, value: x }, { op: read, map: a, page: 0 } ] }
  B: { steps: [ { op: mmap, as: b, pages: 1 }, { op: write, map: b, page: 0, value: y }, { op: read, map: b, page: 0 } ] }
`, 'two.yaml');
  const f2 = footprintFor(two, configFor(two));
  t.true(independent(f2('A', two.processes[0]!.steps[1]), f2('B', two.processes[1]!.steps[1])), 'writes to their own pages commute');
  const mark = { op: 'vrange', map: 'a', page: 0, pages: 1, mode: 'volatile' } as const;
  t.true(independent(f2('A', two.processes[0]!.steps[1]), f2('B', two.processes[1]!.steps[2])), 'B ending commutes with A writing its own page');
  t.false(independent(f2('A', mark), f2('B', two.processes[1]!.steps[2])), 'but not with a volatile mark (the ages of marks order purges)');
  t.false(independent(f2('A', mark), f2('B', { ...mark, map: 'b' })), 'two marks do not commute either');
  const tight = footprintFor(two, { ...configFor(two), frames: 1 });
  t.false(independent(tight('A', two.processes[0]!.steps[1]), tight('B', two.processes[1]!.steps[1])), 'with too few frames, writes compete for them');
  const e = enumerate(two, configFor(two));
  t.is(e.all, 20);
  t.true(e.reduced.length < e.all);
});

test('a schedule the model enumerated replays on real processes to the same outcome', async (t) => {
  const s = loadScenario(scenarioPath('race-purge-vs-nonvolatile'));
  const config = configFor(s);
  const e = enumerate(s, config);
  const counts = outcomeSteps(s, config.policy);
  for (const c of e.classes) {
    const chooser = replayChooser(c.modelWitness);
    const { report } = await runScenario(s, config, { chooser, checkModel: true });
    t.is(chooser.deviated, 0);
    t.is(outcomeOf(report.steps, counts).key, c.key);
  }
});

test('vrange explore --all: counts, reduction, witnesses and replay commands; too big is exit 2 with the count it needs', async (t) => {
  const file = scenarioPath('race-death-during-reclaim');
  const pictures = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'race.html');
  const r = await cli(['explore', file, '--all', '--seed', '1', '--html', pictures]);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /schedules: 26 in all/);
  t.regex(r.stdout, /after reduction: 4 \(sleep sets/);
  t.regex(r.stdout, /outcome classes: 2; found by the reduced runs: 2/);
  const replays = [...r.stdout.matchAll(/replay: vrange (.*)/g)].map((m) => m[1]!.split(' '));
  t.is(replays.length, 2);
  const results = await Promise.all(replays.map((args) => cli([...args, '--json'])));
  const steps = results.map((x) => JSON.stringify(JSON.parse(x.stdout).steps.map((st: { result: unknown }) => st.result)));
  t.not(steps[0], steps[1], 'the two witnesses give different results');
  // A class picture names the schedule it replays, not the seed (which chose nothing in it).
  for (const [i, args] of replays.entries()) {
    const page = readFileSync(pictures.replace(/\.html$/, `.class${i + 1}.html`), 'utf8');
    const choices = args[args.indexOf('--choices') + 1]!;
    t.true(page.includes(`replayed choices <code>${choices}</code>`), `class ${i + 1} page names --choices ${choices}`);
    t.false(/\u00b7 seed \d+ \u00b7/.test(page), `class ${i + 1} page does not claim a seed`);
  }

  const big = await cli(['explore', scenarioPath('race-shared-file-marks'), '--all', '--max-schedules', '500']);
  t.is(big.code, 2);
  t.regex(big.stderr, /more than 500 lockstep schedules \(about [\d,]+, estimated .*needs --max-schedules \d+/);
  t.is((await cli(['explore', file, '--all', '--fault', 'kill:A@0'])).code, 2);
  t.throws(() => enumerate(loadScenario(scenarioPath('race-shared-file-marks')), configFor(loadScenario(scenarioPath('race-shared-file-marks'))), 50),
    { instanceOf: TooManySchedules });
});
