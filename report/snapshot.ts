// Page-map snapshots for `--html`: after every step and every cleanup, the state of each page of
// each mapping (process + binding name) and of each file, so that reclaim can be watched.
//
// The kernel knows frames, the reverse map, the page cache and file volatility; it does not know
// anonymous volatility, which lives in each agent's mm. So when snapshots are asked for, every
// agent attaches a compact view of its mm (shared/messages.ts MmView) to `ready` and to each
// `done`. Between two of its own steps an mm changes only by a reclaim commit, whose purged pages
// the kernel records as `purge-notify`: the cached view is patched from that event.
//
// One letter per page; upper case when the page is volatile (it may be purged):
//   a / A  absent: no frame (never touched, dropped, or read as the zero page)
//   r / R  resident: a frame of its own (file-shared pages: the page-cache page)
//   c / C  copy-on-write shared: the frame is mapped by more than one page table, or a private
//          file page still shares the page-cache page
//   p / P  purged: the frame was thrown away while volatile, and nothing has marked it
//          non-volatile since
//   x      not mapped any more (munmap of part of the binding)
//
// A row (a binding or a file) of more than pageMapRowPagesMax pages is not drawn page by page: it
// lists only touched pages (a page-table entry, a page-cache page, a purge mark), at most
// pageMapRowPagesMax of them, with their page numbers in `at` and the row's length in `total`. A
// page once drawn stays in its row. So a snapshot costs O(touched pages), never O(mapped pages).
//
// The history records only what changed (`delta: true`, docs/history-format.md): each row that
// changed since its previous snapshot, as runs `[page, count, letter]` of consecutive pages that
// now have that letter (on a row's first appearance, every page that is not `a`); `gone` names the
// rows that ended (a dead process's bindings). A long row's runs name page numbers, `sparse: true`.

import type { MmView } from '../shared/messages.js';
import { purgeNotifyPages, type HistoryEvent } from '../coordinator/history.js';
import type { Kernel } from '../coordinator/kernel.js';
import type { Proc } from '../coordinator/process_table.js';
import type { KernelObserver } from '../coordinator/hooks.js';
import { verify } from '../coordinator/verify.js';

export type PageState = 'a' | 'A' | 'r' | 'R' | 'c' | 'C' | 'p' | 'P' | 'x';

/** Rows longer than this list touched pages only, at most this many (see above). */
export const pageMapRowPagesMax = 256;

/** `at` and `total` only for a long row: `pages[k]` is the state of page `at[k]` of `total`. */
export interface MapRow { process: string; name: string; kind: string; file?: string; pages: string; at?: number[]; total?: number }
export interface FileRow { file: string; kind: string; pages: string; at?: number[]; total?: number }
export interface SnapshotFields { after: number; frames: { used: number; total: number }; maps: MapRow[]; files: FileRow[] }

/** `[page, count, letter]`: `count` consecutive pages from `page` now have the state `letter`. */
export type StateRun = [number, number, string];
/** A row of a delta snapshot: `size` pages; `set` what changed; `sparse` for a long row (page numbers, touched pages only). */
export interface DeltaRow { kind: string; size: number; set: StateRun[]; sparse?: true }
export type DeltaMapRow = DeltaRow & { process: string; name: string; file?: string };
export type DeltaFileRow = DeltaRow & { file: string };
export type RowKey = { process: string; name: string } | { file: string };
export interface DeltaFields { after: number; frames: { used: number; total: number }; delta: true; maps: DeltaMapRow[]; files: DeltaFileRow[]; gone?: RowKey[] }

/** The row's letters by page: a dense row's string, or a long row's touched pages. */
function lettersOf(r: MapRow | FileRow): Map<number, string> | string {
  if (!r.at) return r.pages;
  return new Map(r.at.map((p, k) => [p, r.pages[k]!]));
}

/** The runs of pages whose letter differs from `before` (undefined: a new row, every page `a`). */
export function changedRuns(now: Map<number, string> | string, before: Map<number, string> | string | undefined): StateRun[] {
  const out: StateRun[] = [];
  const push = (p: number, c: string) => {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === p && last[2] === c) last[1]++;
    else out.push([p, 1, c]);
  };
  if (typeof now === 'string') {
    const prev = typeof before === 'string' ? before : '';
    for (let p = 0; p < now.length; p++) if (now[p] !== (prev[p] ?? 'a')) push(p, now[p]!);
  } else {
    const prev = before instanceof Map ? before : new Map<number, string>();
    for (const [p, c] of now) if (c !== (prev.get(p) ?? 'a')) push(p, c);
  }
  return out;
}

/**
 * Events that change the state of the process they name (its own syscalls, its step's start and
 * end) and nobody else's: they make only that process's rows stale. Any other kind (reclaim,
 * purges, kills, deaths, file-wide changes, ...) makes every row stale.
 */
