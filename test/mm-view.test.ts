// The mm view an agent sends with `ready` and every `done` under --html (agents/mm.ts view): the
// pages purged while volatile, and the volatile ranges with the lazyfree (madv-free) pages merged
// in, as the page-by-page definition gives them, for any page tables and ranges; and
// PteTable.bitsIn, the typed pass that lets view() skip a VMA with neither flag.
import test from 'ava';
import fc from 'fast-check';
import { Mm, Vma, PTE_COW, PTE_LAZYFREE, PTE_PURGED, PTE_YOUNG } from '../agents/mm.js';
import { PteTable } from '../agents/pte_table.js';
import type { MmView } from '../shared/messages.js';

/** The view by its definition: every page of every VMA, in order. */
function viewByPages(mm: Mm): MmView {
  const maps: MmView['maps'] = [];
  for (const [key, b] of mm.bindings) if (b.kind === 'map' && b.pages > 0) maps.push([key.slice('map:'.length), b.addr, b.pages]);
  const purged: number[] = [];
  const lazy: Array<[number, number]> = [];
  for (const vma of mm.vmas) {
    for (let i = 0; i < vma.pages; i++) {
      const f = vma.flagsAt(i);
      if (f & PTE_PURGED) purged.push(vma.start + i);
      if (vma.kind === 'anon' && f & PTE_LAZYFREE) {
        const last = lazy[lazy.length - 1];
        if (last && last[0] + last[1] === vma.start + i) last[1]++; else lazy.push([vma.start + i, 1]);
      }
    }
  }
  // Volatile: the union of the mm's ranges and the lazyfree runs, coalesced.
  const marks = new Set<number>();
  for (const [s, n] of [...mm.ranges.coalesced(), ...lazy]) for (let v = s; v < s + n; v++) marks.add(v);
  const volatile: Array<[number, number]> = [];
  for (const v of [...marks].sort((a, b) => a - b)) {
    const last = volatile[volatile.length - 1];
    if (last && last[0] + last[1] === v) last[1]++; else volatile.push([v, 1]);
  }
  return { maps, volatile, purged };
}

const flagBits = fc.constantFrom(0, PTE_PURGED, PTE_LAZYFREE, PTE_COW, PTE_YOUNG, PTE_PURGED | PTE_COW, PTE_LAZYFREE | PTE_YOUNG);
const vmaArb = fc.record({
  pages: fc.integer({ min: 1, max: 1100 }),
  kind: fc.constantFrom('anon', 'anon', 'file-private', 'file-shared', 'shmem'),
  ptes: fc.array(fc.tuple(fc.nat(1099), fc.integer({ min: -1, max: 50 }), flagBits), { maxLength: 60 }),
});

test('view() gives the purged pages and the volatile ranges (lazyfree merged) of the page-by-page definition', (t) => {
  fc.assert(fc.property(fc.array(vmaArb, { maxLength: 4 }), fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: 1, max: 300 })), { maxLength: 5 }), (vmas, marks) => {
    const mm = new Mm();
    let start = 16;
    vmas.forEach((v, k) => {
      const vma = Vma.fresh(start, v.pages, v.kind as 'anon', v.kind === 'anon' ? -1 : 0, 0);
      for (const [i, frame, flags] of v.ptes) if (i < v.pages && !(frame === -1 && flags === 0)) vma.setPte(i, frame, flags);
      mm.insert(vma);
      mm.bindings.set(`map:m${k}`, { kind: 'map', addr: start, pages: v.pages });
      start += v.pages + (k % 2);
    });
    for (const [s, n] of marks) mm.ranges.mark(s, s + n, 1);
    t.deepEqual(mm.view(), viewByPages(mm));
  }), { numRuns: 300, seed: 7 });
});

test('PteTable.bitsIn is the OR of the masked bits of the entries in the span', (t) => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.nat(3000), fc.integer({ min: 1, max: 2 ** 20 })), { maxLength: 50 }), fc.nat(3100), fc.nat(3100), fc.integer({ min: 1, max: 63 }), (entries, x, y, mask) => {
    const table = new PteTable();
    for (const [i, e] of entries) table.set(i, e);
    const [a, b] = x <= y ? [x, y] : [y, x];
    let want = 0;
    for (const [i, e] of table) if (i >= a && i < b) want |= e;
    t.is(table.bitsIn(a, b, mask), want & mask);
  }), { numRuns: 300, seed: 11 });
});
