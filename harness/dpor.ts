// Optimal dynamic partial-order reduction over the reference model (model/): source sets and
// wakeup trees, Abdulla, Aronis, Jonsson and Sagonas (POPL 2014, JACM 2017), Algorithm 2. It
// explores exactly one schedule per Mazurkiewicz trace of the scenario's lockstep actions, where
// two actions are dependent when their run-time footprints (model/footprint.ts) do not commute, or
// they belong to one thread (a process, or the kernel list: its steps, and a reclaim's prepare and
// commit). The model is cloned at every step of the current schedule, so nothing is replayed from
// the start. docs/semantics.md ("The search of explore --all") says what is guaranteed and why.

import type { Footprint, ModelSession } from '../model/model.js';
import { commute } from '../model/model.js';
import { COMMIT_ACTION, KERNEL_ACTION } from '../shared/kernel_name.js';

/** The thread an action belongs to: `@commit` closes the kernel list's open reclaim, so it is `@kernel`'s (a process may be named `kernel` or `commit`). */
export const threadOf = (action: string) => (action === COMMIT_ACTION ? KERNEL_ACTION : action);

/** The action a thread would take now, if it is enabled. */
function actionOf(m: ModelSession, thread: string): string | undefined {
  const en = m.enabled();
  if (thread === KERNEL_ACTION) return en.includes(COMMIT_ACTION) ? COMMIT_ACTION : en.includes(KERNEL_ACTION) ? KERNEL_ACTION : undefined;
  return en.includes(thread) ? thread : undefined;
}

interface WuNode { children: Array<{ thread: string; node: WuNode }> }
interface Event { action: string; thread: string; fp: Footprint }

export interface DporLeaf { choices: string[]; session: ModelSession }

export interface DporStats {
  /** Model actions applied (the schedules explored and the races' reversals tried). */
  actions: number;
  traces: number;
  /** Explorations that ended with every enabled thread asleep (optimal DPOR: none). */
  blocked: number;
}

export class TraceBound extends Error {
  constructor(readonly bound: number) {
    super(`more than ${bound} traces`);
  }
}

/** Depth-first optimal DPOR from `root`; `leaf` is told each maximal schedule (one per trace) with the session at its end. */
export function dpor(root: ModelSession, leaf: (l: DporLeaf) => void, maxTraces: number): DporStats {
  return new Search(root, leaf, maxTraces).run();
}

class Search {
  private readonly stats: DporStats = { actions: 0, traces: 0, blocked: 0 };
  /** states[i]: the model after the first i events of the current schedule. */
  private readonly states: ModelSession[];
  private readonly events: Event[] = [];
  /** pred[j][i]: event i happens before event j. */
  private readonly pred: Uint8Array[] = [];
  private readonly sleep: Array<Set<string>> = [];
  private readonly wut: WuNode[] = [];

  constructor(root: ModelSession, private readonly leaf: (l: DporLeaf) => void, private readonly maxTraces: number) { this.states = [root]; }

  run(): DporStats {
    this.explore(0, new Set(), { children: [] });
    return this.stats;
  }

  private step(m: ModelSession, action: string): ModelSession { const c = m.clone(); c.apply(action); this.stats.actions++; return c; }

  /** Event `depth` of the schedule, with what happens before it (program order, dependence, transitively). */
  private push(depth: number, e: Event): void {
    this.events[depth] = e;
    const p = new Uint8Array(depth);
    for (let i = depth - 1; i >= 0; i--) {
      if (p[i]) continue;
      const ei = this.events[i]!;
      if (ei.thread === e.thread || !commute(ei.fp, e.fp)) { p[i] = 1; const q = this.pred[i]!; for (let k = 0; k < i; k++) if (q[k]) p[k] = 1; }
    }
    this.pred[depth] = p;
  }

  /** Simulates threads `v` from `m`: their footprints, or undefined if some thread is not enabled in turn. */
  private simulate(m: ModelSession, v: string[]): Sim | undefined {
    const fps: Footprint[] = [];
    const seen: ModelSession[] = [m];
    let s = m;
    for (const t of v) {
      const a = actionOf(s, t);
      if (a === undefined) return undefined;
      fps.push(s.footprint(a));
      s = this.step(s, a);
      seen.push(s);
    }
    return { fps, states: seen };
  }

