// The schemas of the messages an agent sends the kernel (AgentMsg in shared/messages.ts), one per
// message type, beside the types. The kernel checks every incoming message against its schema
// before anything reads it (coordinator/syscall_entry.ts): a message that fails is its sender's
// illegal act (docs/protocol.md, "Bad messages"), never a TypeError deep in a handler. Every field
// is checked: its type, its range (the limits of shared/limits.ts), and that no field is left
// over (objects are strict); a new field must be added here, or the kernel refuses the message.
//
// zod, as the scenario loader uses it (shared/scenario.ts). Arrays of numbers that can be long (a
// reply's runs, the vpages of an fquery, a fork's frames) are checked by one plain loop
// (`intArray`, `typedOrIntArray`) instead of a zod schema per element. This module is the
// kernel's only: agents do not load zod (their start-up is on the fork path).
//
// Speed: the kernel judges every message it receives, thousands a second (bench/kernel.bench.ts).
// zod's safeParse costs about a microsecond a message; so each schema is also compiled once, here,
// into a plain predicate (`compile`: the same checks, read off the zod schema, no copies, no error
// objects), which answers in tens of nanoseconds and is the judge. Only a message it refuses goes
// through zod, for the error message. test/messages.test.ts checks that the two agree on
// thousands of generated messages, valid and forged.
//
// The schemas also say what a well-formed message is to the tests (test/messages.test.ts makes
// messages, valid and forged, from them), so each custom check carries its bounds in `describe`.

import { z } from 'zod';
import { fdsPerProcessMax, nameLengthMax, queryPagesMax, valueBytesMax, vpagesMax } from './limits.js';
import { isRunList } from './runs.js';
import { RangeSet } from './rangeset.js';
import type { AgentMsg } from './messages.js';
import { PAGE_SIZE, type StepResult } from './scenario-types.js';

/** Names (files, processes, signals, map bindings) are at most this long, as in a scenario file. */
export { nameLengthMax };
/** A remote agent's host name (RFC 1035: 255). */
export const hostLengthMax = 255;
/** The token a keyless loopback kernel asks for (`vrange kernel` makes 32 hex digits). */
export const tokenLengthMax = 128;
/** Entries of a `committed` message's violations, and the length of each. */
export const violationsMax = 10_000;
export const violationLengthMax = 1_000;
/** Elements of a number array in one message (a run list, an fquery's vpages, a VMA's frames). */
export const arrayLengthMax = 2 ** 26;
/** VMAs in a fork's mm snapshot. */
export const vmasMax = 1_000_000;
/** Largest frame number (frames are counted by an Int32Array). */
export const frameMax = 2 ** 31 - 1;
/** Largest fd number a process can hold: fds are numbered from 3 up, at most fdsPerProcessMax of them. */
export const fdMax = 3 + fdsPerProcessMax;

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const nat = int(0, Number.MAX_SAFE_INTEGER);
const id = nat;
const vpage = int(0, vpagesMax - 1);
const pagesOrZero = int(0, vpagesMax);
const pagesAtLeastOne = int(1, vpagesMax);
const frame = int(-1, frameMax);
const fd = int(-1, fdMax);
const name = z.string().max(nameLengthMax);

/** Metadata the tests read back (test/messages.test.ts): what a custom check accepts. */
export type CustomMeta =
  | { intArray: { min: number; max: number; maxLength: number; stride?: number } }
  | { typedOrIntArray: { type: 'Int32Array' | 'Uint8Array' | 'Float64Array'; min: number; max: number } }
  | { rangeSet: true }
  | { plainResult: { fieldsMax: number; listMax: number; depthMax: number; stringMax: number } };

/** The check of each custom schema, for the compiled validators below. */
const customChecks = new WeakMap<z.ZodTypeAny, (x: unknown) => boolean>();

function custom<T>(meta: CustomMeta, check: (x: unknown) => boolean, message: string): z.ZodType<T> {
  const s = z.custom<T>(check, { message }).describe(JSON.stringify(meta));
  customChecks.set(s, check);
  return s;
}

/** An array of whole numbers from min to max, at most maxLength of them; with `stride`, a run list (shared/runs.ts). */
export function intArray(min: number, max: number, maxLength = arrayLengthMax, stride?: number): z.ZodType<number[]> {
  const what = stride ? `a run list of stride ${stride}` : `an array of whole numbers from ${min} to ${max}`;
  return custom<number[]>({ intArray: { min, max, maxLength, ...(stride ? { stride } : {}) } }, (x) => {
    if (!Array.isArray(x) || x.length > maxLength) return false;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return false;
    }
    return stride === undefined || isRunList(x, stride);
  }, `expected ${what}, at most ${maxLength} long`);
}

