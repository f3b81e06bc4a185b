// PCT, probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi and Nagarakatte, ASPLOS
// 2010), as a lockstep chooser (`--scheduler pct --depth D`): every thread (each process, and the
// kernel list, whose `commit` is its own) gets a random distinct priority from D to D+n-1; D-1
// change points are drawn at random among the run's first k scheduling decisions (k: the most
// actions the scenario's steps take); at each decision the enabled thread of highest priority runs,
// except that at the j-th change point the thread about to run first drops to priority D-j. A bug
// that needs D ordering constraints among n threads and k steps is found with probability at least
// 1/(n·k^(D-1)) per run, where a uniform random choice at every step falls off exponentially with
// the run's length. Everything is drawn from the seed's schedule stream: same seed, same run.

import type { Chooser } from '../coordinator/scheduler.js';
import type { Scenario } from '../shared/scenario-types.js';
import { Prng } from '../shared/prng.js';
import { isKernelAction, KERNEL_ACTION } from '../shared/kernel_name.js';

export type SchedulerSpec = { name: 'uniform' } | { name: 'pct'; depth: number };

export const SCHEDULERS = ['uniform', 'pct'] as const;
/** `--depth` when --scheduler pct is given without it (Coyote's and Shuttle's usual choice). */
export const pctDepthDefault = 3;

/** The thread an action belongs to: the kernel's actions (`@kernel`, `@commit`, in a real run and in the reference model) are the kernel's thread. */
const threadOf = (name: string) => (isKernelAction(name) ? KERNEL_ACTION : name);

/** The decisions a lockstep run of the scenario takes at most with no fault: one per step, and one more per reclaim (its commit). */
export function decisionsOf(s: Scenario): number {
  return s.processes.reduce((n, p) => n + p.steps.length, 0) + s.kernel.length + s.kernel.filter((k) => k.op === 'reclaim').length;
}

export interface PctChooser extends Chooser {
  readonly depth: number;
  /** Each thread's priority now (higher runs first). */
  readonly priorities: ReadonlyMap<string, number>;
  /** The decisions (1-based) at which the running thread's priority drops, ascending. */
  readonly changePoints: readonly number[];
  /** Decisions taken so far. */
  readonly decisions: number;
}

export function pctChooser(seed: number, depth: number, s: Scenario): PctChooser {
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`pct invariant: depth ${depth} is not a whole number >= 1`);
  const prng = new Prng(seed, 'schedule');
  const names = new Set(s.processes.map((p) => p.name));
  const threads = [...names, KERNEL_ACTION];
  // A random permutation (Fisher-Yates) of the priorities depth .. depth+n-1.
  const prios = threads.map((_, i) => depth + i);
  for (let i = prios.length - 1; i > 0; i--) { const j = prng.below(i + 1); [prios[i], prios[j]] = [prios[j]!, prios[i]!]; }
  const priorities = new Map(threads.map((t, i) => [t, prios[i]!]));
  // depth-1 distinct change points in 1..k (fewer when the run is shorter than that).
  const k = Math.max(1, decisionsOf(s));
  const points = new Set<number>();
  while (points.size < Math.min(depth - 1, k)) points.add(1 + prng.below(k));
  const changePoints = [...points].sort((a, b) => a - b);
  let decisions = 0;
  const best = (enabled: string[]) => {
    let at = 0;
    for (let i = 1; i < enabled.length; i++) if (priorities.get(threadOf(enabled[i]!))! > priorities.get(threadOf(enabled[at]!))!) at = i;
    return at;
  };
  return {
    depth, priorities, changePoints,
    get decisions() { return decisions; },
    choose(enabled: string[]): number {
      for (const e of enabled) if (!priorities.has(threadOf(e))) throw new Error(`pct invariant: ${e} is not a thread of the scenario`);
      decisions++;
      const j = changePoints.indexOf(decisions);
      if (j >= 0) priorities.set(threadOf(enabled[best(enabled)]!), depth - 1 - j);
      return best(enabled);
    },
  };
}

/** The chooser a scheduler gives a run with this seed: undefined for uniform (the kernel's own, coordinator/scheduler.ts prngChooser). */
export function schedulerChooser(spec: SchedulerSpec | undefined, seed: number, s: Scenario): Chooser | undefined {
  return spec?.name === 'pct' ? pctChooser(seed, spec.depth, s) : undefined;
}
