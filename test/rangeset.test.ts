import test from 'ava';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { RangeLimitError, RangeSet, type Range } from '../shared/rangeset.js';

const r = (start: number, end: number, id: number, markedAt: number): Range => ({ start, end, id, markedAt });

// The same msgpack options as shared/messages.ts, so the round trip is the one fork uses.
const packr = new Packr({ useRecords: false, mapsAsObjects: true });

test('mark in the middle of a range splits it; both outer pieces keep id and markedAt', (t) => {
  const s = new RangeSet();
  const a = s.mark(0, 10, 5);
  const b = s.mark(3, 5, 7);
  t.true(b > a);
  t.deepEqual(s.all(), [r(0, 3, a, 5), r(3, 5, b, 7), r(5, 10, a, 5)]);
  t.is(s.size, 3);
  t.deepEqual(s.at(4), r(3, 5, b, 7));
  t.deepEqual(s.at(9), r(5, 10, a, 5));
  t.is(s.at(10), undefined);
  s.checkInvariants();
});

test('unmark in the middle of a range splits it', (t) => {
  const s = new RangeSet();
  const a = s.mark(100, 200, 1);
  s.unmark(120, 130);
  t.deepEqual(s.all(), [r(100, 120, a, 1), r(130, 200, a, 1)]);
  t.is(s.at(125), undefined);
  t.false(s.covered(100, 200));
  t.true(s.covered(130, 200));
  s.unmark(0, 1000);
  t.is(s.size, 0);
  t.deepEqual(s.all(), []);
  s.checkInvariants();
});

test('mark over two ranges trims both; mark over whole ranges removes them', (t) => {
  const s = new RangeSet();
  const a = s.mark(0, 10, 1);
  const b = s.mark(10, 20, 2);
  const c = s.mark(5, 15, 3);
  t.deepEqual(s.all(), [r(0, 5, a, 1), r(5, 15, c, 3), r(15, 20, b, 2)]);
  const d = s.mark(0, 20, 4);
  t.deepEqual(s.all(), [r(0, 20, d, 4)]);
  t.deepEqual([a, b, c, d], [...new Set([a, b, c, d])].sort((x, y) => x - y));
  s.checkInvariants();
});

test('overlapping returns whole pieces; covered needs every page', (t) => {
  const s = new RangeSet();
  const a = s.mark(0, 10, 1);
  const b = s.mark(10, 20, 2);
  const c = s.mark(30, 40, 3);
  t.deepEqual(s.overlapping(5, 11), [r(0, 10, a, 1), r(10, 20, b, 2)]);
  t.deepEqual(s.overlapping(20, 30), []);
  t.deepEqual(s.overlapping(19, 31), [r(10, 20, b, 2), r(30, 40, c, 3)]);
  t.true(s.covered(0, 20));
  t.false(s.covered(0, 21));
  t.false(s.covered(25, 35));
  t.true(s.covered(35, 36));
});

function expectedAfterUnmark(pieces: Array<[number, number]>, us: number, ue: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of pieces) {
    if (s < us) out.push([s, Math.min(e, us)]);
    if (e > ue) out.push([Math.max(s, ue), e]);
  }
  return out;
}

for (const chunkSize of [4, 128]) {
  test(`unmark across chunk boundaries (chunkSize ${chunkSize})`, (t) => {
    const s = new RangeSet(undefined, chunkSize);
    const pieces: Array<[number, number]> = [];
    for (let i = 0; i < 2000; i++) {
      s.mark(3 * i, 3 * i + 2, i);
      pieces.push([3 * i, 3 * i + 2]);
    }
    s.checkInvariants();
    // Cuts a piece at each edge ([99,101) and [2001,2003)) and deletes many chunks between.
    s.unmark(100, 2002);
    let want = expectedAfterUnmark(pieces, 100, 2002);
    t.deepEqual(s.all().map((p) => [p.start, p.end]), want);
    t.is(s.at(99)?.id, 34);
    t.is(s.at(2002)?.id, 668);
    s.checkInvariants();
    // An unmark whose edges fall in gaps.
    s.unmark(3002, 4501);
    want = expectedAfterUnmark(want, 3002, 4501);
    t.deepEqual(s.all().map((p) => [p.start, p.end]), want);
    s.checkInvariants();
    // A mark spanning chunks replaces everything under it.
    const id = s.mark(10, 5000, 9);
    want = expectedAfterUnmark(want, 10, 5000);
    want.splice(want.findIndex(([st]) => st >= 10), 0, [10, 5000]);
    t.deepEqual(s.all().map((p) => [p.start, p.end]), want);
    t.is(s.at(4000)?.id, id);
    s.checkInvariants();
    // Unmark everything one chunk-ish bite at a time from the front.
    for (let x = 0; x < 6000; x += 37) { s.unmark(x, x + 37); s.checkInvariants(); }
    t.is(s.size, 0);
  });
}

