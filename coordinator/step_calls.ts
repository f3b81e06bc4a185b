// The syscalls a step may make: the kernel has the scenario, so it knows the step each process is
// on (the one granted or in flight, or in the free schedule the one a message starts) and judges
// every syscall against it, as agents/steps.ts and agents/fault.ts make them: its kind (a `signal`
// step makes a `signal`, never a `wait`), how many (one, but a read or write again after a `retry`
// answer, and a vrange's `fvrange` pieces in address order), and its arguments (names, pages,
// mode, value; the pages a map binding names, the fd an fd binding holds). A step that always makes
// its syscall (open, close, fork, signal, wait, waitpid, a query of an fd) reports `done` only after
// it; `crash` never does; `detail.exiting` only on an `exit` step, its code; `detail.fatal` only
// with the signal its result says is fatal. docs/protocol.md, "Bad messages"; docs/semantics.md.
//
// The kernel keeps the process's bindings as its agent does (`Proc.bindings`): a map name bound by
// a successful mmap of its step, an fd name by a successful open; a forked child has its parent's,
// and the fork's snapshot must carry those. Everything here runs in the one event loop, at the
// entry (before the message has any effect) and when a syscall is taken or answered.

import type { AgentMsg, Binding, MmSnapshot, SysCall } from '../shared/messages.js';
import type { PolicyName, ProcessStep } from '../shared/scenario-types.js';
import { isMode, spanOf } from '../shared/spans.js';
import { filePagesMax, queryPagesMax } from '../shared/limits.js';
import type { Proc } from './process_table.js';

type Call = SysCall['t'];
type Op<K extends ProcessStep['op']> = Extract<ProcessStep, { op: K }>;

/** The syscalls of the step in flight so far (`step`: its index; another index means none yet). */
export interface StepCalls {
  step: number;
  /** Syscalls taken. */
  n: number;
  /** The kernel answered the last one `retry`: a read or write may fault again (or, its page purged, end without a call). */
  retry: boolean;
  /** A vrange's pieces: the page after the last one, and the files marked volatile by the call. */
  lastEnd: number;
  files: Set<number>;
}

export const noCalls = (): StepCalls => ({ step: -1, n: 0, retry: false, lastEnd: -Infinity, files: new Set() });

/** The syscall a step of each op makes (none: exit; vrange and fvrange none under madv-free). */
function callOf(step: ProcessStep, policy: PolicyName): Call | undefined {
  switch (step.op) {
    case 'exit': return undefined;
    case 'vrange': case 'fvrange': return policy === 'madv-free' ? undefined : 'fvrange';
    case 'query': return step.map !== undefined ? 'fquery' : 'query-fd';
    default: return step.op;
  }
}

/** Ops whose agent makes its one syscall always: their `done` comes after it. */
const ALWAYS: ReadonlySet<ProcessStep['op']> = new Set(['open', 'close', 'fork', 'signal', 'wait', 'waitpid']);

function mapOf(proc: Proc, name: string): { addr: number; pages: number } | undefined {
  const b = proc.bindings.get(`map:${name}`);
  return b && b.kind === 'map' ? b : undefined;
}
function fdOf(proc: Proc, name: string): number {
  const b = proc.bindings.get(`fd:${name}`);
  return b && b.kind === 'fd' ? b.fd : -1;
}

const callsOf = (proc: Proc, index: number): StepCalls => (proc.calls.step === index ? proc.calls : noCalls());

/** A field's value in a reason: a string quoted as sent (badMessage shows the reason printable, each character escaped once). */
const shown = (v: unknown): string => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? 'none');

/** The first field in which the call differs from the one the step makes, said as `FIELD SENT where the step makes WANTED`, or undefined. */
function differs(m: Record<string, unknown>, want: Record<string, unknown>): string | undefined {
  for (const [key, v] of Object.entries(want)) {
    if (m[key] !== v) return `${key} ${shown(m[key])} where the step makes ${shown(v)}`;
  }
  return undefined;
}

/** Why the syscall `m` is not one step `index` of `proc` may make now, or undefined. */
export function callMismatch(proc: Proc, index: number, policy: PolicyName, m: SysCall): string | undefined {
  const step = proc.spec.steps[index];
  if (!step) return undefined; // the entry has refused it already (no such step)
  const where = `step ${index} (${step.op})`;
  const want = callOf(step, policy);
  if (want === undefined) return `it sent ${m.t} in ${where}, which makes no syscall`;
  if (m.t !== want) return `it sent ${m.t} in ${where}, which makes ${want}`;
  const c = callsOf(proc, index);
  if (c.n > 0 && !(step.op === 'vrange' || ((step.op === 'read' || step.op === 'write') && c.retry))) {
    return `it sent a second ${m.t} in ${where}, which makes one${step.op === 'read' || step.op === 'write' ? ' (another only after a retry answer)' : ''}`;
  }
  const bad = argsMismatch(proc, step, c, m);
  return bad ? `it sent ${m.t} in ${where} with ${bad}` : undefined;
}

