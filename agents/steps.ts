// The step interpreter: one function per op of the scenario format, run inside the agent.
// `vrange` on anonymous and private memory is decided here and never crosses the socket;
// everything that touches frames, files, fds or other processes is a syscall to the kernel.

import type { Agent } from './agent.js';
import { PTE_ANONZERO, PTE_CLEAN, PTE_LAZYFREE, PTE_PURGED, PTE_YOUNG, Vma, type Segment } from './mm.js';
import { readPage, writePage } from './fault.js';
import { vrangeTarget } from '../shared/policy.js';
import { isMode, spanOf } from '../shared/spans.js';
import { RangeLimitError } from '../shared/rangeset.js';
import type { StepDetail, SysReplyFields, VmaKind } from '../shared/messages.js';
import { PAGE_SIZE, type ProcessStep, type StepResult } from '../shared/scenario-types.js';
import { filePagesMax, queryPagesMax } from '../shared/limits.js';

export interface StepOutcome { result: StepResult; detail?: StepDetail }
type Op<K extends ProcessStep['op']> = Extract<ProcessStep, { op: K }>;

const EINVAL: StepOutcome = { result: { ok: false, errno: 'EINVAL' } };
const ENOMEM: StepOutcome = { result: { ok: false, errno: 'ENOMEM' } };
const E2BIG: StepOutcome = { result: { ok: false, errno: 'E2BIG' } };

/** A reply that failed: stuck, a signal, or an errno (shared/messages.ts, SysReplies). */
type Failed = Extract<SysReplyFields, { stuck: true } | { signal: string } | { errno: string }>;
/** Whether the reply failed; when not, `r` narrows to the call's success shapes. */
function isFailed<R extends SysReplyFields>(r: R): r is Extract<R, Failed> {
  return Boolean(r.stuck || r.signal || r.errno);
}
function failure(r: Failed): StepOutcome {
  if (r.stuck) return { result: { ok: false, stuck: true } };
  if (r.signal) return { result: { ok: false, signal: r.signal } };
  return { result: { ok: false, errno: r.errno } };
}
function failed(r: SysReplyFields): StepOutcome | undefined {
  return isFailed(r) ? failure(r) : undefined;
}

/** Where a binding whose `mmap` failed points: MAP_FAILED, an address nothing is ever mapped at. */
export const NO_MAPPING = -(2 ** 40);

/** `map:NAME` for each map name seen, so that a step does not build (and hash) the key again. */
const mapKeys = new Map<string, string>();

/** A map binding; one whose mmap failed names no memory (touching it is SIGSEGV). */
function mapBinding(agent: Agent, name: string): { addr: number; pages: number } {
  let key = mapKeys.get(name);
  if (key === undefined) {
    key = `map:${name}`;
    if (mapKeys.size < 4096) mapKeys.set(name, key);
  }
  const b = agent.mm.bindings.get(key);
  if (!b || b.kind !== 'map') return { addr: NO_MAPPING, pages: 0 };
  return b;
}

/** An fd binding; one whose open failed names no fd (EBADF). */
function fdBinding(agent: Agent, name: string): number {
  const b = agent.mm.bindings.get(`fd:${name}`);
  if (!b || b.kind !== 'fd') return -1;
  return b.fd;
}

/**
 * Runs one step. A step that waits for the kernel returns a promise; one that needs nothing
 * from it answers at once, and the caller then takes no promise turn: `exit`, and `vrange` on
 * memory this mm decides (the common case: anonymous memory, no reclaim exchange open).
 */
export function runStep(agent: Agent, step: ProcessStep): StepOutcome | Promise<StepOutcome> {
  switch (step.op) {
    case 'open': return open(agent, step);
    case 'close': return close(agent, step);
    case 'mmap': return mmap(agent, step);
    case 'munmap': return munmap(agent, step);
    case 'write': {
      const b = mapBinding(agent, step.map);
      return writePage(agent, b.addr + step.page, step.value, step.offset);
    }
    case 'read': {
      const b = mapBinding(agent, step.map);
      return readPage(agent, b.addr + step.page);
    }
    case 'vrange':
      if (agent.config.policy === 'madv-free') return madvFree(agent, step);
      return vrangeLocal(agent, step) ?? vrangeGeneral(agent, step);
    case 'fvrange':
      // madv-free: there is no such call (Linux has no fd-based MADV_FREE); the fd is not looked at.
      if (agent.config.policy === 'madv-free') return EINVAL;
      return fvrange(agent, step);
    case 'query': return step.map !== undefined ? queryMap(agent, step, step.map) : queryFd(agent, step, step.fd!);
    case 'fork': return fork(agent, step);
    case 'exit': return { result: { ok: true }, detail: { exiting: step.code ?? 0 } };
    case 'crash': return crash(agent);
    case 'signal': case 'wait': return signalOrWait(agent, step);
    case 'waitpid': return waitpid(agent, step);
  }
}

