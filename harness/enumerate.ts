// `vrange explore FILE --all`: every distinct lockstep schedule of a small scenario, grouped by
// outcome.
//
// Two enumerations of the same tree of choices (at each point: the enabled actions, as the
// lockstep scheduler lists them; a reclaim's prepare and commit are separate actions):
//   1. all of it, with the reference model (model/), which is sequential and in-process, so
//      counting every schedule and its outcome is cheap;
//   2. a reduced one, with sleep sets (Godefroid 1996): two actions of different processes whose
//      footprints are disjoint commute, so after exploring `a` then `b` from a state, the branch
//      that starts with `b` need not try `a` right after it. Every outcome (every Mazurkiewicz
//      trace) keeps at least one representative. Each reduced schedule is then run on the real
//      system (agents are OS processes, ZeroMQ) with that exact schedule, and the real outcome
//      classes are compared with the model's full set: the reduction must find every outcome.
//
// The footprint of an action (footprintFor()) is deliberately coarse: a reclaim's prepare and
// commit, a kernel kill or check touch everything; a fork, an exit, a crash and the last step of a
// process touch every file and shmem object, the marks and the frames (cleanup and i_mmap);
// vrange/fvrange volatile marks all touch one shared "marks" object (their relative age decides
// the purge order); with purgeUnit page every access touches the LRU; when the scenario could run
// out of frames every write touches "frames"; otherwise a step touches its own process and the
// file, shmem mapping or signal it names. Two actions are independent when their footprints are
// disjoint.

import type { KernelStep, ProcessStep, RunConfig, Scenario } from '../shared/scenario-types.js';
import { expectationFor } from '../checker/expectations.js';
import { modelSession } from '../model/model.js';

import { schedulesMaxCeiling, schedulesMaxDefault } from '../shared/limits.js';

export { schedulesMaxCeiling, schedulesMaxDefault };

