// The pages open reclaim exchanges hold in this mm, as runs: for each exchange, an ascending,
// coalesced list of [start, count] (shared/runs.ts). A prepare of 1,000,000 pages of one range
// holds one run, a commit releases it in one step, and asking whether a span is held costs a
// binary search per open exchange (usually one), never a walk of the held pages (issue 14).

import { runIndexOf } from '../shared/runs.js';

export class HeldPages {
  private readonly byXid = new Map<number, number[]>();
  /** Pages held, all exchanges together (0: nothing held, the common case). */
  size = 0;

  /** Exchange `xid` now holds [from, to). Pieces of one exchange arrive ascending; a page already held is an invariant broken. */
  hold(xid: number, from: number, to: number): void {
    if (!(Number.isInteger(from) && Number.isInteger(to) && to > from)) throw new Error(`invariant: hold of [${from}, ${to})`);
    const other = this.holderIn(from, to);
    if (other) throw new Error(`invariant: page ${other.page} held twice (exchanges ${other.xid} and ${xid})`);
    let runs = this.byXid.get(xid);
    if (!runs) this.byXid.set(xid, (runs = []));
    const n = runs.length;
    if (n > 0 && runs[n - 2]! + runs[n - 1]! > from) throw new Error(`invariant: exchange ${xid} holds [${from}, ${to}) out of order`);
    if (n > 0 && runs[n - 2]! + runs[n - 1]! === from) runs[n - 1]! += to - from;
    else runs.push(from, to - from);
    this.size += to - from;
  }

  /**
   * What an honest kernel's prepare (well-formed ascending runs) never does, or undefined: ask a
   * page another exchange holds (one exchange holds a page at a time), or, in a later batch of its
   * own, a page below what the batches before held (they come in ascending order). The second
   * round (`hold`) may name pages its own exchange holds already.
   */
  askProblem(xid: number, runs: readonly number[], hold: boolean): string | undefined {
    for (let i = 0; i < runs.length; i += 2) {
      const other = this.holderIn(runs[i]!, runs[i]! + runs[i + 1]!);
      if (other && (other.xid !== xid || !hold)) return `prepare ${xid} asks for page ${other.page}, which exchange ${other.xid} holds (a page is held by one exchange at a time)`;
    }
    const mine = this.byXid.get(xid) ?? [];
    if (!hold && mine.length > 0 && runs.length > 0 && runs[0]! < mine[mine.length - 2]! + mine[mine.length - 1]!) {
      return `prepare ${xid}: a batch asks for page ${runs[0]}, below the pages its batches before held (batches come in ascending order)`;
    }
    return undefined;
  }

  /** The exchange holding `vpage`, or undefined. */
  holderOf(vpage: number): number | undefined {
    for (const [xid, runs] of this.byXid) if (runIndexOf(runs, vpage) >= 0) return xid;
    return undefined;
  }

  /** The lowest held page of [start, end) of some exchange, with that exchange; undefined when none is held. */
  holderIn(start: number, end: number): { xid: number; page: number } | undefined {
    let best: { xid: number; page: number } | undefined;
    for (const [xid, runs] of this.byXid) {
      const page = firstIn(runs, start, end);
      if (page !== undefined && (!best || page < best.page)) best = { xid, page };
    }
    return best;
  }

  /** The pages of the ascending [start, count] runs that `xid` does not hold, as runs. */
  notHeldBy(xid: number, runs: readonly number[]): number[] {
    return subtract(runs, this.byXid.get(xid) ?? []);
  }

  /** The pages `xid` holds, as ascending [start, count] runs. */
  heldBy(xid: number): readonly number[] { return this.byXid.get(xid) ?? []; }

  /**
   * madv-free's second round (agents/agent.ts holdToo): exchange `xid` holds the pages of the
   * ascending runs too, none of which it holds yet, wherever they fall among those it holds.
   */
  holdMore(xid: number, runs: readonly number[]): void {
    for (let i = 0; i < runs.length; i += 2) {
      const other = this.holderIn(runs[i]!, runs[i]! + runs[i + 1]!);
      if (other) throw new Error(`invariant: page ${other.page} held twice (exchanges ${other.xid} and ${xid})`);
      this.size += runs[i + 1]!;
    }
    const pieces: Array<[number, number]> = [];
    const mine = this.byXid.get(xid) ?? [];
    for (const list of [mine, runs]) for (let i = 0; i < list.length; i += 2) pieces.push([list[i]!, list[i + 1]!]);
    pieces.sort((a, b) => a[0] - b[0]);
    const out: number[] = [];
    for (const [s, n] of pieces) {
      const k = out.length;
      if (k > 0 && out[k - 2]! + out[k - 1]! === s) out[k - 1]! += n;
      else out.push(s, n);
    }
    if (out.length > 0) this.byXid.set(xid, out);
  }

  /** Exchange `xid` lets go of every page it holds. */
  release(xid: number): void {
    const runs = this.byXid.get(xid);
    if (!runs) return;
    for (let i = 1; i < runs.length; i += 2) this.size -= runs[i]!;
    this.byXid.delete(xid);
  }
}

/** The lowest page of [start, end) inside the ascending runs, or undefined. */
function firstIn(runs: readonly number[], start: number, end: number): number | undefined {
  let lo = 0;
  let hi = runs.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid * 2]! + runs[mid * 2 + 1]! <= start) lo = mid + 1; else hi = mid;
  }
  if (lo * 2 >= runs.length) return undefined;
  const page = Math.max(start, runs[lo * 2]!);
  return page < end ? page : undefined;
}

/** The parts of `a` (ascending [start, count] runs) outside `b` (the same), ascending: a linear merge. */
export function subtract(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let s = a[i]!;
    const e = s + a[i + 1]!;
    while (j < b.length && b[j]! + b[j + 1]! <= s) j += 2;
    for (let k = j; k < b.length && b[k]! < e && s < e; k += 2) {
      if (b[k]! > s) out.push(s, b[k]! - s);
      s = Math.max(s, b[k]! + b[k + 1]!);
    }
    if (s < e) out.push(s, e - s);
  }
  return out;
}
