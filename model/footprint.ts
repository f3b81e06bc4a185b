// What one action of the reference model touches, declared at run time from the state it runs in
// (docs/semantics.md, "The search of explore --all"): the objects it reads, writes, or only adds to.
// Two actions commute when neither writes what the other reads, writes or adds to (adds commute
// with adds: the frame count is a counter). An object is one of
//   proc:X   the thread X's own progress (its next step, its step in flight); every action of X writes it
//            (the kernel list's is proc:@kernel, which its prepare and commit write: never a process's)
//   end:X    whether process X has ended, and how (waitpid, a kill's ESRCH, a check read it)
//   mm:X     X's address space: VMAs and page-table entries
//   vol:X    X's own volatile ranges and purged pages (a reclaim's prepare reads only these of an mm with none)
//   fd:X     X's file descriptors
//   file:F   file F's page cache, its volatile ranges and purged pages (a hidden shmem object too)
//   hold+:F, hold-:F  who holds F open or mapped: an open or mmap adds to hold+ (and reads hold-), a
//            close, munmap or end adds to hold- (reads hold+) and may release F (the last holder's
//            release clears it: writes file:F); gains commute with gains, drops with drops
//   sig:S    signal S;  pid  the next pid;  frames  the count of frames in use
//   ref:N    the mapper count of private frame N (shared copy-on-write after a fork): a drop adds,
//            a write reads it (its only mapper writes in place, others copy)
//   xchg:X   the open reclaim exchange's answers for X (a step of X on a held page waits for the commit)
//   age      the relative age of volatile marks, lru  the relative age of page uses: written only when
//            a purge order can show (a `reclaim` of N pages, or direct reclaim), else nothing reads them
// The footprint is an over-approximation: a step that may end its process (a fault signal that
// kills) carries the end's footprint too; a write when the scenario can run out of frames (direct
// reclaim, the OOM killer) and a commit of an exchange touch everything they may.

import type { KernelStep, ProcessStep, RunConfig, Scenario } from '../shared/scenario-types.js';
import type { StepModel } from './steps.js';
import { COMMIT_ACTION, KERNEL_ACTION, type Proc } from './types.js';

export interface Footprint { reads: Set<string>; writes: Set<string>; adds: Set<string>; all: boolean }

/** Two footprints commute: no write meets a read, a write or an add, and no add meets a read. */
export function commute(a: Footprint, b: Footprint): boolean {
  if (a.all || b.all) return false;
  const meets = (xs: Set<string>, ...ys: Array<Set<string>>) => { for (const x of xs) for (const y of ys) if (y.has(x)) return true; return false; };
  return !meets(a.writes, b.reads, b.writes, b.adds) && !meets(b.writes, a.reads, a.adds) && !meets(a.adds, b.reads) && !meets(b.adds, a.reads);
}

/** What the scenario lets show: the order of purges (so the ages of marks and uses), and a shortage of frames. */
export interface Visibility { age: boolean; lru: boolean; scarce: boolean; sigbus: boolean; madv: boolean }

export function visibility(s: Scenario, cfg: RunConfig): Visibility {
  // Each write allocates at most one frame, and only writes allocate: with no more writes than
  // frames, no allocation ever finds the frames full (no direct reclaim, no OOM kill).
  const writes = s.processes.reduce((n, p) => n + p.steps.filter((x) => x.op === 'write').length, 0);
  const scarce = writes > cfg.frames;
  // A reclaim of everything tries every unit, and no unit's decision reads another's purge: order shows only when it may stop early.
  const partial = scarce || s.kernel.some((k) => k.op === 'reclaim' && !k.all);
  // madv-free: always page by page, least recently used first, and never SIGBUS.
  if (cfg.policy === 'madv-free') return { age: false, lru: partial, scarce, sigbus: false, madv: true };
  return { age: partial && cfg.purgeUnit === 'range', lru: partial && cfg.purgeUnit === 'page', scarce, sigbus: cfg.access === 'sigbus', madv: false };
}

