// `vrange explore FILE --all`: one lockstep schedule per trace of a small scenario, grouped by
// outcome, found with the reference model (model/), which is sequential, in-process and can be
// cloned:
//   1. the search (dpor.ts): optimal DPOR with source sets and wakeup trees over the run-time
//      footprints of the model's actions (model/footprint.ts). Two schedules that differ only in
//      the order of independent actions are one trace, with one outcome; the search explores
//      exactly one schedule per trace. Each is then run on the real system (explore_all.ts).
//   2. optionally (`--count-schedules`), every schedule, counted by outcome: a depth-first count
//      over the model's states, memoized by the state's digest (two prefixes that reach the same
//      state have the same futures), so the count costs the number of distinct states, not of
//      schedules. The classes the search found must be the classes the count found.

import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { expectationFor } from '../checker/expectations.js';
import { modelSession, type ModelSession } from '../model/model.js';
import { dpor, TraceBound, type DporStats } from './dpor.js';

import { schedulesMaxCeiling, schedulesMaxDefault } from '../shared/limits.js';
import { choiceTokens, KERNEL_NAME, ownerLabel, stepKey } from '../shared/kernel_name.js';

export { schedulesMaxCeiling, schedulesMaxDefault };

export class TooManySchedules extends Error {
  constructor(readonly bound: number, readonly estimate: number, exact = false) {
    super(`the scenario has more than ${bound} lockstep schedules (${exact ? `${estimate.toLocaleString('en-US')}, counted by the model`
      : `about ${Math.round(estimate).toLocaleString('en-US')}, estimated from ${estimateProbes} random schedules`}); counting them needs --max-schedules ${Math.ceil(estimate * 1.2)}`
      + `${estimate * 1.2 > schedulesMaxCeiling ? ` (more than the ceiling, ${schedulesMaxCeiling}: make the scenario smaller)` : ''}, `
      + `or order more of its steps with signal/wait`);
  }
}

/** Random probes for the size estimate. */
export const estimateProbes = 2_000;

/**
 * Knuth's estimator of a tree's leaf count: follow random paths; each path's product of branching
 * factors is an unbiased estimate. Deterministic (a fixed xorshift), so the message is stable.
 */
export function estimateSchedules(s: Scenario, config: RunConfig, probes = estimateProbes): number {
  let x = 0x9e3779b9;
  const rand = (n: number) => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x % n; };
  let sum = 0;
  for (let i = 0; i < probes; i++) {
    const m = modelSession(s, config);
    let product = 1;
    for (;;) {
      const enabled = m.enabled();
      if (enabled.length === 0) break;
      product *= enabled.length;
      m.apply(enabled[rand(enabled.length)]!);
    }
    sum += product;
  }
  return sum / probes;
}

export interface OutcomeClass {
  key: string;
  /** The results that define it, `P#i op -> result`. */
  results: string[];
  /** Traces (one schedule each, found by the search) that reach it. */
  traces: number;
  /** With --count-schedules: every schedule (by the model) that reaches it. */
  schedules?: number;
  /** The first schedule found that reaches it (model order), as `--choices` takes it (shared/kernel_name.ts choiceTokens). */
  modelWitness: string[];
  /** With classes by expected steps: how many different results of every step its traces give (1: the steps left out never tell its traces apart). */
  variants?: number;
}

export interface Enumeration {
  /** With --count-schedules: every lockstep schedule, counted by the model. */
  all?: number;
  /** One schedule per trace (the search's), as lists of scheduler actions (`@kernel`, `@commit`): each one is a real run. */
  reduced: string[][];
  classes: OutcomeClass[];
  /** Outcome classes the search reached in the model (with a count: must be all the count found). */
  reducedClasses: number;
  /** With a count: outcome classes of every schedule. */
  allClasses?: number;
  /** The search's work: model actions applied, traces, sleep-set-blocked explorations (none). */
  stats: DporStats;
  /** With a count: distinct model states the count visited. */
  countedStates?: number;
}

