// The purge decision is a pure function: each policy's rules, checked without processes.
import test from 'ava';
import { decide, vrangeTarget, type MapperVote, type PageFacts } from '../shared/policy.js';

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
