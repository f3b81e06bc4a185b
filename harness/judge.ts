// What broke in one run, as explore and shrink judge it (a module of its own so that explore.ts,
// which calls shrink.ts, and shrink.ts, which judges its candidates alike, import no cycle).
//
// With faults, a process that others wait for may die, so a scenario's own expectations and its
// `no-deadlock` are not the kernel's to keep: the kernel is judged by every other invariant and the
// history checks, unless `strict` asks for the expectations too.

import { checkHistory } from '../checker/check.js';
import type { HistoryEvent } from '../coordinator/history.js';
import type { RunReport } from '../report/report.js';

const kernelInvariant = (name: string, withFaults: boolean, strict: boolean) => !(withFaults && !strict && name === 'no-deadlock');

/** What broke in one run: failed invariants, history check violations, and (when judged) expectations. */
export function judge(report: RunReport, history: HistoryEvent[], withFaults: boolean, strict: boolean):
  { broken: string[]; outcome: string; violations: string[] } {
  const broken = report.invariants.filter((x) => !x.ok && kernelInvariant(x.name, withFaults, strict)).map((x) => x.name);
  const check = checkHistory(history);
  for (const v of check.violations) if (!broken.includes(`check:${v.check}`)) broken.push(`check:${v.check}`);
  if ((strict || !withFaults) && report.failures.length + (strict ? report.notJudged.length : 0) > 0) broken.push('expectation');
  const outcome = broken.length === 0 ? 'ok'
    : broken.every((b) => b === 'expectation') ? 'expectation failed'
    : `broken: ${broken.filter((b) => b !== 'expectation').join(', ')}`;
  return { broken, outcome, violations: check.violations.map((v) => `${v.check}: ${v.text} (lines ${v.lines.join(', ')})`) };
}