  /** insert[E](v, wut(E)): follow the leftmost branch whose thread is a weak initial of what is left of v. */
  private insert(node: WuNode, m: ModelSession, v: string[]): void {
    for (;;) {
      if (v.length === 0) return;
      const sim = this.simulate(m, v);
      if (!sim) throw new Error(`dpor invariant: a sequence inserted at a wakeup tree node is not executable: ${v.join(',')}`);
      const c = node.children.find((ch) => weakInitial(m, v, sim, ch.thread));
      if (!c) {
        let chain: WuNode = { children: [] };
        for (let i = v.length - 1; i >= 1; i--) chain = { children: [{ thread: v[i]!, node: chain }] };
        node.children.push({ thread: v[0]!, node: chain });
        return;
      }
      if (c.node.children.length === 0) return; // a leaf already starts the same trace
      const at = v.indexOf(c.thread);
      v = at >= 0 ? [...v.slice(0, at), ...v.slice(at + 1)] : v;
      m = this.step(m, actionOf(m, c.thread)!);
      node = c.node;
    }
  }

  /** At a maximal schedule of n events: every race e ≲ e' that could be reversed gets its reversal into wut(pre(E, e)). */
  private races(n: number): void {
    const { events, pred } = this;
    for (let j = 1; j < n; j++) {
      const pj = pred[j]!;
      for (let i = j - 1; i >= 0; i--) {
        if (!pj[i] || events[i]!.thread === events[j]!.thread || commute(events[i]!.fp, events[j]!.fp)) continue;
        let direct = true;
        for (let k = i + 1; k < j && direct; k++) if (pred[k]![i] && pj[k]) direct = false;
        if (!direct) continue;
        const v: string[] = [];
        for (let k = i + 1; k < n; k++) if (!pred[k]![i]) v.push(events[k]!.thread);
        v.push(events[j]!.thread);
        const m = this.states[i]!;
        const sim = this.simulate(m, v);
        if (!sim) continue; // not reversible: e' cannot run before e
        if ([...this.sleep[i]!].some((q) => weakInitial(m, v, sim, q))) continue;
        this.insert(this.wut[i]!, m, v);
      }
    }
  }

  /** Explore(E, Sleep, WuT) of Algorithm 2, E being the first `depth` events. */
  private explore(depth: number, asleep: Set<string>, tree: WuNode): void {
    const m = this.states[depth]!;
    const enabled = m.enabled();
    if (enabled.length === 0) {
      if (++this.stats.traces > this.maxTraces) throw new TraceBound(this.maxTraces);
      this.races(depth);
      this.leaf({ choices: this.events.slice(0, depth).map((e) => e.action), session: m });
      return;
    }
    if (tree.children.length === 0) {
      const p = enabled.map(threadOf).find((t) => !asleep.has(t));
      if (p === undefined) { this.stats.blocked++; return; }
      tree = { children: [{ thread: p, node: { children: [] } }] };
    }
    this.wut[depth] = tree;
    const sleep = this.sleep[depth] = new Set(asleep);
    while (tree.children.length > 0) {
      const { thread, node } = tree.children.shift()!;
      const action = actionOf(m, thread);
      if (action === undefined) throw new Error(`dpor invariant: wakeup tree thread ${thread} is not enabled after ${this.events.slice(0, depth).map((e) => e.action).join(',')}`);
      const fp = m.footprint(action);
      const next = new Set<string>();
      for (const q of sleep) {
        const qa = actionOf(m, q);
        if (qa !== undefined && commute(m.footprint(qa), fp)) next.add(q);
      }
      this.push(depth, { action, thread, fp });
      this.states[depth + 1] = this.step(m, action);
      this.explore(depth + 1, next, node);
      sleep.add(thread);
    }
    this.states.length = depth + 1;
  }
}

interface Sim { fps: Footprint[]; states: ModelSession[] }

/** q ∈ WI[m](v): q's first action in v has no predecessor in v, or q is not in v and commutes with all of it. */
function weakInitial(m: ModelSession, v: string[], sim: Sim, q: string): boolean {
  const k = v.indexOf(q);
  if (k >= 0) {
    // A happens-before chain into v[k] ends with a direct dependence (no earlier action of q's thread: k is its first).
    for (let l = 0; l < k; l++) if (!commute(sim.fps[l]!, sim.fps[k]!)) return false;
    return true;
  }
  for (let l = 0; l < v.length; l++) {
    const a = actionOf(sim.states[l]!, q);
    if (a === undefined || !commute(sim.states[l]!.footprint(a), sim.fps[l]!)) return false;
  }
  return actionOf(m, q) !== undefined;
}
