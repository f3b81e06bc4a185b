// Exploratory sweep: real signals at varied moments to real vrange commands, and the properties a
// test engineer expects afterwards. usage: node fuzz/signal-sweep.mjs [TRIALS] [FILTER] (SEED=N)
//
// Each trial gives its command a TMPDIR of its own (its run folders and its agents, whose command
// lines name the run folder, are told apart from any other run) and an output folder of its own.
// Kinds of trial:
//   stop     SIGINT/SIGTERM/SIGHUP to the coordinator after a random delay (boot, mid-step, reclaim,
//            the writing of --trace/--html/--out): exit 128+N (or the verdict if it had ended),
//            a line naming the interruption with the seed and a reproducing command, no agent, no
//            run folder, every output file absent or whole, no temporary file beside them
//   pipe     stdout closed after the first line (`| head -1`): the command ends as it would
//            (its verdict), nothing left
//   agent    SIGKILL or SIGSTOP to one agent by pid: the run ends (SIGSTOP: by --timeout), exit 0/1,
//            the --trace valid for `vrange check`, nothing left
//   orphan   SIGKILL to the coordinator: every agent gone within orphanBoundMs by itself; a
//            SIGKILLed writer may leave its `.NAME.PID.START.RAND.tmp` beside an output (nothing
//            can stop that), so the property is the next write's: the same command run again to
//            its end leaves no temporary there and every output whole (shared/files.ts writeOutput)
//   remote   SIGKILL to `vrange kernel --listen`: its `vrange agent` ends within the heartbeat bound
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin', 'vrange.js');
const sc = (n) => join(root, 'scenarios', `${n}.yaml`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const trials = Number(process.argv[2] ?? 40);
const filter = process.argv[3] ?? '';
let seed = Number(process.env.SEED ?? Date.now() % 100000);
const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
const pick = (a) => a[Math.floor(rnd() * a.length)];
const orphanBoundMs = 5000;
const codes = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };

function procsIn(tmp) {
  const out = [];
  for (const n of readdirSync('/proc')) {
    if (!/^\d+$/.test(n)) continue;
    try {
      const cmd = readFileSync(`/proc/${n}/cmdline`, 'utf8');
      const st = readFileSync(`/proc/${n}/stat`, 'utf8');
      const state = st.slice(st.lastIndexOf(')') + 2).split(' ')[0];
      if (cmd.includes(`${tmp}/`) && cmd.includes('agent') && state !== 'Z') out.push({ pid: Number(n), state, cmd: cmd.replace(/\0/g, ' ') });
    } catch { /* gone */ }
  }
  return out;
}

function start(args, { tmp, stdin = 'ignore', env = {} }) {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, TMPDIR: tmp, ...env }, stdio: [stdin, 'pipe', 'pipe'] });
  const c = { child, out: '', err: '', t0: Date.now() };
  child.stdout.on('data', (d) => { c.out += d; });
  child.stderr.on('data', (d) => { c.err += d; });
  c.exit = new Promise((r) => child.on('close', (code, signal) => r({ code, signal, ms: Date.now() - c.t0 })));
  return c;
}

async function bounded(p, ms, what) {
  let timer;
  const r = await Promise.race([p, new Promise((res) => { timer = setTimeout(() => res({ hang: what }), ms); })]);
  clearTimeout(timer);
  return r;
}

/** Problems with an output file: absent is fine, present must be whole. */
function wholeOutput(path, kind) {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  if (kind === 'trace') {
    const lines = text.trim().split('\n');
    try { lines.forEach((l) => JSON.parse(l)); } catch { return [`${path}: a line is not JSON`]; }
    if (JSON.parse(lines[lines.length - 1]).kind !== 'verdict') return [`${path}: no verdict at the end`];
    const r = spawnSync(process.execPath, [bin, 'check', path], { encoding: 'utf8' });
    if (r.status !== 0) return [`${path}: vrange check exit ${r.status}: ${r.stdout.slice(-300)}${r.stderr.slice(-300)}`];
  }
  if (kind === 'html' && !/<\/html>\s*$/.test(text)) return [`${path}: html cut short`];
  if (kind === 'json') { try { JSON.parse(text); } catch { return [`${path}: not whole JSON`]; } }
  return [];
}

function leftovers(tmp, out) {
  const p = [];
  const procs = procsIn(tmp);
  if (procs.length) p.push(`processes left: ${procs.map((x) => `${x.pid}(${x.state}) ${x.cmd.slice(0, 120)}`).join('; ')}`);
  const dirs = readdirSync(tmp).filter((f) => f.startsWith('vrange-run-'));
  if (dirs.length) p.push(`run folders left: ${dirs.join(' ')}`);
  const tmps = readdirSync(out).filter((f) => f.endsWith('.tmp'));
  if (tmps.length) p.push(`temporary files left: ${tmps.join(' ')}`);
  return p;
}

