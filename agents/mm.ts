// The process's own mm: VMAs, the page table and the per-mm volatile ranges.
// Owned by the agent alone; the kernel learns of it only through syscalls and the reclaim
// exchange. Pages here are virtual page numbers (address / 4096).
//
// Page-table entries of anonymous and copied-on-write pages live here (frame number + flag bits).
// Entries that point into the page cache (a file page mapped shared, or mapped private and not
// yet copied) are kept by the kernel beside the page cache, because the page cache decides them.

import type { Binding, MmSnapshot, MmView, VmaKind, VmaSnapshot } from '../shared/messages.js';
import { RangeSet } from '../shared/rangeset.js';
import { rangesPerSetMax, vpagesMax } from '../shared/limits.js';

/** The page is shared with another mm after fork: a write must ask the kernel for a copy. */
export const PTE_COW = 1;
/** The page was purged while volatile and has not been marked non-volatile since. */
export const PTE_PURGED = 2;
/** A private file page whose copy was purged: it reads as zero, not as the file's page. */
export const PTE_ANONZERO = 4;

export class Vma {
  constructor(
    public start: number,
    public pages: number,
    readonly kind: VmaKind,
    readonly fileId: number,
    /** File page that `start` maps (0 for anonymous memory). */
    public offset: number,
    public frames: Int32Array,
    public flags: Uint8Array,
  ) {}
  get end(): number { return this.start + this.pages; }
  /** Pages with their own frame in this page table (anonymous or copied private pages). */
  get ownsFrames(): boolean { return this.kind === 'anon' || this.kind === 'file-private'; }
  static fresh(start: number, pages: number, kind: VmaKind, fileId: number, offset: number): Vma {
    return new Vma(start, pages, kind, fileId, offset, new Int32Array(pages).fill(-1), new Uint8Array(pages));
  }
  /** The part [from, to) of this VMA as a VMA of its own (shares nothing with this one). */
  slice(from: number, to: number): Vma {
    const a = from - this.start;
    const b = to - this.start;
    return new Vma(from, to - from, this.kind, this.fileId, this.offset + a,
      this.frames.slice(a, b), this.flags.slice(a, b));
  }
}

export interface Segment { vma: Vma; from: number; to: number }

export class Mm {
  /** Sorted by start, never overlapping. */
  vmas: Vma[] = [];
  ranges = new RangeSet(rangesPerSetMax);
  /** Scenario bindings, keyed `map:NAME` or `fd:NAME` (fds and maps are separate namespaces). */
  bindings = new Map<string, Binding>();

  findVma(vpage: number): Vma | undefined {
    let lo = 0;
    let hi = this.vmas.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.vmas[mid]!;
      if (vpage < v.start) hi = mid - 1;
      else if (vpage >= v.end) lo = mid + 1;
      else return v;
    }
    return undefined;
  }

  /** The VMA pieces covering [start, end), ascending; gaps are simply absent. */
  segments(start: number, end: number): Segment[] {
    const out: Segment[] = [];
    for (const vma of this.vmas) {
      if (vma.end <= start) continue;
      if (vma.start >= end) break;
      out.push({ vma, from: Math.max(start, vma.start), to: Math.min(end, vma.end) });
    }
    return out;
  }

  /** Every page of [start, end) is mapped. */
  fullyMapped(start: number, end: number): boolean {
    let next = start;
    for (const s of this.segments(start, end)) {
      if (s.from !== next) return false;
      next = s.to;
    }
    return next === end;
  }

  /** Lowest free gap of `pages` pages, starting at page 1 (page 0 stays unmapped, like NULL). */
  pickAddr(pages: number): number {
    let candidate = 1;
    for (const vma of this.vmas) {
      if (vma.start - candidate >= pages) break;
      candidate = Math.max(candidate, vma.end);
    }
    if (candidate + pages > vpagesMax) throw new Error('address space exhausted');
    return candidate;
  }

  insert(vma: Vma): void {
    const i = this.vmas.findIndex((v) => v.start > vma.start);
    if (i < 0) this.vmas.push(vma);
    else this.vmas.splice(i, 0, vma);
    this.assertSorted();
  }

  /** Remove [start, end) from every VMA, splitting the ones it cuts. */
  unmap(start: number, end: number): void {
    const kept: Vma[] = [];
    for (const vma of this.vmas) {
      if (vma.end <= start || vma.start >= end) { kept.push(vma); continue; }
      if (vma.start < start) kept.push(vma.slice(vma.start, start));
      if (vma.end > end) kept.push(vma.slice(end, vma.end));
    }
    this.vmas = kept;
    this.assertSorted();
  }

  /** The span is volatile in this mm (every page covered by a range). */
  isVolatile(vpage: number): boolean { return this.ranges.at(vpage) !== undefined; }

  pte(vpage: number): { vma: Vma; i: number } | undefined {
    const vma = this.findVma(vpage);
    return vma ? { vma, i: vpage - vma.start } : undefined;
  }

  /** At fork: every page with its own frame becomes copy-on-write, in this mm and the copy. */
  snapshotForFork(): MmSnapshot {
    const vmas: VmaSnapshot[] = [];
    for (const vma of this.vmas) {
      if (vma.ownsFrames) {
        for (let i = 0; i < vma.pages; i++) if (vma.frames[i]! >= 0) vma.flags[i]! |= PTE_COW;
      }
      // Copies: the message is encoded when it leaves, and a commit may purge a page meanwhile.
      vmas.push({ start: vma.start, pages: vma.pages, kind: vma.kind, fileId: vma.fileId, offset: vma.offset,
        frames: vma.frames.slice(), flags: vma.flags.slice() });
    }
    return { vmas, ranges: this.ranges.toJSON(), bindings: Object.fromEntries(this.bindings) };
  }

  /** The compact view the kernel's page map needs (only when snapshots were asked for). */
  view(): MmView {
    const maps: MmView['maps'] = [];
    for (const [key, b] of this.bindings) if (b.kind === 'map' && b.pages > 0) maps.push([key.slice('map:'.length), b.addr, b.pages]);
    const purged: number[] = [];
    for (const vma of this.vmas) for (let i = 0; i < vma.pages; i++) if ((vma.flags[i]! & PTE_PURGED) !== 0) purged.push(vma.start + i);
    return { maps, volatile: this.ranges.coalesced(), purged };
  }

  static fromSnapshot(s: MmSnapshot): Mm {
    const mm = new Mm();
    // The decoded arrays are this message's own (the codec copies them out of the frame).
    mm.vmas = s.vmas.map((v) => new Vma(v.start, v.pages, v.kind, v.fileId, v.offset,
      v.frames instanceof Int32Array ? v.frames : Int32Array.from(v.frames), v.flags instanceof Uint8Array ? v.flags : Uint8Array.from(v.flags)));
    mm.ranges = RangeSet.fromJSON(s.ranges);
    mm.bindings = new Map(Object.entries(s.bindings));
    mm.assertSorted();
    return mm;
  }

  private assertSorted(): void {
    for (let i = 1; i < this.vmas.length; i++) {
      if (this.vmas[i - 1]!.end > this.vmas[i]!.start) throw new Error('mm invariant: VMAs overlap');
    }
  }
}
