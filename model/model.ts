// A reference model of vrange's semantics: small, sequential, in-process and deterministic.
//
// Written from the documents only: shared/spec/scenario-format.md (the contract), docs/semantics.md
// (the choices made where the contract leaves room), docs/protocol.md and shared/spec/design.md (the
// reclaim exchange). Nothing here is read from or shared with coordinator/ or agents/, so that a bug
// there cannot be copied here. It replays the lockstep schedule a real run took and must give the
// same result for every step. Clarity over speed: lookups scan; scenarios are small.
//
// Where the documents leave something open, the choice is marked "CHOICE:" below.

import type {
  KernelStep, PolicyName, ProcessSpec, ProcessState, ProcessStep, RunConfig, Scenario, Share,
} from '../shared/scenario-types.js';

export type Action = { kind: 'step'; process: string } | { kind: 'kernel' } | { kind: 'commit' };
export type Result = { ok: boolean; [k: string]: unknown };
export interface ModelStep { process: string; index: number; op: string; result: Result }
export interface ModelOutcome { steps: ModelStep[]; purgedPages: number; framesUsed: number }

const PAGE_BYTES = 4096;
const FIRST_VPAGE = 1; // page 0 stays unmapped, like NULL: the first mapping is at 4096
const FIRST_FD = 3;
const FIRST_PID = 2;
/** docs/semantics.md: a `query` of more pages than this is E2BIG (its result is one entry per page). */
const QUERY_PAGES_MAX = 65_536;

// ---- plain data ---------------------------------------------------------------------------------

/** A physical page frame. `file` is set for a page-cache page (named file or hidden shmem). */
interface Frame { value: string; lastUse: number; file?: FileObj; fpage: number }
/** A piece of a volatile range, [start, end). Pieces cut from one call keep its id and mark time. */
interface Piece { id: number; start: number; end: number; markedAt: number }
interface FileObj {
  name: string; order: number; kind: 'tmpfs' | 'ashmem' | 'shmem'; pages: number;
  cache: Map<number, Frame>; ranges: Piece[]; purged: Set<number>;
}
interface Vma { start: number; pages: number; file?: FileObj; offset: number; share: Share }
/** own: a private page of this mm (anonymous or copied-on-write), frame null once purged.
 *  not own: a page-cache page this mm has touched through a mapping (present in its page table). */
type Pte = { own: true; frame: Frame | null } | { own: false };
interface Inflight { index: number; grantedAt: number; why: 'wait' | 'held' | 'reclaim' }
type End = { exitCode: number } | { signal: string };
interface Proc {
  spec: ProcessSpec; pid: number; state: ProcessState; end?: End; next: number; inflight?: Inflight;
  vmas: Vma[]; ptes: Map<number, Pte>; ranges: Piece[]; purged: Set<number>;
  fds: Map<number, FileObj>; fdNames: Map<string, number>; maps: Map<string, { start: number; pages: number }>;
}
/** An mm's answer to "is this page volatile in your mm?": the page, its frame and its range. */
interface Held { p: Proc; vpage: number; frame: Frame; piece: Piece }
interface Exchange { index: number; want: number; held: Held[]; candidates: Set<Frame> }
type Outcome = { result: Result; end?: End };

// ---- volatile range pieces ----------------------------------------------------------------------

const pieceAt = (pieces: Piece[], page: number) => pieces.find((r) => r.start <= page && page < r.end);

function cut(pieces: Piece[], s: number, e: number): Piece[] {
  const out: Piece[] = [];
  for (const r of pieces) {
    if (r.end <= s || r.start >= e) { out.push(r); continue; }
    if (r.start < s) out.push({ ...r, end: s });
    if (r.end > e) out.push({ ...r, start: e });
  }
  return out;
}

/** [start, end) runs -> sorted, maximal runs (runs that touch or overlap are joined). */
function mergeSpans(spans: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of [...spans].sort((a, b) => a[0] - b[0])) {
    const last = out.at(-1);
    if (last && last[1] >= s) last[1] = Math.max(last[1], e); else out.push([s, e]);
  }
  return out;
}

const err = (errno: string): Outcome => ({ result: { ok: false, errno } });
const ok = (fields: Record<string, unknown> = {}): Outcome => ({ result: { ok: true, ...fields } });
const lexLess = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};

// ---- the machine --------------------------------------------------------------------------------

class Model {
  steps: ModelStep[] = [];
  clock = 0;
  frames = new Set<Frame>();
  purgedPages = 0;
  files: FileObj[];
  procs: Proc[];
  nextPid = FIRST_PID;
  signals = new Set<string>();
  kernelNext = 0;
  kernelInflight?: Inflight;
  exchange?: Exchange;
  ids = 0;
  policy: PolicyName;

  constructor(private sc: Scenario, private cfg: RunConfig) {
    this.policy = cfg.policy;
    this.files = sc.files.map((f, order) => ({
      name: f.name, order, kind: f.kind, pages: f.pages, cache: new Map(), ranges: [], purged: new Set(),
    }));
    this.procs = sc.processes.map((spec) => ({
      spec, pid: 0, state: 'unborn', next: 0, vmas: [], ptes: new Map(), ranges: [], purged: new Set(),
      fds: new Map(), fdNames: new Map(), maps: new Map(),
    }));
    for (const p of this.procs) if (!p.spec.forked) { p.pid = this.nextPid++; p.state = 'running'; }
  }

  run(actions: Action[]): ModelOutcome {
    this.settle();
    for (const [i, a] of actions.entries()) {
      this.clock = i + 1;
      if (a.kind === 'step') this.grant(this.byName(a.process));
      else if (a.kind === 'kernel') this.grantKernel();
      else this.commit();
      this.settle();
    }
    this.finish();
    return { steps: this.steps, purgedPages: this.purgedPages, framesUsed: this.frames.size };
  }

