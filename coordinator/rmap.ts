// The reverse map: for each frame, every (process, virtual page) whose page table maps it.
// Reclaim walks it to find every mapper of a page; exit cleanup walks it to drop a dead
// process's pages. Each entry holds one reference on its frame (FrameTable.incref/decref).
//
// Entry kinds:
//   anon          the agent's own page-table entry: anonymous or copied-on-write private page
//   file-shared   a file page mapped shared (the entry is kept here, beside the page cache)
//   file-private  a file page mapped private and not yet copied (still shared with the file)

import type { FrameTable } from './frames.js';
import { MapperSets } from './rmap_sets.js';
import { firstZero } from './frame_scan.js';

export type PteKind = 'anon' | 'file-shared' | 'file-private';
export interface Mapper { pid: number; vpage: number; kind: PteKind }

const KINDS: readonly PteKind[] = ['anon', 'file-shared', 'file-private'];
const KIND_INDEX: Readonly<Record<PteKind, number>> = { anon: 0, 'file-shared': 1, 'file-private': 2 };
/** Pages a chunk of a PageTable covers (a page-table page of 512 entries, as x86-64's). */
const CHUNK = 512;

/** Slot of a chunk counting its entries, the slot caching whether its entries are one run (SHAPE_*), and that run's slots [LO, HI). */
const COUNT = CHUNK;
const SHAPE = CHUNK + 1;
const LO = CHUNK + 2;
const HI = CHUNK + 3;
/**
 * The chunk's shape is not known since its last change; its entries are exactly the slots [LO, HI)
 * and their values go up by the table's step (a full chunk so has LO 0 and HI CHUNK); they are not.
 */
const SHAPE_UNKNOWN = 0; const SHAPE_LINEAR = 1; const SHAPE_OTHER = 2;

/**
 * A sparse map from vpage to a whole number >= 0, in chunks of 512 typed slots (value + 1; 0: no
 * entry; a chunk also counts its entries, and a chunk with none goes): no object and no Map entry
 * per page, a run of pages set or cleared slot by slot, entries listed in page order. A chunk
 * remembers, until a change it cannot follow, whether its entries are one run (slots [LO, HI)
 * with no gap, each value `step` above the last; an entry added at either end of the run, or
 * removed from either end, keeps it so): a walk of the runs, a run's length and a run's removal
 * then cost one step per such chunk instead of up to 512, whether the chunk is full or is the
 * part of a mapping that starts or ends inside it (issue 14: 16 mappers of 100,000 shared pages are 3,200 chunks, not 1.6 million
 * entries, to reclaim's walks).
 */
export class PageTable {
  private readonly chunks = new Map<number, Int32Array>();
  size = 0;

  /** `step`: the rise of value from page to page in a run (the rmap's entries: 4, frame * 4 + kind). */
  constructor(private readonly step = 1) {}

  get(vpage: number): number {
    const c = this.chunks.get(Math.floor(vpage / CHUNK));
    return c ? c[vpage % CHUNK]! - 1 : -1;
  }

  /** Sets the entry; returns false when `vpage` already had one (it is replaced). */
  set(vpage: number, value: number): boolean {
    if (!(Number.isInteger(value) && value >= 0 && value < 2 ** 31 - 1)) throw new Error(`page table invariant: entry ${value} out of range`);
    const key = Math.floor(vpage / CHUNK);
    let c = this.chunks.get(key);
    if (!c) this.chunks.set(key, (c = new Int32Array(CHUNK + 4)));
    const i = vpage % CHUNK;
    const fresh = c[i] === 0;
    c[i] = value + 1;
    if (fresh && c[COUNT] === 0) { c[SHAPE] = SHAPE_LINEAR; c[LO] = i; c[HI] = i + 1; }
    else if (fresh && c[SHAPE] === SHAPE_LINEAR && i === c[HI] && c[i - 1]! + this.step === value + 1) c[HI] = i + 1;
    else if (fresh && c[SHAPE] === SHAPE_LINEAR && i === c[LO]! - 1 && c[i + 1]! - this.step === value + 1) c[LO] = i;
    else c[SHAPE] = SHAPE_UNKNOWN;
    if (fresh) { c[COUNT]!++; this.size++; }
    // A chunk just filled (a process writing or a child forked page by page) learns its shape now, not in reclaim's walk.
    if (fresh && c[COUNT] === CHUNK) this.linear(c);
    return fresh;
  }

