// Shared by the end-to-end tests: run a scenario through the library (real agents, real ZeroMQ)
// or through the CLI as a user would.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadScenario, parseScenario, ScenarioError } from '../shared/scenario.js';
import { scenarioData, schemaErrors } from './schema-check.js';
import { runScenario, type RunOutcome } from '../harness/run.js';
import { RunSession } from '../harness/session.js';
import test from 'ava';
import { runConfigFor } from '../shared/run_config.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const scenarioPath = (name: string) => join(root, 'scenarios', `${name}.yaml`);
const bin = join(root, 'bin', 'vrange.js');

/** The run configuration of a test run: the scenario's, seed 1, lockstep, unless `over` says otherwise. */
export const configFor = (s: Scenario, over: Partial<RunConfig> = {}): RunConfig => runConfigFor(s, over);

export async function runFile(path: string, over: Partial<RunConfig> = {}, checkModel = false, session?: RunSession): Promise<RunOutcome> {
  const s = loadScenario(path);
  return runScenario(s, configFor(s, over), { checkModel, session });
}

export async function runYaml(yaml: string, over: Partial<RunConfig> = {}): Promise<RunOutcome> {
  const s = parseScenario(yaml, 'inline.yaml');
  agreesWithSchema(yaml, 'inline.yaml');
  return runScenario(s, configFor(s, over));
}

/**
 * Every scenario a test writes (runYaml, tempFile) is also checked against the published JSON
 * Schema: one the loader accepts must be valid there too, or an editor would flag a good file.
 */
function agreesWithSchema(text: string, name: string): void {
  if (!/\.(ya?ml|json)$/.test(name)) return;
  try { parseScenario(text, name); } catch (e) { if (e instanceof ScenarioError) return; throw e; }
  const errors = schemaErrors(scenarioData(text));
  if (errors) throw new Error(`${name}: the loader accepts it but schema/scenario.schema.json does not: ${errors}`);
}

export function tempFile(name: string, text: string): string {
  agreesWithSchema(text, name);
  const dir = mkdtempSync(join(tmpdir(), 'vrange-test-'));
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export interface CliResult { code: number | null; stdout: string; stderr: string }

export function cli(args: string[], onStdout?: (chunk: string, pid: number) => void, env?: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); onStdout?.(d.toString(), child.pid!); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    void ended(child).then(({ code }) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The end of a child, once its output is read too. 'exit' may come before the last of what the
 * child wrote to its pipes has been read (so a test that reads its output at 'exit' may see
 * none of it): wait for 'close' as well, but not forever, should a child of the command (an agent,
 * which inherits the pipes) still hold them. The grace ends with a turn of the event loop's poll
 * phase (setImmediate): a test process blocked longer than the grace (a loaded machine) wakes with
 * the timer already due, and timers run before the poll that reads the pipes, so without that turn
 * it resolved with output the child had written and the pipe still held.
 */
export function ended(child: ChildProcess, graceMs = 2_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    let code: number | null = null;
    let signal: NodeJS.Signals | null = null;
    let grace: NodeJS.Timeout | undefined;
    let settled = false;
    const done = () => { if (settled) return; settled = true; clearTimeout(grace); resolve({ code, signal }); };
    child.on('exit', (c, s) => { code = c; signal = s; grace = setTimeout(() => setImmediate(done), graceMs); });
    child.on('close', (c, s) => { code = c; signal = s; done(); });
  });
}

/** Step results of one process, by index. */
export function resultsOf(outcome: RunOutcome, process: string): Map<number, Record<string, unknown>> {
  const m = new Map<number, Record<string, unknown>>();
  for (const s of outcome.report.steps) if (s.process === process) m.set(s.index, s.result);
  return m;
}

export function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export function osPidsOf(outcome: RunOutcome): number[] {
  return outcome.history.filter((e) => e.kind === 'birth').map((e) => e.osPid as number);
}

/** At most `n` runs at once: each run starts real processes and this machine has 2 cores. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try { return await fn(); } finally { active--; queue.shift()?.(); }
  };
}

/**
 * `limiter(n)` with a run session for each of the n runs under way (harness/session.ts): a sweep
 * reuses its agents and socket across runs instead of starting Node processes for each. The
 * sessions close (every agent ended) after the test file's last test.
 */
export function sessionLimiter(n: number): <T>(fn: (session: RunSession) => Promise<T>) => Promise<T> {
  const gate = limiter(n);
  const all = Array.from({ length: n }, () => new RunSession());
  const free = [...all];
  test.after.always('close the run sessions', async () => { for (const s of all) await s.close(); });
  return <T>(fn: (session: RunSession) => Promise<T>) => gate(async () => {
    const session = free.pop()!;
    try { return await fn(session); } finally { free.push(session); }
  });
}
