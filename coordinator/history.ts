// The run's history: one event per step invocation and completion, per kernel decision and per
// death and cleanup, and (when a trace is asked for) every message between kernel and agents.
// `--trace FILE` writes it as JSON lines; the report and the invariant checks read it.

import { z } from 'zod';
import { filePagesMax, filesMax, framesMax, historyEventsMax, seedMax, stepsPerProcessMax, vpagesMax } from '../shared/limits.js';
import { HISTORY_FORMAT } from '../shared/kernel_name.js';
import { formatPath } from '../shared/scenario_error.js';
import { POLICIES, type PolicyName } from '../shared/scenario-types.js';
import { isRunList, pagesOf } from '../shared/runs.js';
import type { EventFields, EventKind, EventOf, HistoryEvent } from './history_events.js';

export type { AnyStep, DecisionVote, EventFields, EventKind, EventOf, HistoryEvent, SnapshotRow } from './history_events.js';

/**
 * The run of pages a `decision` event is about (docs/history-format.md, Decisions by run): its first
 * frame and how many pages. An event without `pages` (a history written before decisions by run)
 * is one page. Page k of the run is frame + k, filePage + k and each vote's vpage + k.
 */
export function decisionRun(e: { frame?: number; pages?: readonly [number, number] }): { frame: number; count: number } {
  if (e.pages) return { frame: e.pages[0], count: e.pages[1] };
  return { frame: e.frame ?? -1, count: 1 };
}

/**
 * The name of page k of a decision's run, as a one-page decision names its page
 * (`anonymous frame 5 (A@4096, B@4096)`, `f page 3 (frame 7)`); the event's own `page` for k = 0
 * of a one-page event.
 */
export function decisionPageName(e: { page: string; frame?: number; pages?: readonly [number, number]; file?: string; filePage?: number;
  votes: ReadonlyArray<{ pid: number; process?: string; vpage?: number }> }, k: number): string {
  const { frame, count } = decisionRun(e);
  if (count === 1 && k === 0) return e.page;
  if (e.file !== undefined) return `${e.file} page ${(e.filePage ?? 0) + k} (frame ${frame + k})`;
  return `anonymous frame ${frame + k} (${e.votes.map((v) => `${v.process ?? v.pid}@${((v.vpage ?? 0) + k) * 4096}`).join(', ')})`;
}

/**
 * Every page a `purge-notify` names: the pages of its `runs` (ascending), or, in a history written
 * before notifications by run, its `vpages` as listed (docs/history-format.md).
 */
export function purgeNotifyPages(e: { runs?: readonly number[]; vpages?: readonly number[] }): number[] {
  return e.runs ? pagesOf(e.runs) : [...(e.vpages ?? [])];
}

export class History {
  readonly events: HistoryEvent[] = [];
  /** performance.now() at the start, in milliseconds (a monotonic clock with sub-microsecond resolution). */
  private readonly t0 = performance.now();
  constructor(readonly keepMessages: boolean, private readonly onEvent?: (e: HistoryEvent) => void) {}

  /** Microseconds since the run started (the `at` of an event). */
  now(): number { return Math.floor((performance.now() - this.t0) * 1000); }

  /** An event of `kind` with exactly its fields (history_events.ts, EventFields). */
  add<K extends EventKind>(kind: K, fields: EventFields[K]): HistoryEvent {
    if ('kind' in fields || 'seq' in fields) throw new Error(`history: event ${kind} may not set kind or seq`);
    // The spread is an EventOf<K>; TypeScript cannot follow a generic spread into the union.
    return this.push({ seq: this.events.length, at: this.now(), kind, ...fields } as HistoryEvent);
  }

  /** A step's invocation (the commonest events have their own builders: no spread of fields). */
  invoke(process: string, index: number, step: EventFields['invoke']['step']): HistoryEvent {
    return this.push({ seq: this.events.length, at: this.now(), kind: 'invoke', process, index, step });
  }