test('an under-full last chunk is topped up from a full previous chunk', (t) => {
  const s = new RangeSet(undefined, 8); // chunks of 2..8 pieces
  for (let i = 0; i < 12; i++) s.mark(10 * i, 10 * i + 1, i); // chunks [4, 8]
  for (const p of [2, 12, 22, 25]) s.mark(p, p + 1, 100 + p); // chunks [8, 8]
  s.checkInvariants();
  t.is(s.size, 16);
  const want = s.all().filter((p) => p.end <= 40 || p.start >= 110);
  s.unmark(40, 110); // leaves the last chunk one piece, next to a full chunk
  s.checkInvariants();
  t.deepEqual(s.all(), want);
  t.is(s.size, 9);
});

test('coalesced merges adjacent pieces whatever their ids', (t) => {
  const s = new RangeSet();
  s.mark(0, 5, 1);
  s.mark(5, 10, 2);
  s.mark(12, 14, 3);
  s.mark(14, 15, 4);
  s.mark(20, 21, 5);
  t.is(s.size, 5);
  t.deepEqual(s.coalesced(), [[0, 10], [12, 3], [20, 1]]);
  t.deepEqual(new RangeSet().coalesced(), []);
});

test('clone is a deep copy with the same ids and markedAt, independent afterwards', (t) => {
  const s = new RangeSet(50, 4);
  for (let i = 0; i < 20; i++) s.mark(10 * i, 10 * i + 5, 1000 + i);
  s.unmark(32, 33);
  const before = s.all();
  const c = s.clone();
  t.deepEqual(c.all(), before);
  t.is(c.limit, 50);
  c.checkInvariants();
  c.unmark(0, 1000);
  const idC = c.mark(1, 2, 7);
  t.deepEqual(s.all(), before);
  s.checkInvariants();
  const idS = s.mark(500, 501, 8);
  t.is(idS, idC, 'both continue from the same next id');
  t.deepEqual(c.all(), [r(1, 2, idC, 7)]);
});

test('exceeding the limit throws RangeLimitError and leaves the set unchanged', (t) => {
  const s = new RangeSet(3);
  const a = s.mark(0, 10, 1);
  s.mark(20, 30, 2);
  s.mark(40, 50, 3);
  const before = s.all();
  t.throws(() => s.mark(60, 70, 4), { instanceOf: RangeLimitError });
  t.throws(() => s.unmark(2, 3), { instanceOf: RangeLimitError }, 'a split adds a piece');
  t.throws(() => s.mark(2, 3, 4), { instanceOf: RangeLimitError });
  t.throws(() => s.mark(5, 25, 4), { instanceOf: RangeLimitError }, 'a: [0,5) b: [25,30) + new');
  t.deepEqual(s.all(), before);
  s.checkInvariants();
  // Replacing an equal number of pieces is allowed at the limit, and the failed marks used no id.
  const d = s.mark(0, 10, 5);
  t.is(d, a + 3);
  s.unmark(20, 30);
  t.is(s.size, 2);
  s.unmark(40, 45);
  t.is(s.size, 2);
  const e = s.mark(100, 101, 6);
  t.is(e, d + 1);
  t.is(s.size, 3);
  s.checkInvariants();
  const z = new RangeSet(0);
  t.throws(() => z.mark(0, 1, 0), { instanceOf: RangeLimitError });
  t.is(z.size, 0);
});

test('toJSON/fromJSON round trip, through msgpack, with pages near 2^40', (t) => {
  const s = new RangeSet(1000);
  const top = 2 ** 40;
  s.mark(0, 3, 1.5);
  s.mark(top - 10, top, 2);
  s.mark(2 ** 33 + 1, 2 ** 33 + 4000, 3);
  s.unmark(top - 7, top - 6);
  for (let i = 0; i < 300; i++) s.mark(1000 + 2 * i, 1001 + 2 * i, i);
  const viaPack = RangeSet.fromJSON(packr.unpack(packr.pack(s.toJSON())));
  const viaJson = RangeSet.fromJSON(JSON.parse(JSON.stringify(s)));
  for (const u of [viaPack, viaJson]) {
    u.checkInvariants();
    t.deepEqual(u.all(), s.all());
    t.deepEqual(u.coalesced(), s.coalesced());
    t.is(u.limit, 1000);
    t.is(u.mark(5, 6, 0), s.clone().mark(5, 6, 0), 'next id survives');
  }
  const empty = RangeSet.fromJSON(new RangeSet().toJSON());
  t.is(empty.size, 0);
  t.is(empty.mark(1, 2, 3), 1);
});

