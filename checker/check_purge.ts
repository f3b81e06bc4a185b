// The offline checker (checker/check.ts), the evidence of purges: a reclaim decision (every purge
// took a page that was volatile: in every mapper's mm, or in the file's own ranges), a process told
// of a purge (`purge-notify`: its next nonvolatile there must say purged), and a nonvolatile of a
// file range (`file-nonvolatile`: its `purged` backed by a purge there, and every purge reported).

import { decisionRun, purgeNotifyPages, type EventOf } from '../coordinator/history.js';
import { keysIn } from './pageset.js';
import type { PState, Pte } from './check_model.js';
import type { CheckState, Line } from './check_state.js';
import { procNamed } from './check_fork.js';

// A decision is about a run of pages (docs/history-format.md, Decisions by run): page k of it is
// file page filePage + k and each vote's vpage + k; an event without `pages` is one page.
export function decision(s: CheckState, e: Line<EventOf<'decision'>>): void {
  const { checked, flag, cellOf } = s;
  const votes = e.votes ?? [];
  for (const vote of votes) if (vote.process !== undefined) s.deadMention(vote.process, e, 'was counted as a mapper in a reclaim decision');
  if (s.madvFree) return s.lazyfree.decision(e);
  if (e.purge !== true) return;
  const { count } = decisionRun(e);
  checked['purge-was-volatile'] += count;
  const kind = String(e.pageKind);
  if (kind === 'file') {
    const file = String(e.file);
    let flagged = false;
    for (let k = 0; k < count; k++) {
      const bad = purgedFilePage(s, e, file, Number(e.filePage) + k);
      // One violation a run: its first page that was not volatile.
      if (bad && !flagged) { flag('purge-was-volatile', bad, [e.line]); flagged = true; }
    }
    return;
  }
  // Anonymous or shmem: every process that maps it must have it volatile in its mm.
  if (votes.length === 0) flag('purge-was-volatile', `${e.page} was purged with no mapper`, [e.line]);
  for (const vote of votes) {
    const q = vote.process !== undefined ? procNamed(s, vote.process) : undefined;
    if (!q || vote.vpage === undefined) { flag('well-formed', `a vote in the decision on ${e.page} names no process and vpage`, [e.line]); continue; }
    let flagged = false;
    for (let v = vote.vpage; v < vote.vpage + count; v++) {
      if (!flagged && !q.mmVol.has(v) && !s.mmMarkedInFlight(q, v)) {
        flag('purge-was-volatile', `${e.page} was purged, but ${q.name} had page ${v} not volatile`, [e.line]);
        flagged = true;
      }
      const c = cellOf(q, v);
      if (c) { c.tainted = true; c.purged = e.line; }
    }
  }
}

/** A purge of file page `fp`: records it; why it was not allowed, or undefined when it was. */
function purgedFilePage(s: CheckState, e: Line<EventOf<'decision'>>, file: string, fp: number): string | undefined {
  const { policy } = s;
  const f = s.fileOf(file);
  const fileVol = f.vol.has(fp) || s.fileMarkedInFlight(file, fp);
  // Every process that maps this file page, as the checker saw the mmaps (not as the kernel says).
  const mappers: Array<[PState, number, Pte]> = [];
  for (const q of s.procs.values()) {
    if (q.cleanedAt) continue;
    for (const [v, pte] of q.pt.mappersOf(file, fp)) mappers.push([q, v, pte]);
  }
  let ok = fileVol;
  if (!ok && policy === 'per-mm') {
    ok = mappers.length > 0 && mappers.every(([q, v, pte]) => pte.kind === 'file-shared'
      && (q.mmVol.has(v) || s.mmMarkedInFlight(q, v)));
  }
  const c = s.fileCells.get(file, fp);
  c.tainted = true;
  c.purged = e.line;
  // Certain only when the mark had completed; a mark in flight may or may not have been applied.
  if (f.vol.has(fp)) f.mustReport.set(fp, e.line);
  if (fileVol) f.mayReport.add(fp);
  if (ok) return undefined;
  return `${file} page ${fp} was purged (rule ${e.rule}), but neither the file's range${policy === 'per-mm' ? ' nor every mapper (' + mappers.map(([q, v]) => `${q.name}@${v}${q.mmVol.has(v) ? '' : ' not volatile'}`).join(', ') + ')' : ''} had it volatile`;
}

/** A process was told its pages were purged: each must have been volatile in its mm, and it must report them. */
export function purgeNotify(s: CheckState, e: Line<EventOf<'purge-notify'>>): void {
  const { checked, flag, cellOf } = s;
  const p = procNamed(s, String(e.process));
  if (!p) return;
  s.deadMention(p.name, e, 'was told of a purge');
  for (const v of purgeNotifyPages(e)) {
    checked['purge-was-volatile']++;
    if (s.madvFree) continue; // the decision checked the mark and set the page's cell
    if (!p.mmVol.has(v) && !s.mmMarkedInFlight(p, v)) flag('purge-was-volatile', `${p.name} was told its page ${v} was purged, but it had not marked that page volatile`, [e.line]);
    p.mustReport.set(v, e.line);
    p.mayReport.add(v);
    const own = p.pt.get(v)?.own;
    if (own) { own.purged = e.line; own.tainted = true; }
    else { const c = cellOf(p, v); if (c) { c.purged = e.line; c.tainted = true; } }
  }
  // Purged file pages the mm did not hold (`seen`): those it has volatile now were purged while
  // volatile there, and its next nonvolatile must say so; one a step of it is marking or unmarking
  // at this moment may go either way (the agent takes the commit between two of the step's turns).
  for (const v of e.seen ? purgeNotifyPages({ runs: e.seen }) : []) {
    const inFlight = s.mmMarkedInFlight(p, v);
    if (!p.mmVol.has(v) && !inFlight) continue;
    p.mayReport.add(v);
    if (p.mmVol.has(v) && !inFlight) p.mustReport.set(v, e.line);
  }
}

/** A nonvolatile of a file range: its `purged` is backed and reports every purge there; the range is no longer volatile. */
export function fileNonvolatile(s: CheckState, e: Line<EventOf<'file-nonvolatile'>>): void {
  const { checked, flag, fileCells } = s;
  const f = s.fileOf(String(e.file));
  const start = Number(e.start);
  const end = start + Number(e.pages);
  const reported = keysIn(f.mustReport, start, end).map((fp) => [fp, f.mustReport.get(fp)!] as const);
  const may = keysIn(f.mayReport, start, end).length > 0;
  checked['purged-backed']++;
  checked['purge-reported']++;
  if (e.purged === true && !may) flag('purged-backed', `file ${e.file} pages ${start}-${end - 1} reported purged, but no page there was purged while volatile`, [e.line]);
  if (e.purged !== true && reported.length > 0) {
    flag('purge-reported', `file ${e.file} page ${reported[0]![0]} was purged while volatile, but the next nonvolatile there (by ${e.by}) reported purged: false`, [reported[0]![1], e.line]);
  }
  f.vol.delete(start, end);
  for (const [fp] of reported) f.mustReport.delete(fp);
  for (const fp of keysIn(f.mayReport, start, end)) f.mayReport.delete(fp);
  for (const c of fileCells.existing(String(e.file), start, end)) c.purged = 0;
}
