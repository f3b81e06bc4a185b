// The offline checker (`vrange check`) and the lifetimes of what a history names: an fd number
// closed and given to the next open (a binding reaches whatever is open at its number now), and a
// child forked while its parent dies or while a reclaim exchange is open (its `birth` comes when
// its agent is ready, after events that already concern it). Each history here is written by hand
// in the shape the free schedule gives (the random sweeps' seeds 40109 and 31793), so each case
// is checked every time, not once in thousands of runs.
import test from 'ava';
import { checkHistory } from '../checker/check.js';
import { runYaml } from './helpers.js';
import { cleanup, done, found, history, invoke, step, texts, type Ev } from './history_helpers.js';

// ------------------------------------------------------------ fd numbers: open, close, reopen

/**
 * B opens f1 as fd0 (number 3), closes it, opens `reopened` as fd1 (number 3 again), then maps
 * through the name fd0, which reaches what is open at 3 now, and writes "v2" to page `page` there;
 * A maps `reopened`'s page `page` through its own fd and reads `readValue`.
 */
function fdReuse(reopened: string, readValue: string, page = 0): Ev[] {
  const files = [{ name: 'f0', pages: 1 }, { name: 'f1', pages: 4 }];
  return history([
    { kind: 'birth', process: 'A', pid: 2, osPid: 100 },
    { kind: 'birth', process: 'B', pid: 3, osPid: 101 },
    ...step('B', 0, { op: 'open', file: 'f1', fd: 'fd0' }, { fd: 3 }),
    ...step('B', 1, { op: 'close', fd: 'fd0' }),
    ...step('B', 2, { op: 'open', file: reopened, fd: 'fd1' }, { fd: 3 }),
    ...step('B', 3, { op: 'mmap', as: 'm', pages: 1, fd: 'fd0', offset: page, share: 'shared' }, { addr: 4096 }, { span: [1, 2] }),
    ...step('B', 4, { op: 'write', map: 'm', page: 0, value: 'v2' }),
    cleanup('B', 3),
    ...step('A', 0, { op: 'open', file: reopened, fd: 'mine' }, { fd: 3 }),
    ...step('A', 1, { op: 'mmap', as: 'm', pages: 1, fd: 'mine', offset: page, share: 'shared' }, { addr: 4096 }, { span: [1, 2] }),
    ...step('A', 2, { op: 'read', map: 'm', page: 0 }, { value: readValue }),
    cleanup('A', 2),
  ], [{ process: 'A', pid: 2, state: 'exited', steps: 3 }, { process: 'B', pid: 3, state: 'exited', steps: 5 }], files);
}

test('an fd closed and its number reopened: the old name reaches the file open there now (seed 40109)', (t) => {
  // The same file reopened (40109's case), and another file: either way the write lands in the file now at number 3.
  for (const file of ['f1', 'f0']) {
    t.deepEqual(texts(fdReuse(file, 'v2')), '', `reopened ${file}`);
    // And the checker still checks through the reused number: another value is found.
    t.deepEqual(found(fdReuse(file, 'other')), ['read-last-write'], `reopened ${file}, a wrong read`);
  }
});

test('an fd closed and not reopened: a mapping made through it stays the file\'s, and a new one through it is EBADF', (t) => {
  // A maps f1 through fd0 before the close: that mapping stays (a mapping outlives its fd), and its
  // write is f1's, read back through another fd; after the close fd0 names no file.
  const h = history([
    { kind: 'birth', process: 'A', pid: 2, osPid: 100 },
    ...step('A', 0, { op: 'open', file: 'f1', fd: 'fd0' }, { fd: 3 }),
    ...step('A', 1, { op: 'mmap', as: 'm', pages: 1, fd: 'fd0', offset: 0, share: 'shared' }, { addr: 4096 }, { span: [1, 2] }),
    ...step('A', 2, { op: 'close', fd: 'fd0' }),
    ...step('A', 3, { op: 'write', map: 'm', page: 0, value: 'kept' }),
    ...step('A', 4, { op: 'mmap', as: 'n', pages: 1, fd: 'fd0', offset: 0, share: 'shared' }, { ok: false, errno: 'EBADF' }),
    ...step('A', 5, { op: 'open', file: 'f1', fd: 'again' }, { fd: 3 }),
    ...step('A', 6, { op: 'mmap', as: 'k', pages: 1, fd: 'again', offset: 0, share: 'shared' }, { addr: 8192 }, { span: [2, 3] }),
    ...step('A', 7, { op: 'read', map: 'k', page: 0 }, { value: 'kept' }),
    cleanup('A', 2),
  ], [{ process: 'A', pid: 2, state: 'exited', steps: 8 }], [{ name: 'f1', pages: 4 }]);
  t.deepEqual(texts(h), '');
});

