// Forks and births in the offline checker (checker/check.ts). The kernel forks at the parent's
// `fork` syscall (the child's pid, its mappings and its share of the parent's pages are made then)
// and records the child's `birth` when its agent is ready (docs/history-format.md; docs/semantics.md
// "a parent that dies while its fork waits for the child's agent"). In between, the parent may die
// (its cleanup comes before the child's birth), and a reclaim exchange may ask the child, count its
// vote and tell it of a purge. So a child's view is its parent's as it was at the fork: taken at
// the birth while the parent lives (a process does nothing else while its fork step is in flight),
// kept from the parent's cleanup when its death cut the fork short, or taken at the first kernel
// event that names the child before its birth.

import { PageSet } from './pageset.js';
import { PageTable, type PState } from './check_model.js';
import type { CheckState, Line } from './check_state.js';
import type { EventOf } from '../coordinator/history.js';
import type { StepResult } from '../shared/scenario-types.js';

/** What a child inherits: the parent's bindings, mappings, pages, marks and the purges it may report. */
export type ForkView = Pick<PState, 'fdNames' | 'fds' | 'maps' | 'pt' | 'mmVol' | 'mayReport'>;

const viewOf = (q: PState): ForkView => ({ fdNames: new Map(q.fdNames), fds: new Map(q.fds), maps: new Map(q.maps), pt: q.pt.clone(),
  mmVol: q.mmVol.clone(), mayReport: new Set(q.mayReport) });
const emptyView = (): ForkView => ({ fdNames: new Map(), fds: new Map(), maps: new Map(), pt: new PageTable(), mmVol: new PageSet(), mayReport: new Set() });
const newProc = (name: string, pid: number, v: ForkView): PState => ({ name, pid, cleanedAt: 0, mustReport: new Map(), ...v });

/** `parent`'s step `index`, a fork of `child`, was invoked. */
export function forkInvoked(s: CheckState, parent: string, index: number, child: unknown): void {
  if (typeof child === 'string' && !s.procs.has(child)) s.pendingForks.set(child, { parent, index });
}

/** The fork step completed: done (the child was born before), or failed (no child); a kill leaves it open. */
export function forkCompleted(s: CheckState, parent: string, index: number, child: unknown, result: StepResult): void {
  const f = typeof child === 'string' ? s.pendingForks.get(child) : undefined;
  if (f && f.parent === parent && f.index === index && result.signal !== 'SIGKILL') s.pendingForks.delete(child as string);
}

/** `p` is being cleaned up: a fork of its still in flight keeps p's view for the child it may have made. */
export function parentDied(s: CheckState, p: PState): void {
  for (const [child, f] of s.pendingForks) if (f.parent === p.name && !s.procs.has(child)) s.orphanViews.set(child, viewOf(p));
}

/** The view of process `name`: its own, or, for a child forked and not born yet, its parent's at the fork. */
export function procNamed(s: CheckState, name: string): PState | undefined {
  const p = s.procs.get(name);
  if (p) return p;
  const f = s.pendingForks.get(name);
  if (!f) return undefined;
  const q = s.procs.get(f.parent);
  const view = q && !q.cleanedAt ? viewOf(q) : s.orphanViews.get(name);
  if (!view) return undefined;
  const c = newProc(name, 0, view);
  s.procs.set(name, c);
  s.early.add(name);
  return c;
}

/** Whether `name` has had its `birth`. */
export const isBorn = (s: CheckState, name: string): boolean => s.procs.has(name) && !s.early.has(name);

export function birth(s: CheckState, e: Line<EventOf<'birth'>>): void {
  const name = String(e.process);
  if (isBorn(s, name)) s.flag('well-formed', `${name} was born twice`, [e.line]);
  const parent = typeof e.parent === 'string' ? e.parent : undefined;
  // A fork of this child by this parent still open: it was in flight at the parent's death, if the parent is dead.
  const forked = parent !== undefined && s.pendingForks.get(name)?.parent === parent;
  if (parent !== undefined && !forked) s.deadMention(parent, e, 'forked a child');
  const q = parent !== undefined ? s.procs.get(parent) : undefined;
  const orphan = forked ? s.orphanViews.get(name) : undefined;
  s.pendingForks.delete(name);
  s.orphanViews.delete(name);
  const early = s.early.has(name) ? s.procs.get(name) : undefined;
  s.early.delete(name);
  if (early) { early.pid = Number(e.pid); return; } // given its view at the first event that named it
  const view = q && !q.cleanedAt ? viewOf(q) : orphan ?? emptyView();
  s.procs.set(name, newProc(name, Number(e.pid), view));
}
