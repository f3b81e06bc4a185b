// Isolation of reclaim candidates: which open exchange holds a frame, with no mark per frame.
// docs/semantics.md (direct reclaim): every frame resident at an open exchange's prepare is that
// exchange's candidate and no other's, and the page a fault copies from is locked (pinned). An
// exchange records, as it opens, the allocation count (frames.allocSeq orders allocations), the
// pins of that moment and the exchanges open then; a frame is its candidate when it is in use,
// was allocated before the exchange opened (a frame freed and handed out again since is a new
// page, as the model's frames are new objects), was not pinned then and is no candidate of an
// exchange open then. Opening and closing cost what the open exchanges and the pins are, not the
// frames (issue 14): direct reclaim of one page in a kernel of 1,000,000 frames holds nothing
// page by page. Each record counts its candidates still in use (the frame table's watcher), for the
// `reclaim-prepare` event's `candidates`.

import type { FrameTable } from './frames.js';
import { ALLOC_BLOCK, firstNotEqual, firstZero } from './frame_scan.js';

interface Isolation { xid: number; openSeq: number; pins: ReadonlySet<number>; before: readonly Isolation[]; live: number }

export class Isolated {
  private readonly open = new Map<number, Isolation>();
  /** Frames pinned by a fault copying from them (fault.ts). */
  /** frame -> pid of the faulting process that pins it (its pin goes with it: `unpinAllOf`). */
  private readonly pinners = new Map<number, number>();
  private get pins(): ReadonlySet<number> { return new Set(this.pinners.keys()); }

  // The frame table tells this object (a method call, not a closure of this kernel's: the optimised
  // code of the frame table's loops then names no object that dies with the kernel).
  constructor(private readonly frames: FrameTable) { frames.watcher = this; }

  /** Frame `f` is being freed (FrameTable.decref): the records it was a candidate of count it gone. */
  freed(f: number): void { for (const r of this.open.values()) if (this.stamped(r, f)) r.live--; }

  /** Frames [f, f + count) are being freed together (FrameTable.decrefRunBy). */
  freedRun(f: number, count: number): void {
    for (const r of this.open.values()) {
      // The common record (no pins, no exchange open before it): its rule is the allocation order alone.
      if (r.pins.size === 0 && r.before.length === 0) r.live -= countBefore(this.frames, f, count, r.openSeq);
      else for (let g = f; g < f + count; g++) if (this.stamped(r, g)) r.live--;
    }
  }

  /** Exchange `xid` opens: its candidates are the frames in use now that no open exchange holds and no fault pins. Returns how many. */
  openFor(xid: number): number {
    if (this.open.has(xid)) throw new Error(`kernel invariant: exchange ${xid} isolated twice`);
    const before = [...this.open.values()];
    let taken = 0;
    for (const r of before) taken += r.live;
    // The pinned frames no open exchange holds are no candidate either (a pin of a frame freed since counts for nothing).
    const pins = new Set(this.pins);
    for (const f of pins) if (!this.frames.isUsed(f) || before.some((r) => this.candidateOf(r, f))) pins.delete(f);
    const rec: Isolation = { xid, openSeq: this.frames.allocCount, pins: new Set(this.pins), before, live: this.frames.used - taken - pins.size };
    if (rec.live < 0) throw new Error(`kernel invariant: exchange ${xid} would hold ${rec.live} frames`);
    this.open.set(xid, rec);
    return rec.live;
  }

  close(xid: number): void { this.open.delete(xid); }

  /** Whether `f` is a candidate of the open exchange `xid`. */
  isCandidate(xid: number, f: number): boolean {
    const r = this.open.get(xid);
    return r !== undefined && this.candidateOf(r, f);
  }

  /** isCandidate for one exchange, as a function for a loop over many frames. */
  candidatesOf(xid: number): (f: number) => boolean {
    const r = this.open.get(xid);
    if (!r) return () => false;
    const refcount = this.frames.refcount;
    const allocSeq = this.frames.allocSeq;
    const { openSeq, pins, before } = r;
    if (pins.size === 0 && before.length === 0) return (f) => f >= 0 && refcount[f]! > 0 && allocSeq[f]! < openSeq;
    return (f) => this.candidateOf(r, f);
  }

  /**
   * The candidates of `xid` among frames [frame, frame + count) (only anonymous ones if
   * `anonOnly`), as [first frame, count] pairs ascending: what candidatesOf says frame by frame,
   * in one loop over the frame table's arrays (no call per frame).
   */
  candidatePieces(xid: number, frame: number, count: number, anonOnly: boolean): number[] {
    const r = this.open.get(xid);
    if (!r) return [];
    const t = this.frames;
    if (r.pins.size === 0 && r.before.length === 0) return piecesByOrder(frame, count, t, r.openSeq, anonOnly);
    const out: number[] = [];
    for (let f = frame; f < frame + count; f++) {
      if (!this.candidateOf(r, f) || (anonOnly && t.ownerFile[f]! >= 0)) continue;
      const n = out.length;
      if (n > 0 && out[n - 2]! + out[n - 1]! === f) out[n - 1]!++; else out.push(f, 1);
    }
    return out;
  }

