// What the coordinator and the agents need to know about other OS processes, read from Linux's
// /proc: whether a pid is still the process it was (its start time), whether it is stopped, and
// which processes are the agents of one run (their command line names the run folder's socket).
// Elsewhere (no /proc) every answer is "unknown" and callers fall back on kill(pid, 0).

import { createRequire } from 'node:module';

// Required, not imported: Node's ES-module face of node:fs reads every export of fs, which
// loads its stream classes, some milliseconds of every agent's start (docs/performance.md,
// "Agent start-up").
const { readdirSync, readFileSync } = createRequire(import.meta.url)('node:fs') as typeof import('node:fs');

/** The fields of a /proc/PID/stat line after the command name (which may hold spaces and parentheses). */
export function statFieldsOf(text: string): string[] | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // Field 3 (state) is index 0 here, field 4 (ppid) index 1, field 22 (starttime) index 19, field 39 (processor) index 36.
  return text.slice(close + 2).split(' ');
}

/** The fields of /proc/PID/stat after the command name. */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  return statFieldsOf(text);
}

/** The process's start time (clock ticks after boot, /proc/PID/stat field 22), or undefined without /proc. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** The process's state letter (R, S, D, T stopped, t traced, Z zombie...), or undefined. */
export function processState(pid: number): string | undefined {
  return statFields(pid)?.[0];
}

/** Whether a process with this pid exists (a zombie counts: it still holds the pid). */
/** Whether the process is stopped (SIGSTOP: state T, or t when traced); undefined if it is gone or /proc cannot be read. */
export function isStopped(pid: number): boolean | undefined {
  const state = processState(pid);
  return state === undefined ? undefined : state === 'T' || state === 't';
}

export function pidExists(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/**
 * Whether the process that had `pid` and started at `start` is still alive: the pid exists, is
 * not a zombie, and (when both are known) has the same start time, so that a reused pid is not
 * taken for it.
 */
export function sameProcessAlive(pid: number, start: string | undefined): boolean {
  if (!pidExists(pid)) return false;
  const now = statFields(pid);
  if (!now) return true; // no /proc: the pid exists, take it as alive
  if (now[0] === 'Z' || now[0] === 'X') return false;
  return start === undefined || now[19] === start;
}

/** Upper bound on the /proc entries one scan reads (a machine has far fewer processes). */
const procScanMax = 1_000_000;

/** The pids (other than this process) whose command line contains `needle`; [] without /proc. */
export function pidsWithArg(needle: string): number[] {
  let names: string[];
  try { names = readdirSync('/proc'); } catch { return []; }
  const out: number[] = [];
  let seen = 0;
  for (const name of names) {
    if (++seen > procScanMax) break;
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let cmdline: string;
    try { cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (cmdline.split('\0').includes(needle)) out.push(pid);
  }
  return out;
}

/** SIGKILL `pid`, quietly if it is gone already. SIGKILL ends a stopped process too. */
export function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  try { process.kill(pid, signal); } catch { /* gone */ }
}
