// What the offline checker (checker/check.ts) finds: the names of its checks, a violation, the
// result of checking one history, and that result as lines for a terminal.

export type CheckName = 'well-formed' | 'sigbus-on-purged' | 'read-last-write' | 'purge-was-volatile' | 'purged-backed'
  | 'purge-reported' | 'dead-hold-nothing' | 'death-cleaned' | 'no-frame-leak';
export const CHECKS: readonly CheckName[] = ['well-formed', 'sigbus-on-purged', 'read-last-write', 'purge-was-volatile', 'purged-backed',
  'purge-reported', 'dead-hold-nothing', 'death-cleaned', 'no-frame-leak'];

export interface Violation { check: CheckName; text: string; lines: number[] }
export interface CheckResult {
  ok: boolean;
  events: number;
  violations: Violation[];
  /** How many times each check had something to check. */
  checked: Record<CheckName, number>;
  /**
   * The most state the checker held at once (after any event): `cells`, per-page records (a page
   * written, read, purged or otherwise looked at), and `intervals`, pieces of its interval sets
   * (volatile per mm and per file, taint). Marking or mapping a span adds intervals, not cells.
   */
  held: { cells: number; intervals: number };
}

/** Violations kept per run: a broken history can break on every line. */
export const violationsMax = 100;

/** The checker's findings as lines for a terminal. */
export function formatCheck(file: string, r: CheckResult): string[] {
  const counts = CHECKS.map((c) => `${c} ${r.checked[c]}`).join(', ');
  if (r.ok) return [`${file}: valid (${r.events} events; checked: ${counts})`];
  const out = [`${file}: INVALID: ${r.violations.length}${r.violations.length >= violationsMax ? '+' : ''} violation(s) in ${r.events} events`];
  for (const v of r.violations) out.push(`  ${v.check}: ${v.text} (line${v.lines.length === 1 ? '' : 's'} ${v.lines.join(', ')})`);
  out.push(`checked: ${counts}`);
  return out;
}