const LOCAL_EVENTS: ReadonlySet<string> = new Set(['invoke', 'complete', 'message', 'blocked', 'birth', 'stuck']);
/** Events that change no page state at all. */
const INERT_EVENTS: ReadonlySet<string> = new Set(['schedule', 'snapshot', 'expectation-failed', 'violation', 'final', 'verdict', 'boot']);

/** An mm view as the kernel keeps it: its purged pages as a set; `ascending`: its volatile spans ascend and are disjoint. */
interface MmViewEntry { view: MmView; purged: Set<number>; ascending: boolean }

/** Whether `[start, pages]` spans ascend without overlapping (each at least one page: the message schema's bound). */
function ascendingSpans(spans: MmView['volatile']): boolean {
  for (let j = 1; j < spans.length; j++) if (spans[j - 1]![0] + spans[j - 1]![1] > spans[j]![0]) return false;
  return true;
}

/** Row keys kept per process (a process with more bindings than this makes the others' keys each time). */
const rowKeysCachedMax = 4096;

/** A row as last drawn: its letters, and whether they can change by another process's step. */
interface CachedRow { row: MapRow; shared: boolean }

/**
 * A kernel observer (coordinator/hooks.ts) harness/run.ts installs for `--html`.
 *
 * A snapshot costs O(what changed in the step), not O(mapped pages): each map row's letters are
 * kept, and redrawn only when the row is stale. A row is stale when an event named its process
 * (its syscalls and their replies, its step: LOCAL_EVENTS), or any event that can change another
 * process's pages happened (reclaim, purges, kills, deaths: every other kind), or it is `shared`:
 * some page of it depends on another mapper (a file-backed page, or a frame with more than one
 * reference), so that another process's step can change its letter (a copy-on-write break, an
 * exit, a write to the page cache). Without message events in the history (they tell which
 * process a syscall came from) every row is redrawn every time. In verify mode every snapshot is
 * compared with one drawn from scratch.
 */
export class Snapshots implements KernelObserver {
  private readonly views = new Map<string, MmViewEntry>();
  /** Row keys (`m\0process\0binding`) by process and binding name, made once (two every row, every snapshot). */
  private readonly keys = new Map<string, Map<string, string>>();
  /** Long rows: the pages drawn so far (a page once drawn stays), by row key. */
  private readonly drawn = new Map<string, Set<number>>();
  /** Each row's letters and kind at the previous snapshot, by row key: what the next one is compared with. */
  private readonly last = new Map<string, { kind: string; letters: Map<number, string> | string; row: MapRow | FileRow }>();
  /** Map rows as last drawn, by row key. */
  private readonly rows = new Map<string, CachedRow>();
  /** Processes whose rows are stale; `allStale`: every row is. */
  private readonly stale = new Set<string>();
  private allStale = true;
  /** Set while a row is drawn: some page of it depends on another mapper. */
  private sharedHit = false;

  constructor(private readonly k: Kernel) {}

  /** The mm view an agent sent with `ready` or `done`. */
  mmView(proc: Proc, view: MmView): void {
    this.views.set(proc.name, { view, purged: new Set(view.purged), ascending: ascendingSpans(view.volatile) });
    this.stale.add(proc.name);
  }

  /** Called with every history event: patches views on purges, snapshots after steps and deaths. */
  event(e: HistoryEvent): void {
    this.markStale(e);
    if (e.kind === 'purge-notify') {
      const v = this.views.get(e.process);
      if (v) for (const p of purgeNotifyPages(e)) v.purged.add(p);
    } else if (e.kind === 'complete' || e.kind === 'cleanup') {
      if (e.kind === 'cleanup') this.views.delete(e.process);
      const full = this.take(e.seq);
      if (verify.enabled) this.verifyRows(full);
      this.k.history.add('snapshot', this.delta(full));
      this.stale.clear();
      this.allStale = !this.k.history.keepMessages;
    }
  }

  private markStale(e: HistoryEvent): void {
    if (INERT_EVENTS.has(e.kind)) return;
    if (!LOCAL_EVENTS.has(e.kind)) { this.allStale = true; return; }
    const who = e.kind === 'message' ? e.agent : (e as { process?: string }).process;
    if (who === undefined) this.allStale = true;
    else this.stale.add(who);
  }