  /** Removes the entry; returns whether there was one. */
  delete(vpage: number): boolean {
    const key = Math.floor(vpage / CHUNK);
    const c = this.chunks.get(key);
    const i = vpage % CHUNK;
    if (!c || c[i] === 0) return false;
    c[i] = 0;
    if (c[SHAPE] === SHAPE_LINEAR && i === c[LO]) c[LO] = i + 1;
    else if (c[SHAPE] === SHAPE_LINEAR && i === c[HI]! - 1) c[HI] = i;
    else c[SHAPE] = SHAPE_UNKNOWN;
    this.size--;
    if (--c[COUNT]! === 0) this.chunks.delete(key);
    return true;
  }

  /**
   * Whether chunk `c`'s entries are the slots [c[LO], c[HI]) and their values rise by the table's
   * step (found once per change it could not follow).
   */
  private linear(c: Int32Array): boolean {
    if (c[SHAPE] === SHAPE_UNKNOWN) {
      let lo = 0;
      while (lo < CHUNK && c[lo] === 0) lo++;
      const hi = lo + c[COUNT]!;
      let ok = hi <= CHUNK;
      const step = this.step;
      for (let i = lo + 1, x = c[lo]! + step; ok && i < hi; i++, x += step) if (c[i] !== x) ok = false;
      c[SHAPE] = ok ? SHAPE_LINEAR : SHAPE_OTHER;
      if (ok) { c[LO] = lo; c[HI] = hi; }
    }
    return c[SHAPE] === SHAPE_LINEAR;
  }

  /**
   * How many entries from `vpage` on (at most `max`) hold `value`, `value + step`, ... one page
   * after the other: a run found with one chunk lookup per 512 pages, and one step per chunk
   * that is one run itself.
   */
  runFrom(vpage: number, value: number, step: number, max: number): number {
    let n = 0;
    while (n < max) {
      const v = vpage + n;
      const key = Math.floor(v / CHUNK);
      const c = this.chunks.get(key);
      if (!c) break;
      const base = key * CHUNK;
      const to = Math.min(base + CHUNK, vpage + max);
      const want = value + n * step + 1;
      if (step === this.step && c[v - base] === want && this.linear(c)) {
        // From v on, the chunk's entries go on rising by step up to its run's end (HI), and none follows it in the chunk.
        const end = Math.min(base + c[HI]!, to);
        n += end - v;
        if (end < to) break;
        continue;
      }
      let i = v;
      while (i < to && c[i - base] === value + (i - vpage) * step + 1) i++;
      n += i - v;
      if (i < to) break;
    }
    return n;
  }

  /** Removes the entries [vpage, vpage + count), which must all exist; one chunk lookup per 512 pages, a whole chunk at once. */
  deleteRun(vpage: number, count: number): void {
    for (let v = vpage; v < vpage + count;) {
      const key = Math.floor(v / CHUNK);
      const c = this.chunks.get(key);
      const to = Math.min((key + 1) * CHUNK, vpage + count);
      if (!c) throw new Error(`page table invariant: no entry at page ${v}`);
      if (to - v === CHUNK && c[COUNT] === CHUNK) {
        // The whole chunk goes (every slot is an entry: the count says so).
        this.chunks.delete(key);
        this.size -= CHUNK;
        v = to;
        continue;
      }
      const a = v - key * CHUNK;
      const b = to - key * CHUNK;
      const z = firstZero(c, a, b);
      if (z < b) throw new Error(`page table invariant: no entry at page ${key * CHUNK + z}`);
      c.fill(0, a, b);
      // Every slot of [a, b) was an entry: a run losing its first or last slots stays one run.
      if (c[SHAPE] === SHAPE_LINEAR && a === c[LO]) c[LO] = b;
      else if (c[SHAPE] === SHAPE_LINEAR && b === c[HI]) c[HI] = a;
      else c[SHAPE] = SHAPE_UNKNOWN;
      this.size -= to - v;
      if ((c[COUNT]! -= to - v) === 0) this.chunks.delete(key);
      v = to;
    }
  }

