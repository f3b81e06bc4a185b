// The offline checker (checker/check.ts), one step: what a step in flight may already have done
// (a read or write of a shared page, a volatile mark the kernel may see before the step reports),
// and what a completed step changes in the checker's view and must show: a SIGBUS only on a page
// purged while volatile, a read the last write's value, a nonvolatile's `purged` backed and reported.

import { spanOf } from '../shared/spans.js';
import { readAfterSubPageWrite } from '../shared/page_bytes.js';
import type { AnyStep, EventOf } from '../coordinator/history.js';
import { keysIn } from './pageset.js';
import { fdClosed, fdFile, fdOpened, newCell, spanPages, type Kind, type PState } from './check_model.js';
import type { CheckState, Line, Marks } from './check_state.js';

/** Step `key` of `p` was invoked: a read or write of a page others share, or a volatile mark, is in flight from now. */
export function stepInvoked(s: CheckState, p: PState, key: string, st: AnyStep, line: number): void {
  if (st.op === 'read' || st.op === 'write') {
    const m = p.maps.get(String(st.map));
    const c = m && !p.pt.get(m.start + Number(st.page))?.own ? s.cellOf(p, m.start + Number(st.page)) : undefined;
    if (c && st.op === 'write') s.overlaps.writeInvoked(key, c, String(st.value), line, st.offset === undefined ? undefined : { offset: Number(st.offset), bytes: String(st.value) });
    else if (c) s.overlaps.readInvoked(key, c);
  }
  if ((st.op === 'vrange' || st.op === 'fvrange') && st.mode === 'volatile') {
    const span = spanOf(st);
    const marks: Marks = { mm: [], file: [] };
    if (!('errno' in span)) {
      if (st.op === 'fvrange') {
        const file = fdFile(p, String(st.fd));
        if (file) marks.file.push([file, span.start, span.start + span.pages]);
      } else {
        const m = p.maps.get(String(st.map));
        if (m) {
          for (const [pm, a, b] of p.pt.piecesIn(m.start + span.start, m.start + span.start + span.pages)) {
            if (s.markTarget(pm) === 'file') marks.file.push([pm.file!, pm.offset + (a - pm.start), pm.offset + (b - pm.start)]);
            else marks.mm.push([p, a, b]);
          }
        }
      }
    }
    s.inFlightMarks.set(key, marks);
  }
}

/** The vpage of page `i` of the binding `map`, if `p` has that binding. */
function vpageOf(p: PState, map: unknown, i: unknown): number | undefined {
  const m = p.maps.get(String(map));
  return m ? m.start + Number(i) : undefined;
}