async function fork(agent: Agent, step: Op<'fork'>): Promise<StepOutcome> {
  const r = await agent.call({ t: 'fork', child: step.child, mm: agent.mm.snapshotForFork() });
  return failed(r) ?? { result: { ok: true, pid: r.pid } };
}

async function crash(agent: Agent): Promise<StepOutcome> {
  // kill(getpid(), SIGKILL) is a syscall: the kernel, having read all we sent before, kills us.
  await agent.call({ t: 'crash' });
  return new Promise<never>(() => {});
}

async function signalOrWait(agent: Agent, step: Op<'signal'> | Op<'wait'>): Promise<StepOutcome> {
  const r = await agent.call({ t: step.op, name: step.name });
  return failed(r) ?? { result: { ok: true } };
}

async function waitpid(agent: Agent, step: Op<'waitpid'>): Promise<StepOutcome> {
  const r = await agent.call({ t: 'waitpid', process: step.process });
  if (failed(r)) return failed(r)!;
  return { result: r.exitSignal !== undefined ? { ok: true, signal: r.exitSignal } : { ok: true, exitCode: r.exitCode } };
}

async function open(agent: Agent, step: Op<'open'>): Promise<StepOutcome> {
  const r = await agent.call({ t: 'open', file: step.file });
  if (isFailed(r)) return failure(r);
  agent.mm.bindings.set(`fd:${step.fd ?? step.file}`, { kind: 'fd', fd: r.fd });
  return { result: { ok: true, fd: r.fd } };
}

async function close(agent: Agent, step: Op<'close'>): Promise<StepOutcome> {
  const r = await agent.call({ t: 'close', fd: fdBinding(agent, step.fd) });
  return failed(r) ?? { result: { ok: true } };
}

async function mmap(agent: Agent, step: Op<'mmap'>): Promise<StepOutcome> {
  if (step.pages === 0) return EINVAL;
  if (step.fd !== undefined && fdBinding(agent, step.fd) < 0) return { result: { ok: false, errno: 'EBADF' } };
  const fd = step.fd !== undefined ? fdBinding(agent, step.fd) : -1;
  const share = step.share ?? (fd >= 0 ? 'shared' : 'private');
  const offset = fd >= 0 ? (step.offset ?? 0) : 0;
  const addr = agent.mm.pickAddr(step.pages);
  const r = await agent.call({ t: 'mmap', addr, pages: step.pages, fd, offset, share });
  if (isFailed(r)) return failure(r);
  const kind: VmaKind = fd < 0 ? (share === 'shared' ? 'shmem' : 'anon') : (share === 'shared' ? 'file-shared' : 'file-private');
  agent.mm.insert(Vma.fresh(addr, step.pages, kind, r.fileId, offset));
  // A new mapping starts with no volatility (v8 "vrange: Clear volatility on new mmaps").
  agent.mm.ranges.unmark(addr, addr + step.pages);
  agent.mm.bindings.set(`map:${step.as}`, { kind: 'map', addr, pages: step.pages });
  return { result: { ok: true, addr: addr * PAGE_SIZE }, detail: { span: [addr, addr + step.pages] } };
}

async function munmap(agent: Agent, step: Op<'munmap'>): Promise<StepOutcome> {
  const b = mapBinding(agent, step.map);
  if (b.addr === NO_MAPPING) return EINVAL; // munmap(MAP_FAILED): not a page-aligned address
  const page = step.page ?? 0;
  const pages = step.pages ?? b.pages - page;
  if (pages <= 0) return EINVAL;
  const start = b.addr + page;
  const end = start + pages;
  await agent.untilReleased(start, end);
  const r = await agent.call({ t: 'munmap', start, pages });
  const bad = failed(r);
  if (bad) return bad;
  agent.mm.unmap(start, end);
  agent.mm.ranges.unmark(start, end);
  return { result: { ok: true }, detail: { span: [start, end] } };
}

