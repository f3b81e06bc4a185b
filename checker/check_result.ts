// What the offline checker (checker/check.ts) finds: the names of its checks, a violation, the
// result of checking one history, and that result as lines for a terminal.

/**
 * The checks, in the order they are reported:
 *
 *   well-formed        no required event is missing, doubled or out of order (docs/history-format.md,
 *                      Required events): boot first, final then verdict last, each step of each
 *                      program invoked and completed in order, every death explained and cleaned up
 *   sigbus-on-purged   every SIGBUS hit a page that a purge took while it was volatile
 *   read-last-write    a read of a page not volatile since its last write returns that write
 *                      (a page never written reads "")
 *   purge-was-volatile every purge took a page that was volatile: in every mapper's mm (anonymous and
 *                      shmem pages, per-mm file pages) or in the file's own ranges
 *   purged-backed      every `purged: true` is backed by a purge of a page in that range while volatile
 *   purge-reported     every purge while volatile is reported by the next nonvolatile on that range
 *   dead-hold-nothing  after its cleanup, a process appears in no decision, notification or step, and
 *                      at the end it holds no frame, mapping or fd
 *   death-cleaned      every process that ended has exactly one cleanup
 *   no-frame-leak      at the end, frames add up; with every process gone only tmpfs page cache is used
 */
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