// The commands, with their output files. `long` ones block on a pause fault (mid-step for seconds).
const commands = [
  { name: 'run', args: (o) => ['run', sc('thread-ring-buffer'), '--seed', '3', '--trace', join(o, 't.jsonl'), '--html', join(o, 'h.html')], outs: { 't.jsonl': 'trace', 'h.html': 'html' } },
  { name: 'run-json', json: true, args: (o) => ['run', sc('race-death-during-reclaim'), '--seed', '5', '--json', '--trace', join(o, 't.jsonl')], outs: { 't.jsonl': 'trace' } },
  { name: 'run-long', args: (o) => ['run', sc('fork-cow-purge'), '--seed', '1', '--fault', 'pause:A@1:3000', '--trace', join(o, 't.jsonl'), '--html', join(o, 'h.html')], outs: { 't.jsonl': 'trace', 'h.html': 'html' } },
  { name: 'run-free', args: (o) => ['run', sc('thread-ashmem-cache'), '--seed', '2', '--schedule', 'free', '--trace', join(o, 't.jsonl')], outs: { 't.jsonl': 'trace' } },
  { name: 'run-quiet', args: (o) => ['run', sc('direct-reclaim'), '--seed', '4', '--quiet', '--html', join(o, 'h.html')], outs: { 'h.html': 'html' } },
  { name: 'explore', args: () => ['explore', sc('race-two-marks'), '--runs', '6', '--seed', '10', '--fault', 'random:kill=0.1'] },
  { name: 'explore-all', args: (o) => ['explore', sc('race-two-marks'), '--all', '--html', join(o, 'all.html')], outs: { 'all.class1.html': 'html' } }, // --html all.html writes a page per class: all.class1.html, ...
  { name: 'shard', args: (o) => ['explore', sc('race-two-marks'), '--runs', '6', '--seed', '10', '--shard', '1/2', '--out', join(o, 's.json')], outs: { 's.json': 'json' } },
  { name: 'compare', args: () => ['compare', sc('anon-sigbus'), '--seed', '1'] },
  { name: 'compare-json', json: true, args: () => ['compare', sc('fork-cow-purge'), '--seed', '1', '--json'] },
  { name: 'quiz', args: () => ['quiz', '--seed', '7', '--answers'] },
];

async function stopTrial(cmd, sig, delay) {
  const tmp = mkdtempSync(join(tmpdir(), 'vrange-sweep-'));
  const out = mkdtempSync(join(tmpdir(), 'vrange-sweep-out-'));
  const c = start(cmd.args(out), { tmp });
  await sleep(delay);
  const before = c.child.exitCode;
  c.child.kill(sig);
  const r = await bounded(c.exit, 30000, 'no exit 30 s after the signal');
  const p = [];
  if (r.hang) { p.push(r.hang); c.child.kill('SIGKILL'); await c.exit; }
  else {
    const interruptedText = /interrupted|INTERRUPTED/.test(c.out + c.err);
    if (r.signal === sig) {
      // Killed by the default action: only acceptable before the command had started anything.
      if (c.out.length) p.push(`died of ${sig} after printing`);
    } else if (r.code === codes[sig]) {
      if (!interruptedText) p.push('exit 128+N without saying it was interrupted');
      if (cmd.json) { try { const j = JSON.parse(c.out); if (j.interrupted !== sig && !j.runs && !j.policies) p.push(`--json without interrupted: ${sig}`); } catch { p.push(`--json stdout is not JSON: ${c.out.slice(0, 80)}...${c.out.slice(-80)}`); } }
      if (!/--seed \d+|seed \d+/.test(c.out + c.err) && cmd.name !== 'explore-all') p.push('no seed in the output of an interrupted run');
      if (!/reproduce|vrange (run|explore|compare|quiz) /.test(c.out + c.err)) p.push('no reproducing command');
    } else if (r.code === 0 || r.code === 1) {
      if (before === null && interruptedText) p.push(`exit ${r.code} yet says interrupted`);
    } else p.push(`exit ${r.code} (signal ${r.signal}); stderr: ${c.err.slice(-400)}`);
    for (const [f, kind] of Object.entries(cmd.outs ?? {})) p.push(...wholeOutput(join(out, f), kind));
    p.push(...leftovers(tmp, out));
  }
  report(`stop ${cmd.name} ${sig} @${delay}ms -> ${r.code ?? r.signal} (${r.ms} ms)`, p, c);
  clean(tmp, out);
}

