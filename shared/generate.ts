// Random valid scenarios, made from a seed: the raw material of model-checked random runs.
// Every binding a step uses was made before it (forked children inherit the parent's), every
// position lies inside its mapping or file, and nothing waits (but the `anon` kind's last steps,
// for the kernel's last signal, which nothing can block), so every run can end.

import { Prng } from './prng.js';
import { parseScenario } from './scenario.js';
import type { Scenario } from './scenario-types.js';

interface MapB { name: string; pages: number }
interface State { maps: MapB[]; fds: Array<{ name: string; file: number }>; n: number; written?: string }

const ops = ['write', 'write', 'write', 'read', 'read', 'vrange', 'vrange', 'vrange', 'mmap', 'open', 'fvrange', 'query', 'munmap', 'close'] as const;
/** The `anon` kind: what madv-free (MADV_FREE) is about. Private anonymous memory written, marked, written again, read, forked and reclaimed. */
const anonOps = ['write', 'write', 'write', 'write', 'read', 'read', 'read', 'vrange', 'vrange', 'vrange', 'mmap', 'query', 'munmap'] as const;

/** `mixed`: every op, files and shared memory; `anon`: private anonymous memory above all (a shared mapping now and then, refused by madv-free). */
export type ScenarioKind = 'mixed' | 'anon';

function step(r: Prng, st: State, files: Array<{ name: string; pages: number }>, fork?: string, kind: ScenarioKind = 'mixed'): Record<string, unknown> | undefined {
  const pick = <T>(xs: T[]): T => xs[r.below(xs.length)]!;
  if (kind === 'anon') return anonStep(r, st, fork);
  const op = fork && r.below(6) === 0 ? 'fork' : pick([...ops]);
  const map = st.maps.length ? pick(st.maps) : undefined;
  const fd = st.fds.length ? pick(st.fds) : undefined;
  switch (op) {
    case 'fork': return { op: 'fork', child: fork };
    case 'open': {
      if (!files.length) return undefined;
      const file = r.below(files.length);
      const name = `fd${st.n++}`;
      st.fds.push({ name, file });
      return { op: 'open', file: files[file]!.name, fd: name };
    }
    case 'mmap': {
      const name = `m${st.n++}`;
      if (fd && r.below(2) === 0) {
        const fpages = files[fd.file]!.pages;
        const offset = r.below(fpages);
        const pages = 1 + r.below(fpages - offset);
        st.maps.push({ name, pages });
        return { op: 'mmap', as: name, fd: fd.name, pages, offset, share: r.below(3) === 0 ? 'private' : 'shared' };
      }
      const pages = 1 + r.below(4);
      st.maps.push({ name, pages });
      return r.below(5) === 0 ? { op: 'mmap', as: name, pages, share: 'shared' } : { op: 'mmap', as: name, pages };
    }
    case 'write': return map ? write(map.name, r.below(map.pages), r.below(100)) : undefined;
    case 'read': return map ? { op: 'read', map: map.name, page: r.below(map.pages) } : undefined;
    case 'vrange': {
      if (!map) return undefined;
      const page = r.below(map.pages);
      return { op: 'vrange', map: map.name, page, pages: 1 + r.below(map.pages - page), mode: r.below(2) ? 'volatile' : 'nonvolatile' };
    }
    case 'fvrange': {
      if (!fd) return undefined;
      const fpages = files[fd.file]!.pages;
      const page = r.below(fpages);
      return { op: 'fvrange', fd: fd.name, page, pages: 1 + r.below(fpages - page), mode: r.below(2) ? 'volatile' : 'nonvolatile' };
    }
    case 'query': {
      if (map && r.below(2)) {
        const page = r.below(map.pages);
        return { op: 'query', map: map.name, page, pages: 1 + r.below(map.pages - page) };
      }
      return fd ? { op: 'query', fd: fd.name, page: 0, pages: files[fd.file]!.pages } : undefined;
    }
    case 'munmap': {
      if (!map) return undefined;
      const page = r.below(map.pages);
      return { op: 'munmap', map: map.name, page, pages: 1 + r.below(map.pages - page) };
    }
    case 'close': return fd ? { op: 'close', fd: fd.name } : undefined;
  }
}

function anonStep(r: Prng, st: State, fork?: string): Record<string, unknown> | undefined {
  const op = fork && st.written && r.below(4) === 0 ? 'fork' : st.maps.length === 0 ? 'mmap' : anonOps[r.below(anonOps.length)]!;
  // Mostly the mapping written last, so that marks meet resident pages and reads meet marked ones.
  const recent = st.maps.find((m) => m.name === st.written);
  const map = recent && r.below(3) ? recent : st.maps.length ? st.maps[r.below(st.maps.length)] : undefined;
  if (op === 'write' && map) st.written = map.name;
  switch (op) {
    case 'fork': return { op: 'fork', child: fork };
    case 'mmap': {
      const name = `m${st.n++}`;
      const pages = 1 + r.below(3);
      st.maps.push({ name, pages });
      return r.below(8) === 0 ? { op: 'mmap', as: name, pages, share: 'shared' } : { op: 'mmap', as: name, pages };
    }
    case 'write': return map ? { op: 'write', map: map.name, page: r.below(map.pages), value: `v${r.below(100)}` } : undefined;
    case 'read': return map ? { op: 'read', map: map.name, page: r.below(map.pages) } : undefined;
    case 'vrange': {
      if (!map) return undefined;
      const page = r.below(2) ? 0 : r.below(map.pages);
      return { op: 'vrange', map: map.name, page, pages: map.pages - page - (r.below(3) ? 0 : r.below(map.pages - page)), mode: r.below(6) ? 'volatile' : 'nonvolatile' };
    }
    case 'query': {
      if (!map) return undefined;
      const page = r.below(map.pages);
      return { op: 'query', map: map.name, page, pages: 1 + r.below(map.pages - page) };
    }
    case 'munmap': {
      if (!map || r.below(2)) return undefined; // rarer than the rest: it leaves holes for a later vrange (ENOMEM)
      const page = r.below(map.pages);
      return { op: 'munmap', map: map.name, page, pages: 1 + r.below(map.pages - page) };
    }
  }
}

