// The reference model's state (model/model.ts): frames, files, processes, the open exchange and the
// clock, with what the mm of a process is: its VMAs (lookup, the pieces a span covers, the first-fit
// address, munmap), the page a vpage sees, the mappers of a frame or file page (i_mmap, by scan:
// scenarios are small), the final release of files, and how a page looks to its process under the
// policy (volatile, purged, SIGBUS). Layers above: reclaim.ts, steps.ts, model.ts.

import type { PolicyName, RunConfig, Scenario } from '../shared/scenario-types.js';
import {
  cut, FIRST_PID, FIRST_VPAGE, KERNEL_NAME, pieceAt,
  type Exchange, type FileObj, type Frame, type Inflight, type ModelStep, type Outcome, type Proc, type Result, type Vma,
} from './types.js';

export abstract class MmModel {
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
  frameSerial = 0;
  policy: PolicyName;
  /** madv-free: accesses within one action, so that each read or write is a use of its own (the kernel's access clock ticks per access). */
  useClock = 0;
  uses = 0;

  constructor(protected readonly sc: Scenario, protected readonly cfg: RunConfig) {
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

  /** The LRU stamp of a read or write now: the action's clock, and under madv-free its order within the action (held steps at a commit). */
  now(): number {
    if (this.policy !== 'madv-free') return this.clock;
    if (this.useClock !== this.clock) { this.useClock = this.clock; this.uses = 0; }
    return this.clock + ++this.uses / 2 ** 20;
  }

  /** madv-free: the frame is lazyfree (some mapper's pte is marked). */
  lazyfree(frame: Frame): boolean {
    return this.anonMappers(frame).some((m) => { const e = m.p.ptes.get(m.vpage); return e?.own === true && e.lazy === true; });
  }

  byName(name: string): Proc {
    const p = this.procs.find((q) => q.spec.name === name);
    if (!p) throw new Error(`schedule names unknown process ${name}`);
    return p;
  }

  running(): Proc[] { return this.procs.filter((p) => p.state === 'running').sort((a, b) => a.pid - b.pid); }

  record(process: string, index: number, op: string, result: Result): void {
    this.steps.push({ process, index, op, result });
  }

  /** A step of the kernel list: `process: "kernel"` and `kernel: true` (a process may be named `kernel`). */
  recordKernel(index: number, op: string, result: Result): void {
    this.steps.push({ process: KERNEL_NAME, index, op, result, kernel: true });
  }

  /** The frame a page of this mm sees now, if any. */
  resolve(p: Proc, vpage: number): Frame | undefined {
    const pte = p.ptes.get(vpage);
    if (pte?.own) return pte.frame ?? undefined;
    const vma = this.vmaAt(p, vpage);
    return vma?.file?.cache.get(vma.offset + vpage - vma.start);
  }

  // ---- mappers and the final release -------------------------------------------------------------

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
    if (this.policy === 'madv-free') { // marked and not written since by this mm; nothing is ever "purged"
      const pte = p.ptes.get(vpage);
      return { volatile: pte?.own === true && pte.frame !== null && pte.lazy === true, purged: false };
    }
    const mm = { volatile: pieceAt(p.ranges, vpage) !== undefined, purged: p.purged.has(vpage) };
    if (p.ptes.get(vpage)?.own || !vma.file || vma.file.kind === 'shmem') return mm;
    const fp = vma.offset + vpage - vma.start;
    const file = { volatile: pieceAt(vma.file.ranges, fp) !== undefined, purged: vma.file.purged.has(fp) };
    if (vma.share === 'private' || this.policy !== 'per-mm') return file;
    // CHOICE: per-mm, shared file mapping: either the file's own mark or this mm's mark counts.
    return { volatile: file.volatile || mm.volatile, purged: (file.purged && file.volatile) || (mm.purged && mm.volatile) };
  }

  sigbus(p: Proc, vma: Vma, vpage: number): Outcome | undefined {
    if (this.cfg.access !== 'sigbus' || this.policy === 'madv-free') return undefined; // a freed lazyfree page reads ""
    const v = this.view(p, vma, vpage);
    if (!(v.purged && v.volatile)) return undefined;
    return { result: { ok: false, signal: 'SIGBUS' }, end: p.spec.sigbus === 'kill' ? { signal: 'SIGBUS' } : undefined };
  }
}