  /** What changed since the previous snapshot (the rows' runs of new letters, the rows gone). */
  delta(full: SnapshotFields): DeltaFields {
    const seen = new Set<string>();
    const diff = <R extends MapRow | FileRow>(key: string, r: R): DeltaRow | undefined => {
      seen.add(key);
      const prev = this.last.get(key);
      if (prev && prev.row === r) return undefined; // a row not redrawn: unchanged
      const letters = lettersOf(r);
      const set = changedRuns(letters, prev?.letters);
      this.last.set(key, { kind: r.kind, letters, row: r });
      if (prev && set.length === 0 && prev.kind === r.kind) return undefined;
      const size = r.total ?? r.pages.length;
      return { kind: r.kind, size, set, ...(r.at ? { sparse: true as const } : {}) };
    };
    const maps: DeltaMapRow[] = [];
    for (const r of full.maps) {
      const d = diff(this.rowKey(r.process, r.name), r);
      if (d) maps.push({ process: r.process, name: r.name, ...(r.file !== undefined ? { file: r.file } : {}), ...d });
    }
    const files: DeltaFileRow[] = [];
    for (const f of full.files) {
      const d = diff(`f\u0000${f.file}`, f);
      if (d) files.push({ file: f.file, ...d });
    }
    const gone: RowKey[] = [];
    if (seen.size !== this.last.size) {
      for (const key of [...this.last.keys()]) {
        if (seen.has(key)) continue;
        this.last.delete(key);
        this.rows.delete(key);
        const [t, a, b] = key.split('\u0000');
        gone.push(t === 'm' ? { process: a!, name: b! } : { file: a! });
      }
    }
    return { after: full.after, frames: full.frames, delta: true, maps, files, ...(gone.length ? { gone } : {}) };
  }

  /**
   * The state of every row now. Rows that are not stale are the cached objects themselves (delta()
   * skips them); `fresh` draws every row from scratch and touches no cache (verify mode).
   */
  take(after: number, fresh = false): SnapshotFields {
    const k = this.k;
    const maps: MapRow[] = [];
    for (const proc of k.procs) {
      const v = this.views.get(proc.name);
      if (!proc.live || !v) continue;
      const procStale = fresh || this.allStale || this.stale.has(proc.name);
      for (const [name, addr, pages] of v.view.maps) {
        const key = this.rowKey(proc.name, name);
        const cached = fresh ? undefined : this.rows.get(key);
        if (cached && !procStale && !cached.shared) { maps.push(cached.row); continue; }
        this.sharedHit = false;
        const row = this.mapRow(proc, key, name, addr, pages, v, fresh);
        if (!fresh) this.rows.set(key, { row, shared: this.sharedHit });
        maps.push(row);
      }
    }
    const files: FileRow[] = [];
    for (const f of k.files) {
      if (f.kind === 'shmem') continue; // a shared anonymous mapping's hidden file: its mappings show it
      let cells = '';
      const at = f.pages > pageMapRowPagesMax ? this.drawnPages(`f\u0000${f.name}`, [...f.cache.keys(), ...f.purged], fresh) : undefined;
      const letter = (p: number) => {
        const frame = f.frameAt(p);
        const cow = frame >= 0 && k.rmap.mappers(frame).some((m) => m.kind === 'file-private');
        const base = frame >= 0 ? (cow ? 'c' : 'r') : f.purged.has(p) ? 'p' : 'a';
        return f.isVolatile(p) ? base.toUpperCase() : base;
      };
      if (at) for (const p of at) cells += letter(p);
      else for (let p = 0; p < f.pages; p++) cells += letter(p);
      files.push({ file: f.name, kind: f.kind, pages: cells, ...(at ? { at, total: f.pages } : {}) });
    }
    return { after, frames: { used: k.frames.used, total: k.frames.total }, maps, files };
  }

  /** A map row's key, `m\0process\0binding`. */
  private rowKey(process: string, name: string): string {
    let byName = this.keys.get(process);
    if (!byName) this.keys.set(process, (byName = new Map()));
    let key = byName.get(name);
    if (key === undefined) {
      key = `m\u0000${process}\u0000${name}`;
      if (byName.size < rowKeysCachedMax) byName.set(name, key);
    }
    return key;
  }

  /** One binding's row, drawn from the kernel's state and the process's mm view. */
  private mapRow(proc: Proc, key: string, name: string, addr: number, pages: number, v: MmViewEntry, fresh: boolean): MapRow {
    const k = this.k;
    const vma = proc.vmaAt(addr);
    const file = vma && vma.fileId >= 0 ? k.files[vma.fileId] : undefined;
    const row: MapRow = { process: proc.name, name, kind: vma?.kind ?? 'unmapped', ...(file && file.kind !== 'shmem' ? { file: file.name } : {}), pages: '' };
    const at = pages > pageMapRowPagesMax ? this.drawnPages(key, this.touchedMapPages(proc, addr, pages, v.purged), fresh) : undefined;
    // The row's pages ascend, so whether each is in the mm's volatile spans is one walk of them
    // (when the agent sent them ascending and disjoint, as the product's agents do), not a search a page.
    const spans = v.view.volatile;
    let j = 0;
    const inMm = (vpage: number): boolean => {
      if (!v.ascending) return spans.some(([s, n]) => vpage >= s && vpage < s + n);
      while (j < spans.length && spans[j]![0] + spans[j]![1] <= vpage) j++;
      return j < spans.length && vpage >= spans[j]![0];
    };
    let cells = '';
    if (at) for (const i of at) cells += this.mapPage(proc, addr + i, inMm(addr + i), v.purged);
    else for (let i = 0; i < pages; i++) cells += this.mapPage(proc, addr + i, inMm(addr + i), v.purged);
    row.pages = cells;
    if (at) { row.at = at; row.total = pages; }
    return row;
  }

