// Files: each one an address_space with its page cache, its own volatile range set (with the
// pages purged while volatile), its open count and the i_mmap: every mapping over it (process and
// VMA), touched or not, shared or private. The i_mmap is an index of the process table's VMAs,
// kept here and updated wherever a process's VMAs change (mmap, munmap, fork, exit: `reindex`),
// so that a file-page decision walks the file's own mappers, never every process's VMAs.
//
// Final release (no fd open, no mapping) clears the file's volatility: "Volatility is cleared
// when all fd's to a file are closed" (LSF-MM 2013 plan). An ashmem file is destroyed then: its
// page-cache frames are freed and a later open finds it empty. tmpfs files keep their pages.
// A shared anonymous mapping is backed by a hidden `shmem` file that no one can open.

import type { FrameTable } from './frames.js';
import { RangeSet } from '../shared/rangeset.js';
import { rangesPerSetMax } from '../shared/limits.js';
import type { FileKind } from '../shared/scenario-types.js';
import type { KVma, Proc } from './process_table.js';

/** One mapping of a file page: the process, and the page of its address space it sits at. */
export interface FileMapper { proc: Proc; vpage: number; share: 'shared' | 'private' }

export type AddressSpaceKind = FileKind | 'shmem';

export class AddressSpace {
  /**
   * Frame of each file page in the page cache; a page not in it is a hole. Sparse, like the
   * page cache's radix tree: a file (or a shared anonymous mapping's hidden file) costs the same
   * whatever its length, and grows only with the pages that were written.
   */
  readonly cache = new Map<number, number>();
  ranges = new RangeSet(rangesPerSetMax);
  /** The pages purged while the file range covering them was volatile. */
  readonly purged = new Set<number>();
  openCount = 0;
  /** The i_mmap: each process mapping this file, with its VMAs over it in the order of its VMA list. */
  private readonly mappings = new Map<Proc, KVma[]>();
  /** The mapping processes in process-table order (the order votes and notifications go in), built on demand. */
  private ordered: Proc[] | undefined;
  /** How many VMAs map this file, all processes together. */
  private vmaCount = 0;

  constructor(readonly id: number, readonly name: string, readonly pages: number, readonly kind: AddressSpaceKind) {}

  /** Sets `proc`'s VMAs over this file (none: it maps it no more). Called by `reindex` only. */
  setMappings(proc: Proc, vmas: KVma[]): void {
    this.vmaCount -= this.mappings.get(proc)?.length ?? 0;
    if (vmas.length === 0) this.mappings.delete(proc); else this.mappings.set(proc, vmas);
    this.vmaCount += vmas.length;
    this.ordered = undefined;
  }

  /** `proc`'s VMAs over this file as the i_mmap holds them (none: an empty list); for verify mode. */
  mappingsFor(proc: Proc): readonly KVma[] { return this.mappings.get(proc) ?? []; }

  /** VMAs over this file, every process together (dead ones have none left). */
  get mappedVmas(): number { return this.vmaCount; }

  /** The mappers of a page of this file, live processes only, in process-table then VMA order. */
  mappersOf(page: number): FileMapper[] {
    this.ordered ??= [...this.mappings.keys()].sort((a, b) => a.slot - b.slot);
    const out: FileMapper[] = [];
    for (const proc of this.ordered) {
      if (!proc.live) continue;
      for (const v of this.mappings.get(proc)!) {
        if (page >= v.offset && page < v.offset + v.pages) out.push({ proc, vpage: v.start + (page - v.offset), share: v.share });
      }
    }
    return out;
  }

  /** For how many pages from `page` on (at least 1) the same VMAs cover the file: the mappers of page + k are those of `page`, each k pages on. */
  sameMappersFrom(page: number): number {
    let n = Infinity;
    for (const [proc, vmas] of this.mappings) {
      if (!proc.live) continue;
      for (const v of vmas) {
        if (page >= v.offset && page < v.offset + v.pages) n = Math.min(n, v.offset + v.pages - page);
        else if (v.offset > page) n = Math.min(n, v.offset - page);
      }
    }
    return n;
  }

  isVolatile(page: number): boolean { return this.ranges.at(page) !== undefined; }

  /** The frame of `page` in the page cache, or -1 (a hole). */
  frameAt(page: number): number { return this.cache.get(page) ?? -1; }

  residentPages(): number { return this.cache.size; }

  /** Page-cache pages in [start, end), ascending, as [page, frame]: O(min(span, resident pages)). */
  cachedIn(start: number, end: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    if (end - start <= this.cache.size) {
      for (let p = start; p < end; p++) { const f = this.cache.get(p); if (f !== undefined) out.push([p, f]); }
      return out;
    }
    for (const e of this.cache) if (e[0] >= start && e[0] < end) out.push(e);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Puts a frame (already holding one reference, the page cache's) into the cache. */
  insert(page: number, frame: number, frames: FrameTable): void {
    if (this.cache.has(page)) throw new Error(`page cache invariant: ${this.name} page ${page} filled twice`);
    if (!(Number.isInteger(page) && page >= 0 && page < this.pages)) throw new Error(`page cache invariant: ${this.name} has no page ${page}`);
    this.cache.set(page, frame);
    frames.ownerFile[frame] = this.id;
    frames.ownerPage[frame] = page;
  }

  /** Drops the page cache's reference to a page; returns true when the frame was freed. */
  evict(page: number, frames: FrameTable): boolean {
    const f = this.cache.get(page);
    if (f === undefined) return false;
    this.cache.delete(page);
    return frames.decref(f);
  }

  /** Volatility ends at final release; ashmem pages go too. Returns the frames freed. */
  finalRelease(frames: FrameTable): number {
    this.ranges = new RangeSet(rangesPerSetMax);
    this.purged.clear();
    if (this.kind === 'tmpfs') return 0;
    let freed = 0;
    // Ascending, as the frames go back to the free list in this order (runs read the same every time).
    for (const p of [...this.cache.keys()].sort((a, b) => a - b)) if (this.evict(p, frames)) freed++;
    return freed;
  }
}

/** Brings the i_mmap of the files `fileIds` up to date with `proc.vmas` (after mmap, munmap, fork, exit). */
export function reindex(files: readonly AddressSpace[], proc: Proc, fileIds: Iterable<number>): void {
  for (const id of fileIds) files[id]!.setMappings(proc, proc.vmas.filter((v) => v.fileId === id));
}
