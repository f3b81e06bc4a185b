// The search of `explore --all` before issue 16, kept for the benchmark's "before" figure only
// (bench/search.bench.ts): every schedule enumerated and each prefix replayed from the start, then
// sleep sets over a static footprint by the step's kind. Copied from harness/enumerate.ts as it
// was; `actions` counts the model actions it applies.

import type { KernelStep, ProcessStep, RunConfig, Scenario } from '../shared/scenario-types.js';
import { modelSession } from '../model/model.js';
import { COMMIT_ACTION, KERNEL_ACTION } from '../shared/kernel_name.js';
import { outcomeOf, outcomeSteps } from '../harness/enumerate.js';

type Step = ProcessStep | KernelStep;

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
    if (name === COMMIT_ACTION || !step) return new Set(['*']);
    if (name === KERNEL_ACTION) {
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
export function legacyEnumerate(s: Scenario, config: RunConfig): { all: number; reduced: number; classes: number; reducedClasses: number; actions: number } {
  let actions = 0;
  const counts = outcomeSteps(s, config.policy);
  const foot = footprintFor(s, config);
  const classes = new Map<string, { schedules: number }>();
  let all = 0;

  // A session at the end of `prefix` (stateless search: replay from the start).
  const at = (prefix: string[]) => {
    const m = modelSession(s, config);
    for (const a of prefix) { m.apply(a); actions++; }
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
      actions++;
    }
    all++;
    const { key, results } = outcomeOf(m.finish().steps, counts);
    const c = classes.get(key);
    if (c) c.schedules++;
    else classes.set(key, { schedules: 1 });
    void results;
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
  return { all, reduced: reduced.length, classes: classes.size, reducedClasses: seen.size, actions };
}
