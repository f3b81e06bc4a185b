// fork: the child gets a copy of the parent's fds and VMAs, and every page of the parent's page
// table (the mm snapshot its agent sends) becomes shared copy-on-write: the child's rmap entries
// name the same frames. The child's agent is attached (birth) with the snapshot as its mm.
//
// Ordering rules: the snapshot is checked whole before anything changes (every frame it names must
// be the parent's own at that page, or one reclaim just took from it, which the child does not
// get). The child is claimed (`running`, its pid taken) before the await for its agent: another
// fork may start meanwhile, and a reclaim that runs then does not ask the child (it has no agent
// yet), so its pages count as not volatile. After the await the child may already be dead.

import type { MmSnapshot } from '../shared/messages.js';
import { processesMax } from '../shared/limits.js';
import type { Kernel, Ret } from './kernel.js';
import type { Proc } from './process_table.js';
import { reindex } from './address_space.js';
import { verify, verifyVmasAgree } from './verify.js';

type Pages = { shared: Array<[number, number]>; stale: Array<[number, number]> };
type Refused = { refused: Ret };
const refuse = (r: Ret): Refused => ({ refused: r });

/** The parent's page-table entries the snapshot names, or the EFAULT for a malformed or forged one. */
function snapshotPages(k: Kernel, parent: Proc, mm: MmSnapshot): Pages | Refused {
  const shared: Pages['shared'] = [];
  const stale: Pages['stale'] = [];
  if (!Array.isArray(mm?.vmas)) return refuse(k.entry.efault(parent, 'fork', { mm: typeof mm }, 'no mm snapshot'));
  for (const v of mm.vmas) {
    // Typed arrays from the product's agents; a remote peer may send plain arrays (checked element by element).
    // `at` lists the entries' page indexes (a sparse snapshot); without it entry k is page k.
    const at = v?.at;
    if (!(v?.frames instanceof Int32Array || Array.isArray(v?.frames)) || !Number.isInteger(v.start)
      || (at !== undefined && !((at instanceof Float64Array || Array.isArray(at)) && at.length === v.frames.length))) {
      return refuse(k.entry.efault(parent, 'fork', { vma: v?.start }, 'a malformed mm snapshot'));
    }
    for (let e = 0; e < v.frames.length; e++) {
      const i = at ? at[e]! : e;
      // Entries name distinct pages of the VMA, ascending (the child's page table is built from them).
      if (at && !(Number.isInteger(i) && i >= 0 && i < v.pages && (e === 0 || i > at[e - 1]!))) {
        return refuse(k.entry.efault(parent, 'fork', { vma: v.start, entry: i }, 'a malformed mm snapshot'));
      }
      const f = v.frames[e]!;
      if (f === -1) continue;
      const vpage = v.start + i;
      const pte = Number.isInteger(f) && f >= 0 && Number.isInteger(i) ? k.rmap.lookup(parent.pid, vpage) : undefined;
      if (pte && pte.kind === 'anon' && pte.frame === f) shared.push([vpage, f]);
      else if (Number.isInteger(f) && Number.isInteger(i) && k.rmap.wasPurgedFrom(parent.pid, vpage, f)) stale.push([vpage, f]);
      else return refuse(k.entry.efault(parent, 'fork', { vpage, frame: f }, 'a frame its mm does not map at that page'));
    }
  }
  return { shared, stale };
}

export async function sysFork(k: Kernel, parent: Proc, childName: string, mm: MmSnapshot): Promise<Ret> {
  const child = k.table.named(childName);
  if (!child || !child.spec.forked || child.state !== 'unborn') return { errno: 'EINVAL' };
  // Only a run with more processes than processesMax can have that many alive (the loader allows no more).
  if (k.procs.length > processesMax && k.procs.filter((p) => p.live).length >= processesMax) return { errno: 'EAGAIN' };
  const pages = snapshotPages(k, parent, mm);
  if ('refused' in pages) return pages.refused;
  // A local agent is this project's own code: its VMAs and the kernel's copy must agree (verify mode).
  if (verify.enabled && !parent.agent?.remote) verifyVmasAgree(parent.name, parent.vmas, mm.vmas, `at the fork of ${childName}`);
  child.state = 'running'; // claimed; the agent is attached below
  child.fds = new Map(parent.fds);
  child.bindings = new Map(parent.bindings); // the snapshot carries these (step_calls.ts checked it)
  for (const id of child.fds.values()) k.files[id]!.openCount++;
  child.vmas = parent.vmas.map((v) => ({ ...v }));
  reindex(k.files, child, new Set(child.vmas.filter((v) => v.fileId >= 0).map((v) => v.fileId)));
  // The child's page table: every page with its own frame, now shared copy-on-write.
  const pid = k.table.claimPid(); // claimed now: another fork may start while this child's agent starts
  for (const [vpage, f] of pages.shared) k.rmap.add(pid, vpage, f, 'anon');
  // The child's copy still names a purged frame: for it too, naming it is stale, not forged.
  for (const [vpage, f] of pages.stale) k.rmap.rememberPurged(pid, vpage, f);
  await k.birth(child, parent, mm, pid);
  if (k.config.schedule === 'free' && child.live && child.spec.steps.length > 0) k.lockstep.runFree(child);
  k.onProgress();
  return { pid: child.pid };
}
