// The reverse map: for each frame, every (process, virtual page) whose page table maps it.
// Reclaim walks it to find every mapper of a page; exit cleanup walks it to drop a dead
// process's pages. Each entry holds one reference on its frame (FrameTable.incref/decref).
//
// Entry kinds:
//   anon          the agent's own page-table entry: anonymous or copied-on-write private page
//   file-shared   a file page mapped shared (the entry is kept here, beside the page cache)
//   file-private  a file page mapped private and not yet copied (still shared with the file)

import type { FrameTable } from './frames.js';

export type PteKind = 'anon' | 'file-shared' | 'file-private';
export interface Mapper { pid: number; vpage: number; kind: PteKind }

export class Rmap {
  private readonly byFrame = new Map<number, Mapper[]>();
  private readonly byPid = new Map<number, Map<number, { frame: number; kind: PteKind }>>();
  /**
   * Per process, the frame each of its pages had when reclaim purged it. An agent may still name
   * such a frame in a request that crossed the commit: that is a stale frame (answered `retry`),
   * not a forged one (EFAULT). Forgotten at the process's cleanup.
   */
  private readonly purgedFrom = new Map<number, Map<number, number>>();

  constructor(private readonly frames: FrameTable) {}

  lookup(pid: number, vpage: number): { frame: number; kind: PteKind } | undefined {
    return this.byPid.get(pid)?.get(vpage);
  }

  mappers(frame: number): readonly Mapper[] { return this.byFrame.get(frame) ?? []; }

  /** Adds an entry and takes a reference on the frame. */
  add(pid: number, vpage: number, frame: number, kind: PteKind): void {
    let table = this.byPid.get(pid);
    if (!table) this.byPid.set(pid, (table = new Map()));
    if (table.has(vpage)) throw new Error(`rmap invariant: pid ${pid} page ${vpage} mapped twice`);
    table.set(vpage, { frame, kind });
    let list = this.byFrame.get(frame);
    if (!list) this.byFrame.set(frame, (list = []));
    list.push({ pid, vpage, kind });
    this.frames.incref(frame);
  }

  /** Removes the entry, drops its reference; returns the frame and whether it was freed. */
  remove(pid: number, vpage: number): { frame: number; freed: boolean } | undefined {
    const table = this.byPid.get(pid);
    const e = table?.get(vpage);
    if (!table || !e) return undefined;
    table.delete(vpage);
    const list = this.byFrame.get(e.frame)!;
    const k = list.findIndex((m) => m.pid === pid && m.vpage === vpage);
    if (k < 0) throw new Error(`rmap invariant: frame ${e.frame} lost its entry for pid ${pid} page ${vpage}`);
    list.splice(k, 1);
    if (list.length === 0) this.byFrame.delete(e.frame);
    return { frame: e.frame, freed: this.frames.decref(e.frame) };
  }

  /** Removes every entry of `frame` (reclaim purging it), dropping their references; returns them. */
  dropFrame(frame: number): readonly Mapper[] {
    const list = this.byFrame.get(frame);
    if (!list) return [];
    this.byFrame.delete(frame);
    for (const m of list) {
      if (!this.byPid.get(m.pid)?.delete(m.vpage)) throw new Error(`rmap invariant: frame ${frame} names pid ${m.pid} page ${m.vpage}, which its page table lacks`);
      this.frames.decref(frame);
    }
    return list;
  }

  /** Reclaim purges frames [frame, frame + count): every entry goes (dropping its reference) and is remembered as purged. */
  dropFrames(frame: number, count: number): void {
    for (let f = frame; f < frame + count; f++) for (const m of this.dropFrame(f)) this.rememberPurged(m.pid, m.vpage, f);
  }

  /** Entries of one process in [start, end). */
  entriesIn(pid: number, start: number, end: number): Array<{ vpage: number; frame: number; kind: PteKind }> {
    const out = [];
    for (const [vpage, e] of this.byPid.get(pid) ?? []) if (vpage >= start && vpage < end) out.push({ vpage, ...e });
    return out;
  }

  entriesOf(pid: number): Array<{ vpage: number; frame: number; kind: PteKind }> {
    return this.entriesIn(pid, 0, Infinity);
  }

  /** Reclaim took `frame` from (pid, vpage): remember it, so that naming it later is stale, not forged. */
  rememberPurged(pid: number, vpage: number, frame: number): void {
    let t = this.purgedFrom.get(pid);
    if (!t) this.purgedFrom.set(pid, (t = new Map()));
    t.set(vpage, frame);
  }

  /** Whether `frame` is what (pid, vpage) had until reclaim purged it. */
  wasPurgedFrom(pid: number, vpage: number, frame: number): boolean {
    return this.purgedFrom.get(pid)?.get(vpage) === frame;
  }

  forgetPurged(pid: number): void { this.purgedFrom.delete(pid); }

  /** Resident pages of a process (its RSS), as the OOM killer counts them. */
  resident(pid: number): number { return this.byPid.get(pid)?.size ?? 0; }

  /** Every frame some page table maps. */
  mappedFrames(): IterableIterator<number> { return this.byFrame.keys(); }

  referencesTo(frame: number): number { return this.byFrame.get(frame)?.length ?? 0; }
}