  // ---- scheduling: grants, completions, deaths -------------------------------------------------

  byName(name: string): Proc {
    const p = this.procs.find((q) => q.spec.name === name);
    if (!p) throw new Error(`schedule names unknown process ${name}`);
    return p;
  }

  running(): Proc[] { return this.procs.filter((p) => p.state === 'running').sort((a, b) => a.pid - b.pid); }

  record(process: string, index: number, op: string, result: Result): void {
    this.steps.push({ process, index, op, result });
  }

  grant(p: Proc): void {
    const step = p.spec.steps[p.next];
    if (p.state !== 'running' || p.inflight || !step) throw new Error(`clock ${this.clock}: ${p.spec.name} cannot be granted a step`);
    const flight = { index: p.next, grantedAt: this.clock };
    if ((step.op === 'wait' || step.op === 'waitpid') && !this.satisfied(step)) { p.inflight = { ...flight, why: 'wait' }; return; }
    if (this.touchesHeld(p, step)) { p.inflight = { ...flight, why: 'held' }; return; }
    this.complete(p, p.next, this.exec(p, step, this.clock));
  }

  complete(p: Proc, index: number, out: Outcome): void {
    this.record(p.spec.name, index, p.spec.steps[index]!.op, out.result);
    p.next = index + 1;
    if (p.state !== 'running') return;
    if (out.end) this.endProcess(p, out.end);
    else if (p.next >= p.spec.steps.length) this.endProcess(p, { exitCode: 0 });
  }

  /**
   * A death from outside (a kernel `kill`, the OOM killer). A process whose next step is a `wait`
   * on a signal not yet sent, or a `waitpid` on a process not yet ended, is asleep in that step:
   * the step reports SIGKILL, as any step in flight does (docs/semantics.md). CHOICE: a wait whose signal has come
   * but that the scheduler has not granted yet is not in flight: the process is runnable.
   */
  kill(p: Proc): void {
    const step = p.spec.steps[p.next];
    if (!p.inflight && step && (step.op === 'wait' || step.op === 'waitpid') && !this.satisfied(step)) {
      p.inflight = { index: p.next, grantedAt: this.clock, why: 'wait' };
    }
    this.endProcess(p, { signal: 'SIGKILL' });
  }

  /** Every cause of death runs this one cleanup, within the action that caused it. */
  endProcess(p: Proc, end: End): void {
    if (p.inflight) { // CHOICE: the victim's in-flight step reports before the step that killed it
      const f = p.inflight;
      p.inflight = undefined;
      this.record(p.spec.name, f.index, p.spec.steps[f.index]!.op, { ok: false, signal: 'SIGKILL' });
      p.next = f.index + 1;
    }
    p.state = 'signal' in end ? 'killed' : 'exited';
    p.end = end;
    this.unmap(p, 0, Number.MAX_SAFE_INTEGER);
    p.fds.clear();
    p.ranges = [];
    p.purged.clear();
    this.releaseFiles();
  }

  satisfied(step: { op: 'wait'; name: string } | { op: 'waitpid'; process: string }): boolean {
    if (step.op === 'wait') return this.signals.has(step.name);
    const s = this.byName(step.process).state;
    return s === 'exited' || s === 'killed';
  }

  waitResult(step: { op: 'wait'; name: string } | { op: 'waitpid'; process: string }): Result {
    if (step.op === 'wait') return { ok: true };
    const end = this.byName(step.process).end!;
    return 'signal' in end ? { ok: true, signal: end.signal } : { ok: true, exitCode: end.exitCode };
  }

  /** After each action: wake satisfied waits (processes by pid, then the kernel), end finished processes. */
  settle(): void {
    for (let changed = true; changed;) {
      changed = false;
      for (const p of this.running()) {
        if (p.state !== 'running') continue;
        const f = p.inflight;
        const step = p.spec.steps[f?.index ?? p.next];
        if (f?.why === 'wait' && (step!.op === 'wait' || step!.op === 'waitpid') && this.satisfied(step!)) {
          p.inflight = undefined;
          this.complete(p, f.index, { result: this.waitResult(step!) });
          changed = true;
        } else if (!f && p.next >= p.spec.steps.length) {
          this.endProcess(p, { exitCode: 0 });
          changed = true;
        }
      }
      const k = this.kernelInflight;
      const ks = k && this.sc.kernel[k.index]!;
      if (k?.why === 'wait' && ks && (ks.op === 'wait' || ks.op === 'waitpid') && this.satisfied(ks)) {
        this.kernelDone(k.index, this.waitResult(ks));
        changed = true;
      }
    }
  }

  /** Deadlock: every waiting step reports stuck (processes by pid, then the kernel); the rest are killed. */
  finish(): void {
    if (this.exchange) throw new Error('the schedule ends with a reclaim exchange open');
    const waiting = (step: ProcessStep | KernelStep | undefined, fromFlight: boolean) =>
      step !== undefined && (step.op === 'wait' || step.op === 'waitpid') && (fromFlight || !this.satisfied(step));
    for (const p of this.running()) {
      const index = p.inflight?.index ?? p.next;
      const step = p.spec.steps[index];
      if (!waiting(step, p.inflight?.why === 'wait')) throw new Error(`the schedule ends while ${p.spec.name} can still run step ${index}`);
      p.inflight = undefined;
      this.record(p.spec.name, index, step!.op, { ok: false, stuck: true });
      p.next = index + 1;
    }
    const k = this.kernelInflight?.index ?? this.kernelNext;
    const ks = this.sc.kernel[k];
    if (ks) {
      if (!waiting(ks, this.kernelInflight?.why === 'wait')) throw new Error(`the schedule ends while kernel step ${k} can still run`);
      this.record('kernel', k, ks.op, { ok: false, stuck: true });
      this.kernelInflight = undefined;
      this.kernelNext = k + 1;
    }
    for (const p of this.running()) this.endProcess(p, { signal: 'SIGKILL' });
  }

