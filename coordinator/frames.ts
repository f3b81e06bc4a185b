// Physical memory: a fixed number of page frames, their contents, reference counts, the free list
// and the LRU stamp of each. Plain typed arrays, one slot per frame: no object per page.
//
// A frame's reference count is the number of page-table entries that map it (rmap entries) plus
// one while it sits in a file's page cache. It returns to the free list when the count reaches 0.
// Invariant (asserted): used + free === total, and no reference count is ever negative.

export class FrameTable {
  readonly refcount: Int32Array;
  /** Kernel access clock value at the last read or write: the LRU order of `purgeUnit: page`. */
  readonly lastUse: Float64Array;
  /** Page-cache owner: file id, or -1 for an anonymous frame. */
  readonly ownerFile: Int32Array;
  readonly ownerPage: Int32Array;
  private readonly values: Array<string | undefined>;
  private readonly freeStack: Int32Array;
  private freeTop: number;

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 1) throw new Error(`frames: need a whole number >= 1, got ${total}`);
    this.refcount = new Int32Array(total);
    this.lastUse = new Float64Array(total);
    this.ownerFile = new Int32Array(total).fill(-1);
    this.ownerPage = new Int32Array(total).fill(-1);
    this.values = [];
    this.freeStack = new Int32Array(total);
    // Lowest frame numbers are handed out first, so runs read the same every time.
    for (let i = 0; i < total; i++) this.freeStack[i] = total - 1 - i;
    this.freeTop = total;
  }

  get free(): number { return this.freeTop; }
  get used(): number { return this.total - this.freeTop; }

  /** A free frame with reference count 1 and empty contents, or -1 when none is free. */
  alloc(now: number): number {
    if (this.freeTop === 0) return -1;
    const f = this.freeStack[--this.freeTop]!;
    if (this.refcount[f] !== 0) throw new Error(`frames invariant: free frame ${f} has refcount ${this.refcount[f]}`);
    this.refcount[f] = 1;
    this.lastUse[f] = now;
    this.values[f] = '';
    return f;
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
    this.values[f] = undefined;
    this.ownerFile[f] = -1;
    this.ownerPage[f] = -1;
    this.freeStack[this.freeTop++] = f;
    if (this.freeTop > this.total) throw new Error('frames invariant: more free frames than frames');
    return true;
  }

  read(f: number, now: number): string {
    this.assertUsed(f);
    this.lastUse[f] = now;
    return this.values[f] ?? '';
  }

  write(f: number, value: string, now: number): void {
    this.assertUsed(f);
    this.lastUse[f] = now;
    this.values[f] = value;
  }

  /** Frames in use, for the invariant checks (O(total)). */
  *usedFrames(): Generator<number> {
    for (let f = 0; f < this.total; f++) if (this.refcount[f]! > 0) yield f;
  }

  assertConserved(): void {
    let used = 0;
    for (let f = 0; f < this.total; f++) {
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
