// Goals: the named outcomes a scenario declares (`goals:`, docs/scenario-format.md, Goals), and
// which of them a run reached. A goal is reached by a run when every one of its conditions holds
// in that run: the condition's step ran and its result matches the condition's partial result
// (every field given equals the result's, as `expect` matches: checker/expectations.ts matches).
// A step that never ran (its process died first, or the run is not over yet) does not hold.
//
// API (stable; `vrange play` and `explore --all` use it):
//   interface Goal { name: string; title: string; when: GoalCondition[] }
//     GoalCondition (shared/scenario-types.ts): { process: string ('kernel' for a kernel step);
//     index: number (0-based, labels already resolved by the loader); label?: string;
//     result: Record<string, unknown> (a partial result) }
//   interface StepOutcome { process: string; index: number; result: Record<string, unknown>; kernel?: true }
//     what a run reports per step: the harness's StepRecord (coordinator/kernel.ts) and the
//     model's ModelStep (model/types.ts) are both one. A partial run (a prefix) is fine.
//   goalsOf(s: Scenario): Goal[]                              the scenario's goals ([] when none)
//   goalReached(goal: Goal, steps: readonly StepOutcome[]): boolean
//   goalsReached(s: Scenario, steps: readonly StepOutcome[]): string[]
//     the names of the goals reached, in the order the scenario declares them
//   goalProgress(s: Scenario, steps: readonly StepOutcome[]): GoalProgress[]
//     per goal, per condition: reached or not, and the step's actual result if it ran
//   conditionText(c: GoalCondition, s?: Scenario): string
//     a condition in words: `B #3 read gives {"signal":"SIGBUS"}` (with its label: `A #4 (unmark) vrange gives ...`)
//   goalRunLines(s: Scenario, steps: readonly StepOutcome[]): string[]
//     what `vrange run` prints: [] without goals, else `goals reached: sigbus (1 of 2; not reached: read-in-time)`

import { matches } from './expectations.js';
import type { GoalCondition, GoalSpec, Scenario } from '../shared/scenario-types.js';
import { KERNEL_NAME, stepKey } from '../shared/kernel_name.js';

export type { GoalCondition };

export type Goal = GoalSpec;

export interface StepOutcome { process: string; index: number; result: Record<string, unknown>; kernel?: true }

export interface ConditionProgress {
  condition: GoalCondition;
  /** The step ran and its result matches. */
  reached: boolean;
  /** The step's result, when it ran. */
  actual?: Record<string, unknown>;
}

export interface GoalProgress { goal: Goal; reached: boolean; conditions: ConditionProgress[] }

export function goalsOf(s: Scenario): Goal[] {
  return s.goals ?? [];
}

/**
 * A condition's step key: `process: kernel` names the kernel list (the loader refuses it in a goal
 * when a process takes that name, shared/scenario_goals.ts), keyed as its records are (stepKey).
 */
const conditionKey = (c: GoalCondition) => stepKey({ process: c.process, kernel: c.process === KERNEL_NAME }, c.index);

/** Each step's result by stepKey: the kernel list's records carry `kernel: true`, a process named `kernel`'s do not. */
function byStep(steps: readonly StepOutcome[]): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const st of steps) out.set(stepKey(st, st.index), st.result);
  return out;
}

function progressOf(goal: Goal, results: Map<string, Record<string, unknown>>): GoalProgress {
  const conditions = goal.when.map((condition): ConditionProgress => {
    const actual = results.get(conditionKey(condition));
    return { condition, reached: actual !== undefined && matches(condition.result, actual), ...(actual !== undefined ? { actual } : {}) };
  });
  return { goal, reached: conditions.every((c) => c.reached), conditions };
}

export function goalReached(goal: Goal, steps: readonly StepOutcome[]): boolean {
  return progressOf(goal, byStep(steps)).reached;
}

export function goalsReached(s: Scenario, steps: readonly StepOutcome[]): string[] {
  const results = byStep(steps);
  return goalsOf(s).filter((g) => progressOf(g, results).reached).map((g) => g.name);
}

export function goalProgress(s: Scenario, steps: readonly StepOutcome[]): GoalProgress[] {
  const results = byStep(steps);
  return goalsOf(s).map((g) => progressOf(g, results));
}

/** `B #3 read gives {"signal":"SIGBUS"}`; the op is named when the scenario is given. */
export function conditionText(c: GoalCondition, s?: Scenario): string {
  const steps = s ? (c.process === 'kernel' ? s.kernel : s.processes.find((p) => p.name === c.process)?.steps) : undefined;
  const op = steps?.[c.index]?.op;
  return `${c.process} #${c.index}${c.label !== undefined ? ` (${c.label})` : ''}${op ? ` ${op}` : ''} gives ${JSON.stringify(c.result)}`;
}

/** What `vrange run` prints of a run's goals: nothing when the scenario has none, else `goals reached: a (1 of 2; not reached: b)`. */
export function goalRunLines(s: Scenario, steps: readonly StepOutcome[]): string[] {
  const all = goalsOf(s);
  if (all.length === 0) return [];
  const reached = goalsReached(s, steps);
  const missed = all.map((g) => g.name).filter((n) => !reached.includes(n));
  return [`goals reached: ${reached.join(', ') || 'none'} (${reached.length} of ${all.length}${missed.length ? `; not reached: ${missed.join(', ')}` : ''})`];
}
