// `vrange run FILE --quiet`: the run in a dozen lines instead of a line per step. The seed and
// the configuration (the full report's header, without the description), the steps counted by op
// and by result, the purges and the deaths, the failures, and the verdict with the reproduce line
// on failure (the full report's last lines). Built from the report and the history only.

import type { HistoryEvent } from '../coordinator/history.js';
import type { StepResult } from '../shared/scenario-types.js';
import { printable } from '../shared/printable.js';
import { failureLine, reportProcessNames, verdictLines, type RunReport } from './report.js';
import { ownerLabel } from '../shared/kernel_name.js';

/** A result's class, as the summary counts it: `ok`, `EINVAL`, `SIGBUS`, `stuck`, `failed`. */
export function resultClass(r: StepResult): string {
  if (r.stuck) return 'stuck';
  if (r.ok) return 'ok';
  if (typeof r.errno === 'string') return r.errno;
  if (typeof r.signal === 'string') return r.signal;
  return 'failed';
}

/** Counts of steps by op, then by result class, in the order each op first completed. */
export function countsByOp(report: RunReport): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const s of report.steps) {
    const byResult = out.get(s.op) ?? new Map<string, number>();
    const c = resultClass(s.result);
    byResult.set(c, (byResult.get(c) ?? 0) + 1);
    out.set(s.op, byResult);
  }
  return out;
}

/** How many pages a `decision` event decides: one, or a run's count (`pages: [start, count]`). */
function decisionPages(e: HistoryEvent): number {
  const pages = (e as { pages?: unknown }).pages;
  return Array.isArray(pages) && typeof pages[1] === 'number' ? pages[1] : 1;
}

const n = (x: number) => x.toLocaleString('en');

export function summaryLines(report: RunReport, history: readonly HistoryEvent[], head: string[], repro: string): string[] {
  const lines = head.filter((l) => !l.startsWith('  ') && l !== '');
  const names = reportProcessNames(report);
  const per = new Map<string, number>(); // the kernel list's steps apart from a process named `kernel`'s
  for (const s of report.steps) { const who = ownerLabel(s, names); per.set(who, (per.get(who) ?? 0) + 1); }
  lines.push(`steps: ${n(report.steps.length)} (${[...per].map(([p, c]) => `${printable(p)} ${n(c)}`).join(', ')})`);
  const counts = countsByOp(report);
  const w = Math.max(0, ...[...counts.keys()].map((op) => op.length));
  for (const [op, byResult] of counts) {
    lines.push(`  ${op.padEnd(w)}  ${[...byResult].map(([c, k]) => `${n(k)} ${c}`).join(', ')}`);
  }
  let exchanges = 0, purgedDecided = 0, keptDecided = 0, freed = 0;
  for (const e of history) {
    if (e.kind === 'reclaim-commit') { exchanges++; freed += e.freed; }
    if (e.kind === 'decision') { if (e.purge) purgedDecided += decisionPages(e); else keptDecided += decisionPages(e); }
  }
  lines.push(`purges: ${n(report.kernel.purgedPages)} page(s) purged; ${n(exchanges)} reclaim exchange(s) freed ${n(freed)} frame(s); `
    + `decisions: ${n(purgedDecided)} page(s) purged, ${n(keptDecided)} kept`);
  const oom = new Map<string, string>();
  for (const e of history) if (e.kind === 'oom-kill') oom.set(e.process, `OOM-killed while ${e.faulting} faulted`);
  const deaths = report.kernel.processes.filter((p) => p.state === 'killed')
    .map((p) => `${printable(p.name)} ${oom.get(p.name) ?? `killed by ${p.signal ?? 'a signal'}${p.outside ? ' from outside vrange' : ''}`}`);
  lines.push(`deaths: ${deaths.length ? deaths.join(', ') : 'none'}`);
  const broken = report.invariants.filter((i) => !i.ok).map((i) => `invariant ${i.name}${i.detail ? `: ${i.detail}` : ''}`);
  const failed = [...report.failures.map((f) => `expectation: ${failureLine(f, names)}`), ...broken];
  lines.push(`failures: ${failed.length ? failed.length : 'none'}`);
  const shown = 20;
  for (const f of failed.slice(0, shown)) lines.push(`  ${f}`);
  if (failed.length > shown) lines.push(`  ${failed.length - shown} more (the full report or --json lists them all)`);
  lines.push(...verdictLines(report, repro));
  return lines;
}