  /** A step's completion; `detail` and `label` are left out when undefined (as JSON leaves them out). */
  complete(process: string, index: number, op: string, type: EventFields['complete']['type'], result: EventFields['complete']['result'],
    detail: unknown, label: string | undefined, kernel = false): HistoryEvent {
    const e: HistoryEvent = { seq: this.events.length, at: this.now(), kind: 'complete', process, index, op, type, result };
    if (kernel) e.kernel = true;
    // `detail` is the agent's StepDetail (shared/messages.ts) as its `done` brought it.
    if (detail !== undefined) e.detail = detail as EventFields['complete']['detail'];
    if (label !== undefined) e.label = label;
    return this.push(e);
  }

  private push(e: HistoryEvent): HistoryEvent {
    if (this.events.length >= historyEventsMax) throw new Error(`the run's history reached ${historyEventsMax.toLocaleString('en-US')} events, the most one run keeps (--trace and --html record every message too: without them a run keeps about a third as many events a step)`);
    this.events.push(e);
    this.onEvent?.(e);
    return e;
  }

  message(dir: 'send' | 'recv', agent: string, msg: EventFields['message']['msg']): void {
    // Four a step under --html or --trace: built here, without add()'s spread (the same fields, in the same order).
    if (this.keepMessages) this.push({ seq: this.events.length, at: this.now(), kind: 'message', dir, agent, msg });
  }

  toJsonLines(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }
}

// ---------------------------------------------------------------- the format, as schemas
//
// One zod schema per event kind, from docs/history-format.md. `vrange check` validates every line
// against them before checking anything: a line that fails is "not a history" (exit 2, with the line
// and what was expected there), never a crash of the checker. Documented fields are typed; fields the
// format does not name are kept and ignored (a newer vrange may add some).


/**
 * A whole number from `min` to `max` (a limit of shared/limits.ts, named in the message): every
 * number of a history is bounded, by the limit the scenario format sets where there is one (a
 * frame, a page, a step's index) and by Number.MAX_SAFE_INTEGER at most, so 1e308 is never a count.
 */
const whole = (min: number, max: number, limit?: string) => {
  const allowed = `a whole number from ${min} to ${max}${limit ? ` (${limit})` : ''}`;
  return z.number({ invalid_type_error: allowed, required_error: `missing (required: ${allowed})` }).int(allowed).min(min, allowed).max(max, allowed);
};
const SAFE = Number.MAX_SAFE_INTEGER;
const nat = whole(0, SAFE);
const int = whole(-SAFE, SAFE);
/** Milliseconds (a timeout, a silence): a number from 0 (finite: JSON's 1e400 reads as Infinity). */
const ms = z.number().finite().min(0).max(SAFE);
const frameNo = whole(0, framesMax - 1, 'framesMax');
const frameCount = whole(0, framesMax, 'framesMax');
const vpageNo = whole(0, vpagesMax - 1, 'vpagesMax');
const pageCount = whole(0, vpagesMax, 'vpagesMax');
const stepIndex = whole(0, stepsPerProcessMax - 1, 'stepsPerProcessMax');
const stepCount = whole(0, stepsPerProcessMax, 'stepsPerProcessMax');
const seq = whole(0, historyEventsMax - 1, 'historyEventsMax');
/** An OS pid, as an agent's hello gives it (shared/message_schemas.ts). */
const osPid = whole(0, 2 ** 32);
const name = z.string().min(1);
/** A process's exit code, as waitpid(2) gives it. */
const exitCode = whole(0, 255);
/** A field the format leaves untyped (any JSON value) but requires. */
const present = z.unknown().refine((v) => v !== undefined, 'missing (required: any JSON value)');
const str = z.string();
const ev = <K extends string, S extends z.ZodRawShape>(kind: K, shape: S) =>
  z.object({ seq, at: nat, kind: z.literal(kind), ...shape }).passthrough();

const failure = z.object({ ok: z.literal(false) }).passthrough().refine(
  (r) => typeof r.errno === 'string' || typeof r.signal === 'string' || r.stuck === true || Array.isArray(r.mismatches),
  'a failed result names errno (a string), signal (a string), stuck: true or mismatches (a list)');