  /** How many frames from `frame` on (at most `max`) are candidates of `xid`, one after the other. */
  candidateRun(xid: number, frame: number, max: number): number {
    const p = this.candidatePieces(xid, frame, max, false);
    return p.length > 0 && p[0] === frame ? p[1]! : 0;
  }

  // The Map-like face fault.ts uses: held by an open exchange, or pinned (value 0).
  has(f: number): boolean {
    if (this.pinners.has(f)) return true;
    for (const r of this.open.values()) if (this.candidateOf(r, f)) return true;
    return false;
  }
  /** A fault of process `pid` pins `f` (the page it copies from) while it waits for a frame. */
  set(f: number, pid: number): void {
    if (!(pid > 0) || this.has(f)) throw new Error(`kernel invariant: frame ${f} pinned while held`);
    this.pinners.set(f, pid);
  }
  /** The pin of `f` goes, if `pid`'s (another fault may have pinned it since this one's process died). */
  delete(f: number, pid?: number): boolean { return (pid === undefined || this.pinners.get(f) === pid) && this.pinners.delete(f); }
  /** A faulting process died: the pins its faults held go at its cleanup, not when its fault's continuation runs. */
  unpinAllOf(pid: number): void { for (const [f, p] of this.pinners) if (p === pid) this.pinners.delete(f); }
  /** Whether a fault pins `f` now. */
  pinned(f: number): boolean { return this.pinners.has(f); }

  private candidateOf(r: Isolation, f: number): boolean {
    return this.frames.isUsed(f) && this.stamped(r, f);
  }

  /** The record's rule on `f`, its being in use aside (a frame being freed is asked too). */
  private stamped(r: Isolation, f: number): boolean {
    if (!(f >= 0 && f < this.frames.handedOut) || this.frames.allocSeq[f]! >= r.openSeq || r.pins.has(f)) return false;
    for (const y of r.before) if (this.stamped(y, f)) return false;
    return true;
  }
}

/**
 * The frames of [frame, frame + count) in use and allocated before `openSeq` (and anonymous if
 * `anonOnly`), as [first, count] pairs. A block of ALLOC_BLOCK frames allocated wholly before
 * `openSeq` (the table's block maxima), with no free frame and (anonOnly) no page-cache page, found
 * by native scans (frame_scan.ts), joins the current piece whole; any other block is walked frame
 * by frame. The same pieces as the walk of every frame.
 */
function piecesByOrder(frame: number, count: number, t: FrameTable, openSeq: number, anonOnly: boolean): number[] {
  const out: number[] = [];
  const refcount = t.refcount;
  const allocSeq = t.allocSeq;
  const ownerFile = t.ownerFile;
  const blockMax = t.allocBlockMax;
  const end = Math.min(frame + count, refcount.length);
  let start = -1;
  for (let b = Math.max(frame, 0); b < end;) {
    const e = Math.min(end, (Math.floor(b / ALLOC_BLOCK) + 1) * ALLOC_BLOCK);
    if (blockMax[Math.floor(b / ALLOC_BLOCK)]! < openSeq && firstZero(refcount, b, e) === e && (!anonOnly || firstNotEqual(ownerFile, b, e, -1) === e)) {
      if (start < 0) start = b;
      b = e;
      continue;
    }
    for (let f = b; f < e; f++) {
      const ok = refcount[f]! > 0 && allocSeq[f]! < openSeq && (!anonOnly || ownerFile[f]! < 0);
      if (ok && start < 0) start = f;
      else if (!ok && start >= 0) { out.push(start, f - start); start = -1; }
    }
    b = e;
  }
  if (start >= 0) out.push(start, end - start);
  return out;
}

/** How many of frames [f, f + count) were allocated before `openSeq`: a block allocated wholly before it counts whole. */
function countBefore(t: FrameTable, f: number, count: number, openSeq: number): number {
  const allocSeq = t.allocSeq;
  const blockMax = t.allocBlockMax;
  let n = 0;
  for (let b = f; b < f + count;) {
    const e = Math.min(f + count, (Math.floor(b / ALLOC_BLOCK) + 1) * ALLOC_BLOCK);
    if (blockMax[Math.floor(b / ALLOC_BLOCK)]! < openSeq) n += e - b;
    else for (let g = b; g < e; g++) if (allocSeq[g]! < openSeq) n++;
    b = e;
  }
  return n;
}