test('fromJSON rejects malformed input', (t) => {
  const good = { v: 1, limit: 10, nextId: 3, pieces: [0, 5, 1, 0, 5, 9, 2, 0] };
  t.notThrows(() => RangeSet.fromJSON(good));
  const bad: unknown[] = [
    null, 42, [], { ...good, v: 2 },
    { ...good, pieces: [0, 5, 1, 0, 4, 9, 2, 0] },   // overlap
    { ...good, pieces: [0, 0, 1, 0] },               // empty
    { ...good, pieces: [0, 5, 1] },                  // not quadruples
    { ...good, pieces: [0, 5, 3, 0] },               // id >= nextId
    { ...good, pieces: [0, 5, '1', 0] },             // not a number
    { ...good, pieces: [0.5, 5, 1, 0] },             // not an integer
    { ...good, pieces: [0, 2 ** 40 + 1, 1, 0] },     // past 2^40
    { ...good, limit: 1 },                           // over the limit
  ];
  for (const x of bad) t.throws(() => RangeSet.fromJSON(x), { instanceOf: TypeError }, JSON.stringify(x));
});

test('bad arguments fail cheap assertions', (t) => {
  const s = new RangeSet();
  t.throws(() => s.mark(5, 5, 0));
  t.throws(() => s.mark(6, 5, 0));
  t.throws(() => s.mark(1.5, 3, 0));
  t.throws(() => s.mark(-1, 3, 0));
  t.throws(() => s.mark(0, 2 ** 40 + 1, 0));
  t.throws(() => s.mark(0, 1, Number.NaN));
  t.throws(() => s.unmark(3, 3));
  t.throws(() => s.at(-1));
  t.throws(() => s.at(2 ** 40));
  t.throws(() => s.at(0.5));
  t.throws(() => new RangeSet(-1));
  t.is(s.size, 0);
  t.notThrows(() => s.mark(0, 2 ** 40, 0));
  t.deepEqual(s.at(2 ** 40 - 1), r(0, 2 ** 40, 1, 0));
});

test('100,000 pieces: invariants hold and lookups find each piece', (t) => {
  const s = new RangeSet();
  for (let i = 0; i < 100_000; i++) s.mark(4 * i, 4 * i + 2, i);
  s.checkInvariants();
  t.is(s.size, 100_000);
  for (let i = 0; i < 100_000; i += 997) {
    t.is(s.at(4 * i + 1)?.markedAt, i);
    t.is(s.at(4 * i + 2), undefined);
  }
  for (let i = 0; i < 100_000; i += 2) s.unmark(4 * i, 4 * i + 4);
  s.checkInvariants();
  t.is(s.size, 50_000);
  t.is(s.coalesced().length, 50_000);
});

// ---- property test against a naive model ----

const N = 201; // model pages 0..200 (the larger seeded test below uses its own size)

type Op =
  | { k: 'mark'; s: number; len: number; q: [number, number] }
  | { k: 'unmark'; s: number; len: number; q: [number, number] }
  | { k: 'clone' }
  | { k: 'json' };

const spanArb = fc.record({
  s: fc.integer({ min: 0, max: N - 1 }),
  len: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: N })),
  q: fc.tuple(fc.integer({ min: 0, max: N - 1 }), fc.integer({ min: 1, max: 40 })),
});
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: spanArb.map((x) => ({ k: 'mark' as const, ...x })) },
  { weight: 6, arbitrary: spanArb.map((x) => ({ k: 'unmark' as const, ...x })) },
  { weight: 1, arbitrary: fc.constant({ k: 'clone' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'json' as const }) },
);

interface Cell { id: number; at: number }

/** Throws (so fast-check shrinks) unless a and b serialise alike. */
function same(a: unknown, b: unknown, what: string): void {
  const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
  if (x !== y) throw new Error(`${what}: got ${x}, want ${y}`);
}

/** Pieces of the model: maximal runs of one id (pieces of one range are never adjacent). */
function modelPieces(m: Array<Cell | undefined>, base: number): Range[] {
  const out: Range[] = [];
  for (let p = 0; p < N; p++) {
    const c = m[p];
    if (!c) continue;
    const last = out[out.length - 1];
    if (last && last.end === base + p && last.id === c.id) out[out.length - 1] = r(last.start, last.end + 1, c.id, c.at);
    else out.push(r(base + p, base + p + 1, c.id, c.at));
  }
  return out;
}

function modelCoalesced(m: Array<Cell | undefined>, base: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let p = 0; p < N; p++) {
    if (!m[p]) continue;
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === base + p) last[1]++;
    else out.push([base + p, 1]);
  }
  return out;
}

