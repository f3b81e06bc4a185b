// The checker's own view of a run, rebuilt from the history alone (checker/check.ts replays the
// events into it): per process its page table (mappings, the cells of its own pages, the anonymous
// pages marked volatile), fds, named maps, volatile pages of its mm and the purges it must or may
// report; per file its volatile pages and purges; and the cells of pages shared by their mappers
// (a file's pages, a shared anonymous mapping's). Sparse: a cell exists only for a page touched,
// and marking or mapping a span adds intervals (checker/pageset.ts), never a cell per page.
// Owns no check: it only holds what the history says happened.

import { keysIn, PageSet } from './pageset.js';

export type Kind = 'anon' | 'shmem' | 'file-shared' | 'file-private';
/** What was last stored in a page, as far as the history tells. */
export interface Cell {
  /** The last value written, "" when never written; undefined when unknown (a write cut off by a kill). */
  value: string | undefined;
  /** The line of that write (0: none). */
  line: number;
  /** Volatile at some time since the last write: its content may be gone. */
  tainted: boolean;
  /** Line of the purge that took it while volatile (0: none, or marked non-volatile since). */
  purged: number;
}
export interface Pte { kind: Kind; file?: string; fpage: number; shm?: string; own?: Cell }
/** One mmap as the checker saw it: the pages [start, start + pages) map file pages from `offset`. */
export interface Mapping { start: number; pages: number; kind: Kind; file?: string; offset: number; shm?: string }

/**
 * A process's mappings and the cells of its own pages, sparse: a mapping costs the same whatever
 * its length, and a cell exists only for a page that was touched (as the agents' page tables).
 * A page with no cell yet is "" and, if `taint` holds it, tainted: marking a span volatile adds one
 * interval to `taint` and taints only the cells that exist.
 */
