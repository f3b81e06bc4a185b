// The offline checker under `--policy madv-free` (MADV_FREE, docs/semantics.md "What Linux merged"):
// how a mark and a reclaim decision change the checker's view (check_model.ts). check.ts calls it.
//
// A mark is per page, only on private anonymous pages with a frame, and taints no content: a
// marked page keeps its data until a decision frees it. A write takes the mark back (check.ts).
// A free needs every mapper's pte marked; afterwards the page reads "" for each of them, which in
// lockstep is certain (every mapper held the page, so no access of it was under way) and in the
// free schedule leaves the content unknown (a read under way may have read it just before). The
// checker's per-process `mmVol` is "clean since a mark": a page a dirty mapper kept
// (`lazyfree-redirtied`) loses its mark, but the other ptes stay clean and may consent again.

import { decisionRun, type EventOf } from '../coordinator/history.js';
import { keysIn } from './pageset.js';
import type { Cell, PState } from './check_model.js';
import type { CheckName } from './check_result.js';

export interface LazyfreeContext {
  /** The view of a process by name (a child forked and not born yet gets its parent's: check_fork.ts). */
  proc: (name: string) => PState | undefined;
  cellOf: (p: PState, v: number) => Cell | undefined;
  flag: (check: CheckName, text: string, lines: number[]) => void;
  checked: Record<CheckName, number>;
  lockstep: boolean;
  /** A volatile mark of `q` over page `v` is in flight (invoked, not complete). */
  markedInFlight: (q: PState, v: number) => boolean;
}

export function lazyfreeChecks(x: LazyfreeContext): {
  decision: (e: EventOf<'decision'> & { line: number }) => void;
  mark: (p: PState, s: number, e: number) => void;
} {
  return {
    decision(e) {
      const votes = e.votes ?? [];
      const { count } = decisionRun(e);
      // A page kept changes nothing the checker holds (a redirty leaves the ptes clean); its votes
      // may name a child whose birth the history records later (a fork during the exchange).
      if (e.purge !== true) return;
      x.checked['purge-was-volatile'] += count;
      if (votes.length === 0) x.flag('purge-was-volatile', `${e.page} was freed with no mapper`, [e.line]);
      for (const vote of votes) {
        const q = vote.process !== undefined ? x.proc(vote.process) : undefined;
        if (!q || vote.vpage === undefined) { x.flag('well-formed', `a vote in the decision on ${e.page} names no process and vpage`, [e.line]); continue; }
        for (let v = vote.vpage; v < vote.vpage + count; v++) {
          if (!q.mmVol.has(v) && !x.markedInFlight(q, v)) {
            x.flag('purge-was-volatile', `${e.page} was freed, but ${q.name} had page ${v} not marked lazyfree (never marked, or written since)`, [e.line]);
          }
          const c = x.cellOf(q, v);
          if (c) {
            c.purged = e.line;
            if (x.lockstep) { c.value = ''; c.tainted = false; } else c.tainted = true;
          }
          q.mmVol.delete(v, v + 1);
        }
      }
    },
    /** MADV_FREE over [s, e): the private anonymous pages with a frame (a cell) are marked. */
    mark(p, s, e) {
      for (const [m, a, b] of p.pt.piecesIn(s, e)) {
        if (m.kind !== 'anon') continue;
        for (const v of keysIn(p.pt.own, a, b)) p.mmVol.add(v, v + 1);
      }
    },
  };
}
