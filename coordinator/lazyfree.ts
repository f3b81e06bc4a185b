// lazyfree: reclaim under `--policy madv-free` (what Linux merged: MADV_FREE), the kernel half.
// vmscan.ts hands over to it for the purge units and the decisions; the exchange (reclaim.ts) is
// the same two phases. docs/semantics.md, "What Linux merged", cites the kernel for each rule.
//
// The lazyfree mark and the dirty and young bits are pte state: they live in each agent's page
// table (agents/mm.ts PTE_LAZYFREE, PTE_YOUNG, PTE_CLEAN), and a mapper's `prepared` answer carries
// them as [start, count, bits, 0] runs (bits: LAZYFREE_BIT marked, YOUNG_BIT young, CLEAN_BIT clean;
// a page not listed is unmarked, old and dirty). A frame is lazyfree while one mapper's pte is marked. What is the folio's lives here, in the kernel: PG_referenced
// (frames.referenced) and the LRU order (frames.lastUse, the access clock).
//
// Ordering rules: one unit is one page, least recently used first (mm/vmscan.c shrink_folio_list
// walks the LRU folio by folio); the decision is shared/policy.ts decideLazyfree on the frame's
// mappers at commit time (the rmap), each with its prepare-time bits (every mapper of a lazyfree
// frame holds it from the prepare, in a second round if its own pte is dirty, so the bits stay
// true); a mapper that did not answer (forked after the prepare, or silent) keeps the page as it
// is, nothing changed: the kernel never has to free.

import type { Kernel } from './kernel.js';
import type { DecisionVote } from './history_events.js';
import type { DecidedRun, Participant, PurgeRecord, VoteOf } from './reclaim.js';
import { decideLazyfree, RULE_TEXT, type LazyfreeDecision, type LazyfreeMapper } from '../shared/policy.js';
import { runIndexOf, runsOf } from '../shared/runs.js';

/** Bits of a madv-free `prepared` answer's third number (docs/protocol.md): marked, young, clean. */
export const LAZYFREE_BIT = 1;
export const YOUNG_BIT = 2;
export const CLEAN_BIT = 4;

/** The candidate frames that some answering mapper reports lazyfree (the folio is lazyfree: one mapper's MADV_FREE marked it). */
function lazyfreeFrames(k: Kernel, isCandidate: (f: number) => boolean, participants: Iterable<Participant>): Set<number> {
  const frames = new Set<number>();
  for (const p of participants) {
    const a = p.answers;
    for (let i = 0; i < a.length; i += 4) {
      if ((a[i + 2]! & LAZYFREE_BIT) === 0) continue;
      for (let v = a[i]!; v < a[i]! + a[i + 1]!; v++) {
        const f = k.rmap.anonFrameAt(p.proc.pid, v);
        if (f >= 0 && isCandidate(f)) frames.add(f);
      }
    }
  }
  return frames;
}

/** The purge units: each lazyfree candidate frame, one page a unit, least recently used first. */
export function lazyfreeUnits(k: Kernel, isCandidate: (f: number) => boolean, participants: Iterable<Participant>): Array<{ name: string; runs: number[] }> {
  const lastUse = k.frames.lastUse;
  return [...lazyfreeFrames(k, isCandidate, participants)].sort((x, y) => lastUse[x]! - lastUse[y]! || x - y)
    .map((f) => ({ name: `lazyfree page (frame ${f}, least recently used first)`, runs: [f, 1] }));
}

/**
 * The prepare's second round: every other mapper of a lazyfree frame holds its page too (its own
 * pte is dirty, so it did not hold it in the first round), as [start, count] runs per pid.
 */
export function lazyfreeAlsoHold(k: Kernel, isCandidate: (f: number) => boolean, participants: Iterable<Participant>): Map<number, number[]> {
  const list = [...participants];
  const byPid = new Map(list.map((p) => [p.proc.pid, p]));
  const pages = new Map<number, number[]>();
  for (const f of lazyfreeFrames(k, isCandidate, list)) {
    for (const m of k.rmap.mappers(f)) {
      const p = byPid.get(m.pid);
      if (!p || !p.answered || !p.proc.live || (answerBits(p, m.vpage) & LAZYFREE_BIT) !== 0) continue;
      let l = pages.get(m.pid);
      if (!l) pages.set(m.pid, (l = []));
      l.push(m.vpage);
    }
  }
  const out = new Map<number, number[]>();
  for (const [pid, vs] of pages) out.set(pid, runsOf(vs.sort((a, b) => a - b)));
  return out;
}

