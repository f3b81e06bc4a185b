// The offline checker (`vrange check`) and steps that overlap in time (checker/check_concurrent.ts):
// a sub-page write of a shared page that overlaps another process's whole-page write may land
// after it, its bytes over that write's page (random seed 40129 mixed, free schedule, found by the
// sweeps after the last stop's fixes). A history written by hand in that shape, so the case is
// checked every time.
import test from 'ava';
import { done, found, history, invoke, step, texts, type Ev } from './history_helpers.js';

/**
 * A maps one page of shared anonymous memory and forks C; A writes "v21" over the whole page while
 * C writes "s64" at offset 4 (C's write completes first), then C reads the page as `readValue`
 * (or, with `subFirst` false, A's write completes first).
 */
function overlap(readValue: string, subFirst = true): Ev[] {
  const aWrite = invoke('A', 2, { op: 'write', map: 'm0', page: 0, value: 'v21' });
  const cSub = step('C', 0, { op: 'write', map: 'm0', page: 0, offset: 4, value: 's64' });
  const aDone = done('A', 2, 'write', {});
  return history([
    { kind: 'birth', process: 'A', pid: 2, osPid: 100 },
    ...step('A', 0, { op: 'mmap', as: 'm0', pages: 1, share: 'shared' }, { addr: 4096 }, { span: [1, 2] }),
    invoke('A', 1, { op: 'fork', child: 'C' }),
    { kind: 'birth', process: 'C', pid: 3, parent: 'A', osPid: 101 },
    done('A', 1, 'fork', { pid: 3 }),
    aWrite,
    ...(subFirst ? [...cSub, invoke('C', 1, { op: 'read', map: 'm0', page: 0 }), aDone] : [cSub[0]!, aDone, cSub[1]!, invoke('C', 1, { op: 'read', map: 'm0', page: 0 })]),
    done('C', 1, 'read', { value: readValue }),
    { kind: 'cleanup', process: 'A', pid: 2, state: 'exited', exitCode: 0, framesFreed: 0, pagesUnmapped: 1, vmas: 1, fdsClosed: 0, filesReleased: [] },
    { kind: 'cleanup', process: 'C', pid: 3, state: 'exited', exitCode: 0, framesFreed: 1, pagesUnmapped: 1, vmas: 1, fdsClosed: 0, filesReleased: [] },
  ], [{ process: 'A', pid: 2, state: 'exited', steps: 3 }, { process: 'C', pid: 3, state: 'exited', steps: 2 }]);
}

test('a sub-page write that overlaps a whole-page write: the page may read as either order left it, and as nothing else (seed 40129)', (t) => {
  for (const subFirst of [true, false]) {
    const at = `C's write completes ${subFirst ? 'first' : 'last'}`;
    t.deepEqual(texts(overlap('v21\u0000s64', subFirst)), '', `${at}: A's write landed first, C's bytes over it`);
    t.deepEqual(texts(overlap('v21', subFirst)), '', `${at}: C's write landed first, A's page over it`);
    t.deepEqual(found(overlap('zz', subFirst)), ['read-last-write'], `${at}: a value no order gives`);
  }
});
