// The offline checker's look at a run's end (checker/check.ts calls it at the `final` event): the
// frames add up, nothing leaks once every process has ended, and each ended process holds nothing
// and was cleaned up.

import type { EventOf } from '../coordinator/history.js';
import type { PState } from './check_model.js';
import type { CheckName } from './check_result.js';

export interface FinalContext {
  flag: (check: CheckName, text: string, lines: number[]) => void;
  checked: Record<CheckName, number>;
  procs: Map<string, PState>;
  cleanups: Map<string, number[]>;
  deathsSeen: Map<string, number>;
}

export function finalState(x: FinalContext, e: EventOf<'final'> & { line: number }): void {
  const { flag, checked, procs, cleanups, deathsSeen } = x;
  const frames = e.frames;
  const finalFiles = e.files ?? [];
  const finalProcs = e.processes ?? [];
  if (!frames) { flag('well-formed', 'the `final` event has no frames', [e.line]); return; }
  checked['no-frame-leak']++;
  if (frames.used + frames.free !== frames.total) flag('no-frame-leak', `frames used ${frames.used} + free ${frames.free} != total ${frames.total}`, [e.line]);
  const live = finalProcs.filter((q) => q.state === 'running');
  if (live.length === 0) {
    const tmpfs = finalFiles.filter((f) => f.kind === 'tmpfs').reduce((n, f) => n + f.cached, 0);
    if (frames.used !== tmpfs) flag('no-frame-leak', `every process has ended, yet ${frames.used} frames are used and tmpfs page cache holds only ${tmpfs}`, [e.line]);
    for (const f of finalFiles) if (f.kind !== 'tmpfs' && f.cached > 0) flag('no-frame-leak', `${f.kind} file ${f.name} still holds ${f.cached} frames after every process ended`, [e.line]);
  }
  for (const q of finalProcs) {
    if (q.state === 'running') continue;
    checked['dead-hold-nothing']++;
    checked['death-cleaned']++;
    const held = [q.resident && `${q.resident} frames`, q.vmas && `${q.vmas} mappings`, q.fds && `${q.fds} fds`].filter(Boolean);
    if (held.length > 0) flag('dead-hold-nothing', `${q.process} ended (${q.state}) but still holds ${held.join(', ')}`, [procs.get(q.process)?.cleanedAt ?? 0, e.line]);
    if (!cleanups.has(q.process)) flag('death-cleaned', `${q.process} ended (${q.state}) but no cleanup was recorded`, [deathsSeen.get(q.process) ?? 0, e.line]);
  }
}
