// The end of a run however it comes: SIGINT or SIGTERM, a crash, or a coordinator killed outright.
//
// Signals. Once a run has started, the first SIGINT, SIGTERM or SIGHUP does not end the process: it
// stops every run under way (runScenario races its run against `whenInterrupted`), the run kills
// and reaps its agents, the command writes what was asked (a partial report marked `interrupted`,
// the history so far) and the process exits 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP: the
// terminal went away, or `kill -HUP`; what cannot be written to a terminal that has gone is lost,
// the cleanup is not). A second signal during
// that cleanup ends the process at once, after a SIGKILL to every agent still alive and the
// removal of every run folder.
//
// Run folders. Each run has a folder tmpdir/vrange-run-XXXXXX (the kernel's socket); its
// `owner.json` names the coordinator (pid, and start time from /proc/PID/stat so that a reused pid
// is not mistaken for it). The first run of each coordinator removes the folders whose owner is
// dead, after a SIGKILL to any agent of theirs still there (an agent's command line names its
// folder's socket). A live coordinator's folder is never touched.

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { killQuietly, pidsWithArg, processStartTime, sameProcessAlive } from './procfs.js';

export type StopSignal = 'SIGINT' | 'SIGTERM' | 'SIGHUP';
const exitCodes: Record<StopSignal, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

export const runDirPrefix = 'vrange-run-';
export const ownerFile = 'owner.json';
/** A run folder without an owner file younger than this may be one whose coordinator is writing it. */
export const ownerlessGraceMs = 10_000;

/** The kernel's endpoint in a run folder (what its agents' command lines name). */
export function endpointOf(runDir: string): string { return `ipc://${runDir}/kernel.sock`; }

// ---------------------------------------------------------------- signals

let received: StopSignal | undefined;
let installed = false;
const listeners = new Set<(sig: StopSignal) => void>();
/** Run folders of this process not yet removed. */
const liveRunDirs = new Set<string>();
/** Agents (child processes) of this process not yet seen to exit. */
const liveChildren = new Set<ChildProcess>();

/** The stop signal received, if any. */
export function interrupted(): StopSignal | undefined { return received; }

/** The exit code of a command that was interrupted (128 + the signal's number), or undefined. */
export function interruptExitCode(): number | undefined { return received ? exitCodes[received] : undefined; }

/**
 * Turns SIGINT, SIGTERM and SIGHUP into a request to stop (see the top of this file). Idempotent. The CLI
 * installs it for the commands that start agents; a program that calls runScenario itself may too
 * (without it, a signal ends the process at once, and what it leaves is cleaned up later: its
 * agents end by themselves, its run folder goes with the next run).
 */
export function installInterruptHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal(sig));
}

function onSignal(sig: StopSignal): void {
  if (received) {
    process.stderr.write(`vrange: ${sig} during the cleanup after ${received}: stopping at once\n`);
    killEverythingNow();
    process.exit(exitCodes[sig]);
  }
  received = sig;
  for (const fn of [...listeners]) fn(sig);
}

/** The first run a stop signal stopped: its seed and the command that reproduces it (noteStoppedRun). */
let stoppedRunNote: { seed: number; repro: string } | undefined;

/** A run stopped by the stop signal: the command's one-line message on stderr names it (stopLine). */
export function noteStoppedRun(seed: number, repro: string): void {
  stoppedRunNote ??= { seed, repro };
}

/**
 * The line an interrupted command ends with, on stderr (so that it is seen with `--json`, or with
 * stdout in a pipe or a file): the signal, the exit code, and the run it stopped, by its seed and
 * the command that reproduces it; without one (no run under way, a game of `vrange play`), the command line.
 */
export function stopLine(command: string, argv: readonly string[], exitCode?: number): string | undefined {
  if (!received) return undefined;
  // `exitCode`: what the command exits with, when not the signal's (70: it met a bug in vrange).
  const code = exitCode ?? exitCodes[received];
  const head = `vrange ${command}: stopped by ${received} (exit ${code}${code === 70 ? ': it also met a bug in vrange, above' : ''})`;
  if (stoppedRunNote) return `${head} during the run of seed ${stoppedRunNote.seed}; it reproduces with: ${stoppedRunNote.repro}`;
  return `${head}; run it again with: vrange ${argv.join(' ')}`;
}