async function pipeTrial(cmd) {
  const tmp = mkdtempSync(join(tmpdir(), 'vrange-sweep-'));
  const out = mkdtempSync(join(tmpdir(), 'vrange-sweep-out-'));
  const c = start(cmd.args(out), { tmp });
  // `| head -1`: read the first line, then close the pipe.
  await new Promise((res) => { const on = () => { if (c.out.includes('\n')) { c.child.stdout.destroy(); c.child.stdout.off('data', on); res(); } }; c.child.stdout.on('data', on); c.child.on('close', res); });
  const r = await bounded(c.exit, 30000, 'no exit 30 s after stdout closed');
  const p = [];
  if (r.hang) { p.push(r.hang); c.child.kill('SIGKILL'); await c.exit; }
  else {
    if (r.code !== 0 && r.code !== 1) p.push(`exit ${r.code} (signal ${r.signal}); stderr: ${c.err.slice(-400)}`);
    for (const [f, kind] of Object.entries(cmd.outs ?? {})) p.push(...wholeOutput(join(out, f), kind));
    p.push(...leftovers(tmp, out));
  }
  report(`pipe ${cmd.name} -> ${r.code ?? r.signal} (${r.ms} ms)`, p, c);
  clean(tmp, out);
}

async function agentTrial(cmd, sig, delay) {
  const tmp = mkdtempSync(join(tmpdir(), 'vrange-sweep-'));
  const out = mkdtempSync(join(tmpdir(), 'vrange-sweep-out-'));
  const args = [...cmd.args(out), ...(sig === 'SIGSTOP' ? ['--timeout', '4000'] : [])];
  const c = start(args, { tmp });
  // From the first agent on: boot, births, steps, reclaims, the end.
  while (!procsIn(tmp).length && c.child.exitCode === null) await sleep(10);
  await sleep(delay);
  const agents = procsIn(tmp);
  const victim = agents.length ? pick(agents) : undefined;
  if (victim) { try { process.kill(victim.pid, sig); } catch { /* gone */ } }
  const r = await bounded(c.exit, 30000, 'no exit 30 s after the agent signal');
  const p = [];
  if (r.hang) { p.push(r.hang); c.child.kill('SIGKILL'); await c.exit; }
  else {
    if (r.code !== 0 && r.code !== 1) p.push(`exit ${r.code}; stderr: ${c.err.slice(-600)}`);
    for (const [f, kind] of Object.entries(cmd.outs ?? {})) p.push(...wholeOutput(join(out, f), kind));
    p.push(...leftovers(tmp, out));
  }
  report(`agent ${cmd.name} ${sig} ${victim ? victim.pid : '(no agent yet)'} @${delay}ms -> ${r.code ?? r.signal} (${r.ms} ms)`, p, c);
  if (victim) { try { process.kill(victim.pid, 'SIGKILL'); } catch { /* gone */ } }
  clean(tmp, out);
}

async function orphanTrial(cmd, delay, stopOne) {
  const tmp = mkdtempSync(join(tmpdir(), 'vrange-sweep-'));
  const out = mkdtempSync(join(tmpdir(), 'vrange-sweep-out-'));
  const c = start(cmd.args(out), { tmp });
  await sleep(delay);
  const agents = procsIn(tmp);
  if (stopOne && agents.length) process.kill(pick(agents).pid, 'SIGSTOP');
  c.child.kill('SIGKILL');
  await c.exit;
  const t0 = Date.now();
  while (procsIn(tmp).length && Date.now() - t0 < orphanBoundMs) await sleep(20);
  const left = procsIn(tmp);
  const p = left.length ? [`agents alive ${orphanBoundMs} ms after the coordinator's SIGKILL: ${left.map((x) => `${x.pid}(${x.state})`).join(' ')}`] : [];
  for (const x of left) { try { process.kill(x.pid, 'SIGKILL'); } catch { /* gone */ } }
  const killedTemps = readdirSync(out).filter((f) => f.endsWith('.tmp'));
  p.push(...await rewriteAfterKill(cmd, out));
  report(`orphan ${cmd.name}${stopOne ? ' +stopped agent' : ''} @${delay}ms: ${agents.length} agents, gone in ${Date.now() - t0} ms${killedTemps.length ? `; ${killedTemps.length} temporary file(s) left by the SIGKILL, then rewritten` : ''}`, p, c);
  clean(tmp, out);
}

/**
 * After a writer was SIGKILLed (its temporaries may be left: not a problem by itself), the same
 * command run again, to its end, writing the same outputs: it must leave no temporary beside them,
 * every output whole, and its own run nothing behind (processes, run folders).
 */
