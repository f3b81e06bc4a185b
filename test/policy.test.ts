// The purge decision is a pure function: each policy's rules, checked without processes.
import test from 'ava';
import { decide, decideLazyfree, RULE_TEXT, vrangeTarget, type LazyfreeFacts, type LazyfreeMapper, type MapperVote, type PageFacts } from '../shared/policy.js';

const vote = (pid: number, over: Partial<MapperVote> = {}): MapperVote =>
  ({ pid, share: 'shared', volatile: true, answered: true, privatePresent: false, ...over });

const facts = (over: Partial<PageFacts>): PageFacts => ({ kind: 'file', policy: 'shared-file', fileVolatile: false, mappers: [], ...over });

test('anonymous page: purged only when every mapper has it volatile', (t) => {
  for (const policy of ['shared-file', 'per-mm', 'anon-only'] as const) {
    t.true(decide(facts({ kind: 'anon', policy, mappers: [vote(2), vote(3)] })).purge);
    const d = decide(facts({ kind: 'anon', policy, mappers: [vote(2), vote(3, { volatile: false })] }));
    t.false(d.purge);
    t.is(d.rule, 'anon-mapper-not-volatile');
    t.regex(d.why, /pid 3/);
  }
});

test('a mapper that did not answer keeps the page', (t) => {
  const d = decide(facts({ kind: 'anon', mappers: [vote(2), vote(3, { volatile: false, answered: false })] }));
  t.false(d.purge);
  t.regex(d.why, /no answer/);
});

test('an anonymous page with no mapper is never purged', (t) => {
  t.is(decide(facts({ kind: 'anon', mappers: [] })).rule, 'no-mapper');
});

test('shared-file and anon-only: the file range decides; a private page not yet copied is kept', (t) => {
  for (const policy of ['shared-file', 'anon-only'] as const) {
    t.true(decide(facts({ policy, fileVolatile: true, mappers: [vote(2, { volatile: false })] })).purge);
    t.false(decide(facts({ policy, fileVolatile: false, mappers: [vote(2)] })).purge);
    const d = decide(facts({ policy, fileVolatile: true, mappers: [vote(2, { share: 'private', privatePresent: true, volatile: false })] }));
    t.false(d.purge);
    t.is(d.rule, 'private-copy-kept');
    // A private mapper that never touched the page does not protect it.
    t.true(decide(facts({ policy, fileVolatile: true, mappers: [vote(2, { share: 'private', volatile: false })] })).purge);
  }
});

test('per-mm: any private mapper protects; else fvrange or every mapper marked', (t) => {
  const policy = 'per-mm' as const;
  t.is(decide(facts({ policy, fileVolatile: true, mappers: [vote(2), vote(3, { share: 'private' })] })).rule, 'per-mm-private-mapper');
  t.is(decide(facts({ policy, fileVolatile: true, mappers: [vote(2, { volatile: false })] })).rule, 'file-range-volatile');
  t.is(decide(facts({ policy, mappers: [vote(2), vote(3)] })).rule, 'per-mm-every-mapper-marked');
  t.is(decide(facts({ policy, mappers: [vote(2), vote(3, { volatile: false })] })).rule, 'per-mm-mapper-not-marked');
  t.is(decide(facts({ policy, mappers: [] })).rule, 'no-mapper');
});

test('shmem (shared anonymous) follows the anonymous rule under every policy', (t) => {
  for (const policy of ['shared-file', 'per-mm', 'anon-only'] as const) {
    t.false(decide(facts({ kind: 'shmem', policy, fileVolatile: true, mappers: [vote(2, { volatile: false })] })).purge);
    t.true(decide(facts({ kind: 'shmem', policy, mappers: [vote(2), vote(3)] })).purge);
  }
});

test('where a vrange mark is stored, per policy and mapping kind', (t) => {
  t.is(vrangeTarget('anon', 'anon-only'), 'mm');
  t.is(vrangeTarget('shmem', 'shared-file'), 'mm');
  t.is(vrangeTarget('file-shared', 'shared-file'), 'file');
  t.is(vrangeTarget('file-shared', 'per-mm'), 'mm');
  t.is(vrangeTarget('file-private', 'shared-file'), 'mm');
  t.is(vrangeTarget('file-shared', 'anon-only'), null);
  t.is(vrangeTarget('file-private', 'anon-only'), null);
});

// madv-free (MADV_FREE, what Linux merged): shrink_folio_list's order, folio_check_references then try_to_unmap_one.
const lazy = (over: Partial<LazyfreeFacts> = {}): LazyfreeFacts => ({ lazyfree: true, referencedFolio: false, mappers: [mapper(2)], ...over });
const mapper = (pid: number, over: Partial<LazyfreeMapper> = {}): LazyfreeMapper => ({ pid, dirty: false, referenced: false, ...over });

test('madv-free: a marked page clean and unreferenced in every mapping is discarded', (t) => {
  const d = decideLazyfree(lazy({ mappers: [mapper(2), mapper(3)] }));
  t.true(d.purge);
  t.is(d.rule, 'lazyfree-clean');
  t.regex(d.why, /pid 2, pid 3/);
  // PG_referenced alone (no young pte) does not save a clean lazyfree page: FOLIOREF_RECLAIM_CLEAN.
  t.true(decideLazyfree(lazy({ referencedFolio: true })).purge);
});

test('madv-free: a read gives one second chance, a second read activates', (t) => {
  const first = decideLazyfree(lazy({ mappers: [mapper(2, { referenced: true })] }));
  t.false(first.purge);
  t.is(first.rule, 'lazyfree-second-chance');
  t.true(first.referencedFolio);
  t.true(first.lazyfree, 'a read does not cancel the mark');
  // The scan cleared the young bit; not used since: discarded on the next scan.
  t.true(decideLazyfree(lazy({ referencedFolio: first.referencedFolio })).purge);
  // Used again after its second chance: activated (kept).
  const again = decideLazyfree(lazy({ referencedFolio: true, mappers: [mapper(2, { referenced: true })] }));
  t.false(again.purge);
  t.is(again.rule, 'lazyfree-activated');
  // Referenced through two mappings at once: activated at the first scan (referenced_ptes > 1).
  t.is(decideLazyfree(lazy({ mappers: [mapper(2, { referenced: true }), mapper(3, { referenced: true })] })).rule, 'lazyfree-activated');
});

test('madv-free: a dirty mapping (a write since the mark, or a dirty copy after fork) puts the page back for good', (t) => {
  const d = decideLazyfree(lazy({ mappers: [mapper(2), mapper(3, { dirty: true })] }));
  t.false(d.purge);
  t.is(d.rule, 'lazyfree-redirtied');
  t.regex(d.why, /pid 3/);
  t.notRegex(d.why, /pid 2/);
  t.false(d.lazyfree, 'the folio is swap-backed again: the mark is gone');
  const after = decideLazyfree(lazy({ lazyfree: d.lazyfree }));
  t.false(after.purge);
  t.is(after.rule, 'lazyfree-not-marked');
});

test('madv-free: every rule has its text, and a page with no mapping is a bug', (t) => {
  for (const rule of ['lazyfree-not-marked', 'lazyfree-second-chance', 'lazyfree-activated', 'lazyfree-redirtied', 'lazyfree-clean'] as const) t.regex(RULE_TEXT[rule], /^madv-free: /);
  t.throws(() => decideLazyfree(lazy({ mappers: [] })), { message: /no mapping/ });
});
