// (11) Start-up: what the code caches (shared/code_cache.cjs) and the spares' low priority
// (coordinator/spare_priority.ts) save, each against the same thing without it, in the same run,
// alternating the two so that load changes hit both alike.
//  a. `vrange run scenarios/fork-cow-purge.yaml --seed 1 --quiet`: the CPU of the command and its
//     agents (user + system of the waited-for children, /proc/self/stat cutime + cstime) and its
//     wall time; baseline VRANGE_CODE_CACHE=0.
//  b. 16 agents started at boot, each running 5 steps: the agents' CPU alone (the kernel runs in a
//     child process of this one, its agents are its children: their CPU is the child's cutime +
//     cstime, which it prints; the pool's spares are agents too); baseline VRANGE_CODE_CACHE=0.
//  c. The reclaim benchmark's 25,000-page run (bench/reclaim.bench.ts), one fresh process a
//     sample: the window of its first (cold) reclaim; baseline VRANGE_CODE_CACHE=0
//     VRANGE_SPARE_NICE=0 (neither), then each alone, then both.
// CPU figures are Linux only (0 elsewhere). The table's title says whether spares can be lowered
// here at all (coordinator/spare_priority.ts): where not, "nice 19 only" is "neither".
//
// Run: node dist/bench/startup.bench.js [--json [FILE]] [--quick] [--repeats N]

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, parseArgs, summarise, type Row } from './lib.js';
import { runBench, scenarioOf } from './harness.js';
import { childrenCpuMs } from '../harness/phases.js';
import { sparePolicy } from '../coordinator/spare_priority.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const withEnv = (over: Record<string, string>): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.VRANGE_CODE_CACHE; delete env.VRANGE_SPARE_NICE;
  return { ...env, ...over };
};

function cliRun(env: Record<string, string>): { cpuMs: number; wallMs: number } {
  const c0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin', 'vrange.js'), 'run', join(root, 'scenarios', 'fork-cow-purge.yaml'), '--seed', '1', '--quiet'],
    { env: withEnv(env), encoding: 'utf8', timeout: 120_000 });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`vrange run failed (${r.status}): ${r.stderr}`);
  return { cpuMs: childrenCpuMs() - c0, wallMs };
}

/** 16 processes started at boot, 5 steps each, and a reclaim: the scenario of (b). */
export function bootScenario(n = 16): unknown {
  const processes: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    processes[`P${i}`] = { steps: [{ op: 'mmap', as: 'a', pages: 4 }, { op: 'write', map: 'a', page: 0, value: 'x' },
      { op: 'vrange', map: 'a', page: 0, pages: 4, mode: 'volatile' }, { op: 'wait', name: 'go' }, { op: 'vrange', map: 'a', page: 0, pages: 4, mode: 'nonvolatile' }] };
  }
  return { name: 'bench-startup', memory: { frames: 1000 }, processes, kernel: [{ op: 'reclaim', all: true }, { op: 'signal', name: 'go' }] };
}

/** (b) in a child process of this one: that child's own figure for its agents' CPU. */
function agentsRun(env: Record<string, string>): number {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--agents-probe'], { env: withEnv(env), encoding: 'utf8', timeout: 120_000 });
  const m = /^agents-cpu-ms (\S+)$/m.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`agents probe failed (${r.status}): ${r.stderr}`);
  return Number(m[1]);
}

/** (c): one fresh reclaim benchmark process at 25,000 pages, one repeat; its cold window in ms. */
function reclaimRun(env: Record<string, string>, pages: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'vrange-startup-bench-'));
  try {
    const out = join(dir, 'r.json');
    const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'dist', 'bench', 'reclaim.bench.js'), '--sizes', String(pages), '--repeats', '1', '--json', out],
      { env: withEnv(env), encoding: 'utf8', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`reclaim bench failed (${r.status}): ${r.stderr}`);
    const rep = JSON.parse(readFileSync(out, 'utf8')) as { rows: Row[] };
    const cold = rep.rows.find((row) => row.name.includes('cold') && row.extra?.reclaimMsMedian !== undefined)!;
    return cold.extra!.reclaimMsMedian as number;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function row(name: string, unit: string, xs: number[], base: number[], against: string, extra: Row['extra'] = {}): Row {
  const s = summarise(xs);
  return { name, unit, summary: s, ratio: s.median / summarise(base).median, against, extra };
}

async function main(): Promise<void> {
  if (process.argv.includes('--agents-probe')) {
    const c0 = childrenCpuMs();
    await runBench(scenarioOf(bootScenario()));
    process.stdout.write(`agents-cpu-ms ${childrenCpuMs() - c0}\n`);
    return;
  }
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 3 : 7);
  const off = { VRANGE_CODE_CACHE: '0' };
  const cli = { off: [] as Array<{ cpuMs: number; wallMs: number }>, on: [] as Array<{ cpuMs: number; wallMs: number }> };
  const agents = { off: [] as number[], on: [] as number[] };
  for (let r = 0; r < repeats; r++) {
    cli.off.push(cliRun(off)); cli.on.push(cliRun({}));
    agents.off.push(agentsRun(off)); agents.on.push(agentsRun({}));
  }
  const pages = args.quick ? 10_000 : 25_000;
  const variants: Array<[string, Record<string, string>]> = [
    ['neither (VRANGE_CODE_CACHE=0 VRANGE_SPARE_NICE=0)', { VRANGE_CODE_CACHE: '0', VRANGE_SPARE_NICE: '0' }],
    ['code caches only', { VRANGE_SPARE_NICE: '0' }],
    ['spares at nice 19 only', { VRANGE_CODE_CACHE: '0' }],
    ['both (the default)', {}],
  ];
  const windows = variants.map(() => [] as number[]);
  const reclaimRepeats = args.quick ? 2 : Math.max(3, Math.ceil(repeats / 2));
  for (let r = 0; r < reclaimRepeats; r++) variants.forEach(([, env], i) => windows[i]!.push(reclaimRun(env, pages)));
  const rows: Row[] = [
    row('vrange run fork-cow-purge: CPU of the command and its agents, no code cache (baseline)', 'ms', cli.off.map((x) => x.cpuMs), cli.off.map((x) => x.cpuMs), 'no code cache'),
    row('the same, with the code caches', 'ms', cli.on.map((x) => x.cpuMs), cli.off.map((x) => x.cpuMs), 'no code cache'),
    row('vrange run fork-cow-purge: wall time, no code cache (baseline)', 'ms', cli.off.map((x) => x.wallMs), cli.off.map((x) => x.wallMs), 'no code cache'),
    row('the same, with the code caches', 'ms', cli.on.map((x) => x.wallMs), cli.off.map((x) => x.wallMs), 'no code cache'),
    row('16 agents at boot, 5 steps each: the agents\' CPU, no code cache (baseline)', 'ms', agents.off, agents.off, 'no code cache'),
    row('the same, with the agent\'s code cache', 'ms', agents.on, agents.off, 'no code cache'),
    ...variants.map(([label], i) => row(`reclaim of ${pages.toLocaleString('en')} pages x 16 agents, first (cold) window, a fresh process: ${label}`, 'ms', windows[i]!, windows[0]!, 'neither')),
  ];
  emit({ bench: 'startup', what: `what the code caches and the spares' low priority save, each against the same run without it (spares can be lowered here: ${sparePolicy().on ? 'yes' : 'no'})`, rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