/** The bits a participant answered for `vpage` (0: not listed: dirty and old). */
function answerBits(p: Participant, vpage: number): number {
  const i = runIndexOf(p.answers, vpage, 4);
  return i < 0 ? 0 : p.answers[i + 2]!;
}

/**
 * The decision on one lazyfree frame, carried out and logged: freed when every mapping is clean
 * and none is referenced (then every mapper's pte goes), else kept with the scan's effects: the
 * young bits cleared (folio_referenced), PG_referenced as folio_check_references leaves it, and
 * the mark taken back from every mapper when a dirty one redirtied the page (try_to_unmap_one).
 */
export function decideLazyfreeFrame(k: Kernel, xid: number, reason: string, unit: string, frame: number, voteOf: VoteOf): DecidedRun {
  const ms = k.rmap.mappers(frame);
  const votes: DecisionVote[] = [];
  const mappers: LazyfreeMapper[] = [];
  for (const m of ms) {
    const v = voteOf(m.pid, m.vpage);
    const answered = v?.answered ?? false;
    const bits = answered ? v!.bits : 0;
    const clean = (bits & CLEAN_BIT) !== 0;
    const young = (bits & YOUNG_BIT) !== 0;
    mappers.push({ pid: m.pid, dirty: !clean, referenced: young });
    votes.push({ pid: m.pid, share: 'private', answered, volatile: clean, privatePresent: false, dirty: !clean, referenced: young,
      process: k.table.byPid(m.pid)?.name ?? String(m.pid), vpage: m.vpage });
  }
  // A mapper that was not asked (forked after the prepare) or did not answer: kept, and nothing changes.
  const decision: LazyfreeDecision = votes.some((v) => !v.answered)
    ? { purge: false, rule: 'lazyfree-not-asked', why: `${RULE_TEXT['lazyfree-not-asked']}: ${votes.filter((v) => !v.answered).map((v) => v.process).join(', ')}`,
      referencedFolio: k.frames.referenced[frame] === 1, lazyfree: true }
    : decideLazyfree({ lazyfree: true, referencedFolio: k.frames.referenced[frame] === 1, mappers });
  const at = votes.map((v) => ({ process: v.process!, vpage: v.vpage! }));
  const vpages: Array<[number, number]> = votes.map((v) => [v.pid, v.vpage!]);
  const what = `anonymous frame ${frame} (${at.map((a) => `${a.process}@${a.vpage * 4096}`).join(', ')})`;
  const record: PurgeRecord = { frame, count: 1, what, unit, kind: 'anon', decision, mappers: votes, where: { frame, mappers: at, vpages }, freed: 0 };
  const out: DecidedRun = { record, notify: [] };
  k.frames.referenced[frame] = decision.referencedFolio ? 1 : 0;
  if (decision.purge) {
    out.notify = ms.map((m) => [m.pid, m.vpage, 1]);
    k.rmap.dropFrames(frame, 1);
    if (k.frames.isUsed(frame)) throw new Error(`kernel invariant: freed lazyfree frame ${frame} is still referenced ${k.frames.refcount[frame]} times`);
    record.freed = 1;
  } else if (decision.rule !== 'lazyfree-not-asked') {
    out.old = votes.filter((v) => v.referenced).map((v) => [v.pid, v.vpage!, 1]);
    // The mark goes from every mapper that has it; their ptes stay clean (folio_set_swapbacked touches no pte).
    if (!decision.lazyfree) out.unmark = ms.filter((m) => (voteOf(m.pid, m.vpage)!.bits & LAZYFREE_BIT) !== 0).map((m) => [m.pid, m.vpage, 1]);
  }
  k.history.add('decision', { xid, reason, page: what, unit, purge: decision.purge, pageKind: 'anon', policy: k.config.policy,
    rule: decision.rule, why: decision.why, frame, pages: [frame, 1], vpages, votes });
  return out;
}
