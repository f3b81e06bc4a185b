// The interval structure that holds volatile ranges: one per mm (keyed by virtual page
// number) and one per file (keyed by file page).
//
// A range is what one mark call marked, less what later calls changed: a later mark over
// part of it takes that part, an unmark removes coverage. The pieces left of a range keep
// its id and markedAt. Pieces never overlap and are never empty.
//
// Layout: a sorted array of chunks. Each chunk holds at most `chunkSize` pieces (default
// 128) interleaved in one Float64Array, four numbers a piece: start, end, id, markedAt.
// Because pieces are sorted and disjoint, both starts and ends ascend, so a lookup is a
// binary search over the chunks (by their last end or first start) and then one inside a
// chunk. Each chunk's first start and last end are also kept in two Float64Arrays beside the
// chunk list (`firsts`, `lasts`), so the search over chunks reads one small contiguous array
// and not each chunk's own. An edit touches one chunk (two when it spans a chunk boundary, plus whole chunks
// deleted in between) and then restores the chunk bounds: an empty chunk is dropped, an
// over-full one split in halves, an under-full one (below chunkSize/4) merged with or
// topped up from a neighbour; the chunk index is updated with them. Range objects are built
// only when returned.

import { createRequire } from 'node:module';
import { rangesPerSetMax } from './limits.js';

/** One piece: the pages [start, end) of the range `id`, marked at `markedAt`. */
export interface Range {
  readonly start: number;
  readonly end: number;
  readonly id: number;
  readonly markedAt: number;
}

/** A mark or unmark would have stored more pieces than the set's limit; the set is unchanged. */
export class RangeLimitError extends Error {
  constructor(readonly limit: number, readonly wanted: number) {
    super(`range set limit exceeded: ${wanted} pieces wanted, limit ${limit}`);
    this.name = 'RangeLimitError';
  }
}

/** Pages are integers in [0, pageEndMax); a range's end may equal it. */
export const pageEndMax = 2 ** 40;
const chunkSizeDefault = 128;
const chunkSizeMin = 4;
const chunkCapacityFirst = 8; // a chunk's typed array grows by doubling up to chunkSize + 4
const indexCapacityFirst = 8; // entries of the chunk index (firsts, lasts); grows by doubling
const jsonVersion = 1;

/** The plain form of a set (toJSON/fromJSON): pieces flattened as start, end, id, markedAt. */
export interface RangeSetJSON {
  v: number;
  limit: number;
  nextId: number;
  pieces: number[];
}

function fail(message: string): never {
  // node:assert is loaded only here: it costs every agent several milliseconds of start-up
  // (docs/performance.md, "Agent start-up"), and this is only ever reached by a bug.
  const { AssertionError } = createRequire(import.meta.url)('node:assert') as typeof import('node:assert');
  throw new AssertionError({ message });
}

function isPage(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < pageEndMax;
}

function checkSpan(op: string, start: number, end: number): void {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end > start && end <= pageEndMax)) {
    fail(`RangeSet.${op}(${start}, ${end}): need integers 0 <= start < end <= 2^40`);
  }
}

class Chunk {
  /** Pieces in use. */
  n = 0;
  /** Piece i is d[4i] start, d[4i+1] end, d[4i+2] id, d[4i+3] markedAt. */
  d: Float64Array;
  constructor(capacity: number) { this.d = new Float64Array(capacity * 4); }

  /** Room for `pieces` pieces. */
  ensure(pieces: number): void {
    if (pieces * 4 <= this.d.length) return;
    let cap = Math.max(1, this.d.length >> 2);
    while (cap < pieces) cap *= 2;
    const d = new Float64Array(cap * 4);
    d.set(this.d.subarray(0, this.n * 4));
    this.d = d;
  }

  /** Index of the first piece with end > x, or n. */
  firstEndAbove(x: number, from: number): number {
    const d = this.d;
    let lo = from;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d[mid * 4 + 1] > x) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  /** Index of the first piece with start >= x, or n. */
  firstStartAtLeast(x: number, from: number): number {
    const d = this.d;
    let lo = from;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d[mid * 4] >= x) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  insert(i: number, start: number, end: number, id: number, markedAt: number): void {
    this.ensure(this.n + 1);
    const d = this.d;
    if (i < this.n) d.copyWithin(i * 4 + 4, i * 4, this.n * 4);
    d[i * 4] = start;
    d[i * 4 + 1] = end;
    d[i * 4 + 2] = id;
    d[i * 4 + 3] = markedAt;
    this.n++;
  }

