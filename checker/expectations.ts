// Expectations: the checker that judges each completed step against its `expect` (and a kernel
// `check` step against the state the kernel observed). It is an observer the harness installs on
// the kernel (coordinator/hooks.ts): the kernel records the step, this records the failure and
// adds the `expectation-failed` event right after the step's `complete`.

import type { Expectation, KernelStep, StepResult } from '../shared/scenario-types.js';
import type { CompletedStep, KernelHooks, KernelObserver, ObservedState } from '../coordinator/hooks.js';
import type { History } from '../coordinator/history.js';

/**
 * An expectation that did not hold: the step gave `actual`; or the step never ran (`ran: false`,
 * no `actual`; `why` says how far its process got), see report/report.ts neverRan.
 */
export interface Failure { process: string; index: number; expected: Record<string, unknown>; actual?: StepResult; ran?: false; why?: string; kernel?: true }

export function expectationFor(step: { expect?: Expectation }, policy: string): Record<string, unknown> | undefined {
  if (!step.expect) return undefined;
  const { byPolicy, ...base } = step.expect;
  const extra = byPolicy ? ((byPolicy as Record<string, Record<string, unknown>>)[policy] ?? byPolicy.default ?? {}) : {};
  return { ...base, ...extra };
}

export function matches(expected: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([k, v]) => deepEqual(v, actual[k]));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** A kernel `check` step against the observed state: each field it names must be what the kernel holds. */
export function checkObserved(step: Extract<KernelStep, { op: 'check' }>, o: ObservedState): StepResult {
  const mismatches: Array<{ field: string; expected: unknown; actual: unknown }> = [];
  const cmp = (field: string, expected: unknown, actual: unknown) => {
    if (expected !== undefined && JSON.stringify(expected) !== JSON.stringify(actual)) mismatches.push({ field, expected, actual });
  };
  cmp('framesUsed', step.framesUsed, o.framesUsed);
  cmp('framesFree', step.framesFree, o.framesFree);
  for (const [name, state] of Object.entries(step.processes ?? {})) cmp(`processes.${name}`, state, o.processes.get(name));
  for (const [name, want] of Object.entries(step.files ?? {})) {
    const s = o.files.get(name)!;
    cmp(`files.${name}.open`, want.open, s.open);
    cmp(`files.${name}.mapped`, want.mapped, s.mapped);
    cmp(`files.${name}.volatile`, want.volatile, s.volatile);
  }
  return mismatches.length === 0 ? { ok: true } : { ok: false, mismatches };
}

/** The expectation checker of one run: install `hooks` on the kernel, read `failures` after. */
export class Expectations implements KernelObserver {
  readonly failures: Failure[] = [];

  constructor(private readonly policy: string) {}

  stepCompleted(s: CompletedStep, history: History): void {
    // A `check` is an assertion: without an `expect` of its own it is expected to hold.
    const expected = expectationFor(s.step, this.policy) ?? (s.step.op === 'check' ? { ok: true } : undefined);
    if (expected && !matches(expected, s.result)) {
      const mark = s.kernel ? { kernel: true as const } : {};
      this.failures.push({ process: s.process, index: s.index, expected, actual: s.result, ...mark });
      history.add('expectation-failed', { process: s.process, index: s.index, expected, actual: s.result, ...mark });
    }
  }

  /** The hooks that judge a run: this observer and the `check` step's comparison. */
  get hooks(): Pick<KernelHooks, 'observers' | 'check'> { return { observers: [this], check: checkObserved }; }
}