  /** Sets entries [vpage, vpage + count) to value, value + 1, ...; one chunk lookup per 512 pages. */
  setRun(vpage: number, count: number, value: number): void {
    if (!(Number.isInteger(value) && value >= 0 && value + count < 2 ** 31 - 1)) throw new Error(`page table invariant: entries ${value}.. out of range`);
    for (let v = vpage; v < vpage + count;) {
      const key = Math.floor(v / CHUNK);
      let c = this.chunks.get(key);
      if (!c) this.chunks.set(key, (c = new Int32Array(CHUNK + 4)));
      const to = Math.min((key + 1) * CHUNK, vpage + count);
      let added = 0;
      for (let i = v; i < to; i++) {
        if (c[i - key * CHUNK] === 0) added++;
        c[i - key * CHUNK] = value + (i - vpage) + 1;
      }
      c[SHAPE] = SHAPE_UNKNOWN;
      c[COUNT]! += added;
      this.size += added;
      v = to;
    }
  }

  /**
   * Calls `fn(vpage, value, count)` on each run of entries at consecutive vpages whose values go
   * up by `step` a page, ascending: no call per entry, one step per chunk that is one run.
   */
  forEachRun(step: number, fn: (vpage: number, value: number, count: number) => void): void {
    const r = this.runs(step);
    for (let i = 0; i < r.length; i += 3) fn(r[i]!, r[i + 1]!, r[i + 2]!);
  }

  /**
   * The runs forEachRun lists, as one flat array [vpage, value, count, ...] ascending: reclaim's
   * walk takes them so, with no callback, so that the optimised code of this loop holds no
   * kernel's closure and outlives the kernel (docs/performance.md, the reclaim's fixed cost).
   */
  runs(step: number): number[] {
    const out: number[] = [];
    let v0 = -1; let x0 = -1; let n = 0;
    for (const k of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const c = this.chunks.get(k)!;
      if (step === this.step && this.linear(c)) {
        const lo = c[LO]!;
        const v = k * CHUNK + lo;
        const x = c[lo]! - 1;
        if (n > 0 && v === v0 + n && x === x0 + n * step) { n += c[HI]! - lo; continue; }
        if (n > 0) out.push(v0, x0, n);
        v0 = v; x0 = x; n = c[HI]! - lo;
        continue;
      }
      for (let i = 0; i < CHUNK; i++) {
        const x = c[i]!;
        if (x === 0) continue;
        const v = k * CHUNK + i;
        if (n > 0 && v === v0 + n && x - 1 === x0 + n * step) { n++; continue; }
        if (n > 0) out.push(v0, x0, n);
        v0 = v; x0 = x - 1; n = 1;
      }
    }
    if (n > 0) out.push(v0, x0, n);
    return out;
  }

  /** Calls `fn` on every entry, ascending by vpage. */
  forEach(fn: (vpage: number, value: number) => void): void {
    for (const k of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const c = this.chunks.get(k)!;
      for (let i = 0; i < CHUNK; i++) if (c[i] !== 0) fn(k * CHUNK + i, c[i]! - 1);
    }
  }

