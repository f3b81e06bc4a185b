// Shutdown with real processes and real signals: SIGINT and SIGTERM mid-run, a coordinator killed
// outright, a stopped agent left behind, two coordinators sharing a tmpdir. Each test gives its
// coordinators a tmpdir of its own (TMPDIR), so that its run folders and agents (whose command
// line names the run folder) are told apart from any other run on the machine.

import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFor, ended, root, scenarioPath, tempFile } from './helpers.js';
import { exited as exitedWithin, ownTmp as tmpFor, procsIn, stateOf, until as untilWithin, vrangeIn, type Cmd as Coordinator } from './tmp_runs.js';

const vrange = (t: ExecutionContext, tmp: string, args: string[], detached = false): Coordinator => vrangeIn(t, tmp, args, { detached });
/** A tmpdir for this test's coordinators; at the end, whatever is left of it is killed and removed. */
const ownTmp = (t: ExecutionContext): string => tmpFor(t, 'vrange-shutdown-');
/** Pids of live (not zombie) processes whose command line names a path inside `tmp`: the agents of runs there. */
const agentsIn = (tmp: string): number[] => procsIn(tmp).map((p) => p.pid);
import { installInterruptHandlers, isStaleRunDir, ownerFile, sweepStaleRunDirs } from '../shared/lifecycle.js';
import { exploreAll, formatAll } from '../harness/explore_all.js';
import { loadScenario } from '../shared/scenario.js';
import { processStartTime } from '../shared/procfs.js';
import { checkHistory } from '../checker/check.js';
import type { HistoryEvent } from '../coordinator/history.js';

const bin = join(root, 'bin', 'vrange.js');
/** How long a test waits for something that must happen (a bound on a hang, not a timing assertion). */
const patienceMs = 20_000;
const until = <T>(what: string, probe: () => T | undefined | false): Promise<T> => untilWithin(what, probe, patienceMs, 25);
const exited = (c: Coordinator) => exitedWithin(c, patienceMs);





function cmdlineOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { return ''; }
}


function runDirsIn(tmp: string): string[] {
  return readdirSync(tmp).filter((f) => f.startsWith('vrange-run-'));
}


/** Mid-run: an agent of a run in `tmp` is stopped by the pause fault. */
const stoppedAgent = (tmp: string) => until('an agent stopped by the pause fault', () => agentsIn(tmp).find((p) => stateOf(p) === 'T'));


// A run that blocks: A is SIGSTOPped before its step 1 for a minute, and lockstep waits for it.
const longRun = ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:60000'];

for (const [signal, code, schedule] of [['SIGINT', 130, 'lockstep'], ['SIGTERM', 143, 'lockstep'], ['SIGHUP', 129, 'lockstep'], ['SIGINT', 130, 'free']] as const) {
  test.serial(`${signal} mid-run (${schedule}): exit ${code}, a partial JSON report marked interrupted, the history so far, no agent and no run folder left`, async (t) => {
    const tmp = ownTmp(t);
    const trace = join(tmp, 'trace.jsonl');
    const c = vrange(t, tmp, [...longRun, '--schedule', schedule, '--json', '--trace', trace]);
    await stoppedAgent(tmp);
    t.true(agentsIn(tmp).length >= 2, 'the run has its agents (the paused one and the pool)');
    c.child.kill(signal);
    const r = await exited(c);
    t.is(r.code, code, c.stderr());
    const report = JSON.parse(c.stdout()) as { ok: boolean; interrupted?: string; steps: Array<{ process: string; index: number }>; invariants: Array<{ name: string; ok: boolean; detail?: string }> };
    t.is(report.interrupted, signal);
    t.false(report.ok);
    t.deepEqual(report.steps.filter((s) => s.process === 'A').map((s) => `${s.process}#${s.index}`), ['A#0'], 'A\'s step that ran before the pause');
    t.is(report.invariants.find((i) => i.name === 'run-completed')?.detail, `interrupted by ${signal}`);
    t.true(existsSync(trace), 'the trace is written');
    const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; [k: string]: unknown });
    t.is(events[0]!.kind, 'boot');
    t.truthy(events.find((e) => e.kind === 'fault' && e.process === 'A'), 'the pause is in the history');
    t.truthy(events.find((e) => e.kind === 'cleanup' && e.process === 'A'), 'A was killed and cleaned up');
    const verdict = events[events.length - 1]!;
    t.is(verdict.kind, 'verdict');
    t.is(verdict.interrupted, signal);
    t.deepEqual(checkHistory(events as HistoryEvent[]).violations, [], 'the partial history is a valid history (vrange check)');
    t.deepEqual(agentsIn(tmp), [], 'no agent left');
    t.deepEqual(runDirsIn(tmp), [], 'no run folder left');
  });
}