function argsMismatch(proc: Proc, step: ProcessStep, c: StepCalls, m: SysCall): string | undefined {
  const mm = m as unknown as Record<string, unknown>;
  switch (step.op) {
    case 'open': return differs(mm, { file: step.file });
    case 'close': return differs(mm, { fd: fdOf(proc, step.fd) });
    case 'mmap': {
      const fd = step.fd !== undefined ? fdOf(proc, step.fd) : -1;
      if (step.pages === 0 || (step.fd !== undefined && fd < 0)) return `no call to make (the agent answers ${step.pages === 0 ? 'EINVAL' : 'EBADF'} itself)`;
      return differs(mm, { pages: step.pages, fd, offset: fd >= 0 ? (step.offset ?? 0) : 0, share: step.share ?? (fd >= 0 ? 'shared' : 'private') });
    }
    case 'munmap': {
      const b = mapOf(proc, step.map);
      const page = step.page ?? 0;
      const pages = b ? (step.pages ?? b.pages - page) : 0;
      if (!b || pages <= 0) return `no call to make (map "${step.map}" ${b ? 'names no pages there' : 'is not bound'}: the agent answers EINVAL itself)`;
      return differs(mm, { start: b.addr + page, pages });
    }
    case 'read': case 'write': {
      const b = mapOf(proc, step.map);
      if (!b) return `no call to make (map "${step.map}" is not bound: the agent's fault is SIGSEGV)`;
      return differs(mm, step.op === 'read' ? { vpage: b.addr + step.page } : { vpage: b.addr + step.page, value: step.value, offset: step.offset });
    }
    case 'vrange': return vrangePiece(proc, step, c, m as Extract<SysCall, { t: 'fvrange' }>);
    case 'fvrange': {
      const fd = fdOf(proc, step.fd);
      if (fd < 0) return `no call to make (fd "${step.fd}" is not bound: the agent answers EBADF itself)`;
      const span = spanOf(step);
      const bad = 'errno' in span || !isMode(step.mode) || span.start + span.pages > filePagesMax;
      return differs(mm, { fd, fileId: -1, start: bad ? 0 : (span as { start: number }).start, pages: bad ? 0 : (span as { pages: number }).pages,
        mode: bad ? 'invalid' : step.mode, join: undefined });
    }
    case 'query': {
      if (step.fd !== undefined && step.map === undefined) return differs(mm, { fd: fdOf(proc, step.fd), start: step.page, pages: step.pages });
      const b = mapOf(proc, step.map!);
      if (!b || step.pages === 0 || step.pages > queryPagesMax) return 'no call to make (the agent answers the query itself)';
      const start = b.addr + step.page;
      const vpages = (m as Extract<SysCall, { t: 'fquery' }>).vpages;
      if (vpages.length === 0) return 'no pages';
      for (let i = 0; i < vpages.length; i++) {
        const v = vpages[i]!;
        if (!(v >= start && v < start + step.pages && (i === 0 || v > vpages[i - 1]!))) return `vpages that are not ascending pages of the step's span (pages ${start} to ${start + step.pages - 1})`;
      }
      return undefined;
    }
    case 'fork': return differs(mm, { child: step.child }) ?? bindingsMismatch(proc, (m as Extract<SysCall, { t: 'fork' }>).mm);
    case 'signal': case 'wait': return differs(mm, { name: step.name });
    case 'waitpid': return differs(mm, { process: step.process });
    default: return undefined; // crash: no arguments
  }
}

/** The pages [vpage, vpage + pages) a vrange's piece names, by a VMA of the caller mapping its file there, or undefined. */
function pieceAt(proc: Proc, m: Extract<SysCall, { t: 'fvrange' }>, from: number, to: number): number | undefined {
  let best: number | undefined;
  for (const v of proc.vmas) {
    if (v.fileId !== m.fileId || m.fileId < 0) continue;
    const vpage = v.start + (m.start - v.offset);
    if (vpage < v.start || vpage + m.pages > v.start + v.pages || vpage < from || vpage + m.pages > to) continue;
    if (best === undefined || vpage < best) best = vpage;
  }
  return best;
}