class Fp implements Footprint {
  reads = new Set<string>(); writes = new Set<string>(); adds = new Set<string>(); all = false;
  r(...xs: string[]): this { xs.forEach((x) => this.reads.add(x)); return this; }
  w(...xs: string[]): this { xs.forEach((x) => this.writes.add(x)); return this; }
  a(...xs: string[]): this { xs.forEach((x) => this.adds.add(x)); return this; }
  gain(F: string): this { return this.a(`hold+:${F}`).r(`hold-:${F}`); }
  /** A drop may be the last and release F: that writes F unless F has nothing a release clears (a tmpfs file with no marks). */
  drop(m: StepModel, F: string): this {
    const file = m.files.find((x) => x.name === F);
    const idle = file !== undefined && file.ranges.length === 0 && file.purged.size === 0 && (file.kind === 'tmpfs' || file.cache.size === 0);
    return this.a(`hold-:${F}`).r(`hold+:${F}`)[idle ? 'r' : 'w'](`file:${F}`);
  }
  /** An unmark of F's pages: a write, or only a read when none of F's pages is volatile or purged (it changes nothing). */
  unmark(m: StepModel, F: string): this {
    const file = m.files.find((x) => x.name === F);
    return this[file && file.ranges.length === 0 && file.purged.size === 0 ? 'r' : 'w'](`file:${F}`);
  }
  holders(F: string): this { return this.r(`hold+:${F}`, `hold-:${F}`); }
  merge(o: Footprint): this { this.r(...o.reads); this.w(...o.writes); this.a(...o.adds); this.all ||= o.all; return this; }
}

const everything = (): Footprint => Object.assign(new Fp(), { all: true });

/** The footprint of the action `name` (a process, KERNEL_ACTION or COMMIT_ACTION) in the model's state now. */
export function footprintOf(m: StepModel, sc: Scenario, vis: Visibility, name: string): Footprint {
  if (name === COMMIT_ACTION) return commitFootprint(m, sc, vis);
  const f = new Fp().w(`proc:${name}`);
  if (name === KERNEL_ACTION) return kernelFootprint(m, sc, vis, f);
  const p = m.byName(name);
  const step = p.spec.steps[p.next];
  if (!step) return f;
  return stepFootprint(m, vis, p, step, f);
}

/** The files a process holds open or mapped. */
function held(p: Proc): string[] {
  const out = new Set<string>();
  for (const f of p.fds.values()) out.add(f.name);
  for (const v of p.vmas) if (v.file) out.add(v.file.name);
  return [...out];
}

/** The serials of p's own frames (in [s, e) if given): a drop of one is an add to its mapper count `ref:N`. */
function ownFrames(p: Proc, s = -Infinity, e = Infinity, kind = 'ref'): string[] {
  const out: string[] = [];
  for (const [v, pte] of p.ptes) if (pte.own && pte.frame && v >= s && v < e) out.push(`${kind}:${pte.frame.serial}`);
  return out;
}

/** madv-free: whether frame N is lazyfree (`page:N`: some mapper's pte is marked), of p's own frames in the pieces. */
function pageObjects(p: Proc, pieces: Array<[number, number]>): string[] {
  return pieces.flatMap(([s, e]) => ownFrames(p, s, e, 'page'));
}

/** Ending p: its cleanup unmaps and closes all it holds, the last holder of a file releases it. */
function endFootprint(m: StepModel, p: Proc, f: Fp): Fp {
  f.w(`proc:${p.spec.name}`, `end:${p.spec.name}`, `mm:${p.spec.name}`, `vol:${p.spec.name}`, `fd:${p.spec.name}`).a('frames', ...ownFrames(p));
  for (const name of held(p)) f.drop(m, name);
  return f;
}

