// The offline checker's view of steps that overlap in time (checker/check.ts): in the free schedule a
// read of a shared page (shared anonymous memory, a file page) may overlap another process's write
// of it, and the kernel applies each at its syscall, which the history does not order against the
// other step's `complete`. So a read may return a value its page may have held when the read began
// (the last write to complete, or any write that overlapped that one: overlapping writes land in
// either order, and a sub-page write that overlapped another may have landed on it, its bytes over
// that page; after a sub-page write over a page of several possible values, the value is unknown),
// or the value of any write whose invoke came before the read completed and whose
// complete came after the read began (a linearizable register, checked loosely but soundly).
// Bounded: each cell remembers its last `recentWritesMax` writes.

import { readAfterSubPageWrite } from '../shared/page_bytes.js';
import type { Cell } from './check_model.js';

const recentWritesMax = 64;
/** `value` undefined: a sub-page write (`sub`: where and what), whose page afterwards depends on what it held. */
type Write = { value: string | undefined; sub?: { offset: number; bytes: string }; from: number; to: number };

export class Overlaps {
  private readonly writes = new Map<string, { w: Write; cell: Cell }>();
  private readonly recent = new WeakMap<Cell, Write[]>();
  private readonly reads = new Map<string, { cell: Cell; values: Set<string | undefined> }>();
  /** What a cell may hold after its last completed write: that write's value and those of the writes that overlapped it. */
  private readonly possible = new WeakMap<Cell, { line: number; also: Array<string | undefined> }>();

  /** Step `key`, a write into a shared `cell` of a whole page's `value` or of `sub`'s bytes at its offset, was invoked at `line`. */
  writeInvoked(key: string, cell: Cell, value: string | undefined, line: number, sub?: { offset: number; bytes: string }): void {
    let list = this.recent.get(cell);
    if (!list) this.recent.set(cell, (list = []));
    const w: Write = { value: sub ? undefined : value, sub, from: line, to: Infinity };
    list.push(w);
    if (list.length > recentWritesMax) list.splice(list.findIndex((x) => x.to !== Infinity), 1);
    this.writes.set(key, { w, cell });
  }

  /** Step `key`, a read of `cell`, was invoked: what the cell held then. */
  readInvoked(key: string, cell: Cell): void {
    const p = this.possible.get(cell);
    // `also` holds while the cell's last write is the one it was made for (the cell's line is that write's complete).
    this.reads.set(key, { cell, values: new Set([cell.value, ...(p && p.line === cell.line ? p.also : [])]) });
  }

  /** Step `key` completed at `line` (any op): a write's interval closes; a read's record goes. */
  completed(key: string, line: number): void {
    const x = this.writes.get(key);
    if (x) {
      const { w, cell } = x;
      w.to = line;
      this.writes.delete(key);
      const others = (this.recent.get(cell) ?? []).filter((y) => y !== w && y.from < w.to && y.to > w.from);
      // Each overlapping write may have landed after this one: a whole page, its value; a sub-page
      // write, its bytes over this write's page (a sub-page write still in flight is counted at its
      // own completion). And this write, if a sub-page one, may have landed after each whole-page
      // one: its bytes over that page. `undefined`: no one value (any may show).
      const also: Array<string | undefined> = [];
      const over = (page: string | undefined, sub: Write['sub']) => (page === undefined ? undefined : readAfterSubPageWrite(page, sub!.offset, sub!.bytes));
      for (const y of others) {
        if (!y.sub) also.push(y.value);
        else if (y.to !== Infinity) also.push(over(w.value, y.sub));
        if (w.sub && !y.sub) also.push(over(y.value, w.sub));
      }
      this.possible.set(cell, { line, also });
    }
    this.reads.delete(key);
  }

  /** Whether `cell` may hold another value than its last write's: writes that overlapped that one, which landed in either order. */
  uncertain(cell: Cell): boolean {
    const p = this.possible.get(cell);
    return p !== undefined && p.line === cell.line && p.also.length > 0;
  }

  /** The read `key` of `cell`, invoked at `from` and completed at `to`, may have returned `value`. */
  mayRead(key: string, cell: Cell, value: unknown, from: number, to: number): boolean {
    const r = this.reads.get(key);
    if (r && r.cell === cell && (r.values.has(value as string) || r.values.has(undefined))) return true;
    return (this.recent.get(cell) ?? []).some((w) => (w.value === undefined || w.value === value) && w.from < to && w.to > from);
  }
}
