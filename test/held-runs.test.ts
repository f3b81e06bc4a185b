// Reclaim by runs (issue 14): the agent's held pages as runs (agents/held.ts), its page-table
// entries in typed chunks (agents/pte_table.ts) and the kernel's run operations on the rmap
// (coordinator/rmap.ts) give exactly what the page-by-page structures they replace give.
import test from 'ava';
import fc from 'fast-check';
import { Agent } from '../agents/agent.js';
import { HeldPages, subtract } from '../agents/held.js';
import { PteTable } from '../agents/pte_table.js';
import { Vma, PTE_ANONZERO, PTE_COW, PTE_PURGED } from '../agents/mm.js';
import { FrameTable } from '../coordinator/frames.js';
import { Rmap } from '../coordinator/rmap.js';
import { pagesOf, runsOf } from '../shared/runs.js';

const sortedPages = fc.uniqueArray(fc.integer({ min: 0, max: 1500 }), { maxLength: 200 }).map((a) => a.sort((x, y) => x - y));

test('subtract and notHeldBy: the pages of a that b lacks, as runs', (t) => {
  t.deepEqual(subtract([1, 10], [3, 2, 8, 5]), [1, 2, 5, 3]);
  fc.assert(fc.property(sortedPages, sortedPages, (a, b) => {
    const inB = new Set(b);
    t.deepEqual(pagesOf(subtract(runsOf(a), runsOf(b))), a.filter((p) => !inB.has(p)));
  }));
  const held = new HeldPages();
  held.hold(1, 10, 20);
  held.hold(1, 20, 25); // joined to the run before
  held.hold(2, 30, 31);
  t.is(held.size, 16);
  t.deepEqual(held.notHeldBy(1, [8, 4, 24, 10]), [8, 2, 25, 9]);
  t.deepEqual(held.holderIn(0, 100), { xid: 1, page: 10 });
  t.deepEqual(held.holderIn(25, 100), { xid: 2, page: 30 });
  t.is(held.holderIn(26, 30), undefined);
  t.is(held.holderOf(30), 2);
  t.throws(() => held.hold(2, 24, 26), { message: /page 24 held twice \(exchanges 1 and 2\)/ });
  held.release(1);
  t.is(held.size, 1);
  t.is(held.holderIn(0, 30), undefined);
});

test('PteTable answers as the Map it replaces, entries listed in page order', (t) => {
  const ops = fc.array(fc.tuple(fc.constantFrom('set', 'delete', 'purge'), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 700 })), { maxLength: 80 });
  // Entries are 32-bit slots (an entry is below 2^31: frames < framesMax, times 64, plus flags); a larger one is refused.
  t.throws(() => new PteTable().set(0, 2 ** 31), { message: /page-table entry 0 set to 2147483648/ });
  fc.assert(fc.property(ops, (list) => {
    const table = new PteTable();
    const map = new Map<number, number>();
    for (const [op, i, e, n] of list) {
      if (op === 'set') { table.set(i, e); map.set(i, e); }
      else if (op === 'delete') t.is(table.delete(i), map.delete(i));
      else {
        // Purge: flags get PURGED, lose COW; the frame goes (own frames) or stays.
        const drop = e % 2 === 0;
        table.rewriteFlags(i, i + n, 8, PTE_PURGED, PTE_COW, drop);
        for (let k = i; k < i + n; k++) { const x = map.get(k) ?? 0; map.set(k, (drop ? 0 : x - (x % 8)) + (((x % 8) | PTE_PURGED) & ~PTE_COW)); }
      }
    }
    t.is(table.size, map.size);
    t.deepEqual([...table.entries()], [...map].sort((a, b) => a[0] - b[0]));
    for (const [i, e] of map) t.is(table.get(i), e);
  }));
});

test('Vma.markPurged sets each page as the commit did page by page', (t) => {
  for (const kind of ['anon', 'file-private', 'file-shared'] as const) {
    const vma = Vma.fresh(100, 1200, kind, kind === 'anon' ? -1 : 0, 0);
    vma.setPte(3, 7, PTE_COW);
    vma.setPte(700, 9, 0);
    vma.markPurged(2, 701);
    const own = kind !== 'file-shared';
    t.is(vma.frameAt(3), own ? -1 : 7, kind);
    t.is(vma.flagsAt(3), PTE_PURGED | (kind === 'file-private' ? PTE_ANONZERO : 0), kind);
    t.is(vma.frameAt(700), own ? -1 : 9, kind);
    t.is(vma.flagsAt(2), PTE_PURGED | (kind === 'file-private' ? PTE_ANONZERO : 0), kind);
    t.is(vma.flagsAt(701), 0, kind);
    t.is(vma.ptes.size, 699, `${kind}: one entry a purged page`);
  }
});

