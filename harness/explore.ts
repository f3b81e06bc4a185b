// `vrange explore FILE --runs N`: many runs of one scenario with seeds drawn from a base seed,
// optional random faults, each run's invariants checked, each history checked offline by the
// checker (check.ts), and lockstep runs replayed through the reference model. Prints a table of
// outcomes and, for each failing run, the command that reproduces it exactly; the first failing
// run is shrunk (shrink.ts) to fewer faults and a shorter schedule.
//
// `--every-kill` runs the scenario once per `kill:P@N` and `kill:P@N+` of every process P and
// step N instead (the seed stays the base seed).
//
// With faults, a process that others wait for may die, so a scenario's own expectations and its
// `no-deadlock` are not the kernel's to keep: explore judges the kernel (every other invariant and
// the history checks), unless `--strict` asks for the expectations too.

import { runScenario } from './run.js';
import { reproduce } from './command.js';
import { parseFault, type Fault } from './faults.js';
import { shrink, type ShrinkResult } from './shrink.js';
import type { HistoryEvent } from '../coordinator/history.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { replayChooser } from './replay.js';
import { schedulerChooser, type SchedulerSpec } from './pct.js';
import { judge } from './judge.js';
import { interrupted, type StopSignal } from '../shared/lifecycle.js';
import { inShard, type Shard } from './shard_select.js';
import type { PhaseClock } from './phases.js';
import { withSession, type RunSession } from './session.js';

import { exploreRunsMax } from '../shared/limits.js';
import { choiceTokens } from '../shared/kernel_name.js';

export { exploreRunsMax };

export interface ExploreOptions {
  file: string;
  scenario: Scenario;
  base: RunConfig;
  runs: number;
  faultSpecs: string[];
  checkDeterminism: boolean;
  /** One run per kill:P@N and kill:P@N+ (`runs` is then their count). */
  everyKill?: boolean;
  /** Count the scenario's expectations as failures even with faults. */
  strict?: boolean;
  /** Shrink the first failing run (default true). */
  shrink?: boolean;
  choices?: string[];
  /** `--timeout MS`: each run's bound instead of its scenario's (harness/run.ts runBoundMs). */
  timeoutMs?: number;
  /** `--scheduler pct --depth D`: each run's choices by PCT from its seed (pct.ts) instead of uniform. */
  scheduler?: SchedulerSpec;
  progress?: (done: number, total: number) => void;
  /** `--shard K/N`: run only this part of the work list (harness/shard_select.ts). */
  shard?: Shard;
  /** Charge each part of every run's CPU to its name (bench/runs.bench.ts). */
  phases?: PhaseClock;
  /** The run session every run (and the shrink) uses; default: one of its own, closed at the end. */
  session?: RunSession;
}

export interface ExploreRun {
  /** Its place in the sweep's whole work list (0-based): a seed's offset from BASE, or the kill point's. */
  index: number;
  seed: number; faults: string[]; outcome: string; broken: string[]; repro: string; kills: number; pauses: number;
  /** The checker's violations, as `check: text (lines …)`. */
  violations: string[];
}

export interface ExploreResult {
  runs: ExploreRun[]; counts: Record<string, number>; kills: number; pauses: number; failing: ExploreRun[];
  historiesChecked: number;
  shrunk?: ShrinkResult;
  /** SIGINT/SIGTERM stopped the exploration: `runs` are the runs that ended before it (the run under way is not counted), of `planned`. */
  interrupted?: StopSignal;
  planned: number;
}

/** Every kill:P@N and kill:P@N+ of the scenario. */
export function everyKillSpec(s: Scenario): string[] {
  const specs: string[] = [];
  for (const p of s.processes) for (let n = 0; n < p.steps.length; n++) specs.push(`kill:${p.name}@${n}`, `kill:${p.name}@${n}+`);
  return specs;
}

/** The sweep's whole work list, the same in every shard: one seed (and fault specs) per run. */
export function explorePlans(o: Pick<ExploreOptions, 'scenario' | 'base' | 'runs' | 'faultSpecs' | 'everyKill'>): Array<{ seed: number; specs: string[] }> {
  return o.everyKill
    ? everyKillSpec(o.scenario).map((k) => ({ seed: o.base.seed, specs: [...o.faultSpecs, k] }))
    : Array.from({ length: o.runs }, (_, i) => ({ seed: (o.base.seed + i) % 2 ** 31, specs: o.faultSpecs }));
}

/** The result of a sweep's runs (all of them, a shard's, or the shards' merged), in work-list order. */
export function summarizeExplore(runs: ExploreRun[], planned: number, shrunk?: ShrinkResult, stopped?: StopSignal): ExploreResult {
  const sorted = [...runs].sort((a, b) => a.index - b.index);
  const counts: Record<string, number> = {};
  for (const r of sorted) counts[r.outcome] = (counts[r.outcome] ?? 0) + 1;
  return {
    runs: sorted, counts, failing: sorted.filter((r) => r.outcome !== 'ok'), historiesChecked: sorted.length,
    kills: sorted.reduce((n, r) => n + r.kills, 0), pauses: sorted.reduce((n, r) => n + r.pauses, 0), planned,
    ...(shrunk ? { shrunk } : {}), ...(stopped ? { interrupted: stopped } : {}),
  };
}