/** A `vrange` over file memory: each `fvrange` piece is a part of the step's span, after the one before, in the step's mode. */
function vrangePiece(proc: Proc, step: Op<'vrange'>, c: StepCalls, m: Extract<SysCall, { t: 'fvrange' }>): string | undefined {
  const b = mapOf(proc, step.map);
  const span = spanOf(step);
  if (!b || 'errno' in span || !isMode(step.mode)) return 'no call to make (the agent answers the vrange itself)';
  const d = differs(m as unknown as Record<string, unknown>, { fd: -1, mode: step.mode });
  if (d) return d;
  const vpage = pieceAt(proc, m, Math.max(b.addr + span.start, c.lastEnd), b.addr + span.start + span.pages);
  if (vpage === undefined || m.pages <= 0) return `file pages ${m.start} to ${m.start + m.pages - 1} of file ${m.fileId}, which no VMA of its maps in the step's span after its pieces before`;
  if (m.join && !(step.mode === 'volatile' && c.files.has(m.fileId))) return 'join, but no piece of that file came before in this call';
  if (!m.join && step.mode === 'volatile' && c.files.has(m.fileId)) return 'no join on a second piece of one file (one call, one range)';
  return undefined;
}

/** A fork's snapshot carries the parent's bindings, as the kernel has them: the child's agent runs its steps by them. */
function bindingsMismatch(proc: Proc, mm: MmSnapshot): string | undefined {
  const sent = Object.entries(mm.bindings ?? {});
  const same = sent.length === proc.bindings.size && sent.every(([key, b]) => sameBinding(proc.bindings.get(key), b));
  return same ? undefined : 'an mm snapshot whose bindings are not those its steps made';
}
function sameBinding(a: Binding | undefined, b: Binding): boolean {
  if (!a || a.kind !== b.kind) return false;
  return a.kind === 'fd' ? a.fd === (b as typeof a).fd : a.addr === (b as typeof a).addr && a.pages === (b as typeof a).pages;
}

/** The syscall `m` of step `index` is taken (the entry let it in). */
export function tookCall(proc: Proc, index: number, m: SysCall): void {
  if (proc.calls.step !== index) proc.calls = { ...noCalls(), step: index };
  const c = proc.calls;
  c.n++;
  c.retry = false;
  const step = proc.spec.steps[index];
  if (m.t === 'fvrange' && step?.op === 'vrange') {
    const b = mapOf(proc, step.map);
    const span = spanOf(step);
    const vpage = b && !('errno' in span) ? pieceAt(proc, m, Math.max(b.addr + span.start, c.lastEnd), b.addr + span.start + span.pages) : undefined;
    if (vpage !== undefined) c.lastEnd = vpage + m.pages;
    if (m.mode === 'volatile') c.files.add(m.fileId);
  }
}

/** The kernel answered syscall `m` of step `index` with `ret`: a retry, or a binding made (agents/steps.ts `open`, `mmap`). */
export function answeredCall(proc: Proc, index: number, m: SysCall, ret: Record<string, unknown>): void {
  if (proc.calls.step === index) proc.calls.retry = ret.retry === true;
  const step = proc.spec.steps[index];
  if (!step || ret.errno !== undefined || ret.stuck || ret.signal !== undefined) return;
  if (step.op === 'mmap' && m.t === 'mmap') proc.bindings.set(`map:${step.as}`, { kind: 'map', addr: m.addr, pages: m.pages });
  if (step.op === 'open' && m.t === 'open' && typeof ret.fd === 'number') proc.bindings.set(`fd:${step.fd ?? step.file}`, { kind: 'fd', fd: ret.fd });
}

/** Why a `done` of step `index` is not one the step may report, by its syscalls and its detail, or undefined. */
export function doneMismatch(proc: Proc, index: number, msg: Extract<AgentMsg, { t: 'done' }>): string | undefined {
  const step = proc.spec.steps[index]!;
  const where = `step ${index} (${step.op})`;
  const c = callsOf(proc, index);
  if (step.op === 'crash') return `it reported ${where} done: a crash never returns (its syscall kills the process)`;
  if ((ALWAYS.has(step.op) || (step.op === 'query' && step.map === undefined)) && c.n === 0) return `it reported ${where} done without its syscall (the step always makes one)`;
  // An exit step's code (absent: 0, as the kernel reads it); no other step ends with one.
  const code = step.op === 'exit' ? (step.code ?? 0) : undefined;
  const exiting = step.op === 'exit' ? (msg.detail?.exiting ?? 0) : msg.detail?.exiting;
  if (exiting !== code) return `it reported ${where} done with detail.exiting ${JSON.stringify(exiting) ?? 'missing'}, where the step says ${code === undefined ? 'none (only an exit step ends with a code)' : code}`;
  const r = msg.result;
  const fatal = !r.ok && ((r.signal === 'SIGBUS' && proc.spec.sigbus === 'kill') || r.signal === 'SIGSEGV') ? r.signal : undefined;
  if (msg.detail?.fatal !== fatal) return `it reported ${where} done with detail.fatal ${JSON.stringify(msg.detail?.fatal) ?? 'missing'}, where its result makes it ${fatal ?? 'none'}`;
  return undefined;
}