test('Rmap.dropFrames drops a run of shared frames as frame-by-frame removal would, and remembers them purged', (t) => {
  const frames = new FrameTable(4096);
  const rmap = new Rmap(frames);
  const first = frames.alloc(0);
  for (let k = 1; k < 1100; k++) frames.alloc(0);
  // Three mappers of 1,100 consecutive frames, at different vpages (a chunk boundary crossed).
  for (let k = 0; k < 1100; k++) {
    rmap.add(2, 10 + k, first + k, 'anon');
    rmap.add(3, 500 + k, first + k, 'anon');
    rmap.add(4, 1 + k, first + k, 'anon');
    frames.decref(first + k); // the allocation's own reference: the mappers hold the frame now
  }
  t.is(rmap.anonRunFrom(3, 500, first, 5000), 1100);
  t.is(rmap.anonRunFrom(3, 501, first, 5000), 0, 'the entry at 501 is frame first + 1, not first');
  const runs: number[][] = [];
  rmap.forEachAnonRun(2, (v, f, n) => runs.push([v, f, n]));
  t.deepEqual(runs, [[10, first, 1100]]);
  rmap.dropFrames(first, 1100);
  t.is(frames.used, 0);
  t.is(rmap.resident(2) + rmap.resident(3) + rmap.resident(4), 0);
  t.true(rmap.wasPurgedFrom(3, 500 + 1099, first + 1099));
  t.false(rmap.wasPurgedFrom(3, 500 + 1099, first + 1098));
});

test('an agent answers a prepare with runs, holds them, and lists page by page what a commit purges that it did not hold or have volatile', (t) => {
  const sent: Array<Record<string, any>> = [];
  const socket = { send: (m: Record<string, any>) => sent.push(m) } as unknown as ConstructorParameters<typeof Agent>[0];
  const agent = new Agent(socket, 'agent-test');
  // Its process first (an agent judges the order of what the kernel sends: no prepare before an init).
  agent.receive({ t: 'init', id: 1, pid: 2, name: 'A', steps: [], sigbus: 'kill',
    config: { policy: 'shared-file', access: 'sigbus', purgeUnit: 'range', frames: 8, seed: 1, schedule: 'free' } });
  t.deepEqual(sent.pop(), { t: 'ready', re: 1 });
  agent.mm.insert(Vma.fresh(1, 2000, 'anon', -1, 0));
  agent.mm.ranges.mark(1, 1001, 5); // pages 1-1000 volatile
  agent.mm.vmas[0]!.setPte(0, 7, PTE_COW);
  agent.receive({ t: 'prepare', xid: 1, runs: [1, 1500] });
  t.deepEqual(sent.pop(), { t: 'prepared', xid: 1, runs: [1, 1000, agent.mm.ranges.at(1)!.id, 5] });
  t.is(agent.held.size, 1000, 'the answered pages are held, as one run');
  t.deepEqual(agent.held.holderIn(999, 1003), { xid: 1, page: 999 }, 'a step touching a held page waits for exchange 1');
  t.is(agent.held.holderIn(1001, 1003), undefined);
  // The commit purges pages 999-1002: 1001 and 1002 were neither held nor volatile.
  agent.receive({ t: 'commit', xid: 1, runs: [999, 4], last: true });
  t.deepEqual(sent.pop(), { t: 'committed', xid: 1, violations: [
    'page 1001 purged but not held by exchange 1', 'page 1001 purged but not volatile in pid 2',
    'page 1002 purged but not held by exchange 1', 'page 1002 purged but not volatile in pid 2'] });
  t.is(agent.held.size, 0, 'the last commit releases every held page');
  t.is(agent.mm.vmas[0]!.flagsAt(998), PTE_PURGED);
  t.is(agent.mm.vmas[0]!.flagsAt(0), PTE_COW, 'page 1 was held, not purged: unchanged');
  t.is(agent.mm.vmas[0]!.frameAt(0), 7);
});

test('Vma.markPurged of whole chunks after fork: alike flags filled at once, unlike flags each kept', (t) => {
  // Pages 0-1535 of an anonymous VMA, every one with a frame; chunk 1 (pages 512-1023) has one page with other flags.
  const vma = Vma.fresh(1, 1536, 'anon', -1, 0);
  for (let i = 0; i < 1536; i++) vma.setPte(i, 1000 + i, PTE_COW);
  vma.setPte(600, 2000, PTE_COW | PTE_ANONZERO);
  vma.markPurged(0, 1536);
  for (const i of [0, 511, 512, 599, 601, 1023, 1024, 1535]) {
    t.is(vma.frameAt(i), -1, `page ${i}`);
    t.is(vma.flagsAt(i), PTE_PURGED, `page ${i}`);
  }
  t.is(vma.flagsAt(600), PTE_PURGED | PTE_ANONZERO, 'its own flag kept, COW gone');
  t.is(vma.ptes.size, 1536);
});