test.serial('SIGINT with a --json report larger than a pipe holds, to a reader slow to read it: the whole report arrives, then exit 130', async (t) => {
  const tmp = ownTmp(t);
  // 4,000 steps of A before its pause: a report of about 500 KB, beyond a pipe's 64 KB.
  const writes = Array.from({ length: 4_000 }, (_, i) => `      - { op: write, map: buf, page: 0, value: "v${i}" }`).join('\n');
  const file = tempFile('long-report.yaml', `name: long-report\nmemory:\n  frames: 8\nprocesses:\n  A:\n    steps:\n      - { op: mmap, as: buf, pages: 1 }\n${writes}\n      - { op: read, map: buf, page: 0 }\n`);
  // Its stdout a real pipe (a FIFO, as in \`vrange run ... | jq\`), not spawn's socket pair. (Two
  // things keep the report whole: the command waits for its output to drain before it exits
  // (cli/cli.ts), and an agent started with the command's stdout makes that file blocking for both.)
  const fifo = join(tmp, 'report.fifo');
  t.is(spawnSync('mkfifo', [fifo]).status, 0);
  const reader = createReadStream(fifo); // opened now, read later
  const child = spawn('sh', ['-c', `exec "$0" "$@" > '${fifo}'`, process.execPath, bin, 'run', file, '--seed', '1', '--fault', 'pause:A@4001:60000', '--json'],
    { cwd: root, env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exit = ended(child);
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); reader.destroy(); });
  await stoppedAgent(tmp);
  child.kill('SIGINT');
  // Nobody reads for a while: the pipe fills with the first 64 KB and the command must wait.
  await Promise.race([exit, new Promise((r) => setTimeout(r, 2_000))]);
  let out = '';
  reader.on('data', (d) => { out += d.toString(); });
  await new Promise<void>((resolve, reject) => { reader.on('end', resolve); reader.on('error', reject); });
  const r = await exited({ child, stdout: () => out, stderr: () => err, exit });
  t.is(r.code, 130, err);
  t.true(out.length > 262_144, `a report of ${out.length} bytes: more than a pipe holds`);
  const report = JSON.parse(out) as { interrupted?: string; steps: Array<{ process: string }> };
  t.is(report.interrupted, 'SIGINT');
  t.is(report.steps.filter((s) => s.process === 'A').length, 4_001, 'every step that ran before the pause is in it');
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
  t.deepEqual(runDirsIn(tmp), [], 'no run folder left');
});

test.serial('a second signal during the cleanup ends the command at once, and still leaves no agent and no run folder', async (t) => {
  const tmp = ownTmp(t);
  const c = vrange(t, tmp, [...longRun, '--json']);
  await stoppedAgent(tmp);
  c.child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 2));
  // The command is then either cleaning up (it stops at once, exit 143) or already done (exit 130).
  c.child.kill('SIGTERM');
  const r = await exited(c);
  t.true(r.code === 143 || r.code === 130, `exit ${r.code} ${r.signal}: ${c.stderr()}`);
  if (r.code === 143) t.regex(c.stderr(), /SIGTERM during the cleanup after SIGINT: stopping at once/);
  else t.is((JSON.parse(c.stdout() || 'null') as { interrupted?: string } | null)?.interrupted, 'SIGINT', `no report on stdout; stderr:\n${c.stderr()}`);
  t.deepEqual(agentsIn(tmp), []);
  t.deepEqual(runDirsIn(tmp), []);
});

