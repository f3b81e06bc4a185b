// Commands run with a TMPDIR of their own, so that what they leave (agents, run folders) can be
// found and cleaned up by path: test/shutdown.test.ts and test/signals.test.ts.
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ended, root } from './helpers.js';

export const bin = join(root, 'bin', 'vrange.js');

export interface Cmd {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: string | null }>;
}

/** `vrange ARGS` with TMPDIR=tmp (and `env`), its output gathered; killed at the test's end if still running. */
export function vrangeIn(t: ExecutionContext, tmp: string, args: string[], opts: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Cmd {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, TMPDIR: tmp, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = ended(child);
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** The state letter of a process (R, S, T, Z, ...) from /proc/PID/stat, or undefined if it is gone. */
export function stateOf(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
  } catch { return undefined; }
}

/** Live (not zombie) processes whose command line names a path inside `tmp`: the agents of runs there (and a coordinator given a file there). */
export function procsIn(tmp: string): Array<{ pid: number; state: string; cmd: string }> {
  const out: Array<{ pid: number; state: string; cmd: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      const state = stateOf(Number(name));
      if (cmd.includes(`${tmp}/`) && state !== undefined && state !== 'Z') out.push({ pid: Number(name), state, cmd });
    } catch { /* gone */ }
  }
  return out;
}

/** A tmpdir for this test's commands; at the end, whatever still runs from it is killed and it is removed. */
export function ownTmp(t: ExecutionContext, prefix: string): string {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => {
    for (const p of procsIn(tmp)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    rmSync(tmp, { recursive: true, force: true });
  });
  return tmp;
}

/** Polls `probe` until it gives a value (not undefined or false); gives up after `patienceMs` (a bound on a hang, not a timing assertion). */
export async function until<T>(what: string, probe: () => T | undefined | false, patienceMs: number, everyMs = 20): Promise<T> {
  const deadline = Date.now() + patienceMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The command's end (its output read); an error with what it printed if it has not ended within `patienceMs`. */
export async function exited(c: Cmd, patienceMs: number): Promise<{ code: number | null; signal: string | null }> {
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([c.exit, new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the command did not exit within ${patienceMs} ms\n${c.stdout().slice(-2000)}\n${c.stderr()}`)), patienceMs);
  })]);
  clearTimeout(timer);
  return r;
}
