// Verify mode: the memory invariants asserted where they are relied on (TigerStyle), not only at
// the end of a run. `verifyFrames` checks, in this order, and throws a `kernel invariant:` Error
// naming the first fact it finds broken:
//   1. used + free === total, and the number of frames with a reference is the number counted used;
//   2. no frame on the free list has a reference (is mapped, cached or counted);
//   3. every rmap entry names a used frame, and the page table of the pid it names agrees;
//   4. every page-cache entry names a used frame whose owner is that file and page;
//   5. every used frame's reference count is its rmap references plus its page-cache entry
//      (plus one for a frame a fault has allocated and not yet placed: `unplaced`).
// `verifyImmap` checks that each file's i_mmap index (address_space.ts) holds exactly the VMAs the
// process table's copies say map it; `verifyVmasAgree` that the kernel's copy of a process's VMAs
// is the agent's own (agents/mm.ts), which the kernel sees in a fork's mm snapshot.
// Its cost is O(frames in use + free-list length + rmap entries + page-cache entries), so it is
// on in tests (`VRANGE_VERIFY=1`, set by package.json's ava config) and off in normal runs and in
// benchmarks. The kernel calls it after every reclaim commit and every exit cleanup.
//
// The switch is the environment (read once, when this module loads); tests may flip `verify.enabled`.

import type { FrameTable } from './frames.js';
import type { Rmap } from './rmap.js';
import type { AddressSpace } from './address_space.js';
import type { KVma, Proc } from './process_table.js';
import type { VmaSnapshot } from '../shared/messages.js';

export const verify = { enabled: process.env.VRANGE_VERIFY === '1' };

type Frames = Pick<FrameTable, 'total' | 'used' | 'free' | 'refcount' | 'ownerFile' | 'ownerPage' | 'usedFrames' | 'freeList' | 'isUsed'>;
type Refs = Pick<Rmap, 'mappedFrames' | 'mappers' | 'referencesTo' | 'lookup'>;
type Files = ReadonlyArray<Pick<AddressSpace, 'id' | 'name' | 'cache'>>;

function broken(at: string | undefined, fact: string): never {
  throw new Error(`kernel invariant${at ? ` (${at})` : ''}: ${fact}`);
}

/**
 * Throws `kernel invariant (at): ...` naming the first broken fact (see the header). `at` says
 * where the kernel checked (`after the commit of exchange 3`); `unplaced` holds frames a fault
 * has allocated and not yet put into a page table or the page cache.
 */
export function verifyFrames(frames: Frames, rmap: Refs, files: Files, at?: string, unplaced?: ReadonlySet<number>): void {
  let referenced = 0;
  for (const _ of frames.usedFrames()) referenced++;
  if (frames.used + frames.free !== frames.total) broken(at, `used ${frames.used} + free ${frames.free} != total ${frames.total}`);
  if (referenced !== frames.used) broken(at, `${referenced} frames have references but ${frames.used} are counted used`);
  for (const f of frames.freeList()) {
    if (frames.refcount[f] !== 0) broken(at, `frame ${f} is on the free list with refcount ${frames.refcount[f]}`);
  }
  for (const f of rmap.mappedFrames()) {
    if (!frames.isUsed(f)) broken(at, `the rmap maps frame ${f}, which is free`);
    for (const m of rmap.mappers(f)) {
      const pte = rmap.lookup(m.pid, m.vpage);
      if (pte?.frame !== f) broken(at, `the rmap says pid ${m.pid} page ${m.vpage} maps frame ${f}, its page table says ${pte ? `frame ${pte.frame}` : 'nothing'}`);
    }
  }
  for (const file of files) {
    for (const [page, f] of file.cache) {
      if (!frames.isUsed(f)) broken(at, `${file.name} page ${page} is cached in frame ${f}, which is free`);
      if (frames.ownerFile[f] !== file.id || frames.ownerPage[f] !== page) {
        broken(at, `${file.name} page ${page} is cached in frame ${f}, whose owner is ${frames.ownerFile[f]! < 0 ? 'no file' : `file ${frames.ownerFile[f]} page ${frames.ownerPage[f]}`}`);
      }
    }
  }
  for (const f of frames.usedFrames()) {
    const fileId = frames.ownerFile[f]!;
    const cached = fileId >= 0 && files[fileId]?.cache.get(frames.ownerPage[f]!) === f ? 1 : 0;
    const want = rmap.referencesTo(f) + cached + (unplaced?.has(f) ? 1 : 0);
    if (frames.refcount[f] !== want) {
      broken(at, `frame ${f} has refcount ${frames.refcount[f]} but ${rmap.referencesTo(f)} rmap reference(s)${cached ? ' and its page-cache entry' : ''}${unplaced?.has(f) ? ' and its fault' : ''}`);
    }
  }
}

/** verifyFrames when verify mode is on; nothing (not even a walk) when it is off. */
export function verifyIfEnabled(frames: Frames, rmap: Refs, files: Files, at?: string, unplaced?: ReadonlySet<number>): void {
  if (verify.enabled) verifyFrames(frames, rmap, files, at, unplaced);
}

const vmaText = (v: { start: number; pages: number; kind: string; fileId: number; offset: number }): string =>
  `${v.kind} ${v.start}+${v.pages} (file ${v.fileId}, offset ${v.offset})`;
const byStart = <V extends { start: number }>(l: readonly V[]): V[] => [...l].sort((a, b) => a.start - b.start);

/** Each file's i_mmap holds exactly the VMAs over it that the processes' VMA lists give. */
export function verifyImmap(files: ReadonlyArray<Pick<AddressSpace, 'id' | 'name' | 'mappingsFor' | 'mappedVmas'>>,
  procs: ReadonlyArray<Pick<Proc, 'name' | 'vmas'>>, at?: string): void {
  for (const file of files) {
    let count = 0;
    for (const p of procs) {
      const want = byStart(p.vmas.filter((v) => v.fileId === file.id)).map(vmaText);
      const got = byStart(file.mappingsFor(p as Proc)).map(vmaText);
      count += want.length;
      if (want.join() !== got.join()) broken(at, `the i_mmap of ${file.name} holds [${got.join('; ')}] for ${p.name}, whose VMAs over it are [${want.join('; ')}]`);
    }
    if (count !== file.mappedVmas) broken(at, `the i_mmap of ${file.name} counts ${file.mappedVmas} VMAs, the processes map it with ${count}`);
  }
}

/** The kernel's copy of a process's VMAs is the agent's own, as its mm snapshot gives them. */
export function verifyVmasAgree(name: string, kernel: readonly KVma[], agent: readonly Pick<VmaSnapshot, 'start' | 'pages' | 'kind' | 'fileId' | 'offset'>[], at?: string): void {
  const k = byStart(kernel).map(vmaText);
  const a = byStart(agent).map(vmaText);
  if (k.join() !== a.join()) broken(at, `the kernel's VMAs of ${name} are [${k.join('; ')}], its agent's [${a.join('; ')}]`);
}

/** verifyImmap when verify mode is on. */
export function verifyImmapIfEnabled(files: Parameters<typeof verifyImmap>[0], procs: Parameters<typeof verifyImmap>[1], at?: string): void {
  if (verify.enabled) verifyImmap(files, procs, at);
}
