// The wire protocol between the kernel (coordinator) and the agents (emulated processes).
// Every message is a msgpack map; a frame holds one message, or an array of the messages of one
// batch (shared/transport.ts). Requests carry `id`; their reply carries `re` = that id.
// docs/protocol.md describes each message with an example.
//
// Direction agent -> kernel: hello, syscalls (Sys*), step notifications (done, blocked),
// replies to kernel commands (prepared, committed, ready, pong).
// Direction kernel -> agent: init, grant, prepare, commit, die, ping, and `ret` replies to syscalls.

// msgpackr/pack is the codec alone (under Node, msgpackr's index.js): the package's main entry
// adds its stream classes and tries its optional native string extractor (msgpackr-extract,
// found through node-gyp-build, detect-libc and child_process), about 30 ms of every agent's
// start-up for strings that decode the same either way (docs/performance.md, "Agent start-up").
import { Packr } from 'msgpackr/pack';
import type { Mode, ProcessStep, RunConfig, Share, StepResult } from './scenario-types.js';
import type { OneOf } from './one_of.js';

/** The part of an mm that crosses the socket at fork: the parent's, already copy-on-write. */
export interface MmSnapshot {
  vmas: VmaSnapshot[];
  ranges: unknown;            // RangeSet.toJSON()
  bindings: Record<string, Binding>;
}
export interface VmaSnapshot {
  start: number; pages: number; kind: VmaKind; fileId: number; offset: number;
  /**
   * The page-table entries that exist (touched pages only, never one per page of the VMA): `at[k]`
   * is the page index in the VMA of entry k, ascending; `frames[k]` its frame (-1 none) and
   * `flags[k]` its PTE flag bits (agents/mm.ts). Typed arrays cross the socket as their bytes (the
   * codec's `moreTypes`). Without `at` (an older, dense snapshot) entry k is page k.
   */
  at?: Float64Array;
  frames: Int32Array;
  flags: Uint8Array;
}
export type VmaKind = 'anon' | 'shmem' | 'file-shared' | 'file-private';
export type Binding = { kind: 'map'; addr: number; pages: number } | { kind: 'fd'; fd: number };

/**
 * What the kernel cannot see of an mm, for the page map of `--html` (sent only when `init`
 * asked for snapshots): the map bindings `[name, vpage, pages]`, the mm's volatile ranges as
 * `[start, pages]`, and the vpages purged while volatile and not marked non-volatile since.
 */
export interface MmView { maps: Array<[string, number, number]>; volatile: Array<[number, number]>; purged: number[] }

// ---- agent -> kernel ----
export type AgentMsg =
  /**
   * `host`: the machine's name, sent by remote agents (`vrange agent`); `token`: the one a keyless
   * loopback kernel printed (`vrange agent --token`). Every field of every message is checked
   * on arrival (shared/message_schemas.ts): a new field goes there too.
   */
  | { t: 'hello'; osPid: number; host?: string; token?: string; incarnation?: number }
  /** A remote agent's answer to `ping`, sent at once from its receive loop. */
  | { t: 'pong'; seq: number }
  | { t: 'ready'; re: number; mm?: MmView }
  | { t: 'start'; index: number }
  /** Free schedule: about to start step `index`, a step a fault names: waiting for `continue`. */
  | { t: 'at'; index: number }
  | { t: 'done'; index: number; result: StepResult; detail?: StepDetail; mm?: MmView }
  | { t: 'blocked'; index: number; xid: number }
  /** `runs`: [start, count, rangeId, markedAt] runs (shared/runs.ts) of the asked pages that are volatile in the mm (and now held). */
  | { t: 'prepared'; xid: number; runs: number[] }
  | { t: 'committed'; xid: number; violations: string[] }
  | SysCall;

/** What a step did, for the report and the invariant checks (never needed for the result). */
export interface StepDetail { span?: [number, number]; purgedPages?: number[]; exiting?: number; fatal?: string }


export type SysCall =
  | { t: 'open'; id: number; file: string }
  | { t: 'close'; id: number; fd: number }
  | { t: 'mmap'; id: number; addr: number; pages: number; fd: number; offset: number; share: Share }
  | { t: 'munmap'; id: number; start: number; pages: number }
  | { t: 'read'; id: number; vpage: number; frame: number }
  /** `offset`: a sub-page write of `value`'s bytes at that byte offset of the page (shared/page_bytes.ts). */
  | { t: 'write'; id: number; vpage: number; frame: number; cow: boolean; value: string; anon: boolean; offset?: number }
  | { t: 'fvrange'; id: number; fd: number; fileId: number; start: number; pages: number; mode: string; now: number; join?: true }
  | { t: 'fquery'; id: number; vpages: number[] }
  | { t: 'query-fd'; id: number; fd: number; start: number; pages: number }
  | { t: 'fork'; id: number; child: string; mm: MmSnapshot }
  | { t: 'signal'; id: number; name: string }
  | { t: 'wait'; id: number; name: string }
  | { t: 'waitpid'; id: number; process: string }
  | { t: 'crash'; id: number };