export function completeStep(s: CheckState, p: PState, step: AnyStep, e: Line<EventOf<'complete'>>, invokeLine: number): void {
  const { checked, flag, madvFree, access, cellOf, lazyfree, fileOf, fileCells } = s;
  const result = e.result ?? {};
  const op = String(step.op);
  const page = (map: unknown, i: unknown) => vpageOf(p, map, i);
  // A SIGBUS this step took (ok: false). A waitpid's `{ ok: true, signal: "SIGBUS" }` is the
  // death of the process it waited for, not a fault of the waiter's.
  if (result.ok === false && result.signal === 'SIGBUS') {
    checked['sigbus-on-purged']++;
    const v = page(step.map, step.page);
    const c = v === undefined ? undefined : cellOf(p, v);
    const why = madvFree ? 'under madv-free a freed page reads "" and nothing raises SIGBUS'
      : access === 'zero' ? 'access is zero, where a purged page reads "" and never raises SIGBUS'
      : v === undefined ? 'the step names no mapping' : 'no purge took that page while it was volatile';
    if (madvFree || access === 'zero' || v === undefined || !c || (!c.purged && !p.mustReport.has(v) && !p.mayReport.has(v))) {
      flag('sigbus-on-purged', `${p.name} step ${e.index} (${op} ${step.map} page ${step.page}) got SIGBUS, but ${why}`, [invokeLine, e.line]);
    }
    return;
  }
  if (e.type === 'info') {
    // Cut off by a kill: its effect is unknown. A write may or may not have landed.
    if (op === 'write') { const v = page(step.map, step.page); const c = v === undefined ? undefined : cellOf(p, v); if (c) { c.value = undefined; c.line = e.line; } }
    return;
  }
  if (madvFree && op === 'vrange' && step.mode === 'volatile') {
    // MADV_FREE marks even when it fails: a gap (ENOMEM) or a VMA not anonymous (EINVAL) after marked ones.
    const span = spanPages(e.detail);
    if (span) lazyfree.mark(p, span[0], span[1]);
    return;
  }
  if (result.ok !== true) return;
  switch (op) {
    case 'open': fdOpened(p, String(step.fd ?? step.file), String(step.file), result.fd); break;
    case 'close': fdClosed(p, String(step.fd)); break;
    case 'mmap': {
      const start = Number(result.addr) / 4096;
      const pages = Number(step.pages);
      const file = step.fd !== undefined ? fdFile(p, String(step.fd)) : undefined;
      const share = step.share ?? (step.fd !== undefined ? 'shared' : 'private');
      const kind: Kind = step.fd === undefined ? (share === 'shared' ? 'shmem' : 'anon') : (share === 'shared' ? 'file-shared' : 'file-private');
      const offset = Number(step.offset ?? 0);
      const shm = kind === 'shmem' ? `${p.name}@${e.line}` : undefined;
      s.dropPages(p, start, start + pages);
      p.pt.map({ start, pages, kind, file, offset: kind === 'shmem' ? 0 : offset, shm });
      p.maps.set(String(step.as), { start, pages });
      break;
    }
    case 'munmap': {
      const span = spanPages(e.detail);
      if (span) s.dropPages(p, span[0], span[1]);
      break;
    }
    case 'write': return writeDone(s, p, step, e);
    case 'read': return readDone(s, p, step, e, invokeLine);
    case 'vrange': return vrangeDone(s, p, step, e, invokeLine);
    case 'fvrange': {
      const file = fdFile(p, String(step.fd));
      const span = spanOf(step);
      if (!file || 'errno' in span) return;
      if (step.mode === 'volatile') {
        fileOf(file).vol.add(span.start, span.start + span.pages);
        fileCells.taintSpan(file, span.start, span.start + span.pages);
      }
      return;
    }
    default: return;
  }
}

/** A write completed: its page holds the value (a sub-page write: the bytes over what it held, when known). */
function writeDone(s: CheckState, p: PState, step: AnyStep, e: Line<EventOf<'complete'>>): void {
  const { cellOf, madvFree } = s;
  const page = (map: unknown, i: unknown) => vpageOf(p, map, i);
  const v = page(step.map, step.page);
  const pte = v === undefined ? undefined : p.pt.get(v);
  if (v === undefined || !pte) return;
  const base = cellOf(p, v); // a sub-page write keeps the rest: known if the page (or the file page copied) is
  const before = base && !base.tainted && !s.overlaps.uncertain(base) ? base.value : undefined; // several values possible: unknown after
  if (pte.kind === 'file-private' && !pte.own) p.pt.own.set(v, newCell());
  const c = cellOf(p, v)!;
  if (madvFree) p.mmVol.delete(v, v + 1); // the write dirties the pte: the free is cancelled
  c.value = step.offset === undefined ? String(step.value) : readAfterSubPageWrite(before, Number(step.offset), String(step.value));
  c.line = e.line;
  c.purged = 0;
  c.tainted = s.volatileNow(p, v);
}

