// The reference model's reclaim (model/model.ts): the two-phase exchange of a kernel `reclaim` step
// (prepare: every mm answers which of its resident pages are volatile in it and holds them; commit:
// decide with those answers and the file's volatility now), purge units in order (per range, oldest
// mark first; or per page, least recently used), the policy deciding each page, the purge itself,
// and frame allocation with direct reclaim and the OOM killer. The deaths, completions and steps it
// causes are the layers above (abstract here).

import type { ProcessStep } from '../shared/scenario-types.js';
import { MmModel } from './mm.js';
import { lexLess, pieceAt, type Frame, type Held, type Outcome, type PageValue, type Proc, type Pte, type Result } from './types.js';

export abstract class ReclaimModel extends MmModel {
  abstract kill(p: Proc): void;
  abstract complete(p: Proc, index: number, out: Outcome): void;
  abstract exec(p: Proc, step: ProcessStep, grantedAt: number): Outcome;
  abstract kernelDone(index: number, result: Result): void;

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

  /** Resident pages that this mm's own ranges govern (own pages; shared file or shmem pages) and mark. */
  answers(): Held[] {
    const out: Held[] = [];
    if (this.policy === 'madv-free') { // every mapper of a lazyfree frame answers (and holds) it, whatever its own pte bits
      const lazy = new Set<Frame>();
      for (const p of this.running()) for (const pte of p.ptes.values()) if (pte.own && pte.frame && pte.lazy) lazy.add(pte.frame);
      for (const p of this.running()) for (const [vpage, pte] of p.ptes) {
        if (pte.own && pte.frame && lazy.has(pte.frame)) out.push({ p, vpage, frame: pte.frame, piece: { id: 0, start: vpage, end: vpage + 1, markedAt: 0 } });
      }
      return out;
    }
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

  /** Units in purge order; each is tried whole; `enough` is told the frames each unit freed. True if a madv-free scan cleared a young bit. */
  purgeUnits(candidates: Set<Frame>, held: Held[], enough: (freed: number) => boolean): boolean {
    const isHeld = (p: Proc, vpage: number, frame: Frame) => held.some((h) => h.p === p && h.vpage === vpage && h.frame === frame);
    if (this.policy === 'madv-free') return this.scanLazyfree(candidates, isHeld, enough);
    for (const unit of this.units(candidates, held)) {
      let freed = 0;
      for (const frame of unit) if (this.frames.has(frame) && this.decide(frame, isHeld)) { this.purge(frame, isHeld); freed++; }
      if (enough(freed)) return false;
    }
    return false;
  }

  /**
   * madv-free: one scan of the marked (lazyfree) candidate pages, least recently used first (ties:
   * lowest pid, then address, of a mapper), each decided as shrink_folio_list does (docs/semantics.md
   * "What Linux merged"): a mapper not asked keeps it, nothing changes; a young pte gives a second
   * chance (every mapper's young bit cleared); a dirty pte redirties it (every mapper's mark taken
   * back); else it is freed, and every mapper's page reads "" (no SIGBUS, no purged mark). True if a
   * young bit was cleared.
   */
  scanLazyfree(candidates: Set<Frame>, isHeld: (p: Proc, vpage: number, frame: Frame) => boolean, enough: (freed: number) => boolean): boolean {
    const order = [...candidates].filter((fr) => !fr.file && this.lazyfree(fr)).map((fr) => {
      const ms = this.anonMappers(fr).sort((a, b) => a.p.pid - b.p.pid || a.vpage - b.vpage);
      return { fr, ms, key: [fr.lastUse, ms[0]?.p.pid ?? Infinity, ms[0]?.vpage ?? Infinity] };
    }).sort((a, b) => lexLess(a.key, b.key));
    let cleared = false;
    for (const { fr, ms } of order) {
      if (!this.frames.has(fr) || !this.lazyfree(fr)) continue;
      const ptes = ms.map((m) => m.p.ptes.get(m.vpage) as Pte & { own: true });
      let freed = 0;
      const asked = ms.length > 0 && ms.every((m) => isHeld(m.p, m.vpage, fr));
      if (!asked) {
        // a mapper not asked (a child forked after the prepare): kept, nothing changes
      } else if (ptes.some((e) => e.young)) {
        for (const e of ptes) e.young = false;
        cleared = true;
      } else if (ptes.some((e) => e.dirty)) {
        for (const e of ptes) e.lazy = false;
      } else {
        this.purgedPages++;
        this.frames.delete(fr);
        for (const m of ms) m.p.ptes.set(m.vpage, { own: true, frame: null });
        freed = 1;
      }
      if (enough(freed)) return cleared;
    }
    return cleared;
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
      // A held page, or (docs/semantics.md, "a mark made after the prepare, of a page the commit
      // purges") a shared mapping whose mm decides the page and has it volatile now, though it did
      // not hold it: marked after its answer, or born after the prepare.
      const mmDecides = m.vma.share === 'shared' && (f.kind === 'shmem' || this.policy === 'per-mm');
      if (isHeld(m.p, m.vpage, frame) || (mmDecides && pieceAt(m.p.ranges, m.vpage) !== undefined)) m.p.purged.add(m.vpage);
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
  allocFrame(p: Proc, value: PageValue, source?: Frame, need: () => boolean = () => true): Frame | null | undefined {
    while (this.frames.size >= this.cfg.frames) {
      // docs/semantics.md: every frame resident at an open exchange's prepare is that exchange's
      // candidate and no other's. CHOICE: the page being faulted on (the COW source) is locked too.
      const isolated = this.exchange?.candidates ?? new Set<Frame>();
      const candidates = new Set([...this.frames].filter((f) => !isolated.has(f) && f !== source));
      // CHOICE (madv-free): a scan that freed nothing but cleared a young bit is followed by another
      // (shrink_inactive_list scans again at a higher priority before the OOM killer runs).
      while (this.purgeUnits(candidates, this.answers(), () => this.frames.size < this.cfg.frames) && this.frames.size >= this.cfg.frames);
      if (this.frames.size < this.cfg.frames) break;
      const victim = this.oomVictim(p);
      if (victim === p) return null;
      this.kill(victim);
      if (!need()) return undefined;
    }
    const frame: Frame = { value, lastUse: this.now(), fpage: -1, serial: ++this.frameSerial };
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
}