const okWith = <S extends z.ZodRawShape>(shape: S) => z.object({ ok: z.literal(true), ...shape }).passthrough();
const plainOk = okWith({});
/** What a successful step of each op returns (shared/spec/scenario-format.md, Steps). */
export const SUCCESS: Record<string, z.ZodTypeAny> = {
  open: okWith({ fd: int }),
  close: plainOk,
  mmap: okWith({ addr: nat }),
  munmap: plainOk,
  write: plainOk,
  read: okWith({ value: str }),
  vrange: okWith({ bytes: nat, purged: z.boolean().optional() }),
  fvrange: okWith({ bytes: nat, purged: z.boolean().optional() }),
  query: okWith({ pages: z.array(z.object({ page: nat, resident: z.boolean(), volatile: z.boolean(), purged: z.boolean() }).passthrough()) }),
  fork: okWith({ pid: nat }),
  exit: plainOk,
  signal: plainOk,
  wait: plainOk,
  waitpid: okWith({ exitCode: exitCode.optional(), signal: str.optional() }).refine((r) => typeof r.exitCode === 'number' || typeof r.signal === 'string', 'a waitpid result has exitCode (a whole number) or signal (a string)'),
  reclaim: okWith({ freed: frameCount }),
  kill: plainOk,
  check: plainOk,
};
/** Ops whose step can never succeed (`crash` always reports SIGKILL). */
const NEVER_OK = new Set(['crash']);
export const STEP_OPS: readonly string[] = [...Object.keys(SUCCESS), ...NEVER_OK];

const complete = ev('complete', {
  process: name, index: stepIndex, op: z.enum(STEP_OPS as [string, ...string[]]), type: z.enum(['ok', 'fail', 'info']),
  result: z.record(z.unknown()).refine((r) => !Array.isArray(r), 'a result is an object, not a list'),
  detail: z.object({ span: z.tuple([pageCount, pageCount]).optional(), purgedPages: z.array(vpageNo).optional() }).passthrough().optional(),
  label: str.optional(), kernel: z.literal(true).optional(),
}).superRefine((e, ctx) => {
  const r = e.result as Record<string, unknown>;
  const at = (message: string) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['result'], message });
  if (typeof r.ok !== 'boolean') return at('a result has ok (true or false)');
  if (e.type === 'ok' && r.ok !== true) return at('type "ok" needs ok: true');
  if (e.type !== 'ok' && r.ok !== false) return at(`type "${e.type}" needs ok: false`);
  if (e.type === 'info' && r.signal !== 'SIGKILL') return at('type "info" (killed with the step in flight) needs signal: "SIGKILL"');
  for (const why of resultShapeErrors(e.op, r)) at(why);
});

/**
 * Why a step result (with its boolean `ok`) does not have the shape its op gives it (SUCCESS, or a
 * failure), one line per field: none when it does. `vrange check` reads a history's results with
 * it, and the kernel an agent's `done` (coordinator/syscall_entry.ts), so that no agent, however
 * forged, puts a result in the history that its own checker would refuse.
 */
export function resultShapeErrors(op: string, r: Record<string, unknown>): string[] {
  const shape = r.ok ? (NEVER_OK.has(op) ? undefined : SUCCESS[op]) : failure;
  if (!shape) return [`a ${op} step never succeeds`];
  const got = shape.safeParse(r);
  return got.success ? [] : got.error.issues.map((i) => `${op} result${i.path.length ? ` field ${i.path.join('.')}` : ''}: ${i.message}`);
}

