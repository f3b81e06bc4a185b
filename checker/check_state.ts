// The offline checker's state while it replays a history (checker/check.ts): the findings, the
// checker's view of the run (check_model.ts: processes, files, the cells of shared pages), the
// marks in flight, and the bookkeeping of the steps' order. The files that replay events
// (check_order.ts, check_steps.ts, check_purge.ts, check_fork.ts) share it; it owns no check, only
// the questions they all ask of the view (which cell a page is, whether it is volatile now).

import { RUN_DEFAULTS } from '../shared/run_config.js';
import type { StepResult } from '../shared/scenario-types.js';
import type { AnyStep, EventOf, HistoryEvent } from '../coordinator/history.js';
import { keysIn, PageSet } from './pageset.js';
import { SharedCells, type Cell, type FState, type PState, type Pte } from './check_model.js';
import { CHECKS, violationsMax, type CheckName, type Violation } from './check_result.js';
import { lazyfreeChecks } from './check_lazyfree.js';
import { Overlaps } from './check_concurrent.js';
import { procNamed, type ForkView } from './check_fork.js';

/** An event of a history being checked, with the line it came from. */
export type Line<E = HistoryEvent> = E & { line: number };
/** A volatile mark in flight, as spans: [process, vpage start, end) and [file, file page start, end). */
export type Marks = { mm: Array<[PState, number, number]>; file: Array<[string, number, number]> };

export class CheckState {
  readonly violations: Violation[] = [];
  readonly checked = Object.fromEntries(CHECKS.map((c) => [c, 0])) as Record<CheckName, number>;
  policy: string = RUN_DEFAULTS.policy;
  access: string = RUN_DEFAULTS.access;
  /** MADV_FREE: marks per page, a freed page reads "", never SIGBUS (check_lazyfree.ts). */
  madvFree = false;
  readonly files = new Map<string, FState>();
  readonly fileCells = new SharedCells();
  readonly shmCells = new SharedCells();
  /** Every process the checker has a view of: born, or forked and named by the kernel before its birth (check_fork.ts). */
  readonly procs = new Map<string, PState>();
  readonly overlaps = new Overlaps();
  /** madv-free's marks and decisions (check_lazyfree.ts), made at `boot()`. */
  lazyfree!: ReturnType<typeof lazyfreeChecks>;
  /** The marks of volatile `vrange`/`fvrange` steps in flight, by step key: the kernel may see them, and purge, before they report. */
  readonly inFlightMarks = new Map<string, Marks>();

  // ---- forks (check_fork.ts)
  /** A fork step of a child not born yet: child -> its parent and the step. */
  readonly pendingForks = new Map<string, { parent: string; index: number }>();
  /** A parent's view at its death, kept for the child its interrupted fork made (born after the cleanup). */
  readonly orphanViews = new Map<string, ForkView>();
  /** Children given a view before their `birth` (a kernel event named them first). */
  readonly early = new Set<string>();

  // ---- the order of steps (check_order.ts)
  readonly invokes = new Map<string, { line: number; step: AnyStep }>();
  readonly stepsDone = new Set<string>();
  /** Per process (and `kernel`): the next step index it may invoke, the step in flight, its last completion. */
  readonly nextIndex = new Map<string, number>();
  readonly inFlightStep = new Map<string, number>();
  readonly lastDone = new Map<string, { index: number; op: string; result: StepResult; line: number }>();
  readonly finals: Array<Line<EventOf<'final'>>> = [];
  /** Events that explain a process's death by SIGKILL (a kill step, the OOM killer, a fault, a bad remote agent). */
  readonly killedBy = new Set<string>();
  deadlocked = false;
  /** Names a `signal` step has raised (from its invoke on): a `wait` on one completes only after it. */
  readonly signalled = new Set<string>();
  /** Each cleanup so far, by process: a `waitpid` returns only after it, with its exit code or signal. */
  readonly cleanedUp = new Map<string, { line: number; exitCode?: unknown; signal?: unknown }>();
  readonly cleanups = new Map<string, number[]>();
  readonly deathsSeen = new Map<string, number>();
  readonly held = { cells: 0, intervals: 0 };

  /** The run's settings, from its `boot` event (called once, before any other event, with or without one). */
  boot(e: Line | undefined): void {
    this.policy = String(e?.kind === 'boot' ? e.policy : RUN_DEFAULTS.policy);
    this.access = String(e?.kind === 'boot' ? e.access : RUN_DEFAULTS.access);
    this.madvFree = this.policy === 'madv-free';
    this.lazyfree = lazyfreeChecks(this.lazyfreeContext(e?.kind === 'boot' && e.schedule === 'lockstep'));
    for (const f of (e?.kind === 'boot' ? e.files : [])) this.files.set(f.name, newFile(f.kind));
  }

