// `vrange explore FILE --all`: one lockstep schedule per trace, grouped by outcome (enumerate.ts:
// optimal DPOR over the reference model), each run on the real system, one witness per outcome
// class with the command that replays it; with --count-schedules, every schedule counted too.

import { writeOutput } from '../shared/files.js';
import { runScenario } from './run.js';
import { replayChooser } from './replay.js';
import { enumerate, outcomeOf, outcomeSteps, uncountedSteps, type ClassesBy, type OutcomeClass } from './enumerate.js';
import { coverageWarnings, differingSteps, differingTable, goalLines, goalReach, witnessExchanges, witnessLines,
  type DifferingStep, type GoalReach, type WitnessExchange } from './explain_classes.js';
import { goalsOf, goalsReached } from '../checker/goals.js';
import { checkHistory } from '../checker/check.js';
import { reproduce } from './command.js';
import { renderHtml } from '../report/html.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import type { StepRecord } from '../coordinator/kernel.js';
import { interrupted, type StopSignal } from '../shared/lifecycle.js';
import { inShard, type Shard } from './shard_select.js';
import type { PhaseClock } from './phases.js';
import { withSession, type RunSession } from './session.js';
import { choiceTokens, parseChoiceToken } from '../shared/kernel_name.js';

export interface AllClass extends OutcomeClass {
  /** Reduced schedules, run for real, that reached it. */
  realRuns: number;
  /** Goal name -> its real runs that reached the goal (goals no run of it reached are absent). */
  goals: Record<string, number>;
  /** `choices` as `--choices` takes them (shared/kernel_name.ts choiceTokens). */
  witness?: { choices: string[]; steps: StepRecord[]; exchanges: WitnessExchange[]; repro: string };
}

export interface AllResult {
  /** With --count-schedules: every lockstep schedule. */
  all?: number;
  /** Traces (one schedule each): the real runs planned. */
  reduced: number; classes: AllClass[];
  /** The search's model actions. */
  modelActions: number;
  /** Problems: a real run that disagreed with the model, broke an invariant or a history check, or an outcome no reduced run found. */
  problems: string[];
  /** SIGINT/SIGTERM stopped the runs: the classes count the reduced runs that ended before it. */
  interrupted?: StopSignal;
  /** Reduced runs that ended (all `reduced` of them unless interrupted). */
  ran: number;
  /** What the classes are made of (--classes-by), and the steps they leave out. */
  classesBy: ClassesBy; uncounted: string[];
  /** Notes that are not problems: a class made of some steps only (harness/explain_classes.ts). */
  warnings: string[];
  /** The steps whose results tell the classes apart (one cell per class, in the order of `classes`). */
  differing: DifferingStep[];
  /** The scenario's goals and the classes that reach each (a goal no class reaches is listed with none). */
  goals: GoalReach[];
}

/** What the model's enumeration gives every shard alike: the counts and the outcome classes. */
export interface AllPlan {
  /** With --count-schedules: every lockstep schedule. */
  all?: number;
  /** Traces: the real runs planned. */
  reduced: number; classes: OutcomeClass[]; reducedClasses: number;
  /** The search's model actions, and the explorations it ended with every enabled step asleep (optimal DPOR has none). */
  modelActions: number; blocked: number;
  /** --classes-by, the steps the classes leave out, and the scenario's goals (the merge has no scenario). */
  classesBy: ClassesBy; uncounted: string[];
  goals: Array<{ name: string; title: string }>;
}

/** How to run `--all`: a shard's part only, the session and phase clock, and whether to count every schedule too. */
export interface AllOptions {
  progress?: (done: number, total: number) => void;
  shard?: Shard;
  phases?: PhaseClock;
  session?: RunSession;
  countSchedules?: boolean;
  /** What an outcome class is made of (default `expected`). */
  classesBy?: ClassesBy;
}

/** One reduced schedule run for real. */
export interface AllRun {
  /** Its place in the list of reduced schedules (0-based). */
  index: number;
  /** The outcome class it reached (enumerate.ts outcomeOf). */
  key: string;
  repro: string;
  /** It did not follow its schedule, or broke an invariant or a history check. */
  problems: string[];
  /** The scenario's goals this run reached (checker/goals.ts), in the scenario's order. */
  goals: string[];
  /** Kept for the first run of this pass that reached a class of the plan: the class's witness, unless an earlier run (another shard's) reached it too; `choices` as `--choices` takes them. */
  witness?: { choices: string[]; steps: StepRecord[]; exchanges: WitnessExchange[] };
}

