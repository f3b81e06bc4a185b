// The process's own mm: VMAs, the page table and the per-mm volatile ranges.
// Owned by the agent alone; the kernel learns of it only through syscalls and the reclaim
// exchange. Pages here are virtual page numbers (address / 4096).
//
// Page-table entries of anonymous and copied-on-write pages live here (frame number + flag bits),
// and only for pages that were touched: a VMA's cost does not grow with its length (class Vma).
// Entries that point into the page cache (a file page mapped shared, or mapped private and not
// yet copied) are kept by the kernel beside the page cache, because the page cache decides them.

import type { Binding, MmSnapshot, MmView, VmaKind, VmaSnapshot } from '../shared/messages.js';
import { RangeSet } from '../shared/rangeset.js';
import { unmapSpan } from '../shared/vma_span.js';
import { PteTable } from './pte_table.js';
import { framesMax, rangesPerSetMax, vpagesMax } from '../shared/limits.js';

/** The page is shared with another mm after fork: a write must ask the kernel for a copy. */
export const PTE_COW = 1;
/** The page was purged while volatile and has not been marked non-volatile since. */
export const PTE_PURGED = 2;
/** A private file page whose copy was purged: it reads as zero, not as the file's page. */
export const PTE_ANONZERO = 4;
/**
 * madv-free: MADV_FREE marked the page (folio_mark_lazyfree) and neither a write of this mm nor a
 * reclaim scan has taken the mark back since (docs/semantics.md, "What Linux merged").
 */
export const PTE_LAZYFREE = 8;
/** madv-free: the pte is young, read or written since MADV_FREE or the last reclaim scan made it old. */
export const PTE_YOUNG = 16;
/** madv-free: the pte is clean, MADV_FREE cleaned it and nothing wrote the page since (a scan's redirty leaves it clean). */
export const PTE_CLEAN = 32;

/**
 * One VMA. Its page-table entries are sparse, as a real page table is: an entry exists only for
 * a page that has a frame here or a flag set (touched), so a VMA costs the same whatever its
 * length. An entry is keyed by the page's index in the VMA and packs `(frame + 1) * 8 + flags`
 * into one number; no entry reads as frame -1, flags 0.
 */
