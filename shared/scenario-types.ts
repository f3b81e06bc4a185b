// The scenario format, version 1 (../shared/spec/scenario-format.md), as TypeScript types.
// The validator (shared/scenario.ts) turns a YAML/JSON document into these types or a
// ScenarioError naming the file, the path and what is allowed. Every later stage trusts them.

export const PAGE_SIZE = 4096;

/** The three proposals of the 2013 thread, and `madv-free`: what Linux merged (MADV_FREE, 4.5; docs/semantics.md). */
export type PolicyName = 'shared-file' | 'per-mm' | 'anon-only' | 'madv-free';
export const POLICIES: readonly PolicyName[] = ['shared-file', 'per-mm', 'anon-only', 'madv-free'];
export type AccessMode = 'sigbus' | 'zero';
export type PurgeUnit = 'range' | 'page';
export type FileKind = 'tmpfs' | 'ashmem';
export type Share = 'shared' | 'private';
export type Mode = 'volatile' | 'nonvolatile';
export type ProcessState = 'unborn' | 'running' | 'exited' | 'killed';

/** A partial result; `byPolicy` maps a policy name (or `default`) to a partial result. */
export interface Expectation {
  [field: string]: unknown;
  byPolicy?: Partial<Record<PolicyName | 'default', Record<string, unknown>>>;
}

interface StepBase { expect?: Expectation; label?: string }

export type ProcessStep =
  | (StepBase & { op: 'open'; file: string; fd?: string })
  | (StepBase & { op: 'close'; fd: string })
  | (StepBase & { op: 'mmap'; as: string; pages: number; fd?: string; offset?: number; share?: Share })
  | (StepBase & { op: 'munmap'; map: string; page?: number; pages?: number })
  /** `offset` (a byte offset in the page): a sub-page write of `value`'s bytes there (a file may name them `bytes`). */
  | (StepBase & { op: 'write'; map: string; page: number; value: string; offset?: number })
  | (StepBase & { op: 'read'; map: string; page: number })
  | (StepBase & { op: 'vrange'; map: string; page?: number; pages?: number; byteOffset?: number; byteLength?: number; mode: Mode })
  | (StepBase & { op: 'fvrange'; fd: string; page?: number; pages?: number; byteOffset?: number; byteLength?: number; mode: Mode })
  | (StepBase & { op: 'query'; map?: string; fd?: string; page: number; pages: number })
  | (StepBase & { op: 'fork'; child: string })
  | (StepBase & { op: 'exit'; code?: number })
  | (StepBase & { op: 'crash' })
  | (StepBase & { op: 'signal'; name: string })
  | (StepBase & { op: 'wait'; name: string })
  | (StepBase & { op: 'waitpid'; process: string });

export interface CheckFields {
  framesUsed?: number;
  framesFree?: number;
  processes?: Record<string, ProcessState>;
  files?: Record<string, { open?: number; mapped?: number; volatile?: Array<[number, number]> }>;
}

export type KernelStep =
  | (StepBase & { op: 'signal'; name: string })
  | (StepBase & { op: 'wait'; name: string })
  | (StepBase & { op: 'waitpid'; process: string })
  | (StepBase & { op: 'reclaim'; pages?: number; all?: boolean })
  | (StepBase & { op: 'kill'; process: string })
  | (StepBase & { op: 'check' } & CheckFields);

export type Step = ProcessStep | KernelStep;

export interface FileSpec { name: string; pages: number; kind: FileKind }

export interface ProcessSpec {
  name: string;
  forked: boolean;
  sigbus: 'handle' | 'kill';
  steps: ProcessStep[];
}

/**
 * One item of a goal's `when`: the step `index` of `process` (`kernel`: a kernel step) gives a
 * result that matches the partial result `result` (every field given equals the result's).
 * The loader resolves a `label` reference to its index and keeps the label.
 */
export interface GoalCondition { process: string; index: number; label?: string; result: Record<string, unknown> }

/** A named outcome (docs/scenario-format.md, Goals): reached by a run when every condition holds in it. */
export interface GoalSpec { name: string; title: string; when: GoalCondition[] }

export interface Scenario {
  /** Path of the file it was read from (for messages). */
  file: string;
  name: string;
  description: string;
  policy?: PolicyName;
  access?: AccessMode;
  purgeUnit?: PurgeUnit;
  memory: { frames: number };
  files: FileSpec[];
  /** In the order the file declares them: this order gives initial pids (2, 3, ...). */
  processes: ProcessSpec[];
  kernel: KernelStep[];
  /** Named outcomes (optional; absent or empty: none). */
  goals?: GoalSpec[];
}

/** The options a run uses once the CLI has overridden the scenario's defaults. */
export interface RunConfig {
  policy: PolicyName;
  access: AccessMode;
  purgeUnit: PurgeUnit;
  frames: number;
  seed: number;
  schedule: 'lockstep' | 'free';
}

/** A step result as the spec prints it: `{ ok, ... }`. */
export type StepResult = { ok: boolean; [field: string]: unknown };