  /** Removes pieces [i, j). */
  remove(i: number, j: number): void {
    if (j <= i) return;
    if (j < this.n) this.d.copyWithin(i * 4, j * 4, this.n * 4);
    this.n -= j - i;
  }

  /** Appends pieces [i, j) of `src`. */
  append(src: Chunk, i: number, j: number): void {
    this.ensure(this.n + j - i);
    this.d.set(src.d.subarray(i * 4, j * 4), this.n * 4);
    this.n += j - i;
  }

  /** Moves this chunk's last `k` pieces to the front of `next`. */
  giveTail(next: Chunk, k: number): void {
    next.ensure(next.n + k);
    next.d.copyWithin(k * 4, 0, next.n * 4);
    next.d.set(this.d.subarray((this.n - k) * 4, this.n * 4), 0);
    next.n += k;
    this.n -= k;
  }

  copy(): Chunk {
    const c = new Chunk(0);
    c.d = this.d.slice(0, Math.max(this.n, 1) * 4);
    c.n = this.n;
    return c;
  }

  piece(i: number): Range {
    const d = this.d;
    return { start: d[i * 4], end: d[i * 4 + 1], id: d[i * 4 + 2], markedAt: d[i * 4 + 3] };
  }
}

export class RangeSet {
  private chunks: Chunk[] = [];
  /** firsts[ci]: first start of chunks[ci]; entries at and past chunks.length mean nothing. */
  private firsts = new Float64Array(indexCapacityFirst);
  /** lasts[ci]: last end of chunks[ci]; same length as firsts. */
  private lasts = new Float64Array(indexCapacityFirst);
  private count = 0;
  private nextId = 1;
  readonly limit: number;
  /** Most pieces per chunk; a small value is for tests that want many chunk boundaries. */
  readonly chunkSize: number;
  private readonly fillMin: number;

  constructor(limit: number = rangesPerSetMax, chunkSize: number = chunkSizeDefault) {
    if (!(Number.isInteger(limit) && limit >= 0)) fail(`RangeSet limit ${limit}: need an integer >= 0`);
    if (!(Number.isInteger(chunkSize) && chunkSize >= chunkSizeMin)) {
      fail(`RangeSet chunkSize ${chunkSize}: need an integer >= ${chunkSizeMin}`);
    }
    this.limit = limit;
    this.chunkSize = chunkSize;
    this.fillMin = chunkSize >> 2;
  }

  /** Number of pieces. */
  get size(): number { return this.count; }

  /** Marks [start, end) as one new range, taking those pages from any earlier range. Returns its id. */
  mark(start: number, end: number, markedAt: number): number {
    checkSpan('mark', start, end);
    if (!Number.isFinite(markedAt)) fail(`RangeSet.mark: markedAt ${markedAt} is not a finite number`);
    return this.edit(start, end, true, markedAt);
  }

  /**
   * Marks [start, end) as more of range `id`, which this call made: one `vrange` call over
   * several VMAs of this mm (with a file's pages between them) marks one range, one purge unit.
   */
  markMore(start: number, end: number, markedAt: number, id: number): number {
    checkSpan('markMore', start, end);
    if (!Number.isFinite(markedAt)) fail(`RangeSet.markMore: markedAt ${markedAt} is not a finite number`);
    if (!(Number.isInteger(id) && id >= 1 && id < this.nextId)) fail(`RangeSet.markMore: id ${id} is not in [1, ${this.nextId})`);
    return this.edit(start, end, true, markedAt, id);
  }

  /** Removes [start, end) from whatever ranges cover it. */
  unmark(start: number, end: number): void {
    checkSpan('unmark', start, end);
    this.edit(start, end, false, 0);
  }