  // ---- the kernel's list -----------------------------------------------------------------------

  grantKernel(): void {
    const index = this.kernelNext;
    const step = this.sc.kernel[index];
    if (this.kernelInflight || !step) throw new Error(`clock ${this.clock}: the kernel cannot be granted a step`);
    switch (step.op) {
      case 'wait': case 'waitpid':
        if (this.satisfied(step)) this.kernelDone(index, this.waitResult(step));
        else this.kernelInflight = { index, grantedAt: this.clock, why: 'wait' };
        return;
      case 'signal': this.signals.add(step.name); return this.kernelDone(index, { ok: true });
      case 'reclaim': return this.prepare(index, step.all ? Infinity : step.pages!);
      case 'kill': {
        const victim = this.byName(step.process);
        if (victim.state !== 'running') return this.kernelDone(index, { ok: false, errno: 'ESRCH' });
        this.kill(victim);
        return this.kernelDone(index, { ok: true });
      }
      case 'check': return this.kernelDone(index, this.check(step));
    }
  }

  kernelDone(index: number, result: Result): void {
    this.record('kernel', index, this.sc.kernel[index]!.op, result);
    this.kernelNext = index + 1;
    this.kernelInflight = undefined;
  }

  check(step: KernelStep & { op: 'check' }): Result {
    const mismatches: Array<{ field: string; expected: unknown; actual: unknown }> = [];
    const cmp = (field: string, expected: unknown, actual: unknown) => {
      if (expected !== undefined && JSON.stringify(expected) !== JSON.stringify(actual)) mismatches.push({ field, expected, actual });
    };
    cmp('framesUsed', step.framesUsed, this.frames.size);
    cmp('framesFree', step.framesFree, this.cfg.frames - this.frames.size);
    for (const [name, state] of Object.entries(step.processes ?? {})) cmp(`processes.${name}`, state, this.byName(name).state);
    for (const [name, want] of Object.entries(step.files ?? {})) {
      const f = this.files.find((x) => x.name === name && x.kind !== 'shmem')!;
      cmp(`files.${name}.open`, want.open, this.openCount(f));
      cmp(`files.${name}.mapped`, want.mapped, this.mappers(f).length);
      cmp(`files.${name}.volatile`, want.volatile, this.intervals(f.ranges));
    }
    return mismatches.length ? { ok: false, mismatches } : { ok: true };
  }