/** Consecutive segments with the same target, so that one call marks one range per run. */
function runsOf(segs: Segment[], target: (s: Segment) => 'mm' | 'file' | null): Array<{ target: 'mm' | 'file'; segs: Segment[] }> {
  const runs: Array<{ target: 'mm' | 'file'; segs: Segment[] }> = [];
  for (const s of segs) {
    const t = target(s)!;
    const last = runs[runs.length - 1];
    if (last && last.target === t && t === 'mm') last.segs.push(s);
    else runs.push({ target: t, segs: [s] });
  }
  return runs;
}

/**
 * vrange on [start, end) inside one VMA whose volatility this mm holds (vrangeTarget 'mm':
 * anonymous and shmem memory, and file memory unless the policy lets the file decide), with no
 * reclaim exchange open, done synchronously. Returns undefined for anything else (the byte form,
 * invalid arguments, a span across VMAs or gaps, memory the file decides, an exchange that may
 * hold pages: `agent.held` not empty); vrangeGeneral then does it. Where both apply they give
 * the same outcome and leave the mm the same (test/steps.test.ts compares them).
 */
export function vrangeLocal(agent: Agent, step: Op<'vrange'>): StepOutcome | undefined {
  const mode = step.mode;
  if ((mode !== 'volatile' && mode !== 'nonvolatile') || step.byteOffset !== undefined || step.byteLength !== undefined) return undefined;
  const pages = step.pages ?? 0;
  if (!(pages > 0) || agent.held.size !== 0) return undefined;
  const mm = agent.mm;
  const start = mapBinding(agent, step.map).addr + (step.page ?? 0);
  const end = start + pages;
  const vma = mm.findVma(start);
  if (vma === undefined || end > vma.end || vrangeTarget(vma.kind, agent.config.policy) !== 'mm') return undefined;
  const purgedPages: number[] = [];
  if (mode === 'volatile') {
    try { mm.ranges.mark(start, end, agent.now); } catch (e) { if (e instanceof RangeLimitError) return ENOMEM; throw e; }
    return { result: { ok: true, bytes: pages * PAGE_SIZE }, detail: { span: [start, end], purgedPages } };
  }
  // Splitting a range may need one more piece than the set's limit: ENOMEM, as madvise gives
  // past vm.max_map_count, and nothing has changed (the set is left as it was).
  try { mm.ranges.unmark(start, end); } catch (e) { if (e instanceof RangeLimitError) return ENOMEM; throw e; }
  clearPurged(vma, start, end, purgedPages);
  return { result: { ok: true, bytes: pages * PAGE_SIZE, purged: purgedPages.length > 0 }, detail: { span: [start, end], purgedPages } };
}

/** vrange, every case: spans across VMAs, memory a file decides, waiting for a reclaim exchange, errors. */
export async function vrangeGeneral(agent: Agent, step: Op<'vrange'>): Promise<StepOutcome> {
  const b = mapBinding(agent, step.map);
  if (!isMode(step.mode)) return EINVAL;
  const span = spanOf(step);
  if ('errno' in span) return EINVAL;
  const start = b.addr + span.start;
  const end = start + span.pages;
  const segs = agent.mm.segments(start, end);
  const policy = agent.config.policy;
  const target = (s: Segment) => vrangeTarget(s.vma.kind, policy);
  const bad = spanError(segs, start, end, (s) => target(s) === null);
  if (bad) return bad;
  const held = agent.untilReleased(start, end);
  if (held) await held;
  const purgedPages: number[] = [];
  let purged = false;
  // One VMA marked in this mm (the common case): no runs to build.
  const runs = segs.length === 1 && target(segs[0]!) === 'mm' ? [{ target: 'mm' as const, segs }] : runsOf(segs, target);
  // The call's pieces in this mm (around a file's pages) are one range: one purge unit, as the model has it.
  let id = 0;
  const filesMarked = new Set<number>();
  for (const run of runs) {
    if (run.target === 'mm') {
      const from = run.segs[0]!.from;
      const to = run.segs[run.segs.length - 1]!.to;
      if (step.mode === 'volatile') {
        try { id = id ? agent.mm.ranges.markMore(from, to, agent.now, id) : agent.mm.ranges.mark(from, to, agent.now); } catch (e) { if (e instanceof RangeLimitError) return ENOMEM; throw e; }
      } else {
        try { agent.mm.ranges.unmark(from, to); } catch (e) { if (e instanceof RangeLimitError) return ENOMEM; throw e; }
        for (const s of run.segs) clearPurged(s.vma, s.from, s.to, purgedPages);
      }
    } else {
      const s = run.segs[0]!;
      // A second piece of one file in this call joins the range its first made (one call, one range).
      const join = step.mode === 'volatile' && filesMarked.has(s.vma.fileId);
      if (step.mode === 'volatile') filesMarked.add(s.vma.fileId);
      const r = await agent.call({ t: 'fvrange', fd: -1, fileId: s.vma.fileId, start: s.vma.offset + (s.from - s.vma.start),
        pages: s.to - s.from, mode: step.mode, now: agent.now, ...(join ? { join: true as const } : {}) });
      const bad = failed(r);
      if (bad) return bad;
      if (r.purged) purged = true;
    }
  }
  if (purgedPages.length > 0) purged = true;
  const result: StepResult = { ok: true, bytes: span.pages * PAGE_SIZE };
  if (step.mode === 'nonvolatile') result.purged = purged;
  return { result, detail: { span: [start, end], purgedPages } };
}

