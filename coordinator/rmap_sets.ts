// The reverse map's per-frame mapper lists, with no object per page (issue 14). A frame's mappers
// are an ordered list of (pid, vpage, kind); the list is stored relative to its frame, each vpage
// as `vpage - frame`, and interned: every frame whose list is the same (in order) holds the id of
// one shared MapperSet in a typed array. After a fork, the 100,000 pages a parent wrote at
// consecutive frames and its 15 children all map at the same vpages are one set, not 1.6 million
// entries, and "frame g has the mappers of frame f, each one page on" is `setAt(g) === setAt(f)`:
// one comparison per page whatever the number of mappers (vmscan.ts decides a run so).
//
// A set is freed when no frame holds it; adding or removing a mapper goes from set to set through
// a small transition cache on the set (a fork adds the same child entry to every frame of a run).
// Invariant (asserted): each set's `uses` is the number of frames holding it, and no set lists
// the same (pid, vpage) twice.

import type { Mapper, PteKind } from './rmap.js';
import { firstNotEqual } from './frame_scan.js';

/** One relative entry of a set: the mapper's pid, `vpage - frame`, and its kind. */
interface RelMapper { readonly pid: number; readonly rel: number; readonly kind: PteKind }

interface MapperSet {
  readonly id: number;
  readonly list: readonly RelMapper[];
  /** hashOf(list): sets with equal lists have equal hashes (the intern table's key). */
  readonly hash: number;
  /** Frames holding this set. */
  uses: number;
  alive: boolean;
  /** `+pid:rel:kind` or `-pid:rel` -> the set that change leads to (checked alive before use). */
  readonly next: Map<string, MapperSet>;
}

/** Transitions kept per set at most (a set reached from many others keeps only the recent ones). */
const TRANSITIONS_MAX = 64;

const KIND_CODE: Readonly<Record<PteKind, number>> = { anon: 1, 'file-shared': 2, 'file-private': 3 };

/** An order-dependent hash of a list (no string built: a set of 16 mappers costs 16 steps). */
function hashOf(list: readonly RelMapper[]): number {
  let h = 0x811c9dc5;
  for (const m of list) {
    for (const x of [m.pid, m.rel | 0, Math.floor(m.rel / 2 ** 32), KIND_CODE[m.kind]]) h = Math.imul(h ^ x, 0x01000193);
  }
  return h >>> 0;
}

const sameList = (a: readonly RelMapper[], b: readonly RelMapper[]) =>
  a.length === b.length && a.every((m, i) => m.pid === b[i]!.pid && m.rel === b[i]!.rel && m.kind === b[i]!.kind);

export class MapperSets {
  /** The set id each frame holds (0: no mapper), for frames [0, length). */
  private setOf = new Int32Array(1024);
  /** Sets by id; id 0 is the empty set, never freed. */
  private readonly sets: Array<MapperSet | undefined> = [];
  /** The live sets by hash (a few share one only when their hashes collide). */
  private readonly byHash = new Map<number, MapperSet[]>();
  private readonly freeIds: number[] = [];
  /** Frames with at least one mapper. */
  mapped = 0;

  constructor() { this.intern([]).uses = Infinity; }

  /** The id of frame `f`'s set (0: none): equal ids, equal lists relative to their frames. */
  setAt(f: number): number { return f < this.setOf.length ? this.setOf[f]! : 0; }

  /** How many mappers frame `f` has. */
  count(f: number): number { return this.sets[this.setAt(f)]!.list.length; }

  /** Frame `f`'s mappers, in the order they were added (a new list each call). */
  mappers(f: number): Mapper[] {
    return this.sets[this.setAt(f)]!.list.map((m) => ({ pid: m.pid, vpage: m.rel + f, kind: m.kind }));
  }

  /** Frame `f` gains the mapper (pid, vpage, kind), last in its list. */
  add(f: number, pid: number, vpage: number, kind: PteKind): void {
    const rel = vpage - f;
    const cur = this.sets[this.setAt(f)]!;
    if (cur.list.some((m) => m.pid === pid && m.rel === rel)) throw new Error(`rmap invariant: frame ${f} lists pid ${pid} page ${vpage} twice`);
    this.move(f, cur, `+${pid}:${rel}:${kind}`, () => [...cur.list, { pid, rel, kind }]);
  }