/** The product's agents send a typed array; a peer may send a plain array of whole numbers in range. */
function typedOrIntArray(type: 'Int32Array' | 'Uint8Array' | 'Float64Array', min: number, max: number): z.ZodType<Int32Array | Uint8Array | Float64Array | number[]> {
  const Ctor = type === 'Int32Array' ? Int32Array : type === 'Uint8Array' ? Uint8Array : Float64Array;
  return custom({ typedOrIntArray: { type, min, max } }, (x) => {
    if (x instanceof Ctor) {
      if (type === 'Uint8Array') return true;
      if (x.length > arrayLengthMax) return false;
      // An Int32Array holds whole numbers up to 2^31-1; a Float64Array may hold anything.
      for (let i = 0; i < x.length; i++) { const v = x[i]!; if (v < min || v > max || (type === 'Float64Array' && !Number.isInteger(v))) return false; }
      return true;
    }
    if (!Array.isArray(x) || x.length > arrayLengthMax) return false;
    for (const v of x) if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) return false;
    return true;
  }, `expected an ${type} or an array of whole numbers from ${min} to ${max}`);
}

/** RangeSet.toJSON's form, as RangeSet.fromJSON accepts it (a forged one would crash the child's agent). */
const rangeSet = custom<unknown>({ rangeSet: true }, (x) => {
  try { RangeSet.fromJSON(x); return true; } catch { return false; }
}, 'expected a range set (RangeSet.toJSON)');

/** A step result's fields; the elements of a list in it (a query's pages); its depth (result.pages[0].resident is 3). */
export const resultFieldsMax = 16;
export const resultListMax = queryPagesMax;
export const resultDepthMax = 3;

/**
 * Plain data as JSON has it: null, a boolean, a finite number, a string of at most valueBytesMax
 * characters, a list or a plain object (no more than resultFieldsMax own fields) of such, at most
 * resultDepthMax deep. msgpack can carry more (a bigint, a Date, a Set, a typed array, an object
 * that contains itself through msgpackr's structured-clone extensions): none of it is a result, and
 * each would break what reads the history (JSON.stringify throws on a bigint and a cycle).
 */