  intervals(pieces: Piece[]): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const r of [...pieces].sort((a, b) => a.start - b.start)) {
      const last = out.at(-1);
      if (last && last[0] + last[1] === r.start) last[1] += r.end - r.start; else out.push([r.start, r.end - r.start]);
    }
    return out;
  }

  // ---- the reclaim exchange --------------------------------------------------------------------

  /** Prepare: every mm says which of its resident pages are volatile in it, and holds those. */
  prepare(index: number, want: number): void {
    this.exchange = { index, want, held: this.answers(), candidates: new Set(this.frames) };
    this.kernelInflight = { index, grantedAt: this.clock, why: 'reclaim' };
  }

  /** Commit: decide with the answers from prepare and the file's volatility now; then the held steps run, one after another in pid order (docs/semantics.md, "the order of completions at a commit"). */
  commit(): void {
    const x = this.exchange;
    if (!x) throw new Error(`clock ${this.clock}: commit with no reclaim exchange open`);
    const held = x.held.filter((h) => h.p.state === 'running' && this.resolve(h.p, h.vpage) === h.frame);
    const candidates = new Set([...x.candidates].filter((f) => this.frames.has(f)));
    let freed = 0;
    this.purgeUnits(candidates, held, (n) => { freed += n; return freed >= x.want; });
    this.exchange = undefined;
    this.kernelDone(x.index, { ok: true, freed });
    for (const p of this.running()) {
      const f = p.inflight;
      if (p.state !== 'running' || f?.why !== 'held') continue;
      p.inflight = undefined;
      this.complete(p, f.index, this.exec(p, p.spec.steps[f.index]!, f.grantedAt));
    }
  }

  /** The frame a page of this mm sees now, if any. */
  resolve(p: Proc, vpage: number): Frame | undefined {
    const pte = p.ptes.get(vpage);
    if (pte?.own) return pte.frame ?? undefined;
    const vma = this.vmaAt(p, vpage);
    return vma?.file?.cache.get(vma.offset + vpage - vma.start);
  }

  /** Resident pages that this mm's own ranges govern (own pages; shared file or shmem pages) and mark. */
  answers(): Held[] {
    const out: Held[] = [];
    for (const p of this.running()) {
      const add = (vpage: number, frame: Frame) => {
        const piece = pieceAt(p.ranges, vpage);
        if (piece) out.push({ p, vpage, frame, piece });
      };
      for (const [vpage, pte] of p.ptes) if (pte.own && pte.frame) add(vpage, pte.frame);
      for (const vma of p.vmas) {
        if (!vma.file || vma.share !== 'shared') continue;
        for (const [fp, frame] of vma.file.cache) {
          if (fp >= vma.offset && fp < vma.offset + vma.pages) add(vma.start + fp - vma.offset, frame);
        }
      }
    }
    return out;
  }

  /** Units in purge order; each is tried whole; `enough` is told the frames each unit freed. */
  purgeUnits(candidates: Set<Frame>, held: Held[], enough: (freed: number) => boolean): void {
    const isHeld = (p: Proc, vpage: number, frame: Frame) => held.some((h) => h.p === p && h.vpage === vpage && h.frame === frame);
    for (const unit of this.units(candidates, held)) {
      let freed = 0;
      for (const frame of unit) if (this.frames.has(frame) && this.decide(frame, isHeld)) { this.purge(frame, isHeld); freed++; }
      if (enough(freed)) return;
    }
  }

  units(candidates: Set<Frame>, held: Held[]): Frame[][] {
    const units: Array<{ key: number[]; frames: Frame[] }> = [];
    if (this.cfg.purgeUnit === 'range') {
      // Oldest mark first; ties: the files' ranges (file order), then processes by pid, then lowest address.
      for (const f of this.files) {
        for (const id of new Set(f.ranges.map((r) => r.id))) {
          const pieces = f.ranges.filter((r) => r.id === id);
          const frames = [...f.cache].filter(([fp, fr]) => candidates.has(fr) && pieces.some((r) => r.start <= fp && fp < r.end))
            .sort((a, b) => a[0] - b[0]);
          units.push({ key: [pieces[0]!.markedAt, 0, f.order, frames[0]?.[0] ?? Infinity], frames: frames.map((e) => e[1]) });
        }
      }
      const byRange = new Map<string, Held[]>();
      for (const h of held) if (candidates.has(h.frame)) {
        const k = `${h.p.pid}:${h.piece.id}`;
        byRange.set(k, [...(byRange.get(k) ?? []), h]);
      }
      for (const hs of byRange.values()) {
        hs.sort((a, b) => a.vpage - b.vpage);
        units.push({ key: [hs[0]!.piece.markedAt, 1, hs[0]!.p.pid, hs[0]!.vpage], frames: [...new Set(hs.map((h) => h.frame))] });
      }
    } else {
      // Least recently used first; CHOICE: ties as for ranges (file pages, then by lowest pid and address).
      for (const fr of candidates) {
        const marks = held.filter((h) => h.frame === fr).sort((a, b) => a.p.pid - b.p.pid || a.vpage - b.vpage);
        const named = fr.file && fr.file.kind !== 'shmem';
        if (!(marks.length > 0 || (named && pieceAt(fr.file!.ranges, fr.fpage)))) continue;
        const tie = named ? [0, fr.file!.order, fr.fpage] : [1, marks[0]!.p.pid, marks[0]!.vpage];
        units.push({ key: [fr.lastUse, ...tie], frames: [fr] });
      }
    }
    return units.sort((a, b) => lexLess(a.key, b.key)).map((u) => u.frames);
  }

  /** The policy: purge or keep this page, given each mapper's answer. A mapper not asked counts as not volatile. */
  decide(frame: Frame, isHeld: (p: Proc, vpage: number, frame: Frame) => boolean): boolean {
    const everyMapperMarked = (ms: Array<{ p: Proc; vpage: number }>) => ms.length > 0 && ms.every((m) => isHeld(m.p, m.vpage, frame));
    if (!frame.file) return everyMapperMarked(this.anonMappers(frame));
    const maps = this.pageMappers(frame.file, frame.fpage);
    if (frame.file.kind === 'shmem') return everyMapperMarked(maps);
    const fileVolatile = pieceAt(frame.file.ranges, frame.fpage) !== undefined; // read now (at commit)
    if (this.policy === 'per-mm') {
      if (maps.some((m) => m.vma.share === 'private')) return false; // a private mapper protects it (i_mmap)
      return fileVolatile || everyMapperMarked(maps);
    }
    // shared-file, anon-only: a page mapped private and not yet copied is skipped.
    return fileVolatile && !maps.some((m) => m.vma.share === 'private' && m.p.ptes.get(m.vpage)?.own === false);
  }

  purge(frame: Frame, isHeld: (p: Proc, vpage: number, frame: Frame) => boolean): void {
    this.purgedPages++;
    this.frames.delete(frame);
    if (!frame.file) {
      for (const m of this.anonMappers(frame)) { m.p.ptes.set(m.vpage, { own: true, frame: null }); m.p.purged.add(m.vpage); }
      return;
    }
    const f = frame.file;
    for (const m of this.pageMappers(f, frame.fpage)) {
      if (m.p.ptes.get(m.vpage)?.own === false) m.p.ptes.delete(m.vpage);
      if (isHeld(m.p, m.vpage, frame)) m.p.purged.add(m.vpage);
    }
    f.cache.delete(frame.fpage);
    if (f.kind !== 'shmem' && pieceAt(f.ranges, frame.fpage)) f.purged.add(frame.fpage);
  }

  // ---- frames, direct reclaim, OOM -------------------------------------------------------------

  /**
   * A free frame for `p`, purging one unit at a time, then OOM-killing. null: `p` itself is the
   * victim. undefined: after a kill, `need` says the fault needs no frame any more (the source's
   * other mappers are gone: the caller looks again and reuses it, as do_wp_page does).
   */
  allocFrame(p: Proc, value: string, source?: Frame, need: () => boolean = () => true): Frame | null | undefined {
    while (this.frames.size >= this.cfg.frames) {
      // docs/semantics.md: every frame resident at an open exchange's prepare is that exchange's
      // candidate and no other's. CHOICE: the page being faulted on (the COW source) is locked too.
      const isolated = this.exchange?.candidates ?? new Set<Frame>();
      const candidates = new Set([...this.frames].filter((f) => !isolated.has(f) && f !== source));
      this.purgeUnits(candidates, this.answers(), () => this.frames.size < this.cfg.frames);
      if (this.frames.size < this.cfg.frames) break;
      const victim = this.oomVictim(p);
      if (victim === p) return null;
      this.kill(victim);
      if (!need()) return undefined;
    }
    const frame: Frame = { value, lastUse: this.clock, fpage: -1 };
    this.frames.add(frame);
    return frame;
  }

  /** Most page-table entries with a frame; ties: first in the scenario's order; none: the faulting process. */
  oomVictim(faulting: Proc): Proc {
    let best: Proc = faulting;
    let most = 0;
    for (const q of this.procs) {
      if (q.state !== 'running') continue;
      const n = [...q.ptes.values()].filter((e) => !e.own || e.frame).length;
      if (n > most) { best = q; most = n; }
    }
    return best;
  }

  anonMappers(frame: Frame): Array<{ p: Proc; vpage: number }> {
    const out: Array<{ p: Proc; vpage: number }> = [];
    for (const p of this.running()) for (const [vpage, e] of p.ptes) if (e.own && e.frame === frame) out.push({ p, vpage });
    return out;
  }

  /** Every mapping over this file page (i_mmap), touched or not. */
  pageMappers(f: FileObj, fp: number): Array<{ p: Proc; vma: Vma; vpage: number }> {
    return this.mappers(f).filter((m) => fp >= m.vma.offset && fp < m.vma.offset + m.vma.pages)
      .map((m) => ({ ...m, vpage: m.vma.start + fp - m.vma.offset }));
  }

  mappers(f: FileObj): Array<{ p: Proc; vma: Vma }> {
    return this.running().flatMap((p) => p.vmas.filter((v) => v.file === f).map((vma) => ({ p, vma })));
  }

  openCount(f: FileObj): number {
    return this.running().reduce((n, p) => n + [...p.fds.values()].filter((g) => g === f).length, 0);
  }

  freeFrame(frame: Frame): void {
    this.frames.delete(frame);
    frame.file?.cache.delete(frame.fpage);
  }

  /** Final release: no fd and no mapping. Volatility goes; ashmem and hidden shmem lose their pages. */
  releaseFiles(): void {
    for (const f of [...this.files]) {
      if (this.mappers(f).length > 0 || this.openCount(f) > 0) continue;
      f.ranges = [];
      f.purged.clear();
      if (f.kind !== 'tmpfs') for (const frame of [...f.cache.values()]) this.freeFrame(frame);
      if (f.kind === 'shmem') this.files.splice(this.files.indexOf(f), 1);
    }
  }

  // ---- the mm ------------------------------------------------------------------------------------

  vmaAt(p: Proc, vpage: number): Vma | undefined {
    return p.vmas.find((v) => v.start <= vpage && vpage < v.start + v.pages);
  }

  fullyMapped(p: Proc, s: number, e: number): boolean {
    let next = s;
    for (const seg of this.segments(p, s, e)) {
      if (seg.from !== next) return false;
      next = seg.to;
    }
    return next >= e;
  }

  /** The VMA pieces covering [s, e), ascending (gaps absent): a span costs O(VMAs), not O(pages). */
  segments(p: Proc, s: number, e: number): Array<{ vma: Vma; from: number; to: number }> {
    return p.vmas.filter((v) => v.start < e && v.start + v.pages > s).sort((a, b) => a.start - b.start)
      .map((vma) => ({ vma, from: Math.max(s, vma.start), to: Math.min(e, vma.start + vma.pages) }));
  }

  /** Lowest free gap of `pages` pages from FIRST_VPAGE (first fit; freed addresses are reused). */
  pickAddr(p: Proc, pages: number): number {
    let at = FIRST_VPAGE;
    for (const v of [...p.vmas].sort((a, b) => a.start - b.start)) {
      if (v.start - at >= pages) return at;
      at = Math.max(at, v.start + v.pages);
    }
    return at;
  }

  /** munmap(2): whatever lies in [s, e), holes included; the span loses its volatility. */
  unmap(p: Proc, s: number, e: number): void {
    const kept: Vma[] = [];
    for (const v of p.vmas) {
      const end = v.start + v.pages;
      if (end <= s || v.start >= e) { kept.push(v); continue; }
      if (v.start < s) kept.push({ ...v, pages: s - v.start });
      if (end > e) kept.push({ ...v, start: e, pages: end - e, offset: v.offset + (e - v.start) });
    }
    p.vmas = kept;
    const dropped: Frame[] = [];
    for (const [vpage, pte] of [...p.ptes]) {
      if (vpage < s || vpage >= e) continue;
      p.ptes.delete(vpage);
      if (pte.own && pte.frame) dropped.push(pte.frame);
    }
    for (const frame of dropped) if (this.frames.has(frame) && this.anonMappers(frame).length === 0) this.freeFrame(frame);
    p.ranges = cut(p.ranges, s, e);
    for (const v of [...p.purged]) if (v >= s && v < e) p.purged.delete(v);
    this.releaseFiles();
  }

  /** volatile/purged as this process sees the page under the policy. */
  view(p: Proc, vma: Vma, vpage: number): { volatile: boolean; purged: boolean } {
    const mm = { volatile: pieceAt(p.ranges, vpage) !== undefined, purged: p.purged.has(vpage) };
    if (p.ptes.get(vpage)?.own || !vma.file || vma.file.kind === 'shmem') return mm;
    const fp = vma.offset + vpage - vma.start;
    const file = { volatile: pieceAt(vma.file.ranges, fp) !== undefined, purged: vma.file.purged.has(fp) };
    if (vma.share === 'private' || this.policy !== 'per-mm') return file;
    // CHOICE: per-mm, shared file mapping: either the file's own mark or this mm's mark counts.
    return { volatile: file.volatile || mm.volatile, purged: (file.purged && file.volatile) || (mm.purged && mm.volatile) };
  }

  sigbus(p: Proc, vma: Vma, vpage: number): Outcome | undefined {
    if (this.cfg.access !== 'sigbus') return undefined;
    const v = this.view(p, vma, vpage);
    if (!(v.purged && v.volatile)) return undefined;
    return { result: { ok: false, signal: 'SIGBUS' }, end: p.spec.sigbus === 'kill' ? { signal: 'SIGBUS' } : undefined };
  }

  // ---- the steps -------------------------------------------------------------------------------

  /** Span [s, e) of vpages a vrange/query/munmap would touch, or the errno it fails with first. */
  span(p: Proc, step: ProcessStep): { s: number; e: number } | { errno: string } | undefined {
    switch (step.op) {
      case 'read': case 'write': { const v = this.vpage(p, step.map, step.page); return { s: v, e: v + 1 }; }
      case 'munmap': {
        const b = p.maps.get(step.map);
        if (!b) return { errno: 'EINVAL' }; // the binding's mmap failed: munmap(MAP_FAILED)
        const first = step.page ?? 0;
        const n = step.pages ?? b.pages - first;
        return n <= 0 ? { errno: 'EINVAL' } : { s: b.start + first, e: b.start + first + n };
      }
      case 'query': {
        if (step.map === undefined) return undefined;
        if (step.pages === 0) return { errno: 'EINVAL' };
        if (step.pages > QUERY_PAGES_MAX) return { errno: 'E2BIG' };
        const s = this.mapStart(p, step.map) + step.page;
        return this.fullyMapped(p, s, s + step.pages) ? { s, e: s + step.pages } : { errno: 'ENOMEM' };
      }
      case 'vrange': {
        const r = this.pageRange(step);
        if ('errno' in r) return r;
        const s = this.mapStart(p, step.map) + r.first;
        if (!this.fullyMapped(p, s, s + r.n)) return { errno: 'ENOMEM' };
        const refused = this.policy === 'anon-only' && p.vmas.some((v) => v.file && v.file.kind !== 'shmem' && v.start < s + r.n && v.start + v.pages > s);
        return refused ? { errno: 'EINVAL' } : { s, e: s + r.n };
      }
      default: return undefined;
    }
  }

  /** A step touching a page held by the open exchange waits for the commit (CHOICE: errors do not wait). */
  touchesHeld(p: Proc, step: ProcessStep): boolean {
    const x = this.exchange;
    const sp = x && this.span(p, step);
    if (!sp || 'errno' in sp) return false;
    return x.held.some((h) => h.p === p && h.vpage >= sp.s && h.vpage < sp.e);
  }

  /** page/pages or byteOffset/byteLength (rounded down to whole pages), with the mode checked. */
  pageRange(step: { page?: number; pages?: number; byteOffset?: number; byteLength?: number; mode: string }):
    { first: number; n: number } | { errno: string } {
    if (step.mode !== 'volatile' && step.mode !== 'nonvolatile') return { errno: 'EINVAL' };
    if (step.byteOffset !== undefined) {
      if (step.byteOffset % PAGE_BYTES !== 0) return { errno: 'EINVAL' };
      const n = Math.floor(step.byteLength! / PAGE_BYTES);
      return n === 0 ? { errno: 'EINVAL' } : { first: step.byteOffset / PAGE_BYTES, n };
    }
    return step.pages === 0 ? { errno: 'EINVAL' } : { first: step.page!, n: step.pages! };
  }

  vpage(p: Proc, map: string, page: number): number { return this.mapStart(p, map) + page; }

  /** docs/semantics.md: a binding whose mmap failed names no memory (an address never mapped). */
  mapStart(p: Proc, map: string): number { return p.maps.get(map)?.start ?? -(2 ** 40); }

  fdFile(p: Proc, name: string): FileObj | undefined {
    const fd = p.fdNames.get(name);
    return fd === undefined ? undefined : p.fds.get(fd);
  }

  exec(p: Proc, step: ProcessStep, grantedAt: number): Outcome {
    switch (step.op) {
      case 'open': {
        if (!this.files.some((f) => f.name === step.file && f.kind !== 'shmem')) return err('ENOENT');
        let fd = FIRST_FD;
        while (p.fds.has(fd)) fd++;
        p.fds.set(fd, this.files.find((f) => f.name === step.file && f.kind !== 'shmem')!);
        p.fdNames.set(step.fd ?? step.file, fd);
        return ok({ fd });
      }
      case 'close': {
        const fd = p.fdNames.get(step.fd);
        if (fd === undefined || !p.fds.has(fd)) return err('EBADF');
        p.fds.delete(fd);
        this.releaseFiles();
        return ok();
      }
      case 'mmap': return this.mmap(p, step);
      case 'munmap': {
        const sp = this.span(p, step)!;
        if ('errno' in sp) return err(sp.errno);
        this.unmap(p, sp.s, sp.e);
        return ok();
      }
      case 'read': return this.read(p, step.map, step.page);
      case 'write': return this.write(p, step.map, step.page, step.value);
      case 'vrange': return this.vrange(p, step, grantedAt);
      case 'fvrange': return this.fvrange(p, step, grantedAt);
      case 'query': return this.query(p, step);
      case 'fork': return this.fork(p, step.child);
      case 'exit': return { result: { ok: true }, end: { exitCode: step.code ?? 0 } };
      case 'crash': return { result: { ok: false, signal: 'SIGKILL' }, end: { signal: 'SIGKILL' } };
      case 'signal': this.signals.add(step.name); return ok();
      case 'wait': case 'waitpid': return { result: this.waitResult(step) };
    }
  }

  mmap(p: Proc, step: ProcessStep & { op: 'mmap' }): Outcome {
    if (step.pages === 0) return err('EINVAL');
    let file: FileObj | undefined;
    const offset = step.fd !== undefined ? step.offset ?? 0 : 0;
    if (step.fd !== undefined) {
      file = this.fdFile(p, step.fd);
      if (!file) return err('EBADF');
      if (offset + step.pages > file.pages) return err('EINVAL');
    }
    const share: Share = step.share ?? (file ? 'shared' : 'private');
    if (!file && share === 'shared') { // shared anonymous memory: a hidden shmem file
      file = { name: `shmem:${++this.ids}`, order: Infinity, kind: 'shmem', pages: step.pages, cache: new Map(), ranges: [], purged: new Set() };
      this.files.push(file);
    }
    const start = this.pickAddr(p, step.pages);
    p.vmas.push({ start, pages: step.pages, file, offset, share });
    p.ranges = cut(p.ranges, start, start + step.pages); // a new mmap starts with no volatility
    for (const v of [...p.purged]) if (v >= start && v < start + step.pages) p.purged.delete(v);
    p.maps.set(step.as, { start, pages: step.pages });
    return ok({ addr: start * PAGE_BYTES });
  }

  read(p: Proc, map: string, page: number): Outcome {
    const v = this.vpage(p, map, page);
    const vma = this.vmaAt(p, v);
    if (!vma) return { result: { ok: false, signal: 'SIGSEGV' }, end: { signal: 'SIGSEGV' } };
    const bus = this.sigbus(p, vma, v);
    if (bus) return bus;
    const pte = p.ptes.get(v);
    if (pte?.own) {
      if (!pte.frame) return ok({ value: '' });
      pte.frame.lastUse = this.clock;
      return ok({ value: pte.frame.value });
    }
    const frame = vma.file?.cache.get(vma.offset + v - vma.start);
    if (!frame) return ok({ value: '' }); // never written, a hole, or purged: the shared zero page
    frame.lastUse = this.clock;
    p.ptes.set(v, { own: false });
    return ok({ value: frame.value });
  }

  write(p: Proc, map: string, page: number, value: string): Outcome {
    const v = this.vpage(p, map, page);
    const vma = this.vmaAt(p, v);
    if (!vma) return { result: { ok: false, signal: 'SIGSEGV' }, end: { signal: 'SIGSEGV' } };
    const bus = this.sigbus(p, vma, v);
    if (bus) return bus;
    const oom: Outcome = { result: { ok: false, signal: 'SIGKILL' }, end: { signal: 'SIGKILL' } };
    const pte = p.ptes.get(v);
    const fp = vma.offset + v - vma.start;
    if (pte?.own) {
      for (;;) {
        const source = pte.frame;
        if (source && this.anonMappers(source).length === 1) { // its only mapper: written in place
          source.value = value;
          source.lastUse = this.clock;
          return ok();
        }
        // Copy-on-write, or a purged page. CHOICE (docs/semantics.md): a copy is needed only while
        // the source is shared; once an OOM kill leaves one mapper, the fault reuses it.
        const frame = this.allocFrame(p, value, source ?? undefined, () => !source || this.anonMappers(source).length > 1);
        if (frame === null) return oom;
        if (frame === undefined) continue;
        p.ptes.set(v, { own: true, frame });
        return ok();
      }
    }
    if (vma.file && vma.share === 'shared') {
      let frame = vma.file.cache.get(fp);
      if (frame) { frame.value = value; frame.lastUse = this.clock; } else {
        const fresh = this.allocFrame(p, value);
        if (!fresh) return oom; // (its need never changes: a kill does not fill a hole)
        frame = fresh;
        frame.file = vma.file;
        frame.fpage = fp;
        vma.file.cache.set(fp, frame);
      }
      p.ptes.set(v, { own: false });
      return ok();
    }
    // Private: a page of its own. CHOICE (docs/semantics.md): the copy is allocated before the
    // file's page is looked up (do_cow_fault), so that page is not locked: direct reclaim may purge
    // it, and the fault then sees the purge.
    const frame = this.allocFrame(p, value);
    if (!frame) return oom;
    if (vma.file && !vma.file.cache.has(fp)) {
      const bus = this.sigbus(p, vma, v);
      if (bus) { this.frames.delete(frame); return bus; }
    }
    p.ptes.set(v, { own: true, frame });
    return ok();
  }

  vrange(p: Proc, step: ProcessStep & { op: 'vrange' }, markedAt: number): Outcome {
    const sp = this.span(p, step)!;
    if ('errno' in sp) return err(sp.errno);
    // Each page goes to the file (shared-file, shared file mapping) or to this mm: as runs of
    // pages, one per VMA piece (merged where they touch), never one entry per page.
    const mmPages: Array<[number, number]> = [];
    const filePages = new Map<FileObj, Array<[number, number]>>();
    for (const { vma, from, to } of this.segments(p, sp.s, sp.e)) {
      if (vma.file && vma.file.kind !== 'shmem' && vma.share === 'shared' && this.policy === 'shared-file') {
        filePages.set(vma.file, [...(filePages.get(vma.file) ?? []), [vma.offset + from - vma.start, vma.offset + to - vma.start]]);
      } else mmPages.push([from, to]);
    }
    const bytes = (sp.e - sp.s) * PAGE_BYTES;
    if (step.mode === 'volatile') {
      p.ranges = this.mark(p.ranges, mmPages, markedAt);
      for (const [f, fps] of filePages) f.ranges = this.mark(f.ranges, fps, markedAt);
      return ok({ bytes });
    }
    let purged = this.unmark(p, mmPages);
    for (const [f, fps] of filePages) purged = this.unmark(f, fps) || purged;
    return ok({ bytes, purged });
  }

  fvrange(p: Proc, step: ProcessStep & { op: 'fvrange' }, markedAt: number): Outcome {
    const f = this.fdFile(p, step.fd);
    if (!f) return err('EBADF');
    const r = this.pageRange(step);
    if ('errno' in r) return err(r.errno);
    if (r.first + r.n > f.pages) return err('EINVAL');
    const fps: Array<[number, number]> = [[r.first, r.first + r.n]];
    const bytes = r.n * PAGE_BYTES;
    if (step.mode === 'volatile') { f.ranges = this.mark(f.ranges, fps, markedAt); return ok({ bytes }); }
    return ok({ bytes, purged: this.unmark(f, fps) });
  }

  /** One call, one range (one id), whatever pieces it takes. Purged markers are kept. `spans`: [start, end) page runs. */
  mark(pieces: Piece[], spans: Array<[number, number]>, markedAt: number): Piece[] {
    if (spans.length === 0) return pieces;
    const id = ++this.ids;
    for (const [s, e] of mergeSpans(spans)) pieces = [...cut(pieces, s, e), { id, start: s, end: e, markedAt }];
    return pieces;
  }

  /** Nonvolatile: true iff a page of these [start, end) runs was purged while volatile; the markers go. */
  unmark(store: { ranges: Piece[]; purged: Set<number> }, spans: Array<[number, number]>): boolean {
    let purged = false;
    for (const pg of [...store.purged]) {
      if (spans.some(([s, e]) => pg >= s && pg < e)) { store.purged.delete(pg); purged = true; }
    }
    for (const [s, e] of mergeSpans(spans)) store.ranges = cut(store.ranges, s, e);
    return purged;
  }

  query(p: Proc, step: ProcessStep & { op: 'query' }): Outcome {
    if (step.fd !== undefined) {
      if (step.pages === 0) return err('EINVAL');
      if (step.pages > QUERY_PAGES_MAX) return err('E2BIG');
      const f = this.fdFile(p, step.fd);
      if (!f) return err('EBADF');
      if (step.page + step.pages > f.pages) return err('EINVAL');
      const pages = Array.from({ length: step.pages }, (_, i) => {
        const page = step.page + i;
        return { page, resident: f.cache.has(page), volatile: pieceAt(f.ranges, page) !== undefined, purged: f.purged.has(page) };
      });
      return ok({ pages });
    }
    const sp = this.span(p, step)!;
    if ('errno' in sp) return err(sp.errno);
    const pages = Array.from({ length: step.pages }, (_, i) => {
      const v = sp.s + i;
      const vma = this.vmaAt(p, v)!;
      return { page: step.page + i, resident: this.resolve(p, v) !== undefined, ...this.view(p, vma, v) };
    });
    return ok({ pages });
  }

  fork(p: Proc, childName: string): Outcome {
    const c = this.byName(childName);
    c.pid = this.nextPid++;
    c.state = 'running';
    c.vmas = p.vmas.map((v) => ({ ...v }));
    // Private pages become copy-on-write in both; page-cache pages are not copied (faulted in again).
    c.ptes = new Map([...p.ptes].filter(([, e]) => e.own).map(([v, e]) => [v, { ...e }]));
    c.ranges = p.ranges.map((r) => ({ ...r }));
    c.purged = new Set(p.purged);
    c.fds = new Map(p.fds);
    c.fdNames = new Map(p.fdNames);
    c.maps = new Map(p.maps);
    return ok({ pid: c.pid });
  }
}

