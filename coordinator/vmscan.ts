// vmscan: the kernel half of reclaim. It opens the exchanges (reclaim.ts holds the protocol),
// and answers what they ask through ReclaimHost: the candidate frames and their holding, whom to
// ask about which pages (the rmap for anonymous frames, the file's i_mmap for page-cache pages),
// the purge units (the files' own volatile ranges and each mm's answered ranges, oldest marked
// first, or single pages least recently used first), the policy's decision on each page
// (shared/policy.ts, from the page's facts and its mappers' votes), the purge, and the `decision`
// events.
//
// Ordering rules: frames held by one open exchange are not candidates of another (`held`); a
// faulting write holds its source frame the same way (fault.ts). Direct reclaim runs a whole
// exchange under the reclaim lock (page_alloc.ts); a kernel `reclaim` step's prepare and commit
// are separate lockstep actions (scheduler.ts). A purge changes kernel state only at commit time,
// synchronously, page by page; the mappers learn of it in the commit message.

import type { DecisionVote, EventFields, EventKind } from './history_events.js';
import { verifyIfEnabled, verifyImmapIfEnabled } from './verify.js';
import type { KernelMsg } from '../shared/messages.js';
import { decide, type PageFacts } from '../shared/policy.js';
import type { Kernel } from './kernel.js';
import type { AddressSpace, FileMapper } from './address_space.js';
import type { Proc } from './process_table.js';
import { filePageOf } from './mmap.js';
import { Isolated } from './isolate.js';
import { firstNotEqual, firstZero } from './frame_scan.js';
import { decideLazyfreeFrame, lazyfreeAlsoHold, lazyfreeUnits } from './lazyfree.js';
import { pagesOf, runsOf } from '../shared/runs.js';
import { Exchange, type DecidedRun, type Owed, type PageWhere, type Participant, type PurgeRecord, type ReclaimHost, type VoteOf } from './reclaim.js';

/**
 * A purge unit's frames as runs `[frame, count, ...]` in the unit's order (consecutive frames of
 * one run), so that a range of 100,000 pages at consecutive frames is one run (issue 14).
 */
type Unit = { name: string; runs: number[]; at: number; key: string };

/** Appends frame `f`, or `count` frames from it, to a run list, joining it to the last run when it follows on. */
function pushFrames(runs: number[], f: number, count = 1): void {
  const n = runs.length;
  if (n > 0 && runs[n - 2]! + runs[n - 1]! === f) runs[n - 1]! += count;
  else runs.push(f, count);
}