function plainData(x: unknown, depth: number): boolean {
  if (x === null || typeof x === 'boolean') return true;
  if (typeof x === 'number') return Number.isFinite(x);
  if (typeof x === 'string') return x.length <= valueBytesMax;
  if (typeof x !== 'object' || depth >= resultDepthMax) return false;
  if (Array.isArray(x)) {
    if (x.length > resultListMax) return false;
    for (let i = 0; i < x.length; i++) if (!plainData(x[i], depth + 1)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(x) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(x);
  if (keys.length > resultFieldsMax) return false;
  for (const k of keys) if (!plainData((x as Record<string, unknown>)[k], depth + 1)) return false;
  return true;
}

/** A `done`'s result: a plain object with `ok`, of plain data. Its shape for the step's op is the entry's check (coordinator/syscall_entry.ts). */
const stepResult = custom<StepResult>({ plainResult: { fieldsMax: resultFieldsMax, listMax: resultListMax, depthMax: resultDepthMax, stringMax: valueBytesMax } },
  (x) => typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as { ok?: unknown }).ok === 'boolean' && plainData(x, 0),
  `expected a step result: a map with ok (a boolean), at most ${resultFieldsMax} fields of plain data (null, booleans, finite numbers, strings to ${valueBytesMax} characters, lists to ${resultListMax}, maps), ${resultDepthMax} deep at most`);
const stepDetail = z.object({
  span: z.tuple([vpage, pagesOrZero]).optional(),
  purgedPages: intArray(0, vpagesMax - 1).optional(),
  exiting: int(0, 255).optional(),
  // The only signals a step's result makes fatal (agents/agent.ts finish).
  fatal: z.enum(['SIGBUS', 'SIGSEGV']).optional(),
}).strict();
const mmView = z.object({
  maps: z.array(z.tuple([z.string().max(nameLengthMax), vpage, pagesOrZero])).max(arrayLengthMax),
  volatile: z.array(z.tuple([vpage, pagesAtLeastOne])).max(arrayLengthMax),
  purged: intArray(0, vpagesMax - 1),
}).strict();
const vmaSnapshot = z.object({
  start: vpage, pages: pagesAtLeastOne, kind: z.enum(['anon', 'shmem', 'file-shared', 'file-private']),
  fileId: int(-1, frameMax), offset: pagesOrZero,
  // The page index of each entry of a sparse snapshot (agents/mm.ts); ascending and below `pages`,
  // one per frame, is the kernel's check at the fork (coordinator/kernel.ts).
  at: typedOrIntArray('Float64Array', 0, vpagesMax - 1).optional(),
  frames: typedOrIntArray('Int32Array', -1, frameMax), flags: typedOrIntArray('Uint8Array', 0, 255),
}).strict();
const binding = z.discriminatedUnion('kind', [
  // addr: agents/steps.ts NO_MAPPING (-2^40) marks a failed mmap's binding.
  z.object({ kind: z.literal('map'), addr: int(-(2 ** 40), vpagesMax), pages: pagesOrZero }).strict(),
  z.object({ kind: z.literal('fd'), fd }).strict(),
]);
const mmSnapshot = z.object({
  vmas: z.array(vmaSnapshot).max(vmasMax),
  ranges: rangeSet,
  bindings: z.record(z.string().max(nameLengthMax + 8), binding),
}).strict();

const msg = <T extends string, S extends z.ZodRawShape>(t: T, shape: S) => z.object({ t: z.literal(t), ...shape }).strict();

/** One schema per message type an agent sends, by `t`. */
export const agentMsgSchemas = {
  hello: msg('hello', { osPid: int(0, 2 ** 32), host: z.string().max(hostLengthMax).optional(), token: z.string().max(tokenLengthMax).optional(), incarnation: int(1, 2 ** 31).optional() }),
  pong: msg('pong', { seq: nat }),
  ready: msg('ready', { re: id, mm: mmView.optional() }),
  start: msg('start', { index: nat }),
  at: msg('at', { index: nat }),
  done: msg('done', { index: nat, result: stepResult, detail: stepDetail.optional(), mm: mmView.optional() }),
  blocked: msg('blocked', { index: nat, xid: nat }),
  prepared: msg('prepared', { xid: nat, runs: intArray(0, Number.MAX_SAFE_INTEGER, arrayLengthMax, 4) }),
  committed: msg('committed', { xid: nat, violations: z.array(z.string().max(violationLengthMax)).max(violationsMax) }),
  // ---- syscalls
  open: msg('open', { id, file: name }),
  close: msg('close', { id, fd }),
  mmap: msg('mmap', { id, addr: int(1, vpagesMax - 1), pages: pagesAtLeastOne, fd, offset: pagesOrZero, share: z.enum(['shared', 'private']) }),
  munmap: msg('munmap', { id, start: vpage, pages: pagesAtLeastOne }),
  read: msg('read', { id, vpage, frame }),
  // `value` in UTF-16 units here; its byte length is the syscall's own check (EINVAL past valueBytesMax,
  // or past the end of the page from `offset`), as the sum of two fields is no field's check.
  write: msg('write', { id, vpage, frame, cow: z.boolean(), value: z.string().max(valueBytesMax), anon: z.boolean(), offset: int(0, PAGE_SIZE - 1).optional() }),
  // `pages` 0 and an unknown `mode` are the call's own errors (EINVAL), as the spec requires.
  fvrange: msg('fvrange', { id, fd, fileId: int(-1, frameMax), start: pagesOrZero, pages: pagesOrZero, mode: name, now: z.number().finite().min(0), join: z.literal(true).optional() }),
  fquery: msg('fquery', { id, vpages: intArray(0, vpagesMax - 1) }),
  'query-fd': msg('query-fd', { id, fd, start: pagesOrZero, pages: pagesOrZero }),
  fork: msg('fork', { id, child: name, mm: mmSnapshot }),
  signal: msg('signal', { id, name }),
  wait: msg('wait', { id, name }),
  waitpid: msg('waitpid', { id, process: name }),
  crash: msg('crash', { id }),
} satisfies { [T in AgentMsg['t']]: z.ZodType };

export type AgentMsgType = keyof typeof agentMsgSchemas;

// Every message type of AgentMsg has a schema, and every schema is a message type (checked by tsc).
type Missing = Exclude<AgentMsg['t'], AgentMsgType>;
type Extra = Exclude<AgentMsgType, AgentMsg['t']>;
const exhaustive: [Missing, Extra] extends [never, never] ? true : never = true;
void exhaustive;

/** A predicate with exactly the checks of a zod schema (the kinds the schemas above use). */
export function compile(s: z.ZodTypeAny): (x: unknown) => boolean {
  const own = customChecks.get(s);
  if (own) return own;
  if (s instanceof z.ZodObject) {
    const shape = s.shape as Record<string, z.ZodTypeAny>;
    const fields = Object.entries(shape).map(([k, v]) => {
      const optional = v instanceof z.ZodOptional;
      return { k, optional, check: compile(optional ? v._def.innerType : v) };
    });
    const strict = s._def.unknownKeys === 'strict';
    if (!strict && s._def.unknownKeys !== 'passthrough') throw new Error('compile: only strict and passthrough objects');
    return (x) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
      const o = x as Record<string, unknown>;
      let present = 0;
      for (const f of fields) {
        const v = o[f.k];
        if (v === undefined) { if (!f.optional) return false; if (Object.hasOwn(o, f.k)) present++; continue; }
        if (!Object.hasOwn(o, f.k) || !f.check(v)) return false;
        present++;
      }
      if (!strict) return true;
      // No key the shape does not have (counted: a key with an undefined value counts too).
      let keys = 0;
      for (const k in o) if (Object.hasOwn(o, k)) keys++;
      return keys === present;
    };
  }
  if (s instanceof z.ZodNumber) {
    let min = -Infinity; let max = Infinity; let minIn = true; let maxIn = true; let int = false; let finite = false;
    for (const c of s._def.checks) {
      if (c.kind === 'int') int = true;
      else if (c.kind === 'finite') finite = true;
      else if (c.kind === 'min') { min = c.value; minIn = c.inclusive; }
      else if (c.kind === 'max') { max = c.value; maxIn = c.inclusive; }
      else throw new Error(`compile: number check ${c.kind}`);
    }
    return (x) => typeof x === 'number' && !Number.isNaN(x) && (!int || Number.isInteger(x)) && (!finite || Number.isFinite(x))
      && (minIn ? x >= min : x > min) && (maxIn ? x <= max : x < max);
  }
  if (s instanceof z.ZodString) {
    let max = Infinity;
    for (const c of s._def.checks) {
      if (c.kind === 'max') max = c.value;
      else throw new Error(`compile: string check ${c.kind}`);
    }
    return (x) => typeof x === 'string' && x.length <= max;
  }
  if (s instanceof z.ZodBoolean) return (x) => typeof x === 'boolean';
  if (s instanceof z.ZodLiteral) { const v = s._def.value as unknown; return (x) => x === v; }
  if (s instanceof z.ZodEnum) { const vs = new Set(s._def.values as string[]); return (x) => typeof x === 'string' && vs.has(x); }
  if (s instanceof z.ZodArray) {
    const el = compile(s._def.type);
    const max = s._def.maxLength?.value ?? Infinity;
    if (s._def.minLength || s._def.exactLength) throw new Error('compile: array min or exact length');
    return (x) => {
      if (!Array.isArray(x) || x.length > max) return false;
      for (let i = 0; i < x.length; i++) if (!el(x[i])) return false;
      return true;
    };
  }
  if (s instanceof z.ZodTuple) {
    if (s._def.rest) throw new Error('compile: tuple rest');
    const items = (s._def.items as z.ZodTypeAny[]).map(compile);
    return (x) => Array.isArray(x) && x.length === items.length && items.every((c, i) => c(x[i]));
  }
  if (s instanceof z.ZodRecord) {
    const key = compile(s._def.keyType);
    const value = compile(s._def.valueType);
    return (x) => {
      if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
      for (const k in x) if (Object.hasOwn(x, k) && (!key(k) || !value((x as Record<string, unknown>)[k]))) return false;
      return true;
    };
  }
  if (s instanceof z.ZodDiscriminatedUnion) {
    const by = new Map<unknown, (x: unknown) => boolean>();
    for (const [value, option] of s._def.optionsMap) by.set(value, compile(option as z.ZodTypeAny));
    const d = s._def.discriminator as string;
    return (x) => typeof x === 'object' && x !== null && (by.get((x as Record<string, unknown>)[d])?.(x) ?? false);
  }
  throw new Error(`compile: no predicate for ${s._def.typeName}`);
}

