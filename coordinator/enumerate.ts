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
// The footprint of an action (see footprint()) is deliberately coarse: kernel actions, forks,
// exits and the last step of a process touch everything; vrange/fvrange volatile marks all touch
// one shared "marks" object (their relative age decides the purge order); with purgeUnit page every
// access touches the LRU; when the scenario could run out of frames every write touches "frames";
// otherwise a step touches its own process, the file, shmem mapping or signal it names.

import type { KernelStep, ProcessStep, RunConfig, Scenario } from '../shared/scenario-types.js';
import { expectationFor } from './kernel.js';
import { modelSession } from '../model/model.js';

/** Default bound on the schedules `--all` enumerates (`--max-schedules`). */
export const schedulesMaxDefault = 100_000;
/** Hard ceiling for `--max-schedules`. */
export const schedulesMaxCeiling = 10_000_000;

export class TooManySchedules extends Error {
  constructor(readonly bound: number, readonly atLeast: number) {
    super(`the scenario has more than ${bound} lockstep schedules (counted ${atLeast} before stopping); `
      + `make it smaller, or raise --max-schedules (at most ${schedulesMaxCeiling})`);
  }
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
  return (name, step) => {
    if (name === 'kernel' || name === 'commit' || !step) return new Set(['*']);
    const own = `proc:${name}`;
    const out = new Set<string>([own]);
    const st = step as ProcessStep;
    const index = s.processes.find((p) => p.name === name)!.steps.indexOf(st);
    if (index === lastStep.get(name)) return new Set(['*']); // it ends the process: cleanup, waitpid, final release
    switch (st.op) {
      case 'fork': case 'exit': case 'crash': return new Set(['*']);
      case 'signal': case 'wait': out.add(`sig:${st.name}`); break;
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

export function independent(a: Set<string>, b: Set<string>): boolean {
  if (a.has('*') || b.has('*')) return false;
  for (const x of a) if (b.has(x)) return false;
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
    if (all > max) throw new TooManySchedules(max, all);
    const { key, results } = outcomeOf(m.finish().steps as never, counts);
    const c = classes.get(key);
    if (c) c.schedules++;
    else classes.set(key, { key, results, schedules: 1, modelWitness: path });
  }

  // 2. The reduced schedules: sleep sets over the same tree.
  const reduced: string[][] = [];
  const explore = (prefix: string[], sleep: Array<{ name: string; fp: Set<string> }>) => {
    const m = at(prefix);
    const enabled = m.enabled();
    if (enabled.length === 0) { reduced.push(prefix); return; }
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
  return { all, reduced, classes: [...classes.values()] };
}
