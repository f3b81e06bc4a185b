// Memory grows with what is touched, not with what is mapped (issue 11, item 5): a VMA costs the
// same whatever its length, page-table entries exist only for touched pages (in the agents, in the
// fork snapshot, in the kernel's page cache), agents are started for processes that will run, and
// the page map of `--html` does not draw millions of untouched pages. The measures are structural
// (entries sent at fork, agents started, typed-array bytes, snapshot row lengths), read
// deterministically; one coarse bound on the whole run's resident memory backs them up. Serial:
// the process counts are of this worker's children.

import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '../coordinator/kernel.js';
import { sysMmap } from '../coordinator/mmap.js';
import { runFree, runLockstep } from '../coordinator/scheduler.js';
import { checkInvariants } from '../checker/invariants.js';
import { FrameTable } from '../coordinator/frames.js';
import { Mm, Vma } from '../agents/mm.js';
import { parseScenario } from '../shared/scenario.js';
import type { Scenario, RunConfig } from '../shared/scenario-types.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { pageMapRowPagesMax, Snapshots } from '../report/snapshot.js';
import { Expectations } from '../checker/expectations.js';
import { runScenario } from '../harness/run.js';
import { queryPagesMax } from '../shared/limits.js';

const MB = 1024 * 1024;
const hugePages = 4_000_000;

/** The 4 KB scenario: 20 mmaps of 4,000,000 pages, one page written in each, a fork; the child reads them back. */
function hugeScenario(): string {
  const lines = ['name: huge-maps', 'memory: { frames: 64 }', 'processes:', '  A:', '    steps:'];
  for (let i = 0; i < 20; i++) lines.push(`      - { op: mmap, as: m${i}, pages: ${hugePages} }`);
  for (let i = 0; i < 20; i++) lines.push(`      - { op: write, map: m${i}, page: ${hugePages - 1 - i}, value: v${i} }`);
  lines.push('      - { op: fork, child: B }', '  B:', '    forked: true', '    steps:');
  for (let i = 0; i < 20; i++) lines.push(`      - { op: read, map: m${i}, page: ${hugePages - 1 - i}, expect: { value: v${i} } }`);
  return lines.join('\n') + '\n';
}

function configOf(s: Scenario, over: Partial<RunConfig> = {}): RunConfig {
  return { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: s.memory.frames, seed: 1, schedule: 'lockstep', ...over };
}

/** This process's children and their children (the agents, and any process they start), from /proc. */
function descendants(): number[] {
  const kids = (pid: number): number[] => {
    const out: number[] = [];
    try {
      for (const task of readdirSync(`/proc/${pid}/task`)) {
        for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').split(' ').filter(Boolean)) out.push(Number(c), ...kids(Number(c)));
      }
    } catch { /* gone meanwhile */ }
    return out;
  };
  return kids(process.pid);
}

/** Resident memory (kB) of the descendants. */
function childrenRssKb(pids: number[]): number {
  const rss = (pid: number): number => {
    try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { return 0; }
  };
  return pids.reduce((n, pid) => n + rss(pid), 0);
}

/** Runs a scenario in this process (real agents as children) and hands back the kernel. */
async function run(yaml: string, over: Partial<RunConfig> = {}, opts: { traceMessages?: boolean; snapshots?: boolean } = {}):
  Promise<{ kernel: Kernel; history: HistoryEvent[]; failed: string[]; peakMb: number; peakProcs: number }> {
  const scenario = parseScenario(yaml, 'memory.yaml');
  const config = configOf(scenario, over);
  const runDir = mkdtempSync(join(tmpdir(), 'vrange-memory-'));
  const judge = new Expectations(config.policy);
  const kernel = new Kernel({ scenario, config, runDir, traceMessages: opts.traceMessages ?? false, hooks: judge.hooks });
  if (opts.snapshots) kernel.addObserver(new Snapshots(kernel));
  const base = process.memoryUsage().rss;
  let peak = 0;
  let peakProcs = 0;
  const sample = () => {
    const pids = descendants();
    peakProcs = Math.max(peakProcs, pids.length);
    peak = Math.max(peak, childrenRssKb(pids) * 1024 + process.memoryUsage().rss - base);
  };
  const timer = setInterval(sample, 20);
  try {
    await kernel.start();
    if (config.schedule === 'lockstep') await runLockstep(kernel); else await runFree(kernel);
  } catch (e) {
    kernel.violation('run-completed', (e as Error).message);
  } finally {
    sample();
    clearInterval(timer);
    await kernel.shutdown();
    rmSync(runDir, { recursive: true, force: true });
  }
  const failed = checkInvariants(kernel).filter((i) => !i.ok).map((i) => `${i.name}: ${i.detail ?? ''}`);
  for (const v of kernel.violations) failed.push(`${v.name}: ${v.text}`);
  for (const f of judge.failures) failed.push(`${f.process} #${f.index}: expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}`);
  return { kernel, history: kernel.history.events, failed, peakMb: peak / MB, peakProcs };
}

