// Page allocation: a free frame for a fault, by direct reclaim and then the OOM killer when none
// is free (__alloc_pages_slowpath, much simplified).
//
// Ordering rules: one direct reclaim or OOM decision at a time, under the reclaim lock, each
// taken after the previous one's victim is reaped. Reclaim and the OOM killer await, and other
// processes change state meanwhile (a mapper dies, another writer fills the hole, a purge):
// before each, and after the lock is taken, the fault is asked (`need`) whether it still needs a
// frame at all. A direct-reclaim exchange may send only `prepare` and `commit` to its participants
// (reclaim.ts); the faulting process's own reply waits until a frame is found.

import type { Kernel } from './kernel.js';
import type { Proc } from './process_table.js';
import { oomKill } from './oom_kill.js';
import { lazyfreeScansMax } from '../shared/limits.js';

/** allocFrame: the fault no longer needs a frame (its `need` said so after a wait). */
export const frameNotNeeded = -2;

export class PageAlloc {
  private reclaimLock: Promise<void> = Promise.resolve();

  /**
   * Frames handed to a fault that has not resumed to place them yet (each holds the one reference
   * alloc gave it): verify mode allows them that reference. The fault deletes its frame on resume.
   */
  readonly unplaced = new Set<number>();

  constructor(private readonly k: Kernel) {}

  /**
   * A free frame for `proc`. Returns the frame; -1 when `proc` itself was killed meanwhile (its
   * syscall then gets no reply); frameNotNeeded when `need` says no (the caller looks again from
   * the top).
   */
  async allocFrame(proc: Proc, need: () => boolean = () => true): Promise<number> {
    const k = this.k;
    for (;;) {
      if (!proc.live) return -1;
      if (!need()) return frameNotNeeded;
      const f = k.frames.alloc(k.accessClock);
      if (f >= 0) { this.unplaced.add(f); return f; }
      await this.withReclaimLock(async () => {
        if (k.frames.free > 0 || !proc.live || !need()) return;
        // madv-free: a scan that only spent second chances (young bits cleared) is followed by another.
        for (let scan = 1; ; scan++) {
          const { freed, youngCleared } = await k.vmscan.runExchange(1, `direct reclaim: ${proc.name} faulted with no free frame`);
          if (freed > 0 || k.frames.free > 0 || !proc.live || !need()) return;
          if (!youngCleared || scan >= lazyfreeScansMax) break;
        }
        await oomKill(k, proc);
      });
    }
  }

  private async withReclaimLock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.reclaimLock;
    let release!: () => void;
    this.reclaimLock = new Promise((r) => (release = r));
    await prev;
    try { return await fn(); } finally { release(); }
  }
}