/**
 * A model run driven one action at a time, for enumerating schedules (`vrange explore --all`).
 * `enabled()` lists what a lockstep kernel may grant next, named as its `schedule` events name
 * them: each running process whose next step does not wait on something not yet true (pid
 * order), then `commit` if an exchange is open, else `kernel` if the kernel's next step can run.
 */
export interface ModelSession {
  enabled(): string[];
  /** The next step of the process (or kernel list) an action would run, if any. */
  nextStep(name: string): ProcessStep | KernelStep | undefined;
  apply(name: string): void;
  finish(): ModelOutcome;
}

export function modelSession(scenario: Scenario, config: RunConfig): ModelSession {
  const m = new Model(scenario, config);
  m.settle();
  let clock = 0;
  const canRun = (step: ProcessStep | KernelStep | undefined) =>
    step !== undefined && !((step.op === 'wait' || step.op === 'waitpid') && !m.satisfied(step));
  return {
    enabled() {
      const out: string[] = [];
      for (const p of m.running()) if (!p.inflight && canRun(p.spec.steps[p.next])) out.push(p.spec.name);
      if (m.exchange) out.push('commit');
      else if (!m.kernelInflight && canRun(scenario.kernel[m.kernelNext])) out.push('kernel');
      return out;
    },
    nextStep(name) {
      if (name === 'kernel' || name === 'commit') return scenario.kernel[m.kernelNext];
      const p = m.byName(name);
      return p.spec.steps[p.next];
    },
    apply(name) {
      m.clock = ++clock;
      if (name === 'kernel') m.grantKernel();
      else if (name === 'commit') m.commit();
      else m.grant(m.byName(name));
      m.settle();
    },
    finish() {
      m.finish();
      return { steps: m.steps, purgedPages: m.purgedPages, framesUsed: m.frames.size };
    },
  };
}

/** Replays a lockstep schedule: one action per grant; `commit` closes the open reclaim exchange. */
export function runModel(scenario: Scenario, config: RunConfig, actions: Action[]): ModelOutcome {
  return new Model(scenario, config).run(actions);
}
