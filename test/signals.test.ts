// Real signals at the moments a sweep (fuzz/signal-sweep.mjs) found wrong, end to end through the
// CLI: a run stopped before its boot, a run past its bound with a pause or a birth still under
// way, an agent killed or stopped from outside vrange, and the one line an interrupted command
// ends with. Each test gives its coordinator a tmpdir of its own (TMPDIR): its run folders and its
// agents (whose command lines name the run folder) are told apart from any other run.

import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFor, root, scenarioPath } from './helpers.js';
import { parseFault } from '../harness/faults.js';
import { runScenario } from '../harness/run.js';
import { explainRun } from '../report/explain.js';
import { loadScenario } from '../shared/scenario.js';
import { exited as exitedWithin, ownTmp as tmpFor, procsIn, until as untilWithin, vrangeIn, type Cmd } from './tmp_runs.js';

const vrange = (t: ExecutionContext, tmp: string, args: string[], env: NodeJS.ProcessEnv = {}): Cmd => vrangeIn(t, tmp, args, { env });
const ownTmp = (t: ExecutionContext): string => tmpFor(t, 'vrange-signals-');
/** Live agents of the runs in `tmp` (the coordinator's own command line may name a file there too: --trace). */
const agentsIn = (tmp: string) => procsIn(tmp).filter((p) => p.cmd.includes('agent.js'));

const bin = join(root, 'bin', 'vrange.js');
/** How long a test waits for something that must happen (a bound on a hang, not a timing assertion). */
const patienceMs = 15_000;
const until = <T>(what: string, probe: () => T | undefined | false): Promise<T> => untilWithin(what, probe, patienceMs);
const exited = (c: Cmd) => exitedWithin(c, patienceMs);







/** `vrange check FILE`: its exit code and output. */
function checked(file: string): { status: number | null; text: string } {
  const r = spawnSync(process.execPath, [bin, 'check', file], { cwd: root, encoding: 'utf8' });
  return { status: r.status, text: r.stdout + r.stderr };
}

const firstKind = (file: string) => (JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as { kind: string }).kind;

test.serial('a run stopped during its set-up (its bound passed before the boot) writes a history that begins with its boot', async (t) => {
  const tmp = ownTmp(t);
  const trace = join(tmp, 't.jsonl');
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--timeout', '1', '--trace', trace, '--quiet']);
  const r = await exited(c);
  t.is(r.code, 1, c.stderr());
  t.regex(c.stdout(), /run-completed: the run took longer than 1 ms/);
  t.is(firstKind(trace), 'boot');
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});

test.serial('a run past its --timeout while a pause fault holds a process: the command ends with the run, not with the pause; the reproduce line keeps --timeout', async (t) => {
  const tmp = ownTmp(t);
  const trace = join(tmp, 't.jsonl');
  // A one-minute pause (the longest allowed): its SIGCONT timer kept the command alive until it fired.
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:60000', '--timeout', '1500', '--trace', trace]);
  const r = await exited(c);
  t.is(r.code, 1, c.stderr());
  t.regex(c.stdout(), /run-completed: the run took longer than 1500 ms \(set by --timeout\)/);
  t.regex(c.stdout(), /reproduce: vrange run \S+ --seed 1 .* --fault pause:A@1:60000 --timeout 1500\n/);
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});

test.serial('a pause the shutdown ends (free schedule, past --timeout) lets nothing go on: no continue message, no resume, to the stopped agent', async (t) => {
  const tmp = ownTmp(t);
  const trace = join(tmp, 't.jsonl');
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--schedule', 'free', '--fault', 'pause:A@1:60000', '--timeout', '1500', '--trace', trace]);
  const r = await exited(c);
  t.is(r.code, 1, c.stderr());
  t.regex(c.stdout(), /run-completed: the run took longer than 1500 ms/);
  const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; dir?: string; agent?: string; msg?: { t: string } });
  t.true(events.some((e) => e.kind === 'fault'), 'the pause struck');
  // Without the fix the kernel sent A a `continue` once the shutdown had ended its pause.
  t.deepEqual(events.filter((e) => e.kind === 'resume' || (e.kind === 'message' && e.dir === 'send' && e.msg?.t === 'continue')), []);
  t.like(events.find((e) => e.kind === 'cleanup'), { process: 'A', signal: 'SIGKILL' });
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});

