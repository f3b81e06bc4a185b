// A set of pages held as sorted, disjoint, non-adjacent intervals [start, end): what the offline
// checker (check.ts) keeps for "volatile in this mm", "volatile in this file" and "marked volatile
// at some time" (taint), so that marking 4,000,000 pages costs one interval, not 4,000,000 entries.
// shared/rangeset.ts is the kernel's and agents' structure; it keeps a range id and an age per piece
// and merges nothing, which the checker has no use for: here adjacent pieces coalesce.

import { AssertionError } from 'node:assert';

export class PageSet {
  /** starts[i] < ends[i] < starts[i + 1]: sorted, disjoint and never touching. */
  private starts: number[] = [];
  private ends: number[] = [];

  /** How many intervals the set holds (the structural measure of its size). */
  get pieces(): number { return this.starts.length; }
  get empty(): boolean { return this.starts.length === 0; }

  /** The index of the first interval whose end is > v. */
  private firstEndingAfter(v: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! > v) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  has(v: number): boolean {
    const i = this.firstEndingAfter(v);
    return i < this.starts.length && this.starts[i]! <= v;
  }

  /** Whether any page of [s, e) is in the set. */
  overlaps(s: number, e: number): boolean {
    if (e <= s) return false;
    const i = this.firstEndingAfter(s);
    return i < this.starts.length && this.starts[i]! < e;
  }

  add(s: number, e: number): void {
    if (e <= s) return;
    // Every interval that touches or overlaps [s, e) merges into one.
    const i = this.firstEndingAfter(s - 1); // ends[i] >= s: touches or overlaps from the left
    let j = i;
    while (j < this.starts.length && this.starts[j]! <= e) j++;
    const ns = i < j ? Math.min(s, this.starts[i]!) : s;
    const ne = i < j ? Math.max(e, this.ends[j - 1]!) : e;
    this.starts.splice(i, j - i, ns);
    this.ends.splice(i, j - i, ne);
    this.assertSorted(i);
  }

  delete(s: number, e: number): void {
    if (e <= s) return;
    const i = this.firstEndingAfter(s);
    let j = i;
    while (j < this.starts.length && this.starts[j]! < e) j++;
    if (i === j) return;
    const keptS: number[] = [];
    const keptE: number[] = [];
    if (this.starts[i]! < s) { keptS.push(this.starts[i]!); keptE.push(s); }
    if (this.ends[j - 1]! > e) { keptS.push(e); keptE.push(this.ends[j - 1]!); }
    this.starts.splice(i, j - i, ...keptS);
    this.ends.splice(i, j - i, ...keptE);
    this.assertSorted(i);
  }

  clear(): void { this.starts = []; this.ends = []; }

  clone(): PageSet {
    const t = new PageSet();
    t.starts = [...this.starts];
    t.ends = [...this.ends];
    return t;
  }

  /** The intervals, in order. */
  *intervals(): IterableIterator<[number, number]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i]!, this.ends[i]!];
  }

  private assertSorted(around: number): void {
    for (let k = Math.max(0, around - 1); k <= Math.min(this.starts.length - 1, around + 2); k++) {
      if (!(this.starts[k]! < this.ends[k]!) || (k > 0 && !(this.ends[k - 1]! < this.starts[k]!))) {
        throw new AssertionError({ message: `PageSet out of order at ${k}: [${this.starts[k - 1]}, ${this.ends[k - 1]}) [${this.starts[k]}, ${this.ends[k]})` });
      }
    }
  }
}

/** The keys of a sparse page map that lie in [s, e), ascending: walks the span or the map, whichever is smaller. */
export function keysIn<V>(m: Map<number, V> | Set<number>, s: number, e: number): number[] {
  const out: number[] = [];
  if (e - s <= m.size) { for (let v = s; v < e; v++) if (m.has(v)) out.push(v); return out; }
  for (const v of m.keys()) if (v >= s && v < e) out.push(v);
  return out.sort((a, b) => a - b);
}
