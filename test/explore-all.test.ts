// `vrange explore --all`: one schedule per trace (optimal DPOR over the reference model) reaches
// every outcome class that every schedule (counted with --count-schedules, checked against brute
// force) reaches; those schedules run on real processes and each class gets a witness whose replay
// command gives that outcome.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadScenario, parseScenario } from '../shared/scenario.js';
import { POLICIES, type RunConfig, type Scenario } from '../shared/scenario-types.js';
import { countSchedules, enumerate, outcomeOf, outcomeSteps, TooManySchedules, TooManyTraces } from '../harness/enumerate.js';
import { threadOf } from '../harness/dpor.js';
import { commute, modelSession, type ModelSession } from '../model/model.js';
import { randomScenario } from '../shared/generate.js';
import { schedulesMaxCeiling } from '../shared/limits.js';
import fc from 'fast-check';
import { runScenario } from '../harness/run.js';
import { replayChooser } from '../harness/replay.js';
import { parseChoiceToken } from '../shared/kernel_name.js';
import { cli, configFor, scenarioPath } from './helpers.js';

const raceDir = join(scenarioPath('race-two-marks'), '..');
/** The race library: every bundled race scenario (small enough to enumerate every schedule). */
const races = readdirSync(raceDir).filter((f) => /^race-.*\.yaml$/.test(f)).map((f) => f.replace(/\.yaml$/, '')).sort();

/** Every schedule, by brute force (no memo, no reduction): outcome key -> schedules. */
function everySchedule(s: Scenario, config: RunConfig): Map<string, number> {
  const counts = outcomeSteps(s, config.policy);
  const out = new Map<string, number>();
  const walk = (m: ModelSession) => {
    const enabled = m.enabled();
    if (enabled.length === 0) { const k = outcomeOf(m.finish().steps, counts).key; out.set(k, (out.get(k) ?? 0) + 1); return; }
    for (const a of enabled) { const c = m.clone(); c.apply(a); walk(c); }
  };
  walk(modelSession(s, config));
  return out;
}

/** A schedule's trace, as its Foata normal form under the run-time footprints: equal forms, equivalent schedules. */
function foata(s: Scenario, config: RunConfig, choices: string[]): string {
  const m = modelSession(s, config);
  const levels: Array<Array<{ t: string; fp: ReturnType<ModelSession['footprint']> }>> = [];
  const placed: Array<{ t: string; fp: ReturnType<ModelSession['footprint']>; level: number }> = [];
  for (const a of choices) {
    const fp = m.footprint(a);
    const t = threadOf(a);
    let level = 0;
    for (const p of placed) if (p.t === t || !commute(p.fp, fp)) level = Math.max(level, p.level + 1);
    placed.push({ t, fp, level });
    (levels[level] ??= []).push({ t, fp });
    m.apply(a);
  }
  return levels.map((l) => l.map((x) => x.t).sort().join('|')).join(' ; ');
}

test('the search (optimal DPOR) finds exactly the outcome classes of every schedule, once per trace, for every race scenario and policy', (t) => {
  for (const name of races) {
    const s = loadScenario(scenarioPath(name));
    for (const policy of POLICIES) {
      const config = configFor(s, { policy });
      const e = enumerate(s, config, schedulesMaxCeiling, true);
      const where = `${name}/${policy}`;
      t.is(e.stats.blocked, 0, `${where}: no exploration ends with every step asleep`);
      t.true(e.reduced.length < e.all!, `${where}: ${e.reduced.length} traces of ${e.all} schedules`);
      t.is(e.reducedClasses, e.allClasses!, `${where}: every outcome class reached`);
      t.is(e.classes.reduce((n, c) => n + c.schedules!, 0), e.all!);
      t.is(e.classes.reduce((n, c) => n + c.traces, 0), e.reduced.length);
      const forms = e.reduced.map((r) => foata(s, config, r));
      t.is(new Set(forms).size, forms.length, `${where}: no two schedules explored are the same trace`);
      if (e.all! <= 20_000) {
        // The memoized count against brute force: same classes, same schedules in each.
        const brute = everySchedule(s, config);
        t.deepEqual(new Map(e.classes.map((c) => [c.key, c.schedules])), brute, `${where}: the count is every schedule`);
      }
    }
  }
});

test('the search finds every outcome class of random scenarios (fast-check, shared/generate.ts)', (t) => {
  let checked = 0;
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.constantFrom(...POLICIES), (seed, policy) => {
    // The generator's scenarios, cut to their first three steps a process and two kernel steps: small enough to search in a test.
    const whole = randomScenario(seed);
    const s = { ...whole, processes: whole.processes.map((p) => ({ ...p, steps: p.steps.slice(0, 3) })), kernel: whole.kernel.slice(0, 1) };
    const config = configFor(s, { policy });
    let count, e;
    try { count = countSchedules(s, config, schedulesMaxCeiling); e = enumerate(s, config, 5_000); } catch (x) { if (x instanceof TooManySchedules || x instanceof TooManyTraces) return; throw x; }
    checked++;
    const found = new Set(e.classes.map((c) => c.key));
    if (e.stats.blocked !== 0 || found.size !== count.classes.size || [...count.classes.keys()].some((k) => !found.has(k))) {
      throw new Error(`random-${seed} ${policy}: the search found ${found.size} of ${count.classes.size} classes (blocked ${e.stats.blocked})`);
    }
  }), { numRuns: 25, seed: 16 });
  t.true(checked > 15, `scenarios checked: ${checked}`);
});

