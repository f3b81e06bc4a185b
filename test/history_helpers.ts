// Histories written by hand for the offline checker's tests (test/check-lifetimes.test.ts,
// test/check-overlaps.test.ts): the events between a boot and a final and verdict, each step as its
// invoke and complete, in the shape the kernel writes them (coordinator/history.ts validates each).
import { checkHistory, type CheckName } from '../checker/check.js';

export type Ev = Record<string, unknown>;

/** A history of `events` between a boot (the given files, `policy`) and the final and verdict of `procs`. */
export function history(events: Ev[], procs: Array<{ process: string; pid: number; state: string; steps: number }>, files: Array<{ name: string; pages: number }> = [], policy = 'shared-file'): Ev[] {
  const all: Ev[] = [
    { kind: 'boot', frames: 64, files: files.map((f) => ({ ...f, kind: 'tmpfs' })), policy, access: 'sigbus', purgeUnit: 'range', schedule: 'free', seed: 1 },
    ...events,
    { kind: 'final', frames: { total: 64, used: 0, free: 64, pageCache: 0, mapped: 0 }, files: files.map((f) => ({ name: f.name, kind: 'tmpfs', cached: 0, open: 0 })),
      processes: procs.map((p) => ({ ...p, resident: 0, vmas: 0, fds: 0 })), kernelSteps: 0 },
    { kind: 'verdict', ok: true, failures: 0, invariants: [] },
  ];
  return all.map((e, seq) => ({ seq, at: seq, ...e }));
}

/** One step of `process`: its invoke, then its complete with `result` (ok unless the result says otherwise). */
export function step(process: string, index: number, s: Ev, result: Ev = {}, detail?: Ev): Ev[] {
  const ok = result.ok !== false;
  const type = ok ? 'ok' : result.signal === 'SIGKILL' ? 'info' : 'fail';
  return [{ kind: 'invoke', process, index, step: s },
    { kind: 'complete', process, index, op: s.op, type, result: { ok, ...result }, ...(detail ? { detail } : {}) }];
}
export const invoke = (process: string, index: number, s: Ev): Ev => ({ kind: 'invoke', process, index, step: s });
export const done = (process: string, index: number, op: string, result: Ev, detail?: Ev): Ev =>
  ({ kind: 'complete', process, index, op, type: result.ok === false ? (result.signal === 'SIGKILL' ? 'info' : 'fail') : 'ok', result: { ok: true, ...result }, ...(detail ? { detail } : {}) });
export const cleanup = (process: string, pid: number, extra: Ev = {}): Ev => ({ kind: 'cleanup', process, pid, state: 'exited', exitCode: 0, framesFreed: 0, pagesUnmapped: 0,
  vmas: 0, fdsClosed: 0, filesReleased: [], ...extra });
export const found = (h: Ev[]): CheckName[] => [...new Set(checkHistory(h).violations.map((v) => v.check))];
export const texts = (h: Ev[]): string => checkHistory(h).violations.map((v) => `${v.check}: ${v.text}`).join('\n');