const processState = z.enum(['running', 'exited', 'killed']);
export const EVENT_SCHEMAS = {
  boot: ev('boot', { frames: whole(1, framesMax, 'framesMax'), files: z.array(z.object({ name, pages: whole(0, filePagesMax, 'filePagesMax'), kind: name }).passthrough()).max(filesMax, `at most ${filesMax} files (filesMax)`),
    policy: z.enum(POLICIES as [PolicyName, ...PolicyName[]]), access: z.enum(['sigbus', 'zero']), purgeUnit: z.enum(['range', 'page']), schedule: z.enum(['lockstep', 'free']),
    seed: whole(0, seedMax, 'seedMax'), format: z.literal(HISTORY_FORMAT, { errorMap: () => ({ message: `${HISTORY_FORMAT}, the format this vrange writes and reads (or no format: an older history); a newer vrange wrote any other` }) }).optional() }),
  birth: ev('birth', { process: name, pid: nat, parent: name.optional(), osPid, host: str.optional(), agent: str.optional() }),
  'agent-connected': ev('agent-connected', { agent: str, host: str, osPid }),
  // A refusal names the peer by its address (and, from the ZAP handler, its CURVE key and mechanism) or by its routing id.
  'agent-refused': ev('agent-refused', { address: str.optional(), publicKey: str.optional(), mechanism: str.optional(), agent: str.optional(), why: str })
    .refine((e) => typeof e.address === 'string' || typeof e.agent === 'string', 'an agent-refused names the peer: address or agent (a string)'),
  'heartbeat-lost': ev('heartbeat-lost', { agent: str, host: str, osPid, process: name.optional(), pid: nat.optional(), silentMs: ms, timeoutMs: ms }),
  efault: ev('efault', { process: name, pid: nat, call: str, vpage: int.optional(), frame: int.optional(), fileId: int.optional(), why: str }),
  schedule: ev('schedule', { choice: name, enabled: nat, options: z.array(name).optional(), clock: nat, kernel: z.literal(true).optional() }),
  invoke: ev('invoke', { process: name, index: stepIndex, step: z.object({ op: z.enum(STEP_OPS as [string, ...string[]]) }).passthrough(), kernel: z.literal(true).optional() }),
  complete,
  blocked: ev('blocked', { process: name, index: stepIndex, xid: nat }),
  'reclaim-prepare': ev('reclaim-prepare', { xid: nat, reason: str, want: z.number().refine((v) => (Number.isSafeInteger(v) && v >= 0) || v === Infinity, 'a whole number from 0, or null (a reclaim of all: Infinity in memory, which JSON writes null)').nullable().optional(), candidates: nat, asked: z.array(z.object({ pid: nat, pages: nat }).passthrough()) }),
  'no-answer': ev('no-answer', { xid: nat, process: name, pages: nat, timeoutMs: ms }),
  // From a process's agent (process, pid), or from an agent with no process yet (agent, its routing id).
  'bad-message': ev('bad-message', { process: name.optional(), pid: nat.optional(), agent: str.optional(), t: present, why: str })
    .refine((e) => (typeof e.process === 'string' && typeof e.pid === 'number') || typeof e.agent === 'string', 'a bad-message names process and pid, or agent (a string)'),
  'bad-answer': ev('bad-answer', { xid: nat, process: name, why: str }),
  decision: ev('decision', { xid: nat, reason: str, page: str, unit: str, purge: z.boolean(), rule: str, why: str, frame: frameNo.optional(),
    pages: z.tuple([frameNo, whole(1, framesMax, 'framesMax')]).optional(),
    file: str.optional(), filePage: whole(0, filePagesMax - 1, 'filePagesMax').optional(), vpages: z.array(z.tuple([nat, vpageNo])).optional(), pageKind: str, policy: str,
    votes: z.array(z.object({ pid: nat, process: name.optional(), vpage: vpageNo.optional(), share: str.optional(), volatile: z.boolean().optional(),
      answered: z.boolean().optional(), privatePresent: z.boolean().optional(), dirty: z.boolean().optional(), referenced: z.boolean().optional() }).passthrough()) })
    .refine((e) => !e.pages || e.frame === undefined || e.pages[0] === e.frame, 'pages: [frame, count] starts at the decision\'s frame'),
  'purge-notify': ev('purge-notify', { xid: nat, process: name, vpages: z.array(vpageNo).optional(),
    runs: z.array(pageCount).refine((r) => isRunList(r, 2), 'runs: ascending, disjoint [start, count] pairs, each count at least 1').optional(),
    seen: z.array(pageCount).refine((r) => isRunList(r, 2) && r.length > 0, 'seen: ascending, disjoint [start, count] pairs, each count at least 1, at least one').optional() })
    .refine((e) => (e.runs === undefined) !== (e.vpages === undefined), 'a purge-notify names its pages as runs: [start, count, ...] (or, in older histories, vpages), one of the two'),
  'reclaim-commit': ev('reclaim-commit', { xid: nat, reason: str, freed: frameCount, unitsTried: nat, purged: z.array(str) }),
  'file-nonvolatile': ev('file-nonvolatile', { file: name, start: whole(0, filePagesMax, 'filePagesMax'), pages: whole(0, filePagesMax, 'filePagesMax'), purged: z.boolean(), by: name }),
  'oom-kill': ev('oom-kill', { process: name, pid: nat, resident: nat, faulting: name, why: str }),
  kill: ev('kill', { process: name, pid: nat, by: str }),
  fault: ev('fault', { fault: str, process: name, pid: nat, step: int, as: str, action: str }),
  resume: ev('resume', { process: name, pid: nat }),
  cleanup: ev('cleanup', { process: name, pid: nat, state: processState, exitCode: exitCode.optional(), signal: str.optional(), framesFreed: frameCount,
    pagesUnmapped: nat, vmas: nat, fdsClosed: nat, filesReleased: z.array(z.unknown()), interrupted: stepIndex.optional(), outside: z.literal(true).optional() }),
  'final-release': ev('final-release', { file: name, fileKind: str, framesFreed: frameCount }),
  stuck: ev('stuck', { process: name, index: stepIndex, waitsFor: str, kernel: z.literal(true).optional() }),
  'expectation-failed': ev('expectation-failed', { process: name, index: stepIndex, expected: present, actual: z.unknown(), kernel: z.literal(true).optional() }),
  violation: ev('violation', { name: str, text: str }),
  message: ev('message', { dir: z.enum(['send', 'recv']), agent: str, msg: present }),
  snapshot: ev('snapshot', { after: seq, frames: z.object({ used: frameCount, total: frameCount }).passthrough(), maps: z.array(z.object({}).passthrough()), files: z.array(z.object({}).passthrough()) }),
  final: ev('final', {
    frames: z.object({ total: frameCount, used: frameCount, free: frameCount, pageCache: nat, mapped: nat }).passthrough(),
    files: z.array(z.object({ name, kind: str, cached: nat, open: nat }).passthrough()),
    processes: z.array(z.object({ process: name, pid: nat, state: processState, resident: nat, vmas: nat, fds: nat, steps: stepCount }).passthrough()),
    kernelSteps: stepCount,
  }),
  verdict: ev('verdict', { ok: z.boolean(), failures: nat, invariants: z.array(z.object({ name: str, ok: z.boolean(), detail: str.optional() }).passthrough()) }),
} as const;
export const EVENT_KINDS = Object.keys(EVENT_SCHEMAS) as EventKind[];
// The schemas and the event types name the same kinds (a kind added to one only does not compile).
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never] ? true : never;
const sameKinds: SameKeys<typeof EVENT_SCHEMAS, EventFields> = true;
void sameKinds;

