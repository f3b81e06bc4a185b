// Outcome classes that explain themselves (`explore --all`, and `vrange play` at the end of a game):
// the steps whose results tell the classes apart, side by side; the warning when a class is made of
// some steps only; which classes reach which goal; a witness with each reclaim exchange's prepare
// and commit as lines of their own. Pure functions of what the plan and the runs hold, so that a
// merge of shards (harness/shard.ts), which has no scenario, prints what the unsharded sweep does.

import type { HistoryEvent } from '../coordinator/history.js';
import type { StepRecord } from '../coordinator/kernel.js';
import { parseResultLine, type ClassesBy } from './enumerate.js';
import { printable, printableJson } from '../shared/printable.js';
import { isKernelStep, ownerLabel, stepKey } from '../shared/kernel_name.js';

/** One reclaim exchange of a witness run: where its prepare and its commit came among the steps. */
export interface WitnessExchange {
  xid: number;
  /** Why the kernel reclaimed (the history's `reason`: a reclaim step, or a fault's direct reclaim). */
  reason: string;
  /** The step granted last before the prepare (`kernel#1 reclaim`, or the faulting `B#3 write`), if any. */
  by?: string;
  /** Steps completed before the prepare, and before the commit (an index into the witness's steps). */
  prepared: number; committed?: number;
  /** Processes asked for their pages, and the pages asked for. */
  asked: number; pages: number;
  freed?: number;
  /** Steps granted while it was open that waited for it (`A#5 vrange`: a nonvolatile on pages the prepare holds), each with the steps completed then. */
  waited: Array<{ step: string; at: number }>;
}

/** Each exchange of a run's history, placed among its steps (each `complete` event is one step, in order). */
export function witnessExchanges(history: readonly HistoryEvent[]): WitnessExchange[] {
  const out = new Map<number, WitnessExchange>();
  const ops = new Map<string, string>();
  let completed = 0;
  let lastInvoke: string | undefined;
  // The kernel list is `kernel#i`, `@kernel#i` when a process of the run takes that name (as the classes' lines name it).
  const names = history.flatMap((e) => (e.kind === 'birth' ? [e.process] : []));
  for (const e of history) {
    if (e.kind === 'invoke') { lastInvoke = `${ownerLabel(e, names)}#${e.index} ${e.step.op}`; ops.set(stepKey(e, e.index), e.step.op); }
    else if (e.kind === 'complete') completed++;
    else if (e.kind === 'reclaim-prepare') {
      out.set(e.xid, { xid: e.xid, reason: e.reason, ...(lastInvoke ? { by: lastInvoke } : {}), prepared: completed,
        asked: e.asked.length, pages: e.asked.reduce((n, a) => n + a.pages, 0), waited: [] });
    } else if (e.kind === 'blocked') {
      const x = out.get(e.xid);
      if (x) x.waited.push({ step: `${e.process}#${e.index}${ops.has(stepKey(e, e.index)) ? ` ${ops.get(stepKey(e, e.index))}` : ''}`, at: completed });
    } else if (e.kind === 'reclaim-commit') {
      const x = out.get(e.xid);
      if (x) { x.committed = completed; x.freed = e.freed; }
    }
  }
  return [...out.values()];
}

/** A witness, step by step, each exchange's prepare and commit a line of its own at the place it came. */
export function witnessLines(steps: readonly StepRecord[], exchanges: readonly WitnessExchange[] = []): string[] {
  const out: string[] = [];
  // The kernel list's steps read `kernel`, or `@kernel` when a process of the witness takes that name.
  const names = steps.filter((st) => !isKernelStep(st)).map((st) => st.process);
  const pad = ' '.repeat(8);
  const at = (k: number) => {
    for (const x of exchanges) {
      if (x.prepared === k) out.push(`${pad}-- prepare exchange ${x.xid} (${x.reason}${x.by ? `, ${x.by}` : ''}): asks ${x.asked} process${x.asked === 1 ? '' : 'es'} for ${x.pages} page${x.pages === 1 ? '' : 's'}`);
      for (const w of x.waited) if (w.at === k) out.push(`${pad}-- ${w.step} granted: waits for exchange ${x.xid} (the prepare holds its pages)`);
      if (x.committed === k) out.push(`${pad}-- commit exchange ${x.xid}: freed ${x.freed ?? 0} frame${x.freed === 1 ? '' : 's'}`);
    }
  };
  steps.forEach((st, k) => {
    at(k);
    out.push(`    ${String(k + 1).padStart(2)}. ${ownerLabel(st, names).padEnd(8)} #${st.index} ${st.op} -> ${printableJson(st.result)}${st.label ? `   (${printable(st.label)})` : ''}`);
  });
  at(steps.length);
  return out;
}

/** A step whose result is not the same in every class: one cell per class (the fields that differ). */
export interface DifferingStep { step: string; cells: string[] }

const NOT_RUN = '(not run)';