test.serial('20 mmaps of 4,000,000 pages and a fork: the fork sends one page-table entry per touched page, and the run stays small', async (t) => {
  const r = await run(hugeScenario(), {}, { traceMessages: true });
  t.deepEqual(r.failed, []);
  const fork = r.history.find((e) => e.kind === 'message' && e.dir === 'recv' && (e.msg as { t: string }).t === 'fork');
  const vmas = (fork!.msg as { mm: { vmas: Array<{ pages: number; frames: ArrayLike<number> }> } }).mm.vmas;
  t.is(vmas.length, 20);
  t.true(vmas.every((v) => v.pages === hugePages));
  // The snapshot is the parent's page table as it crosses the socket: 20 entries, one per written page.
  t.is(vmas.reduce((n, v) => n + v.frames.length, 0), 20);
  // The kernel's side: no page cache, one rmap entry per page written (parent and child).
  t.is(r.kernel.steps.filter((s) => s.process === 'B' && s.result.ok).length, 20);
  t.is(r.kernel.agentsStarted, 2, 'A and B, no agent idle in the pool: no fork is left once B is born');
  // A coarse second line: the whole run (kernel growth plus every agent) well under 400 MB.
  t.true(r.peakMb < 400, `peak ${r.peakMb.toFixed(0)} MB`);
});

test.serial('1,023 forked processes never forked start no agent of their own; reachable forks get a bounded pool', async (t) => {
  const decl = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `  F${i + from}:\n    forked: true\n    steps: [ { op: exit } ]`).join('\n');
  const never = await run(`name: never\nprocesses:\n  A:\n    steps: [ { op: signal, name: s } ]\n${decl(1023)}\n`);
  t.deepEqual(never.failed, []);
  t.is(never.kernel.agentsStarted, 1, 'only A runs: no fork step names any F, so none is started ahead');
  t.true(never.peakProcs <= 1, `${never.peakProcs} processes seen at once`);
  // A forks two of them one after another; the other 1,021 are never named.
  const some = await run(`name: some\nprocesses:\n  A:\n    steps: [ { op: fork, child: F0 }, { op: fork, child: F1 } ]\n${decl(1022)}\n`);
  t.deepEqual(some.failed, []);
  t.is(some.kernel.procs.filter((p) => p.state !== 'unborn').length, 3);
  t.true(some.kernel.agentsStarted <= 3, `${some.kernel.agentsStarted} agents for 3 processes`);
  t.true(some.peakProcs <= 3, `${some.peakProcs} processes seen at once`);
});

test.serial('a shared anonymous mmap of 100,000,000 pages costs the kernel O(1): no page-cache array, no frame array per frame', async (t) => {
  const scenario = parseScenario('name: remote-mmap\nprocesses:\n  A:\n    steps: [ { op: exit } ]\n', 'remote.yaml');
  const kernel = new Kernel({ scenario, config: configOf(scenario, { frames: 4_000_000 }), runDir: '/nonexistent', traceMessages: false });
  const proc = kernel.procs[0]!;
  proc.state = 'running';
  const before = process.memoryUsage().arrayBuffers;
  // What a remote agent's mmap reaches (the message entry is another matter): beyond every limit.
  const sys = (p: typeof proc, m: Parameters<typeof sysMmap>[2]) => sysMmap(kernel, p, m) as { fileId?: number; errno?: string };
  const r = sys(proc, { t: 'mmap', id: 1, addr: 1, pages: 100_000_000, fd: -1, offset: 0, share: 'shared' });
  const r2 = sys(proc, { t: 'mmap', id: 2, addr: 100_000_001, pages: 100_000_000, fd: -1, offset: 0, share: 'private' });
  t.is(r2.errno, undefined);
  const grown = process.memoryUsage().arrayBuffers - before;
  t.true(grown < 4 * MB, `mmap of 2 x 100,000,000 pages took ${(grown / MB).toFixed(1)} MB of typed arrays`);
  const shm = kernel.files[r.fileId!]!;
  t.is(shm.pages, 100_000_000);
  t.is(shm.residentPages(), 0);
  // A kernel of 4,000,000 frames that uses none holds no per-frame arrays of that size either.
  const ft = new FrameTable(4_000_000);
  t.true(ft.refcount.length <= 1024 && ft.free === 4_000_000);
  const f = Array.from({ length: 3000 }, () => ft.alloc(0));
  t.deepEqual(f.slice(0, 3), [0, 1, 2]);
  t.is(ft.used, 3000);
  t.true(ft.refcount.length < 8192);
  await kernel.shutdown();
});