  /** Verify mode: the rows kept from earlier snapshots are what drawing them afresh gives. */
  private verifyRows(full: SnapshotFields): void {
    const again = this.take(full.after, true);
    const a = JSON.stringify(full), b = JSON.stringify(again);
    if (a !== b) throw new Error(`snapshot after event ${full.after}: a kept row differs from the row drawn afresh\n  kept:  ${a}\n  fresh: ${b}`);
  }

  /** Adds `touched` to the row's drawn pages (up to pageMapRowPagesMax); returns them ascending. */
  private drawnPages(key: string, touched: Iterable<number>, fresh = false): number[] {
    let set = this.drawn.get(key);
    if (fresh) set = new Set(set);
    else if (!set) this.drawn.set(key, (set = new Set()));
    for (const p of touched) {
      if (set.size >= pageMapRowPagesMax) break;
      set.add(p);
    }
    return [...set].sort((a, b) => a - b);
  }

  /** Pages (indexes in the binding) with a page-table entry, a page-cache page or a purge mark. */
  private touchedMapPages(proc: Proc, addr: number, pages: number, purgedSet: Set<number>): number[] {
    const k = this.k;
    const end = addr + pages;
    const out: number[] = [];
    for (const e of k.rmap.entriesIn(proc.pid, addr, end)) out.push(e.vpage - addr);
    for (const v of purgedSet) if (v >= addr && v < end) out.push(v - addr);
    for (const vma of proc.vmas) {
      if (vma.fileId < 0 || vma.start >= end || vma.start + vma.pages <= addr) continue;
      const file = k.files[vma.fileId]!;
      const from = Math.max(addr, vma.start);
      const to = Math.min(end, vma.start + vma.pages);
      const fp = (v: number) => vma.offset + (v - vma.start);
      if (vma.kind !== 'file-private') for (const [p] of file.cachedIn(fp(from), fp(to))) out.push(vma.start + (p - vma.offset) - addr);
      for (const p of file.purged) if (p >= fp(from) && p < fp(to)) out.push(vma.start + (p - vma.offset) - addr);
    }
    return out.sort((a, b) => a - b);
  }

  /** Page `vpage`'s letter; `inMm`: it is in one of the mm's volatile spans (the view's `volatile`). */
  private mapPage(proc: Proc, vpage: number, inMm: boolean, purgedSet: Set<number>): PageState {
    const k = this.k;
    const vma = proc.vmaAt(vpage);
    if (!vma) return 'x';
    const file = vma.fileId >= 0 ? k.files[vma.fileId]! : undefined;
    if (file) this.sharedHit = true; // the page cache, the file's ranges and purges: anyone's
    const page = vma.offset + (vpage - vma.start);
    // The file's own ranges count for pages that share the page cache (fvrange, or vrange under shared-file).
    const inFile = file !== undefined && file.kind !== 'shmem' && vma.kind === 'file-shared' && file.isVolatile(page);
    const volatile = inMm || inFile;
    const e = k.rmap.lookup(proc.pid, vpage);
    let base: 'a' | 'r' | 'c' | 'p';
    if (e) {
      // A shared file page mapped by many is simply resident; an anonymous frame mapped by more
      // than one page table (after fork), or a private file page not yet copied, is copy-on-write.
      const refs = k.rmap.referencesTo(e.frame);
      if (refs > 1) this.sharedHit = true; // another mapper's copy-on-write break or exit changes it
      base = e.kind === 'file-private' || (e.kind === 'anon' && refs > 1) ? 'c' : 'r';
    } else if (file && vma.kind !== 'file-private' && file.cache.has(page)) {
      base = 'r'; // a shared page in the page cache this process has not faulted in yet
    } else {
      const filePurged = file !== undefined && vma.kind !== 'file-private' && file.purged.has(page);
      base = purgedSet.has(vpage) || filePurged ? 'p' : 'a';
    }
    return (volatile ? base.toUpperCase() : base) as PageState;
  }
}
