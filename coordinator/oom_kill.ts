// The OOM killer: when direct reclaim freed nothing, the process with the most resident pages
// (its rmap entries: oom_badness without the adjustments) is killed; if no process holds a page,
// the faulting one. Called under the reclaim lock (page_alloc.ts); returns once the victim is
// reaped, so the next allocation sees its frames free.

import type { Kernel } from './kernel.js';
import type { Proc } from './process_table.js';

/** The victim: the live process with the most resident pages (the first in table order on a tie), else the faulting one. */
export function oomVictim(k: Kernel, faulting: Proc): { victim: Proc; most: number } {
  let victim: Proc | undefined;
  let most = 0;
  for (const p of k.procs) {
    if (!p.live) continue;
    const rss = k.rmap.resident(p.pid);
    if (rss > most) { most = rss; victim = p; }
  }
  return { victim: victim ?? faulting, most };
}

/** Nothing could be purged: kill the victim and wait for its cleanup. */
export async function oomKill(k: Kernel, faulting: Proc): Promise<void> {
  const { victim, most } = oomVictim(k, faulting);
  k.history.add('oom-kill', { process: victim.name, pid: victim.pid, resident: k.rmap.resident(victim.pid),
    faulting: faulting.name, why: most > 0 ? 'most resident pages' : 'no process holds a page: the faulting process' });
  await k.exit.killProc(victim);
}