test.serial('an agent SIGSTOPped from outside vrange before the process it was given is ready: the run ends at its bound, which names it, its history names that process\'s birth, nothing waits on', async (t) => {
  const tmp = ownTmp(t);
  const trace = join(tmp, 't.jsonl');
  // A is paused before its step 1 (its fork of B is step 4); meanwhile the spare agent that B will get is stopped.
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:3000', '--timeout', '6000', '--trace', trace]);
  await until('A stopped by its pause', () => agentsIn(tmp).some((a) => a.state === 'T'));
  const spare = await until('the spare agent', () => agentsIn(tmp).find((a) => a.state !== 'T'));
  process.kill(spare.pid, 'SIGSTOP');
  // Without the fix the birth's own wait (agentStartTimeoutMs, 20 s) kept the command alive past patienceMs.
  const r = await exited(c);
  t.is(r.code, 1, c.stderr());
  t.regex(c.stdout(), /run-completed: the run took longer than 6000 ms \(set by --timeout\); give it more with --timeout MS; stopped from outside vrange \(SIGSTOP\), the run waited for: B \(OS pid (\d+)\)/);
  t.true(c.stdout().includes(`B (OS pid ${spare.pid})`), 'the stopped agent is named by its pid');
  t.regex(c.stdout(), /kernel +B killed by SIGKILL/);
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; process?: string; osPid?: number });
  t.is(events.find((e) => e.kind === 'birth' && e.process === 'B')?.osPid, spare.pid, 'B\'s birth names the agent it was given');
  t.deepEqual(agentsIn(tmp), [], 'no agent left (the stopped one too)');
});

test.serial('a spare agent SIGKILLed from outside vrange before its hello: the run does not wait for it, a fork gets another agent, the run passes', async (t) => {
  const tmp = ownTmp(t);
  // The second agent (the spare the fork would take) is held for a while as it starts: it is
  // killed before it can say hello.
  const hold = join(tmp, 'hold.cjs');
  writeFileSync(hold, `if (process.argv[3] === 'agent-2') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10000);\n`);
  const trace = join(tmp, 't.jsonl');
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--trace', trace], { VRANGE_AGENT_NODE_ARGS: `--require ${hold}` });
  const spare = await until('the spare agent', () => agentsIn(tmp).find((a) => / agent-2$/.test(a.cmd.trim())));
  // A's birth is done: the kernel now waits for the pool (the spare's hello) before the first step.
  await until('A\'s birth', () => /A starts as pid 2/.test(c.stdout()));
  process.kill(spare.pid, 'SIGKILL');
  // Without the fix the pool waited agentStartTimeoutMs (20 s) for the dead agent's hello, then failed the run.
  const r = await exited(c);
  t.is(r.code, 0, c.stdout().slice(-1500) + c.stderr());
  t.regex(c.stdout(), /verdict: PASS/);
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});

test.serial('SIGINT to run --json: stdout is the JSON report, stderr one line with the seed and the command that reproduces the run', async (t) => {
  const tmp = ownTmp(t);
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '7', '--fault', 'pause:A@1:60000', '--json']);
  await until('A stopped by its pause', () => agentsIn(tmp).some((a) => a.state === 'T'));
  c.child.kill('SIGINT');
  const r = await exited(c);
  t.is(r.code, 130);
  t.is((JSON.parse(c.stdout()) as { interrupted?: string }).interrupted, 'SIGINT');
  const lines = c.stderr().trim().split('\n');
  t.is(lines.length, 1, c.stderr());
  t.regex(lines[0]!, /^vrange run: stopped by SIGINT \(exit 130\) during the run of seed 7; it reproduces with: vrange run \S+fork-cow-purge\.yaml --seed 7 .*--fault pause:A@1:60000$/);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});

test.serial('SIGTERM to explore: stderr names the seed of the run it stopped and the command that reproduces that run', async (t) => {
  const tmp = ownTmp(t);
  // The first run (seed 20) is held by its pause when the signal comes.
  const c = vrange(t, tmp, ['explore', scenarioPath('fork-cow-purge'), '--runs', '3', '--seed', '20', '--fault', 'pause:A@1:60000']);
  await until('A stopped by its pause', () => agentsIn(tmp).some((a) => a.state === 'T'));
  c.child.kill('SIGTERM');
  const r = await exited(c);
  t.is(r.code, 143);
  t.regex(c.stdout(), /INTERRUPTED by SIGTERM after 0 of 3 run\(s\)/);
  t.regex(c.stderr(), /vrange explore: stopped by SIGTERM \(exit 143\) during the run of seed 20; it reproduces with: vrange run \S+ --seed 20 .*--fault pause:A@1:60000\n/);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});

test.serial('an agent SIGKILLed from outside vrange mid-run: cleaned up as any death, reported as from outside, the history valid; a kill of the kernel\'s is not', async (t) => {
  const tmp = ownTmp(t);
  const trace = join(tmp, 't.jsonl');
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:2000', '--trace', trace]);
  const a = await until('A stopped by its pause', () => agentsIn(tmp).find((x) => x.state === 'T'));
  process.kill(a.pid, 'SIGKILL');
  const r = await exited(c);
  t.is(r.code, 1, c.stderr());
  t.regex(c.stdout(), /kernel +A killed by SIGKILL from outside vrange \(not by the scenario, a --fault or the kernel\); cleanup freed/);
  t.regex(c.stdout(), /the step never ran \(A was killed by SIGKILL from outside vrange after step 0\)/);
  const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; process?: string; outside?: boolean });
  t.true(events.find((e) => e.kind === 'cleanup' && e.process === 'A')?.outside);
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
  // The same death by the kernel's own hand (a fault) is not from outside.
  const tmp2 = ownTmp(t);
  const trace2 = join(tmp2, 't.jsonl');
  const f = vrange(t, tmp2, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'kill:A@1', '--trace', trace2]);
  await exited(f);
  t.regex(f.stdout(), /kernel +A killed by SIGKILL; cleanup freed/);
  t.notRegex(f.stdout() + readFileSync(trace2, 'utf8'), /outside/);
});