function stepFootprint(m: StepModel, vis: Visibility, p: Proc, step: ProcessStep, f: Fp): Footprint {
  const X = p.spec.name;
  const last = p.next === p.spec.steps.length - 1;
  const fileOfFd = (fd: string) => m.fdFile(p, fd)?.name;
  const filesIn = (s: number, e: number) => [...new Set(m.segments(p, s, e).flatMap((g) => (g.vma.file ? [g.vma.file.name] : [])))];
  const span = m.span(p, step);
  const sp = span && !('errno' in span) ? span : undefined;
  if (span) f.r(`xchg:${X}`); // a step on a page the open exchange holds waits for its commit
  let mayEnd = last;
  const marked = p.ranges.length > 0 || p.purged.size > 0;
  switch (step.op) {
    case 'signal': f.w(`sig:${step.name}`); break;
    case 'wait': f.r(`sig:${step.name}`); break;
    case 'waitpid': f.r(`end:${step.process}`); break;
    case 'open': f.w(`fd:${X}`).gain(step.file); break;
    case 'close': { f.w(`fd:${X}`); const F = fileOfFd(step.fd); if (F) f.drop(m, F).a('frames'); break; }
    case 'mmap': {
      f.w(`mm:${X}`);
      if (marked) f.w(`vol:${X}`); // a new mapping clears the marks under it
      if (step.fd !== undefined) { f.r(`fd:${X}`); const F = fileOfFd(step.fd); if (F) f.gain(F); }
      break;
    }
    case 'munmap':
      f.w(`mm:${X}`).a('frames');
      if (marked) f.w(`vol:${X}`);
      if (sp) { f.a(...ownFrames(p, sp.s, sp.e)); for (const F of filesIn(sp.s, sp.e)) f.drop(m, F); }
      break;
    case 'read': case 'write': {
      if (step.op === 'write' && vis.scarce) return everything(); // direct reclaim and the OOM killer may touch anything
      if (accessFootprint(m, vis, p, step, f)) mayEnd = true;
      break;
    }
    case 'vrange': {
      if (vis.madv) { // MADV_FREE: this mm's ptes marked, made clean and old; each frame is then lazyfree
        f.r(`mm:${X}`);
        if (sp?.pieces) f.w(`mm:${X}`, ...pageObjects(p, sp.pieces));
        break;
      }
      f.r(`mm:${X}`);
      if (step.mode === 'volatile' || marked) f.w(`vol:${X}`); else f.r(`vol:${X}`);
      // Volatile marks only add pages to a range set: when their ages cannot show, two commute.
      const adds = step.mode === 'volatile' && !vis.age;
      if (sp) for (const F of filesIn(sp.s, sp.e)) (adds ? f.a(`file:${F}`) : step.mode === 'volatile' ? f.w(`file:${F}`) : f.unmark(m, F));
      if (step.mode === 'volatile' && vis.age) f.w('age');
      break;
    }
    case 'fvrange': {
      f.r(`fd:${X}`);
      const F = fileOfFd(step.fd);
      if (F) (step.mode === 'volatile' && !vis.age ? f.a(`file:${F}`) : step.mode === 'volatile' ? f.w(`file:${F}`) : f.unmark(m, F));
      if (step.mode === 'volatile' && vis.age) f.w('age');
      break;
    }
    case 'query':
      if (step.fd !== undefined) { f.r(`fd:${X}`); const F = fileOfFd(step.fd); if (F) f.r(`file:${F}`); } else {
        f.r(`mm:${X}`, `vol:${X}`);
        if (sp) for (const F of filesIn(sp.s, sp.e)) f.r(`file:${F}`);
        if (sp && vis.madv) f.r(...pageObjects(p, [[sp.s, sp.e]])); // volatile: the frame is marked
      }
      break;
    case 'fork': {
      const C = step.child;
      const child = m.byName(C);
      f.r(`mm:${X}`, `vol:${X}`, `fd:${X}`).w('pid', `proc:${C}`, `end:${C}`, `mm:${C}`, `vol:${C}`, `fd:${C}`, `xchg:${C}`);
      for (const F of held(p)) f.gain(F);
      f.a(...ownFrames(p)); // each private page gains a mapper
      if (child.spec.steps.length === 0) f.w(...held(p).map((F) => `file:${F}`)).a('frames'); // it ends at once
      break;
    }
    case 'exit': case 'crash': mayEnd = true; break;
  }
  return mayEnd ? endFootprint(m, p, f) : f;
}

