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
// Split by mechanism, one job a file: history_parse.ts reads a history file; check_state.ts holds
// what the replay knows (check_model.ts the checker's view of the run); this file replays the events
// and hands each to its file: check_order.ts the order of steps and deaths (well-formed),
// check_steps.ts what a step does and shows, check_purge.ts decisions and purge reports,
// check_fork.ts forks and births, check_final.ts the end, check_lazyfree.ts madv-free,
// check_concurrent.ts overlapping steps; check_result.ts names the checks.

import type { HistoryEvent } from '../coordinator/history.js';
import { CheckState, type Line } from './check_state.js';
import type { CheckResult } from './check_result.js';
import { finalState } from './check_final.js';
import { birth } from './check_fork.js';
import { cleanup, completed, invoked, programsRan } from './check_order.js';
import { decision, fileNonvolatile, purgeNotify } from './check_purge.js';
import { eventProblem } from '../coordinator/history.js';

/** In a history before format 2, an event of the kernel list (or a choice of the kernel's) as format 2 marks it. */
function markKernelEvent(e: HistoryEvent): void {
  const x = e as { kind: string; process?: unknown; choice?: unknown; kernel?: true };
  if (x.kind === 'schedule' ? x.choice === 'kernel' || x.choice === 'commit'
    : ['invoke', 'complete', 'stuck', 'expectation-failed'].includes(x.kind) && x.process === 'kernel') x.kernel = true;
}

export { CHECKS, formatCheck, violationsMax, type CheckName, type CheckResult, type Violation } from './check_result.js';
export { HistoryFormatError, parseHistory } from './history_parse.js';

/** Checks a history held in memory: each entry is first validated as an event (eventProblem). */
export function checkHistory(input: readonly unknown[]): CheckResult {
  const s = new CheckState();
  const { flag, checked } = s;
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
  s.boot(boot);
  // A history before format 2 names the kernel list `kernel` with no `kernel: true` mark (docs/history-format.md, Names).
  if (boot?.kind === 'boot' && boot.format === undefined) for (const e of events) markKernelEvent(e);

  for (const e of events) {
    s.measure();
    if (e.kind === 'boot' && e !== events[0]) flag('well-formed', 'a second `boot` event: a history is one run', [e.line]);
    switch (e.kind) {
      case 'birth': birth(s, e); break;
      case 'invoke': invoked(s, e); break;
      case 'complete': completed(s, e); break;
      case 'blocked': s.deadMention(e.process, e, 'blocked on a reclaim exchange'); break;
      case 'decision': decision(s, e); break;
      case 'purge-notify': purgeNotify(s, e); break;
      case 'file-nonvolatile': fileNonvolatile(s, e); break;
      case 'cleanup': cleanup(s, e); break;
      case 'fault': if (String(e.as).startsWith('kill')) s.killedBy.add(String(e.process)); break;
      case 'bad-message': case 'heartbeat-lost': if (typeof e.process === 'string') s.killedBy.add(e.process); break;
      case 'stuck': s.deadlocked = true; break;
      case 'oom-kill': case 'kill':
        s.killedBy.add(String(e.process)); s.deathsSeen.set(String(e.process), e.line); s.deadMention(e.process, e, `was chosen by ${e.kind}`); break;
      case 'final-release': {
        const f = s.fileOf(String(e.file));
        f.vol.clear(); f.mustReport.clear(); f.mayReport.clear();
        // An ashmem (or shmem) file's pages are destroyed: a later mapping starts empty.
        if (e.fileKind !== 'tmpfs') s.fileCells.reset(String(e.file));
        break;
      }
      case 'final': s.finals.push(e); finalState({ flag, checked, procs: s.procs, cleanups: s.cleanups, deathsSeen: s.deathsSeen }, e); break;
      default: break;
    }
  }
  const last = events[events.length - 1];
  if (!last || last.kind !== 'verdict') flag('well-formed', 'the last event is not `verdict` (a history cut short?)', [last?.line ?? 0]);
  for (const [key, inv] of s.invokes) flag('well-formed', `step ${key.replace('#', ' step ')} was invoked but never completed`, [inv.line]);
  programsRan(s, events, last);
  for (const [name, lines] of s.cleanups) {
    checked['death-cleaned']++;
    if (lines.length > 1) flag('death-cleaned', `${name} was cleaned up ${lines.length} times`, lines);
  }
  checked['well-formed'] = events.length;
  s.measure();
  return { ok: s.violations.length === 0, events: events.length, violations: s.violations, checked, held: s.held };
}
