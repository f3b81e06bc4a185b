// Files: each one an address_space with its page cache, its own volatile range set (with the
// pages purged while volatile), its open count and the i_mmap (every mapping over it, touched or
// not, shared or private; derived from the process table's VMAs so there is one truth).
//
// Final release (no fd open, no mapping) clears the file's volatility: "Volatility is cleared
// when all fd's to a file are closed" (LSF-MM 2013 plan). An ashmem file is destroyed then: its
// page-cache frames are freed and a later open finds it empty. tmpfs files keep their pages.
// A shared anonymous mapping is backed by a hidden `shmem` file that no one can open.

import type { FrameTable } from './frames.js';
import { RangeSet } from '../shared/rangeset.js';
import { rangesPerSetMax } from '../shared/limits.js';
import type { FileKind } from '../shared/scenario-types.js';

export type AddressSpaceKind = FileKind | 'shmem';

export class AddressSpace {
  /** Frame of each file page in the page cache, or -1 (a hole). */
  cache: Int32Array;
  ranges = new RangeSet(rangesPerSetMax);
  /** 1 where the page was purged while the file range covering it was volatile. */
  purged: Uint8Array;
  openCount = 0;

  constructor(readonly id: number, readonly name: string, readonly pages: number, readonly kind: AddressSpaceKind) {
    this.cache = new Int32Array(pages).fill(-1);
    this.purged = new Uint8Array(pages);
  }

  isVolatile(page: number): boolean { return this.ranges.at(page) !== undefined; }

  residentPages(): number {
    let n = 0;
    for (let p = 0; p < this.pages; p++) if (this.cache[p]! >= 0) n++;
    return n;
  }

  /** Puts a frame (already holding one reference, the page cache's) into the cache. */
  insert(page: number, frame: number, frames: FrameTable): void {
    if (this.cache[page]! >= 0) throw new Error(`page cache invariant: ${this.name} page ${page} filled twice`);
    this.cache[page] = frame;
    frames.ownerFile[frame] = this.id;
    frames.ownerPage[frame] = page;
  }

  /** Drops the page cache's reference to a page; returns true when the frame was freed. */
  evict(page: number, frames: FrameTable): boolean {
    const f = this.cache[page]!;
    if (f < 0) return false;
    this.cache[page] = -1;
    return frames.decref(f);
  }

  /** Volatility ends at final release; ashmem pages go too. Returns the frames freed. */
  finalRelease(frames: FrameTable): number {
    this.ranges = new RangeSet(rangesPerSetMax);
    this.purged.fill(0);
    if (this.kind === 'tmpfs') return 0;
    let freed = 0;
    for (let p = 0; p < this.pages; p++) if (this.evict(p, frames)) freed++;
    return freed;
  }
}
