// What a history holds, as types: one event type per `kind`, with the fields docs/history-format.md
// gives it (the zod schemas in history.ts check the same fields on reading a file; a compile-time
// check below keeps the two lists of kinds the same). `History.add` takes a kind and exactly its
// fields, so an event with a wrong or missing field does not compile. A reader narrows on `kind`:
// `if (e.kind === 'birth') e.parent` is `string | undefined`; on an event not narrowed, every field
// of every kind may be read and is `undefined` where that kind lacks it.

import type { AccessMode, PolicyName, PurgeUnit, Step, StepResult } from '../shared/scenario-types.js';
import type { OneOf } from '../shared/one_of.js';
import type { MapperVote } from '../shared/policy.js';
import type { AgentMsg, KernelMsg, StepDetail } from '../shared/messages.js';

type ProcessEnd = 'running' | 'exited' | 'killed';
/** A step as an `invoke` records it: one of the scenario's steps (narrow on `op`); any step field may be read. */
export type AnyStep = OneOf<Step>;

/** One mapper's vote in a `decision` (shared/policy.ts), naming the mapper and the vpage it maps the page at. */
export type DecisionVote = MapperVote & { process?: string; vpage?: number; dirty?: boolean; referenced?: boolean };
/**
 * A row of a `snapshot` (report/snapshot.ts): each page's state as a letter, `at` the touched pages
 * of a long row; or, in a `delta` snapshot, the row's `size` and the runs `[page, count, letter]`
 * that changed (`sparse`: a long row, page numbers of touched pages).
 */
export type SnapshotRow = { pages: string; at?: number[]; total?: number }
  | { size: number; set: Array<[number, number, string]>; sparse?: true };

/** Each kind's fields, beyond `seq`, `at` and `kind` (docs/history-format.md, the table). */
export interface EventFields {
  boot: {
    frames: number; files: Array<{ name: string; pages: number; kind: string }>; policy: PolicyName; access: AccessMode;
    purgeUnit: PurgeUnit; schedule: 'lockstep' | 'free'; seed: number;
    /** 2 since events of the kernel list carry `kernel: true` (absent before: docs/history-format.md, Names). */
    format?: 2;
  };
  birth: { process: string; pid: number; parent?: string; osPid: number; host?: string; agent?: string };
  'agent-connected': { agent: string; host: string; osPid: number };
  /** A refused CURVE peer names its address, key and mechanism; a refused hello, its routing id (`agent`). */
  'agent-refused': { why: string; address?: string; publicKey?: string; mechanism?: string; agent?: string };
  'heartbeat-lost': { agent: string; host: string; osPid: number; process?: string; pid?: number; silentMs: number; timeoutMs: number };
  efault: { process: string; pid: number; call: string; vpage?: number; frame?: number; fileId?: number; why: string };
  /** `kernel: true`: the choice is one of the kernel's actions (`kernel`/`commit`, or `@kernel`/`@commit`). */
  schedule: { choice: string; enabled: number; options?: string[]; clock: number; kernel?: true };
  /** `kernel: true` on the kernel list's events (shared/kernel_name.ts): a process may be named `kernel`. */
  invoke: { process: string; index: number; step: AnyStep; kernel?: true };
  complete: {
    process: string; index: number; op: string; type: 'ok' | 'fail' | 'info'; result: StepResult;
    /** The agent's StepDetail as its `done` brought it: `span`, `purgedPages` (documented), `exiting`, `fatal`. */
    detail?: StepDetail; label?: string; kernel?: true;
  };
  blocked: { process: string; index: number; xid: number };
  'reclaim-prepare': { xid: number; reason: string; want?: number | null; candidates: number; asked: Array<{ pid: number; pages: number }> };
  'no-answer': { xid: number; process: string; pages: number; timeoutMs: number };
  /** From a process's agent; or (`agent`, its routing id) from an agent with no process yet. */
  'bad-message': { process: string; pid: number; where: 'remote' | 'local'; t: unknown; why: string }
    | { agent: string; where: 'remote' | 'local'; t: unknown; why: string };
  'bad-answer': { xid: number; process: string; why: string };
  /** One run of pages decided together: `pages: [frame, count]` (docs/history-format.md, Decisions by run); absent in older histories (one page). */
  decision: {
    xid: number; reason: string; page: string; unit: string; purge: boolean; rule: string; why: string; frame?: number; pages?: [number, number];
    file?: string; filePage?: number; vpages?: Array<[number, number]>; pageKind: string; policy: string; votes: DecisionVote[];
  };
  /**
   * The pages of `process` a commit purged: `runs: [start, count, ...]` ascending (docs/history-format.md,
   * Notifications by run); older histories list every page in `vpages` instead.
   */
  'purge-notify': { xid: number; process: string; runs?: number[]; vpages?: number[]; seen?: number[] };
  'reclaim-commit': { xid: number; reason: string; freed: number; unitsTried: number; purged: string[] };
  'file-nonvolatile': { file: string; start: number; pages: number; purged: boolean; by: string };
  'oom-kill': { process: string; pid: number; resident: number; faulting: string; why: string };
  kill: { process: string; pid: number; by: string };
  fault: { fault: string; process: string; pid: number; step: number; as: string; action: string };
  resume: { process: string; pid: number };
  cleanup: {
    process: string; pid: number; state: ProcessEnd; exitCode?: number; signal?: string; framesFreed: number;
    pagesUnmapped: number; vmas: number; fdsClosed: number; filesReleased: string[]; interrupted?: number;
    /** Killed by a signal from outside vrange (a `kill -9` of its agent), not by the kernel or its own step. */
    outside?: true;
  };
  'final-release': { file: string; fileKind: string; framesFreed: number };
  stuck: { process: string; index: number; waitsFor: string; kernel?: true };
  /** A step's `expect` did not hold (`actual`); or, written after the run, the step never ran (`ran: false`, `why`). */
  'expectation-failed': { process: string; index: number; expected: unknown; actual: unknown; kernel?: true }
    | { process: string; index: number; expected: unknown; ran: false; why: string; kernel?: true };
  violation: { name: string; text: string };
  /** `msg`: a message as docs/protocol.md gives it (the kernel records only well-formed ones; reading a file, `vrange check` does not look inside). */
  message: { dir: 'send' | 'recv'; agent: string; msg: AgentMsg | KernelMsg };
  snapshot: {
    after: number; frames: { used: number; total: number };
    maps: Array<SnapshotRow & { process: string; name: string; kind: string; file?: string }>;
    files: Array<SnapshotRow & { file: string; kind: string }>;
    /** Delta snapshots: rows list only changes; `gone` the rows that ended. */
    delta?: true; gone?: Array<{ process: string; name: string } | { file: string }>;
  };
  final: {
    frames: { total: number; used: number; free: number; pageCache: number; mapped: number };
    files: Array<{ name: string; kind: string; cached: number; open: number }>;
    processes: Array<{ process: string; pid: number; state: ProcessEnd; resident: number; vmas: number; fds: number; steps: number }>;
    kernelSteps: number;
  };
  verdict: { ok: boolean; failures: number; invariants: Array<{ name: string; ok: boolean; detail?: string }>; interrupted?: string };
}

export type EventKind = keyof EventFields;

/** The event of one kind, as a history line holds it. */
export type EventOf<K extends EventKind> = { seq: number; at: number; kind: K } & EventFields[K];
type AnyEvent = { [K in EventKind]: EventOf<K> }[EventKind];

/** An event of a run's history: one of the kinds above, narrowed by `kind`. */
export type HistoryEvent = OneOf<AnyEvent>;
