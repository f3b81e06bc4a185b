// Page faults: what a read or write of a page the agent has no usable entry for does in the
// kernel, named as mm/memory.c names the paths:
//   do_read_fault    a read of a file page: the page-cache page (a hole reads as the zero page);
//   do_shared_fault  a write to a shared file page: fills a hole, writes the page-cache page;
//   do_cow_fault     a write to a private file page: a copy of its own, from then on anonymous;
//   do_wp_page       a write to an anonymous page: in place when this mapper is alone (reuse),
//                    else a copy (copy-on-write after fork); a first write takes a new frame.
// The fault-retry reply (`retry: true`): the frame the agent named is not this page's any more
// (reclaim took it while the request was under way): the agent drops its entry and faults again.
//
// Ordering rules: a fault that needs a frame may wait for direct reclaim (page_alloc.ts); other
// processes run meanwhile, so after the wait it re-checks everything it relied on (SIGBUS, the
// hole still a hole, the source frame still this page's and still shared) and, when the frame
// is not needed any more, looks again from the top. The page being faulted on is locked (held)
// while it waits, so its own reclaim does not take it.

import type { SysCall } from '../shared/messages.js';
import { valueBytesMax } from '../shared/limits.js';
import { subPageFits, writeAt, type PageContent } from '../shared/page_bytes.js';
import type { Kernel, Ret } from './kernel.js';
import type { AddressSpace } from './address_space.js';
import type { Proc } from './process_table.js';
import { filePageOf } from './mmap.js';
import { frameNotNeeded } from './page_alloc.js';

type Write = Extract<SysCall, { t: 'write' }>;
type FilePage = { file: AddressSpace; page: number; share: 'shared' | 'private' };

/**
 * What the page holds after this write: the value (a whole-page write), or, with `offset`, `base`
 * (the page's contents before, undefined for a zero page) with only those bytes replaced. Every
 * write path goes through here, so a sub-page write faults exactly as a whole-page one does.
 */
function written(m: Write, base: () => PageContent | undefined): PageContent {
  return m.offset === undefined ? m.value : writeAt(base(), m.offset, m.value);
}

/** Touching a purged file page while the file's range is still volatile raises SIGBUS. */
function fileSigbus(k: Kernel, file: AddressSpace, page: number): boolean {
  return k.config.access === 'sigbus' && file.purged.has(page) && file.isVolatile(page);
}

/** A read: of the agent's own frame (checked), else do_read_fault. */
export function sysRead(k: Kernel, proc: Proc, vpage: number, frame: number): Ret {
  const now = k.touch();
  if (!proc.vmaAt(vpage)) return { signal: 'SIGSEGV' };
  if (frame >= 0) {
    const e = k.rmap.lookup(proc.pid, vpage);
    if (!e || e.frame !== frame || e.kind !== 'anon') return { retry: true };
    return { value: k.frames.read(frame, now) };
  }
  const fp = filePageOf(k, proc, vpage);
  if (!fp) return { value: '' };
  return doReadFault(k, proc, vpage, fp, now);
}

function doReadFault(k: Kernel, proc: Proc, vpage: number, fp: FilePage, now: number): Ret {
  if (fileSigbus(k, fp.file, fp.page)) return { signal: 'SIGBUS' };
  const f = fp.file.frameAt(fp.page);
  if (f < 0) return { value: '' }; // a hole: the shared zero page, no frame taken
  if (!k.rmap.lookup(proc.pid, vpage)) k.rmap.add(proc.pid, vpage, f, fp.share === 'private' ? 'file-private' : 'file-shared');
  return { value: k.frames.read(f, now) };
}

/** A write: do_wp_page for anonymous memory (and private file pages already copied), else the file paths. */
export async function sysWrite(k: Kernel, proc: Proc, m: Write): Promise<Ret | undefined> {
  if (Buffer.byteLength(m.value) > valueBytesMax) return { errno: 'EINVAL' };
  if (m.offset !== undefined && subPageFits(m.offset, m.value) !== undefined) return { errno: 'EINVAL' };
  const v = proc.vmaAt(m.vpage);
  if (!v) return { signal: 'SIGSEGV' };
  const anonymous = v.kind === 'anon' || (v.kind === 'file-private' && (m.frame >= 0 || m.anon));
  if (anonymous) return doWpPage(k, proc, m);
  const fp = filePageOf(k, proc, m.vpage)!;
  if (fileSigbus(k, fp.file, fp.page)) return { signal: 'SIGBUS' };
  return v.kind === 'file-private' ? doCowFault(k, proc, m, fp) : doSharedFault(k, proc, m, fp);
}

/**
 * Copy-on-write from the file's page: the copy is this process's own from now on. As in
 * do_cow_fault, the copy is allocated before the file's page is looked up, so that page is not
 * locked meanwhile: reclaim may purge it, and the fault then sees it (SIGBUS while its range is
 * volatile) rather than OOM-killing anyone for a copy of a page that is gone.
 */