export class Vma {
  constructor(
    public start: number,
    public pages: number,
    readonly kind: VmaKind,
    readonly fileId: number,
    /** File page that `start` maps (0 for anonymous memory). */
    public offset: number,
    /** Page index in this VMA -> packed entry; only touched pages have one. */
    readonly ptes: PteTable = new PteTable(),
  ) {}
  get end(): number { return this.start + this.pages; }
  /** Pages with their own frame in this page table (anonymous or copied private pages). */
  get ownsFrames(): boolean { return this.kind === 'anon' || this.kind === 'file-private'; }
  /** The frame of page `i` of this VMA, or -1. */
  frameAt(i: number): number {
    const e = this.ptes.get(i);
    return e === undefined ? -1 : (e >> PTE_FLAG_BITS) - 1;
  }
  /** The PTE flag bits of page `i`. */
  flagsAt(i: number): number {
    const e = this.ptes.get(i);
    return e === undefined ? 0 : e & (PTE_FLAG_SPAN - 1);
  }
  /** Sets page `i`'s entry; frame -1 with no flags removes it (an untouched page has none). */
  setPte(i: number, frame: number, flags: number): void {
    if (!(i >= 0 && i < this.pages) || !(frame >= -1) || !(flags >= 0 && flags < PTE_FLAG_SPAN)) {
      throw new Error(`mm invariant: page-table entry ${i} of a ${this.pages}-page VMA set to frame ${frame}, flags ${flags}`);
    }
    if (frame === -1 && flags === 0) this.ptes.delete(i);
    else this.ptes.set(i, (frame + 1) * PTE_FLAG_SPAN + flags);
  }
  setFrame(i: number, frame: number): void { this.setPte(i, frame, this.flagsAt(i)); }
  /**
   * Reclaim purged pages [a, b) of this VMA (indexes): each is marked purged and no longer
   * copy-on-write; a page with its own frame loses it (a copied private file page now reads as
   * zero). One read and one write of each entry, for the commit of a large run.
   */
  markPurged(a: number, b: number): void {
    if (!(a >= 0 && b <= this.pages)) throw new Error(`mm invariant: purge of pages ${a}-${b} of a ${this.pages}-page VMA`);
    const own = this.ownsFrames;
    const set = PTE_PURGED | (own && this.kind === 'file-private' ? PTE_ANONZERO : 0);
    // An entry packs (frame + 1) * 8 + flags: a page that loses its frame keeps only its flags.
    this.ptes.rewriteFlags(a, b, PTE_FLAG_SPAN, set, PTE_COW, own);
  }
  setFlags(i: number, flags: number): void { this.setPte(i, this.frameAt(i), flags); }
  static fresh(start: number, pages: number, kind: VmaKind, fileId: number, offset: number): Vma {
    return new Vma(start, pages, kind, fileId, offset);
  }
  /** The part [from, to) of this VMA as a VMA of its own (shares nothing with this one). */
  slice(from: number, to: number): Vma {
    const a = from - this.start;
    const b = to - this.start;
    const ptes = new PteTable();
    for (const [i, e] of this.ptes) if (i >= a && i < b) ptes.set(i - a, e);
    return new Vma(from, to - from, this.kind, this.fileId, this.offset + a, ptes);
  }
  /** Indexes of the pages in [from, to) (vpages) that have an entry, ascending: O(min(span, entries)). */
  touchedIn(from: number, to: number): number[] {
    const a = Math.max(0, from - this.start);
    const b = Math.min(this.pages, to - this.start);
    const out: number[] = [];
    if (b - a <= this.ptes.size) {
      for (let i = a; i < b; i++) if (this.ptes.has(i)) out.push(i);
      return out;
    }
    for (const i of this.ptes.keys()) if (i >= a && i < b) out.push(i);
    return out.sort((x, y) => x - y);
  }
}

