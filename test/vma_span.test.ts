// munmap's cut (shared/vma_span.ts), the one the kernel's copy of the VMAs and the agent's mm both use.
import test from 'ava';
import fc from 'fast-check';
import { unmapSpan, type Span } from '../shared/vma_span.js';

type V = Span & { offset: number; id: string };
const slice = (v: V, from: number, to: number): V => ({ ...v, start: from, pages: to - from, offset: v.offset + (from - v.start) });

test('a span inside a VMA splits it; one over a VMA removes it; others are kept as they are, in order', (t) => {
  const a: V = { start: 0, pages: 10, offset: 100, id: 'a' };
  const b: V = { start: 20, pages: 4, offset: 0, id: 'b' };
  const c: V = { start: 30, pages: 5, offset: 7, id: 'c' };
  const { kept, cut } = unmapSpan([a, b, c], 4, 32, slice);
  t.deepEqual(kept, [{ start: 0, pages: 4, offset: 100, id: 'a' }, { start: 32, pages: 3, offset: 9, id: 'c' }]);
  t.deepEqual(cut.map((v) => v.id), ['a', 'b', 'c']);
  const inside = unmapSpan([a], 3, 5, slice).kept;
  t.deepEqual(inside, [{ start: 0, pages: 3, offset: 100, id: 'a' }, { start: 5, pages: 5, offset: 105, id: 'a' }]);
  t.is(unmapSpan([a], 10, 20, slice).kept[0], a, 'a VMA the span does not touch is the same object');
});

test('property: every page outside the span keeps its offset, every page inside is gone', (t) => {
  const vmas = fc.array(fc.record({ gap: fc.integer({ min: 0, max: 5 }), pages: fc.integer({ min: 1, max: 8 }), offset: fc.integer({ min: 0, max: 50 }) }), { maxLength: 6 });
  t.notThrows(() => fc.assert(fc.property(vmas, fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 20 }), (raw, start, len) => {
    let at = 0;
    const list: V[] = raw.map((r, i) => { at += r.gap; const v = { start: at, pages: r.pages, offset: r.offset, id: String(i) }; at += r.pages; return v; });
    const offsetAt = (l: V[], p: number) => { const v = l.find((x) => p >= x.start && p < x.start + x.pages); return v ? `${v.id}:${v.offset + p - v.start}` : undefined; };
    const { kept } = unmapSpan(list, start, start + len, slice);
    for (let p = 0; p < at + 1; p++) {
      const want = p >= start && p < start + len ? undefined : offsetAt(list, p);
      if (offsetAt(kept, p) !== want) return false;
    }
    return kept.every((v) => v.pages > 0);
  })));
});