  /** Entries in [start, end), ascending by vpage: O(chunks + entries there). */
  entriesIn(start: number, end: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const keys = [...this.chunks.keys()].filter((k) => (k + 1) * CHUNK > start && k * CHUNK < end).sort((a, b) => a - b);
    for (const k of keys) {
      const c = this.chunks.get(k)!;
      const from = Math.max(start, k * CHUNK);
      const to = Math.min(end, (k + 1) * CHUNK);
      for (let v = from; v < to; v++) { const x = c[v - k * CHUNK]!; if (x !== 0) out.push([v, x - 1]); }
    }
    return out;
  }
}

/**
 * Per process, the frame each purged page had (vpage -> frame, frames rising by one a page in a
 * run): a chunk of 512 pages that one purged run covers whole is one number (the frame of its
 * first page), any other chunk 512 typed slots (frame + 1; 0: none). Reclaim of 100,000 pages of
 * 16 mappers records 16 x 196 numbers, not 1.6 million slots (issue 14).
 */
export class PurgedRecord {
  private readonly whole = new Map<number, number>();
  /** A chunk with one run recorded and nothing else: [first slot, end slot, frame of the first]. */
  private readonly parts = new Map<number, [number, number, number]>();
  private readonly slots = new Map<number, Int32Array>();

  get(vpage: number): number {
    const key = Math.floor(vpage / CHUNK);
    const w = this.whole.get(key);
    if (w !== undefined) return w + (vpage - key * CHUNK);
    const p = this.parts.get(key);
    if (p) { const i = vpage - key * CHUNK; return i >= p[0] && i < p[1] ? p[2] + (i - p[0]) : -1; }
    const c = this.slots.get(key);
    return c ? c[vpage - key * CHUNK]! - 1 : -1;
  }

  /** Pages [vpage, vpage + count) had frames `frame`, `frame + 1`, ... (replacing what was recorded there). */
  setRun(vpage: number, count: number, frame: number): void {
    if (!(Number.isInteger(frame) && frame >= 0 && frame + count < 2 ** 31 - 1 && Number.isInteger(count) && count >= 1)) {
      throw new Error(`rmap invariant: purged frames ${frame}.. (${count}) out of range`);
    }
    for (let v = vpage; v < vpage + count;) {
      const key = Math.floor(v / CHUNK);
      const base = key * CHUNK;
      const to = Math.min(base + CHUNK, vpage + count);
      if (to - v === CHUNK) {
        this.slots.delete(key);
        this.parts.delete(key);
        this.whole.set(key, frame + (v - vpage));
      } else if (!this.whole.has(key) && !this.parts.has(key) && !this.slots.has(key)) {
        // The first record in this chunk, part of it (a run starting or ending inside): three numbers.
        this.parts.set(key, [v - base, to - base, frame + (v - vpage)]);
      } else {
        const c = this.chunk(key);
        for (let i = v; i < to; i++) c[i - base] = frame + (i - vpage) + 1;
      }
      v = to;
    }
  }

  /** Chunk `key` as slots (a whole chunk is written out first). */
  private chunk(key: number): Int32Array {
    let c = this.slots.get(key);
    if (c) return c;
    c = new Int32Array(CHUNK);
    const w = this.whole.get(key);
    if (w !== undefined) { for (let i = 0; i < CHUNK; i++) c[i] = w + i + 1; this.whole.delete(key); }
    const p = this.parts.get(key);
    if (p) { for (let i = p[0]; i < p[1]; i++) c[i] = p[2] + (i - p[0]) + 1; this.parts.delete(key); }
    this.slots.set(key, c);
    return c;
  }
}

export class Rmap {
  /** Each frame's mappers, interned (rmap_sets.ts): no object per page. */
  private readonly sets = new MapperSets();
  /** Each process's page table: vpage -> frame * 4 + kind index. */
  private readonly byPid = new Map<number, PageTable>();
  /**
   * Per process, the frame each of its pages had when reclaim purged it. An agent may still name
   * such a frame in a request that crossed the commit: that is a stale frame (answered `retry`),
   * not a forged one (EFAULT). Forgotten at the process's cleanup.
   */
  private readonly purgedFrom = new Map<number, PurgedRecord>();

