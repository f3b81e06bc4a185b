// The agent and the CLI as one file each (scripts/bundle.ts, shared/bundles.ts): the build makes
// fresh bundles, the kernel starts the agent's and bin/vrange.js loads the CLI's; either falls back
// to the module tree when its bundle is missing, stale or turned off (VRANGE_BUNDLE=0); and runs,
// checks and explorations give the same output and histories with the bundles as without.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentScriptPath } from '../coordinator/agent_pool.js';
import { freshBundle } from '../shared/bundles.js';
import { runScenario } from '../harness/run.js';
import { loadScenario } from '../shared/scenario.js';
import { configFor, root, scenarioPath } from './helpers.js';

const bundle = join(root, 'dist', 'agents', 'bundle', 'agent.js');
const modules = join(root, 'dist', 'agents', 'agent.js');

test('the build makes a bundle of the agent that is fresh, made from the agent and the modules it imports', (t) => {
  t.is(agentScriptPath(), bundle);
  t.true(freshBundle(bundle));
  const { inputs } = JSON.parse(readFileSync(join(root, 'dist', 'agents', 'bundle', 'inputs.json'), 'utf8')) as { inputs: string[] };
  for (const want of ['../agent.js', '../mm.js', '../steps.js', '../../shared/transport.js', '../../shared/messages.js']) {
    t.true(inputs.includes(want), `inputs.json lists ${want}`);
  }
  t.true(inputs.some((i) => i.includes('node_modules/zeromq/lib/')), 'zeromq\'s JavaScript is in the bundle');
});

test('the kernel starts the module tree when the bundle is missing, stale, turned off or its list of inputs is bad', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-bundle-'));
  try {
    mkdirSync(join(dir, 'bundle'));
    const b = join(dir, 'bundle', 'agent.js'), m = join(dir, 'agent.js'), input = join(dir, 'steps.js');
    writeFileSync(m, ''); writeFileSync(input, '');
    t.is(agentScriptPath(b, m), m, 'no bundle');
    writeFileSync(b, '');
    t.is(agentScriptPath(b, m), m, 'a bundle without inputs.json');
    const list = (inputs: unknown) => writeFileSync(join(dir, 'bundle', 'inputs.json'), JSON.stringify({ inputs }));
    const at = (file: string, s: number) => utimesSync(file, s, s);
    list(['../steps.js']);
    at(input, 1_000); at(b, 2_000);
    t.is(agentScriptPath(b, m), b, 'a bundle newer than its inputs');
    at(input, 3_000);
    t.is(agentScriptPath(b, m), m, 'an input newer than the bundle (tsc ran without the bundling step)');
    at(input, 1_000);
    list(['../gone.js']);
    t.is(agentScriptPath(b, m), m, 'an input gone');
    for (const bad of [[], [7], 'x', null]) { list(bad); t.is(agentScriptPath(b, m), m, `inputs ${JSON.stringify(bad)}`); }
    list(['../steps.js']);
    process.env.VRANGE_BUNDLE = '0';
    try { t.is(agentScriptPath(b, m), m, 'VRANGE_BUNDLE=0'); } finally { delete process.env.VRANGE_BUNDLE; }
    t.is(agentScriptPath(b, m), b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The command lines of this process's live children that run an agent script. */
function agentChildren(): string[] {
  const out: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue;
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (cmd.some((a) => a.endsWith('agent.js'))) out.push(cmd.join(' '));
    } catch { /* gone */ }
  }
  return out;
}

test('the agents of a run are the bundle', async (t) => {
  // The kernel's children, looked at while the run is under way (at each narrated line).
  const seen: string[][] = [];
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  const { report } = await runScenario(s, configFor(s, { seed: 1 }), { narrate: () => { if (seen.length < 40) seen.push(agentChildren()); } });
  t.true(report.ok, 'the run passes');
  const all = [...new Set(seen.flat())];
  t.true(all.length > 0, 'agents seen while the run was under way');
  for (const cmd of all) t.true(cmd.includes(` ${bundle} `), cmd);
});

/** A lockstep run's trace by the CLI, without what differs between equal runs (time stamps, OS pids). */
function trace(scenario: string, seed: number, env: NodeJS.ProcessEnv): unknown[] {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-bundle-trace-'));
  try {
    const file = join(dir, 'trace.jsonl');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), 'run', scenarioPath(scenario), '--seed', String(seed),
      '--schedule', 'lockstep', '--quiet', '--trace', file], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0 && r.status !== 1) throw new Error(`vrange run ${scenario} exited ${r.status}: ${r.stderr}`);
    const events = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => {
      const { at: _at, seq: _seq, ...e } = JSON.parse(l) as Record<string, unknown>;
      return e.kind === 'birth' ? { ...e, osPid: 0 } : e;
    });
    // Several agents' answers to one prepare arrive in the order the OS delivers them: a run of
    // such consecutive messages is compared as a set. A commit's acks are not waited for (they
    // come whenever each agent gets to them, among later events): compared as a set, apart.
    const msgT = (e: Record<string, unknown>) => e.kind === 'message' && e.dir === 'recv' ? (e.msg as { t?: string } | undefined)?.t : undefined;
    const racy = (e: Record<string, unknown>) => msgT(e) === 'prepared';
    const acks = events.filter((e) => msgT(e) === 'committed').map((e) => JSON.stringify(e)).sort();
    const ordered = events.filter((e) => msgT(e) !== 'committed');
    const out: unknown[] = [];
    for (let i = 0; i < ordered.length;) {
      if (!racy(ordered[i]!)) { out.push(ordered[i++]); continue; }
      const run: string[] = [];
      while (i < ordered.length && racy(ordered[i]!)) run.push(JSON.stringify(ordered[i++]));
      out.push(...run.sort().map((r) => JSON.parse(r) as unknown));
    }
    out.push({ acks });
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a run gives the same history with the bundle and with the module tree', (t) => {
  for (const [scenario, seed] of [['fork-cow-purge', 1], ['file-shared-fvrange', 2], ['kill-cleanup', 3], ['port-madvise09-madv-free', 1]] as const) {
    const withBundle = trace(scenario, seed, {});
    const withModules = trace(scenario, seed, { VRANGE_BUNDLE: '0' });
    t.true(withBundle.length > 5, `${scenario}: a history`);
    t.deepEqual(withBundle, withModules, `${scenario}, seed ${seed}`);
  }
});