test('property: random mark/unmark sequences match a page-array model', (t) => {
  t.timeout(300_000);
  fc.assert(
    fc.property(
      fc.array(opArb, { minLength: 1, maxLength: 80 }),
      fc.constantFrom(4, 5, 8, 128),
      fc.oneof(fc.constant(1_000_000), fc.integer({ min: 0, max: 30 })),
      fc.constantFrom(0, 2 ** 40 - N),
      (ops, chunkSize, limit, base) => {
        let set = new RangeSet(limit, chunkSize);
        let model: Array<Cell | undefined> = new Array(N).fill(undefined);
        let lastId = 0;
        let time = 0;
        for (const op of ops) {
          if (op.k === 'clone') {
            const before = set.all();
            const c = set.clone();
            c.unmark(base, base + N);
            c.checkInvariants();
            same(set.all(), before, 'clone shares state');
            set = set.clone();
          } else if (op.k === 'json') {
            set = RangeSet.fromJSON(packr.unpack(packr.pack(set.toJSON())), chunkSize);
          } else {
            const s = op.s;
            const e = Math.min(N, op.s + op.len);
            const next = model.slice();
            const at = ++time;
            for (let p = s; p < e; p++) next[p] = op.k === 'mark' ? { id: -1, at } : undefined;
            const wanted = modelPieces(next, base).length;
            const before = set.all();
            if (wanted > limit) {
              let threw = false;
              try {
                if (op.k === 'mark') set.mark(base + s, base + e, at); else set.unmark(base + s, base + e);
              } catch (err) {
                if (!(err instanceof RangeLimitError)) throw err;
                threw = true;
              }
              if (!threw) throw new Error(`expected RangeLimitError: ${wanted} pieces > limit ${limit}`);
              same(set.all(), before, 'set changed by a failed edit');
            } else {
              if (op.k === 'mark') {
                const id = set.mark(base + s, base + e, at);
                if (!(Number.isInteger(id) && id > lastId)) throw new Error(`id ${id} not above ${lastId}`);
                lastId = id;
                for (let p = s; p < e; p++) next[p] = { id, at };
              } else set.unmark(base + s, base + e);
              model = next;
            }
            const [qs, ql] = op.q;
            const qe = Math.min(N, qs + ql);
            const want = modelPieces(model, base).filter((x) => x.end > base + qs && x.start < base + qe);
            same(set.overlapping(base + qs, base + qe), want, `overlapping(${qs}, ${qe})`);
            let cov = true;
            for (let p = qs; p < qe; p++) if (!model[p]) cov = false;
            if (set.covered(base + qs, base + qe) !== cov) throw new Error(`covered(${qs}, ${qe}) != ${cov}`);
          }
          set.checkInvariants();
          for (let p = 0; p < N; p++) {
            const got = set.at(base + p);
            const c = model[p];
            if (c === undefined ? got !== undefined : got === undefined || got.id !== c.id || got.markedAt !== c.at ||
              got.start > base + p || got.end <= base + p) {
              throw new Error(`at(${p}): got ${JSON.stringify(got)}, model ${JSON.stringify(c)}`);
            }
          }
          const pieces = modelPieces(model, base);
          same(set.all(), pieces, 'all()');
          if (set.size !== pieces.length) throw new Error(`size ${set.size} != ${pieces.length}`);
          same(set.coalesced(), modelCoalesced(model, base), 'coalesced()');
        }
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});

// Small chunk sizes over a larger page space: enough pieces per set that chunks split, merge
// and top each other up (an under-full chunk next to a full one) many times.
for (const chunkSize of [6, 8, 16]) {
  test(`seeded random edits over 3000 pages match the model (chunkSize ${chunkSize})`, (t) => {
    const pages = 3000;
    let seed = 12345 + chunkSize;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    const set = new RangeSet(undefined, chunkSize);
    const model: Array<Cell | undefined> = new Array(pages).fill(undefined);
    const piecesOf = (): Range[] => {
      const out: Range[] = [];
      for (let p = 0; p < pages; p++) {
        const c = model[p];
        if (!c) continue;
        const last = out[out.length - 1];
        if (last && last.end === p && last.id === c.id) out[out.length - 1] = r(last.start, p + 1, c.id, c.at);
        else out.push(r(p, p + 1, c.id, c.at));
      }
      return out;
    };
    for (let step = 0; step < 6000; step++) {
      const phase = Math.floor(step / 1000) % 2; // alternate growing and shrinking phases
      const s = rand(pages);
      const big = rand(20) === 0;
      const e = Math.min(pages, s + 1 + (big ? rand(300) : rand(4)));
      if (rand(10) < (phase === 0 ? 7 : 3)) {
        const id = set.mark(s, e, step);
        for (let p = s; p < e; p++) model[p] = { id, at: step };
      } else {
        set.unmark(s, e);
        for (let p = s; p < e; p++) model[p] = undefined;
      }
      set.checkInvariants();
      if (step % 7 === 0 || big) same(set.all(), piecesOf(), `all() after step ${step}`);
    }
    same(set.all(), piecesOf(), 'all() at the end');
    t.pass();
  });
}
