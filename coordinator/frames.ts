// Physical memory: a fixed number of page frames, their contents, reference counts, the free list
// and the LRU stamp of each. Plain typed arrays, one slot per frame handed out so far: no object per page.
//
// A frame's reference count is the number of page-table entries that map it (rmap entries) plus
// one while it sits in a file's page cache. It returns to the free list when the count reaches 0.
// Invariant (asserted): used + free === total, and no reference count is ever negative.

import { pageText, type PageContent } from '../shared/page_bytes.js';
import { PAGE_SIZE } from '../shared/scenario-types.js';
import { ALLOC_BLOCK, firstNotEqual } from './frame_scan.js';

export class FrameTable {
  // The arrays cover the frames handed out so far (`highWater`), and grow by doubling: a kernel
  // of 4,000,000 frames that uses 10 costs what 10 cost, like memory never touched.
  refcount: Int32Array;
  /** Kernel access clock value at the last read or write: the LRU order of `purgeUnit: page`. */
  lastUse: Float64Array;
  /** Page-cache owner: file id, or -1 for an anonymous frame. */
  ownerFile: Int32Array;
  ownerPage: Int32Array;
  /** madv-free: PG_referenced, set when a reclaim scan gave the page its second chance (folio_check_references); 0 for a new page. */
  referenced: Uint8Array;
  /** The allocation count at the frame's last `alloc` (vmscan's isolation tells frames resident at an exchange's prepare by it). */
  allocSeq: Float64Array;
  /** Allocations so far: a frame allocated later has a larger `allocSeq`. */
  allocCount = 0;
  /**
   * Per block of ALLOC_BLOCK frames, the largest `allocSeq` any frame of it was given (the last
   * allocation in it: the count only rises): a block whose maximum is below a sequence number was
   * allocated wholly before it, found with no look at its frames (isolate.ts).
   */
  allocBlockMax: Float64Array;
  /**
   * Told by method call as frames are freed, before their owners are cleared: `freed` as one
   * frame's count reaches 0, `freedRun` as frames [f, f + count) are freed together (decrefRunBy).
   * The kernel's reclaim isolation (isolate.ts) is the watcher; a method, not a closure, so the
   * optimised code of these loops names no object that dies with one kernel.
   */
  watcher: { freed(f: number): void; freedRun(f: number, count: number): void } | undefined;
  /** Each frame's contents: a whole-page write's value, or a sub-page-written page's bytes (shared/page_bytes.ts). */
  private readonly values: Array<PageContent | undefined>;
  /** Frames freed since they were handed out, reused last-freed first. */
  private freeStack: Int32Array;
  /** iota[i] === i for the frames the arrays cover: a run of frames is pushed on the free stack by one copy (decrefRunBy). */
  private iota: Int32Array;
  private freeTop: number;
  /** Frames [0, highWater) have been handed out at least once; the rest were never touched. */
  private highWater = 0;

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 1) throw new Error(`frames: need a whole number >= 1, got ${total}`);
    const n = Math.min(total, 1024);
    this.refcount = new Int32Array(n);
    this.lastUse = new Float64Array(n);
    this.ownerFile = new Int32Array(n).fill(-1);
    this.ownerPage = new Int32Array(n).fill(-1);
    this.allocSeq = new Float64Array(n);
    this.allocBlockMax = new Float64Array(Math.ceil(n / ALLOC_BLOCK));
    this.referenced = new Uint8Array(n);
    this.values = [];
    this.freeStack = new Int32Array(n);
    this.iota = FrameTable.iotaOf(n);
    this.freeTop = 0;
  }

  /** Frames [0, handedOut) have been handed out at least once (a walk of the used frames stops there). */
  get handedOut(): number { return this.highWater; }

  get free(): number { return this.freeTop + (this.total - this.highWater); }
  get used(): number { return this.total - this.free; }

  /** A free frame with reference count 1 and empty contents, or -1 when none is free. */
  alloc(now: number): number {
    // Lowest frame numbers are handed out first (a freed frame before a new one), so runs read the same every time.
    let f: number;
    if (this.freeTop > 0) f = this.freeStack[--this.freeTop]!;
    else if (this.highWater < this.total) {
      if (this.highWater === this.refcount.length) this.grow();
      f = this.highWater++;
    } else return -1;
    if (this.refcount[f] !== 0) throw new Error(`frames invariant: free frame ${f} has refcount ${this.refcount[f]}`);
    this.refcount[f] = 1;
    this.allocSeq[f] = this.allocCount;
    this.allocBlockMax[Math.floor(f / ALLOC_BLOCK)] = this.allocCount++;
    this.lastUse[f] = now;
    this.referenced[f] = 0;
    this.values[f] = '';
    return f;
  }

  /** An identity array of n slots; the slots `from` already holds are copied, not written again (grow). */
  private static iotaOf(n: number, from?: Int32Array): Int32Array {
    const a = new Int32Array(n);
    if (from) a.set(from);
    for (let i = from?.length ?? 0; i < n; i++) a[i] = i;
    return a;
  }

  /** Doubles the arrays (at most to `total` frames). */
  private grow(): void {
    const n = Math.min(this.total, this.refcount.length * 2);
    const widen = <T extends Int32Array | Float64Array | Uint8Array>(a: T, make: (n: number) => T, fill?: number): T => {
      const b = make(n);
      if (fill !== undefined) b.fill(fill, a.length);
      b.set(a);
      return b;
    };
    this.refcount = widen(this.refcount, (k) => new Int32Array(k));
    this.lastUse = widen(this.lastUse, (k) => new Float64Array(k));
    this.ownerFile = widen(this.ownerFile, (k) => new Int32Array(k), -1);
    this.ownerPage = widen(this.ownerPage, (k) => new Int32Array(k), -1);
    this.allocSeq = widen(this.allocSeq, (k) => new Float64Array(k));
    const blocks = new Float64Array(Math.ceil(n / ALLOC_BLOCK));
    blocks.set(this.allocBlockMax);
    this.allocBlockMax = blocks;
    this.referenced = widen(this.referenced, (k) => new Uint8Array(k));
    this.freeStack = widen(this.freeStack, (k) => new Int32Array(k));
    this.iota = FrameTable.iotaOf(n, this.iota);
  }

  isUsed(f: number): boolean { return f >= 0 && f < this.total && this.refcount[f]! > 0; }

  incref(f: number): void {
    this.assertUsed(f);
    this.refcount[f]!++;
  }

  /** Drops one reference; returns true when that freed the frame. */
  decref(f: number): boolean {
    this.assertUsed(f);
    const n = --this.refcount[f]!;
    if (n > 0) return false;
    this.watcher?.freed(f);
    this.values[f] = undefined;
    this.ownerFile[f] = -1;
    this.ownerPage[f] = -1;
    this.freeStack[this.freeTop++] = f;
    if (this.freeTop > this.highWater) throw new Error('frames invariant: more free frames than frames');
    return true;
  }

  /** Drops `n` references at once (reclaim purging a frame of `n` mappers); returns true when that freed the frame. */
  decrefBy(f: number, n: number): boolean {
    if (!(Number.isInteger(n) && n >= 1 && n <= this.refcount[f]!)) throw new Error(`frames invariant: ${n} references dropped from frame ${f}, which has ${this.refcount[f]}`);
    this.refcount[f]! -= n - 1;
    return this.decref(f);
  }

  /**
   * Drops `n` references from each of frames [f, f + count), which each have exactly `n` (reclaim
   * purging a run of `n` mappers): all are freed, in ascending order, as decrefBy frame by frame would.
   */
  decrefRunBy(f: number, count: number, n: number): void {
    if (!(Number.isInteger(n) && n >= 1 && Number.isInteger(count) && count >= 1 && f >= 0 && f + count <= this.highWater)) {
      throw new Error(`frames invariant: ${n} references dropped from frames ${f}.. (${count})`);
    }
    const g = firstNotEqual(this.refcount, f, f + count, n);
    if (g < f + count) throw new Error(`frames invariant: ${n} references dropped from frame ${g}, which has ${this.refcount[g]}`);
    this.watcher?.freedRun(f, count);
    this.refcount.fill(0, f, f + count);
    this.values.fill(undefined, f, f + count);
    this.ownerFile.fill(-1, f, f + count);
    this.ownerPage.fill(-1, f, f + count);
    if (this.freeTop + count > this.highWater) throw new Error('frames invariant: more free frames than frames');
    // freeStack[freeTop + k] = f + k, as a push frame by frame would leave it.
    this.freeStack.set(this.iota.subarray(f, f + count), this.freeTop);
    this.freeTop += count;
  }

  read(f: number, now: number): string {
    this.assertUsed(f);
    this.lastUse[f] = now;
    return pageText(this.values[f]);
  }

  /** The frame's contents as they are (a copy-on-write source, the base of a sub-page write); no LRU touch. */
  content(f: number): PageContent {
    this.assertUsed(f);
    return this.values[f] ?? '';
  }

  write(f: number, value: PageContent, now: number): void {
    this.assertUsed(f);
    if (typeof value !== 'string' && value.length > PAGE_SIZE) throw new Error(`frames invariant: frame ${f} given ${value.length} bytes, more than a page`);
    this.lastUse[f] = now;
    this.values[f] = value;
  }

  /** Frames in use, for the invariant checks (O(frames ever handed out)). */
  *usedFrames(): Generator<number> {
    for (let f = 0; f < this.highWater; f++) if (this.refcount[f]! > 0) yield f;
  }

  /** Frames on the free list (freed since handed out; never-touched frames are free too but not listed), for verify mode. */
  *freeList(): Generator<number> {
    for (let i = 0; i < this.freeTop; i++) yield this.freeStack[i]!;
  }

  assertConserved(): void {
    let used = 0;
    for (let f = 0; f < this.highWater; f++) {
      const r = this.refcount[f]!;
      if (r < 0) throw new Error(`frames invariant: frame ${f} refcount ${r}`);
      if (r > 0) used++;
    }
    if (used !== this.used) throw new Error(`frames invariant: ${used} frames referenced but ${this.used} counted used`);
  }

  private assertUsed(f: number): void {
    if (!(f >= 0 && f < this.total) || this.refcount[f]! <= 0) {
      throw new Error(`frames invariant: frame ${f} is not in use`);
    }
  }
}