test.serial('agent page tables: a 4,000,000-page VMA holds entries only for touched pages, through fork and munmap', (t) => {
  const mm = new Mm();
  const before = process.memoryUsage().arrayBuffers;
  for (let i = 0; i < 20; i++) mm.insert(Vma.fresh(1 + i * hugePages, hugePages, 'anon', -1, 0));
  const v = mm.vmas[3]!;
  v.setPte(hugePages - 1, 7, 0);
  v.setPte(5, 9, 0);
  const snap = mm.snapshotForFork();
  t.true(process.memoryUsage().arrayBuffers - before < 4 * MB);
  t.is(snap.vmas.reduce((n, s) => n + s.frames.length, 0), 2);
  const child = Mm.fromSnapshot(snap);
  t.is(child.pteCount, 2);
  const c3 = child.vmas[3]!;
  t.is(c3.frameAt(hugePages - 1), 7);
  t.is(c3.frameAt(5), 9);
  t.is(c3.frameAt(6), -1);
  t.not(c3.flagsAt(5), 0, 'copy-on-write after the fork');
  // munmap of the middle: the pieces keep their own entries, shifted to their new starts.
  child.unmap(c3.start + 1, c3.start + hugePages - 1);
  const [head, tail] = child.vmas.filter((x) => x.start === c3.start || x.start === c3.start + hugePages - 1);
  t.is(head!.pages, 1);
  t.is(head!.ptes.size, 0);
  t.is(tail!.frameAt(0), 7);
});

test.serial('the --html page map lists touched pages of a 4,000,000-page mapping, not every page', async (t) => {
  const yaml = `name: html-huge\nmemory: { frames: 8 }\nprocesses:\n  A:\n    steps:\n`
    + `      - { op: mmap, as: big, pages: ${hugePages} }\n      - { op: write, map: big, page: 3999000, value: x }\n`
    + `      - { op: vrange, map: big, page: 0, pages: ${hugePages}, mode: volatile }\n`;
  const r = await run(yaml, {}, { snapshots: true });
  t.deepEqual(r.failed, []);
  const snaps = r.history.filter((e) => e.kind === 'snapshot');
  t.true(snaps.length >= 3);
  // Delta snapshots (docs/history-format.md): a long row is `sparse`, its runs name touched pages only.
  type Row = { name: string; size: number; sparse?: boolean; set: Array<[number, number, string]> };
  const rows = snaps.map((e) => (e.maps as unknown as Row[]).find((m) => m.name === 'big')).filter((m) => m !== undefined);
  t.true(rows.length >= 1);
  t.true(rows.every((m) => m.sparse === true && m.size === hugePages && m.set.reduce((a, [, n]) => a + n, 0) <= pageMapRowPagesMax));
  t.deepEqual([...new Set(rows.flatMap((m) => m.set.map(([p, n]) => `${p}+${n}`)))], ['3999000+1']);
  t.deepEqual(rows.at(-1)!.set, [[3999000, 1, 'R']], 'resident and volatile');
});

test.serial('a query of more than queryPagesMax pages is E2BIG in the agent, the kernel and the model; one of queryPagesMax is told in runs', async (t) => {
  const n = queryPagesMax;
  const yaml = `name: big-query\nmemory: { frames: 8 }\nfiles:\n  - { name: f, pages: ${hugePages} }\nprocesses:\n  A:\n    steps:\n`
    + `      - { op: mmap, as: big, pages: ${hugePages} }\n      - { op: open, file: f }\n      - { op: write, map: big, page: 7, value: x }\n`
    + `      - { op: query, map: big, page: 0, pages: ${n + 1}, expect: { errno: E2BIG } }\n`
    + `      - { op: query, fd: f, page: 0, pages: ${n + 1}, expect: { errno: E2BIG } }\n`
    + `      - { op: query, map: big, page: 0, pages: ${n} }\n`;
  const scenario = parseScenario(yaml, 'big-query.yaml');
  const lines: string[] = [];
  const out = await runScenario(scenario, configOf(scenario), { checkModel: true, narrate: (l) => lines.push(l) });
  t.true(out.report.ok, JSON.stringify(out.report.invariants.filter((i) => !i.ok)));
  const model = out.report.invariants.find((i) => i.name === 'matches-model')!;
  t.true(model.ok && model.detail === undefined, JSON.stringify(model));
  const last = out.report.steps.find((s) => s.process === 'A' && s.index === 5)!;
  t.is((last.result.pages as unknown[]).length, n);
  const line = lines.find((l) => l.includes('#5 query'))!;
  t.true(line.length < 300, line);
  t.regex(line, /pages 0-6:--- 7:R-- 8-65535:---/);
});
