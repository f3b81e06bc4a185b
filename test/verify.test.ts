// Verify mode (coordinator/verify.ts): each memory fact broken on purpose in real FrameTable, Rmap
// and AddressSpace objects, and verifyFrames naming that fact as a kernel invariant; the i_mmap
// index and the two copies of a process's VMAs (kernel and agent) out of step, and verifyImmap
// and verifyVmasAgree naming them.
import test from 'ava';
import { FrameTable } from '../coordinator/frames.js';
import { Rmap } from '../coordinator/rmap.js';
import type { MapperSets } from '../coordinator/rmap_sets.js';
import { AddressSpace, reindex } from '../coordinator/address_space.js';
import { Proc, type KVma } from '../coordinator/process_table.js';
import { verify, verifyFrames, verifyIfEnabled, verifyImmap, verifyVmasAgree } from '../coordinator/verify.js';
import { unmapSpan } from '../shared/vma_span.js';

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
  // Broken inside the reverse map's own mapper lists (coordinator/rmap_sets.ts): pid 3's entry now names page 9.
  const sets = (m.rmap as unknown as { sets: MapperSets }).sets;
  sets.remove(m.cached, 3, 3);
  sets.add(m.cached, 3, 9, 'file-shared');
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

// ---- the i_mmap index and the two copies of a process's VMAs ----------------------------------

/** A maps file f twice (a munmap split it), B once; the i_mmap built as mmap/munmap build it. */
function mappings() {
  const f = new AddressSpace(0, 'f', 16, 'tmpfs');
  const a = new Proc({ name: 'A', forked: false, sigbus: 'kill', steps: [] });
  const b = new Proc({ name: 'B', forked: false, sigbus: 'kill', steps: [] });
  a.slot = 0; b.slot = 1;
  a.vmas = unmapSpan<KVma>([{ start: 10, pages: 8, kind: 'file-shared', fileId: 0, offset: 0, share: 'shared' }], 12, 14,
    (v, from, to) => ({ ...v, start: from, pages: to - from, offset: v.offset + (from - v.start) })).kept;
  b.vmas = [{ start: 40, pages: 4, kind: 'file-private', fileId: 0, offset: 2, share: 'private' }];
  reindex([f], a, [0]);
  reindex([f], b, [0]);
  return { f, a, b };
}

test('the i_mmap: in step with the VMA lists passes; a VMA changed behind its back, or a stale entry, is named', (t) => {
  const m = mappings();
  t.deepEqual(m.a.vmas.map((v) => [v.start, v.pages, v.offset]), [[10, 2, 0], [14, 4, 4]], 'the munmap cut keeps the parts below and above, offsets moved along');
  t.notThrows(() => verifyImmap([m.f], [m.a, m.b], 'after the cleanup of A'));
  m.b.vmas = [{ ...m.b.vmas[0]!, pages: 2 }]; // a munmap that forgot reindex
  t.throws(() => verifyImmap([m.f], [m.a, m.b], 'after the cleanup of A'), {
    message: 'kernel invariant (after the cleanup of A): the i_mmap of f holds [file-private 40+4 (file 0, offset 2)] for B, whose VMAs over it are [file-private 40+2 (file 0, offset 2)]' });
  const c = mappings();
  c.a.vmas = []; // an exit that forgot reindex: the count still says 3
  t.throws(() => verifyImmap([c.f], [c.a, c.b]), { message: /the i_mmap of f holds \[file-shared 10\+2 .*\] for A, whose VMAs over it are \[\]/ });
});

test("the kernel's VMAs against the agent's: equal in any order passes; a split done differently is named", (t) => {
  const m = mappings();
  const agent = [...m.a.vmas].reverse().map(({ start, pages, kind, fileId, offset }) => ({ start, pages, kind, fileId, offset }));
  t.notThrows(() => verifyVmasAgree('A', m.a.vmas, agent, 'at the fork of B'));
  agent[0] = { ...agent[0]!, offset: 5 };
  t.throws(() => verifyVmasAgree('A', m.a.vmas, agent, 'at the fork of B'), {
    message: "kernel invariant (at the fork of B): the kernel's VMAs of A are [file-shared 10+2 (file 0, offset 0); file-shared 14+4 (file 0, offset 4)], its agent's [file-shared 10+2 (file 0, offset 0); file-shared 14+4 (file 0, offset 5)]" });
});