export class PageTable {
  mappings: Mapping[] = [];
  /** Own pages (anonymous, or a private file page once copied): vpage -> its cell. */
  readonly own = new Map<number, Cell>();
  /** Anonymous vpages marked volatile since they were mapped: a cell made there starts tainted. */
  taint = new PageSet();
  mappingAt(v: number): Mapping | undefined { return this.mappings.find((m) => v >= m.start && v < m.start + m.pages); }
  /** The mappings that overlap [s, e), each cut to it: [mapping, start, end). */
  piecesIn(s: number, e: number): Array<[Mapping, number, number]> {
    const out: Array<[Mapping, number, number]> = [];
    for (const m of this.mappings) {
      const a = Math.max(s, m.start);
      const b = Math.min(e, m.start + m.pages);
      if (a < b) out.push([m, a, b]);
    }
    return out.sort((x, y) => x[1] - y[1]);
  }
  /** The page's entry; an anonymous page's cell is made when first looked at. */
  get(v: number): Pte | undefined {
    const m = this.mappingAt(v);
    if (!m) return undefined;
    let own = this.own.get(v);
    if (!own && m.kind === 'anon') this.own.set(v, (own = newCell(this.taint.has(v))));
    return { kind: m.kind, file: m.file, fpage: m.offset + (v - m.start), shm: m.shm, own };
  }
  map(m: Mapping): void { this.unmap(m.start, m.start + m.pages); this.mappings.push(m); }
  /** Removes [s, e) from every mapping (splitting those it cuts) and drops the cells there. */
  unmap(s: number, e: number): void {
    const kept: Mapping[] = [];
    for (const m of this.mappings) {
      const end = m.start + m.pages;
      if (end <= s || m.start >= e) { kept.push(m); continue; }
      if (m.start < s) kept.push({ ...m, pages: s - m.start });
      if (end > e) kept.push({ ...m, start: e, pages: end - e, offset: m.offset + (e - m.start) });
    }
    this.mappings = kept;
    for (const v of keysIn(this.own, s, e)) this.own.delete(v);
    this.taint.delete(s, e);
  }
  /** Every page of this table that maps page `fp` of `file` (file mappings only). */
  mappersOf(file: string, fp: number): Array<[number, Pte]> {
    const out: Array<[number, Pte]> = [];
    for (const m of this.mappings) {
      if ((m.kind !== 'file-shared' && m.kind !== 'file-private') || m.file !== file || fp < m.offset || fp >= m.offset + m.pages) continue;
      const v = m.start + (fp - m.offset);
      out.push([v, this.get(v)!]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }
  clone(): PageTable {
    const t = new PageTable();
    t.mappings = this.mappings.map((m) => ({ ...m }));
    for (const [v, c] of this.own) t.own.set(v, cloneCell(c));
    t.taint = this.taint.clone();
    return t;
  }
}
export interface PState {
  name: string;
  pid: number;
  /** Line of its cleanup, 0 while alive. */
  cleanedAt: number;
  /** Binding name -> fd number (the name keeps its number after a close, as the agents do). */
  fdNames: Map<string, number>;
  /** fd number -> the file open there: a close ends it, a later open may give the number to another file. */
  fds: Map<number, string>;
  maps: Map<string, { start: number; pages: number }>;
  pt: PageTable;
  /** vpages volatile in this mm, as intervals. */
  mmVol: PageSet;
  /** Purges this process was told of (vpage -> line): its next nonvolatile there must say purged. */
  mustReport: Map<number, number>;
  /** Purges a nonvolatile may report: its own and those inherited at fork. */
  mayReport: Set<number>;
}
/** The file an fd binding names now: through its number, to whatever is open there (nothing after a close, until an open reuses it). */
export function fdFile(p: PState, name: string): string | undefined {
  const n = p.fdNames.get(name);
  return n === undefined ? undefined : p.fds.get(n);
}
/** An open bound `name` to fd `number` (the kernel's, from the result; else the lowest free from 3, as the kernel picks). */
export function fdOpened(p: PState, name: string, file: string, number: unknown): void {
  let n = typeof number === 'number' ? number : 3;
  if (typeof number !== 'number') while (p.fds.has(n)) n++;
  p.fdNames.set(name, n);
  p.fds.set(n, file);
}
/** A close of the binding `name`: its number is free again (the name keeps it, as the agents do). */
export function fdClosed(p: PState, name: string): void {
  const n = p.fdNames.get(name);
  if (n !== undefined) p.fds.delete(n);
}
export interface FState { vol: PageSet; mustReport: Map<number, number>; mayReport: Set<number>; kind: string }

export const newCell = (tainted = false): Cell => ({ value: '', line: 0, tainted, purged: 0 });

/**
 * Cells of pages shared by their mappers (a file's pages, a shared anonymous mapping's), by owner
 * (file name or shm id) then page, each made when first looked at; `taint` holds, per owner, the
 * pages marked volatile at some time, so a cell made there starts tainted.
 */
export class SharedCells {
  readonly cells = new Map<string, Map<number, Cell>>();
  readonly taint = new Map<string, PageSet>();
  get(owner: string, page: number): Cell {
    let m = this.cells.get(owner);
    if (!m) this.cells.set(owner, (m = new Map()));
    let c = m.get(page);
    if (!c) m.set(page, (c = newCell(this.taint.get(owner)?.has(page) ?? false)));
    return c;
  }
  /** The cell if it exists, without making one. */
  peek(owner: string, page: number): Cell | undefined { return this.cells.get(owner)?.get(page); }
  /** The cells that exist in [s, e) of this owner. */
  existing(owner: string, s: number, e: number): Cell[] {
    const m = this.cells.get(owner);
    return m ? keysIn(m, s, e).map((k) => m.get(k)!) : [];
  }
  /** Marks [s, e) volatile: the cells there, and those made there later, are tainted. */
  taintSpan(owner: string, s: number, e: number): void {
    for (const c of this.existing(owner, s, e)) c.tainted = true;
    let t = this.taint.get(owner);
    if (!t) this.taint.set(owner, (t = new PageSet()));
    t.add(s, e);
  }
  /** The owner's pages are destroyed: every cell starts again empty and untainted. */
  reset(owner: string): void {
    const m = this.cells.get(owner);
    if (m) for (const k of m.keys()) m.set(k, newCell());
    this.taint.delete(owner);
  }
  /** How many cells and taint intervals are held. */
  size(): { cells: number; pieces: number } {
    let cells = 0;
    let pieces = 0;
    for (const m of this.cells.values()) cells += m.size;
    for (const t of this.taint.values()) pieces += t.pieces;
    return { cells, pieces };
  }
}
export const cloneCell = (c: Cell): Cell => ({ ...c });

export function spanPages(detail: { span?: unknown } | undefined): [number, number] | undefined {
  const span = detail?.span;
  return Array.isArray(span) && span.length === 2 ? [Number(span[0]), Number(span[1])] : undefined;
}