/** Why `e` is not an event of docs/history-format.md (one line), or undefined when it is one. */
export function eventProblem(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'an event is a JSON object with seq, at and kind';
  const kind = (e as { kind?: unknown }).kind;
  if (typeof kind !== 'string') return 'an event has "kind" (a string)';
  if (!Object.hasOwn(EVENT_SCHEMAS, kind)) return `unknown kind ${JSON.stringify(kind).slice(0, 40)}; allowed: ${EVENT_KINDS.join(', ')}`;
  const got = EVENT_SCHEMAS[kind as EventKind].safeParse(e);
  if (got.success) return undefined;
  // One line per field (zod may say the same twice: 1e400 is neither whole nor at most the bound); a
  // missing field says what it needs, as a wrong one does.
  const all = [...new Set(got.error.issues.map((i) => `${i.path.length ? formatPath(i.path) : 'the event'}: ${
    i.code === 'invalid_type' && i.received === 'undefined' && i.message === 'Required' ? `missing (required: ${i.expected})` : i.message}`))];
  return `a "${kind}" event (docs/history-format.md): ${all.slice(0, 3).join('; ')}${all.length > 3 ? `; and ${all.length - 3} more` : ''}`;
}

// Every event the types allow is one the schemas accept (so `vrange check` reads every history the
// kernel can write): a kind whose schema is stricter than its type does not compile. (`Known` drops
// the index signature `.passthrough()` adds, which an interface-typed field would not satisfy.)
type Known<T> = T extends readonly (infer U)[] ? Array<Known<U>>
  : T extends object ? { [K in keyof T as string extends K ? never : number extends K ? never : K]: Known<T[K]> } : T;
type Refused = { [K in EventKind]: EventOf<K> extends Known<z.input<(typeof EVENT_SCHEMAS)[K]>> ? never : K }[EventKind];
const accepted: [Refused] extends [never] ? true : { refused: Refused } = true;
void accepted;