export async function explore(o: ExploreOptions): Promise<ExploreResult> {
  if (!o.session) return withSession((session) => explore({ ...o, session }));
  const session = o.session;
  const runs: ExploreRun[] = [];
  const plans = explorePlans(o).map((plan, index) => ({ ...plan, index })).filter((p) => !o.shard || inShard(p.index, o.shard));
  const strict = o.strict ?? false;
  let first: { config: RunConfig; faults: Fault[]; history: HistoryEvent[]; broken: string[] } | undefined;
  for (const [i, plan] of plans.entries()) {
    // Stopped (SIGINT/SIGTERM): the runs that ended are the result; a stopped run says nothing about the kernel.
    if (interrupted()) break;
    const config = { ...o.base, seed: plan.seed };
    const faults = plan.specs.map((f) => parseFault(f, o.scenario));
    const chooser = o.choices ? replayChooser(o.choices) : schedulerChooser(o.scheduler, plan.seed, o.scenario);
    // One line for the run (the stop line's, and the run's record's): choices as --choices takes them.
    const repro = reproduce(o.file, config, faults, o.choices && choiceTokens(o.choices, o.scenario.processes.map((p) => p.name)), o.scheduler, o.timeoutMs);
    const { report, history } = await runScenario(o.scenario, config, { faults, checkModel: true, chooser, timeoutMs: o.timeoutMs, phases: o.phases, session, repro });
    if (report.interrupted) break;
    const j = judge(report, history, faults.length > 0, strict);
    o.phases?.mark('checks (history check)');
    if (o.checkDeterminism && config.schedule === 'lockstep') {
      const again = await runScenario(o.scenario, config, { faults, chooser: o.choices ? replayChooser(o.choices) : schedulerChooser(o.scheduler, plan.seed, o.scenario), session });
      if (again.report.interrupted) break;
      if (JSON.stringify(again.report.steps) !== JSON.stringify(report.steps)) { j.broken.push('determinism'); j.outcome = `broken: ${j.broken.join(', ')}`; }
    }
    runs.push({
      index: plan.index, seed: plan.seed, faults: plan.specs, outcome: j.outcome, broken: j.broken, violations: j.violations,
      repro,
      kills: history.filter((e) => e.kind === 'fault' && String(e.as).startsWith('kill')).length,
      pauses: history.filter((e) => e.kind === 'fault' && String(e.as).startsWith('pause')).length,
    });
    if (j.outcome !== 'ok' && !first) first = { config, faults, history, broken: j.broken };
    o.progress?.(i + 1, plans.length);
  }
  const result = summarizeExplore(runs, plans.length, undefined, interrupted());
  const stopped = interrupted();
  if (first && !stopped && (o.shrink ?? true) && o.base.schedule === 'lockstep') {
    result.shrunk = await shrink({ file: o.file, scenario: o.scenario, config: first.config, faults: first.faults, history: first.history,
      broken: first.broken, strict, withFaults: first.faults.length > 0, session });
    // A shrink stopped half-way has not shrunk anything.
    const late = interrupted();
    if (late) { result.interrupted = late; delete result.shrunk; }
  }
  return result;
}

/** The table `vrange explore` prints (and `vrange merge` of its shards): outcomes, failures with their commands, the shrunk first failure. */
export function formatExplore(result: ExploreResult, seconds: number): string[] {
  const out = ['outcome                                   runs'];
  for (const [outcome, n] of Object.entries(result.counts)) out.push(`${outcome.padEnd(42)}${n}`);
  out.push(`faults injected: ${result.kills} kill(s), ${result.pauses} pause(s); ${result.historiesChecked} histories checked in ${seconds.toFixed(1)} s`);
  for (const r of result.failing) {
    out.push(`FAILED seed ${r.seed} (${r.outcome}): ${r.repro}`);
    for (const v of r.violations.slice(0, 3)) out.push(`    ${v}`);
  }
  const sh = result.shrunk;
  if (sh && sh.reproduced) {
    out.push(`shrunk the first failure in ${sh.runs} run(s): ${sh.before.faults.length} fault(s) injected -> ${sh.after.faults.length} [${sh.after.faults.join(' ')}], `
      + `${sh.before.choices} schedule choices -> ${sh.after.choices.length}; still broken: ${sh.broken.join(', ')}`, `  ${sh.repro}`);
  } else if (sh) {
    out.push(`could not shrink the first failure: its fixed replay did not fail again (${sh.runs} run); reproduce it with the seed above`);
  }
  return out;
}
