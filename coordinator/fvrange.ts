// fvrange and the queries: marking a file's own page range volatile or non-volatile (the
// file-backed proposals: fvrange(fd, ...), or a vrange on a shared file mapping under the
// shared-file policy), and reading back which pages are resident, volatile or purged (fquery by
// address, query-fd by file page). Nothing here awaits: each call is whole within one turn.
//
// Marking non-volatile clears the purged marks in the span and reports whether any page was
// purged (the caller must not trust the old contents then); the `file-nonvolatile` event records it.

import type { SysCall } from '../shared/messages.js';
import { queryPagesMax } from '../shared/limits.js';
import type { Kernel, Ret } from './kernel.js';
import type { AddressSpace } from './address_space.js';
import type { Proc } from './process_table.js';
import { filePageOf } from './mmap.js';

/** Each process's last file mark by a vrange call's piece (`join` continues it). */
const lastMark = new WeakMap<Proc, { file: AddressSpace; id: number; now: number }>();

export function sysFvrange(k: Kernel, proc: Proc, m: Extract<SysCall, { t: 'fvrange' }>): Ret {
  // madv-free: there is no such call (the agent answers EINVAL itself; a remote agent may still ask).
  if (k.config.policy === 'madv-free') return { errno: 'EINVAL' };
  let file: AddressSpace;
  if (m.fd >= 0) {
    const id = proc.fds.get(m.fd);
    if (id === undefined) return { errno: 'EBADF' };
    file = k.files[id]!;
  } else {
    file = k.files[m.fileId]!; // a vrange on a shared file mapping (shared-file policy)
    if (!file || !proc.vmas.some((v) => v.fileId === m.fileId && v.share === 'shared')) {
      return k.entry.efault(proc, 'fvrange', { fileId: m.fileId }, 'a file it does not map shared');
    }
  }
  if ((m.mode !== 'volatile' && m.mode !== 'nonvolatile') || m.pages <= 0) return { errno: 'EINVAL' };
  if (m.start + m.pages > file.pages) return { errno: 'EINVAL' };
  const end = m.start + m.pages;
  const bytes = m.pages * 4096;
  if (m.mode === 'volatile') {
    // `join`: one vrange call over two shared mappings of this file (something else between them)
    // marks one range: the piece joins the range this process's previous piece of the call made.
    const prev = m.join === true && m.fd < 0 ? lastMark.get(proc) : undefined;
    let rangeId: number;
    try {
      rangeId = prev && prev.file === file && prev.now === m.now ? file.ranges.markMore(m.start, end, m.now, prev.id) : file.ranges.mark(m.start, end, m.now);
    } catch { return { errno: 'ENOMEM' }; }
    lastMark.set(proc, { file, id: rangeId, now: m.now });
    return { bytes };
  }
  let purged = false;
  // Over the span or the purged pages, whichever is smaller.
  if (m.pages <= file.purged.size) {
    for (let p = m.start; p < end; p++) if (file.purged.delete(p)) purged = true;
  } else {
    for (const p of [...file.purged]) if (p >= m.start && p < end) { purged = true; file.purged.delete(p); }
  }
  file.ranges.unmark(m.start, end);
  k.history.add('file-nonvolatile', { file: file.name, start: m.start, pages: m.pages, purged, by: proc.name });
  return { bytes, purged };
}

/** fquery: each vpage's file page, as the file sees it (a shmem page has no file ranges of its own). */
export function sysFquery(k: Kernel, proc: Proc, vpages: number[]): Ret {
  return { pages: vpages.map((v) => filePageView(k, proc, v)) };
}

function filePageView(k: Kernel, proc: Proc, vpage: number): { resident: boolean; volatile: boolean; purged: boolean } {
  const fp = filePageOf(k, proc, vpage);
  if (!fp) return { resident: false, volatile: false, purged: false };
  const own = fp.file.kind !== 'shmem';
  return { resident: fp.file.cache.has(fp.page), volatile: own && fp.file.isVolatile(fp.page), purged: own && fp.file.purged.has(fp.page) };
}

export function sysQueryFd(k: Kernel, proc: Proc, fd: number, start: number, pages: number): Ret {
  if (pages <= 0) return { errno: 'EINVAL' };
  if (pages > queryPagesMax) return { errno: 'E2BIG' };
  const id = proc.fds.get(fd);
  if (id === undefined) return { errno: 'EBADF' };
  const file = k.files[id]!;
  if (start + pages > file.pages) return { errno: 'EINVAL' };
  const list = [];
  for (let p = start; p < start + pages; p++) {
    list.push({ page: p, resident: file.cache.has(p), volatile: file.isVolatile(p), purged: file.purged.has(p) });
  }
  return { pages: list };
}