/**
 * `vrange volatile` under madv-free is madvise(MADV_FREE) (docs/semantics.md, "What Linux merged"):
 * no syscall, this mm's page table only. `nonvolatile` does not exist (EINVAL). The VMAs of the
 * span are visited in address order as mm/madvise.c madvise_walk_vmas does: a gap is remembered as
 * ENOMEM and the walk goes on; a VMA that is not private anonymous stops it with EINVAL
 * (madvise_free_single_vma: `!vma_is_anonymous`), the VMAs before it staying marked. In a private
 * anonymous VMA each page with a frame is marked lazyfree and its pte made clean and old
 * (madvise_free_pte_range); a page never faulted in is untouched.
 */
function madvFree(agent: Agent, step: Op<'vrange'>): StepOutcome | Promise<StepOutcome> {
  if (step.mode !== 'volatile') return EINVAL;
  const span = spanOf(step);
  if ('errno' in span) return EINVAL;
  const start = mapBinding(agent, step.map).addr + span.start;
  const end = start + span.pages;
  // It waits only for held pages it would mark: those before the first VMA that stops the walk.
  const segs = agent.mm.segments(start, end);
  const stop = segs.findIndex((s) => s.vma.kind !== 'anon');
  const marks = stop < 0 ? segs : segs.slice(0, stop);
  const held = marks.length > 0 ? agent.untilReleased(marks[0]!.from, marks[marks.length - 1]!.to) : undefined;
  return held ? held.then(() => markLazyfree(agent, start, end)) : markLazyfree(agent, start, end);
}

function markLazyfree(agent: Agent, start: number, end: number): StepOutcome {
  const segs = agent.mm.segments(start, end);
  // No VMA in the span (a binding whose mmap failed, too): ENOMEM, nothing marked, no span to tell.
  if (segs.length === 0) return ENOMEM;
  const detail: StepDetail = { span: [start, end] };
  let next = start;
  let unmapped = false;
  for (const s of segs) {
    if (s.from > next) unmapped = true;
    if (s.vma.kind !== 'anon') return { ...EINVAL, detail };
    const vma = s.vma;
    for (const i of vma.touchedIn(s.from, s.to)) {
      if (vma.frameAt(i) >= 0) vma.setFlags(i, (vma.flagsAt(i) | PTE_LAZYFREE | PTE_CLEAN) & ~PTE_YOUNG);
    }
    next = s.to;
  }
  if (unmapped || next < end) return { ...ENOMEM, detail };
  return { result: { ok: true, bytes: (end - start) * PAGE_SIZE }, detail };
}

/**
 * The error a vrange over [start, end) fails with first, or undefined. The VMAs are walked in
 * address order, as v14's madvise_volatile walks them: at each, its kind is checked first (one the
 * policy refuses is EINVAL), then the hole in front of it (ENOMEM); a hole at the end is ENOMEM.
 * docs/semantics.md, Errors; model/steps.ts `span` gives the same.
 */
function spanError(segs: Segment[], start: number, end: number, refused: (s: Segment) => boolean): StepOutcome | undefined {
  let next = start;
  for (const s of segs) {
    if (refused(s)) return EINVAL;
    if (s.from !== next) return ENOMEM;
    next = s.to;
  }
  return next === end ? undefined : ENOMEM;
}

