// `vrange explore FILE --all`: every distinct lockstep schedule, grouped by outcome (enumerate.ts),
// the reduced schedules run on the real system, one witness per outcome class with the command
// that replays it.

import { writeOutput } from '../shared/files.js';
import { runScenario } from './run.js';
import { replayChooser } from './replay.js';
import { enumerate, outcomeOf, outcomeSteps, type OutcomeClass } from './enumerate.js';
import { checkHistory } from '../checker/check.js';
import { reproduce } from './command.js';
import { renderHtml } from '../report/html.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import type { StepRecord } from '../coordinator/kernel.js';
import { interrupted, type StopSignal } from '../shared/lifecycle.js';
import { inShard, type Shard } from './shard_select.js';
import type { PhaseClock } from './phases.js';
import { withSession, type RunSession } from './session.js';

export interface AllClass extends OutcomeClass {
  /** Reduced schedules, run for real, that reached it. */
  realRuns: number;
  witness?: { choices: string[]; steps: StepRecord[]; repro: string };
}

export interface AllResult {
  all: number; reduced: number; classes: AllClass[];
  /** Problems: a real run that disagreed with the model, broke an invariant or a history check, or an outcome no reduced run found. */
  problems: string[];
  /** SIGINT/SIGTERM stopped the runs: the classes count the reduced runs that ended before it. */
  interrupted?: StopSignal;
  /** Reduced runs that ended (all `reduced` of them unless interrupted). */
  ran: number;
}

/** What the model's enumeration gives every shard alike: the counts and the outcome classes. */
export interface AllPlan { all: number; reduced: number; classes: OutcomeClass[]; reducedClasses: number }

/** One reduced schedule run for real. */
export interface AllRun {
  /** Its place in the list of reduced schedules (0-based). */
  index: number;
  /** The outcome class it reached (enumerate.ts outcomeOf). */
  key: string;
  repro: string;
  /** It did not follow its schedule, or broke an invariant or a history check. */
  problems: string[];
  /** Kept for the first run of this pass that reached a class of the plan: the class's witness, unless an earlier run (another shard's) reached it too. */
  witness?: { choices: string[]; steps: StepRecord[] };
}

/** Enumerates, then runs the reduced schedules (those of `shard` only, when given) on real processes. */
export async function exploreAllRuns(file: string, s: Scenario, config: RunConfig, max: number,
  progress?: (done: number, total: number) => void, shard?: Shard, phases?: PhaseClock, session?: RunSession): Promise<{ plan: AllPlan; runs: AllRun[]; stopped?: StopSignal }> {
  if (!session) return withSession((ss) => exploreAllRuns(file, s, config, max, progress, shard, phases, ss));
  const e = enumerate(s, config, max);
  phases?.mark('model enumeration');
  const counts = outcomeSteps(s, config.policy);
  const known = new Set(e.classes.map((c) => c.key));
  const plan: AllPlan = { all: e.all, reduced: e.reduced.length, classes: e.classes, reducedClasses: e.reducedClasses };
  const work = e.reduced.map((choices, index) => ({ choices, index })).filter((w) => !shard || inShard(w.index, shard));
  const runs: AllRun[] = [];
  const witnessed = new Set<string>();
  for (const [i, { choices, index }] of work.entries()) {
    if (interrupted()) break;
    const chooser = replayChooser(choices);
    const { report, history } = await runScenario(s, config, { chooser, checkModel: true, phases, session });
    if (report.interrupted) break;
    const repro = reproduce(file, config, [], choices);
    const problems: string[] = [];
    if (chooser.deviated > 0 || chooser.followed !== choices.length) problems.push(`the real run did not follow the schedule the model enumerated: ${repro}`);
    const broken = report.invariants.filter((x) => !x.ok && x.name !== 'no-deadlock').map((x) => x.name);
    const check = checkHistory(history);
    phases?.mark('checks (history check)');
    if (broken.length || !check.ok) problems.push(`broken (${[...broken, ...check.violations.map((v) => 'check:' + v.check)].join(', ')}): ${repro}`);
    const { key } = outcomeOf(report.steps, counts);
    const run: AllRun = { index, key, repro, problems };
    if (known.has(key) && !witnessed.has(key)) { witnessed.add(key); run.witness = { choices, steps: report.steps }; }
    runs.push(run);
    progress?.(i + 1, work.length);
  }
  const stopped = interrupted();
  return { plan, runs, ...(stopped ? { stopped } : {}) };
}