/** A read or write of one page (not when frames are short); true if it may end its process. */
function accessFootprint(m: StepModel, vis: Visibility, p: Proc, step: ProcessStep & { op: 'read' | 'write' }, f: Fp): boolean {
  const X = p.spec.name;
  f.w(`mm:${X}`);
  const v = m.vpage(p, step.map, step.page);
  const vma = m.vmaAt(p, v);
  if (!vma) return true; // SIGSEGV
  if (vma.file) (step.op === 'write' && vma.share === 'shared' ? f.w(`file:${vma.file.name}`) : f.r(`file:${vma.file.name}`));
  // A write to a private page shared copy-on-write reads its mapper count: written in place by its only mapper, else copied.
  if (step.op === 'write') f.a('frames').r(...ownFrames(p, v, v + 1));
  // madv-free: which mapper keeps a marked frame after a copy-on-write shows (the other gets a new, unmarked page).
  if (step.op === 'write' && vis.madv) f.w(...ownFrames(p, v, v + 1, 'page'));
  if (vis.lru) f.w('lru');
  if (vis.sigbus) f.r(`vol:${X}`);
  return m.sigbus(p, vma, v)?.end !== undefined; // SIGBUS that kills, as the page is now
}

function kernelFootprint(m: StepModel, sc: Scenario, vis: Visibility, f: Fp): Footprint {
  const step: KernelStep | undefined = sc.kernel[m.kernelNext];
  if (!step) return f;
  switch (step.op) {
    case 'wait': return f.r(`sig:${step.name}`);
    case 'signal': return f.w(`sig:${step.name}`);
    case 'waitpid': return f.r(`end:${step.process}`);
    case 'kill': {
      const v = m.byName(step.process);
      f.r(`end:${step.process}`);
      if (v.state !== 'running') return f;
      const next = v.spec.steps[v.next];
      if (next?.op === 'wait') f.r(`sig:${next.name}`);
      if (next?.op === 'waitpid') f.r(`end:${next.process}`);
      return endFootprint(m, v, f);
    }
    case 'check': {
      if (step.framesUsed !== undefined || step.framesFree !== undefined) f.r('frames');
      for (const X of Object.keys(step.processes ?? {})) f.r(`end:${X}`);
      for (const F of Object.keys(step.files ?? {})) f.holders(F).r(`file:${F}`);
      return f;
    }
    case 'reclaim': {
      // Prepare: every mm's answers (its ranges, its resident pages, the file pages it maps) are kept.
      // An mm with no ranges answers nothing, whatever its pages; the candidates are the frames in use now.
      f.r('frames');
      // madv-free: every mm answers its resident pages whose frame is marked.
      if (vis.madv) for (const p of m.running()) f.r(`mm:${p.spec.name}`, ...ownFrames(p, -Infinity, Infinity, 'page'));
      for (const p of m.running()) {
        f.r(`vol:${p.spec.name}`);
        if (p.ranges.length > 0) f.r(`mm:${p.spec.name}`, ...p.vmas.flatMap((v) => (v.file && v.share === 'shared' ? [`file:${v.file.name}`] : [])));
      }
      for (const p of sc.processes) f.w(`xchg:${p.name}`);
      return f;
    }
  }
}

/** Commit: decide and purge with the answers (any mm, any file page, the frames), then run the held steps. */
function commitFootprint(m: StepModel, sc: Scenario, vis: Visibility): Footprint {
  const f = new Fp().w(`proc:${KERNEL_ACTION}`).a('frames');
  for (const p of sc.processes) f.w(`xchg:${p.name}`).r(`end:${p.name}`);
  for (const p of m.running()) f.w(`mm:${p.spec.name}`, `vol:${p.spec.name}`, ...ownFrames(p, -Infinity, Infinity, 'page')).r(`fd:${p.spec.name}`);
  for (const file of m.files) f.w(`file:${file.name}`).holders(file.name);
  if (vis.age) f.r('age');
  if (vis.lru) f.w('lru');
  for (const p of m.running()) {
    const fl = p.inflight;
    if (fl?.why !== 'held') continue;
    const step = p.spec.steps[fl.index]!;
    const mine = stepFootprint(m, vis, { ...p, next: fl.index } as Proc, step, new Fp().w(`proc:${p.spec.name}`));
    f.merge(mine);
    // A held step that may end its process: its end counts too (its own footprint says so).
  }
  return f;
}