  /** The piece covering `page`, if any. */
  at(page: number): Range | undefined {
    if (!isPage(page)) fail(`RangeSet.at(${page}): need an integer page in [0, 2^40)`);
    const ci = this.chunkByEnd(page);
    if (ci === this.chunks.length) return undefined;
    const c = this.chunks[ci];
    const i = c.firstEndAbove(page, 0);
    return c.d[i * 4] <= page ? c.piece(i) : undefined;
  }

  /** The whole pieces that intersect [start, end), ascending. */
  overlapping(start: number, end: number): Range[] {
    checkSpan('overlapping', start, end);
    const out: Range[] = [];
    this.scan(start, end, (c, i) => { out.push(c.piece(i)); return true; });
    return out;
  }

  /** Whether every page of [start, end) is covered by some piece. */
  covered(start: number, end: number): boolean {
    checkSpan('covered', start, end);
    let next = start;
    this.scan(start, end, (c, i) => {
      if (c.d[i * 4] > next) return false;
      next = c.d[i * 4 + 1];
      return next < end;
    });
    return next >= end;
  }

  /** Every piece, ascending by start. */
  all(): Range[] {
    const out: Range[] = [];
    for (const c of this.chunks) for (let i = 0; i < c.n; i++) out.push(c.piece(i));
    return out;
  }

  /** Maximal covered intervals as [start, pages], ascending; adjacent pieces merge whatever their ids. */
  coalesced(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    let s = -1;
    let e = -1;
    for (const c of this.chunks) {
      const d = c.d;
      for (let i = 0; i < c.n; i++) {
        if (d[i * 4] === e) { e = d[i * 4 + 1]; continue; }
        if (s >= 0) out.push([s, e - s]);
        s = d[i * 4];
        e = d[i * 4 + 1];
      }
    }
    if (s >= 0) out.push([s, e - s]);
    return out;
  }

  /** A deep copy with the same pieces, ids, markedAt and next id (used at fork). */
  clone(): RangeSet {
    const r = new RangeSet(this.limit, this.chunkSize);
    r.chunks = this.chunks.map((c) => c.copy());
    r.reindex();
    r.count = this.count;
    r.nextId = this.nextId;
    return r;
  }

  /** Plain form for msgpack transport. */
  toJSON(): RangeSetJSON {
    const pieces: number[] = new Array(this.count * 4);
    let k = 0;
    for (const c of this.chunks) for (let j = 0; j < c.n * 4; j++) pieces[k++] = c.d[j];
    return { v: jsonVersion, limit: this.limit, nextId: this.nextId, pieces };
  }

  /** Rebuilds a set from toJSON's form; throws a TypeError on anything malformed (it crossed a socket). */
  static fromJSON(x: unknown, chunkSize: number = chunkSizeDefault): RangeSet {
    const bad = (why: string): never => { throw new TypeError(`RangeSet.fromJSON: ${why}`); };
    if (typeof x !== 'object' || x === null) bad('not an object');
    const o = x as Partial<RangeSetJSON>;
    if (o.v !== jsonVersion) bad(`version ${String(o.v)}, expected ${jsonVersion}`);
    if (!(Number.isInteger(o.limit) && (o.limit as number) >= 0)) bad('limit is not an integer >= 0');
    if (!(Number.isInteger(o.nextId) && (o.nextId as number) >= 1)) bad('nextId is not an integer >= 1');
    if (!Array.isArray(o.pieces) || o.pieces.length % 4 !== 0) bad('pieces is not an array of quadruples');
    const p = o.pieces as unknown[];
    const n = p.length / 4;
    const limit = o.limit as number;
    const nextId = o.nextId as number;
    if (n > limit) bad(`${n} pieces exceed the limit ${limit}`);
    let prevEnd = 0;
    for (let i = 0; i < n; i++) {
      const [s, e, id, t] = [p[i * 4], p[i * 4 + 1], p[i * 4 + 2], p[i * 4 + 3]];
      if (typeof s !== 'number' || typeof e !== 'number' || typeof id !== 'number' || typeof t !== 'number') {
        bad(`piece ${i} holds a non-number`);
      }
      const [sn, en, idn, tn] = [s as number, e as number, id as number, t as number];
      if (!(Number.isInteger(sn) && Number.isInteger(en) && sn >= prevEnd && en > sn && en <= pageEndMax)) {
        bad(`piece ${i} [${sn}, ${en}) is empty, out of order or out of bounds`);
      }
      if (!(Number.isInteger(idn) && idn >= 1 && idn < nextId)) bad(`piece ${i} id ${idn} is not in [1, nextId)`);
      if (!Number.isFinite(tn)) bad(`piece ${i} markedAt is not finite`);
      prevEnd = en;
    }
    const r = new RangeSet(limit, chunkSize);
    r.nextId = nextId;
    r.count = n;
    // Fill chunks to about three quarters so the first edits do not split them all.
    const per = Math.max(1, Math.floor((r.chunkSize * 3) / 4));
    const chunkCount = Math.ceil(n / per);
    for (let c = 0; c < chunkCount; c++) {
      const from = Math.floor((c * n) / chunkCount);
      const to = Math.floor(((c + 1) * n) / chunkCount);
      const chunk = new Chunk(to - from);
      for (let j = from * 4; j < to * 4; j++) chunk.d[j - from * 4] = p[j] as number;
      chunk.n = to - from;
      r.chunks.push(chunk);
    }
    r.reindex();
    r.checkInvariants();
    return r;
  }

