// The outcome classes of a scenario, as `explore --all` finds them (harness/enumerate.ts: optimal
// DPOR over the reference model), computed in a worker thread so the game answers at once while
// the model searches. Numbered as `explore --all` numbers them (most traces first).

import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { enumerate, type OutcomeClass } from '../harness/enumerate.js';
import { differingSteps } from '../harness/explain_classes.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

export type ClassesState =
  | { state: 'computing' }
  | { state: 'ready'; classes: Array<Pick<OutcomeClass, 'key' | 'results' | 'traces'> & { summary: string }> }
  | { state: 'failed'; why: string };

/** The classes in explore --all's order (harness/explore_all.ts assembleAll, without a count). */
export function orderClasses<T extends { traces: number }>(classes: T[]): T[] {
  return [...classes].sort((a, b) => b.traces - a.traces);
}

/**
 * Starts the search in a worker; `state()` says where it is. `stop()` ends the worker. `holdMs`
 * (VRANGE_PLAY_CLASSES_HOLD_MS, for the tests of the page's wait) keeps the answer back until that
 * long after the start.
 */
export function startClasses(scenario: Scenario, config: RunConfig, max: number, holdMs = 0): { state: () => ClassesState; ready: Promise<void>; stop: () => Promise<void> } {
  let now: ClassesState = { state: 'computing' };
  let answer: ClassesState | undefined;
  let settle!: () => void;
  const ready = new Promise<void>((resolve) => (settle = resolve));
  let held = holdMs > 0;
  const hold = held ? setTimeout(() => { held = false; if (answer) { now = answer; settle(); } }, holdMs) : undefined;
  hold?.unref();
  const got = (m: ClassesState) => {
    if (answer) return;
    answer = m;
    if (!held) { now = m; settle(); }
  };
  const w = new Worker(new URL(import.meta.url), { workerData: { playClasses: true, scenario, config, max } });
  w.on('message', (m: ClassesState) => got(m));
  w.on('error', (e) => got({ state: 'failed', why: e.message }));
  w.on('exit', () => got({ state: 'failed', why: 'the search stopped' }));
  w.unref();
  return { state: () => now, ready, stop: async () => { clearTimeout(hold); await w.terminate(); } };
}

/** What sets class i apart: the steps whose results differ between the classes (harness/explain_classes.ts), else all its results. */
export function summaryOf(classes: ReadonlyArray<{ results: readonly string[] }>, i: number): string {
  const rows = differingSteps(classes);
  return rows.length ? rows.map((r) => `${r.step} ${r.cells[i]}`).join('; ') : classes[i]!.results.join('; ');
}

if (!isMainThread && parentPort && (workerData as { playClasses?: boolean } | undefined)?.playClasses === true) {
  const { scenario, config, max } = workerData as { scenario: Scenario; config: RunConfig; max: number };
  let out: ClassesState;
  try {
    const e = enumerate(scenario, config, max);
    const classes = orderClasses(e.classes);
    out = { state: 'ready', classes: classes.map((c, i) => ({ key: c.key, results: c.results, traces: c.traces, summary: summaryOf(classes, i) })) };
  } catch (e) {
    out = { state: 'failed', why: (e as Error).message };
  }
  parentPort.postMessage(out);
}