test.serial('a process killed from outside vrange is said so in every output: --json processes (outside: true), the final lines, --quiet deaths, the --html page', async (t) => {
  /** A run of fork-cow-purge with these output options whose A is SIGKILLed from outside while its pause holds it. */
  const killedRun = async (extra: string[]) => {
    const tmp = ownTmp(t);
    const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:3000', ...extra.map((x) => x.replace('TMP', tmp))]);
    const a = await until('A stopped by its pause', () => agentsIn(tmp).find((x) => x.state === 'T'));
    process.kill(a.pid, 'SIGKILL');
    const r = await exited(c);
    t.is(r.code, 1, c.stderr());
    t.deepEqual(agentsIn(tmp), [], 'no agent left');
    return { out: c.stdout(), tmp };
  };
  const json = JSON.parse((await killedRun(['--json'])).out) as { kernel: { processes: Array<{ name: string; outside?: boolean }> } };
  t.like(json.kernel.processes.find((p) => p.name === 'A'), { state: 'killed', signal: 'SIGKILL', outside: true });
  t.true(json.kernel.processes.filter((p) => p.name !== 'A').every((p) => p.outside === undefined), 'only A');
  const text = await killedRun(['--html', 'TMP/run.html']);
  t.regex(text.out, /\nprocess A: killed \(SIGKILL, from outside vrange\)\n/);
  t.regex(readFileSync(join(text.tmp, 'run.html'), 'utf8'), /killed by SIGKILL from outside vrange, cleanup/);
  t.regex((await killedRun(['--quiet'])).out, /\ndeaths: A killed by SIGKILL from outside vrange\b/);
});

test.serial('explain names a step cut short by a death from outside vrange as such (its cleanup, after the step, says outside)', async (t) => {
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  // A real step killed in flight (kill:A@1+); its history as a kill -9 of A's agent at that moment writes it.
  const { history } = await runScenario(s, configFor(s, { seed: 1 }), { faults: [parseFault('kill:A@1+', s)] });
  t.deepEqual(explainRun(s, configFor(s, { seed: 1 }), history).get('A#1')?.rules, ['killed']);
  const outside = history.filter((e) => e.kind !== 'fault').map((e) => (e.kind === 'cleanup' && e.process === 'A' ? { ...e, outside: true as const } : e));
  const x = explainRun(s, configFor(s, { seed: 1 }), outside).get('A#1');
  t.deepEqual(x?.rules, ['killed-outside']);
  t.regex(x!.why[0]!, /killed from outside vrange/);
});

test.serial('an agent SIGKILLed from outside vrange after it was given a forked process, before it is ready: the fork returns, the child\'s birth and cleanup are in the history, the run goes on', async (t) => {
  const tmp = ownTmp(t);
  const trace = join(tmp, 't.jsonl');
  const c = vrange(t, tmp, ['run', scenarioPath('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:2000', '--trace', trace]);
  await until('A stopped by its pause', () => agentsIn(tmp).some((a) => a.state === 'T'));
  const spare = await until('the spare agent', () => agentsIn(tmp).find((a) => a.state !== 'T'));
  // Stopped, it cannot answer B's init; killed once A's fork is under way (A's step 3 has completed).
  process.kill(spare.pid, 'SIGSTOP');
  await until('A\'s step 3', () => /\nA +#3 /.test(c.stdout()));
  process.kill(spare.pid, 'SIGKILL');
  // Without the fix the birth waited agentStartTimeoutMs (20 s) for a dead agent, past patienceMs.
  const r = await exited(c);
  t.is(r.code, 1, c.stderr());
  t.regex(c.stdout(), /A +#4 fork child="B" -> ok pid=3/);
  t.regex(c.stdout(), /kernel +B killed by SIGKILL from outside vrange/);
  const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; process?: string });
  const birth = events.findIndex((e) => e.kind === 'birth' && e.process === 'B');
  t.true(birth >= 0 && birth < events.findIndex((e) => e.kind === 'cleanup' && e.process === 'B'), 'B\'s birth, then its cleanup');
  const k = checked(trace);
  t.is(k.status, 0, k.text);
  t.deepEqual(agentsIn(tmp), [], 'no agent left');
});