  constructor(private readonly frames: FrameTable) {}

  lookup(pid: number, vpage: number): { frame: number; kind: PteKind } | undefined {
    const x = this.byPid.get(pid)?.get(vpage) ?? -1;
    return x < 0 ? undefined : { frame: x >>> 2, kind: KINDS[x & 3]! };
  }

  /** The frame of an anonymous entry at (pid, vpage), or -1 (none, or a file page): no object made. */
  anonFrameAt(pid: number, vpage: number): number {
    const x = this.byPid.get(pid)?.get(vpage) ?? -1;
    return x >= 0 && (x & 3) === KIND_INDEX.anon ? x >>> 2 : -1;
  }

  /** The frame's mappers in the order they came (a new list each call). */
  mappers(frame: number): readonly Mapper[] { return this.sets.mappers(frame); }

  /**
   * An id of the frame's mappers relative to it (0: none): frames g and f have the same mappers,
   * in the same order, each `g - f` pages on, exactly when their ids are equal.
   */
  mapperSetAt(frame: number): number { return this.sets.setAt(frame); }

  /** The first frame of [from, to) whose mapperSetAt is not `id`, or `to` (a native scan, frame_scan.ts). */
  firstOtherMapperSet(from: number, to: number, id: number): number { return this.sets.firstOtherSet(from, to, id); }

  /** Adds an entry and takes a reference on the frame. */
  add(pid: number, vpage: number, frame: number, kind: PteKind): void {
    let table = this.byPid.get(pid);
    if (!table) this.byPid.set(pid, (table = new PageTable(4)));
    if (table.get(vpage) >= 0) throw new Error(`rmap invariant: pid ${pid} page ${vpage} mapped twice`);
    this.frames.incref(frame);
    table.set(vpage, frame * 4 + KIND_INDEX[kind]);
    this.sets.add(frame, pid, vpage, kind);
  }

  /** Removes the entry, drops its reference; returns the frame and whether it was freed. */
  remove(pid: number, vpage: number): { frame: number; freed: boolean } | undefined {
    const table = this.byPid.get(pid);
    const e = table?.get(vpage) ?? -1;
    if (!table || e < 0) return undefined;
    const frame = e >>> 2;
    table.delete(vpage);
    if (!this.sets.remove(frame, pid, vpage)) throw new Error(`rmap invariant: frame ${frame} lost its entry for pid ${pid} page ${vpage}`);
    return { frame, freed: this.frames.decref(frame) };
  }

  /** Removes every entry of `frame` (reclaim purging it), dropping their references; returns them. */
  dropFrame(frame: number): readonly Mapper[] {
    const list = this.sets.mappers(frame);
    if (list.length === 0) return [];
    this.sets.clearRun(frame, 1);
    for (const m of list) {
      if (!this.byPid.get(m.pid)?.delete(m.vpage)) throw new Error(`rmap invariant: frame ${frame} names pid ${m.pid} page ${m.vpage}, which its page table lacks`);
      this.frames.decref(frame);
    }
    return list;
  }

  /**
   * Reclaim purges frames [frame, frame + count), a run whose every frame has the mappers of the
   * first, each one page on (vmscan.ts built the run so): every entry goes (dropping its
   * reference) and is remembered as purged; mapper by mapper, one chunk lookup per 512 pages.
   */
  dropFrames(frame: number, count: number): void {
    const ms = this.mappers(frame);
    // Each mapper's page table maps the run's frames one page after the other, and (clearRun
    // checks it before it clears) each frame's mappers are the first's, each one page on.
    for (const m of ms) {
      if (this.byPid.get(m.pid)?.runFrom(m.vpage, frame * 4 + KIND_INDEX[m.kind], 4, count) !== count) {
        throw new Error(`rmap invariant: frames ${frame}-${frame + count - 1} name pid ${m.pid} pages from ${m.vpage}, which its page table lacks`);
      }
    }
    this.sets.clearRun(frame, count);
    for (const m of ms) {
      this.byPid.get(m.pid)!.deleteRun(m.vpage, count);
      let purged = this.purgedFrom.get(m.pid);
      if (!purged) this.purgedFrom.set(m.pid, (purged = new PurgedRecord()));
      purged.setRun(m.vpage, count, frame);
    }
    this.frames.decrefRunBy(frame, count, ms.length);
  }