/** Flag bits take the low six bits of a packed page-table entry. */
const PTE_FLAG_BITS = 6;
const PTE_FLAG_SPAN = 1 << PTE_FLAG_BITS;
// Every packed entry fits a page-table slot (pte_table.ts: 32-bit, below 2^31).
if ((framesMax + 1) * PTE_FLAG_SPAN > 0x7fffffff) throw new Error('mm invariant: framesMax too large for a packed page-table entry');

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
    this.vmas = unmapSpan(this.vmas, start, end, (vma, from, to) => vma.slice(from, to)).kept;
    this.assertSorted();
  }

  /** The span is volatile in this mm (every page covered by a range). */
  isVolatile(vpage: number): boolean { return this.ranges.at(vpage) !== undefined; }

  pte(vpage: number): { vma: Vma; i: number } | undefined {
    const vma = this.findVma(vpage);
    return vma ? { vma, i: vpage - vma.start } : undefined;
  }

  /**
   * At fork: every page with its own frame becomes copy-on-write, in this mm and the copy. The
   * snapshot carries only the entries that exist (`at`: their page indexes), never one per page.
   */
  snapshotForFork(): MmSnapshot {
    const vmas: VmaSnapshot[] = [];
    for (const vma of this.vmas) {
      const at = vma.touchedIn(vma.start, vma.end);
      const frames = new Int32Array(at.length);
      const flags = new Uint8Array(at.length);
      for (let k = 0; k < at.length; k++) {
        const i = at[k]!;
        const f = vma.frameAt(i);
        if (vma.ownsFrames && f >= 0) vma.setFlags(i, vma.flagsAt(i) | PTE_COW);
        frames[k] = f;
        // The child's pte keeps the mark and the dirty state; it starts old (copy_present_pte: pte_mkold).
        flags[k] = vma.flagsAt(i) & ~PTE_YOUNG;
      }
      // Copies: the message is encoded when it leaves, and a commit may purge a page meanwhile.
      vmas.push({ start: vma.start, pages: vma.pages, kind: vma.kind, fileId: vma.fileId, offset: vma.offset,
        at: Float64Array.from(at), frames, flags });
    }
    return { vmas, ranges: this.ranges.toJSON(), bindings: Object.fromEntries(this.bindings) };
  }

  /**
   * The compact view the kernel's page map needs (only when snapshots were asked for): taken at
   * every step's `done`, so one walk of each page table finds both the purged pages and (madv-free)
   * the lazyfree ones.
   */
  view(): MmView {
    const maps: MmView['maps'] = [];
    for (const [key, b] of this.bindings) if (b.kind === 'map' && b.pages > 0) maps.push([key.slice('map:'.length), b.addr, b.pages]);
    // Under --html an agent sends a view with every `done`, and its code runs unoptimised
    // (shared/tiering.ts): a VMA with neither purged nor lazyfree pages (nothing is purged before a
    // reclaim; lazyfree is madv-free's) is seen as such by one typed pass over its slots, and only
    // then are the page tables walked. 2 to 6 us a view instead of 60 to 500.
    const purged: number[] = [];
    let flagged = false;
    for (let m = 0; m < this.vmas.length && !flagged; m++) flagged = this.vmas[m]!.ptes.bitsIn(0, this.vmas[m]!.pages, PTE_PURGED | PTE_LAZYFREE) !== 0;
    const lazy = flagged ? this.flagWalk(purged) : [];
    const ranges = this.ranges.coalesced();
    return { maps, volatile: lazy.length > 0 ? mergeSpans(ranges, lazy) : ranges, purged };
  }

  /** madv-free: the pages marked lazyfree (and clean), as ascending [start, pages] runs. */
  get lazyfree(): Array<[number, number]> { return this.flagWalk(undefined); }

  /**
   * One walk of every page table: the lazyfree pages of anonymous VMAs as ascending [start, pages]
   * runs (returned), and, when `purged` is given, every purged page (ascending) pushed onto it.
   */
  private flagWalk(purged: number[] | undefined): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const vma of this.vmas) {
      const anon = vma.kind === 'anon';
      if (!anon && !purged) continue;
      const start = vma.start;
      vma.ptes.forEach((i, e) => {
        const flags = e & (PTE_FLAG_SPAN - 1);
        if (purged && (flags & PTE_PURGED) !== 0) purged.push(start + i);
        if (!anon || (flags & PTE_LAZYFREE) === 0) return;
        const v = start + i;
        const last = out[out.length - 1];
        if (last && last[0] + last[1] === v) last[1]++;
        else out.push([v, 1]);
      });
    }
    return out;
  }

  static fromSnapshot(s: MmSnapshot): Mm {
    const mm = new Mm();
    mm.vmas = s.vmas.map((v) => {
      const vma = new Vma(v.start, v.pages, v.kind, v.fileId, v.offset);
      // `at` names the entries' page indexes; without it (a dense snapshot) entry k is page k.
      for (let k = 0; k < v.frames.length; k++) vma.setPte(v.at ? v.at[k]! : k, v.frames[k]!, v.flags[k] ?? 0);
      return vma;
    });
    mm.ranges = RangeSet.fromJSON(s.ranges);
    mm.bindings = new Map(Object.entries(s.bindings));
    mm.assertSorted();
    return mm;
  }

  /** Page-table entries held, all VMAs together (what the memory tests bound). */
  get pteCount(): number {
    let n = 0;
    for (const v of this.vmas) n += v.ptes.size;
    return n;
  }

  private assertSorted(): void {
    for (let i = 1; i < this.vmas.length; i++) {
      if (this.vmas[i - 1]!.end > this.vmas[i]!.start) throw new Error('mm invariant: VMAs overlap');
    }
  }
}

/** Two ascending lists of [start, pages] spans as one, overlapping and adjacent spans joined. */
function mergeSpans(a: Array<[number, number]>, b: Array<[number, number]>): Array<[number, number]> {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, n] of all) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] >= s) last[1] = Math.max(last[1], s + n - last[0]);
    else out.push([s, n]);
  }
  return out;
}