async function doCowFault(k: Kernel, proc: Proc, m: Write, fp: FilePage): Promise<Ret | undefined> {
  const nf = await k.pageAlloc.allocFrame(proc, () => !fileSigbus(k, fp.file, fp.page));
  k.pageAlloc.unplaced.delete(nf);
  if (nf === -1) return undefined;
  if (nf === frameNotNeeded) return sysWrite(k, proc, m);
  if (fileSigbus(k, fp.file, fp.page)) { k.frames.decref(nf); return { signal: 'SIGBUS' }; }
  // The copy starts as the file's page (a hole, or a page purged under access: zero, is zeros).
  const content = written(m, () => { const src = fp.file.frameAt(fp.page); return src >= 0 ? k.frames.content(src) : undefined; });
  if (k.rmap.lookup(proc.pid, m.vpage)) k.rmap.remove(proc.pid, m.vpage);
  k.frames.write(nf, content, k.touch());
  k.rmap.add(proc.pid, m.vpage, nf, 'anon');
  k.frames.decref(nf); // rmap.add took the mapping's reference
  return { frame: nf };
}

/** A write to a shared file page: the page-cache page, a hole filled first. */
async function doSharedFault(k: Kernel, proc: Proc, m: Write, fp: FilePage): Promise<Ret | undefined> {
  let f = fp.file.frameAt(fp.page);
  if (f < 0) {
    // A hole: a frame is needed only while it stays a hole (another writer may fill it meanwhile).
    const nf = await k.pageAlloc.allocFrame(proc, () => fp.file.frameAt(fp.page) < 0 && !fileSigbus(k, fp.file, fp.page));
    k.pageAlloc.unplaced.delete(nf);
    if (nf === -1) return undefined;
    if (nf === frameNotNeeded) return sysWrite(k, proc, m);
    if (fileSigbus(k, fp.file, fp.page)) { k.frames.decref(nf); return { signal: 'SIGBUS' }; }
    if (fp.file.cache.has(fp.page)) k.frames.decref(nf); // filled meanwhile by another writer
    else fp.file.insert(fp.page, nf, k.frames);
    f = fp.file.frameAt(fp.page);
  }
  const page = f;
  k.frames.write(f, written(m, () => k.frames.content(page)), k.touch());
  const e = k.rmap.lookup(proc.pid, m.vpage);
  if (e && e.frame !== f) k.rmap.remove(proc.pid, m.vpage);
  if (!e || e.frame !== f) k.rmap.add(proc.pid, m.vpage, f, 'file-shared');
  return { frame: -1 };
}

/** A write to an anonymous page: reuse when alone, else copy; a first write (no frame) takes a new one. */
async function doWpPage(k: Kernel, proc: Proc, m: Write): Promise<Ret | undefined> {
  if (m.frame >= 0) {
    const e = k.rmap.lookup(proc.pid, m.vpage);
    if (!e || e.frame !== m.frame || e.kind !== 'anon') return { retry: true };
    if (!m.cow || k.rmap.referencesTo(m.frame) === 1) {
      // Not shared (any more): write in place, as do_wp_page reuses a page it alone maps
      // (wp_can_reuse_anon_folio: one mapper left), whether it was always alone or the other
      // mappers died or copied while this fault waited for a frame.
      k.frames.write(m.frame, written(m, () => k.frames.content(m.frame)), k.touch());
      return { frame: m.frame };
    }
  }
  const held = k.vmscan.held;
  // The page being faulted on is locked, as in a real fault: its own reclaim must not take it.
  const pinned = m.frame >= 0 && !held.has(m.frame);
  if (pinned) held.set(m.frame, proc.pid);
  // A copy is needed while the source is still this page's frame and still shared.
  const need = () => m.frame < 0 || (k.rmap.lookup(proc.pid, m.vpage)?.frame === m.frame && k.rmap.referencesTo(m.frame) > 1);
  const nf = await k.pageAlloc.allocFrame(proc, need);
  k.pageAlloc.unplaced.delete(nf);
  if (pinned) held.delete(m.frame, proc.pid);
  if (nf === -1) return undefined;
  if (nf === frameNotNeeded) return doWpPage(k, proc, m); // look again: reuse the frame, or retry
  // The copy starts as the source (copy-on-write), or as a zero page (a first write, or a purged one).
  let content: PageContent;
  if (m.frame >= 0) {
    const e = k.rmap.lookup(proc.pid, m.vpage);
    if (!e || e.frame !== m.frame) { k.frames.decref(nf); return { retry: true }; } // purged since: fault again
    content = written(m, () => k.frames.content(m.frame));
    k.rmap.remove(proc.pid, m.vpage);
  } else {
    content = written(m, () => undefined);
    if (k.rmap.lookup(proc.pid, m.vpage)) k.rmap.remove(proc.pid, m.vpage); // a private file page not yet copied: now it is
  }
  k.frames.write(nf, content, k.touch());
  k.rmap.add(proc.pid, m.vpage, nf, 'anon');
  k.frames.decref(nf);
  return { frame: nf };
}
