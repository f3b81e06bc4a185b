// The reference model's step semantics (model/model.ts), one op at a time: the span a step touches
// and the errno it fails with first, open/close, mmap/munmap, read and write (copy-on-write, the
// shared zero page, SIGBUS on a purged page), vrange/fvrange (marking and unmarking, `purged`),
// query and fork. Waiting and dying are the scheduling layer's (model.ts, abstract here).

import type { ProcessStep, Share } from '../shared/scenario-types.js';
import { ReclaimModel } from './reclaim.js';
import {
  cut, err, FIRST_FD, mergeSpans, ok, PAGE_BYTES, pageRead, pageWrite, pieceAt, QUERY_PAGES_MAX,
  type FileObj, type Frame, type Outcome, type PageValue, type Piece, type Proc, type Pte, type Result,
} from './types.js';

export abstract class StepModel extends ReclaimModel {
  abstract waitResult(step: { op: 'wait'; name: string } | { op: 'waitpid'; process: string }): Result;

  // ---- the steps -------------------------------------------------------------------------------

  /** Span [s, e) of vpages a vrange/query/munmap would touch, or the errno it fails with first. */
  span(p: Proc, step: ProcessStep): { s: number; e: number; pieces?: Array<[number, number]> } | { errno: string } | undefined {
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
        if (this.policy === 'madv-free') { // what it marks, even when it then fails (ENOMEM, EINVAL): that waits for held pages
          const m = this.madvSpan(p, step);
          return m.pieces.length ? { s: m.s, e: m.e, pieces: m.pieces } : { errno: m.errno! };
        }
        const r = this.pageRange(step);
        if ('errno' in r) return r;
        const s = this.mapStart(p, step.map) + r.first;
        // The VMAs in address order, as v14's madvise_volatile walks them: a VMA's kind (anon-only
        // refuses a file mapping: EINVAL) before the hole in front of it (ENOMEM); a hole at the end is ENOMEM.
        let next = s;
        for (const seg of this.segments(p, s, s + r.n)) {
          if (this.policy === 'anon-only' && seg.vma.file && seg.vma.file.kind !== 'shmem') return { errno: 'EINVAL' };
          if (seg.from !== next) return { errno: 'ENOMEM' };
          next = seg.to;
        }
        return next >= s + r.n ? { s, e: s + r.n } : { errno: 'ENOMEM' };
      }
      default: return undefined;
    }
  }

  /**
   * madvise(MADV_FREE)'s walk (mm/madvise.c madvise_walk_vmas): the VMA pieces of the span in address
   * order; a VMA that is not private anonymous stops it with EINVAL (the pieces before it are still
   * marked), a hole gives ENOMEM at the end (every anonymous piece marked). `pieces`: [from, to) to mark.
   */
  madvSpan(p: Proc, step: ProcessStep & { op: 'vrange' }): { s: number; e: number; pieces: Array<[number, number]>; errno?: string } {
    const r = this.pageRange(step);
    if ('errno' in r) return { s: 0, e: 0, pieces: [], errno: r.errno };
    if (step.mode !== 'volatile') return { s: 0, e: 0, pieces: [], errno: 'EINVAL' }; // MADV_FREE has no inverse
    const s = this.mapStart(p, step.map) + r.first;
    const e = s + r.n;
    const pieces: Array<[number, number]> = [];
    for (const { vma, from, to } of this.segments(p, s, e)) {
      if (vma.file || vma.share !== 'private') return { s, e, pieces, errno: 'EINVAL' }; // !vma_is_anonymous
      pieces.push([from, to]);
    }
    return { s, e, pieces, ...(this.fullyMapped(p, s, e) ? {} : { errno: 'ENOMEM' }) };
  }

  /**
   * MADV_FREE of the resident pages of `pieces`: each pte marked, clean and old. CHOICE (docs/semantics.md,
   * the choices left open): no folio dirty bit, so a page another mm maps is marked even after a scan redirtied it.
   */
  madvFree(p: Proc, pieces: Array<[number, number]>): void {
    for (const [vpage, pte] of p.ptes) {
      if (!pte.own || !pte.frame || !pieces.some(([from, to]) => vpage >= from && vpage < to)) continue; // pte_none: untouched
      pte.lazy = true;
      pte.dirty = false;
      pte.young = false;
    }
  }

  /** A step touching a page held by the open exchange waits for the commit (CHOICE: errors do not wait). */
  touchesHeld(p: Proc, step: ProcessStep): boolean {
    const x = this.exchange;
    const sp = x && this.span(p, step);
    if (!sp || 'errno' in sp) return false;
    // madv-free: a vrange that marks part of its span (then EINVAL or ENOMEM) waits if it would mark a held page.
    const pieces = sp.pieces;
    const within = pieces ? (v: number) => pieces.some(([a, b]) => v >= a && v < b) : (v: number) => v >= sp.s && v < sp.e;
    return x.held.some((h) => h.p === p && within(h.vpage));
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
      case 'write': return this.write(p, step.map, step.page, step.value, step.offset);
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
      pte.frame.lastUse = this.now();
      if (this.policy === 'madv-free') pte.young = true;
      return ok({ value: pageRead(pte.frame.value) });
    }
    const frame = vma.file?.cache.get(vma.offset + v - vma.start);
    if (!frame) return ok({ value: '' }); // never written, a hole, or purged: the shared zero page
    frame.lastUse = this.now();
    p.ptes.set(v, { own: false });
    return ok({ value: pageRead(frame.value) });
  }

  /** With `offset`, a sub-page write: the same faults, and only those bytes change (`put`). */
  write(p: Proc, map: string, page: number, data: string, offset?: number): Outcome {
    const put = (before: PageValue | undefined) => pageWrite(before, data, offset);
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
          source.value = put(source.value);
          source.lastUse = this.now();
          if (this.policy === 'madv-free') { pte.lazy = false; pte.dirty = true; pte.young = true; } // the write takes this page's mark back
          return ok();
        }
        // Copy-on-write, or a purged page. CHOICE (docs/semantics.md): a copy is needed only while
        // the source is shared; once an OOM kill leaves one mapper, the fault reuses it.
        // The copy starts as the source (pinned meanwhile), or as zeros once purged.
        const frame = this.allocFrame(p, put(source?.value), source ?? undefined, () => !source || this.anonMappers(source).length > 1);
        if (frame === null) return oom;
        if (frame === undefined) continue;
        p.ptes.set(v, this.newPte(frame));
        return ok();
      }
    }
    if (vma.file && vma.share === 'shared') {
      let frame = vma.file.cache.get(fp);
      if (frame) { frame.value = put(frame.value); frame.lastUse = this.now(); } else {
        const fresh = this.allocFrame(p, put(undefined));
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
    const frame = this.allocFrame(p, data);
    if (!frame) return oom;
    if (vma.file && !vma.file.cache.has(fp)) {
      const bus = this.sigbus(p, vma, v);
      if (bus) { this.frames.delete(frame); return bus; }
    }
    // The copy starts as the file's page as it is now (zeros for a hole or a purged page).
    frame.value = put(vma.file?.cache.get(fp)?.value);
    p.ptes.set(v, this.newPte(frame));
    return ok();
  }

  /** The pte of a write fault's new page: under madv-free dirty and young (do_anonymous_page, wp_page_copy). */
  newPte(frame: Frame): Pte {
    return this.policy === 'madv-free' ? { own: true, frame, dirty: true, young: true } : { own: true, frame };
  }

  vrange(p: Proc, step: ProcessStep & { op: 'vrange' }, markedAt: number): Outcome {
    if (this.policy === 'madv-free') {
      const m = this.madvSpan(p, step);
      this.madvFree(p, m.pieces);
      return m.errno ? err(m.errno) : ok({ bytes: (m.e - m.s) * PAGE_BYTES });
    }
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
    if (this.policy === 'madv-free') return err('EINVAL'); // CHOICE: there is no such call, whatever the fd
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
    // madv-free: the child's pte keeps the dirty bit and is made old (copy_present_pte: pte_mkold).
    const young = this.policy === 'madv-free' ? { young: false } : {};
    c.ptes = new Map([...p.ptes].filter(([, e]) => e.own).map(([v, e]) => [v, { ...e, ...young }]));
    c.ranges = p.ranges.map((r) => ({ ...r }));
    c.purged = new Set(p.purged);
    c.fds = new Map(p.fds);
    c.fdNames = new Map(p.fdNames);
    c.maps = new Map(p.maps);
    return ok({ pid: c.pid });
  }
}
