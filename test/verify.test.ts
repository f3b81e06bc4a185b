// Verify mode (coordinator/verify.ts): each memory fact broken on purpose in real FrameTable, Rmap
// and AddressSpace objects, and verifyFrames naming that fact as a kernel invariant.
import test from 'ava';
import { FrameTable } from '../coordinator/frames.js';
import { Rmap } from '../coordinator/rmap.js';
import { AddressSpace } from '../coordinator/address_space.js';
import { verify, verifyFrames, verifyIfEnabled } from '../coordinator/verify.js';

/** pid 2 maps an anonymous page (vpage 1) and, shared, page 0 of file f (vpage 3); pid 3 maps that page too; one frame was freed. */
function memory() {
  const frames = new FrameTable(8);
  const rmap = new Rmap(frames);
  const f = new AddressSpace(0, 'f', 4, 'tmpfs');
  const anon = frames.alloc(1);
  rmap.add(2, 1, anon, 'anon');
  frames.decref(anon);
  const cached = frames.alloc(2);
  f.insert(0, cached, frames);
  rmap.add(2, 3, cached, 'file-shared');
  rmap.add(3, 3, cached, 'file-shared');
  const gone = frames.alloc(3);
  frames.decref(gone);
  return { frames, rmap, f, files: [f], anon, cached, gone };
}

const check = (m: ReturnType<typeof memory>) => () => verifyFrames(m.frames, m.rmap, m.files, 'after the commit of exchange 1');

test('a consistent memory passes; verify mode is on in the tests (package.json sets VRANGE_VERIFY=1)', (t) => {
  const m = memory();
  t.notThrows(check(m));
  t.true(verify.enabled, 'the ava config turns verify mode on');
  t.is(process.env.VRANGE_VERIFY, '1');
});

test('a reference count above its references: the frame and both counts are named', (t) => {
  const m = memory();
  m.frames.incref(m.anon);
  t.throws(check(m), { message: `kernel invariant (after the commit of exchange 1): frame ${m.anon} has refcount 2 but 1 rmap reference(s)` });
  const c = memory();
  c.frames.decref(c.cached); // a mapper's reference dropped without its rmap entry
  t.throws(check(c), { message: `kernel invariant (after the commit of exchange 1): frame ${c.cached} has refcount 2 but 2 rmap reference(s) and its page-cache entry` });
});

test('a frame a fault holds and has not placed yet is allowed its one reference, and only that', (t) => {
  const m = memory();
  const nf = m.frames.alloc(4);
  t.throws(check(m), { message: new RegExp(`frame ${nf} has refcount 1 but 0 rmap reference\\(s\\)$`) });
  t.notThrows(() => verifyFrames(m.frames, m.rmap, m.files, undefined, new Set([nf])));
  m.frames.incref(nf);
  t.throws(() => verifyFrames(m.frames, m.rmap, m.files, undefined, new Set([nf])), { message: `kernel invariant: frame ${nf} has refcount 2 but 0 rmap reference(s) and its fault` });
});

test('a frame freed while the rmap still maps it', (t) => {
  const m = memory();
  m.frames.refcount[m.anon] = 0; // freed behind the rmap's back (not on the free list: counts disagree first)
  t.throws(check(m), { message: 'kernel invariant (after the commit of exchange 1): 1 frames have references but 2 are counted used' });
  const r = memory();
  // Every reference dropped, the frame back on the free list, the rmap entry left behind.
  r.frames.decref(r.anon);
  t.throws(check(r), { message: `kernel invariant (after the commit of exchange 1): the rmap maps frame ${r.anon}, which is free` });
});

test('a frame on the free list that is still referenced', (t) => {
  const m = memory();
  m.frames.refcount[m.gone] = 1; // a reference revived on a freed frame, counted used by nobody
  t.throws(check(m), { message: /^kernel invariant \(after the commit of exchange 1\): 3 frames have references but 2 are counted used$/ });
  const n = memory();
  // The same frame taken again by alloc while the freed one's stale reference is still counted.
  const again = n.frames.alloc(5);
  t.is(again, n.gone, 'the freed frame is reused first');
  n.frames.decref(again);
  n.frames.refcount[n.gone] = 1;
  n.frames.refcount[n.anon] = 0; // the counts now agree: only the free list shows it
  t.throws(() => verifyFrames(n.frames, n.rmap, n.files), { message: `kernel invariant: frame ${n.gone} is on the free list with refcount 1` });
});

test('an rmap entry the page table it names disagrees with', (t) => {
  const m = memory();
  // Broken through the list the reverse map hands out read only (it is its own, not a copy).
  (m.rmap.mappers(m.cached) as unknown as Array<{ pid: number; vpage: number }>)[1]!.vpage = 9;
  t.throws(check(m), { message: `kernel invariant (after the commit of exchange 1): the rmap says pid 3 page 9 maps frame ${m.cached}, its page table says nothing` });
});

test('a page-cache entry in a free frame, or in a frame another page owns', (t) => {
  const m = memory();
  m.f.cache.set(2, m.gone);
  t.throws(check(m), { message: `kernel invariant (after the commit of exchange 1): f page 2 is cached in frame ${m.gone}, which is free` });
  const o = memory();
  o.f.cache.set(1, o.anon);
  t.throws(check(o), { message: `kernel invariant (after the commit of exchange 1): f page 1 is cached in frame ${o.anon}, whose owner is no file` });
  const p = memory();
  p.f.cache.delete(0);
  p.f.cache.set(1, p.cached);
  t.throws(check(p), { message: `kernel invariant (after the commit of exchange 1): f page 1 is cached in frame ${p.cached}, whose owner is file 0 page 0` });
});

test('verifyIfEnabled checks only in verify mode', (t) => {
  const m = memory();
  m.frames.incref(m.anon);
  t.throws(() => verifyIfEnabled(m.frames, m.rmap, m.files), { message: /kernel invariant: frame/ });
  verify.enabled = false;
  try { t.notThrows(() => verifyIfEnabled(m.frames, m.rmap, m.files)); } finally { verify.enabled = true; }
});