// ------------------------------------------------------------ a child born after events that concern it

/**
 * A maps 3 anonymous pages, writes "v57" to page 0 and forks C; the OOM killer kills A while its
 * fork waits for C's agent (A's cleanup comes first), then C is born and reads page 0 as `readValue`.
 */
function orphanBirth(readValue: string, forkInFlight = true): Ev[] {
  return history([
    { kind: 'birth', process: 'A', pid: 2, osPid: 100 },
    ...step('A', 0, { op: 'mmap', as: 'm0', pages: 3 }, { addr: 4096 }, { span: [1, 4] }),
    ...step('A', 1, { op: 'write', map: 'm0', page: 0, value: 'v57' }),
    ...(forkInFlight ? [
      invoke('A', 2, { op: 'fork', child: 'C' }),
      { kind: 'oom-kill', process: 'A', pid: 2, resident: 1, faulting: 'A', why: 'most resident pages' },
      done('A', 2, 'fork', { ok: false, signal: 'SIGKILL' }),
      cleanup('A', 2, { state: 'killed', exitCode: undefined, signal: 'SIGKILL', interrupted: 2 }),
    ] : [cleanup('A', 2)]),
    { kind: 'birth', process: 'C', pid: 3, parent: 'A', osPid: 101 },
    ...step('C', 0, { op: 'read', map: 'm0', page: 0 }, { value: readValue }),
    cleanup('C', 3),
  ], [{ process: 'A', pid: 2, state: forkInFlight ? 'killed' : 'exited', steps: forkInFlight ? 3 : 2 }, { process: 'C', pid: 3, state: 'exited', steps: 1 }]);
}

test('a parent killed while its fork waits for the child\'s agent: the child is born after the parent\'s cleanup, with the parent\'s memory (seed 31793)', (t) => {
  t.deepEqual(texts(orphanBirth('v57')), '');
  // The child's view is the parent's at the fork, not the empty one its cleanup left: a wrong read is found.
  t.deepEqual(found(orphanBirth('other')), ['read-last-write']);
  // A birth after the parent's cleanup with no fork of that child cut short by the death is still wrong.
  const bare = orphanBirth('', false);
  t.true(texts(bare).includes('dead-hold-nothing: A forked a child after its cleanup'), texts(bare));
});

/**
 * A marks its page 0 volatile and forks C; while C's agent starts, a reclaim asks both and purges
 * the page (both votes, both told), then C is born; C's nonvolatile says `purged`.
 */