/** Enumerates, then runs the reduced schedules (those of `shard` only, when given) on real processes. */
export async function exploreAllRuns(file: string, s: Scenario, config: RunConfig, max: number,
  o: AllOptions = {}): Promise<{ plan: AllPlan; runs: AllRun[]; stopped?: StopSignal }> {
  if (!o.session) return withSession((session) => exploreAllRuns(file, s, config, max, { ...o, session }));
  const { progress, shard, phases, session } = o;
  const by = o.classesBy ?? 'expected';
  const e = enumerate(s, config, max, o.countSchedules ?? false, by);
  phases?.mark('model enumeration');
  const counts = outcomeSteps(s, config.policy, by);
  const known = new Set(e.classes.map((c) => c.key));
  const plan: AllPlan = { ...(e.all !== undefined ? { all: e.all } : {}), reduced: e.reduced.length, classes: e.classes, reducedClasses: e.reducedClasses,
    modelActions: e.stats.actions, blocked: e.stats.blocked, classesBy: by, uncounted: uncountedSteps(s, config.policy, by),
    goals: goalsOf(s).map((g) => ({ name: g.name, title: g.title })) };
  const work = e.reduced.map((choices, index) => ({ choices, index })).filter((w) => !shard || inShard(w.index, shard));
  const runs: AllRun[] = [];
  const witnessed = new Set<string>();
  const names = s.processes.map((p) => p.name);
  for (const [i, { choices, index }] of work.entries()) {
    if (interrupted()) break;
    const chooser = replayChooser(choices);
    const tokens = choiceTokens(choices, names);
    const repro = reproduce(file, config, [], tokens);
    const { report, history } = await runScenario(s, config, { chooser, checkModel: true, phases, session, repro });
    if (report.interrupted) break;
    const problems: string[] = [];
    if (chooser.deviated > 0 || chooser.followed !== choices.length) problems.push(`the real run did not follow the schedule the model enumerated: ${repro}`);
    const broken = report.invariants.filter((x) => !x.ok && x.name !== 'no-deadlock').map((x) => x.name);
    const check = checkHistory(history);
    phases?.mark('checks (history check)');
    if (broken.length || !check.ok) problems.push(`broken (${[...broken, ...check.violations.map((v) => 'check:' + v.check)].join(', ')}): ${repro}`);
    const { key } = outcomeOf(report.steps, counts);
    const run: AllRun = { index, key, repro, problems, goals: goalsReached(s, report.steps) };
    if (known.has(key) && !witnessed.has(key)) { witnessed.add(key); run.witness = { choices: tokens, steps: report.steps, exchanges: witnessExchanges(history) }; }
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
  const classes = new Map<string, AllClass>(plan.classes.map((c) => [c.key, { ...c, realRuns: 0, goals: {} }]));
  const problems: string[] = [];
  if (plan.reducedClasses !== plan.classes.length) problems.push(`the search reached ${plan.reducedClasses} of the ${plan.classes.length} outcome classes of every schedule (in the model)`);
  if (plan.blocked > 0) problems.push(`the search ended ${plan.blocked} exploration(s) with every enabled step asleep (optimal DPOR has none)`);
  for (const r of [...runs].sort((a, b) => a.index - b.index)) {
    problems.push(...r.problems);
    const c = classes.get(r.key);
    if (!c) { problems.push(`a real run reached an outcome the model never did: ${r.repro}`); continue; }
    c.realRuns++;
    for (const g of r.goals) c.goals[g] = (c.goals[g] ?? 0) + 1;
    if (c.witness) continue;
    if (!r.witness) throw new Error(`assembleAll: the first run of class ${JSON.stringify(c.results)} (schedule ${r.index}) has no witness`);
    c.witness = { choices: r.witness.choices, steps: r.witness.steps, exchanges: r.witness.exchanges, repro: r.repro };
  }
  if (!o.stopped && !o.partial) for (const c of classes.values()) if (c.realRuns === 0) problems.push(`no real run reached the outcome: ${c.results.join('; ')}`);
  const order = (c: AllClass) => c.schedules ?? c.traces;
  const sorted = [...classes.values()].sort((a, b) => order(b) - order(a) || b.traces - a.traces);
  return { ...(plan.all !== undefined ? { all: plan.all } : {}), reduced: plan.reduced, modelActions: plan.modelActions,
    classes: sorted, problems, ran: runs.length, ...(o.stopped ? { interrupted: o.stopped } : {}),
    classesBy: plan.classesBy, uncounted: plan.uncounted, warnings: coverageWarnings(plan.classesBy, plan.uncounted, sorted),
    differing: differingSteps(sorted), goals: goalReach(plan.goals, sorted) };
}

export async function exploreAll(file: string, s: Scenario, config: RunConfig, max: number, o: Omit<AllOptions, 'shard'> = {}): Promise<AllResult> {
  const { plan, runs, stopped } = await exploreAllRuns(file, s, config, max, o);
  return assembleAll(plan, runs, { stopped });
}

export function formatAll(file: string, config: RunConfig, r: AllResult): string[] {
  const out: string[] = [];
  out.push(`traces: ${r.reduced} (one schedule per trace: optimal DPOR over the reference model, ${r.modelActions} model actions; independent steps are not reordered), each run on real processes`);
  if (r.all !== undefined) out.push(`schedules: ${r.all} in all (every lockstep interleaving, counted by the reference model): ${(r.all / Math.max(1, r.reduced)).toFixed(1)} schedules per trace`);
  out.push(`outcome classes: ${r.classes.length}; found by the real runs: ${r.classes.filter((c) => c.realRuns > 0).length}`
    + `${r.classesBy === 'all' ? ' (classes by every step\'s result)' : ''}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  if (r.differing.length) {
    out.push(`what tells the classes apart: ${r.differing.length} step${r.differing.length === 1 ? '' : 's'} (only the fields that differ; the classes' other steps give the same results in all of them)`);
    out.push(...differingTable(r.differing, r.classes.length));
  }
  out.push(...goalLines(r.goals));
  r.classes.forEach((c, i) => {
    out.push('');
    out.push(`class ${i + 1}: ${c.traces} of ${r.reduced} traces${c.schedules !== undefined ? `, ${c.schedules} of ${r.all} schedules` : ''} (${c.realRuns} of the ${r.reduced} real runs)`);
    for (const line of c.results) out.push(`  ${line}`);
    const reached = r.goals.filter((g) => g.reachedBy.some((x) => x.class === i + 1)).map((g) => g.name);
    if (reached.length) out.push(`  goals reached: ${reached.join(', ')}`);
    if (c.witness) {
      out.push(`  witness, step by step:`);
      out.push(...witnessLines(c.witness.steps, c.witness.exchanges));
      out.push(`  replay: ${c.witness.repro}`);
    }
  });
  for (const p of r.problems) out.push(`PROBLEM: ${p}`);
  if (r.interrupted) out.push(`INTERRUPTED by ${r.interrupted} after ${r.ran} of the ${r.reduced} real runs: the classes count the runs that ended; the run under way was stopped and is not counted`);
  return out;
}

/** One page per outcome class: the witness, run again with pictures. */
export async function writeWitnessPages(base: string, s: Scenario, config: RunConfig, r: AllResult, session?: RunSession): Promise<string[]> {
  if (!session) return withSession((ss) => writeWitnessPages(base, s, config, r, ss));
  const files: string[] = [];
  const names = s.processes.map((p) => p.name);
  for (const [i, c] of r.classes.entries()) {
    if (!c.witness || interrupted()) continue;
    const actions = c.witness.choices.map((x) => parseChoiceToken(x, names) ?? x);
    const { report, history } = await runScenario(s, config, { chooser: replayChooser(actions), pictures: true, session, repro: c.witness.repro });
    if (report.interrupted) break;
    const path = base.replace(/(\.html?)?$/, (ext) => `.class${i + 1}${ext || '.html'}`);
    const goals = r.goals.filter((g) => g.reachedBy.some((x) => x.class === i + 1)).map((g) => g.name);
    writeOutput(path, renderHtml(report, [`class ${i + 1} of ${r.classes.length}: ${c.traces} of ${r.reduced} traces${c.schedules !== undefined ? `, ${c.schedules} of ${r.all} schedules` : ''}`, ...c.results,
      ...(goals.length ? [`goals reached: ${goals.join(', ')}`] : []), c.witness.repro], history,
      { description: s.description, choices: c.witness.choices }));
    files.push(path);
  }
  return files;
}