/** What an outcome class is made of: `expected` (the default) the steps with an expectation (and kernel checks), or every step when none has one; `all` every step. */
export type ClassesBy = 'expected' | 'all';
export const CLASSES_BY: readonly ClassesBy[] = ['expected', 'all'];

/** A step record's owner: a process's name, or the kernel list's (`process: "kernel"`, `kernel: true`). */
type Owner = { process: string; kernel?: unknown };

/**
 * Which steps an outcome is made of (every step with an expectation, or every step when none has
 * one; `by: all`: every step), and how an outcome line names a step's owner: the process, or the
 * kernel list as `kernel` (`@kernel` when a process has that name: shared/kernel_name.ts ownerLabel).
 */
export interface OutcomeSteps {
  counts(x: Owner, index: number): boolean;
  owner(x: Owner): string;
}

export function outcomeSteps(s: Scenario, policy: string, by: ClassesBy = 'expected'): OutcomeSteps {
  const marked = new Set<string>();
  for (const p of s.processes) p.steps.forEach((st, i) => { if (expectationFor(st, policy)) marked.add(stepKey({ process: p.name }, i)); });
  s.kernel.forEach((st, i) => { if (expectationFor(st, policy) || st.op === 'check') marked.add(stepKey(KERNEL_STEP, i)); });
  const any = s.processes.some((p) => p.steps.some((st) => st.expect)) || s.kernel.some((st) => st.expect);
  const names = s.processes.map((p) => p.name);
  return {
    counts: (x, index) => by === 'all' || !any || marked.has(stepKey({ process: x.process, kernel: x.kernel }, index)),
    owner: (x) => ownerLabel(x, names),
  };
}

const KERNEL_STEP = { process: KERNEL_NAME, kernel: true } as const;

/** The steps an outcome class is not made of (`P#i op`, in scenario order): none with `by: all`, or when no step has an expectation. */
export function uncountedSteps(s: Scenario, policy: string, by: ClassesBy = 'expected'): string[] {
  const o = outcomeSteps(s, policy, by);
  const all: Array<Owner & { index: number; op: string }> = [...s.processes.flatMap((p) => p.steps.map((st, i) => ({ process: p.name, index: i, op: st.op }))),
    ...s.kernel.map((st, i) => ({ ...KERNEL_STEP, index: i, op: st.op }))];
  return all.filter((x) => !o.counts(x, x.index)).map((x) => `${o.owner(x)}#${x.index} ${x.op}`);
}

/** One line of an outcome class's `results` taken apart: `A#5 vrange -> {...}` is step `A#5 vrange` and its result. */
export function parseResultLine(line: string): { step: string; result: Record<string, unknown> } {
  const at = line.indexOf(' -> ');
  if (at < 0) throw new Error(`parseResultLine: not a result line: ${JSON.stringify(line)}`);
  return { step: line.slice(0, at), result: JSON.parse(line.slice(at + 4)) as Record<string, unknown> };
}

/** An outcome: its counted steps' results as lines, `P#i op -> result`, sorted; the key is the lines joined. */
export function outcomeOf(steps: ReadonlyArray<Owner & { index: number; op: string; result: Record<string, unknown> }>,
  o: OutcomeSteps): { key: string; results: string[] } {
  const results = steps.filter((x) => o.counts(x, x.index))
    .map((x) => `${o.owner(x)}#${x.index} ${x.op} -> ${JSON.stringify(x.result)}`)
    .sort();
  return { key: results.join('\n'), results };
}

/** How far the search goes on past --max-schedules to name the number of traces needed. */
export const tracesRecountMax = 100_000;

export class TooManyTraces extends Error {
  constructor(readonly bound: number, readonly traces: number | undefined, searched: number) {
    super(`the scenario has ${traces !== undefined ? `${traces.toLocaleString('en-US')}` : `more than ${searched.toLocaleString('en-US')}`} traces `
      + `(distinct orders of its dependent steps; each is a real run), more than ${bound}; `
      + (traces !== undefined ? `give --max-schedules ${traces}, ` : '') + `or order more of its steps with signal/wait`);
  }
}

