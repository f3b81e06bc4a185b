// Physical frames and the reverse map: pure kernel data structures.
import test from 'ava';
import { FrameTable } from '../coordinator/frames.js';
import { Rmap } from '../coordinator/rmap.js';
import { AddressSpace } from '../coordinator/address_space.js';

test('frames are conserved through alloc, incref and decref', (t) => {
  const ft = new FrameTable(4);
  const a = ft.alloc(1);
  const b = ft.alloc(2);
  t.is(ft.used, 2);
  t.is(ft.free, 2);
  ft.incref(a);
  t.false(ft.decref(a));
  t.true(ft.decref(a));
  t.is(ft.used, 1);
  t.is(ft.alloc(3), a, 'a freed frame is reused');
  t.true(ft.decref(b));
  ft.assertConserved();
});

test('an exhausted table returns -1, and a double free is an invariant failure', (t) => {
  const ft = new FrameTable(1);
  const f = ft.alloc(0);
  t.is(ft.alloc(0), -1);
  ft.decref(f);
  t.throws(() => ft.decref(f), { message: /not in use/ });
});

test('the reverse map finds every mapper and holds one reference each', (t) => {
  const ft = new FrameTable(8);
  const rmap = new Rmap(ft);
  const f = ft.alloc(0);
  rmap.add(2, 10, f, 'anon');
  rmap.add(3, 10, f, 'anon');
  ft.decref(f); // drop the allocation's reference: the two mappings hold it now
  t.deepEqual(rmap.mappers(f).map((m) => m.pid), [2, 3]);
  t.is(ft.refcount[f], 2);
  t.is(rmap.resident(2), 1);
  t.false(rmap.remove(2, 10)!.freed);
  t.true(rmap.remove(3, 10)!.freed);
  t.false(ft.isUsed(f));
  t.throws(() => { rmap.add(2, 11, f, 'anon'); }, { message: /not in use/ });
});

test('a page mapped twice at one address is an invariant failure', (t) => {
  const ft = new FrameTable(2);
  const rmap = new Rmap(ft);
  const f = ft.alloc(0);
  rmap.add(2, 1, f, 'anon');
  t.throws(() => rmap.add(2, 1, f, 'anon'), { message: /mapped twice/ });
});

test('final release: tmpfs keeps its pages, ashmem frees them; both lose volatility', (t) => {
  const ft = new FrameTable(4);
  for (const kind of ['tmpfs', 'ashmem'] as const) {
    const file = new AddressSpace(0, 'f', 2, kind);
    file.insert(0, ft.alloc(0), ft);
    file.ranges.mark(0, 2, 1);
    file.purged.add(1);
    const freed = file.finalRelease(ft);
    t.is(file.ranges.size, 0);
    t.false(file.purged.has(1));
    t.is(freed, kind === 'ashmem' ? 1 : 0);
    t.is(file.residentPages(), kind === 'ashmem' ? 0 : 1);
    if (kind === 'tmpfs') file.evict(0, ft);
  }
  t.is(ft.used, 0);
});