/** The runs ascending by frame, overlaps and adjacent runs joined (a frame two vpages of one mm map is one frame). */
function ascendingRuns(runs: number[]): number[] {
  let sorted = true;
  for (let i = 2; i < runs.length && sorted; i += 2) if (runs[i]! < runs[i - 2]! + runs[i - 1]!) sorted = false;
  if (sorted) return runs;
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < runs.length; i += 2) pairs.push([runs[i]!, runs[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [f, n] of pairs) {
    const last = out.length - 2;
    if (last >= 0 && out[last]! + out[last + 1]! >= f) out[last + 1] = Math.max(out[last + 1]!, f + n - out[last]!);
    else out.push(f, n);
  }
  return out;
}

/**
 * The candidate pieces of frames [frame, frame + count) (isolate.ts; only anonymous ones if
 * `anonOnly`), as [first frame, count] pairs; each distinct run is walked once (`seen`): the
 * mappers of pages shared after fork all name the same runs of frames, so 16 mappers of 100,000
 * pages cost one walk of 100,000 frames, not 16.
 */
function piecesOf(held: Isolated, xid: number, seen: Map<string, number[]>, frame: number, count: number, anonOnly: boolean): number[] {
  const key = `${frame}:${count}`;
  let out = seen.get(key);
  if (!out) seen.set(key, (out = held.candidatePieces(xid, frame, count, anonOnly)));
  return out;
}

/**
 * Units with the same frames (the mappers of pages shared after fork each answer the same range)
 * share one run list, built once: the exchange decides a frame set once, and a later unit with the
 * same list decides nothing (reclaim.ts skips it, counting it as tried).
 */
function shareFrameSets<U extends { runs: number[] }>(units: U[]): U[] {
  const seen = new Map<string, number[][]>();
  for (const u of units) {
    const r = u.runs;
    const key = `${r.length}:${r[0]}:${r[1]}:${r[r.length - 2]}:${r[r.length - 1]}`;
    let same = seen.get(key);
    if (!same) seen.set(key, (same = []));
    const twin = same.find((x) => x.every((v, i) => v === r[i]));
    if (twin) u.runs = twin; else same.push(r);
  }
  return units;
}

export class Vmscan implements ReclaimHost {
  /** Which frames an open exchange holds (its candidates), and the frames a fault copying from them pins. */
  readonly held: Isolated;
  readonly exchanges = new Map<number, Exchange>();
  purgedPages = 0;
  private nextXid = 1;

  constructor(private readonly k: Kernel) { this.held = new Isolated(k.frames); }

  /** Runs a whole exchange (prepare then commit). Callers hold the reclaim lock. */
  /** `youngCleared`: a decision kept a page for its young bit and made it old (madv-free's second chance). */
  async runExchange(want: number, reason: string): Promise<{ freed: number; youngCleared: boolean }> {
    const ex = this.openExchange(want, reason);
    ex.direct = true;
    await ex.prepare();
    const r = await ex.commit();
    this.closeExchange(ex);
    // Lockstep: only the step that faulted runs during a direct reclaim (it waits for its frame),
    // so no step can block on this exchange, and none waits for a `release` from it.
    const blocked = this.k.config.schedule === 'lockstep' ? this.k.procs.find((p) => p.live && p.blockedOn === ex.xid) : undefined;
    if (blocked) throw new Error(`kernel invariant: ${blocked.name} blocked on direct reclaim exchange ${ex.xid} in lockstep`);
    const youngCleared = ex.decisions.some((d) => d.decision.rule === 'lazyfree-second-chance' || d.decision.rule === 'lazyfree-activated');
    return { freed: r.freed, youngCleared };
  }

  openExchange(want: number, reason: string): Exchange {
    const ex = new Exchange(this.nextXid++, want, reason, this);
    this.exchanges.set(ex.xid, ex);
    return ex;
  }

  /**
   * The exchange is over (its commit sent): what its participants still owe it is kept, so their
   * late replies are told from forged ones: the `committed` acks, which are collected as they come
   * (settle), and what a participant judged silent owes besides.
   */
  closeExchange(ex: Exchange): void {
    this.exchanges.delete(ex.xid);
    const owed = ex.owed();
    if (owed.size > 0) this.owedByClosed.set(ex.xid, owed);
    if (ex.acksPending) this.settling.set(ex.xid, ex);
  }

  /** Replies that live participants still owed an exchange when it closed: xid -> pid -> what. */
  private readonly owedByClosed = new Map<number, Map<number, Owed>>();
  /** Closed exchanges some live participant of which has not acked its commit yet: xid -> exchange. */
  private readonly settling = new Map<number, Exchange>();

  /**
   * Waits for every commit ack still owed (or for each silent participant to be judged so, as
   * Exchange.settled does): the schedule's end calls it, so that no ack's violations come after the
   * verdict. The steps never wait for acks: an agent answers its commit before any later message.
   */
  async settle(): Promise<void> {
    for (const ex of [...this.settling.values()]) await ex.settled();
    this.settling.clear();
  }

  /** A process died: every exchange open or settling completes without it. */
  onDeath(pid: number): void {
    for (const ex of this.exchanges.values()) ex.onDeath(pid);
    for (const ex of this.settling.values()) ex.onDeath(pid);
    for (const [xid, ex] of this.settling) if (!ex.acksPending) this.settling.delete(xid);
  }

  /**
   * Why an agent's message naming exchange `xid` (a `prepared`, `committed` or `blocked`) answers
   * nothing the kernel asked, or undefined. Every reply is judged against the exchange it names:
   * open, it must answer what that exchange asked of this process and has not had answered
   * (Exchange.unasked); never opened, it is forged; closed, it must be one the process still owed
   * (a participant judged silent answers late, in order: its `prepared` messages, then its
   * `committed`; in the free schedule a step of it may block on the pages it still holds until its
   * commit reaches it). Anything else (a second answer, a replay, an answer to an exchange that had
   * every answer of it) is a bad message.
   */
  unasked(pid: number, t: 'prepared' | 'committed' | 'blocked', xid: number): string | undefined {
    const lockstep = this.k.config.schedule === 'lockstep';
    const ex = this.exchanges.get(xid);
    if (ex) return ex.unasked(pid, t, lockstep);
    if (xid >= this.nextXid) return `it sent ${t} for reclaim exchange ${xid}, which the kernel has not opened`;
    const o = this.owedByClosed.get(xid)?.get(pid);
    const closed = `reclaim exchange ${xid}, which has closed`;
    if (t === 'blocked') {
      if (lockstep) return `it reported a step blocked on ${closed} (in lockstep a step blocks only between an exchange's prepare and its commit)`;
      return o?.committed && o.heard ? undefined : `it reported a step blocked on ${closed}, holding none of its pages`;
    }
    if (!o) return `it sent ${t} for ${closed} and owed it no more answers`;
    if (t === 'prepared') return o.prepared > 0 ? undefined : `it sent more prepared for ${closed}, than the kernel sent it prepare messages`;
    if (!o.committed) return `it sent committed for ${closed}, twice or with no commit sent to it`;
    return o.prepared > 0 ? `it sent committed for ${closed}, before its prepared answers` : undefined;
  }

  /** A late reply (its exchange closed; `unasked` let it through): it has no effect but to settle what was owed. */
  lateReply(pid: number, t: 'prepared' | 'committed', xid: number, violations: string[] = []): void {
    const all = this.owedByClosed.get(xid);
    const o = all?.get(pid);
    if (!all || !o) throw new Error(`kernel invariant: a late ${t} of pid ${pid} for exchange ${xid}, which it owed nothing`);
    if (t === 'prepared') { o.prepared--; o.heard = true; } else o.committed = false;
    if (o.prepared === 0 && !o.committed) all.delete(pid);
    if (all.size === 0) this.owedByClosed.delete(xid);
    if (t !== 'committed') return;
    // The ack, with the violations the agent found in its commit.
    const ex = this.settling.get(xid);
    if (!ex) return;
    ex.onAcked(pid, violations);
    if (!ex.acksPending) this.settling.delete(xid);
  }

  /** A process died: it owes nothing any more. */
  forget(pid: number): void {
    for (const [xid, all] of this.owedByClosed) {
      all.delete(pid);
      if (all.size === 0) this.owedByClosed.delete(xid);
    }
  }

  // ---------------------------------------------------------------- ReclaimHost

  /** The frames in use that no open exchange holds and no fault pins are now `xid`'s candidates (isolate.ts); how many. */
  hold(xid: number): number { return this.held.openFor(xid); }

  unhold(xid: number): void {
    this.held.close(xid);
    // Every decision of the exchange is carried out: the frames must add up (verify mode).
    verifyIfEnabled(this.k.frames, this.k.rmap, this.k.files, `after the decisions of exchange ${xid}`, this.k.pageAlloc.unplaced);
    verifyImmapIfEnabled(this.k.files, this.k.procs, `after the decisions of exchange ${xid}`);
  }

  procByPid(pid: number): Proc | undefined { return this.k.table.byPid(pid); }
  send(proc: Proc, msg: KernelMsg): void { this.k.sendTo(proc, msg); }
  log<K extends EventKind>(kind: K, fields: EventFields[K]): void { this.k.history.add(kind, fields); }
  violation(name: string, text: string): void { this.k.violation(name, text); }
  betweenPrepareAndCommit(xid: number, live: Proc[]): Promise<void> { return this.k.faultInject.betweenPrepareAndCommit(xid, live); }
  isUsed(frame: number): boolean { return this.k.frames.isUsed(frame); }

  /** Whose mm must be asked about a page-cache page: shmem mappers, and shared mappers under per-mm. */
  private asksMm(file: AddressSpace, share: 'shared' | 'private'): boolean {
    return file.kind === 'shmem' || (this.k.config.policy === 'per-mm' && share === 'shared');
  }

  /**
   * For each process, the candidate pages whose volatility lives in its mm, as ascending [start,
   * count] runs, and how many; the processes in the order of their lowest candidate frame. Walks
   * the page tables of the processes with an agent and the page cache of the files whose mappers
   * are asked, not every frame.
   */
  pagesToAsk(xid: number): Map<number, { runs: number[]; pages: number }> {
    const k = this.k;
    const ask = new Map<number, { runs: number[]; pages: number; sorted: boolean; first: number }>();
    /** `count` pages from `vpage` at frames from `frame` (the lowest). */
    const add = (pid: number, vpage: number, frame: number, count = 1) => {
      let l = ask.get(pid);
      if (!l) ask.set(pid, (l = { runs: [], pages: 0, sorted: true, first: frame }));
      const r = l.runs;
      const n = r.length;
      l.pages += count;
      l.first = Math.min(l.first, frame);
      if (n > 0 && r[n - 2]! + r[n - 1]! === vpage) r[n - 1]! += count;
      else { if (n > 0 && r[n - 2]! + r[n - 1]! > vpage) l.sorted = false; r.push(vpage, count); }
    };
    const isCandidate = this.held.candidatesOf(xid);
    const seen = new Map<string, number[]>();
    // A child still being forked (no agent yet) is not asked: like a fork after the prepare, it counts as not volatile.
    for (const p of k.procs) {
      if (!p.live || !p.agent) continue;
      // A run of the page table at consecutive frames: its candidate pieces, each added at once.
      const runs = k.rmap.anonRuns(p.pid);
      for (let j = 0; j < runs.length; j += 3) {
        const [vpage, frame, count] = [runs[j]!, runs[j + 1]!, runs[j + 2]!];
        const pieces = piecesOf(this.held, xid, seen, frame, count, true);
        for (let i = 0; i < pieces.length; i += 2) add(p.pid, vpage + pieces[i]! - frame, pieces[i]!, pieces[i + 1]!);
      }
    }
    // madv-free frees private anonymous pages only: no page-cache page is anyone's to mark.
    for (const file of k.config.policy === 'madv-free' ? [] : k.files) {
      // Nobody maps it, or no mapper's mm decides its pages: the i_mmap says so without a walk.
      if (file.mappedVmas === 0 || !(file.kind === 'shmem' || k.config.policy === 'per-mm')) continue;
      for (const [page, f] of file.cache) {
        if (!isCandidate(f)) continue;
        for (const m of file.mappersOf(page)) if (this.asksMm(file, m.share) && m.proc.agent) add(m.proc.pid, m.vpage, f);
      }
    }
    const out = new Map<number, { runs: number[]; pages: number }>();
    for (const [pid, l] of [...ask].sort((a, b) => a[1].first - b[1].first)) {
      out.set(pid, { runs: l.sorted ? l.runs : runsOf(pagesOf(l.runs).sort((a, b) => a - b)), pages: l.pages });
    }
    return out;
  }

  alsoHold(xid: number, participants: Iterable<Participant>): Map<number, number[]> {
    return this.k.config.policy === 'madv-free' ? lazyfreeAlsoHold(this.k, this.held.candidatesOf(xid), participants) : new Map();
  }

  /** Purge units in the order the purge unit asks for; each unit's frames as runs [frame, count] in its order. */
  units(xid: number, participants: Iterable<Participant>): Array<{ name: string; runs: number[] }> {
    if (this.k.config.policy === 'madv-free') return lazyfreeUnits(this.k, this.held.candidatesOf(xid), participants);
    const ranges = this.rangeUnits(xid, participants);
    if (this.k.config.purgeUnit !== 'page') return ranges;
    const volatileFrames = new Set<number>();
    for (const u of ranges) for (let i = 0; i < u.runs.length; i += 2) for (let f = u.runs[i]!; f < u.runs[i]! + u.runs[i + 1]!; f++) volatileFrames.add(f);
    const lastUse = this.k.frames.lastUse;
    return [...volatileFrames]
      .sort((a, b) => lastUse[a]! - lastUse[b]! || a - b)
      .map((f) => ({ name: `page (frame ${f}, least recently used first)`, runs: [f, 1] }));
  }

  /**
   * Every volatile range with resident candidate pages: the file's own, and each mm's answers.
   * An mm's pages at consecutive anonymous frames are found as one run (one page-table chunk
   * lookup per 512 pages); any other page is looked up on its own.
   */
  private rangeUnits(xid: number, participants: Iterable<Participant>): Unit[] {
    const units = this.fileRangeUnits(xid);
    const rmap = this.k.rmap;
    const seen = new Map<string, number[]>();
    for (const p of participants) {
      const byRange = new Map<number, { at: number; runs: number[]; start: number }>();
      const a = p.answers;
      for (let i = 0; i < a.length; i += 4) {
        const id = a[i + 2]!;
        const at = a[i + 3]!;
        let u = byRange.get(id);
        const end = a[i]! + a[i + 1]!;
        for (let vpage = a[i]!; vpage < end;) {
          const frame = this.frameSeenBy(p.proc, vpage);
          // The pages from here on at the frames that follow, anonymous: one run (1 for any other page).
          const n = frame >= 0 ? Math.max(1, rmap.anonRunFrom(p.proc.pid, vpage, frame, end - vpage)) : 1;
          const pieces = frame >= 0 ? piecesOf(this.held, xid, seen, frame, n, false) : [];
          for (let i = 0; i < pieces.length; i += 2) {
            const d = pieces[i]! - frame;
            if (!u) byRange.set(id, (u = { at, runs: [], start: vpage + d }));
            pushFrames(u.runs, pieces[i]!, pieces[i + 1]!);
            u.start = Math.min(u.start, vpage + d);
          }
          vpage += n;
        }
      }
      for (const [id, u] of byRange) {
        units.push({ name: `range ${id} of ${p.proc.name} from ${p.proc.name}@${u.start * 4096}, marked at clock ${u.at}`,
          runs: ascendingRuns(u.runs), at: u.at, key: `p${String(p.proc.pid).padStart(8, '0')}:${String(u.start).padStart(12, '0')}` });
      }
    }
    return shareFrameSets(units.sort((x, y) => x.at - y.at || (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)));
  }

  /** The frame a process sees at a vpage whose volatility its mm decides, or -1. */
  private frameSeenBy(proc: Proc, vpage: number): number {
    const anon = this.k.rmap.anonFrameAt(proc.pid, vpage);
    if (anon >= 0) return anon;
    const fp = filePageOf(this.k, proc, vpage);
    if (!fp || !this.asksMm(fp.file, fp.share)) return -1;
    return fp.file.frameAt(fp.page);
  }

  /** The file's own volatile ranges with resident candidate pages, as purge units. */
  private fileRangeUnits(xid: number): Unit[] {
    const units = [];
    const isCandidate = this.held.candidatesOf(xid);
    for (const file of this.k.files) {
      if (file.kind === 'shmem' || file.ranges.size === 0) continue;
      const byId = new Map<number, { at: number; runs: number[]; start: number }>();
      let span = 0;
      for (const r of file.ranges.all()) {
        if (!byId.has(r.id)) byId.set(r.id, { at: r.markedAt, runs: [], start: r.start });
        span += r.end - r.start;
      }
      // Each range's resident pages, ascending: walk the ranges' pages or the page cache, whichever is smaller.
      const resident = span <= file.cache.size
        ? file.ranges.all().flatMap((r) => file.cachedIn(r.start, r.end))
        : file.cachedIn(0, file.pages);
      for (const [p, f] of resident) {
        const r = file.ranges.at(p);
        if (r && isCandidate(f)) pushFrames(byId.get(r.id)!.runs, f);
      }
      for (const [id, u] of byId) {
        if (u.runs.length === 0) continue;
        units.push({ name: `range ${id} of file ${file.name} from page ${u.start}, marked at clock ${u.at}`, runs: u.runs, at: u.at,
          key: `f${String(file.id).padStart(8, '0')}:${String(u.start).padStart(12, '0')}` });
      }
    }
    return units;
  }

  /**
   * The policy's decisions on a unit's pages, run by run (docs/history-format.md, Decisions by
   * run): from each page not decided yet (`decided`), the longest run of consecutive frames with
   * the same mappers, votes, file volatility and private-copy state gets one decision, carried out
   * (purged or kept) and logged as one `decision` event. Facts of one page never depend on the
   * purge of another, so a run decides exactly what its pages one by one would.
   */
  decideUnit(xid: number, reason: string, unit: { name: string; runs: readonly number[] }, voteOf: VoteOf, decided: Set<number>): DecidedRun[] {
    const out: DecidedRun[] = [];
    const runs = unit.runs;
    const used = this.k.frames.refcount;
    const lazyfree = this.k.config.policy === 'madv-free';
    for (let r = 0; r < runs.length; r += 2) {
      const end = runs[r]! + runs[r + 1]!;
      for (let frame = runs[r]!; frame < end; frame++) {
        // A purged frame is free at once (and nothing allocates during the decisions): only the kept ones need remembering.
        if (!(used[frame]! > 0 && !decided.has(frame))) continue;
        if (lazyfree) {
          // One page a unit, one decision a page (lazyfree.ts).
          if (!this.held.isCandidate(xid, frame)) throw new Error(`kernel invariant: exchange ${xid} decides lazyfree frame ${frame}, which it does not hold`);
          const d = decideLazyfreeFrame(this.k, xid, reason, unit.name, frame, voteOf);
          this.purgedPages += d.record.freed;
          if (!d.record.decision.purge) decided.add(frame);
          out.push(d);
          continue;
        }
        const run = this.k.frames.ownerFile[frame]! < 0 ? this.anonRun(frame, voteOf) : this.fileRun(frame, voteOf);
        const n = this.runLength(frame, Math.min(run.max, end - frame), run, decided);
        // An exchange decides only the pages it holds: no other exchange, and no fault, may be using them.
        const held = this.held.candidateRun(xid, frame, n);
        if (held < n) {
          const f = frame + held;
          throw new Error(`kernel invariant: exchange ${xid} decides frame ${f}, which ${this.held.pinned(f) ? 'a fault holds' : this.held.has(f) ? 'another exchange holds' : 'it does not hold'}`);
        }
        const d = this.decideRun(xid, reason, unit.name, frame, n, run);
        if (!d.record.decision.purge) for (let f = frame; f < frame + n; f++) decided.add(f);
        out.push(d);
        frame += n - 1;
      }
    }
    return out;
  }

  /**
   * How many frames from `frame` (at most `max`, at least 1) the run of `run` covers: in use, not
   * decided, and fitting it. An anonymous run's test is a loop over the frame table and the rmap's
   * set ids (no call of a closure per frame, see PageTable.runs); a file run asks its `fits`.
   */
  private runLength(frame: number, max: number, run: RunFacts, decided: Set<number>): number {
    const used = this.k.frames.refcount;
    const noneDecided = decided.size === 0;
    let n = 1;
    if (run.anonSet !== undefined) {
      const ownerFile = this.k.frames.ownerFile;
      const rmap = this.k.rmap;
      const set = run.anonSet;
      if (noneDecided && max > 1 && Number.isFinite(max)) {
        // The loop below, by native scans of the three arrays (frame_scan.ts): the run ends at the
        // first frame that is free (a count is never negative), a page-cache page or of another set.
        const to = frame + max;
        return Math.min(firstZero(used, frame + 1, to), firstNotEqual(ownerFile, frame + 1, to, -1), rmap.firstOtherMapperSet(frame + 1, to, set), to) - frame;
      }
      for (let g = frame + 1; n < max && used[g]! > 0 && (noneDecided || !decided.has(g)) && ownerFile[g]! < 0 && rmap.mapperSetAt(g) === set; g++) n++;
      return n;
    }
    while (n < max && used[frame + n]! > 0 && !decided.has(frame + n) && run.fits!(frame + n, n)) n++;
    return n;
  }

  private decideRun(xid: number, reason: string, unit: string, frame: number, count: number, run: RunFacts): DecidedRun {
    const decision = decide(run.facts);
    const what = run.what(count);
    const record: PurgeRecord = { frame, count, what, unit, kind: run.facts.kind, decision, mappers: run.facts.mappers, where: run.where, freed: 0 };
    let notify: Array<[number, number, number]> = [];
    let seen: Array<[number, number, number]> | undefined;
    if (decision.purge) ({ freed: record.freed, notify, seen } = this.purgeRun(frame, count, run.facts));
    this.k.history.add('decision', { xid, reason, page: what, unit, purge: decision.purge,
      pageKind: record.kind, policy: this.k.config.policy,
      rule: decision.rule, why: decision.why,
      frame, pages: [frame, count], file: run.where.file, filePage: run.where.filePage, vpages: run.where.vpages,
      // The facts built each vote with the mapper's process and vpage (of the run's first page) already.
      votes: run.facts.mappers });
    return seen && seen.length > 0 ? { record, notify, seen } : { record, notify };
  }

  /** An anonymous frame's facts: its rmap mappers and their votes; a later frame fits the run if its mappers are the same, each one page on. */
  private anonRun(frame: number, voteOf: VoteOf): RunFacts {
    const mappers: DecisionVote[] = [];
    const at: Array<{ process: string; vpage: number }> = [];
    const vpages: Array<[number, number]> = [];
    const first = this.k.rmap.mappers(frame);
    const ms = first.map((m) => ({ pid: m.pid, vpage: m.vpage, kind: m.kind }));
    let max = Infinity;
    for (const m of ms) {
      const v = voteOf(m.pid, m.vpage);
      const answered = v?.answered ?? false;
      if (v) max = Math.min(max, v.until - m.vpage);
      const name = this.k.table.byPid(m.pid)?.name ?? String(m.pid);
      // The vote as the history's decision event records it (with the mapper's name and vpage).
      mappers.push({ pid: m.pid, share: 'private', answered, volatile: answered && (v?.volatile ?? false), privatePresent: false, process: name, vpage: m.vpage });
      at.push({ process: name, vpage: m.vpage });
      vpages.push([m.pid, m.vpage]);
    }
    const set = this.k.rmap.mapperSetAt(frame);
    return {
      facts: { kind: 'anon', policy: this.k.config.policy, fileVolatile: false, mappers }, max,
      what: (n) => `anonymous frame${n > 1 ? `s ${frame}-${frame + n - 1}` : ` ${frame}`} (${at.map((a) => `${a.process}@${a.vpage * 4096}${n > 1 ? `-${(a.vpage + n - 1) * 4096}` : ''}`).join(', ')})`,
      where: { frame, mappers: at, vpages },
      // The same mappers in the same order, each `k` pages on: the same interned set (rmap_sets.ts), one comparison a page (runLength).
      anonSet: set,
    };
  }

  /** A page-cache page's facts: every mapper in the file's i_mmap, asked or not, and the file's own volatility. */
  private fileRun(frame: number, voteOf: VoteOf): RunFacts {
    const k = this.k;
    const file = k.files[k.frames.ownerFile[frame]!]!;
    const page = k.frames.ownerPage[frame]!;
    const immap = file.mappersOf(page);
    // The same VMAs cover the pages from `page` on for this many pages (the i_mmap's answer).
    let max = file.sameMappersFrom(page);
    const sees = (m: FileMapper, d: number, f: number) => m.share === 'shared' || k.rmap.lookup(m.proc.pid, m.vpage + d)?.frame === f;
    const seen = immap.map((m) => sees(m, 0, frame));
    const mappers: DecisionVote[] = immap.map((m, j): DecisionVote => {
      const asked = this.asksMm(file, m.share);
      const v = asked ? voteOf(m.proc.pid, m.vpage) : undefined;
      if (v) max = Math.min(max, v.until - m.vpage);
      return { pid: m.proc.pid, share: m.share, answered: asked ? (v?.answered ?? false) : true,
        volatile: asked ? (v?.answered ?? false) && (v?.volatile ?? false) : false,
        privatePresent: m.share === 'private' && seen[j]!, process: m.proc.name, vpage: m.vpage };
    });
    const fileVolatile = file.kind !== 'shmem' && file.isVolatile(page);
    const at = immap.map((m) => ({ process: m.proc.name, vpage: m.vpage }));
    return { facts: { kind: file.kind === 'shmem' ? 'shmem' : 'file', policy: k.config.policy, fileVolatile, mappers }, max,
      what: (n) => (n > 1 ? `${file.name} pages ${page}-${page + n - 1} (frames ${frame}-${frame + n - 1})` : `${file.name} page ${page} (frame ${frame})`),
      // vpages: only the mappers that see this frame now (a private mapper sees it while not yet copied).
      where: { frame, file: file.name, filePage: page, mappers: at, vpages: immap.filter((_, j) => seen[j]).map((m) => [m.proc.pid, m.vpage]) },
      fits: (g, d) => k.frames.ownerFile[g] === file.id && k.frames.ownerPage[g] === page + d
        && (file.kind === 'shmem' || file.isVolatile(page + d) === fileVolatile)
        && immap.every((m, j) => m.share === 'shared' || sees(m, d, g) === seen[j]),
    };
  }

  /** Purges a run of pages; returns how many frames were freed and which mappers to tell, as [pid, vpage, count]. */
  private purgeRun(frame: number, count: number, facts: PageFacts): { freed: number; notify: Array<[number, number, number]>; seen?: Array<[number, number, number]> } {
    const k = this.k;
    const notify: Array<[number, number, number]> = [];
    const seen: Array<[number, number, number]> = [];
    const fileId = k.frames.ownerFile[frame]!;
    if (fileId < 0) {
      for (const m of k.rmap.mappers(frame)) notify.push([m.pid, m.vpage, count]);
      k.rmap.dropFrames(frame, count);
    } else {
      const file = k.files[fileId]!;
      const page = k.frames.ownerPage[frame]!;
      for (let d = 0; d < count; d++) {
        const f = frame + d;
        if (file.kind !== 'shmem' && file.isVolatile(page + d)) file.purged.add(page + d);
        for (const m of [...k.rmap.mappers(f)]) {
          if (m.kind === 'file-private') throw new Error(`kernel invariant: purging ${file.name} page ${page + d} still shared with a private mapping of pid ${m.pid}`);
          k.rmap.remove(m.pid, m.vpage);
        }
        file.evict(page + d, k.frames);
      }
      // Each mapping that had the page volatile in its mm is told (per-mm): the vote of that mapping
      // (pid and vpage), not any vote of its process, as one process may map the page twice and
      // mark only one of its mappings.
      const votes = facts.mappers as DecisionVote[];
      for (const m of file.mappersOf(page)) {
        if (votes.some((v) => v.pid === m.proc.pid && v.vpage === m.vpage && v.volatile)) notify.push([m.proc.pid, m.vpage, count]);
        // A shared mapping whose mm decides the page's volatility, but that did not hold it: it may
        // have marked it since its answer, or been born after the prepare (the file's own range
        // purged the page). Its mm marks purged what it has volatile now (docs/semantics.md,
        // "a mark made after the prepare, of a page the commit purges").
        else if (m.share === 'shared' && this.asksMm(file, 'shared') && m.proc.live && m.proc.agent) seen.push([m.proc.pid, m.vpage, count]);
      }
    }
    // (An anonymous run's frames are free by construction: dropFrames dropped exactly their references.)
    for (let d = 0; d < count && fileId >= 0; d++) {
      if (k.frames.isUsed(frame + d)) throw new Error(`kernel invariant: purged frame ${frame + d} is still referenced ${k.frames.refcount[frame + d]} times`);
    }
    this.purgedPages += count;
    return { freed: count, notify, seen };
  }
}

/** What a run's first page says, and whether a later frame (`k` pages on) belongs to the same run. */
interface RunFacts {
  facts: PageFacts;
  where: PageWhere;
  /** The run may be at most this long (the votes and the i_mmap stay the same this far). */
  max: number;
  what: (count: number) => string;
  /** A file run: whether frame `frame`, `k` pages on from the first, belongs to it. */
  fits?: (frame: number, k: number) => boolean;
  /** An anonymous run: the rmap set id (rmap_sets.ts) every frame of it has. */
  anonSet?: number;
}
