// `vrange explore FILE --all`: one lockstep schedule per trace, grouped by outcome (enumerate.ts:
// optimal DPOR over the reference model), each run on the real system, one witness per outcome
// class with the command that replays it; with --count-schedules, every schedule counted too.

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

export interface AllClass extends OutcomeClass {
  /** Reduced schedules, run for real, that reached it. */
  realRuns: number;
  witness?: { choices: string[]; steps: StepRecord[]; repro: string };
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
}

export async function exploreAll(file: string, s: Scenario, config: RunConfig, max: number,
  progress?: (done: number, total: number) => void, countSchedules = false): Promise<AllResult> {
  const e = enumerate(s, config, max, countSchedules);
  const counts = outcomeSteps(s, config.policy);
  const classes = new Map<string, AllClass>(e.classes.map((c) => [c.key, { ...c, realRuns: 0 }]));
  const problems: string[] = [];
  if (e.reducedClasses !== e.classes.length) problems.push(`the search reached ${e.reducedClasses} of the ${e.classes.length} outcome classes of every schedule (in the model)`);
  if (e.stats.blocked > 0) problems.push(`the search ended ${e.stats.blocked} exploration(s) with every enabled step asleep (optimal DPOR has none)`);
  let ran = 0;
  for (const [i, choices] of e.reduced.entries()) {
    if (interrupted()) break;
    const chooser = replayChooser(choices);
    const { report, history } = await runScenario(s, config, { chooser, checkModel: true });
    if (report.interrupted) break;
    ran++;
    const repro = reproduce(file, config, [], choices);
    if (chooser.deviated > 0 || chooser.followed !== choices.length) problems.push(`the real run did not follow the schedule the model enumerated: ${repro}`);
    const broken = report.invariants.filter((x) => !x.ok && x.name !== 'no-deadlock').map((x) => x.name);
    const check = checkHistory(history);
    if (broken.length || !check.ok) problems.push(`broken (${[...broken, ...check.violations.map((v) => 'check:' + v.check)].join(', ')}): ${repro}`);
    const { key } = outcomeOf(report.steps, counts);
    const c = classes.get(key);
    if (!c) problems.push(`a real run reached an outcome the model never did: ${repro}`);
    else {
      c.realRuns++;
      if (!c.witness) c.witness = { choices, steps: report.steps, repro };
    }
    progress?.(i + 1, e.reduced.length);
  }
  const stopped = interrupted();
  // Stopped early, an outcome no run reached yet is not a problem: its runs never came.
  if (!stopped) for (const c of classes.values()) if (c.realRuns === 0) problems.push(`no real run reached the outcome: ${c.results.join('; ')}`);
  const order = (c: AllClass) => c.schedules ?? c.traces;
  return { ...(e.all !== undefined ? { all: e.all } : {}), reduced: e.reduced.length, modelActions: e.stats.actions,
    classes: [...classes.values()].sort((a, b) => order(b) - order(a) || b.traces - a.traces), problems, ran,
    ...(stopped ? { interrupted: stopped } : {}) };
}

export function formatAll(file: string, config: RunConfig, r: AllResult): string[] {
  const out: string[] = [];
  out.push(`traces: ${r.reduced} (one schedule per trace: optimal DPOR over the reference model, ${r.modelActions} model actions; independent steps are not reordered), each run on real processes`);
  if (r.all !== undefined) out.push(`schedules: ${r.all} in all (every lockstep interleaving, counted by the reference model): ${(r.all / Math.max(1, r.reduced)).toFixed(1)} schedules per trace`);
  out.push(`outcome classes: ${r.classes.length}; found by the real runs: ${r.classes.filter((c) => c.realRuns > 0).length}`);
  r.classes.forEach((c, i) => {
    out.push('');
    out.push(`class ${i + 1}: ${c.traces} of ${r.reduced} traces${c.schedules !== undefined ? `, ${c.schedules} of ${r.all} schedules` : ''} (${c.realRuns} of the ${r.reduced} real runs)`);
    for (const line of c.results) out.push(`  ${line}`);
    if (c.witness) {
      out.push(`  witness, step by step:`);
      c.witness.steps.forEach((st, k) => out.push(`    ${String(k + 1).padStart(2)}. ${st.process.padEnd(8)} #${st.index} ${st.op} -> ${JSON.stringify(st.result)}${st.label ? `   (${st.label})` : ''}`));
      out.push(`  replay: ${c.witness.repro}`);
    }
  });
  for (const p of r.problems) out.push(`PROBLEM: ${p}`);
  if (r.interrupted) out.push(`INTERRUPTED by ${r.interrupted} after ${r.ran} of the ${r.reduced} real runs: the classes count the runs that ended; the run under way was stopped and is not counted`);
  return out;
}

/** One page per outcome class: the witness, run again with pictures. */
export async function writeWitnessPages(base: string, s: Scenario, config: RunConfig, r: AllResult): Promise<string[]> {
  const files: string[] = [];
  for (const [i, c] of r.classes.entries()) {
    if (!c.witness || interrupted()) continue;
    const { report, history } = await runScenario(s, config, { chooser: replayChooser(c.witness.choices), pictures: true });
    if (report.interrupted) break;
    const path = base.replace(/(\.html?)?$/, (ext) => `.class${i + 1}${ext || '.html'}`);
    writeOutput(path, renderHtml(report, [`class ${i + 1} of ${r.classes.length}: ${c.traces} of ${r.reduced} traces${c.schedules !== undefined ? `, ${c.schedules} of ${r.all} schedules` : ''}`, ...c.results, c.witness.repro], history,
      { description: s.description, choices: c.witness.choices }));
    files.push(path);
  }
  return files;
}
