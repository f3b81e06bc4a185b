// A VMA's page-table entries: a sparse map from page index to a packed entry (a whole number
// >= 1), in chunks of 512 typed slots, as a page-table page holds 512 entries on x86-64. Slot
// value 0 is "no entry" (a packed entry of frame -1 and no flags is none: agents/mm.ts). No
// object and no Map entry per page: a commit that purges 1,000,000 pages rewrites typed slots
// (issue 14), and entries are listed in page order. The face is the Map's that Vma used before.
// The slots are 32-bit integers (an entry is below 2^31: frames < framesMax = 4,000,000, times
// 64, plus flags), read as small integers: the agents run baseline code only (agent_pool.ts,
// --max-opt=1), where a Float64Array slot read made a heap number a page.

const CHUNK = 512;
/** Slots after a chunk's 512 entries: how many it holds; the OR and the AND of their low FLAG_MASK bits (see below). */
const COUNT = CHUNK;
const OR = CHUNK + 1;
const AND = CHUNK + 2;
const SLOTS = CHUNK + 3;
/**
 * The low bits of an entry that agents/mm.ts packs its flags in (PTE_FLAG_BITS = 6). Each chunk
 * keeps an OR and an AND of them over its entries, updated as entries are set but not as they are
 * removed or replaced: the OR may hold bits no entry has any more and the AND may lack bits every
 * entry has, never the other way. So OR === AND proves every entry's flags are that value, and an
 * OR without a bit proves no entry has it (rewriteFlags and bitsIn skip the walk of such a chunk);
 * anything else is walked, and the walk of a whole chunk makes both exact again.
 */
const FLAG_MASK = 63;

export class PteTable {
  private readonly chunks = new Map<number, Int32Array>();
  /** Entries held. */
  size = 0;

  get(i: number): number | undefined {
    const c = this.chunks.get(Math.floor(i / CHUNK));
    const e = c ? c[i % CHUNK]! : 0;
    return e === 0 ? undefined : e;
  }

  has(i: number): boolean { return this.get(i) !== undefined; }

  /** Sets entry `i` (a whole number >= 1; 0 would mean none: use delete). */
  set(i: number, e: number): this {
    if (!(Number.isInteger(e) && e >= 1 && e <= 0x7fffffff && Number.isInteger(i) && i >= 0)) throw new Error(`mm invariant: page-table entry ${i} set to ${e}`);
    const key = Math.floor(i / CHUNK);
    const c = this.chunk(key);
    if (c[i % CHUNK] === 0) { c[COUNT]!++; this.size++; }
    c[i % CHUNK] = e;
    c[OR]! |= e & FLAG_MASK;
    c[AND]! &= e & FLAG_MASK;
    return this;
  }

  delete(i: number): boolean {
    const key = Math.floor(i / CHUNK);
    const c = this.chunks.get(key);
    if (!c || c[i % CHUNK] === 0) return false;
    c[i % CHUNK] = 0;
    this.size--;
    if (--c[COUNT]! === 0) this.chunks.delete(key);
    return true;
  }

  /** Chunk `key`, made empty (OR 0, AND every flag) if there is none. */
  private chunk(key: number): Int32Array {
    let c = this.chunks.get(key);
    if (!c) {
      this.chunks.set(key, (c = new Int32Array(SLOTS)));
      c[AND] = FLAG_MASK;
    }
    return c;
  }

