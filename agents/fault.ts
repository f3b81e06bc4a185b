// Page faults, decided from the process's own mm as a kernel's fault handler decides from the
// faulting mm: no VMA is SIGSEGV; a purged page whose range is still volatile is SIGBUS (with
// `access: sigbus`); anything else reads the frame, or "" when there is none.
// A page that lives in the page cache (file mapped shared, private and not yet copied, shared
// anonymous) is read and written through the kernel, which decides from the file's state.
// A reply with `retry` means the frame we named is gone (purged meanwhile): fault again.

import type { Agent } from './agent.js';
import { PTE_ANONZERO, PTE_CLEAN, PTE_COW, PTE_LAZYFREE, PTE_PURGED, PTE_YOUNG, type Vma } from './mm.js';
import type { StepResult } from '../shared/scenario-types.js';
import type { StepOutcome } from './steps.js';
import type { SysCall } from '../shared/messages.js';

const faultRetriesMax = 8;

/** SIGBUS if this mm has the page purged and still volatile (sigbus mode only). */
function purgedSignal(agent: Agent, vma: Vma, i: number): StepResult | undefined {
  if (agent.config.access !== 'sigbus') return undefined;
  if ((vma.flagsAt(i) & PTE_PURGED) === 0) return undefined;
  if (!agent.mm.isVolatile(vma.start + i)) return undefined;
  return { ok: false, signal: 'SIGBUS' };
}

function fromRet(r: { errno?: string; signal?: string }): StepResult | undefined {
  if (r.signal) return { ok: false, signal: r.signal };
  if (r.errno) return { ok: false, errno: r.errno };
  return undefined;
}

/**
 * The start of every fault: no VMA is SIGSEGV; wait while a reclaim exchange holds the page; then
 * look again (the commit may have purged it) and raise SIGBUS on a purged, still volatile page.
 * Without a wait (no exchange holds the page, the usual case) the answer comes at once, not as a
 * promise: a fault costs no extra turn of the step's async chain.
 */
function faultIn(agent: Agent, vpage: number): { vma: Vma; i: number } | StepResult | Promise<{ vma: Vma; i: number } | StepResult> {
  const pte = agent.mm.pte(vpage);
  if (!pte) return { ok: false, signal: 'SIGSEGV' };
  const held = agent.untilReleased(vpage, vpage + 1);
  return held ? held.then(() => lookAgain(agent, vpage)) : purgedSignal(agent, pte.vma, pte.i) ?? pte;
}

function lookAgain(agent: Agent, vpage: number): { vma: Vma; i: number } | StepResult {
  const pte = agent.mm.pte(vpage);
  if (!pte) return { ok: false, signal: 'SIGSEGV' };
  return purgedSignal(agent, pte.vma, pte.i) ?? pte;
}

/** A `read` step (its outcome: the step interpreter adds nothing to it). */
export async function readPage(agent: Agent, vpage: number): Promise<StepOutcome> {
  for (let attempt = 0; attempt < faultRetriesMax; attempt++) {
    const f = faultIn(agent, vpage);
    const pte = f instanceof Promise ? await f : f;
    if ('ok' in pte) return { result: pte };
    const { vma, i } = pte;
    const frame = vma.ownsFrames ? vma.frameAt(i) : -1;
    if (vma.ownsFrames && frame < 0 && (vma.kind === 'anon' || (vma.flagsAt(i) & PTE_ANONZERO) !== 0)) {
      return { result: { ok: true, value: '' } }; // the shared zero page: no frame taken
    }
    // madv-free: the access makes the pte young now, before the kernel hears of it, so that no
    // prepare answered meanwhile (free schedule) shows the page as not read.
    if (frame >= 0 && agent.config.policy === 'madv-free') vma.setFlags(i, vma.flagsAt(i) | PTE_YOUNG);
    const r = await agent.call({ t: 'read', vpage, frame });
    if (r.retry) { dropFrame(vma, vpage); continue; }
    return { result: fromRet(r) ?? { ok: true, value: r.value as string } };
  }
  return agent.fatal(`read of page ${vpage}: the kernel asked to retry ${faultRetriesMax} times`);
}

/**
 * A `write` step (its outcome). With `offset`, a sub-page write: the same fault (SIGBUS on a purged
 * page under access: sigbus, a zero page faulted in under zero, copy-on-write), and the kernel,
 * which holds the page's contents, writes only those bytes (shared/page_bytes.ts).
 */
export async function writePage(agent: Agent, vpage: number, value: string, offset?: number): Promise<StepOutcome> {
  for (let attempt = 0; attempt < faultRetriesMax; attempt++) {
    const f = faultIn(agent, vpage);
    const pte = f instanceof Promise ? await f : f;
    if ('ok' in pte) return { result: pte };
    const { vma, i } = pte;
    const frame = vma.ownsFrames ? vma.frameAt(i) : -1;
    const flags = vma.flagsAt(i);
    const cow = (flags & PTE_COW) !== 0;
    const anon = vma.kind === 'anon' || (flags & PTE_ANONZERO) !== 0;
    // madv-free: the write dirties the pte (its mark goes) now, before the kernel writes the frame,
    // so that no prepare answered while the reply is on its way calls the page clean.
    const madvFree = agent.config.policy === 'madv-free';
    if (madvFree && frame >= 0) vma.setFlags(i, (flags & ~(PTE_LAZYFREE | PTE_CLEAN)) | PTE_YOUNG);
    const msg: Omit<Extract<SysCall, { t: 'write' }>, 'id'> = { t: 'write', vpage, frame, cow, value, anon };
    if (offset !== undefined) msg.offset = offset; // a sub-page write (no spread of an object a step)
    const r = await agent.call(msg);
    if (r.retry) { dropFrame(vma, vpage); continue; }
    const failed = fromRet(r);
    if (failed) return { result: failed };
    const cur = agent.mm.pte(vpage);
    if (cur && cur.vma.ownsFrames) {
      // madv-free: the written page is dirty and young (a new frame too: do_anonymous_page, wp_page_copy).
      const touched = madvFree ? PTE_YOUNG : 0;
      cur.vma.setPte(cur.i, r.frame as number, (cur.vma.flagsAt(cur.i) & ~(PTE_COW | PTE_ANONZERO | PTE_LAZYFREE | PTE_CLEAN)) | touched);
    }
    return { result: { ok: true } };
  }
  return agent.fatal(`write of page ${vpage}: the kernel asked to retry ${faultRetriesMax} times`);
}

function dropFrame(vma: Vma, vpage: number): void {
  if (vma.ownsFrames && vpage >= vma.start && vpage < vma.end) vma.setFrame(vpage - vma.start, -1);
}
