// The reverse map without an object per page (issue 14): mapper lists interned relative to their
// frame (coordinator/rmap_sets.ts), page-table chunks that know they are one run, the purged-page
// record by whole chunks, and a purged run's frames freed in one loop: each answers exactly what
// the per-page structure it replaces answers (a model of plain lists and Maps, run side by side).
import test from 'ava';
import fc from 'fast-check';
import { FrameTable } from '../coordinator/frames.js';
import { PageTable, PurgedRecord, Rmap, type Mapper } from '../coordinator/rmap.js';
import { MapperSets } from '../coordinator/rmap_sets.js';

const FRAMES = 40;

test('mapper sets: each frame lists what a per-frame list would, and equal set ids mean the same mappers each g - f pages on', (t) => {
  const op = fc.oneof(
    fc.record({ op: fc.constant('add' as const), f: fc.nat(FRAMES - 1), pid: fc.integer({ min: 1, max: 3 }), rel: fc.integer({ min: -2, max: 2 }), kind: fc.constantFrom('anon' as const, 'file-shared' as const) }),
    fc.record({ op: fc.constant('remove' as const), f: fc.nat(FRAMES - 1), pid: fc.integer({ min: 1, max: 3 }), rel: fc.integer({ min: -2, max: 2 }) }),
    fc.record({ op: fc.constant('clear' as const), f: fc.nat(FRAMES - 1), n: fc.integer({ min: 1, max: 4 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
    const sets = new MapperSets();
    const model: Mapper[][] = Array.from({ length: FRAMES }, () => []);
    for (const o of ops) {
      if (o.op === 'add') {
        const vpage = o.f + o.rel + 10;
        const dup = model[o.f]!.some((m) => m.pid === o.pid && m.vpage === vpage);
        if (dup) { t.throws(() => sets.add(o.f, o.pid, vpage, o.kind), { message: /twice/ }); continue; }
        sets.add(o.f, o.pid, vpage, o.kind);
        model[o.f]!.push({ pid: o.pid, vpage, kind: o.kind });
      } else if (o.op === 'remove') {
        const vpage = o.f + o.rel + 10;
        const j = model[o.f]!.findIndex((m) => m.pid === o.pid && m.vpage === vpage);
        t.is(sets.remove(o.f, o.pid, vpage), j >= 0);
        if (j >= 0) model[o.f]!.splice(j, 1);
      } else {
        const n = Math.min(o.n, FRAMES - o.f);
        const rel = (f: number) => JSON.stringify(model[f]!.map((m) => [m.pid, m.vpage - f, m.kind]));
        const same = Array.from({ length: n }, (_, d) => rel(o.f + d)).every((r) => r === rel(o.f));
        if (!same) { t.throws(() => sets.clearRun(o.f, n), { message: /other mappers than the run's/ }); continue; }
        sets.clearRun(o.f, n);
        for (let d = 0; d < n; d++) model[o.f + d] = [];
      }
    }
    for (let f = 0; f < FRAMES; f++) {
      t.deepEqual(sets.mappers(f), model[f]);
      t.is(sets.count(f), model[f]!.length);
      for (let g = 0; g < FRAMES; g++) {
        const shifted = model[g]!.length === model[f]!.length && model[g]!.every((m, j) => m.pid === model[f]![j]!.pid && m.vpage === model[f]![j]!.vpage + (g - f) && m.kind === model[f]![j]!.kind);
        t.is(sets.setAt(g) === sets.setAt(f), shifted, `frames ${f} and ${g}`);
      }
    }
    t.deepEqual([...sets.mappedFrames()], model.flatMap((l, f) => (l.length > 0 ? [f] : [])));
  }), { numRuns: 150 });
});

test('page-table chunks known to be one run: runFrom and forEachRun answer as a slot-by-slot walk, across changes', (t) => {
  const op = fc.oneof(
    fc.record({ op: fc.constant('setRun' as const), v: fc.nat(2100), n: fc.integer({ min: 1, max: 1100 }), x: fc.nat(3000) }),
    fc.record({ op: fc.constant('setDown' as const), v: fc.nat(2100), n: fc.integer({ min: 1, max: 1100 }), x: fc.nat(3000) }),
    fc.record({ op: fc.constant('set' as const), v: fc.nat(2100), x: fc.nat(3000) }),
    fc.record({ op: fc.constant('delete' as const), v: fc.nat(2100) }),
    fc.record({ op: fc.constant('deleteRun' as const), v: fc.nat(2100), n: fc.integer({ min: 1, max: 1100 }) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 30 }), fc.nat(2100), fc.integer({ min: 1, max: 3000 }), (ops, from, max) => {
    const table = new PageTable(4);
    const model = new Map<number, number>();
    for (const o of ops) {
      // Values 4 apart a page: the rmap's frame * 4 + kind.
      if (o.op === 'setRun') for (let i = 0; i < o.n; i++) { table.set(o.v + i, 4 * (o.x + i)); model.set(o.v + i, 4 * (o.x + i)); }
      // The same run written from its last page down (a chunk's run then grows at its low end).
      else if (o.op === 'setDown') for (let i = o.n - 1; i >= 0; i--) { table.set(o.v + i, 4 * (o.x + i)); model.set(o.v + i, 4 * (o.x + i)); }
      else if (o.op === 'set') { table.set(o.v, 4 * o.x); model.set(o.v, 4 * o.x); }
      else if (o.op === 'delete') t.is(table.delete(o.v), model.delete(o.v));
      else {
        const all = Array.from({ length: o.n }, (_, i) => model.has(o.v + i)).every(Boolean);
        if (!all) { t.throws(() => table.deleteRun(o.v, o.n)); return; } // a broken precondition throws (the table is then left as it is)
        table.deleteRun(o.v, o.n);
        for (let i = 0; i < o.n; i++) model.delete(o.v + i);
      }
    }
    t.is(table.size, model.size);
    const x0 = model.get(from) ?? 0;
    let n = 0;
    while (n < max && model.get(from + n) === x0 + 4 * n) n++;
    t.is(table.runFrom(from, x0, 4, max), n);
    // And from every first and last page of a run: where a chunk's run starts or ends inside it.
    for (const [v, x] of [...model].filter(([v, x]) => model.get(v - 1) !== x - 4 || model.get(v + 1) !== x + 4)) {
      let m = 0;
      while (model.get(v + m) === x + 4 * m) m++;
      t.is(table.runFrom(v, x, 4, 5000), m, `runFrom(${v})`);
    }
    const runs: number[][] = [];
    table.forEachRun(4, (v, x, c) => runs.push([v, x, c]));
    const want: number[][] = [];
    for (const v of [...model.keys()].sort((a, b) => a - b)) {
      const last = want[want.length - 1];
      if (last && last[0]! + last[2]! === v && last[1]! + 4 * last[2]! === model.get(v)) last[2]!++;
      else want.push([v, model.get(v)!, 1]);
    }
    t.deepEqual(runs, want);
  }), { numRuns: 200 });
});

test('the purged-page record: whole chunks as one number, answering as a Map of every page would', (t) => {
  const op = fc.record({ v: fc.nat(3000), n: fc.integer({ min: 1, max: 1600 }), f: fc.nat(100_000) });
  fc.assert(fc.property(fc.array(op, { maxLength: 12 }), fc.array(fc.nat(4700), { maxLength: 40 }), (ops, probes) => {
    const rec = new PurgedRecord();
    const model = new Map<number, number>();
    for (const o of ops) {
      rec.setRun(o.v, o.n, o.f);
      for (let i = 0; i < o.n; i++) model.set(o.v + i, o.f + i);
    }
    for (const v of [...probes, ...ops.flatMap((o) => [o.v, o.v + o.n - 1, o.v + o.n])]) t.is(rec.get(v), model.get(v) ?? -1, `page ${v}`);
  }), { numRuns: 200 });
});

test('a purged run of 3 mappers over 1,100 frames: freed in the order frame-by-frame removal frees them, and remembered purged', (t) => {
  const make = () => {
    const frames = new FrameTable(2048);
    const rmap = new Rmap(frames);
    for (let k = 0; k < 1100; k++) {
      const f = frames.alloc(0);
      for (const [pid, base] of [[2, 10], [3, 700], [4, 1]] as const) rmap.add(pid, base + k, f, 'anon');
      frames.decref(f);
    }
    return { frames, rmap };
  };
  const run = make();
  const seen: number[] = [];
  run.frames.watcher = { freed: (f) => seen.push(f), freedRun: (f, n) => { for (let g = f; g < f + n; g++) seen.push(g); } };
  run.rmap.dropFrames(0, 1100);
  // Frame by frame, as before runs: each mapper removed, the frame freed at its last.
  const one = make();
  const freed: number[] = [];
  one.frames.watcher = { freed: (f) => freed.push(f), freedRun: (f, n) => { for (let g = f; g < f + n; g++) freed.push(g); } };
  for (let f = 0; f < 1100; f++) for (const m of [...one.rmap.mappers(f)]) one.rmap.remove(m.pid, m.vpage);
  t.deepEqual(seen, freed);
  t.deepEqual([...run.frames.freeList()], [...one.frames.freeList()]);
  t.is(run.frames.used, 0);
  t.true(run.rmap.wasPurgedFrom(3, 700 + 1099, 1099));
  t.true(run.rmap.wasPurgedFrom(4, 1 + 512, 512));
  t.false(run.rmap.wasPurgedFrom(4, 1 + 512, 513));
  t.throws(() => make().frames.decrefRunBy(0, 1100, 2), { message: /2 references dropped from frame 0, which has 3/ });
});