test.serial('SIGINT mid-run, narrated: the text says the run was interrupted; exit 130', async (t) => {
  const tmp = ownTmp(t);
  const c = vrange(t, tmp, longRun);
  await until('the narrated pause', () => /SIGSTOP before step 1/.test(c.stdout()));
  c.child.kill('SIGINT');
  const r = await exited(c);
  t.is(r.code, 130, c.stderr());
  t.regex(c.stdout(), /INTERRUPTED by SIGINT: stopping the run/);
  t.regex(c.stdout(), /verdict: INTERRUPTED \(1 steps ran/);
  t.deepEqual(agentsIn(tmp), []);
  t.deepEqual(runDirsIn(tmp), []);
});

for (const [signal, code, what] of [['SIGINT', 130, 'Ctrl-C'], ['SIGHUP', 129, 'A terminal\'s hangup']] as const) {
  test.serial(`${what} reaches the whole process group: the agents leave it to the coordinator, which reports and exits ${code}`, async (t) => {
    const tmp = ownTmp(t);
    // detached: the coordinator leads a process group of its own, as a shell's job does.
    const c = vrange(t, tmp, [...longRun, '--json'], true);
    await stoppedAgent(tmp);
    process.kill(-c.child.pid!, signal);
    const r = await exited(c);
    t.is(r.code, code, c.stderr());
    const report = JSON.parse(c.stdout()) as { interrupted?: string; kernel: { processes: Array<{ name: string; signal?: string }> } };
    t.is(report.interrupted, signal);
    t.is(report.kernel.processes.find((p) => p.name === 'A')?.signal, 'SIGKILL', `A was ended by its kernel, not by the ${signal}`);
    t.deepEqual(report.kernel.processes.filter((p) => p.signal !== undefined && p.signal !== 'SIGKILL'), [], `no process died of the ${signal} itself`);
    t.deepEqual(agentsIn(tmp), []);
    t.deepEqual(runDirsIn(tmp), []);
  });
}

test.serial('a SIGKILLed coordinator: its agents end by themselves, the stopped one too; the next run removes its folder', async (t) => {
  const tmp = ownTmp(t);
  const c = vrange(t, tmp, longRun);
  const stopped = await stoppedAgent(tmp);
  c.child.kill('SIGKILL');
  await exited(c);
  await until('every agent of the killed coordinator to end', () => agentsIn(tmp).length === 0);
  // A process in the middle of its exit has no command line any more (so agentsIn no longer lists
  // it) but is not a zombie yet: wait for the end of the exit rather than sample it once.
  const gone = (s: string | undefined) => s === undefined || s === 'Z' || s === 'X';
  await until('the stopped agent to finish exiting', () => gone(stateOf(stopped)));
  t.true(gone(stateOf(stopped)), 'the stopped agent is gone (at most a zombie its new parent has not reaped)');
  t.is(runDirsIn(tmp).length, 1, 'a SIGKILLed coordinator cannot remove its folder');
  const next = vrange(t, tmp, ['run', scenarioPath('anon-sigbus'), '--seed', '1']);
  t.is((await exited(next)).code, 0, next.stdout());
  t.deepEqual(runDirsIn(tmp), [], 'the next run removed the dead coordinator\'s folder');
});

test.serial('agents stopped when their coordinator dies end as soon as they are continued', async (t) => {
  const tmp = ownTmp(t);
  const c = vrange(t, tmp, longRun);
  await stoppedAgent(tmp);
  // Every agent stopped: none can notice the coordinator's death until continued.
  const agents = agentsIn(tmp);
  for (const pid of agents) process.kill(pid, 'SIGSTOP');
  await until('every agent stopped', () => agents.every((p) => stateOf(p) === 'T'));
  c.child.kill('SIGKILL');
  await exited(c);
  for (const pid of agents) process.kill(pid, 'SIGCONT');
  await until('the continued orphans to end', () => agentsIn(tmp).length === 0);
  t.pass();
});

test.serial('two coordinators in one tmpdir: a run never removes a live coordinator\'s folder', async (t) => {
  const tmp = ownTmp(t);
  const long = vrange(t, tmp, [...longRun, '--json']);
  await stoppedAgent(tmp);
  const [dir] = runDirsIn(tmp);
  t.truthy(dir);
  const owner = JSON.parse(readFileSync(join(tmp, dir!, ownerFile), 'utf8')) as { pid: number; start?: string };
  t.is(owner.pid, long.child.pid!);
  const other = vrange(t, tmp, ['run', scenarioPath('anon-sigbus'), '--seed', '1']);
  t.is((await exited(other)).code, 0, other.stdout());
  t.deepEqual(runDirsIn(tmp), [dir], 'the live run\'s folder is still there');
  t.true(existsSync(join(tmp, dir!, 'kernel.sock')), 'with its socket');
  t.truthy(agentsIn(tmp).find((p) => stateOf(p) === 'T'), 'and its agents');
  long.child.kill('SIGTERM');
  t.is((await exited(long)).code, 143);
  t.deepEqual(runDirsIn(tmp), []);
  t.deepEqual(agentsIn(tmp), []);
});

test.serial('explore interrupted: stops, prints the summary of the runs that ended, says so, exit 130', async (t) => {
  const tmp = ownTmp(t);
  // Each run pauses A for 1.5 s; wait for the second run's pause, so that one run has ended. The
  // runs share one run session (one folder, agents reused): a pause, its end, then the next pause.
  const c = vrange(t, tmp, ['explore', scenarioPath('fork-cow-purge'), '--runs', '20', '--seed', '1', '--fault', 'pause:A@1:1500']);
  const paused = () => agentsIn(tmp).some((p) => stateOf(p) === 'T');
  await until('the first run\'s pause', paused);
  await until('the end of the first run\'s pause', () => !paused());
  await until('the second run\'s pause', paused);
  c.child.kill('SIGINT');
  const r = await exited(c);
  t.is(r.code, 130, c.stderr());
  t.regex(c.stdout(), /^outcome +runs$/m);
  t.regex(c.stdout(), /INTERRUPTED by SIGINT after \d+ of 20 run\(s\)/);
  const done = Number(/after (\d+) of 20/.exec(c.stdout())![1]);
  t.true(done >= 1 && done < 20, c.stdout());
  t.deepEqual(agentsIn(tmp), []);
  t.deepEqual(runDirsIn(tmp), []);
});

test.serial('compare interrupted: exit 130, says so, nothing left', async (t) => {
  const tmp = ownTmp(t);
  const c = vrange(t, tmp, ['compare', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:60000']);
  await stoppedAgent(tmp);
  c.child.kill('SIGTERM');
  const r = await exited(c);
  t.is(r.code, 143, c.stderr());
  t.regex(c.stdout(), /INTERRUPTED by SIGTERM: 0 of 4 policies ran/); // the three proposals and madv-free
  t.deepEqual(agentsIn(tmp), []);
  t.deepEqual(runDirsIn(tmp), []);
});

test('a run folder is stale when its owner is dead or its pid was reused; never when its owner lives', (t) => {
  const tmp = ownTmp(t);
  const folder = (name: string, owner?: object) => {
    const dir = join(tmp, `vrange-run-${name}`);
    mkdirSync(dir);
    if (owner) writeFileSync(join(dir, ownerFile), JSON.stringify(owner));
    return dir;
  };
  const live = folder('live', { pid: process.pid, start: processStartTime(process.pid) });
  const reused = folder('reused', { pid: process.pid, start: 'not-this-one' });
  // A pid that exists on no machine (above pid_max's ceiling of 2^22).
  const dead = folder('dead', { pid: 2 ** 22 + 12345, start: '1' });
  const young = folder('young');
  t.false(isStaleRunDir(live));
  t.true(isStaleRunDir(reused), 'the same pid with another start time is another process');
  t.true(isStaleRunDir(dead));
  t.false(isStaleRunDir(young), 'a folder without an owner file may be one being made right now');
  t.true(isStaleRunDir(young, Date.now() + 60_000), 'but not for long');
  t.deepEqual(sweepStaleRunDirs(tmp).sort(), [dead, reused].sort());
  t.deepEqual(runDirsIn(tmp).sort(), ['vrange-run-live', 'vrange-run-young']);
});

// In this test process (the last test of the file: the stop request it makes cannot be undone).
test('explore --all interrupted: the runs stop after the one under way, the classes count the runs that ended, no agent left', async (t) => {
  installInterruptHandlers();
  t.teardown(() => { process.removeAllListeners('SIGINT'); process.removeAllListeners('SIGTERM'); });
  const s = loadScenario(scenarioPath('race-two-marks'));
  const config = configFor(s, { policy: 'shared-file' });
  const r = await exploreAll(scenarioPath('race-two-marks'), s, config, 1000, { progress: (done) => { if (done === 1) process.emit('SIGINT'); } });
  t.is(r.interrupted, 'SIGINT');
  t.is(r.ran, 1);
  t.true(r.reduced > 1);
  t.is(r.classes.reduce((n, c) => n + c.realRuns, 0), 1);
  t.deepEqual(r.problems, [], 'an outcome not reached because its runs never came is no problem');
  t.regex(formatAll('race-two-marks.yaml', config, r).join('\n'), new RegExp(`INTERRUPTED by SIGINT after 1 of the ${r.reduced} real runs`));
  const children = readdirSync('/proc').filter((n) => /^\d+$/.test(n) && stateOf(Number(n)) !== 'Z' && ppidOf(Number(n)) === process.pid && cmdlineOf(Number(n)).includes('agent.js'));
  t.deepEqual(children, [], 'no agent of this process is left');
});

function ppidOf(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
  } catch { return undefined; }
}