/**
 * The search: one schedule per trace (optimal DPOR over the model), grouped by outcome. Throws
 * TooManyTraces beyond `max` (having counted them, up to the ceiling, for the message). With
 * `count`, also every schedule by outcome (TooManySchedules beyond `max`).
 */
export function enumerate(s: Scenario, config: RunConfig, max = schedulesMaxDefault, count = false, by: ClassesBy = 'expected'): Enumeration {
  const counts = outcomeSteps(s, config.policy, by);
  const every = outcomeSteps(s, config.policy, 'all');
  const names = s.processes.map((p) => p.name);
  const partial = uncountedSteps(s, config.policy, by).length > 0;
  const classes = new Map<string, OutcomeClass>();
  const variants = new Map<string, Set<string>>();
  const reduced: string[][] = [];
  let stats: DporStats;
  try {
    stats = dpor(modelSession(s, config), ({ choices, session }) => {
      reduced.push(choices);
      const steps = session.finish().steps;
      const { key, results } = outcomeOf(steps, counts);
      const c = classes.get(key);
      if (c) c.traces++;
      else classes.set(key, { key, results, traces: 1, modelWitness: choiceTokens(choices, names) });
      if (partial) {
        const seen = variants.get(key) ?? new Set<string>();
        seen.add(outcomeOf(steps, every).key);
        variants.set(key, seen);
        classes.get(key)!.variants = seen.size;
      }
    }, max);
  } catch (e) {
    if (!(e instanceof TraceBound)) throw e;
    // The message names the number needed when the search, continued a while, finds it.
    const further = Math.min(schedulesMaxCeiling, 10 * max, tracesRecountMax);
    let traces: number | undefined;
    try { traces = dpor(modelSession(s, config), () => {}, further).traces; } catch (x) { if (!(x instanceof TraceBound)) throw x; }
    throw new TooManyTraces(max, traces, further);
  }
  const out: Enumeration = { reduced, classes: [...classes.values()], reducedClasses: classes.size, stats };
  if (!count) return out;
  const all = countSchedules(s, config, max, by);
  for (const c of out.classes) c.schedules = all.classes.get(c.key)?.schedules ?? 0;
  for (const [key, c] of all.classes) if (!classes.has(key)) out.classes.push({ ...c, traces: 0 });
  return { ...out, all: all.all, allClasses: all.classes.size, countedStates: all.states };
}

/** Every schedule from the model's start, by outcome; memoized by state digest. */
export function countSchedules(s: Scenario, config: RunConfig, max = schedulesMaxDefault, by: ClassesBy = 'expected'):
  { all: number; states: number; classes: Map<string, { key: string; results: string[]; schedules: number; modelWitness: string[] }> } {
  const counts = outcomeSteps(s, config.policy, by);
  type Tally = Map<string, { n: number; results: string[]; suffix: string[] }>;
  const memo = new Map<string, Tally>();
  const visit = (m: ModelSession): Tally => {
    const d = m.digest();
    const seen = memo.get(d);
    if (seen) return seen;
    const tally: Tally = new Map();
    const enabled = m.enabled();
    if (enabled.length === 0) {
      const { key, results } = outcomeOf(m.clone().finish().steps, counts);
      tally.set(key, { n: 1, results, suffix: [] });
    }
    for (const a of enabled) {
      const next = m.clone();
      next.apply(a);
      for (const [key, t] of visit(next)) {
        const mine = tally.get(key);
        if (mine) mine.n += t.n;
        else tally.set(key, { n: t.n, results: t.results, suffix: [a, ...t.suffix] });
      }
    }
    memo.set(d, tally);
    if (memo.size > max) throw new TooManySchedules(max, Math.max(max + 1, estimateSchedules(s, config)));
    return tally;
  };
  const root = visit(modelSession(s, config));
  const names = s.processes.map((p) => p.name);
  const classes = new Map([...root].map(([key, t]) => [key, { key, results: t.results, schedules: t.n, modelWitness: choiceTokens(t.suffix, names) }]));
  const all = [...root.values()].reduce((n, t) => n + t.n, 0);
  if (all > max) throw new TooManySchedules(max, all, true);
  return { all, states: memo.size, classes };
}
