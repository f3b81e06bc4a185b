// The per-step paths made cheaper for the 16 x 1,008-page run (docs/performance.md, "The lockstep
// step's CPU"): each shortcut gives what the longer way gave. The agent's mm view (taken at every
// `done` under --html) is one walk of each page table; the page map finds a page's volatile span
// by one walk of the view's spans when they ascend, and by a search of every span when a forged
// view's do not.

import test from 'ava';
import { Mm, PTE_LAZYFREE, PTE_PURGED, PTE_YOUNG, Vma } from '../agents/mm.js';
import { PteTable } from '../agents/pte_table.js';
import { Snapshots } from '../report/snapshot.js';
import type { Kernel } from '../coordinator/kernel.js';
import type { Proc } from '../coordinator/process_table.js';
import type { MmView } from '../shared/messages.js';

test('PteTable.forEach walks the entries in page order, as entries() does, over chunks made in any order', (t) => {
  const pt = new PteTable();
  for (const i of [1600, 3, 515, 0, 1023, 1024, 511, 2048 * 3 + 7]) pt.set(i, i + 1);
  const walked: Array<[number, number]> = [];
  pt.forEach((i, e) => walked.push([i, e]));
  t.deepEqual(walked, [...pt.entries()]);
  t.deepEqual(walked.map(([i]) => i), [0, 3, 511, 515, 1023, 1024, 1600, 2048 * 3 + 7]);
});

/** The mm view as the agent drew it before (touchedIn and flagsAt a page, a walk for purged and one for lazyfree). */
function viewBefore(mm: Mm): MmView {
  const maps: MmView['maps'] = [];
  for (const [key, b] of mm.bindings) if (b.kind === 'map' && b.pages > 0) maps.push([key.slice('map:'.length), b.addr, b.pages]);
  const purged: number[] = [];
  for (const vma of mm.vmas) for (const i of vma.touchedIn(vma.start, vma.end)) if ((vma.flagsAt(i) & PTE_PURGED) !== 0) purged.push(vma.start + i);
  const lazy: Array<[number, number]> = [];
  for (const vma of mm.vmas) {
    if (vma.kind !== 'anon') continue;
    for (const i of vma.touchedIn(vma.start, vma.end)) {
      if ((vma.flagsAt(i) & PTE_LAZYFREE) === 0) continue;
      const v = vma.start + i;
      const last = lazy[lazy.length - 1];
      if (last && last[0] + last[1] === v) last[1]++;
      else lazy.push([v, 1]);
    }
  }
  const ranges = mm.ranges.coalesced();
  if (lazy.length === 0) return { maps, volatile: ranges, purged };
  const all = [...ranges, ...lazy].sort((x, y) => x[0] - y[0]);
  const volatile: Array<[number, number]> = [];
  for (const [s, n] of all) {
    const last = volatile[volatile.length - 1];
    if (last && last[0] + last[1] >= s) last[1] = Math.max(last[1], s + n - last[0]);
    else volatile.push([s, n]);
  }
  return { maps, volatile, purged };
}

test('the mm view is what a page-by-page walk gives: purged pages of every VMA, lazyfree runs of anonymous ones, across chunks and VMAs', (t) => {
  const mm = new Mm();
  // Two adjacent anonymous VMAs (a lazyfree run may cross from one into the next), a private file VMA, a gap, another.
  mm.insert(Vma.fresh(1, 2000, 'anon', -1, 0));
  mm.insert(Vma.fresh(2001, 600, 'anon', -1, 0));
  mm.insert(Vma.fresh(2601, 300, 'file-private', 0, 0));
  mm.insert(Vma.fresh(5000, 10, 'anon', -1, 0));
  const [a, b, f, c] = mm.vmas as [Vma, Vma, Vma, Vma];
  // Entries made out of page order (chunk 3 before chunk 0), with every mix of the two flags.
  for (const i of [1999, 1600, 3, 4, 5, 511, 512, 1024]) a.setPte(i, i % 7 === 0 ? -1 : i, i % 3 === 0 ? PTE_PURGED : PTE_LAZYFREE | PTE_YOUNG);
  a.setPte(100, 5, PTE_PURGED | PTE_LAZYFREE);
  b.setPte(0, 9, PTE_LAZYFREE);
  b.setPte(1, -1, PTE_PURGED);
  f.setPte(10, -1, PTE_PURGED | PTE_LAZYFREE); // lazyfree counts in anonymous VMAs only
  f.setPte(11, 4, PTE_LAZYFREE);
  c.setPte(9, 3, 0 | PTE_YOUNG);
  mm.ranges.mark(10, 20, 1);
  mm.ranges.mark(1990, 2010, 2);
  mm.bindings.set('map:buf', { kind: 'map', addr: 1, pages: 2000 });
  mm.bindings.set('fd:f', { kind: 'fd', fd: 3 });
  mm.bindings.set('map:gone', { kind: 'map', addr: -(2 ** 40), pages: 0 });
  const before = viewBefore(mm);
  t.deepEqual(mm.view(), before);
  t.true(before.purged.length > 3 && before.volatile.length > 2, 'the example has purged pages and lazyfree runs');
  t.deepEqual(mm.lazyfree.length, 6);
  // No lazyfree page: the view's volatile spans are the mm's ranges themselves.
  const plain = new Mm();
  plain.insert(Vma.fresh(1, 8, 'anon', -1, 0));
  plain.vmas[0]!.setPte(2, -1, PTE_PURGED);
  plain.ranges.mark(1, 5, 1);
  t.deepEqual(plain.view(), viewBefore(plain));
  t.deepEqual(plain.view().volatile, [[1, 4]]);
});

/** The letters of an 8-page anonymous binding at page 1 with nothing resident, drawn from `volatile`. */
function lettersFor(volatile: MmView['volatile']): string {
  const vma = { start: 1, pages: 8, kind: 'anon', fileId: -1, offset: 0 };
  const proc = { name: 'A', pid: 2, live: true, vmas: [vma], vmaAt: (v: number) => (v >= 1 && v < 9 ? vma : undefined) } as unknown as Proc;
  const k = { procs: [proc], files: [], frames: { used: 0, total: 16 },
    rmap: { lookup: () => undefined, referencesTo: () => 0 } } as unknown as Kernel;
  const snaps = new Snapshots(k);
  snaps.mmView(proc, { maps: [['buf', 1, 8]], volatile, purged: [] });
  return snaps.take(0).maps[0]!.pages;
}

test('the page map reads a view\'s volatile spans alike whether they ascend or not (a forged view may send them in any order)', (t) => {
  t.is(lettersFor([[2, 2], [6, 1]]), 'aAAaaAaa');
  t.is(lettersFor([[6, 1], [2, 2]]), 'aAAaaAaa');
  t.is(lettersFor([[2, 3], [3, 1], [6, 1]]), 'aAAAaAaa'); // overlapping
  t.is(lettersFor([[1, 8]]), 'AAAAAAAA');
  t.is(lettersFor([]), 'aaaaaaaa');
  t.is(lettersFor([[8, 1], [1, 1]]), 'AaaaaaaA');
});