/** A read completed: it returns the last write, unless the page was volatile since or another write overlapped. */
function readDone(s: CheckState, p: PState, step: AnyStep, e: Line<EventOf<'complete'>>, invokeLine: number): void {
  const { cellOf, checked, flag, madvFree, overlaps } = s;
  const result = e.result;
  const page = (map: unknown, i: unknown) => vpageOf(p, map, i);
  const v = page(step.map, step.page);
  if (v === undefined) return;
  const c = cellOf(p, v);
  if (!c || c.tainted || c.value === undefined) return;
  checked['read-last-write']++;
  if (result.value !== c.value && !overlaps.mayRead(`${p.name}#${e.index}`, c, result.value, invokeLine, e.line)) {
    flag('read-last-write', madvFree && c.purged && c.value === ''
      ? `${p.name} step ${e.index} read ${step.map} page ${step.page} as ${JSON.stringify(result.value)}, but madv-free freed that page and nothing wrote it since (it reads "")`
      : c.line
      ? `${p.name} step ${e.index} read ${step.map} page ${step.page} as ${JSON.stringify(result.value)}, but the last write there wrote ${JSON.stringify(c.value)} and the page was not volatile since`
      : `${p.name} step ${e.index} read ${step.map} page ${step.page} as ${JSON.stringify(result.value)}, but nothing was ever written there (it reads "")`,
    [c.line, invokeLine, e.line]);
  }
}

/** A vrange completed: a mark taints what it covers; an unmark clears it and must report the purges there. */
function vrangeDone(s: CheckState, p: PState, step: AnyStep, e: Line<EventOf<'complete'>>, invokeLine: number): void {
  const { checked, flag, fileOf, fileCells, shmCells } = s;
  const result = e.result;
  const span = spanPages(e.detail);
  if (!span) return;
  if (step.mode === 'volatile') {
    // Per mapping piece, as intervals; only cells that exist are touched (a page's own copy
    // is tainted, not the file page behind it: that one is made first so the span's taint
    // does not reach it).
    for (const [m, a, b] of p.pt.piecesIn(span[0], span[1])) {
      const fa = m.offset + (a - m.start);
      const fb = m.offset + (b - m.start);
      if (s.markTarget(m) === 'file') fileOf(m.file!).vol.add(fa, fb);
      else p.mmVol.add(a, b);
      const own = keysIn(p.pt.own, a, b);
      for (const v of own) p.pt.own.get(v)!.tainted = true;
      if (m.kind === 'anon') p.pt.taint.add(a, b);
      else if (m.kind === 'shmem') shmCells.taintSpan(m.shm!, fa, fb);
      else {
        for (const v of own) fileCells.get(m.file!, m.offset + (v - m.start));
        const before = own.map((v) => fileCells.peek(m.file!, m.offset + (v - m.start))!.tainted);
        fileCells.taintSpan(m.file!, fa, fb);
        own.forEach((v, i) => { fileCells.peek(m.file!, m.offset + (v - m.start))!.tainted = before[i]!; });
      }
    }
    return;
  }
  // Nonvolatile: the pages marked in the file are checked at the kernel's file-nonvolatile event.
  let must: [number, number] | undefined;
  let may = false;
  let mmPages = 0;
  for (const [m, a, b] of p.pt.piecesIn(span[0], span[1])) {
    if (s.markTarget(m) === 'file') continue;
    mmPages += b - a;
    const mustHere = keysIn(p.mustReport, a, b);
    if (!must && mustHere.length > 0) must = [mustHere[0]!, p.mustReport.get(mustHere[0]!)!];
    const mayHere = keysIn(p.mayReport, a, b);
    if (mayHere.length > 0) may = true;
    p.mmVol.delete(a, b);
    for (const v of mustHere) p.mustReport.delete(v);
    for (const v of mayHere) p.mayReport.delete(v);
    for (const v of keysIn(p.pt.own, a, b)) p.pt.own.get(v)!.purged = 0;
  }
  if (mmPages === 0) return;
  checked['purged-backed']++;
  checked['purge-reported']++;
  const fileSide = p.pt.mappings.some((m) => m.start < span[1] && m.start + m.pages > span[0] && s.markTarget(m) === 'file');
  if (result.purged === true && !may && !fileSide) {
    flag('purged-backed', `${p.name} step ${e.index} (vrange nonvolatile ${step.map}) reported purged: true, but no page of that range was purged while volatile`, [invokeLine, e.line]);
  }
  if (result.purged !== true && must) {
    flag('purge-reported', `${p.name}'s page ${must[0]} was purged while volatile, but its next nonvolatile there (step ${e.index}) reported purged: false`, [must[1], e.line]);
  }
  return;
}