/**
 * The result of the real runs against the plan: each class's count and witness (its first run in
 * schedule order), the problems in schedule order. `partial` (one shard's runs) or `stopped`: a
 * class no run reached is not a problem, its runs are elsewhere or never came.
 */
export function assembleAll(plan: AllPlan, runs: AllRun[], o: { partial?: boolean; stopped?: StopSignal } = {}): AllResult {
  const classes = new Map<string, AllClass>(plan.classes.map((c) => [c.key, { ...c, realRuns: 0 }]));
  const problems: string[] = [];
  if (plan.reducedClasses !== plan.classes.length) problems.push(`the reduction reached ${plan.reducedClasses} of ${plan.classes.length} outcome classes in the model`);
  for (const r of [...runs].sort((a, b) => a.index - b.index)) {
    problems.push(...r.problems);
    const c = classes.get(r.key);
    if (!c) { problems.push(`a real run reached an outcome the model never did: ${r.repro}`); continue; }
    c.realRuns++;
    if (c.witness) continue;
    if (!r.witness) throw new Error(`assembleAll: the first run of class ${JSON.stringify(c.results)} (schedule ${r.index}) has no witness`);
    c.witness = { choices: r.witness.choices, steps: r.witness.steps, repro: r.repro };
  }
  if (!o.stopped && !o.partial) for (const c of classes.values()) if (c.realRuns === 0) problems.push(`no real run reached the outcome: ${c.results.join('; ')}`);
  return { all: plan.all, reduced: plan.reduced, classes: [...classes.values()].sort((a, b) => b.schedules - a.schedules), problems, ran: runs.length,
    ...(o.stopped ? { interrupted: o.stopped } : {}) };
}

export async function exploreAll(file: string, s: Scenario, config: RunConfig, max: number,
  progress?: (done: number, total: number) => void, phases?: PhaseClock, session?: RunSession): Promise<AllResult> {
  const { plan, runs, stopped } = await exploreAllRuns(file, s, config, max, progress, undefined, phases, session);
  return assembleAll(plan, runs, { stopped });
}

export function formatAll(file: string, config: RunConfig, r: AllResult): string[] {
  const out: string[] = [];
  out.push(`schedules: ${r.all} in all (every lockstep interleaving, counted by the reference model)`);
  out.push(`after reduction: ${r.reduced} (sleep sets: steps of different processes with disjoint footprints are not reordered), each run on real processes`);
  out.push(`outcome classes: ${r.classes.length}; found by the reduced runs: ${r.classes.filter((c) => c.realRuns > 0).length}`);
  r.classes.forEach((c, i) => {
    out.push('');
    out.push(`class ${i + 1}: ${c.schedules} of ${r.all} schedules (${c.realRuns} of the ${r.reduced} reduced runs)`);
    for (const line of c.results) out.push(`  ${line}`);
    if (c.witness) {
      out.push(`  witness, step by step:`);
      c.witness.steps.forEach((st, k) => out.push(`    ${String(k + 1).padStart(2)}. ${st.process.padEnd(8)} #${st.index} ${st.op} -> ${JSON.stringify(st.result)}${st.label ? `   (${st.label})` : ''}`));
      out.push(`  replay: ${c.witness.repro}`);
    }
  });
  for (const p of r.problems) out.push(`PROBLEM: ${p}`);
  if (r.interrupted) out.push(`INTERRUPTED by ${r.interrupted} after ${r.ran} of the ${r.reduced} reduced runs: the classes count the runs that ended; the run under way was stopped and is not counted`);
  return out;
}

/** One page per outcome class: the witness, run again with pictures. */
export async function writeWitnessPages(base: string, s: Scenario, config: RunConfig, r: AllResult, session?: RunSession): Promise<string[]> {
  if (!session) return withSession((ss) => writeWitnessPages(base, s, config, r, ss));
  const files: string[] = [];
  for (const [i, c] of r.classes.entries()) {
    if (!c.witness || interrupted()) continue;
    const { report, history } = await runScenario(s, config, { chooser: replayChooser(c.witness.choices), pictures: true, session });
    if (report.interrupted) break;
    const path = base.replace(/(\.html?)?$/, (ext) => `.class${i + 1}${ext || '.html'}`);
    writeOutput(path, renderHtml(report, [`class ${i + 1} of ${r.classes.length}: ${c.schedules} of ${r.all} schedules`, ...c.results, c.witness.repro], history,
      { description: s.description, choices: c.witness.choices }));
    files.push(path);
  }
  return files;
}