/**
 * A syscall's reply, per call (docs/protocol.md, Syscalls): what the kernel answers each one with.
 * A failure is `errno` (refused), `signal` (delivered to the caller: SIGSEGV, SIGBUS) or `stuck` (a
 * deadlock ended the run); `retry` when a frame the call named was purged from that very page
 * meanwhile (fault again). `crash` is never answered (the kernel kills the caller).
 */
export interface SysReplies {
  open: { fd: number } | Errno | Stuck;
  close: Done | Errno | Stuck;
  mmap: { fileId: number } | Errno | Stuck;
  munmap: Done | Stuck;
  read: { value: string } | Signalled | Retry | Errno | Stuck;
  write: { frame: number } | Signalled | Retry | Errno | Stuck;
  /** `purged` on a nonvolatile only. */
  fvrange: { bytes: number; purged?: boolean } | Errno | Stuck;
  /** One view per asked vpage, in order. */
  fquery: { pages: FilePageView[] } | Stuck;
  'query-fd': { pages: Array<FilePageView & { page: number }> } | Errno | Stuck;
  fork: { pid: number } | Errno | Stuck;
  signal: Done | Stuck;
  wait: Done | Stuck;
  /** `exitSignal`, not `signal`: a reply's `signal` is one delivered to the caller. */
  waitpid: { exitCode: number } | { exitSignal: string } | Stuck;
  crash: never;
}
type Done = Record<never, never>;
type Errno = { errno: string };
type Signalled = { signal: string };
type Retry = { retry: true };
type Stuck = { stuck: true };

type ReplyShape = SysReplies[keyof SysReplies];
/** The reply to a call `K` (the agent's `call` returns it; shared/one_of.ts: any field may be tested), e.g. `read`: `{value} | {signal} | {retry} | {errno} | {stuck}`. */
export type SysReply<K extends keyof SysReplies> = OneOf<SysReplies[K], ReplyShape>;
/** Any syscall's reply (without `t` and `re`): one of the shapes above. */
export type SysReplyFields = OneOf<ReplyShape>;
/**
 * A reply on the wire: `t`, `re` (the call's id), then its fields. The kernel builds one from the
 * fields with `Omit<SysRet, 't' | 're'>` (every field optional, none unknown).
 */
export type SysRet = { t: 'ret'; re: number } & SysReplyFields;

// ---- kernel -> agent ----
export type KernelMsg =
  | { t: 'init'; id: number; pid: number; name: string; steps: ProcessStep[]; sigbus: 'handle' | 'kill';
      config: RunConfig; mm?: MmSnapshot; snapshots?: boolean }
  | { t: 'grant'; index: number; now: number }
  /** Free schedule: run your steps from `startIndex` on, without grants. */
  | { t: 'go'; startIndex: number; stops: number[] }
  | { t: 'continue' }
  /** Lockstep: go on with step `index`, which waited on pages held by an exchange that has committed. */
  | { t: 'release'; index: number }
  /**
   * `runs`: the asked vpages as [start, count] runs (shared/runs.ts). madv-free only, `hold`: a second
   * round, "hold these pages too" (a mapper of a page another mapper reported lazyfree); answered by an empty `prepared`.
   */
  | { t: 'prepare'; xid: number; runs: number[]; hold?: true }
  /**
   * `runs`: the purged vpages as [start, count] runs. `last`: the final batch of this exchange's commit: release the pages still held.
   * madv-free only: `old`, the vpages the scan made old (folio_referenced clears the young bits); `unmark`, the vpages whose
   * lazyfree mark the kernel took back (a dirty mapper redirtied the page: folio_set_swapbacked).
   * `seen`: purged file pages of a shared mapping whose volatility this mm decides but which it did not hold (it
   * answered them not volatile, or was not asked): it marks purged those it has volatile now, and nothing else.
   */
  | { t: 'commit'; xid: number; runs: number[]; last: boolean; old?: number[]; unmark?: number[]; seen?: number[] }
  /** End the process: exit with `code`, or (remote agents, which the kernel cannot signal) kill yourself with `signal`. */
  | { t: 'die'; code?: number; signal?: NodeJS.Signals; reset?: number }
  /** Remote agents: the heartbeat. A kernel silent for `timeoutMs` is gone: the agent exits. */
  | { t: 'ping'; seq: number; timeoutMs: number }
  /** Remote agents: the kernel will not take this agent (a hello without the right token); it exits. */
  | { t: 'refused'; why: string }
  | SysRet;

/** The fields a file-backed page has in an fquery reply, one entry per asked vpage. */
export interface FilePageView { resident: boolean; volatile: boolean; purged: boolean }

// moreTypes: typed arrays (the frames and flags of a fork's mm snapshot) keep their type and cross
// as their bytes; without it msgpackr writes an Int32Array byte by byte, truncated.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: true });
export function encode(msg: AgentMsg | KernelMsg): Buffer { return packr.pack(msg); }
/** A batch of messages as one frame: a lone message as itself, several as an array (shared/transport.ts). */
export function encodeBatch(msgs: Array<AgentMsg | KernelMsg>): Buffer { return packr.pack(msgs.length === 1 ? msgs[0] : msgs); }
export function decode<T>(buf: Buffer): T { return packr.unpack(buf) as T; }