const cliBundle = join(root, 'dist', 'cli', 'bundle', 'cli.js');
const vrange = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });

test('the build makes a fresh bundle of the CLI, and `vrange` loads it (the module tree with VRANGE_BUNDLE=0)', (t) => {
  t.true(freshBundle(cliBundle));
  const { inputs } = JSON.parse(readFileSync(join(root, 'dist', 'cli', 'bundle', 'inputs.json'), 'utf8')) as { inputs: string[] };
  for (const want of ['../cli.js', '../../harness/run.js', '../../coordinator/kernel.js', '../../checker/check.js', '../../report/html.js']) {
    t.true(inputs.includes(want), `inputs.json lists ${want}`);
  }
  // Node's module debug log names the parent of every CommonJS request, and no ES module: the
  // bundle's own requires name it (it is compiled by shared/code_cache.cjs, not loaded by require).
  const loads = (env: NodeJS.ProcessEnv) => vrange(['--help'], { NODE_DEBUG: 'module', ...env }).stderr;
  t.regex(loads({}), /REQUEST [^\n]* parent: [^\n]*dist\/cli\/bundle\/cli\.js/);
  t.notRegex(loads({ VRANGE_BUNDLE: '0' }), /dist\/cli\/bundle\/cli\.js/);
});

test('the CLI gives the same output with its bundle as with its module tree', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-bundle-cli-'));
  try {
    const html = (tag: string) => join(dir, `${tag}.html`);
    const cases: Array<[string, (tag: string) => string[]]> = [
      ['run, narrated', () => ['run', scenarioPath('fork-cow-purge'), '--seed', '1']],
      ['run --json', () => ['run', scenarioPath('file-shared-fvrange'), '--seed', '2', '--schedule', 'lockstep', '--json']],
      ['run --html', (tag) => ['run', scenarioPath('kill-cleanup'), '--seed', '3', '--schedule', 'lockstep', '--quiet', '--html', html(tag)]],
      ['explore', () => ['explore', scenarioPath('challenge-2-purge-or-keep'), '--runs', '4', '--seed', '5']],
      ['a bad file', () => ['run', join(dir, 'missing.yaml')]],
      ['a bad option', () => ['run', scenarioPath('fork-cow-purge'), '--seed', 'x']],
      ['list', () => ['list']],
    ];
    const strip = (s: string) => s.replace(/OS pid \d+/g, 'OS pid N').replace(/\d+(\.\d+)? ?(ms|s)\b/g, 'T').replace(/vrange-run-\w+/g, 'RUN');
    for (const [what, args] of cases) {
      const a = vrange(args('bundle')), b = vrange(args('tree'), { VRANGE_BUNDLE: '0' });
      t.is(a.status, b.status, `${what}: exit status`);
      t.is(strip(a.stdout), strip(b.stdout), `${what}: stdout`);
      t.is(strip(a.stderr), strip(b.stderr), `${what}: stderr`);
    }
    // The pages differ only in time stamps and OS pids.
    const page = (tag: string) => readFileSync(html(tag), 'utf8').replace(/\d+/g, '0');
    t.is(page('bundle'), page('tree'), 'run --html: the page');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
