// open, close, mmap and munmap: the process's fds and its VMAs (the kernel's copy; the agent keeps
// the page tables), each change of the VMAs carried to the files' i_mmap (address_space.ts
// `reindex`), and a file's final release once no fd and no mapping is left.
//
// Ordering rules: nothing here awaits, so each call is whole within one turn of the event loop;
// the entry checks (syscall_entry.ts) have already refused an mmap that overlaps or runs past the
// address space. A munmap drops the page-table entries in the range before the VMAs shrink.

import type { SysCall } from '../shared/messages.js';
import { fdsPerProcessMax } from '../shared/limits.js';
import type { Kernel, Ret } from './kernel.js';
import type { KVma, Proc } from './process_table.js';
import { AddressSpace, reindex } from './address_space.js';
import { unmapSpan } from '../shared/vma_span.js';

export function sysOpen(k: Kernel, proc: Proc, name: string): Ret {
  const file = k.files.find((f) => f.name === name && f.kind !== 'shmem');
  if (!file) return { errno: 'ENOENT' };
  let fd = 3;
  while (proc.fds.has(fd)) fd++;
  if (proc.fds.size >= fdsPerProcessMax) return { errno: 'EMFILE' };
  proc.fds.set(fd, file.id);
  file.openCount++;
  return { fd };
}

export function sysClose(k: Kernel, proc: Proc, fd: number): Ret {
  const id = proc.fds.get(fd);
  if (id === undefined) return { errno: 'EBADF' };
  proc.fds.delete(fd);
  const file = k.files[id]!;
  file.openCount--;
  maybeFinalRelease(k, file);
  return {};
}

export function sysMmap(k: Kernel, proc: Proc, m: Extract<SysCall, { t: 'mmap' }>): Ret {
  if (proc.vmas.some((v) => v.start < m.addr + m.pages && m.addr < v.start + v.pages)) {
    throw new Error(`kernel invariant: ${proc.name} mapped ${m.addr}+${m.pages} over an existing VMA`);
  }
  const add = (v: KVma): Ret => {
    proc.vmas.push(v);
    if (v.fileId >= 0) reindex(k.files, proc, [v.fileId]);
    return { fileId: v.fileId };
  };
  if (m.fd < 0) {
    if (m.share === 'private') return add({ start: m.addr, pages: m.pages, kind: 'anon', fileId: -1, offset: 0, share: 'private' });
    const shm = new AddressSpace(k.files.length, `shmem:${proc.name}@${m.addr}`, m.pages, 'shmem');
    k.files.push(shm);
    return add({ start: m.addr, pages: m.pages, kind: 'shmem', fileId: shm.id, offset: 0, share: 'shared' });
  }
  const id = proc.fds.get(m.fd);
  if (id === undefined) return { errno: 'EBADF' };
  const file = k.files[id]!;
  if (m.offset + m.pages > file.pages) return { errno: 'EINVAL' };
  return add({ start: m.addr, pages: m.pages, kind: m.share === 'shared' ? 'file-shared' : 'file-private', fileId: id, offset: m.offset, share: m.share });
}

export function sysMunmap(k: Kernel, proc: Proc, start: number, pages: number): Ret {
  const end = start + pages;
  for (const e of k.rmap.entriesIn(proc.pid, start, end)) k.rmap.remove(proc.pid, e.vpage);
  const { kept, cut } = unmapSpan(proc.vmas, start, end, (v, from, to) => ({ ...v, start: from, pages: to - from, offset: v.offset + (from - v.start) }));
  const touched = new Set(cut.filter((v) => v.fileId >= 0).map((v) => v.fileId));
  proc.vmas = kept;
  reindex(k.files, proc, touched);
  for (const id of touched) maybeFinalRelease(k, k.files[id]!);
  return {};
}

/** Final release when no fd and no mapping is left; returns the frames freed, or undefined. */
export function maybeFinalRelease(k: Kernel, file: AddressSpace): number | undefined {
  if (file.openCount < 0) throw new Error(`kernel invariant: ${file.name} open count ${file.openCount}`);
  if (file.openCount > 0) return undefined;
  if (file.mappedVmas > 0) return undefined;
  const hadState = file.ranges.size > 0 || file.purged.size > 0 || (file.kind !== 'tmpfs' && file.residentPages() > 0);
  const freed = file.finalRelease(k.frames);
  if (hadState) k.history.add('final-release', { file: file.name, fileKind: file.kind, framesFreed: freed });
  return freed;
}

/** A file as the report and the `check` step see it: fds open on it, VMAs over it, its volatile ranges. */
export function fileSummary(file: AddressSpace): { name: string; open: number; mapped: number; volatile: Array<[number, number]> } {
  return { name: file.name, open: file.openCount, mapped: file.mappedVmas, volatile: file.ranges.coalesced() };
}

/** The file page a vpage of this process maps, if it maps one. */
export function filePageOf(k: Kernel, proc: Proc, vpage: number): { file: AddressSpace; page: number; share: 'shared' | 'private' } | undefined {
  const v = proc.vmaAt(vpage);
  if (!v || v.fileId < 0) return undefined;
  return { file: k.files[v.fileId]!, page: v.offset + (vpage - v.start), share: v.share };
}