test('the search finds every outcome class of random scenarios of private anonymous memory under madv-free (the anon kind)', (t) => {
  let checked = 0;
  let freed = 0;
  fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), (seed) => {
    // Cut to four steps a process (and its last, the wait for the kernel's end) and one reclaim (and the end signal).
    const whole = randomScenario(seed, 'anon');
    const s = { ...whole, processes: whole.processes.map((p) => ({ ...p, steps: [...p.steps.slice(0, 4), p.steps.at(-1)!] })), kernel: [whole.kernel[0]!, whole.kernel.at(-1)!] };
    // Only cuts where some process writes and then marks: the others have nothing for MADV_FREE to free.
    if (!s.processes.some((p) => p.steps.some((x, i) => x.op === 'vrange' && x.mode === 'volatile' && p.steps.slice(0, i).some((y) => y.op === 'write')))) return;
    const config = configFor(s, { policy: 'madv-free' });
    let count, e;
    try { count = countSchedules(s, config, schedulesMaxCeiling); e = enumerate(s, config, 5_000); } catch (x) { if (x instanceof TooManySchedules || x instanceof TooManyTraces) return; throw x; }
    checked++;
    if ([...count.classes.keys()].some((k) => /"freed":[1-9]/.test(k))) freed++;
    const found = new Set(e.classes.map((c) => c.key));
    if (e.stats.blocked !== 0 || found.size !== count.classes.size || [...count.classes.keys()].some((k) => !found.has(k))) {
      throw new Error(`random-anon-${seed} madv-free: the search found ${found.size} of ${count.classes.size} classes (blocked ${e.stats.blocked})`);
    }
  }), { numRuns: 40, seed: 17 });
  t.true(checked > 8, `scenarios checked: ${checked}`);
  t.true(freed > 4, `scenarios where some schedule frees a page: ${freed}`);
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

test('a schedule the model enumerated replays on real processes to the same outcome', async (t) => {
  const s = loadScenario(scenarioPath('race-purge-vs-nonvolatile'));
  const config = configFor(s);
  const e = enumerate(s, config);
  const counts = outcomeSteps(s, config.policy);
  for (const c of e.classes) {
    // modelWitness is written as --choices takes it (`kernel`); the chooser takes the scheduler's actions (`@kernel`).
    const chooser = replayChooser(c.modelWitness.map((x) => parseChoiceToken(x, s.processes.map((p) => p.name))!));
    const { report } = await runScenario(s, config, { chooser, checkModel: true });
    t.is(chooser.deviated, 0);
    t.is(outcomeOf(report.steps, counts).key, c.key);
  }
});

test('vrange explore --all: traces, the count, witnesses and replay commands; too big is exit 2 with the count it needs', async (t) => {
  const file = scenarioPath('race-death-during-reclaim');
  const pictures = join(mkdtempSync(join(tmpdir(), 'vrange-test-')), 'race.html');
  const r = await cli(['explore', file, '--all', '--count-schedules', '--seed', '1', '--html', pictures]);
  t.is(r.code, 0, r.stdout + r.stderr);
  const traces = Number(/^traces: (\d+) \(one schedule per trace: optimal DPOR/m.exec(r.stdout)?.[1]);
  t.regex(r.stdout, /^schedules: 26 in all .*: [\d.]+ schedules per trace$/m);
  t.true(traces >= 2 && traces < 26, `${traces} traces`);
  t.regex(r.stdout, new RegExp(`^${traces} real runs in `, 'm'), 'one real run per trace');
  t.regex(r.stdout, /outcome classes: 2; found by the real runs: 2/);
  t.regex(r.stdout, /^class 1: \d+ of \d+ traces, \d+ of 26 schedules \(\d+ of the \d+ real runs\)$/m);
  const plain = await cli(['explore', file, '--all']);
  t.is(plain.code, 0);
  t.false(/^schedules:/m.test(plain.stdout), 'without --count-schedules, no count');
  t.regex(plain.stdout, /^class 1: \d+ of \d+ traces \(/m);
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

  const big = await cli(['explore', scenarioPath('race-shared-file-marks'), '--all', '--max-schedules', '50']);
  t.is(big.code, 2);
  t.regex(big.stderr, /has [\d,]+ traces \(distinct orders of its dependent steps; each is a real run\), more than 50; give --max-schedules \d+/);
  const counted = await cli(['explore', scenarioPath('race-shared-file-marks'), '--all', '--count-schedules', '--max-schedules', '500']);
  t.is(counted.code, 2);
  t.regex(counted.stderr, /more than 500 lockstep schedules \([\d,]+, counted by the model\); counting them needs --max-schedules \d+/);
  t.is((await cli(['explore', file, '--count-schedules'])).code, 2, '--count-schedules goes with --all');
  t.is((await cli(['explore', file, '--all', '--fault', 'kill:A@0'])).code, 2);
  t.throws(() => enumerate(loadScenario(scenarioPath('race-shared-file-marks')), configFor(loadScenario(scenarioPath('race-shared-file-marks'))), 50),
    { instanceOf: TooManyTraces });
});
