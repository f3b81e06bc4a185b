// `vrange check HISTORY`: an offline checker of a run's history (docs/history-format.md).
//
// It does not trust the kernel's own verdict or its `violation` lines. It rebuilds, from the steps
// and their results alone, what each process mapped, which pages each process and each file had
// volatile, and what was last written where, and then checks the history against the spec
// (../shared/spec/scenario-format.md), in the manner of Jepsen's checkers. The checks, each with
// what it asserts, are listed in check_result.ts (CHECKS).
//
// Each violation names the history lines (1-based) that show it. Every line is first validated
// against its kind's schema (history.ts, EVENT_SCHEMAS): parseHistory refuses a line that fails
// (HistoryFormatError: exit 2), so the checks below only ever see typed events.
//
// Split by mechanism: history_parse.ts reads a history file, check_model.ts holds the checker's own
// view of the run, check_result.ts names the checks, check_final.ts judges the end, check_lazyfree.ts
// madv-free and check_concurrent.ts overlapping steps; this file replays the events and runs the checks.

import { spanOf } from '../shared/spans.js';
import { readAfterSubPageWrite } from '../shared/page_bytes.js';
import { RUN_DEFAULTS } from '../shared/run_config.js';
import type { StepResult } from '../shared/scenario-types.js';
import { decisionRun, eventProblem, purgeNotifyPages, type AnyStep, type EventOf, type HistoryEvent } from '../coordinator/history.js';
import { keysIn, PageSet } from './pageset.js';
import { newCell, PageTable, SharedCells, spanPages, type Cell, type FState, type Kind, type PState, type Pte } from './check_model.js';
import { CHECKS, violationsMax, type CheckName, type CheckResult, type Violation } from './check_result.js';
import { lazyfreeChecks } from './check_lazyfree.js';
import { finalState } from './check_final.js';
import { Overlaps } from './check_concurrent.js';

export { CHECKS, formatCheck, violationsMax, type CheckName, type CheckResult, type Violation } from './check_result.js';
export { HistoryFormatError, parseHistory } from './history_parse.js';

/** An event of a history being checked, with the line it came from. */
type Line<E = HistoryEvent> = E & { line: number };