  /** Frame `f` loses the mapper (pid, vpage); false when it had none such. */
  remove(f: number, pid: number, vpage: number): boolean {
    const rel = vpage - f;
    const cur = this.sets[this.setAt(f)]!;
    const j = cur.list.findIndex((m) => m.pid === pid && m.rel === rel);
    if (j < 0) return false;
    this.move(f, cur, `-${pid}:${rel}`, () => cur.list.filter((_, i) => i !== j));
    return true;
  }

  /** Frames [f, f + count) lose every mapper; returns the first frame's (relative to each frame: the same set throughout, checked). */
  clearRun(f: number, count: number): readonly RelMapper[] {
    const id = this.setAt(f);
    const s = this.sets[id]!;
    // (A frame past the array's end has no slot: the run stops there, which is an error too.)
    const g = firstNotEqual(this.setOf, f, f + count, id);
    if (g < f + count) throw new Error(`rmap invariant: frame ${g} of a purged run from frame ${f} has other mappers than the run's`);
    if (id === 0) return s.list;
    this.setOf.fill(0, f, f + count);
    this.mapped -= count;
    this.release(s, count);
    return s.list;
  }

  /** The first frame of [from, to) whose set id is not `id` (or `to`; a frame past the array's end has none). */
  firstOtherSet(from: number, to: number, id: number): number {
    const inside = Math.max(from, Math.min(to, this.setOf.length));
    const g = firstNotEqual(this.setOf, from, inside, id);
    if (g < inside) return g;
    return id === 0 ? to : inside;
  }

  /** Every frame with a mapper, ascending. */
  *mappedFrames(): Generator<number> {
    if (this.mapped === 0) return;
    for (let f = 0; f < this.setOf.length; f++) if (this.setOf[f] !== 0) yield f;
  }

  private move(f: number, cur: MapperSet, change: string, list: () => RelMapper[]): void {
    let to = cur.next.get(change);
    if (!to || !to.alive) {
      const l = list();
      to = this.find(l) ?? this.intern(l);
      if (cur.next.size >= TRANSITIONS_MAX) cur.next.clear();
      cur.next.set(change, to);
    }
    if (f >= this.setOf.length) this.grow(f);
    to.uses++;
    this.setOf[f] = to.id;
    if (cur.id === 0) this.mapped++;
    if (to.id === 0) this.mapped--;
    this.release(cur, 1);
  }

  private find(list: readonly RelMapper[]): MapperSet | undefined {
    return this.byHash.get(hashOf(list))?.find((s) => sameList(s.list, list));
  }

  private intern(list: RelMapper[]): MapperSet {
    const id = this.freeIds.pop() ?? this.sets.length;
    const s: MapperSet = { id, list, hash: hashOf(list), uses: 0, alive: true, next: new Map() };
    this.sets[id] = s;
    const same = this.byHash.get(s.hash);
    if (same) same.push(s); else this.byHash.set(s.hash, [s]);
    return s;
  }

  /** `n` frames stop holding `s`; a set no frame holds goes (the empty set stays). */
  private release(s: MapperSet, n: number): void {
    s.uses -= n;
    if (s.uses < 0) throw new Error(`rmap invariant: mapper set ${s.id} held by ${s.uses} frames`);
    if (s.uses > 0 || s.id === 0) return;
    s.alive = false;
    s.next.clear();
    const same = this.byHash.get(s.hash)!;
    if (same.length === 1) this.byHash.delete(s.hash); else same.splice(same.indexOf(s), 1);
    this.sets[s.id] = undefined;
    this.freeIds.push(s.id);
  }

  private grow(f: number): void {
    let n = this.setOf.length;
    while (n <= f) n *= 2;
    const b = new Int32Array(n);
    b.set(this.setOf);
    this.setOf = b;
  }
}