function voteBeforeBirth(purged: boolean, parentDies = false): Ev[] {
  const vote = (pid: number, process: string) => ({ pid, process, vpage: 1, share: 'anon', volatile: true, answered: true });
  return history([
    { kind: 'birth', process: 'A', pid: 2, osPid: 100 },
    ...step('A', 0, { op: 'mmap', as: 'm0', pages: 1 }, { addr: 4096 }, { span: [1, 2] }),
    ...step('A', 1, { op: 'write', map: 'm0', page: 0, value: 'x' }),
    ...step('A', 2, { op: 'vrange', map: 'm0', page: 0, pages: 1, mode: 'volatile' }, { bytes: 4096 }, { span: [1, 2], purgedPages: [] }),
    invoke('A', 3, { op: 'fork', child: 'C' }),
    { kind: 'reclaim-prepare', xid: 1, reason: 'kernel step: reclaim all', want: null, candidates: 1, asked: [{ pid: 2, pages: 1 }, { pid: 3, pages: 1 }] },
    { kind: 'decision', xid: 1, reason: 'kernel step: reclaim all', page: 'frame 0', unit: 'A range', purge: true, rule: 'anon-all-volatile', why: 'every mapper has it volatile',
      frame: 0, vpages: [[2, 1], [3, 1]], pageKind: 'anon', policy: 'shared-file', votes: [vote(2, 'A'), vote(3, 'C')] },
    { kind: 'purge-notify', xid: 1, process: 'A', runs: [1, 1] },
    { kind: 'purge-notify', xid: 1, process: 'C', runs: [1, 1] },
    { kind: 'reclaim-commit', xid: 1, reason: 'kernel step: reclaim all', freed: 1, unitsTried: 1, purged: ['frame 0'] },
    ...(parentDies ? [
      { kind: 'oom-kill', process: 'A', pid: 2, resident: 1, faulting: 'A', why: 'most resident pages' },
      done('A', 3, 'fork', { ok: false, signal: 'SIGKILL' }),
      cleanup('A', 2, { state: 'killed', exitCode: undefined, signal: 'SIGKILL', interrupted: 3 }),
      { kind: 'birth', process: 'C', pid: 3, parent: 'A', osPid: 101 },
    ] : [
      { kind: 'birth', process: 'C', pid: 3, parent: 'A', osPid: 101 },
      done('A', 3, 'fork', { pid: 3 }),
      cleanup('A', 2),
    ]),
    ...step('C', 0, { op: 'vrange', map: 'm0', page: 0, pages: 1, mode: 'nonvolatile' }, { bytes: 4096, purged }, { span: [1, 2], purgedPages: purged ? [1] : [] }),
    cleanup('C', 3),
  ], [{ process: 'A', pid: 2, state: parentDies ? 'killed' : 'exited', steps: 4 }, { process: 'C', pid: 3, state: 'exited', steps: 1 }]);
}

test('a reclaim that asks a child before its birth: its vote and its purge notice count for it, whether its parent lives on or dies first', (t) => {
  for (const parentDies of [false, true]) {
    t.deepEqual(texts(voteBeforeBirth(true, parentDies)), '', `parent dies: ${parentDies}`);
    // It was told of the purge before its birth: its nonvolatile must say so.
    t.deepEqual(found(voteBeforeBirth(false, parentDies)), ['purge-reported'], `parent dies: ${parentDies}`);
  }
});

test('a real run: a stale fd name reaches the file reopened at its number, in the kernel and in the checker alike', async (t) => {
  const { report, history } = await runYaml(`
name: fd-reuse
files: [ { name: f0, pages: 1 }, { name: f1, pages: 4 } ]
processes:
  B:
    steps:
      - { op: open, file: f0, fd: fd0, expect: { fd: 3 } }
      - { op: close, fd: fd0 }
      - { op: open, file: f1, fd: fd1, expect: { fd: 3 } }
      - { op: mmap, as: m, pages: 1, fd: fd0, offset: 3, share: shared }
      - { op: write, map: m, page: 0, value: "v2" }
      - { op: signal, name: written }
      - { op: close, fd: fd1 }
      - { op: mmap, as: n, pages: 1, fd: fd0, expect: { ok: false, errno: EBADF } }
  A:
    steps:
      - { op: wait, name: written }
      - { op: open, file: f1, fd: f1 }
      - { op: mmap, as: m, pages: 1, fd: f1, offset: 3, share: shared }
      - { op: read, map: m, page: 0, expect: { value: "v2" } }
kernel: []
`, { seed: 1 });
  t.deepEqual(report.failures, [], 'B wrote f1 page 3 through the name of the file it had closed');
  t.deepEqual(checkHistory(history).violations, []);
});