  /**
   * How many pages from `vpage` on (at most `max`) `pid` maps anonymously at consecutive frames
   * from `frame` (0 when its entry at `vpage` is not that).
   */
  anonRunFrom(pid: number, vpage: number, frame: number, max: number): number {
    return this.byPid.get(pid)?.runFrom(vpage, frame * 4 + KIND_INDEX.anon, 4, max) ?? 0;
  }

  /**
   * Calls `fn(vpage, frame, count)` on each run of anonymous entries of `pid` (its own pages) at
   * consecutive vpages and consecutive frames, ascending: what forEachAnon lists, a run at a time.
   */
  forEachAnonRun(pid: number, fn: (vpage: number, frame: number, count: number) => void): void {
    const r = this.anonRuns(pid);
    for (let i = 0; i < r.length; i += 3) fn(r[i]!, r[i + 1]!, r[i + 2]!);
  }

  /** The runs forEachAnonRun lists, as one flat array [vpage, frame, count, ...] (no callback: see PageTable.runs). */
  anonRuns(pid: number): number[] {
    const r = this.byPid.get(pid)?.runs(4) ?? [];
    const out: number[] = [];
    // A run of values 4 apart is one kind at consecutive frames.
    for (let i = 0; i < r.length; i += 3) if ((r[i + 1]! & 3) === KIND_INDEX.anon) out.push(r[i]!, r[i + 1]! >>> 2, r[i + 2]!);
    return out;
  }

  /** Calls `fn` on each anonymous entry of `pid` (its own pages: anonymous, or copied private), ascending by vpage. */
  forEachAnon(pid: number, fn: (vpage: number, frame: number) => void): void {
    this.byPid.get(pid)?.forEach((vpage, x) => { if ((x & 3) === KIND_INDEX.anon) fn(vpage, x >>> 2); });
  }

  /** Entries of one process in [start, end), ascending by vpage. */
  entriesIn(pid: number, start: number, end: number): Array<{ vpage: number; frame: number; kind: PteKind }> {
    return (this.byPid.get(pid)?.entriesIn(start, end) ?? []).map(([vpage, x]) => ({ vpage, frame: x >>> 2, kind: KINDS[x & 3]! }));
  }

  entriesOf(pid: number): Array<{ vpage: number; frame: number; kind: PteKind }> {
    return this.entriesIn(pid, 0, Infinity);
  }

  /** Reclaim took `frame` from (pid, vpage): remember it, so that naming it later is stale, not forged. */
  rememberPurged(pid: number, vpage: number, frame: number): void {
    let t = this.purgedFrom.get(pid);
    if (!t) this.purgedFrom.set(pid, (t = new PurgedRecord()));
    t.setRun(vpage, 1, frame);
  }

  /** Whether `frame` is what (pid, vpage) had until reclaim purged it. */
  wasPurgedFrom(pid: number, vpage: number, frame: number): boolean {
    return frame >= 0 && this.purgedFrom.get(pid)?.get(vpage) === frame;
  }

  forgetPurged(pid: number): void { this.purgedFrom.delete(pid); }

  /** Resident pages of a process (its RSS), as the OOM killer counts them. */
  resident(pid: number): number { return this.byPid.get(pid)?.size ?? 0; }

  /** Every frame some page table maps, ascending. */
  mappedFrames(): Generator<number> { return this.sets.mappedFrames(); }

  referencesTo(frame: number): number { return this.sets.count(frame); }
}
