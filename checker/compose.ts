// Checkers composed as Jepsen's checker/compose composes them: a record of named checkers, each a
// function of the same input, run as one checker whose results come in the record's order (the
// order the report lists them in). A checker that throws is a bug in the checker, not a verdict on
// the run: it is let through.

export interface CheckResult { name: string; ok: boolean; detail?: string }
/** A checker judges one thing; its result carries no name (compose gives it the checker's). */
export type Checker<V> = (view: V) => { ok: boolean; detail?: string };

export function compose<V>(checkers: Record<string, Checker<V>>): (view: V) => CheckResult[] {
  const named = Object.entries(checkers);
  return (view) => named.map(([name, check]) => {
    const r = check(view);
    return r.detail === undefined ? { name, ok: r.ok } : { name, ok: r.ok, detail: r.detail };
  });
}

/** A checker's result from the problems it found: ok when none; at most five told, then how many more. */
export function fromProblems(problems: readonly string[]): { ok: boolean; detail?: string } {
  return problems.length === 0 ? { ok: true }
    : { ok: false, detail: problems.slice(0, 5).join('; ') + (problems.length > 5 ? `; and ${problems.length - 5} more` : '') };
}