/** Clears PTE_PURGED on the pages [from, to) of `vma`, listing those that had it in `out`. */
function clearPurged(vma: Vma, from: number, to: number, out: number[]): void {
  // Only pages with an entry can be purged: O(min(span, entries)), however long the span.
  if (vma.ptes.size === 0) return;
  const clear = (i: number) => {
    const flags = vma.flagsAt(i);
    if ((flags & PTE_PURGED) !== 0) {
      out.push(vma.start + i);
      vma.setFlags(i, flags & ~PTE_PURGED);
    }
  };
  if (to - from <= vma.ptes.size) {
    for (let i = from - vma.start; i < to - vma.start; i++) if (vma.ptes.has(i)) clear(i);
  } else for (const i of vma.touchedIn(from, to)) clear(i);
}

async function fvrange(agent: Agent, step: Op<'fvrange'>): Promise<StepOutcome> {
  const fd = fdBinding(agent, step.fd);
  if (fd < 0) return { result: { ok: false, errno: 'EBADF' } };
  const span = spanOf(step);
  // A span that ends past filePagesMax ends past every file: EINVAL from the kernel, as any span past
  // the file's end. (The byte form loads offsets up to 2^53 bytes, more pages than a message may name.)
  const bad = 'errno' in span || !isMode(step.mode) || span.start + span.pages > filePagesMax;
  const r = await agent.call({ t: 'fvrange', fd, fileId: -1, start: bad ? 0 : span.start, pages: bad ? 0 : span.pages,
    mode: bad ? 'invalid' : step.mode, now: agent.now });
  const f = failed(r);
  if (f) return f;
  const result: StepResult = { ok: true, bytes: r.bytes };
  if (step.mode === 'nonvolatile') result.purged = r.purged;
  return { result };
}

async function queryMap(agent: Agent, step: Op<'query'>, map: string): Promise<StepOutcome> {
  const b = mapBinding(agent, map);
  if (step.pages === 0) return EINVAL;
  if (step.pages > queryPagesMax) return E2BIG;
  const start = b.addr + step.page;
  const end = start + step.pages;
  if (!agent.mm.fullyMapped(start, end)) return ENOMEM;
  await agent.untilReleased(start, end);
  const fromKernel: number[] = [];
  for (let v = start; v < end; v++) {
    const { vma, i } = agent.mm.pte(v)!;
    if (!ownView(vma, i)) fromKernel.push(v);
  }
  const views = new Map<number, { resident: boolean; volatile: boolean; purged: boolean }>();
  if (fromKernel.length > 0) {
    const r = await agent.call({ t: 'fquery', vpages: fromKernel });
    if (isFailed(r)) return failure(r);
    const list = r.pages;
    fromKernel.forEach((v, k) => views.set(v, list[k]!));
  }
  const pages = [];
  for (let v = start; v < end; v++) {
    const { vma, i } = agent.mm.pte(v)!;
    // madv-free: volatile is the lazyfree mark of this pte (no ranges); nothing is ever `purged`.
    const own = agent.config.policy === 'madv-free'
      ? { volatile: (vma.flagsAt(i) & PTE_LAZYFREE) !== 0, purged: false }
      : { volatile: agent.mm.isVolatile(v), purged: (vma.flagsAt(i) & PTE_PURGED) !== 0 };
    const k = views.get(v);
    const view = k === undefined
      ? { resident: vma.frameAt(i) >= 0, ...own }
      : { resident: k.resident, volatile: k.volatile || (vma.kind !== 'file-private' && own.volatile),
          purged: k.purged || (vma.kind !== 'file-private' && own.purged) };
    pages.push({ page: step.page + (v - start), ...view });
  }
  return { result: { ok: true, pages } };
}

/** The page's state is this mm's own: anonymous, or a private page with its own copy (or zero). */
function ownView(vma: Vma, i: number): boolean {
  if (vma.kind === 'anon') return true;
  if (vma.kind !== 'file-private') return false;
  return vma.frameAt(i) >= 0 || (vma.flagsAt(i) & PTE_ANONZERO) !== 0;
}

async function queryFd(agent: Agent, step: Op<'query'>, fdName: string): Promise<StepOutcome> {
  const r = await agent.call({ t: 'query-fd', fd: fdBinding(agent, fdName), start: step.page, pages: step.pages });
  return failed(r) ?? { result: { ok: true, pages: r.pages } };
}
