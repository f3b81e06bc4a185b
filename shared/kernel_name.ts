// The kernel's own names beside the scenario's process names (docs/semantics.md, Names).
//
// A process may be named `kernel` or `commit` (names are [A-Za-z][A-Za-z0-9_-]*), so those words
// alone cannot tell the kernel list from a process:
//   - inside a run, the scheduler names the kernel's actions KERNEL_ACTION and COMMIT_ACTION
//     (`@kernel`, `@commit`: no process name holds an `@`);
//   - a step record and a history event of the kernel list keep `process: "kernel"` (the contract's
//     JSON and the history's readers) and also carry `kernel: true`; isKernelStep tells them apart;
//   - the reference model's sessions (model/model.ts, the schedule search of `explore --all` and
//     `vrange play`) name them the same way, and its step records carry the same mark;
//   - a `schedule` event, `--choices`, a replay line and an outcome line (`kernel#1 reclaim -> ...`)
//     name the kernel's actions and list `kernel`/`commit`, or `@kernel`/`@commit` when a process
//     takes the bare word (choiceToken, parseChoiceToken, ownerLabel).

import type { KernelStep, ProcessStep, Scenario } from './scenario-types.js';

export const KERNEL_ACTION = '@kernel';
export const COMMIT_ACTION = '@commit';

/** The kernel list's name in step records and history events. */
export const KERNEL_NAME = 'kernel';

/** The history format version a new `boot` event carries (docs/history-format.md, Names). */
export const HISTORY_FORMAT = 2;

/** A step record or event of the kernel list (not of a process that may be named `kernel`). */
export function isKernelStep(x: { process?: unknown; kernel?: unknown }): boolean {
  return x.kernel === true;
}

/** The `kernel: true` mark of a kernel-list record, spread into it (nothing for a process). */
export const kernelMark = (kernel: boolean): { kernel?: true } => (kernel ? { kernel: true } : {});

/** Is this scheduler action one of the kernel's (`@kernel`, `@commit`)? */
export const isKernelAction = (action: string): boolean => action === KERNEL_ACTION || action === COMMIT_ACTION;

/**
 * A scheduler action as a `schedule` event and `--choices` write it: a process's name; `kernel` or
 * `commit` for the kernel's actions, or `@kernel`/`@commit` when a process takes that word.
 */
export function choiceToken(action: string, processNames: readonly string[]): string {
  if (!isKernelAction(action)) return action;
  const bare = action.slice(1);
  return processNames.includes(bare) ? action : bare;
}

/** Scheduler actions as `--choices`, a replay line and a JSON witness write them (choiceToken of each). */
export function choiceTokens(actions: readonly string[], processNames: readonly string[]): string[] {
  return actions.map((a) => choiceToken(a, processNames));
}

/**
 * A `--choices` word (or a goal's `process`) as a scheduler action: `@kernel`/`@commit` always name
 * the kernel's; the bare words name them only when no process has that name. Undefined when the
 * word names nothing.
 */
export function parseChoiceToken(token: string, processNames: readonly string[]): string | undefined {
  if (isKernelAction(token)) return token;
  if (processNames.includes(token)) return token;
  if (token === 'kernel' || token === 'commit') return `@${token}`;
  return undefined;
}

/** The scheduler action a `schedule` event names (a history before format 2 has no `kernel` mark). */
export function scheduleAction(e: { choice?: unknown; kernel?: unknown }): string {
  const choice = String(e.choice);
  if (e.kernel === true) return choice.startsWith('@') ? choice : `@${choice}`;
  return choice;
}

/** Any `[A-Za-z]...` name is an own key of this map only if put there (no prototype keys). */
export const hasOwn = (o: object, key: string): boolean => Object.prototype.hasOwnProperty.call(o, key);

/**
 * A step's owner as an outcome line (`explore --all`'s classes, `vrange play`) names it: the
 * process's name, or `kernel` for the kernel list's (`@kernel` when a process takes that word).
 */
export function ownerLabel(x: { process: string; kernel?: unknown }, processNames: readonly string[]): string {
  return x.kernel === true ? choiceToken(KERNEL_ACTION, processNames) : x.process;
}

/** A step's key, `process#index`, with the kernel list's as `@kernel#index` (never a process's). */
export function stepKey(x: { process: string; kernel?: unknown }, index: number): string {
  return `${x.kernel === true ? KERNEL_ACTION : x.process}#${index}`;
}

/** The scenario's step a record or event names (the kernel list's when it carries `kernel: true`). */
export function scenarioStep(s: Pick<Scenario, 'kernel' | 'processes'>, x: { process: string; kernel?: unknown }, index: number): ProcessStep | KernelStep | undefined {
  if (x.kernel === true) return s.kernel[index];
  return s.processes.find((p) => p.name === x.process)?.steps[index];
}