  private lazyfreeContext(lockstep: boolean): Parameters<typeof lazyfreeChecks>[0] {
    return { proc: (name) => procNamed(this, name), cellOf: this.cellOf, flag: this.flag, checked: this.checked, lockstep, markedInFlight: (q, v) => this.mmMarkedInFlight(q, v) };
  }

  readonly flag = (check: CheckName, text: string, lines: number[]): void => {
    if (this.violations.length < violationsMax) this.violations.push({ check, text, lines: [...new Set(lines.filter((l) => l > 0))].sort((a, b) => a - b) });
  };

  readonly fileOf = (name: string): FState => {
    let f = this.files.get(name);
    if (!f) this.files.set(name, (f = newFile('tmpfs')));
    return f;
  };

  readonly cellOf = (p: PState, v: number): Cell | undefined => {
    const pte = p.pt.get(v);
    if (!pte) return undefined;
    if (pte.own) return pte.own;
    if (pte.kind === 'shmem') return this.shmCells.get(pte.shm!, pte.fpage);
    return this.fileCells.get(pte.file!, pte.fpage);
  };

  /** Whether anything marks this cell volatile right now (any mm that maps it, or its file's range). */
  volatileNow(p: PState, v: number): boolean {
    const pte = p.pt.get(v);
    if (!pte) return false;
    if (pte.own) return p.mmVol.has(v);
    if (pte.kind !== 'shmem' && this.files.get(pte.file!)?.vol.has(pte.fpage)) return true;
    // Any live mm that has this same shared page (not its own copy) volatile: found through the
    // mappings of that shm object or file page, never by walking every volatile page.
    for (const q of this.procs.values()) {
      if (q.cleanedAt) continue;
      for (const m of q.pt.mappings) {
        if (pte.kind === 'shmem' ? m.shm !== pte.shm : (m.kind !== 'file-shared' && m.kind !== 'file-private') || m.file !== pte.file) continue;
        if (pte.fpage < m.offset || pte.fpage >= m.offset + m.pages) continue;
        const w = m.start + (pte.fpage - m.offset);
        if (q.mmVol.has(w) && !q.pt.own.has(w)) return true;
      }
    }
    return false;
  }

  /** Where `vrange` on this page stores its mark under the run's policy (scenario-format.md, Policies). */
  markTarget(pte: Pick<Pte, 'kind'>): 'mm' | 'file' { return pte.kind === 'file-shared' && this.policy === 'shared-file' ? 'file' : 'mm'; }

  /** The pages [s, e) are no longer mapped: their cells and marks go (O(what is held), not O(e - s)). */
  dropPages(p: PState, s: number, e: number): void {
    p.pt.unmap(s, e);
    p.mmVol.delete(s, e);
    for (const v of keysIn(p.mayReport, s, e)) p.mayReport.delete(v);
    for (const v of keysIn(p.mustReport, s, e)) p.mustReport.delete(v);
  }

  private markedInFlight(test: (m: Marks) => boolean): boolean { return [...this.inFlightMarks.values()].some(test); }
  mmMarkedInFlight(q: PState, v: number): boolean { return this.markedInFlight((m) => m.mm.some(([r, s, e]) => r === q && v >= s && v < e)); }
  fileMarkedInFlight(file: string, fp: number): boolean { return this.markedInFlight((m) => m.file.some(([x, s, e]) => x === file && fp >= s && fp < e)); }

  /** A process named after its cleanup: a violation of dead-hold-nothing. */
  deadMention(name: unknown, e: { line: number; kind: string }, what: string): void {
    const p = typeof name === 'string' ? this.procs.get(name) : undefined;
    if (p && p.cleanedAt) {
      this.checked['dead-hold-nothing']++;
      this.flag('dead-hold-nothing', `${p.name} ${what} after its cleanup`, [p.cleanedAt, e.line]);
    }
  }

  /** Records the most state held so far (CheckResult.held). */
  measure(): void {
    const f = this.fileCells.size();
    const sh = this.shmCells.size();
    let cells = f.cells + sh.cells;
    let intervals = f.pieces + sh.pieces;
    for (const q of this.procs.values()) { cells += q.pt.own.size + q.mustReport.size + q.mayReport.size; intervals += q.mmVol.pieces + q.pt.taint.pieces + q.pt.mappings.length; }
    for (const x of this.files.values()) { cells += x.mustReport.size + x.mayReport.size; intervals += x.vol.pieces; }
    for (const m of this.inFlightMarks.values()) intervals += m.mm.length + m.file.length;
    this.held.cells = Math.max(this.held.cells, cells);
    this.held.intervals = Math.max(this.held.intervals, intervals);
  }
}

const newFile = (kind: string): FState => ({ vol: new PageSet(), mustReport: new Map(), mayReport: new Set(), kind });
