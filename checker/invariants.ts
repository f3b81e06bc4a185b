// The invariants checked at the end of every run, listed in every report. Each is a checker of
// its own over a narrow read-only view of the run (./view.ts): the kernel's final state or the
// run's history, not the code paths that produced them, so a bug in reclaim or cleanup shows up
// here rather than in a wrong answer nobody notices. `invariantCheckers` is the list, in the order
// the report gives them; checkInvariants composes them (./compose.ts). The report then adds
// run-completed and (with --check-model) matches-model, which harness/run.ts judges.

import { purgeNotifyPages, type HistoryEvent } from '../coordinator/history.js';
import type { MapperVote } from '../shared/policy.js';
import { compose, fromProblems, type Checker, type CheckResult } from './compose.js';
import type { RunView } from './view.js';

export type { RunView } from './view.js';
export type InvariantResult = CheckResult;

/** Every used frame is referenced exactly by its mappers plus the page cache. */
export const framesConserved: Checker<RunView> = (k) => {
  const problems: string[] = [];
  try { k.frames.assertConserved(); } catch (e) { problems.push((e as Error).message); }
  for (const f of k.frames.usedFrames()) {
    const fileId = k.frames.ownerFile[f]!;
    const inCache = fileId >= 0 && k.files[fileId]!.cache.get(k.frames.ownerPage[f]!) === f ? 1 : 0;
    const want = k.rmap.referencesTo(f) + inCache;
    if (k.frames.refcount[f] !== want) problems.push(`frame ${f}: refcount ${k.frames.refcount[f]} but ${want} references`);
  }
  if (k.frames.used + k.frames.free !== k.frames.total) problems.push(`used ${k.frames.used} + free ${k.frames.free} != total ${k.frames.total}`);
  return fromProblems(problems);
};

/** When every process has ended, the only frames in use are tmpfs page cache. */
export const noFrameLeak: Checker<RunView> = (k) => {
  const problems: string[] = [];
  if (k.procs.some((p) => p.live)) return { ok: true, detail: 'not checked: a process is still alive' };
  const mapped = [...k.rmap.mappedFrames()];
  if (mapped.length > 0) problems.push(`${mapped.length} frames still mapped by ended processes`);
  let cached = 0;
  for (const file of k.files) {
    const n = file.residentPages();
    if (file.kind !== 'tmpfs' && n > 0) problems.push(`${file.kind} file ${file.name} still holds ${n} frames after its final release`);
    cached += n;
  }
  if (k.frames.used !== cached) problems.push(`${k.frames.used} frames used but only ${cached} are page cache`);
  return fromProblems(problems);
};

type Decision = HistoryEvent & { votes: MapperVote[]; purge: boolean; rule: string; page: string };
function decisions(events: readonly HistoryEvent[]): Decision[] {
  return events.filter((e) => e.kind === 'decision') as Decision[];
}

/**
 * No purged page was protected: someone had declared it volatile (the file's range, or every
 * mapper's mm) and no mapper objected; agents also report a purge of a page their mm had not
 * marked (violations recorded during the run).
 */
export const noProtectedPagePurged: Checker<RunView> = (k) => {
  const problems = k.violations.filter((v) => v.name === 'no-protected-page-purged').map((v) => v.text);
  for (const d of decisions(k.history.events)) {
    if (!d.purge) continue;
    const allVolatile = d.votes.length > 0 && d.votes.every((v) => v.volatile);
    if (d.rule === 'file-range-volatile') continue;
    if (!allVolatile) problems.push(`${d.page} purged by rule ${d.rule} although a mapper did not have it volatile`);
  }
  return fromProblems(problems);
};

/** No purge touched a page a private mapping still shared with its file (or, per-mm, any private mapper). */
export const privateMappingsUntouched: Checker<RunView> = (k) => {
  const problems: string[] = [];
  for (const d of decisions(k.history.events)) {
    if (!d.purge) continue;
    for (const v of d.votes) {
      if (v.privatePresent) problems.push(`${d.page} purged while pid ${v.pid} mapped it private and had not copied it`);
      if (k.config.policy === 'per-mm' && v.share === 'private' && !d.page.startsWith('anonymous')) problems.push(`${d.page} purged under per-mm while pid ${v.pid} maps it private`);
    }
  }
  return fromProblems(problems);
};

/**
 * `purged` is exact for per-mm ranges: replaying the history, the pages a nonvolatile reports as
 * purged are exactly the pages the kernel told that process it had purged (since they were last
 * cleared), inherited across fork, forgotten on munmap and mmap.
 */