  /**
   * Rewrites entries [a, b) (absent ones read as 0): the low `span` part (the flags; `span` a power of two) of each gets
   * the bits `set` and loses the bits `clear`; the rest (the frame) is kept, or dropped when
   * `dropHigh`. The result must not be 0 (`set` not 0). One chunk lookup per 512 pages.
   */
  rewriteFlags(a: number, b: number, span: number, set: number, clear: number, dropHigh: boolean): void {
    if (!(set > 0 && (set & clear) === 0 && set < span && clear < span && (span & (span - 1)) === 0)) throw new Error(`mm invariant: flags rewritten with set ${set}, clear ${clear} (span ${span})`);
    const mask = span - 1;
    const keep = dropHigh ? 0 : ~mask;
    for (let i = a; i < b;) {
      const key = Math.floor(i / CHUNK);
      const c = this.chunk(key);
      const to = Math.min(b, (key + 1) * CHUNK);
      if (dropHigh && to - i === CHUNK && c[COUNT] === CHUNK && mask === FLAG_MASK) {
        // A whole chunk of entries whose flags are all alike (a range purged after fork): each
        // entry becomes the same number, written by a fill (native code), not slot by slot. The
        // chunk's OR and AND say so without a look at its entries when they agree (the children
        // of a fork); else one walk finds it.
        let f0 = c[OR]!;
        if (f0 !== c[AND]) {
          f0 = c[0]! & mask;
          let s = 1;
          while (s < CHUNK && (c[s]! & mask) === f0) s++;
          if (s < CHUNK) f0 = -1;
        }
        if (f0 >= 0) {
          const e = (f0 | set) & ~clear;
          c.fill(e, 0, CHUNK);
          c[OR] = e;
          c[AND] = e;
          i = to;
          continue;
        }
      }
      let added = 0;
      const whole = to - i === CHUNK;
      let or = whole ? 0 : c[OR]!;
      let and = whole ? FLAG_MASK : c[AND]!;
      for (let s = i - key * CHUNK, z = to - key * CHUNK; s < z; s++) {
        const e = c[s]!;
        if (e === 0) added++;
        const x = (e & keep) | (((e & mask) | set) & ~clear);
        c[s] = x;
        or |= x & FLAG_MASK;
        and &= x & FLAG_MASK;
      }
      c[OR] = or;
      c[AND] = and;
      c[COUNT]! += added;
      this.size += added;
      i = to;
    }
  }

  /** The bitwise OR of `mask`'s bits of every entry in [a, b) (0: none has any of them). One chunk lookup per 512 pages. */
  bitsIn(a: number, b: number, mask: number): number {
    let bits = 0;
    for (let i = Math.max(0, a); i < b;) {
      const key = Math.floor(i / CHUNK);
      const to = Math.min(b, (key + 1) * CHUNK);
      const c = this.chunks.get(key);
      // A chunk whose OR lacks every bit of `mask` has no entry with one (see FLAG_MASK).
      if (c && ((mask & ~FLAG_MASK) !== 0 || (c[OR]! & mask) !== 0)) for (let s = i - key * CHUNK, z = to - key * CHUNK; s < z; s++) bits |= c[s]!;
      i = to;
    }
    return bits & mask;
  }

  /**
   * Calls `fn(index, entry)` for every entry, ascending by index: the walk of `entries()` without a
   * generator or an array per entry (a view of the mm is taken at every step's `done` under
   * `--html`, and the agents run baseline code, where a generator's resumption costs the most).
   */
  forEach(fn: (i: number, e: number) => void): void {
    const keys = this.chunks.size === 1 ? this.chunks.keys() : [...this.chunks.keys()].sort((x, y) => x - y);
    for (const key of keys) {
      const c = this.chunks.get(key)!;
      const base = key * CHUNK;
      for (let s = 0; s < CHUNK; s++) { const e = c[s]!; if (e !== 0) fn(base + s, e); }
    }
  }

  /** Page indexes with an entry, ascending. */
  *keys(): Generator<number> {
    for (const [i] of this.entries()) yield i;
  }

  /** [index, entry] for every entry, ascending by index. */
  *entries(): Generator<[number, number]> {
    for (const key of [...this.chunks.keys()].sort((x, y) => x - y)) {
      const c = this.chunks.get(key)!;
      for (let s = 0; s < CHUNK; s++) if (c[s] !== 0) yield [key * CHUNK + s, c[s]!];
    }
  }

  [Symbol.iterator](): Generator<[number, number]> { return this.entries(); }
}