/** Checks a history held in memory: each entry is first validated as an event (eventProblem). */
export function checkHistory(input: readonly unknown[]): CheckResult {
  const violations: Violation[] = [];
  const checked = Object.fromEntries(CHECKS.map((c) => [c, 0])) as Record<CheckName, number>;
  const flag = (check: CheckName, text: string, lines: number[]) => {
    if (violations.length < violationsMax) violations.push({ check, text, lines: [...new Set(lines.filter((l) => l > 0))].sort((a, b) => a - b) });
  };
  // Events not of the documented shape (parseHistory refuses them; a history built in memory, as
  // explore's, may still have one): named and left out, so the checks below see only typed events.
  const events: Line[] = [];
  let lastSeq = -1;
  input.forEach((raw, i) => {
    const e = raw as { line?: unknown; seq?: unknown } | null;
    const line = typeof e?.line === 'number' ? e.line : i + 1;
    const seq = e?.seq;
    if (seq !== lastSeq + 1) flag('well-formed', `seq ${String(seq)} follows seq ${lastSeq}`, [line]);
    lastSeq = typeof seq === 'number' ? seq : lastSeq + 1;
    const problem = eventProblem(e);
    if (problem) flag('well-formed', `line ${line}: ${problem}`, [line]);
    else events.push({ ...(raw as HistoryEvent), line }); // of the documented shape: eventProblem said so
  });

  const boot = events[0];
  if (!boot || boot.kind !== 'boot') flag('well-formed', 'the first event is not `boot`', [boot?.line ?? 0]);
  const policy = String(boot?.policy ?? RUN_DEFAULTS.policy);
  const access = String(boot?.access ?? RUN_DEFAULTS.access);
  const madvFree = policy === 'madv-free'; // MADV_FREE: marks per page, a freed page reads "", never SIGBUS (check_lazyfree.ts)
  const files = new Map<string, FState>();
  const fileCells = new SharedCells();
  for (const f of (boot?.kind === 'boot' ? boot.files : [])) {
    files.set(f.name, { vol: new PageSet(), mustReport: new Map(), mayReport: new Set(), kind: f.kind });
  }
  const fileOf = (name: string) => {
    let f = files.get(name);
    if (!f) files.set(name, (f = { vol: new PageSet(), mustReport: new Map(), mayReport: new Set(), kind: 'tmpfs' }));
    return f;
  };
  const fileCell = (file: string, page: number) => fileCells.get(file, page);
  const shmCells = new SharedCells();
  const shmCell = (shm: string, page: number) => shmCells.get(shm, page);
  const procs = new Map<string, PState>();
  const byPid = new Map<number, PState>();

  const cellOf = (p: PState, v: number): Cell | undefined => {
    const pte = p.pt.get(v);
    if (!pte) return undefined;
    if (pte.own) return pte.own;
    if (pte.kind === 'shmem') return shmCell(pte.shm!, pte.fpage);
    return fileCell(pte.file!, pte.fpage);
  };
  /** Whether anything marks this cell volatile right now (any mm that maps it, or its file's range). */
  const volatileNow = (p: PState, v: number): boolean => {
    const pte = p.pt.get(v);
    if (!pte) return false;
    if (pte.own) return p.mmVol.has(v);
    if (pte.kind !== 'shmem' && files.get(pte.file!)?.vol.has(pte.fpage)) return true;
    // Any live mm that has this same shared page (not its own copy) volatile: found through the
    // mappings of that shm object or file page, never by walking every volatile page.
    for (const q of procs.values()) {
      if (q.cleanedAt) continue;
      for (const m of q.pt.mappings) {
        if (pte.kind === 'shmem' ? m.shm !== pte.shm : (m.kind !== 'file-shared' && m.kind !== 'file-private') || m.file !== pte.file) continue;
        if (pte.fpage < m.offset || pte.fpage >= m.offset + m.pages) continue;
        const w = m.start + (pte.fpage - m.offset);
        if (q.mmVol.has(w) && !q.pt.own.has(w)) return true;
      }
    }
    return false;
  };
  /** Where `vrange` on this page stores its mark under the run's policy (scenario-format.md, Policies). */
  const markTarget = (pte: Pte): 'mm' | 'file' => (pte.kind === 'file-shared' && policy === 'shared-file' ? 'file' : 'mm');

  /** The pages [s, e) are no longer mapped: their cells and marks go (O(what is held), not O(e - s)). */
  const dropPages = (p: PState, s: number, e: number) => {
    p.pt.unmap(s, e);
    p.mmVol.delete(s, e);
    for (const v of keysIn(p.mayReport, s, e)) p.mayReport.delete(v);
    for (const v of keysIn(p.mustReport, s, e)) p.mustReport.delete(v);
  };

  const overlaps = new Overlaps();
  const overlapping = (p: PState, key: string, st: AnyStep, line: number) => { // a read or write of a page others may write too begins
    const m = p.maps.get(String(st.map));
    const c = m && !p.pt.get(m.start + Number(st.page))?.own ? cellOf(p, m.start + Number(st.page)) : undefined;
    if (c) { if (st.op === 'write') overlaps.writeInvoked(key, c, st.offset === undefined ? String(st.value) : undefined, line); else overlaps.readInvoked(key, c); }
  };
  const lazyfree = lazyfreeChecks({ procs, cellOf, flag, checked, lockstep: boot?.kind === 'boot' && boot.schedule === 'lockstep', markedInFlight: (q, v) => mmMarkedInFlight(q, v) });
  const invokes = new Map<string, { line: number; step: AnyStep }>();
  // A volatile mark takes effect somewhere between its invoke and its complete (the kernel may see it,
  // and purge, before the step reports): pages under a mark in flight may be purged too.
  // Each mark in flight as spans: [process, vpage start, end) and [file, file page start, end).
  type Marks = { mm: Array<[PState, number, number]>; file: Array<[string, number, number]> };
  const inFlightMarks = new Map<string, Marks>();
  const markedInFlight = (test: (m: Marks) => boolean) => [...inFlightMarks.values()].some(test);
  const mmMarkedInFlight = (q: PState, v: number) => markedInFlight((m) => m.mm.some(([r, s, e]) => r === q && v >= s && v < e));
  const fileMarkedInFlight = (file: string, fp: number) => markedInFlight((m) => m.file.some(([x, s, e]) => x === file && fp >= s && fp < e));
  const stepsDone = new Set<string>();
  /** Per process (and `kernel`): the next step index it may invoke, the step in flight, its last completion. */
  const nextIndex = new Map<string, number>();
  const inFlightStep = new Map<string, number>();
  const lastDone = new Map<string, { index: number; op: string; result: StepResult; line: number }>();
  const finals: Array<Line<EventOf<'final'>>> = [];
  /** Events that explain a process's death by SIGKILL (a kill step, the OOM killer, a fault, a bad remote agent). */
  const killedBy = new Set<string>();
  let deadlocked = false;
  /** Names a `signal` step has raised (from its invoke on): a `wait` on one completes only after it. */
  const signalled = new Set<string>();
  /** Each cleanup so far, by process: a `waitpid` returns only after it, with its exit code or signal. */
  const cleanedUp = new Map<string, { line: number; exitCode?: unknown; signal?: unknown }>();
  const cleanups = new Map<string, number[]>();
  const deathsSeen = new Map<string, number>();

  const deadMention = (name: unknown, e: { line: number; kind: string }, what: string) => {
    const p = typeof name === 'string' ? procs.get(name) : undefined;
    if (p && p.cleanedAt) {
      checked['dead-hold-nothing']++;
      flag('dead-hold-nothing', `${p.name} ${what} after its cleanup`, [p.cleanedAt, e.line]);
    }
  };

  const held = { cells: 0, intervals: 0 };
  const measure = () => {
    const f = fileCells.size();
    const sh = shmCells.size();
    let cells = f.cells + sh.cells;
    let intervals = f.pieces + sh.pieces;
    for (const q of procs.values()) { cells += q.pt.own.size + q.mustReport.size + q.mayReport.size; intervals += q.mmVol.pieces + q.pt.taint.pieces + q.pt.mappings.length; }
    for (const x of files.values()) { cells += x.mustReport.size + x.mayReport.size; intervals += x.vol.pieces; }
    for (const m of inFlightMarks.values()) intervals += m.mm.length + m.file.length;
    held.cells = Math.max(held.cells, cells);
    held.intervals = Math.max(held.intervals, intervals);
  };

  for (const e of events) {
    measure();
    if (e.kind === 'boot' && e !== events[0]) flag('well-formed', 'a second `boot` event: a history is one run', [e.line]);
    switch (e.kind) {
      case 'birth': {
        const name = String(e.process);
        if (procs.has(name)) flag('well-formed', `${name} was born twice`, [e.line]);
        const parent = typeof e.parent === 'string' ? procs.get(e.parent) : undefined;
        if (typeof e.parent === 'string') deadMention(e.parent, e, 'forked a child');
        const p: PState = { name, pid: Number(e.pid), cleanedAt: 0, fds: new Map(parent?.fds), maps: new Map(parent?.maps), pt: parent ? parent.pt.clone() : new PageTable(),
          mmVol: parent ? parent.mmVol.clone() : new PageSet(), mustReport: new Map(), mayReport: new Set(parent?.mayReport) };
        procs.set(name, p);
        byPid.set(p.pid, p);
        break;
      }
      case 'invoke': {
        const key = `${e.process}#${e.index}`;
        if (invokes.has(key) || stepsDone.has(key)) flag('well-formed', `${e.process} step ${e.index} invoked twice`, [invokes.get(key)?.line ?? 0, e.line]);
        invokes.set(key, { line: e.line, step: e.step });
        if (e.step.op === 'signal') signalled.add(String(e.step.name));
        {
          const who = String(e.process);
          const index = Number(e.index);
          const want = nextIndex.get(who) ?? 0;
          if (who !== 'kernel' && !procs.has(who)) flag('well-formed', `${who} step ${index} invoked before any birth of ${who}`, [e.line]);
          if (inFlightStep.has(who)) flag('well-formed', `${who} step ${index} invoked while its step ${inFlightStep.get(who)} is still in flight (a process runs one step at a time)`, [e.line]);
          else if (index > want) flag('well-formed', `${who} step ${index} invoked, but its next step is ${want}: step${index - want > 1 ? `s ${want}-${index - 1}` : ` ${want}`} left no events`, [e.line]);
          else if (index < want && !invokes.has(key)) flag('well-formed', `${who} step ${index} invoked after its step ${want - 1} (steps out of order)`, [e.line]);
          inFlightStep.set(who, index);
          nextIndex.set(who, Math.max(want, index + 1));
        }
        deadMention(e.process, e, `invoked step ${e.index}`);
        const st = e.step;
        const p = procs.get(String(e.process));
        if (p && (st.op === 'read' || st.op === 'write')) overlapping(p, key, st, e.line);
        if (p && st && (st.op === 'vrange' || st.op === 'fvrange') && st.mode === 'volatile') {
          const span = spanOf(st);
          const marks: Marks = { mm: [], file: [] };
          if (!('errno' in span)) {
            if (st.op === 'fvrange') {
              const file = p.fds.get(String(st.fd));
              if (file) marks.file.push([file, span.start, span.start + span.pages]);
            } else {
              const m = p.maps.get(String(st.map));
              if (m) {
                for (const [pm, a, b] of p.pt.piecesIn(m.start + span.start, m.start + span.start + span.pages)) {
                  if (markTarget({ kind: pm.kind, fpage: 0 }) === 'file') marks.file.push([pm.file!, pm.offset + (a - pm.start), pm.offset + (b - pm.start)]);
                  else marks.mm.push([p, a, b]);
                }
              }
            }
          }
          inFlightMarks.set(key, marks);
        }
        break;
      }
      case 'complete': {
        const key = `${e.process}#${e.index}`;
        const inv = invokes.get(key);
        if (!inv) { flag('well-formed', `${e.process} step ${e.index} completed without an invoke`, [e.line]); break; }
        invokes.delete(key);
        inFlightMarks.delete(key);
        if (stepsDone.has(key)) flag('well-formed', `${e.process} step ${e.index} completed twice`, [e.line]);
        stepsDone.add(key);
        if (inFlightStep.get(String(e.process)) === e.index) inFlightStep.delete(String(e.process));
        lastDone.set(String(e.process), { index: Number(e.index), op: String(e.op), result: e.result, line: e.line });
        if (inv.step.op !== e.op) flag('well-formed', `${e.process} step ${e.index} was invoked as ${String(inv.step.op)} but completed as ${e.op}`, [inv.line, e.line]);
        if (e.op === 'wait' && e.type === 'ok' && !signalled.has(String(inv.step.name))) {
          flag('well-formed', `${e.process} step ${e.index} (wait ${String(inv.step.name)}) returned, but no signal step raised ${String(inv.step.name)} before it: a step's events are missing?`, [inv.line, e.line]);
        }
        if (e.op === 'waitpid' && e.type === 'ok') {
          const target = String(inv.step.process);
          const c = cleanedUp.get(target);
          const r = e.result;
          if (!c) flag('well-formed', `${e.process} step ${e.index} (waitpid ${target}) returned before any cleanup of ${target}`, [inv.line, e.line]);
          else if ((r.exitCode !== undefined && r.exitCode !== c.exitCode) || (r.signal !== undefined && r.signal !== c.signal)) {
            flag('well-formed', `${e.process} step ${e.index} (waitpid ${target}) returned ${JSON.stringify(r)}, but ${target}'s cleanup says ${JSON.stringify({ exitCode: c.exitCode, signal: c.signal })}`, [c.line, e.line]);
          }
        }
        if ((e.op === 'vrange' || e.op === 'fvrange') && inv.step.mode === 'nonvolatile' && e.type === 'ok' && typeof e.result.purged !== 'boolean') {
          flag('well-formed', `${e.process} step ${e.index} (${e.op} nonvolatile) succeeded without saying purged: true or false`, [e.line]);
        }
        if (e.process === 'kernel') break;
        const p = procs.get(String(e.process));
        if (!p) { flag('well-formed', `step of ${e.process}, a process never born`, [e.line]); break; }
        if (p.cleanedAt) { deadMention(p.name, e, `completed step ${e.index}`); break; }
        completeStep(p, inv.step, e, inv.line);
        overlaps.completed(key, e.line);
        break;
      }
      case 'blocked': deadMention(e.process, e, 'blocked on a reclaim exchange'); break;
      case 'decision': decision(e); break;
      case 'purge-notify': {
        const p = procs.get(String(e.process));
        if (!p) break;
        deadMention(p.name, e, 'was told of a purge');
        for (const v of purgeNotifyPages(e)) {
          checked['purge-was-volatile']++;
          if (madvFree) continue; // the decision checked the mark and set the page's cell
          if (!p.mmVol.has(v) && !mmMarkedInFlight(p, v)) flag('purge-was-volatile', `${p.name} was told its page ${v} was purged, but it had not marked that page volatile`, [e.line]);
          p.mustReport.set(v, e.line);
          p.mayReport.add(v);
          const own = p.pt.get(v)?.own;
          if (own) { own.purged = e.line; own.tainted = true; }
          else { const c = cellOf(p, v); if (c) { c.purged = e.line; c.tainted = true; } }
        }
        break;
      }
      case 'file-nonvolatile': {
        const f = fileOf(String(e.file));
        const start = Number(e.start);
        const end = start + Number(e.pages);
        const reported = keysIn(f.mustReport, start, end).map((fp) => [fp, f.mustReport.get(fp)!] as const);
        const may = keysIn(f.mayReport, start, end).length > 0;
        checked['purged-backed']++;
        checked['purge-reported']++;
        if (e.purged === true && !may) flag('purged-backed', `file ${e.file} pages ${start}-${end - 1} reported purged, but no page there was purged while volatile`, [e.line]);
        if (e.purged !== true && reported.length > 0) {
          flag('purge-reported', `file ${e.file} page ${reported[0]![0]} was purged while volatile, but the next nonvolatile there (by ${e.by}) reported purged: false`, [reported[0]![1], e.line]);
        }
        f.vol.delete(start, end);
        for (const [fp] of reported) f.mustReport.delete(fp);
        for (const fp of keysIn(f.mayReport, start, end)) f.mayReport.delete(fp);
        for (const c of fileCells.existing(String(e.file), start, end)) c.purged = 0;
        break;
      }
      case 'cleanup': {
        const name = String(e.process);
        const list = cleanups.get(name) ?? [];
        list.push(e.line);
        cleanups.set(name, list);
        if (!cleanedUp.has(name)) cleanedUp.set(name, { line: e.line, exitCode: e.exitCode, signal: e.signal });
        // The death interrupted a step (in flight, or asleep in a wait): that step completed with the signal.
        if (typeof e.interrupted === 'number') {
          const end = lastDone.get(name);
          if (!end || end.index !== e.interrupted || typeof end.result.signal !== 'string') {
            flag('well-formed', `${name}'s cleanup says its death interrupted step ${e.interrupted}, but the history has no result of that step with the signal${end ? ` (the last result is of step ${end.index})` : ''}`,
              [...(end ? [end.line] : []), e.line]);
          }
        }
        const p = procs.get(name);
        if (p && !p.cleanedAt) {
          p.cleanedAt = e.line;
          p.pt = new PageTable();
          p.mmVol.clear(); p.mustReport.clear(); p.mayReport.clear();
          p.fds.clear(); p.maps.clear();
        }
        break;
      }
      case 'fault': if (String(e.as).startsWith('kill')) killedBy.add(String(e.process)); break;
      case 'bad-message': case 'heartbeat-lost': if (typeof e.process === 'string') killedBy.add(e.process); break;
      case 'stuck': deadlocked = true; break;
      case 'oom-kill': case 'kill': killedBy.add(String(e.process)); deathsSeen.set(String(e.process), e.line); deadMention(e.process, e, `was chosen by ${e.kind}`); break;
      case 'final-release': {
        const f = fileOf(String(e.file));
        f.vol.clear(); f.mustReport.clear(); f.mayReport.clear();
        // An ashmem (or shmem) file's pages are destroyed: a later mapping starts empty.
        if (e.fileKind !== 'tmpfs') fileCells.reset(String(e.file));
        break;
      }
      case 'final': finals.push(e); finalState({ flag, checked, procs, cleanups, deathsSeen }, e); break;
      default: break;
    }
  }
  const last = events[events.length - 1];
  if (!last || last.kind !== 'verdict') flag('well-formed', 'the last event is not `verdict` (a history cut short?)', [last?.line ?? 0]);
  for (const [key, inv] of invokes) flag('well-formed', `step ${key.replace('#', ' step ')} was invoked but never completed`, [inv.line]);
  programsRan(last);
  for (const [name, lines] of cleanups) {
    checked['death-cleaned']++;
    if (lines.length > 1) flag('death-cleaned', `${name} was cleaned up ${lines.length} times`, lines);
  }
  checked['well-formed'] = events.length;
  measure();
  return { ok: violations.length === 0, events: events.length, violations, checked, held };

  // ------------------------------------------------------------ every step of every program left events

  function programsRan(last: Line | undefined): void {
    if (finals.length === 0) { flag('well-formed', 'no `final` event: the history lost the end of the run', [last?.line ?? 0]); return; }
    if (finals.length > 1) flag('well-formed', `${finals.length} \`final\` events; a run has one`, finals.map((f) => f.line));
    const fin = finals[finals.length - 1]!;
    if (last && last.kind === 'verdict' && events[events.length - 2] !== fin) flag('well-formed', 'the `final` event is not just before the `verdict`', [fin.line, last.line]);
    const verdictSaysIncomplete = last?.kind === 'verdict' && last.invariants.some((i) => i.name === 'run-completed' && !i.ok);
    const listed = new Set<string>();
    const ran = (who: string, steps: number, state: string | undefined) => {
      const done = nextIndex.get(who) ?? 0;
      const end = lastDone.get(who);
      const label = who === 'kernel' ? 'the kernel list' : who;
      if (done > steps) { flag('well-formed', `${label} has ${steps} step(s), but the history shows step ${done - 1}`, [fin.line]); return; }
      if (verdictSaysIncomplete || state === 'running') return;
      if (state === 'killed') {
        // A death has a cause in the history: the signal its last step got, or a kill of it.
        const signal = cleanups.has(who) ? events.find((x) => x.line === cleanups.get(who)![0])?.signal : undefined;
        const stepSignal = end?.result.signal;
        const explained = (typeof stepSignal === 'string' && (signal === undefined || signal === stepSignal)) || killedBy.has(who) || deadlocked;
        if (!explained) {
          flag('well-formed', `${who} was killed${typeof signal === 'string' ? ` by ${signal}` : ''}, but no step result, kill, OOM kill or fault in the history explains it (after ${done} of its ${steps} step(s): a step's events are missing?)`,
            [end?.line ?? 0, cleanups.get(who)?.[0] ?? 0, fin.line]);
        }
        return;
      }
      if (done === steps) return;
      // Fewer steps than the program: only a step that ends it (exit, crash) or a deadlock stops it early.
      if (end && (end.op === 'exit' || end.op === 'crash' || end.result.stuck === true || typeof end.result.signal === 'string')) return;
      flag('well-formed', `${label} ran ${done} of its ${steps} step(s) and ${who === 'kernel' ? 'stopped' : `ended ${state}`} with no step that ends it: step${steps - done > 1 ? `s ${done}-${steps - 1}` : ` ${done}`} left no events`,
        [end?.line ?? 0, fin.line]);
    };
    for (const q of fin.processes) {
      listed.add(q.process);
      if (!procs.has(q.process)) { flag('well-formed', `the \`final\` event lists ${q.process}, which has no \`birth\``, [fin.line]); continue; }
      ran(q.process, q.steps, q.state);
    }
    for (const p of procs.values()) if (!listed.has(p.name)) flag('well-formed', `${p.name} was born but the \`final\` event does not list it`, [fin.line]);
    ran('kernel', Number(fin.kernelSteps), undefined);
  }

  // ------------------------------------------------------------ one completed step

  function completeStep(p: PState, step: AnyStep, e: Line<EventOf<'complete'>>, invokeLine: number): void {
    const result = e.result ?? {};
    const op = String(step.op);
    const page = (map: unknown, i: unknown) => {
      const m = p.maps.get(String(map));
      return m ? m.start + Number(i) : undefined;
    };
    if (result.signal === 'SIGBUS') {
      checked['sigbus-on-purged']++;
      const v = page(step.map, step.page);
      const c = v === undefined ? undefined : cellOf(p, v);
      const why = madvFree ? 'under madv-free a freed page reads "" and nothing raises SIGBUS'
        : access === 'zero' ? 'access is zero, where a purged page reads "" and never raises SIGBUS'
        : v === undefined ? 'the step names no mapping' : 'no purge took that page while it was volatile';
      if (madvFree || access === 'zero' || v === undefined || !c || (!c.purged && !p.mustReport.has(v) && !p.mayReport.has(v))) {
        flag('sigbus-on-purged', `${p.name} step ${e.index} (${op} ${step.map} page ${step.page}) got SIGBUS, but ${why}`, [invokeLine, e.line]);
      }
      return;
    }
    if (e.type === 'info') {
      // Cut off by a kill: its effect is unknown. A write may or may not have landed.
      if (op === 'write') { const v = page(step.map, step.page); const c = v === undefined ? undefined : cellOf(p, v); if (c) { c.value = undefined; c.line = e.line; } }
      return;
    }
    if (madvFree && op === 'vrange' && step.mode === 'volatile') {
      // MADV_FREE marks even when it fails: a gap (ENOMEM) or a VMA not anonymous (EINVAL) after marked ones.
      const span = spanPages(e.detail);
      if (span) lazyfree.mark(p, span[0], span[1]);
      return;
    }
    if (result.ok !== true) return;
    switch (op) {
      case 'open': p.fds.set(String(step.fd ?? step.file), String(step.file)); break;
      case 'close': p.fds.delete(String(step.fd)); break;
      case 'mmap': {
        const start = Number(result.addr) / 4096;
        const pages = Number(step.pages);
        const file = step.fd !== undefined ? p.fds.get(String(step.fd)) : undefined;
        const share = step.share ?? (step.fd !== undefined ? 'shared' : 'private');
        const kind: Kind = step.fd === undefined ? (share === 'shared' ? 'shmem' : 'anon') : (share === 'shared' ? 'file-shared' : 'file-private');
        const offset = Number(step.offset ?? 0);
        const shm = kind === 'shmem' ? `${p.name}@${e.line}` : undefined;
        dropPages(p, start, start + pages);
        p.pt.map({ start, pages, kind, file, offset: kind === 'shmem' ? 0 : offset, shm });
        p.maps.set(String(step.as), { start, pages });
        break;
      }
      case 'munmap': {
        const span = spanPages(e.detail);
        if (span) dropPages(p, span[0], span[1]);
        break;
      }
      case 'write': {
        const v = page(step.map, step.page);
        const pte = v === undefined ? undefined : p.pt.get(v);
        if (v === undefined || !pte) return;
        const base = cellOf(p, v); // a sub-page write keeps the rest: known if the page (or the file page copied) is
        const before = base && !base.tainted ? base.value : undefined;
        if (pte.kind === 'file-private' && !pte.own) p.pt.own.set(v, newCell());
        const c = cellOf(p, v)!;
        if (madvFree) p.mmVol.delete(v, v + 1); // the write dirties the pte: the free is cancelled
        c.value = step.offset === undefined ? String(step.value) : readAfterSubPageWrite(before, Number(step.offset), String(step.value));
        c.line = e.line;
        c.purged = 0;
        c.tainted = volatileNow(p, v);
        break;
      }
      case 'read': {
        const v = page(step.map, step.page);
        if (v === undefined) return;
        const c = cellOf(p, v);
        if (!c || c.tainted || c.value === undefined) return;
        checked['read-last-write']++;
        if (result.value !== c.value && !overlaps.mayRead(`${p.name}#${e.index}`, c, result.value, invokeLine, e.line)) {
          flag('read-last-write', madvFree && c.purged && c.value === ''
            ? `${p.name} step ${e.index} read ${step.map} page ${step.page} as ${JSON.stringify(result.value)}, but madv-free freed that page and nothing wrote it since (it reads "")`
            : c.line
            ? `${p.name} step ${e.index} read ${step.map} page ${step.page} as ${JSON.stringify(result.value)}, but the last write there wrote ${JSON.stringify(c.value)} and the page was not volatile since`
            : `${p.name} step ${e.index} read ${step.map} page ${step.page} as ${JSON.stringify(result.value)}, but nothing was ever written there (it reads "")`,
          [c.line, invokeLine, e.line]);
        }
        break;
      }
      case 'vrange': {
        const span = spanPages(e.detail);
        if (!span) return;
        if (step.mode === 'volatile') {
          // Per mapping piece, as intervals; only cells that exist are touched (a page's own copy
          // is tainted, not the file page behind it: that one is made first so the span's taint
          // does not reach it).
          for (const [m, a, b] of p.pt.piecesIn(span[0], span[1])) {
            const fa = m.offset + (a - m.start);
            const fb = m.offset + (b - m.start);
            if (markTarget({ kind: m.kind, fpage: 0 }) === 'file') fileOf(m.file!).vol.add(fa, fb);
            else p.mmVol.add(a, b);
            const own = keysIn(p.pt.own, a, b);
            for (const v of own) p.pt.own.get(v)!.tainted = true;
            if (m.kind === 'anon') p.pt.taint.add(a, b);
            else if (m.kind === 'shmem') shmCells.taintSpan(m.shm!, fa, fb);
            else {
              for (const v of own) fileCells.get(m.file!, m.offset + (v - m.start));
              const before = own.map((v) => fileCells.peek(m.file!, m.offset + (v - m.start))!.tainted);
              fileCells.taintSpan(m.file!, fa, fb);
              own.forEach((v, i) => { fileCells.peek(m.file!, m.offset + (v - m.start))!.tainted = before[i]!; });
            }
          }
          return;
        }
        // Nonvolatile: the pages marked in the file are checked at the kernel's file-nonvolatile event.
        let must: [number, number] | undefined;
        let may = false;
        let mmPages = 0;
        for (const [m, a, b] of p.pt.piecesIn(span[0], span[1])) {
          if (markTarget({ kind: m.kind, fpage: 0 }) === 'file') continue;
          mmPages += b - a;
          const mustHere = keysIn(p.mustReport, a, b);
          if (!must && mustHere.length > 0) must = [mustHere[0]!, p.mustReport.get(mustHere[0]!)!];
          const mayHere = keysIn(p.mayReport, a, b);
          if (mayHere.length > 0) may = true;
          p.mmVol.delete(a, b);
          for (const v of mustHere) p.mustReport.delete(v);
          for (const v of mayHere) p.mayReport.delete(v);
          for (const v of keysIn(p.pt.own, a, b)) p.pt.own.get(v)!.purged = 0;
        }
        if (mmPages === 0) return;
        checked['purged-backed']++;
        checked['purge-reported']++;
        const fileSide = p.pt.mappings.some((m) => m.start < span[1] && m.start + m.pages > span[0] && markTarget({ kind: m.kind, fpage: 0 }) === 'file');
        if (result.purged === true && !may && !fileSide) {
          flag('purged-backed', `${p.name} step ${e.index} (vrange nonvolatile ${step.map}) reported purged: true, but no page of that range was purged while volatile`, [invokeLine, e.line]);
        }
        if (result.purged !== true && must) {
          flag('purge-reported', `${p.name}'s page ${must[0]} was purged while volatile, but its next nonvolatile there (step ${e.index}) reported purged: false`, [must[1], e.line]);
        }
        return;
      }
      case 'fvrange': {
        const file = p.fds.get(String(step.fd));
        const span = spanOf(step);
        if (!file || 'errno' in span) return;
        if (step.mode === 'volatile') {
          fileOf(file).vol.add(span.start, span.start + span.pages);
          fileCells.taintSpan(file, span.start, span.start + span.pages);
        }
        return;
      }
      default: return;
    }
  }

  // ------------------------------------------------------------ a purge decision

  // A decision is about a run of pages (docs/history-format.md, Decisions by run): page k of it is
  // file page filePage + k and each vote's vpage + k; an event without `pages` is one page.
  function decision(e: Line<EventOf<'decision'>>): void {
    const votes = e.votes ?? [];
    for (const vote of votes) if (vote.process !== undefined) deadMention(vote.process, e, 'was counted as a mapper in a reclaim decision');
    if (madvFree) return lazyfree.decision(e);
    if (e.purge !== true) return;
    const { count } = decisionRun(e);
    checked['purge-was-volatile'] += count;
    const kind = String(e.pageKind);
    if (kind === 'file') {
      const file = String(e.file);
      let flagged = false;
      for (let k = 0; k < count; k++) {
        const bad = purgedFilePage(e, file, Number(e.filePage) + k);
        // One violation a run: its first page that was not volatile.
        if (bad && !flagged) { flag('purge-was-volatile', bad, [e.line]); flagged = true; }
      }
      return;
    }
    // Anonymous or shmem: every process that maps it must have it volatile in its mm.
    if (votes.length === 0) flag('purge-was-volatile', `${e.page} was purged with no mapper`, [e.line]);
    for (const vote of votes) {
      const q = vote.process !== undefined ? procs.get(vote.process) : undefined;
      if (!q || vote.vpage === undefined) { flag('well-formed', `a vote in the decision on ${e.page} names no process and vpage`, [e.line]); continue; }
      let flagged = false;
      for (let v = vote.vpage; v < vote.vpage + count; v++) {
        if (!flagged && !q.mmVol.has(v) && !mmMarkedInFlight(q, v)) {
          flag('purge-was-volatile', `${e.page} was purged, but ${q.name} had page ${v} not volatile`, [e.line]);
          flagged = true;
        }
        const c = cellOf(q, v);
        if (c) { c.tainted = true; c.purged = e.line; }
      }
    }
  }

  /** A purge of file page `fp`: records it; why it was not allowed, or undefined when it was. */
  function purgedFilePage(e: Line<EventOf<'decision'>>, file: string, fp: number): string | undefined {
    const f = fileOf(file);
    const fileVol = f.vol.has(fp) || fileMarkedInFlight(file, fp);
    // Every process that maps this file page, as the checker saw the mmaps (not as the kernel says).
    const mappers: Array<[PState, number, Pte]> = [];
    for (const q of procs.values()) {
      if (q.cleanedAt) continue;
      for (const [v, pte] of q.pt.mappersOf(file, fp)) mappers.push([q, v, pte]);
    }
    let ok = fileVol;
    if (!ok && policy === 'per-mm') {
      ok = mappers.length > 0 && mappers.every(([q, v, pte]) => pte.kind === 'file-shared'
        && (q.mmVol.has(v) || mmMarkedInFlight(q, v)));
    }
    const c = fileCell(file, fp);
    c.tainted = true;
    c.purged = e.line;
    // Certain only when the mark had completed; a mark in flight may or may not have been applied.
    if (f.vol.has(fp)) f.mustReport.set(fp, e.line);
    if (fileVol) f.mayReport.add(fp);
    if (ok) return undefined;
    return `${file} page ${fp} was purged (rule ${e.rule}), but neither the file's range${policy === 'per-mm' ? ' nor every mapper (' + mappers.map(([q, v]) => `${q.name}@${v}${q.mmVol.has(v) ? '' : ' not volatile'}`).join(', ') + ')' : ''} had it volatile`;
  }
}
