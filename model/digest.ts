// The reference model's state as one canonical string: two states with the same digest give the
// same results to every schedule that follows. Identities that only name things (frame objects, the
// ids of ranges and hidden shmem objects) are numbered in a fixed traversal; the clock values of
// marks and page uses count only by their order, and only where that order can show (footprint.ts
// Visibility); the steps recorded so far count as a set (their order is the schedule's, not the state's).

import type { StepModel } from './steps.js';
import type { FileObj, Frame, Piece } from './types.js';
import type { Visibility } from './footprint.js';

/** The volatile pages of a range set, as maximal [start, end) runs. */
function merged(xs: Piece[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of [...xs].sort((a, b) => a.start - b.start)) {
    const last = out.at(-1);
    if (last && last[1] >= r.start) last[1] = Math.max(last[1], r.end); else out.push([r.start, r.end]);
  }
  return out;
}

export function digestOf(m: StepModel, vis: Visibility, kernel: { next: number; inflight?: string }): string {
  const procs = [...m.procs].sort((a, b) => (a.spec.name < b.spec.name ? -1 : 1));
  // Hidden shmem objects are named by their first mapping (process name order, address), named files by name.
  const fileName = new Map<FileObj, string>();
  for (const f of m.files) if (f.kind !== 'shmem') fileName.set(f, f.name);
  for (const p of procs) for (const v of [...p.vmas].sort((a, b) => a.start - b.start)) {
    if (v.file && !fileName.has(v.file)) fileName.set(v.file, `shmem@${p.spec.name}:${v.start}`);
  }
  const fname = (f: FileObj | undefined) => (f ? fileName.get(f) ?? `released-shmem` : null);
  const frameId = new Map<Frame, number>();
  const fid = (fr: Frame | null | undefined) => {
    if (!fr) return null;
    if (!frameId.has(fr)) frameId.set(fr, frameId.size);
    return frameId.get(fr)!;
  };
  const pieceId = new Map<number, number>();
  const rank = (xs: number[]) => { const sorted = [...new Set(xs)].sort((a, b) => a - b); return (x: number) => sorted.indexOf(x); };
  const allPieces = [...procs.flatMap((p) => p.ranges), ...m.files.flatMap((f) => f.ranges)];
  const ageRank = rank(allPieces.map((r) => r.markedAt));
  const lruRank = rank([...m.frames].map((fr) => fr.lastUse));
  const piece = (r: Piece) => {
    if (!pieceId.has(r.id)) pieceId.set(r.id, pieceId.size);
    return [r.start, r.end, pieceId.get(r.id), vis.age ? ageRank(r.markedAt) : 0];
  };
  // When the ages of marks cannot show, neither can how the pages were marked (which call, in how many pieces): only which pages are volatile.
  const sortedPieces = (xs: Piece[]) => (vis.age ? [...xs].sort((a, b) => a.start - b.start).map(piece) : merged(xs));
  // Frames first met in page-cache order (files by name, page), then page tables (process by name, vpage).
  const files = [...m.files].filter((f) => f.kind !== 'shmem').sort((a, b) => (a.name < b.name ? -1 : 1));
  const fileState = files.map((f) => ({
    name: f.name, cache: [...f.cache].sort((a, b) => a[0] - b[0]).map(([fp, fr]) => [fp, fid(fr)]),
    ranges: sortedPieces(f.ranges), purged: [...f.purged].sort((a, b) => a - b),
  }));
  const procState = procs.map((p) => ({
    name: p.spec.name, pid: p.pid, state: p.state, end: p.end ?? null, next: p.next,
    inflight: p.inflight ? [p.inflight.index, p.inflight.why] : null,
    vmas: [...p.vmas].sort((a, b) => a.start - b.start).map((v) => [v.start, v.pages, fname(v.file), v.offset, v.share]),
    shmem: [...p.vmas].sort((a, b) => a.start - b.start).flatMap((v) => (v.file?.kind === 'shmem'
      ? [[v.start, [...v.file.cache].sort((a, b) => a[0] - b[0]).map(([fp, fr]) => [fp, fid(fr)])]] : [])),
    ptes: [...p.ptes].sort((a, b) => a[0] - b[0]).map(([v, e]) => [v, e.own ? fid(e.frame) : 'cache', ...(e.own && vis.madv ? [e.lazy === true, e.dirty === true, e.young === true] : [])]),
    ranges: sortedPieces(p.ranges), purged: [...p.purged].sort((a, b) => a - b),
    fds: [...p.fds].sort((a, b) => a[0] - b[0]).map(([fd, f]) => [fd, fname(f)]),
    fdNames: [...p.fdNames].sort(), maps: [...p.maps].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
  }));
  const x = m.exchange;
  const exchange = x ? {
    index: x.index, want: x.want,
    held: x.held.map((h) => [h.p.spec.name, h.vpage, fid(h.frame), vis.age ? piece(h.piece) : 0]).sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
    candidates: [...x.candidates].map(fid).sort((a, b) => a! - b!),
  } : null;
  const frames = [...frameId].map(([fr, id]) => [id, typeof fr.value === 'string' ? fr.value : ['bytes', Buffer.from(fr.value).toString('hex')], fname(fr.file), fr.fpage, vis.lru ? lruRank(fr.lastUse) : 0, m.frames.has(fr)]);
  const unreferenced = [...m.frames].filter((fr) => !frameId.has(fr)).length;
  return JSON.stringify({
    fileState, procState, exchange, frames, unreferenced, framesUsed: m.frames.size, purgedPages: m.purgedPages,
    nextPid: m.nextPid, signals: [...m.signals].sort(), kernel,
    steps: m.steps.map((s) => JSON.stringify(s)).sort(),
  });
}
