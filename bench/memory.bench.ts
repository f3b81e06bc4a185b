// (7) Memory of a whole run: `vrange run` of the 4 KB scenario (20 mmaps of 4,000,000
// pages, one page written in each, a fork, the child reads the 20 pages back) against a 1-page
// baseline of the same shape (1 mmap of 1 page, a write, a fork, a read). Each run is the CLI as
// a user starts it, in its own process tree; the tree (the kernel and every agent) is sampled
// every 10 ms from /proc: the figure is the peak of the summed VmRSS over the tree (the memory
// the run held at once). Extras: the summed VmHWM of every process seen (an upper bound: the
// peaks need not coincide), the most processes seen at once, the wall time.
// Goal: the 4 KB scenario under 200 MB, close to the baseline (memory grows with what is touched).
//
// Run: node dist/bench/memory.bench.js [--json [FILE]] [--quick] [--repeats N]

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';

const bin = fileURLToPath(new URL('../../bin/vrange.js', import.meta.url));
const goalMb = 200;

function scenario(name: string, maps: number, pages: number): string {
  const lines = [`name: ${name}`, 'memory: { frames: 64 }', 'processes:', '  A:', '    steps:'];
  for (let i = 0; i < maps; i++) lines.push(`      - { op: mmap, as: m${i}, pages: ${pages} }`);
  for (let i = 0; i < maps; i++) lines.push(`      - { op: write, map: m${i}, page: ${pages - 1}, value: v${i} }`);
  lines.push('      - { op: fork, child: B }', '  B:', '    forked: true', '    steps:');
  for (let i = 0; i < maps; i++) lines.push(`      - { op: read, map: m${i}, page: ${pages - 1}, expect: { value: v${i} } }`);
  return lines.join('\n') + '\n';
}

function status(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024, hwm: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0) * 1024 };
  } catch { return undefined; }
}

function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) out.push(...tree(Number(c)));
    }
  } catch { /* gone meanwhile */ }
  return out;
}

/** One `vrange run` of `file`: peak summed RSS of its process tree, summed high-water marks, most processes at once. */
async function measure(file: string): Promise<{ peak: number; hwm: number; procs: number; ms: number }> {
  const t0 = nowMs();
  const child = spawn(process.execPath, [bin, 'run', file, '--seed', '1'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let peak = 0;
  let procs = 0;
  const hwm = new Map<number, number>();
  let done = false;
  void exited.then(() => { done = true; });
  while (!done) {
    const pids = tree(child.pid!);
    let sum = 0;
    for (const pid of pids) {
      const s = status(pid);
      if (!s) continue;
      sum += s.rss;
      hwm.set(pid, Math.max(hwm.get(pid) ?? 0, s.hwm));
    }
    peak = Math.max(peak, sum);
    procs = Math.max(procs, pids.length);
    await new Promise((r) => setTimeout(r, 10));
  }
  const code = await exited;
  if (code !== 0) throw new Error(`vrange run ${file} exited ${code}`);
  return { peak, hwm: [...hwm.values()].reduce((a, b) => a + b, 0), procs, ms: nowMs() - t0 };
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 3 : 5);
  const dir = mkdtempSync(join(tmpdir(), 'vrange-bench-memory-'));
  const cases = [
    { name: '1 mmap of 1 page, a write, a fork', file: join(dir, 'one.yaml'), text: scenario('bench-memory-one', 1, 1) },
    { name: '20 mmaps of 4,000,000 pages, 20 writes, a fork (the 4 KB scenario)', file: join(dir, 'huge.yaml'), text: scenario('bench-memory-huge', 20, 4_000_000) },
  ];
  const rows: Row[] = [];
  let base = 0;
  try {
    for (const c of cases) writeFileSync(c.file, c.text);
    for (const c of cases) {
      const runs: Array<Awaited<ReturnType<typeof measure>>> = [];
      await measure(c.file); // warm-up (disk cache, first compile): not recorded
      for (let r = 0; r < repeats; r++) runs.push(await measure(c.file));
      const summary = summarise(runs.map((x) => x.peak / 2 ** 20));
      if (base === 0) base = summary.median;
      rows.push({ name: c.name, unit: 'MB', summary, ratio: summary.median / base, against: '1 page',
        extra: { scenarioBytes: Buffer.byteLength(c.text), summedHwmMb: summarise(runs.map((x) => x.hwm / 2 ** 20)).median,
          processesAtOnce: Math.max(...runs.map((x) => x.procs)), wallMs: summarise(runs.map((x) => x.ms)).median } });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  emit({ bench: 'memory', what: 'peak resident memory of a whole vrange run (kernel and every agent, summed over the process tree)',
    goal: `the 4 KB scenario under ${goalMb} MB`, goalMet: rows[1]!.summary.median < goalMb, rows }, args);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