/**
 * A whole-page write of `v<n>`, or for one n in four a sub-page write at a small offset (it lands
 * on or just past the bytes earlier writes left, or on zeros), as `bytes` or as `value`. Derived
 * from the one draw a write always took, so the rest of each seed's scenario is as it was.
 */
function write(map: string, page: number, n: number): Record<string, unknown> {
  if (n % 4 !== 0) return { op: 'write', map, page, value: `v${n}` };
  const offset = (n / 4) % 6;
  return n % 8 === 0 ? { op: 'write', map, page, offset, bytes: `s${n}` } : { op: 'write', map, page, offset, value: `s${n}` };
}

function steps(r: Prng, st: State, files: Array<{ name: string; pages: number }>, count: number, fork?: string, kind: ScenarioKind = 'mixed'): { steps: unknown[]; atFork?: State } {
  const out: unknown[] = [];
  let atFork: State | undefined;
  for (let made = 0; made < count;) {
    const s = step(r, st, files, atFork ? undefined : fork, kind);
    if (!s) continue;
    if (s.op === 'fork') atFork = { maps: [...st.maps], fds: [...st.fds], n: st.n + 1000 };
    out.push(s);
    made++;
    // A sub-page write is read back at once (no draw: the rest of the seed's scenario is as it
    // was), so the comparison with the model sees the bytes it kept around it.
    if (s.op === 'write' && s.offset !== undefined) out.push({ op: 'read', map: s.map, page: s.page });
  }
  return { steps: out, atFork };
}

/** A random scenario: two or three processes (one forked), files, and a few kernel reclaims. */
export function randomScenario(seed: number, kind: ScenarioKind = 'mixed'): Scenario {
  if (kind === 'anon') return randomAnonScenario(seed);
  const r = new Prng(seed, 'scenario');
  const files = Array.from({ length: r.below(3) }, (_, i) => ({ name: `f${i}`, pages: 1 + r.below(4), kind: r.below(3) === 0 ? 'ashmem' : 'tmpfs' }));
  const a = steps(r, { maps: [], fds: [], n: 0 }, files, 4 + r.below(8), 'C');
  const b = steps(r, { maps: [], fds: [], n: 0 }, files, 3 + r.below(8));
  const processes: Record<string, unknown> = {
    A: { steps: a.steps, sigbus: r.below(2) ? 'handle' : 'kill' },
    B: { steps: b.steps, sigbus: 'handle' },
  };
  if (a.atFork) processes.C = { forked: true, sigbus: 'handle', steps: steps(r, a.atFork, files, 2 + r.below(6)).steps };
  const kernel = Array.from({ length: 1 + r.below(3) }, () => (r.below(2) ? { op: 'reclaim', all: true } : { op: 'reclaim', pages: 1 + r.below(4) }));
  const doc = {
    name: `random-${seed}`,
    description: `A random scenario made from seed ${seed} (vrange's generator).`,
    access: r.below(3) === 0 ? 'zero' : 'sigbus',
    purgeUnit: r.below(2) ? 'page' : 'range',
    memory: { frames: [3, 4, 6, 8, 64][r.below(5)] },
    files, processes, kernel,
  };
  return parseScenario(JSON.stringify(doc), `random-${seed}.json`);
}

/**
 * A random scenario of private anonymous memory (the `anon` kind): A (which forks C) and B write,
 * mark, write again, read and unmap; the kernel reclaims everything or a few pages, several times;
 * frames are sometimes short (direct reclaim). What madv-free's rules are about: resident pages
 * marked, a write after the mark, a read's second chance, fork's shared pages.
 */
function randomAnonScenario(seed: number): Scenario {
  const r = new Prng(seed, 'scenario');
  const a = steps(r, { maps: [], fds: [], n: 0 }, [], 6 + r.below(8), 'C', 'anon');
  const b = steps(r, { maps: [], fds: [], n: 0 }, [], 4 + r.below(8), undefined, 'anon');
  // Each process ends by waiting for the kernel's last step (which never waits itself), so its marked
  // pages are still mapped when the later reclaims come.
  const end = { op: 'wait', name: 'done' };
  const processes: Record<string, unknown> = {
    A: { steps: [...a.steps, end], sigbus: r.below(2) ? 'handle' : 'kill' },
    B: { steps: [...b.steps, end], sigbus: 'handle' },
  };
  if (a.atFork) processes.C = { forked: true, sigbus: 'handle', steps: [...steps(r, a.atFork, [], 3 + r.below(6), undefined, 'anon').steps, end] };
  const kernel = [...Array.from({ length: 2 + r.below(4) }, () => (r.below(2) ? { op: 'reclaim', all: true } : { op: 'reclaim', pages: 1 + r.below(3) })),
    { op: 'signal', name: 'done' }];
  const doc = {
    name: `random-anon-${seed}`,
    description: `A random scenario of private anonymous memory made from seed ${seed} (vrange's generator, kind anon).`,
    access: r.below(3) === 0 ? 'zero' : 'sigbus',
    purgeUnit: r.below(2) ? 'page' : 'range',
    memory: { frames: [3, 4, 6, 8, 64, 64][r.below(6)] },
    processes, kernel,
  };
  return parseScenario(JSON.stringify(doc), `random-anon-${seed}.json`);
}