async function rewriteAfterKill(cmd, out) {
  if (!cmd.outs) return [];
  const tmp2 = mkdtempSync(join(tmpdir(), 'vrange-sweep-'));
  const again = start(cmd.args(out), { tmp: tmp2 });
  const r = await bounded(again.exit, 120000, 'the second run (after the SIGKILL) did not end in 120 s');
  const p = [];
  if (r.hang) { p.push(r.hang); again.child.kill('SIGKILL'); await again.exit; }
  else {
    if (r.code !== 0 && r.code !== 1) p.push(`second run: exit ${r.code} (signal ${r.signal}); stderr: ${again.err.slice(-400)}`);
    for (const f of Object.keys(cmd.outs)) if (!existsSync(join(out, f))) p.push(`second run: ${f} not written`);
    // Every file in the folder is whole, whichever run wrote it (the killed one may have finished some).
    const kinds = { '.jsonl': 'trace', '.html': 'html', '.json': 'json' };
    for (const f of readdirSync(out).filter((x) => !x.endsWith('.tmp'))) {
      const kind = Object.entries(kinds).find(([ext]) => f.endsWith(ext))?.[1];
      if (kind) p.push(...wholeOutput(join(out, f), kind).map((x) => `second run: ${x}`));
    }
    p.push(...leftovers(tmp2, out).map((x) => `second run: ${x}`));
  }
  clean(tmp2);
  return p;
}

async function remoteTrial(delay) {
  const tmp = mkdtempSync(join(tmpdir(), 'vrange-sweep-'));
  const k = start(['kernel', '--listen', 'tcp://127.0.0.1:0', '--scenario', sc('fork-cow-purge'), '--agents', 'remote', '--heartbeat-ms', '200', '--heartbeat-timeout-ms', '1000', '--fault-free'].filter((a) => a !== '--fault-free'), { tmp });
  let ep; let token;
  const t0 = Date.now();
  while (!(ep && token) && Date.now() - t0 < 15000) { ep = /listening on (tcp:\/\/127\.0\.0\.1:\d+)/.exec(k.out)?.[1]; token = /kernel: token ([0-9a-f]{32})/.exec(k.out)?.[1]; await sleep(20); }
  const agents = [0, 1, 2].map(() => start(['agent', '--connect', ep, '--token', token], { tmp }));
  await sleep(delay);
  k.child.kill('SIGKILL');
  await k.exit;
  const rs = await Promise.all(agents.map((a) => bounded(a.exit, 13000, 'agent alive 13 s after its kernel was SIGKILLed (connect timeout 10 s)')));
  const p = rs.filter((r) => r.hang).map((r) => r.hang);
  for (const a of agents) if (a.child.exitCode === null) a.child.kill('SIGKILL');
  report(`remote kernel SIGKILL @${delay}ms: agents -> ${rs.map((r) => r.hang ? 'HANG' : `${r.code}/${r.ms}ms`).join(' ')}`, p, { out: agents.map((a) => a.err).join('\n'), err: k.err });
  clean(tmp);
}

let problems = 0;
function report(line, p, c) {
  if (p.length) { problems++; console.log(`FAIL ${line}\n  ${p.join('\n  ')}\n  stdout tail: ${JSON.stringify(c.out.slice(-300))}\n  stderr tail: ${JSON.stringify(c.err.slice(-300))}`); }
  else console.log(`ok   ${line}`);
}
function clean(...dirs) { for (const d of dirs) rmSync(d, { recursive: true, force: true }); }

const kinds = ['stop', 'stop', 'stop', 'pipe', 'agent', 'agent', 'orphan', 'remote'];
console.log(`SEED=${seed}`);
for (let i = 0; i < trials; i++) {
  const kind = pick(kinds);
  if (filter && !kind.startsWith(filter)) { i--; continue; }
  const cmd = pick(commands);
  const delay = Math.floor(rnd() * rnd() * 2500);
  if (kind === 'stop') await stopTrial(cmd, pick(['SIGINT', 'SIGTERM', 'SIGHUP']), delay);
  else if (kind === 'pipe') await pipeTrial(cmd);
  else if (kind === 'agent') await agentTrial(pick(commands.filter((x) => x.name.startsWith('run'))), pick(['SIGKILL', 'SIGKILL', 'SIGSTOP']), delay);
  else if (kind === 'orphan') await orphanTrial(cmd, delay, rnd() < 0.3);
  else await remoteTrial(delay);
}
console.log(`${problems} problem(s) in ${trials} trials`);
process.exit(problems ? 1 : 0);
