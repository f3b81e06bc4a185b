// A scenario's goals, once its shape has loaded (shared/scenario.ts holds their zod schema): each
// condition must name a process (or `kernel`), one of its steps by index or by label, and a
// partial result with only the fields that step's op can report, each of its type (the rules and
// the messages of `expect`). Each problem is one ScenarioError naming `goals[0].when[1]...`.

import type { z } from 'zod';
import { didYouMean } from './suggest.js';
import { formatPath, ScenarioError, type PathPart } from './scenario_error.js';
import type { GoalCondition, GoalSpec, KernelStep, ProcessStep, Scenario } from './scenario-types.js';

/** A goal as the schema gives it: a condition names its step by `step` (index) or `label`, not both. */
export interface RawGoal {
  name: string; title: string;
  when: Array<{ process: string; step?: number; label?: string; result: Record<string, unknown> }>;
}

/** What resolving needs from the loader (passed in, so the loader and this file do not import each other). */
export interface GoalDeps {
  partialResultSchema: (op: string) => z.ZodTypeAny;
  formatIssue: (issue: z.ZodIssue, data: unknown, file: string) => ScenarioError;
}

const listed = (names: Iterable<string>) => [...names].join(', ') || 'none';

function stepsOf(s: Scenario, process: string): readonly (ProcessStep | KernelStep)[] | undefined {
  if (process === 'kernel') return s.kernel;
  return s.processes.find((p) => p.name === process)?.steps;
}

/** The index a condition names: its `step`, or the one step of the process with its `label`. */
function indexOf(s: Scenario, c: RawGoal['when'][number], steps: readonly (ProcessStep | KernelStep)[], at: (f: PathPart) => string): number {
  const whose = c.process === 'kernel' ? 'the kernel' : `process ${c.process}`;
  if (c.step !== undefined) {
    if (c.step >= steps.length) {
      throw new ScenarioError(s.file, at('step'), `${whose} has ${steps.length} step${steps.length === 1 ? '' : 's'}`
        + `${steps.length ? ` (0 to ${steps.length - 1})` : ''}; got step ${c.step}`);
    }
    return c.step;
  }
  const labels = steps.flatMap((st) => (st.label === undefined ? [] : [st.label]));
  const found = steps.flatMap((st, i) => (st.label === c.label ? [i] : []));
  if (found.length === 0) {
    throw new ScenarioError(s.file, at('label'), `${whose} has no step labelled "${c.label}"; its labels: ${listed(new Set(labels))}${didYouMean(c.label, labels)}`);
  }
  if (found.length > 1) {
    throw new ScenarioError(s.file, at('label'), `label "${c.label}" names ${found.length} steps of ${whose} (${found.join(', ')}); give step: N instead`);
  }
  return found[0]!;
}

function checkNames(s: Scenario, goals: readonly RawGoal[]): void {
  const seen = new Map<string, number>();
  for (const [g, goal] of goals.entries()) {
    const earlier = seen.get(goal.name);
    if (earlier !== undefined) {
      throw new ScenarioError(s.file, formatPath(['goals', g, 'name']), `duplicate goal name "${goal.name}" (already goals[${earlier}]); goal names must be unique`);
    }
    seen.set(goal.name, g);
  }
}

/** The checked goals, each step reference resolved to its index; throws the first problem. */
export function resolveGoals(s: Scenario, goals: readonly RawGoal[], data: unknown, deps: GoalDeps): GoalSpec[] {
  checkNames(s, goals);
  const names = [...s.processes.map((p) => p.name), 'kernel'];
  if (s.processes.some((p) => p.name === 'kernel') && goals.some((g) => g.when.some((c) => c.process === 'kernel'))) {
    throw new ScenarioError(s.file, 'goals', 'a process is named "kernel", so `process: kernel` in a goal would name either it or the kernel\'s steps; rename the process');
  }
  return goals.map((goal, g) => ({
    name: goal.name, title: goal.title,
    when: goal.when.map((c, k): GoalCondition => {
      const path: PathPart[] = ['goals', g, 'when', k];
      const at = (f: PathPart) => formatPath([...path, f]);
      const steps = stepsOf(s, c.process);
      if (!steps) throw new ScenarioError(s.file, at('process'), `unknown process "${c.process}"; processes: ${listed(names)}${didYouMean(c.process, names)}`);
      const index = indexOf(s, c, steps, at);
      const step = steps[index]!;
      const parsed = deps.partialResultSchema(step.op).safeParse(c.result);
      if (!parsed.success) {
        const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]!;
        throw deps.formatIssue({ ...issue, path: [...path, 'result', ...issue.path] }, data, s.file);
      }
      const label = c.label ?? step.label;
      return { process: c.process, index, ...(label !== undefined ? { label } : {}), result: c.result };
    }),
  }));
}