const compiled = new Map<string, (x: unknown) => boolean>(Object.entries(agentMsgSchemas).map(([t, s]) => [t, compile(s)]));

/** What an incoming message is: a valid AgentMsg, or why not (one line, naming the field). */
export type Parsed = { ok: true; msg: AgentMsg } | { ok: false; why: string; t?: string };

/**
 * Checks one incoming message (anything a frame decoded to) against its type's schema. Never
 * throws. The message is returned as it came (the schemas change nothing in it).
 */
export function parseAgentMsg(x: unknown): Parsed {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return { ok: false, why: `a message is a map with a field t, not ${describe(x)}` };
  const t = (x as { t?: unknown }).t;
  if (typeof t !== 'string') return { ok: false, why: `a message's t must be a message type, not ${describe(t)}` };
  const schema = Object.hasOwn(agentMsgSchemas, t) ? agentMsgSchemas[t as AgentMsgType] : undefined;
  if (!schema) return { ok: false, t, why: `unknown message type ${JSON.stringify(t.slice(0, nameLengthMax))}` };
  if (compiled.get(t)!(x)) return { ok: true, msg: x as AgentMsg };
  // Refused: zod says why. (Should zod accept it, the compiled check, the stricter, still refuses:
  // a field zod reads but the message does not own, such as one inherited from a prototype.)
  const r = schema.safeParse(x);
  if (r.success) return { ok: false, t, why: `${t}: a field it does not own as a plain field` };
  const issue = r.error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.join('.') : '(message)';
  return { ok: false, t, why: `${t}.${field}: ${issue.message}` };
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}
