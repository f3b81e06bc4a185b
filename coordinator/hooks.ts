// The kernel's hook points: how the harness that runs, judges and draws a run reaches the kernel
// under test without living inside it (as Jepsen keeps the nemesis and the checkers apart from
// the system). The kernel records history and answers these hooks; it never judges.
//
// - FaultHooks: the named points where a fault plan (harness/faults.ts) may strike. Each is asked
//   at one place, in the one event loop, and the kernel itself carries the fault out and logs its
//   `fault` event: before a step (kill or pause), at a step's first message (kill), between an
//   exchange's prepare and its commit (kill one participant), and the steps a free-running agent
//   must stop at so that the plan can be asked.
// - KernelObserver: sees every history event as it is added, each completed step right after its
//   `complete` event (an expectation checker adds `expectation-failed` there), and the agents' mm
//   views (for page-map pictures). An observer may add events; it must not change kernel state.
// - check: the comparison of a kernel `check` step with the state the kernel observes.

import type { MmView } from '../shared/messages.js';
import type { KernelStep, ProcessState, ProcessStep, StepResult } from '../shared/scenario-types.js';
import type { History, HistoryEvent } from './history.js';
import type { Proc } from './process_table.js';

export type BeforeStepFault = { kill: string } | { pauseMs: number; spec: string } | undefined;

export interface FaultHooks {
  /** Before process `process` starts step `index`: kill it, pause it for some ms, or nothing. */
  beforeStep(process: string, index: number): BeforeStepFault;
  /** Step `index` of `process` has started: the fault spec that kills it at its first message, if any. */
  atFirstMessage(process: string, index: number): string | undefined;
  /** An exchange has its answers; `participants` are the live ones, by pid: the victim to kill now, if any. */
  betweenPrepareAndCommit(xid: number, participants: readonly string[]): { spec: string; victim: string } | undefined;
  /** Free schedule: the steps at which the agent must stop and ask (an `at` message) before going on. */
  stopsFor(process: string, steps: number): number[];
}

/** No faults: every hook answers "nothing". */
export const noFaults: FaultHooks = {
  beforeStep: () => undefined,
  atFirstMessage: () => undefined,
  betweenPrepareAndCommit: () => undefined,
  stopsFor: () => [],
};

export interface CompletedStep { process: string; index: number; step: ProcessStep | KernelStep; result: StepResult; cutOff: boolean; kernel?: true }

export interface KernelObserver {
  /** Each history event, as it is added (after KernelOptions.onEvent). */
  event?(e: HistoryEvent): void;
  /** A step completed: its `complete` event is the last one in `history` so far (events added here follow it). */
  stepCompleted?(s: CompletedStep, history: History): void;
  /** An agent's compact mm view (with `ready` and each `done`); asked of agents only when some observer has this. */
  mmView?(proc: Proc, view: MmView): void;
}

/** What a kernel `check` step compares: the state the kernel observes at that moment. */
export interface ObservedState {
  framesUsed: number;
  framesFree: number;
  /** The scenario's processes by name (a Map: a name such as `constructor` is no prototype key). */
  processes: Map<string, ProcessState>;
  /** Files by name (shmem hidden files excluded). */
  files: Map<string, { open: number; mapped: number; volatile: Array<[number, number]> }>;
}

export interface KernelHooks {
  faults?: FaultHooks;
  observers?: KernelObserver[];
  /** The `check` step's comparison (checker/expectations.ts checkObserved); without it a check step is a kernel error. */
  check?(step: Extract<KernelStep, { op: 'check' }>, observed: ObservedState): StepResult;
}
