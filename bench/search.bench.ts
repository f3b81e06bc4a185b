// (issue 16) Fewer runs for the same coverage. Four figures, each beside its goal:
//   1. the model's search: model actions of `explore --all`'s search before (every schedule, each
//      prefix replayed from the start, then sleep sets: bench/legacy_search.ts) and after (optimal
//      DPOR over run-time footprints with a cloned model: harness/dpor.ts), on race-fork-vs-reclaim
//      and race-two-marks. Goal: >= 10 times fewer (the ratio is the headline).
//   2. `explore --all race-shared-file-marks` on real processes: wall time. Goal: under 60 s.
//   3. real runs `explore --all race-two-marks` makes (one per trace). Goal: at most its traces (63 before).
//   4. runs needed to reach every outcome class of each race-library scenario, uniform random
//      choices against PCT (depth 2 and 3), median over seeds. Each run is the lockstep schedule its
//      chooser picks, played on the reference model (what a lockstep run does, step for step, as
//      --check-model checks): real processes would add only time. Goal: PCT fewer at the median.
// The machine is shared: the load average is printed with every figure.
//
// Run: node dist/bench/search.bench.js [--json [FILE]] [--quick] [--repeats N]

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';
import { enumerate, outcomeOf, outcomeSteps } from '../harness/enumerate.js';
import { exploreAll } from '../harness/explore_all.js';
import { pctChooser } from '../harness/pct.js';
import { prngChooser, type Chooser } from '../coordinator/scheduler.js';
import { modelSession } from '../model/model.js';
import { loadScenario } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import type { Scenario } from '../shared/scenario-types.js';
import { legacyEnumerate } from './legacy_search.js';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const scenarios = join(here, '..', '..', 'scenarios');
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

/** Runs (model-played, seeds from `base`) until every class is reached; `cap` if never. */
function runsToCover(s: Scenario, classes: Set<string>, chooserFor: (seed: number) => Chooser, base: number, cap: number): number {
  const config = runConfigFor(s, {});
  const counts = outcomeSteps(s, config.policy);
  const seen = new Set<string>();
  for (let i = 1; i <= cap; i++) {
    const m = modelSession(s, config);
    const c = chooserFor(base + i);
    for (let en = m.enabled(); en.length > 0; en = m.enabled()) m.apply(en[c.choose(en)]!);
    seen.add(outcomeOf(m.finish().steps, counts).key);
    if ([...classes].every((k) => seen.has(k))) return i;
  }
  return cap;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const rows: Row[] = [];
  const goals: string[] = [];
  let met = true;

  // 1. Model actions of the search.
  for (const name of ['race-fork-vs-reclaim', 'race-two-marks']) {
    const s = loadScenario(join(scenarios, `${name}.yaml`));
    const config = runConfigFor(s, {});
    const before = legacyEnumerate(s, config);
    const t0 = nowMs();
    const after = enumerate(s, config);
    const ms = nowMs() - t0;
    const ratio = before.actions / after.stats.actions;
    met &&= ratio >= 10;
    rows.push({ name: `${name}: model actions, optimal DPOR (before: ${before.actions})`, unit: 'actions', summary: summarise([after.stats.actions]),
      ratio, against: 'every schedule replayed from the start + sleep sets', extra: {
        before: before.actions, after: after.stats.actions, schedules: before.all, legacyReducedRuns: before.reduced, traces: after.reduced.length,
        classes: after.classes.length, searchMs: Math.round(ms), load: load() } });
    goals.push(`${name}: ${before.actions} -> ${after.stats.actions} model actions (${ratio.toFixed(1)}x fewer; goal >= 10x: ${ratio >= 10 ? 'met' : 'NOT met'})`);
  }

  // 2 and 3. explore --all on real processes.
  const real = args.quick ? ['race-two-marks'] : ['race-two-marks', 'race-shared-file-marks'];
  for (const name of real) {
    const file = join(scenarios, `${name}.yaml`);
    const s = loadScenario(file);
    const config = runConfigFor(s, { seed: 1 });
    const loadBefore = load();
    const t0 = nowMs();
    const r = await exploreAll(file, s, config, 100_000);
    const secs = (nowMs() - t0) / 1000;
    const ok = r.problems.length === 0 && r.classes.every((c) => c.realRuns > 0);
    rows.push({ name: `explore --all ${name}: wall time, real runs`, unit: 's', summary: summarise([secs]), extra: {
      realRuns: r.ran, traces: r.reduced, classes: r.classes.length, problems: r.problems.length, loadBefore, loadAfter: load() } });
    if (name === 'race-two-marks') {
      met &&= r.ran <= r.reduced && r.ran < 63 && ok;
      goals.push(`race-two-marks: ${r.ran} real runs for ${r.reduced} traces and ${r.classes.length} classes (before: 63; goal <= traces: ${r.ran <= r.reduced ? 'met' : 'NOT met'})`);
    } else {
      met &&= secs < 60 && ok;
      goals.push(`race-shared-file-marks: explore --all in ${secs.toFixed(1)} s, ${r.ran} real runs, ${r.classes.length} classes (before: refused; goal < 60 s: ${secs < 60 ? 'met' : 'NOT met'}; load ${loadBefore} -> ${load()})`);
    }
  }

  // 4. Runs to reach every class: uniform against PCT.
  const seeds = args.quick ? 11 : (args.repeats ?? 31);
  const cap = 5_000;
  const races = readdirSync(scenarios).filter((f) => /^race-.*\.yaml$/.test(f)).sort();
  const medians: Record<string, number[]> = { uniform: [], 'pct d=2': [], 'pct d=3': [] };
  for (const f of races) {
    const s = loadScenario(join(scenarios, f));
    const config = runConfigFor(s, {});
    const classes = new Set(enumerate(s, config).classes.map((c) => c.key));
    const kinds: Array<[string, (seed: number) => Chooser]> = [
      ['uniform', (seed) => prngChooser(seed)], ['pct d=2', (seed) => pctChooser(seed, 2, s)], ['pct d=3', (seed) => pctChooser(seed, 3, s)]];
    for (const [kind, make] of kinds) {
      const runs = Array.from({ length: seeds }, (_, i) => runsToCover(s, classes, make, 1_000 * i, cap));
      const sum = summarise(runs);
      medians[kind]!.push(sum.median);
      rows.push({ name: `${f.replace(/\.yaml$/, '')}: runs to reach all ${classes.size} classes, ${kind}`, unit: 'runs', summary: sum, extra: { seeds, cap, load: load() } });
    }
  }
  const total = (k: string) => medians[k]!.reduce((a, b) => a + b, 0);
  const pctWins = races.map((_, i) => Math.min(medians['pct d=2']![i]!, medians['pct d=3']![i]!) <= medians.uniform![i]!);
  goals.push(`runs to reach every class, median over ${seeds} seeds, summed over ${races.length} race scenarios: uniform ${total('uniform')}, pct d=2 ${total('pct d=2')}, pct d=3 ${total('pct d=3')}`
    + ` (goal: PCT fewer at the median: ${total('pct d=3') < total('uniform') ? 'met' : 'NOT met'} for d=3, ${total('pct d=2') < total('uniform') ? 'met' : 'NOT met'} for d=2; `
    + `per scenario, the better PCT <= uniform in ${pctWins.filter(Boolean).length} of ${races.length})`);
  met &&= total('pct d=3') < total('uniform');

  emit({ bench: 'search', what: "explore --all's search (model actions, real runs, wall time) and PCT against uniform random (runs to reach every class)",
    goal: goals.join('\n'), goalMet: met, rows }, args);
}

main().catch((e) => { console.error(e); process.exit(1); });