export const purgedExact: Checker<RunView> = (k) => {
  const problems: string[] = [];
  const ledger = new Map<string, Set<number>>(); // process -> vpages the kernel reported purged
  // process -> vpages the kernel offered as purged file pages it did not hold (`seen`): purged there if the mm had them volatile
  const offered = new Map<string, Set<number>>();
  const get = (p: string, of = ledger) => { let s = of.get(p); if (!s) of.set(p, (s = new Set())); return s; };
  for (const e of k.history.events) {
    if (e.kind === 'purge-notify') for (const v of purgeNotifyPages(e)) get(e.process as string).add(v);
    if (e.kind === 'purge-notify' && e.seen) for (const v of purgeNotifyPages({ runs: e.seen as number[] })) get(e.process as string, offered).add(v);
    if (e.kind === 'birth' && e.parent) {
      ledger.set(e.process as string, new Set(get(e.parent as string)));
      offered.set(e.process as string, new Set(get(e.parent as string, offered)));
    }
    if (e.kind !== 'complete' || !e.result || !(e.result as { ok: boolean }).ok) continue;
    const detail = e.detail as { span?: [number, number]; purgedPages?: number[] } | undefined;
    if ((e.op === 'munmap' || e.op === 'mmap') && detail?.span) {
      const [s, end] = detail.span;
      for (const of of [ledger, offered]) for (const v of [...get(e.process as string, of)]) if (v >= s && v < end) get(e.process as string, of).delete(v);
    }
    if (e.op === 'vrange' && detail?.span && detail.purgedPages) {
      const [s, end] = detail.span;
      const mine = get(e.process as string);
      const maybe = get(e.process as string, offered);
      const want = [...mine].filter((v) => v >= s && v < end).sort((a, b) => a - b);
      const got = [...detail.purgedPages].sort((a, b) => a - b);
      const step = k.scenario.processes.find((p) => p.name === e.process)?.steps[e.index as number];
      if (step && 'mode' in step && step.mode === 'nonvolatile') {
        // Every page it was told of, and otherwise only pages it was offered (purged while it had them volatile).
        const extra = got.filter((v) => !mine.has(v) && !maybe.has(v));
        if (want.some((v) => !got.includes(v)) || extra.length > 0) {
          problems.push(`${e.process} step ${e.index}: nonvolatile found purged pages [${got}] but the kernel purged [${want}]${maybe.size > 0 ? ` (and offered [${[...maybe].filter((v) => v >= s && v < end).sort((a, b) => a - b)}])` : ''}`);
        }
        for (const v of got) { mine.delete(v); maybe.delete(v); }
        for (const v of [...maybe]) if (v >= s && v < end) maybe.delete(v);
      }
    }
  }
  return fromProblems(problems);
};

/** Data that was never volatile is never lost: no purge took a page without its owners' consent. */
export const nonvolatileDataKept: Checker<RunView> = (k) => {
  const problems: string[] = [];
  for (const d of decisions(k.history.events)) {
    if (!d.purge || d.rule === 'file-range-volatile') continue;
    const against = d.votes.filter((v) => !v.volatile);
    if (against.length > 0) problems.push(`${d.page} purged while pid ${against.map((v) => v.pid).join(', ')} had it non-volatile`);
  }
  for (const v of k.violations.filter((x) => x.name === 'agent-alive')) problems.push(v.text);
  return fromProblems(problems);
};

/** The scheduler found no step waiting for something that can no longer happen. */
export const noDeadlock: Checker<RunView> = (k) =>
  fromProblems(k.violations.filter((v) => v.name === 'no-deadlock').map((v) => v.text));

/** The invariants of every run, in the order every report lists them. */
export const invariantCheckers: Readonly<Record<string, Checker<RunView>>> = Object.freeze({
  'frames-conserved': framesConserved,
  'no-frame-leak': noFrameLeak,
  'no-protected-page-purged': noProtectedPagePurged,
  'purged-exact': purgedExact,
  'private-mappings-untouched': privateMappingsUntouched,
  'nonvolatile-data-kept': nonvolatileDataKept,
  'no-deadlock': noDeadlock,
});

const checkAll = compose(invariantCheckers);

/** Every invariant of `invariantCheckers` over the run (the Kernel after a run is such a view). */
export function checkInvariants(k: RunView): InvariantResult[] {
  return checkAll(k);
}