/** A promise that rejects with InterruptedError at the first stop signal (at once if one came already). */
export function whenInterrupted(): { promise: Promise<never>; dispose: () => void } {
  let fn: ((sig: StopSignal) => void) | undefined;
  const promise = new Promise<never>((_, reject) => {
    fn = (sig) => reject(new InterruptedError(sig));
    if (received) fn(received); else listeners.add(fn);
  });
  promise.catch(() => {}); // a caller that has stopped listening does not care
  return { promise, dispose: () => { if (fn) listeners.delete(fn); } };
}

export class InterruptedError extends Error {
  constructor(readonly signal: StopSignal) { super(`interrupted by ${signal}`); }
}

/** Keeps `child` (an agent) in the list a second signal or an exit kills. */
export function trackChild(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

/** The last resort, synchronous: SIGKILL every agent still alive, remove every run folder. */
function killEverythingNow(): void {
  for (const c of liveChildren) if (c.pid !== undefined) { killQuietly(c.pid, 'SIGKILL'); killQuietly(c.pid, 'SIGCONT'); }
  for (const dir of liveRunDirs) {
    // Agents of this run the table does not know yet (a spawn under way) name the folder too.
    for (const pid of pidsWithArg(endpointOf(dir))) killQuietly(pid, 'SIGKILL');
    try { rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
  }
  liveRunDirs.clear();
}

// ---------------------------------------------------------------- run folders

interface Owner { pid: number; start?: string }

let swept = false;
/** This process's start time, read once (it does not change). */
let ownStart: string | undefined;

/** A new run folder, owned by this process; the first call removes the folders of dead coordinators. */
export function createRunDir(): string {
  if (!swept) {
    swept = true;
    // However the process ends (process.exit, an uncaught error), it leaves no agent and no folder.
    process.on('exit', () => killEverythingNow());
    ownStart = processStartTime(process.pid);
    sweepStaleRunDirs();
  }
  const dir = mkdtempSync(join(tmpdir(), runDirPrefix));
  liveRunDirs.add(dir);
  const owner: Owner = { pid: process.pid, start: ownStart };
  writeFileSync(join(dir, ownerFile), JSON.stringify(owner) + '\n');
  return dir;
}

export function removeRunDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveRunDirs.delete(dir);
}

function readOwner(dir: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(join(dir, ownerFile), 'utf8')) as Partial<Owner>;
    if (typeof o.pid !== 'number' || !Number.isSafeInteger(o.pid)) return undefined;
    return { pid: o.pid, start: typeof o.start === 'string' ? o.start : undefined };
  } catch {
    return undefined;
  }
}

/**
 * Whether the run folder belongs to no live coordinator. With an owner file: its owner is dead. A
 * folder without one (left by a version before owner files, or being made right now) is stale
 * once it is older than ownerlessGraceMs and no process names it.
 */
export function isStaleRunDir(dir: string, nowMs = Date.now()): boolean {
  const owner = readOwner(dir);
  if (owner) return !sameProcessAlive(owner.pid, owner.start);
  let st;
  try { st = statSync(dir); } catch { return false; }
  if (nowMs - st.mtimeMs < ownerlessGraceMs) return false;
  return pidsWithArg(endpointOf(dir)).length === 0;
}

/** Removes the run folders of dead coordinators in `dir` (this user's only), and their leftover agents. Returns the folders removed. */
export function sweepStaleRunDirs(dir = tmpdir()): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const removed: string[] = [];
  const uid = process.getuid?.();
  for (const name of names) {
    if (!name.startsWith(runDirPrefix)) continue;
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) continue;
      if (liveRunDirs.has(path) || !isStaleRunDir(path)) continue;
      for (const pid of pidsWithArg(endpointOf(path))) killQuietly(pid, 'SIGKILL');
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      // Another coordinator removed it first, or it is not ours to remove: leave it.
    }
  }
  return removed;
}