/** The steps of the classes' results that tell them apart, in the order the classes list them; only the fields that differ. */
export function differingSteps(classes: ReadonlyArray<{ results: readonly string[] }>): DifferingStep[] {
  if (classes.length < 2) return [];
  const byClass = classes.map((c) => new Map(c.results.map((line) => { const r = parseResultLine(line); return [r.step, r.result]; })));
  const order: string[] = [];
  for (const m of byClass) for (const step of m.keys()) if (!order.includes(step)) order.push(step);
  const out: DifferingStep[] = [];
  for (const step of order) {
    const results = byClass.map((m) => m.get(step));
    const texts = results.map((r) => (r === undefined ? undefined : JSON.stringify(r)));
    if (texts.every((x) => x === texts[0])) continue;
    const ran = results.filter((r): r is Record<string, unknown> => r !== undefined);
    const keys = [...new Set(ran.flatMap((r) => Object.keys(r)))];
    let differ = keys.filter((k) => ran.some((r) => JSON.stringify(r[k]) !== JSON.stringify(ran[0]![k])));
    if (differ.length === 0) differ = keys; // the same wherever it ran: what differs is whether it ran
    const cells = results.map((r) => (r === undefined ? NOT_RUN
      : differ.filter((k) => k in r).map((k) => `${k}: ${printableJson(r[k])}`).join(', ') || '{}'));
    out.push({ step, cells });
  }
  return out;
}

const cellMax = 40;
const classesPerTable = 4;
const fit = (s: string, w: number) => (s.length > w ? `${s.slice(0, w - 1)}…` : s.padEnd(w));

/** The differing steps as a table: step, then one column per class (at most 4 columns a table; more classes, more tables). */
export function differingTable(rows: readonly DifferingStep[], classes: number): string[] {
  if (rows.length === 0) return [];
  const out: string[] = [];
  const stepWidth = Math.max(4, ...rows.map((r) => r.step.length));
  for (let from = 0; from < classes; from += classesPerTable) {
    const cols = Array.from({ length: Math.min(classesPerTable, classes - from) }, (_, i) => from + i);
    const widths = cols.map((c) => Math.min(cellMax, Math.max(`class ${c + 1}`.length, ...rows.map((r) => r.cells[c]!.length))));
    out.push(`  ${'step'.padEnd(stepWidth)}  ${cols.map((c, i) => fit(`class ${c + 1}`, widths[i]!)).join('  ')}`.trimEnd());
    for (const r of rows) out.push(`  ${r.step.padEnd(stepWidth)}  ${cols.map((c, i) => fit(r.cells[c]!, widths[i]!)).join('  ')}`.trimEnd());
  }
  return out;
}

/**
 * The warning when the classes are made of some steps only: which are left out, and whether they
 * tell the traces of a class apart (`variants`: the class's different results of every step, by the model).
 */
export function coverageWarnings(by: ClassesBy, uncounted: readonly string[], classes: ReadonlyArray<{ variants?: number }>): string[] {
  if (by === 'all' || uncounted.length === 0) return [];
  const named = uncounted.slice(0, 6).join(', ') + (uncounted.length > 6 ? ` and ${uncounted.length - 6} more` : '');
  const mixed = classes.flatMap((c, i) => ((c.variants ?? 1) > 1 ? [`class ${i + 1} (${c.variants})`] : []));
  const head = `the classes are made of the steps with an expect (and kernel checks) only; ${uncounted.length} step${uncounted.length === 1 ? ' is' : 's are'} not compared (${named})`;
  return [mixed.length
    ? `${head}, and the traces of ${mixed.join(', ')} differ there (their different results of every step in parentheses); --classes-by all makes classes of every step's result`
    : `${head}; in this scenario they give the same results in every trace of a class (--classes-by all compares them too)`];
}

/** A goal and the classes whose real runs reached it. */
export interface GoalReach {
  name: string; title: string;
  /** 1-based class numbers (the order printed), with the class's real runs that reached the goal and its real runs. */
  reachedBy: Array<{ class: number; runs: number; of: number }>;
}

export function goalReach(goals: ReadonlyArray<{ name: string; title: string }>, classes: ReadonlyArray<{ goals: Record<string, number>; realRuns: number }>): GoalReach[] {
  return goals.map((g) => ({ name: g.name, title: g.title,
    reachedBy: classes.flatMap((c, i) => ((c.goals[g.name] ?? 0) > 0 ? [{ class: i + 1, runs: c.goals[g.name]!, of: c.realRuns }] : [])) }));
}

/** `goal NAME: reached by class 1 (all 3 of its real runs), class 2 (1 of its 4 real runs)`, or `... reached by no outcome class`. */
export function goalLines(goals: readonly GoalReach[]): string[] {
  if (goals.length === 0) return [];
  const reached = goals.filter((g) => g.reachedBy.length > 0).length;
  return [`goals: ${goals.length}; reached by some outcome class: ${reached}`, ...goals.map((g) => {
    const title = g.title ? ` (${printable(g.title)})` : '';
    if (g.reachedBy.length === 0) return `  goal ${g.name}${title}: reached by no outcome class`;
    const by = g.reachedBy.map((r) => `class ${r.class} (${r.runs < r.of ? `${r.runs} of its ${r.of} real runs` : r.of === 1 ? 'its one real run' : `all ${r.of} of its real runs`})`);
    return `  goal ${g.name}${title}: reached by ${by.join(', ')}`;
  })];
}