  /** Throws an AssertionError if the structure is inconsistent. O(n); for tests and debugging. */
  checkInvariants(): void {
    let total = 0;
    let prevEnd = -1;
    const many = this.chunks.length > 1;
    for (let ci = 0; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci];
      if (!(c.n >= 1 && c.n <= this.chunkSize)) fail(`chunk ${ci} holds ${c.n} pieces, bounds [1, ${this.chunkSize}]`);
      if (many && c.n < this.fillMin) fail(`chunk ${ci} of ${this.chunks.length} holds ${c.n} < ${this.fillMin} pieces`);
      if (c.d.length < c.n * 4) fail(`chunk ${ci} array too short`);
      if (!(ci < this.firsts.length && this.firsts.length === this.lasts.length)) fail(`chunk index shorter than ${ci + 1} chunks`);
      if (this.firsts[ci] !== c.d[0] || this.lasts[ci] !== c.d[c.n * 4 - 3]) {
        fail(`chunk ${ci} index [${this.firsts[ci]}, ${this.lasts[ci]}) but pieces span [${c.d[0]}, ${c.d[c.n * 4 - 3]})`);
      }
      for (let i = 0; i < c.n; i++) {
        const { start, end, id, markedAt } = c.piece(i);
        const where = `chunk ${ci} piece ${i} [${start}, ${end}) id ${id}`;
        if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && end <= pageEndMax)) fail(`${where}: bad bounds`);
        if (!(end > start)) fail(`${where}: empty`);
        if (!(start >= prevEnd)) fail(`${where}: overlaps or precedes the piece before (end ${prevEnd})`);
        if (!(Number.isInteger(id) && id >= 1 && id < this.nextId)) fail(`${where}: id not in [1, ${this.nextId})`);
        if (!Number.isFinite(markedAt)) fail(`${where}: markedAt ${markedAt}`);
        prevEnd = end;
      }
      total += c.n;
    }
    if (total !== this.count) fail(`size ${this.count} but ${total} pieces stored`);
    if (total > this.limit) fail(`size ${total} exceeds limit ${this.limit}`);
  }

  // ---- internals ----

  /** Index of the first chunk whose last end is > x, or chunks.length. */
  private chunkByEnd(x: number): number {
    const lasts = this.lasts;
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (lasts[mid] > x) hi = mid; else lo = mid + 1;
    }
    return lo;
  }

  /** Index of the last chunk whose first start is < x, searching from `from` (which qualifies). */
  private lastChunkStartingBelow(x: number, from: number): number {
    const firsts = this.firsts;
    let lo = from + 1;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (firsts[mid] >= x) hi = mid; else lo = mid + 1;
    }
    return lo - 1;
  }

  /** Copies chunk ci's first start and last end into the index (an empty chunk is left for fix to drop). */
  private bounds(ci: number): void {
    const c = this.chunks[ci];
    if (c.n === 0) return;
    this.firsts[ci] = c.d[0];
    this.lasts[ci] = c.d[c.n * 4 - 3];
  }

  /** Inserts chunk `c` (not empty) at index ci, in the list and the index. */
  private insertChunk(ci: number, c: Chunk): void {
    const len = this.chunks.length;
    if (len === this.firsts.length) {
      const firsts = new Float64Array(len * 2);
      const lasts = new Float64Array(len * 2);
      firsts.set(this.firsts);
      lasts.set(this.lasts);
      this.firsts = firsts;
      this.lasts = lasts;
    }
    if (ci < len) {
      this.firsts.copyWithin(ci + 1, ci, len);
      this.lasts.copyWithin(ci + 1, ci, len);
      this.chunks.splice(ci, 0, c);
    } else this.chunks.push(c);
    this.bounds(ci);
  }

  /** Removes chunks [ci, ci + k), from the list and the index. */
  private removeChunks(ci: number, k: number): void {
    const len = this.chunks.length;
    if (ci + k < len) {
      this.firsts.copyWithin(ci, ci + k, len);
      this.lasts.copyWithin(ci, ci + k, len);
    }
    this.chunks.splice(ci, k);
  }

  /** Builds the index afresh from the chunks (after they were built without it). */
  private reindex(): void {
    let cap = indexCapacityFirst;
    while (cap < this.chunks.length) cap *= 2;
    this.firsts = new Float64Array(cap);
    this.lasts = new Float64Array(cap);
    for (let ci = 0; ci < this.chunks.length; ci++) this.bounds(ci);
  }

  /** Calls `f` on each piece intersecting [start, end) in order, until it returns false. */
  private scan(start: number, end: number, f: (c: Chunk, i: number) => boolean): void {
    let ci = this.chunkByEnd(start);
    if (ci === this.chunks.length) return;
    let i = this.chunks[ci].firstEndAbove(start, 0);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const c = this.chunks[ci];
      for (; i < c.n; i++) {
        if (c.d[i * 4] >= end) return;
        if (!f(c, i)) return;
      }
    }
  }

  private checkLimit(delta: number): void {
    if (delta > 0 && this.count + delta > this.limit) throw new RangeLimitError(this.limit, this.count + delta);
  }

  /** Clears [start, end) and, if `mark`, stores it as a new range. Returns the new id or 0. */
  private edit(start: number, end: number, mark: boolean, markedAt: number, reuse = 0): number {
    const chunks = this.chunks;
    const add = mark ? 1 : 0;
    const id = mark ? reuse || this.nextId : 0;
    if (chunks.length === 0) {
      if (!mark) return 0;
      this.checkLimit(1);
      const c = new Chunk(chunkCapacityFirst);
      c.insert(0, start, end, id, markedAt);
      this.insertChunk(0, c);
      this.count = 1;
      if (reuse === 0) this.nextId++;
      return id;
    }

    // First piece that could be affected: the first with end > start.
    let ca = this.chunkByEnd(start);
    let ia: number;
    if (ca === chunks.length) { ca--; ia = chunks[ca].n; } else ia = chunks[ca].firstEndAbove(start, 0);
    const A = chunks[ca];
    const dA = A.d;

    if (ia === A.n || dA[ia * 4] >= end) {
      // Nothing covered in [start, end): a plain insert at (ca, ia).
      if (!mark) return 0;
      this.checkLimit(1);
      A.insert(ia, start, end, id, markedAt);
      if (ia === 0 || ia === A.n - 1) this.bounds(ca);
      this.count++;
      if (reuse === 0) this.nextId++;
      this.fix(ca);
      return id;
    }

    // Last affected piece (cl, il): the last with start < end. Usually in the same chunk.
    let cl = ca;
    let il: number;
    if (this.lasts[ca] > end) {
      // This chunk ends past the edit, so the next one starts past it: walk from ia (the
      // pieces walked over are all removed or trimmed below, so the walk costs no more than that).
      il = ia;
      while (il + 1 < A.n && dA[il * 4 + 4] < end) il++;
    } else if (ca + 1 < chunks.length && this.firsts[ca + 1] < end) {
      cl = this.lastChunkStartingBelow(end, ca);
      il = chunks[cl].firstStartAtLeast(end, 0) - 1;
    } else il = A.n - 1;
    const L = chunks[cl];
    const dL = L.d;
    const s0 = dA[ia * 4];
    const eLast = dL[il * 4 + 1];
    const keepLeft = s0 < start;
    const keepRight = eLast > end;
    // The edit changes this chunk's first start or last end only if it reaches its first or last piece.
    const edges = ia === 0 || il === L.n - 1;

    if (keepLeft && keepRight && ca === cl && ia === il) {
      // One piece strictly contains [start, end): split it.
      this.checkLimit(1 + add);
      const oldId = dA[ia * 4 + 2];
      const oldAt = dA[ia * 4 + 3];
      dA[ia * 4 + 1] = start;
      A.insert(ia + 1, end, eLast, oldId, oldAt);
      if (mark) A.insert(ia + 1, start, end, id, markedAt);
      this.count += 1 + add;
      if (mark && reuse === 0) this.nextId++;
      this.fix(ca);
      return id;
    }

    // Pieces ia..il (across chunks ca..cl) are affected; those cut at either edge survive trimmed.
    let affected: number;
    if (ca === cl) affected = il - ia + 1;
    else {
      affected = A.n - ia + il + 1;
      for (let c = ca + 1; c < cl; c++) affected += chunks[c].n;
    }
    const removed = affected - (keepLeft ? 1 : 0) - (keepRight ? 1 : 0);
    const delta = add - removed;
    this.checkLimit(delta);

    if (keepLeft) { dA[ia * 4 + 1] = start; ia++; }
    if (keepRight) dL[il * 4] = end; else il++;
    // Now delete [(ca, ia), (cl, il)) and insert the new piece at (ca, ia).
    if (ca === cl) {
      A.remove(ia, il);
      if (mark) A.insert(ia, start, end, id, markedAt);
      if (edges) this.bounds(ca);
      this.count += delta;
      if (mark && reuse === 0) this.nextId++;
      this.fix(ca);
    } else {
      A.remove(ia, A.n);
      L.remove(0, il);
      if (mark) A.insert(A.n, start, end, id, markedAt);
      if (cl > ca + 1) this.removeChunks(ca + 1, cl - ca - 1);
      this.bounds(ca);
      this.bounds(ca + 1);
      this.count += delta;
      if (mark && reuse === 0) this.nextId++;
      this.fix(ca + 1);
      this.fix(ca);
    }
    return id;
  }

  /**
   * Restores the bounds of chunk `ci` after an edit: drops it if empty, splits it if over
   * chunkSize, merges or rebalances it with a neighbour if under chunkSize/4. Chunks before
   * `ci - 1` keep their indices, and chunk `ci - 1` stays at its index.
   */
  private fix(ci: number): void {
    const chunks = this.chunks;
    const c = chunks[ci];
    const max = this.chunkSize;
    if (c.n === 0) { this.removeChunks(ci, 1); return; }
    if (c.n > max) {
      const half = c.n >> 1;
      const right = new Chunk(Math.max(chunkCapacityFirst, max + 4));
      right.append(c, half, c.n);
      c.n = half;
      this.bounds(ci);
      this.insertChunk(ci + 1, right);
      return;
    }
    if (c.n >= this.fillMin || chunks.length === 1) return;
    // Under-full: pair with the next chunk if there is one, else with the previous.
    const li = ci + 1 < chunks.length ? ci : ci - 1;
    const left = chunks[li];
    const right = chunks[li + 1];
    const total = left.n + right.n;
    if (total <= max) {
      left.append(right, 0, right.n);
      this.removeChunks(li + 1, 1);
      this.bounds(li);
      return;
    }
    // Both end up with more than max/2 pieces.
    const target = total >> 1;
    if (left.n > target) left.giveTail(right, left.n - target);
    else {
      const k = target - left.n;
      left.append(right, 0, k);
      right.remove(0, k);
    }
    this.bounds(li);
    this.bounds(li + 1);
  }
}