export class TooManySchedules extends Error {
  constructor(readonly bound: number, readonly estimate: number) {
    super(`the scenario has more than ${bound} lockstep schedules (about ${Math.round(estimate).toLocaleString('en-US')}, estimated from `
      + `${estimateProbes} random schedules); enumerating them needs --max-schedules ${Math.ceil(estimate * 1.2)}`
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
  /** Schedules (all of them, by the model) that reach it. */
  schedules: number;
  /** The first schedule found that reaches it (model order). */
  modelWitness: string[];
}

export interface Enumeration {
  all: number;
  reduced: string[][];
  classes: OutcomeClass[];
  /** Outcome classes the reduced schedules reach in the model (must be all of them). */
  reducedClasses: number;
}

type Step = ProcessStep | KernelStep;

/** Which steps an outcome is made of: every step with an expectation, or every step when none has one. */
export function outcomeSteps(s: Scenario, policy: string): (process: string, index: number) => boolean {
  const marked = new Set<string>();
  for (const p of s.processes) p.steps.forEach((st, i) => { if (expectationFor(st, policy)) marked.add(`${p.name}#${i}`); });
  s.kernel.forEach((st, i) => { if (expectationFor(st, policy) || st.op === 'check') marked.add(`kernel#${i}`); });
  const any = s.processes.some((p) => p.steps.some((st) => st.expect)) || s.kernel.some((st) => st.expect);
  return (process, index) => !any || marked.has(`${process}#${index}`);
}

export function outcomeOf(steps: Array<{ process: string; index: number; op: string; result: Record<string, unknown> }>,
  counts: (process: string, index: number) => boolean): { key: string; results: string[] } {
  const results = steps.filter((x) => counts(x.process, x.index))
    .map((x) => `${x.process}#${x.index} ${x.op} -> ${JSON.stringify(x.result)}`)
    .sort();
  return { key: results.join('\n'), results };
}

/** What an action may touch. `*` is everything. */
export function footprintFor(s: Scenario, config: RunConfig): (name: string, step: Step | undefined) => Set<string> {
  const writes = s.processes.reduce((n, p) => n + p.steps.filter((x) => x.op === 'write').length, 0);
  const scarce = writes + s.files.reduce((n, f) => n + f.pages, 0) > config.frames;
  // Binding names to what they name, across every process (a child inherits its parent's names).
  const mapKind = new Map<string, Set<string>>();
  const fdFile = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, k: string, v: string) => { const x = m.get(k) ?? new Set(); x.add(v); m.set(k, x); };
  for (const p of s.processes) {
    for (const st of p.steps) {
      if (st.op === 'open') add(fdFile, st.fd ?? st.file, st.file);
      if (st.op === 'mmap') add(mapKind, st.as, st.fd !== undefined ? `fd:${st.fd}` : (st.share === 'shared' ? `shm:${st.as}` : 'anon'));
    }
  }
  const fileOfFd = (fd: string): string[] => {
    const files = fdFile.get(fd);
    return files && files.size > 0 ? [...files].map((f) => `file:${f}`) : ['*'];
  };
  const objectsOfMap = (map: string): string[] => {
    const kinds = mapKind.get(map);
    if (!kinds || kinds.size === 0) return ['*'];
    const out: string[] = [];
    for (const k of kinds) {
      if (k === 'anon') continue;
      if (k.startsWith('fd:')) out.push(...fileOfFd(k.slice(3)));
      else out.push(k);
    }
    return out;
  };
  const lastStep = new Map(s.processes.map((p) => [p.name, p.steps.length - 1]));
  const allFiles = s.files.map((f) => `file:${f.name}`);
  const allShm = [...new Set([...mapKind.values()].flatMap((k) => [...k].filter((x) => x.startsWith('shm:'))))];
  return (name, step) => {
    if (name === 'commit' || !step) return new Set(['*']);
    if (name === 'kernel') {
      const k = step as KernelStep;
      if (k.op === 'wait') return new Set(['kernel', `r:sig:${k.name}`]);
      if (k.op === 'signal') return new Set(['kernel', `sig:${k.name}`]);
      if (k.op === 'waitpid') return new Set(['kernel', `proc:${k.process}`]);
      return new Set(['*']); // reclaim, kill, check: they read or change everyone's memory
    }
    const own = `proc:${name}`;
    const out = new Set<string>([own]);
    const st = step as ProcessStep;
    const index = s.processes.find((p) => p.name === name)!.steps.indexOf(st);
    // Ending a process (its last step, exit, crash) runs its cleanup: it unmaps and closes what it
    // holds (final release of files, shmem, the COW sharing of its pages), and a waitpid sees it.
    // A fork copies its mappings (i_mmap counts) and takes the next pid.
    const ends = index === lastStep.get(name) || st.op === 'exit' || st.op === 'crash';
    if (ends || st.op === 'fork') {
      for (const o of [...allFiles, ...allShm]) out.add(o);
      out.add('marks');
      if (scarce) out.add('frames');
      if (st.op === 'fork') out.add('fork');
      if (st.op === 'crash' || st.op === 'exit' || st.op === 'fork') return out;
    }
    switch (st.op) {
      case 'signal': out.add(`sig:${st.name}`); break;
      case 'wait': out.add(`r:sig:${st.name}`); break; // waits only read a signal: two waits commute
      case 'waitpid': out.add(`proc:${st.process}`); break;
      case 'open': out.add(`file:${st.file}`); break;
      case 'close': case 'fvrange': fileOfFd(st.fd).forEach((o) => out.add(o)); break;
      case 'mmap': if (st.fd !== undefined) fileOfFd(st.fd).forEach((o) => out.add(o)); break;
      case 'query': (st.map !== undefined ? objectsOfMap(st.map) : fileOfFd(st.fd!)).forEach((o) => out.add(o)); break;
      case 'munmap': case 'read': case 'write': case 'vrange': objectsOfMap(st.map).forEach((o) => out.add(o)); break;
    }
    if ((st.op === 'vrange' || st.op === 'fvrange') && st.mode === 'volatile') out.add('marks');
    if (config.purgeUnit === 'page' && (st.op === 'read' || st.op === 'write')) out.add('lru');
    if (scarce && st.op === 'write') out.add('frames');
    return out;
  };
}

/** Disjoint footprints; `r:X` only reads X, so it conflicts with X but not with another `r:X`. */
export function independent(a: Set<string>, b: Set<string>): boolean {
  if (a.has('*') || b.has('*')) return false;
  for (const x of a) {
    if (x.startsWith('r:')) { if (b.has(x.slice(2))) return false; continue; }
    if (b.has(x) || b.has(`r:${x}`)) return false;
  }
  return true;
}

/**
 * Enumerates with the model: every schedule (counted, grouped by outcome), and the sleep-set
 * reduced ones (returned as choice lists). Throws TooManySchedules beyond `max`.
 */
export function enumerate(s: Scenario, config: RunConfig, max = schedulesMaxDefault): Enumeration {
  const counts = outcomeSteps(s, config.policy);
  const foot = footprintFor(s, config);
  const classes = new Map<string, OutcomeClass>();
  let all = 0;

  // A session at the end of `prefix` (stateless search: replay from the start).
  const at = (prefix: string[]) => {
    const m = modelSession(s, config);
    for (const a of prefix) m.apply(a);
    return m;
  };

  // 1. Every schedule. Depth-first, with an explicit stack of (prefix, untried choices).
  const stack: Array<{ prefix: string[] }> = [{ prefix: [] }];
  while (stack.length > 0) {
    const { prefix } = stack.pop()!;
    const m = at(prefix);
    let path = prefix;
    // Walk down the first choice, pushing the siblings.
    for (;;) {
      const enabled = m.enabled();
      if (enabled.length === 0) break;
      for (let i = enabled.length - 1; i >= 1; i--) stack.push({ prefix: [...path, enabled[i]!] });
      path = [...path, enabled[0]!];
      m.apply(enabled[0]!);
    }
    all++;
    if (all > max) throw new TooManySchedules(max, Math.max(max + 1, estimateSchedules(s, config)));
    const { key, results } = outcomeOf(m.finish().steps, counts);
    const c = classes.get(key);
    if (c) c.schedules++;
    else classes.set(key, { key, results, schedules: 1, modelWitness: path });
  }

  // 2. The reduced schedules: sleep sets over the same tree.
  const reduced: string[][] = [];
  const seen = new Set<string>();
  const explore = (prefix: string[], sleep: Array<{ name: string; fp: Set<string> }>) => {
    const m = at(prefix);
    const enabled = m.enabled();
    if (enabled.length === 0) {
      reduced.push(prefix);
      seen.add(outcomeOf(m.finish().steps, counts).key);
      return;
    }
    const done: Array<{ name: string; fp: Set<string> }> = [];
    for (const a of enabled) {
      if (sleep.some((z) => z.name === a)) continue;
      const fa = foot(a, m.nextStep(a));
      const next = [...sleep, ...done].filter((z) => independent(z.fp, fa));
      explore([...prefix, a], next);
      done.push({ name: a, fp: fa });
    }
  };
  explore([], []);
  return { all, reduced, classes: [...classes.values()], reducedClasses: seen.size };
}
