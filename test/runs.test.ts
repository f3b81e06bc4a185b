// Page runs (shared/runs.ts): how prepare, prepared and commit name pages. Unit and property tests.
import test from 'ava';
import fc from 'fast-check';
import { clipRuns, isRunList, pageCount, pagesOf, runIndexOf, runsOf, splitRuns } from '../shared/runs.js';

const sortedPages = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 120 }).map((a) => a.sort((x, y) => x - y));

test('runsOf makes maximal runs, and pagesOf gives the pages back', (t) => {
  t.deepEqual(runsOf([1, 2, 3, 7, 9, 10]), [1, 3, 7, 1, 9, 2]);
  t.deepEqual(runsOf([]), []);
  t.deepEqual(pagesOf([1, 3, 7, 1, 9, 2]), [1, 2, 3, 7, 9, 10]);
  t.is(pageCount([1, 3, 7, 1, 9, 2]), 6);
  fc.assert(fc.property(sortedPages, (pages) => {
    const runs = runsOf(pages);
    t.deepEqual(pagesOf(runs), pages);
    t.true(isRunList(runs, 2));
    // Maximal: no two runs touch.
    for (let i = 2; i < runs.length; i += 2) t.true(runs[i]! > runs[i - 2]! + runs[i - 1]!);
  }));
});

test('isRunList refuses what a forged agent might send', (t) => {
  t.true(isRunList([], 4));
  t.true(isRunList([0, 2, 5, 9, 2, 1, 6, 9], 4));
  t.false(isRunList([0, 2, 5], 4), 'not a whole number of entries');
  t.false(isRunList([0, 0, 5, 9], 4), 'an empty run');
  t.false(isRunList([4, 2, 5, 9, 0, 1, 6, 9], 4), 'not ascending');
  t.false(isRunList([0, 3, 5, 9, 2, 1, 6, 9], 4), 'overlapping');
  t.false(isRunList([0.5, 1], 2), 'not an integer page');
  t.false(isRunList([0, 1, 'x', 2], 4), 'not a number');
  t.false(isRunList({ length: 2 }, 2), 'not an array');
  t.false(isRunList([0, Infinity], 2), 'not finite');
});

test('runIndexOf finds the run holding a page, by binary search', (t) => {
  fc.assert(fc.property(sortedPages, fc.integer({ min: -1, max: 302 }), (pages, page) => {
    const runs = runsOf(pages);
    const i = runIndexOf(runs, page);
    t.is(i >= 0, pages.includes(page));
    if (i >= 0) t.true(runs[i]! <= page && page < runs[i]! + runs[i + 1]!);
  }));
  // Stride 4: the extra fields ride along.
  const answers = [2, 3, 7, 100, 10, 1, 8, 101];
  t.is(runIndexOf(answers, 4, 4), 0);
  t.is(runIndexOf(answers, 10, 4), 4);
  t.is(runIndexOf(answers, 5, 4), -1);
});

test('clipRuns keeps exactly the pages inside the asked runs, with their fields', (t) => {
  t.deepEqual(clipRuns([0, 10, 7, 100], 4, [2, 2, 8, 5]), [2, 2, 7, 100, 8, 2, 7, 100]);
  fc.assert(fc.property(sortedPages, sortedPages, (a, b) => {
    // Give each run of a its own id, so that the fields can be checked page by page.
    const runs = runsOf(a);
    const quads: number[] = [];
    for (let i = 0; i < runs.length; i += 2) quads.push(runs[i]!, runs[i + 1]!, i / 2 + 1, 1000 + i);
    const clipped = clipRuns(quads, 4, runsOf(b));
    t.true(isRunList(clipped, 4));
    t.deepEqual(pagesOf(clipped, 4), a.filter((p) => b.includes(p)));
    for (let i = 0; i < clipped.length; i += 4) {
      const from = runIndexOf(quads, clipped[i]!, 4);
      t.deepEqual([clipped[i + 2], clipped[i + 3]], [quads[from + 2], quads[from + 3]]);
    }
  }));
});

test('splitRuns bounds each message and loses nothing', (t) => {
  t.deepEqual(splitRuns([], 2, 3), [[]], 'an empty list still makes one (empty) message');
  fc.assert(fc.property(sortedPages, fc.integer({ min: 1, max: 7 }), (pages, max) => {
    const runs = runsOf(pages);
    const parts = splitRuns(runs, 2, max);
    for (const p of parts) t.true(p.length <= max * 2);
    t.deepEqual(parts.flat(), runs);
  }));
});
