// The reclaim exchange: the protocol half of purging volatile pages, the two-phase exchange of
// ../shared/spec/design.md. The kernel half (candidates, whom to ask, purge units, the policy's
// decisions and the purge itself) is vmscan.ts, reached only through the ReclaimHost interface.
//
// 1. prepare  the kernel asks each process that maps a candidate page (one message per agent per
//             pass) which of those pages are volatile in its mm; the agent answers and holds them:
//             its own steps that touch a held page wait until the commit.
// 2. decide   at commit time, unit by unit (oldest-marked range first, or least recently used page
//             first), the pure policy function (shared/policy.ts) says purge or keep for each page,
//             from the page's current mappers, their answers and the file's own ranges.
// 3. commit   the kernel frees the purged frames and tells every participant which of its held
//             pages are now purged; the rest are released unchanged. The exchange is then over:
//             the acks are not waited for, but collected as they come (vmscan.ts settle), since an
//             agent takes its commit before any later message of the kernel.
//
// Ordering rules: frames held by one open exchange are not candidates of another; a mapper that
// appeared after the prepare (a fork) or did not answer (dead, paused) counts as not volatile, so
// its page is kept: the kernel never has to purge. While an exchange is open the kernel may send
// only `prepare`, `commit` and syscall replies to its participants. Everything runs in the one
// event loop; the exchange awaits only its answers and the fault hook between the two phases, and
// after each wait counts a participant that died meanwhile as having answered.

import type { DecisionVote, EventFields, EventKind } from './history_events.js';
import { createActor, setup } from 'xstate';
import type { KernelMsg } from '../shared/messages.js';
import type { Proc } from './process_table.js';
import type { Decision, PageKind } from '../shared/policy.js';
import { exchangeLateWakeMs, exchangeTimeoutMs, exchangeWaitMaxMs, runsPerMessageMax } from '../shared/limits.js';
import { clipRuns, isRunList, splitRuns } from '../shared/runs.js';

export const exchangeMachine = setup({
  types: { events: {} as { type: 'answered' } | { type: 'commit' } | { type: 'sent' } },
}).createMachine({
  id: 'reclaim-exchange',
  initial: 'preparing',
  states: {
    preparing: { on: { answered: 'prepared' } },
    prepared: { on: { commit: 'committing' } },
    // done: every live participant has been sent its commit; their acks are collected afterwards (Exchange.settled).
    committing: { on: { sent: 'done' } },
    done: { type: 'final' },
  },
});

export interface Participant {
  proc: Proc;
  /** The asked vpages as [start, count] runs, ascending. */
  asked: number[];
  askedPages: number;
  /**
   * [start, count, rangeId, markedAt] runs of the asked pages the mm answered volatile (and now
   * holds), ascending; what the agent sent, clipped to what it was asked, once it has answered.
   */
  answers: number[];
  /** prepare messages not answered yet (a large batch is split into several). */
  batchesLeft: number;
  /** madv-free: second-round `prepare` messages (hold these too) not answered yet. */
  holdsLeft: number;
  answered: boolean;
  /** A `prepared` of it has come (it holds pages from then on, so a step of it may block). */
  heard: boolean;
  acked: boolean;
  /** The last batch of its commit (`last: true`, which its `committed` answers) has been sent. */
  committing?: boolean;
}

/** One decision: a run of `count` pages from `frame` (docs/history-format.md, Decisions by run). */
export interface PurgeRecord {
  frame: number;
  count: number;
  what: string;              // "anonymous frame 5 (A@4096)" / "f pages 0-9 (frames 7-16)"
  unit: string;              // the unit it was tried in
  kind: PageKind;
  decision: Decision;
  /** Each mapper's vote, with its process and vpage, as the `decision` event records it. */
  mappers: DecisionVote[];
  where: PageWhere;
  /** Frames freed (count when purged, else 0). */
  freed: number;
}

/**
 * A decision carried out, and the mappers to tell of its purge: [pid, first vpage, count]; under
 * madv-free also the mappers whose ptes the scan made old, and those whose mark it took back.
 */
/**
 * `notify`: [pid, vpage, count] of the mappers told their pages were purged (they held them);
 * `seen`: [pid, vpage, count] of the shared mappers of a purged file page whose mm decides its
 * volatility but who did not hold it (they answered it not volatile, or were not asked: marked or
 * born after the prepare). Each such mm marks purged what it has volatile at the commit.
 */
export interface DecidedRun { record: PurgeRecord; notify: Array<[number, number, number]>; seen?: Array<[number, number, number]>; old?: Array<[number, number, number]>; unmark?: Array<[number, number, number]> }

export interface PageWhere {
  frame: number; file?: string; filePage?: number;
  /** In vote order: each mapper and the vpage it maps the page at (for vrange check). */
  mappers: Array<{ process: string; vpage: number }>;
  /** [pid, vpage] of the mappers that see this very frame now (for explanations). */
  vpages: Array<[number, number]>;
}

/**
 * A mapper's vote on one page, from its participant's answers; the same vote holds for its pages
 * up to `until` (exclusive). Undefined: the process is no participant (the same for every page).
 */
export type VoteOf = (pid: number, vpage: number) => { answered: boolean; volatile: boolean; until: number; bits: number } | undefined;

/** What the exchange needs of the kernel (vmscan.ts implements it). */
export interface ReclaimHost {
  /** The candidate frames (used, held by no open exchange) are now held by exchange `xid`; how many. */
  hold(xid: number): number;
  /** The candidates of `xid` go back. */
  unhold(xid: number): void;
  /** For each process, the candidate pages whose volatility lives in its mm: ascending [start, count] runs, and how many pages. */
  pagesToAsk(xid: number): Map<number, { runs: number[]; pages: number }>;
  procByPid(pid: number): Proc | undefined;
  send(proc: Proc, msg: KernelMsg): void;
  log<K extends EventKind>(kind: K, fields: EventFields[K]): void;
  violation(name: string, text: string): void;
  /** The fault hook between the phases: may kill one of the live participants (by pid) and wait for its reaping. */
  betweenPrepareAndCommit(xid: number, live: Proc[]): Promise<void>;
  /** madv-free: after the answers, the pages each participant must hold too (mappers of a page another reported lazyfree), as [start, count] runs. */
  alsoHold(xid: number, participants: Iterable<Participant>): Map<number, number[]>;
  /** The purge units, in the order the purge unit asks for, from the file ranges and the participants' answers. */
  units(xid: number, participants: Iterable<Participant>): Array<{ name: string; runs: number[] }>;
  /**
   * The policy's decisions on the unit's pages (its frames as [frame, count] runs) still in use and
   * not `decided` yet, run by run, carried out (purged or kept) and logged; adds the kept ones to
   * `decided` (a purged frame is free at once, and nothing allocates while the exchange decides).
   */
  decideUnit(xid: number, reason: string, unit: { name: string; runs: readonly number[] }, voteOf: VoteOf, decided: Set<number>): DecidedRun[];
}

/** Where `page` stands in a run list: inside a run (`inside`), and up to where that stays so (the run's end, or the next run's start). */
function runAt(runs: readonly number[], page: number, stride: number): { inside: boolean; until: number; at: number } {
  let lo = 0;
  let hi = runs.length / stride;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (runs[mid * stride]! + runs[mid * stride + 1]! <= page) lo = mid + 1; else hi = mid;
  }
  const i = lo * stride;
  if (i >= runs.length) return { inside: false, until: Infinity, at: -1 };
  return runs[i]! <= page ? { inside: true, until: runs[i]! + runs[i + 1]!, at: i } : { inside: false, until: runs[i]!, at: -1 };
}

/** The replies a participant still owed a closed exchange: `prepared` messages, its `committed`, and whether a `prepared` had come (it held pages). */
export interface Owed { prepared: number; committed: boolean; heard: boolean }

type Deferred = { promise: Promise<void>; resolve: () => void };
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class Exchange {
  readonly actor = createActor(exchangeMachine).start();
  readonly participants = new Map<number, Participant>();
  /** How many frames the exchange holds as its candidates (from its opening). */
  readonly candidates: number;
  readonly decisions: PurgeRecord[] = [];
  freed = 0;
  unitsTried = 0;
  private answersIn = deferred();
  private holdsIn = deferred();
  private acksIn = deferred();
  /** A direct reclaim (a fault found no free frame), not the kernel list's `reclaim` step: in lockstep no step blocks on it. */
  direct = false;

  constructor(readonly xid: number, readonly want: number, readonly reason: string, private readonly k: ReclaimHost) {
    this.candidates = k.hold(xid);
  }

  get phase(): string { return String(this.actor.getSnapshot().value); }

  /** Phase 1: ask every mapper of a candidate page, one batch per agent. */
  async prepare(): Promise<void> {
    for (const [pid, { runs: asked, pages }] of this.k.pagesToAsk(this.xid)) {
      const proc = this.k.procByPid(pid)!;
      const batches = splitRuns(asked, 2, runsPerMessageMax);
      this.participants.set(pid, { proc, asked, askedPages: pages, answers: [], batchesLeft: batches.length, holdsLeft: 0, answered: false, heard: false, acked: false });
      for (const runs of batches) this.k.send(proc, { t: 'prepare', xid: this.xid, runs });
    }
    this.k.log('reclaim-prepare', { xid: this.xid, reason: this.reason, want: this.want,
      candidates: this.candidates, asked: [...this.participants.values()].map((p) => ({ pid: p.proc.pid, pages: p.askedPages })) });
    this.checkAnswers();
    await this.waitFor(this.answersIn.promise, (p) => !p.answered);
    for (const p of this.participants.values()) {
      if (!p.answered && p.proc.live) {
        this.k.log('no-answer', { xid: this.xid, process: p.proc.name, pages: p.askedPages, timeoutMs: exchangeTimeoutMs });
      }
    }
    await this.holdRound();
    this.actor.send({ type: 'answered' });
    const live = [...this.participants.values()].filter((p) => p.proc.live).sort((a, b) => a.proc.pid - b.proc.pid);
    await this.k.betweenPrepareAndCommit(this.xid, live.map((p) => p.proc));
  }

  /**
   * madv-free's second round, within the prepare: the mappers of a page that another mapper
   * reported lazyfree hold it too, whatever their own pte says, so that no step of theirs touches
   * it before the decision. Each answers with an empty `prepared`.
   */
  private async holdRound(): Promise<void> {
    const more = this.k.alsoHold(this.xid, this.participants.values());
    if (more.size === 0) return;
    for (const [pid, runs] of more) {
      const p = this.participants.get(pid);
      if (!p || !p.proc.live || !p.answered) continue;
      const batches = splitRuns(runs, 2, runsPerMessageMax);
      p.holdsLeft += batches.length;
      for (const part of batches) this.k.send(p.proc, { t: 'prepare', xid: this.xid, runs: part, hold: true });
    }
    this.holdsIn = deferred();
    this.checkHolds();
    await this.waitFor(this.holdsIn.promise, (p) => p.holdsLeft > 0);
  }

  onPrepared(pid: number, runs: unknown): void {
    const p = this.participants.get(pid);
    if (p) p.heard = true;
    if (p && p.holdsLeft > 0) { p.holdsLeft--; this.checkHolds(); return; } // a second-round answer (empty)
    if (!p || p.answered) return;
    // A malformed answer (only a forged remote agent sends one) counts as "nothing volatile".
    if (isRunList(runs, 4)) {
      if (p.answers.length > 0 && runs.length > 0 && runs[0]! < p.answers[p.answers.length - 4]! + p.answers[p.answers.length - 3]!) {
        p.answers = []; // batches answered out of order or overlapping: not an honest agent
      } else p.answers = p.answers.length === 0 ? runs : p.answers.concat(runs); // not push(...runs): an answer may hold 262,144 numbers, past the arguments limit
    } else this.k.log('bad-answer', { xid: this.xid, process: p.proc.name, why: 'prepared: runs is not an ascending list of [start, count, rangeId, markedAt]' });
    // The agent answers once per prepare message.
    if (--p.batchesLeft === 0) {
      p.answered = true;
      // Only what it was asked about counts.
      p.answers = clipRuns(p.answers, 4, p.asked);
    }
    this.checkAnswers();
  }

  /**
   * Why a message of `pid` about this exchange answers nothing it asked (docs/protocol.md, Bad
   * messages), or undefined: a `prepared` beyond the prepare messages it was sent, a `committed`
   * before its commit or a second one, a `blocked` on pages it does not hold (before its first
   * `prepared`, or after it acked), or any of them from a process this exchange did not ask. In
   * lockstep a step can block only while the kernel list's exchange waits between its prepare and
   * its commit (every granted step settles before the next action; during a direct reclaim only
   * the faulting step runs, and it waits in its syscall): a `blocked` at any other time would wait
   * for a `release` that never comes.
   */
  unasked(pid: number, t: 'prepared' | 'committed' | 'blocked', lockstep: boolean): string | undefined {
    const p = this.participants.get(pid);
    if (!p) return `it sent ${t} for reclaim exchange ${this.xid}, which did not ask it`;
    switch (t) {
      case 'prepared': return p.batchesLeft > 0 || p.holdsLeft > 0 ? undefined : `it sent more prepared for reclaim exchange ${this.xid} than the kernel sent it prepare messages`;
      case 'committed': return !p.committing ? `it sent committed for reclaim exchange ${this.xid} before the kernel's commit` : p.acked ? `it sent committed for reclaim exchange ${this.xid} twice` : undefined;
      case 'blocked':
        if (p.acked) return `it reported a step blocked on reclaim exchange ${this.xid} after it had released its pages (committed)`;
        if (!p.heard) return `it reported a step blocked on reclaim exchange ${this.xid} before it answered its prepare (it held none of its pages)`;
        if (lockstep && this.direct) return `it reported a step blocked on reclaim exchange ${this.xid}, a direct reclaim (in lockstep only the faulting step runs during one, waiting in its syscall)`;
        if (lockstep && this.phase !== 'prepared') return `it reported a step blocked on reclaim exchange ${this.xid} while the exchange was ${this.phase} (in lockstep a step runs only between an exchange's prepare and its commit)`;
        return undefined;
    }
  }

  /**
   * What each live participant still owes when the exchange closes: the ack of its commit (which
   * the kernel collects without waiting for it), and if it was judged silent its late answers;
   * these are not offences, anything more is.
   */
  owed(): Map<number, Owed> {
    const out = new Map<number, Owed>();
    for (const p of this.participants.values()) {
      if (!p.proc.live) continue;
      const prepared = p.batchesLeft + p.holdsLeft;
      const committed = p.committing === true && !p.acked;
      if (prepared > 0 || committed) out.set(p.proc.pid, { prepared, committed, heard: p.heard });
    }
    return out;
  }

  onAcked(pid: number, violations: string[]): void {
    const p = this.participants.get(pid);
    if (!p) return;
    p.acked = true;
    for (const v of violations) this.k.violation('no-protected-page-purged', `agent ${p.proc.name}: ${v}`);
    this.checkAcks();
  }

  /** A participant died: the exchange completes without it. */
  onDeath(pid: number): void {
    const p = this.participants.get(pid);
    if (!p) return;
    p.answered = true;
    p.acked = true;
    p.holdsLeft = 0;
    this.checkAnswers();
    this.checkHolds();
    this.checkAcks();
  }

  private checkHolds(): void {
    for (const p of this.participants.values()) if (p.holdsLeft > 0 && p.proc.live) return;
    this.holdsIn.resolve();
  }
  private checkAnswers(): void {
    for (const p of this.participants.values()) if (!p.answered && p.proc.live) return;
    this.answersIn.resolve();
  }
  private checkAcks(): void {
    for (const p of this.participants.values()) if (!p.acked && p.proc.live) return;
    this.acksIn.resolve();
  }

  /**
   * A live process with `seen` pages that the exchange did not ask (born after its prepare went
   * out, or its agent still starting then) joins it now: it is sent a prepare of no pages (it holds
   * nothing and answers at once, as the protocol's order wants a prepare before a commit), then
   * its commit with the pages. Its answer counts for nothing: the decisions are made.
   */
  private joinLate(seenFor: Map<number, Array<[number, number]>>): void {
    for (const pid of seenFor.keys()) {
      if (this.participants.has(pid)) continue;
      const proc = this.k.procByPid(pid);
      if (!proc || !proc.live || !proc.agent) continue;
      this.participants.set(pid, { proc, asked: [], askedPages: 0, answers: [], batchesLeft: 1, holdsLeft: 0, answered: false, heard: false, acked: false });
      this.k.send(proc, { t: 'prepare', xid: this.xid, runs: [] });
    }
  }

  /**
   * Waits for `all` (every answer, or every ack), or until each participant still `waiting` has
   * been silent for exchangeTimeoutMs (counted from the start of this wait or its last message,
   * whichever is later) while stopped or remote, and at most exchangeWaitMaxMs in all.
   */
  private async waitFor(all: Promise<void>, waiting: (p: Participant) => boolean): Promise<void> {
    const since = Date.now();
    let settled = false;
    void all.then(() => { settled = true; });
    let timer: NodeJS.Timeout | undefined;
    for (;;) {
      const now = Date.now();
      let deadline = -Infinity;
      for (const p of this.participants.values()) {
        if (!p.proc.live || !waiting(p)) continue;
        let d = Math.max(since, p.proc.lastHeardAt) + exchangeTimeoutMs;
        // Silent, but a local agent the OS has running (not stopped by a pause fault or SIGSTOP) is
        // slow, not absent: a loaded machine must not change what is purged. It is waited for,
        // looked at again every exchangeTimeoutMs, up to exchangeWaitMaxMs in all (below).
        if (now >= d && !p.proc.paused && p.proc.agent?.osStopped() === false) d = now + exchangeTimeoutMs;
        deadline = Math.max(deadline, d);
      }
      if (settled || deadline === -Infinity) return;
      deadline = Math.min(deadline, since + exchangeWaitMaxMs);
      if (now >= deadline) return;
      const planned = deadline - now;
      const t0 = Date.now();
      await Promise.race([all, new Promise<void>((resolve) => { timer = setTimeout(resolve, planned); })]);
      clearTimeout(timer);
      if (settled) return;
      // Woken late: this kernel was busy, and answers may be waiting unread in the socket.
      // Give the receive loop a moment before anyone is judged silent.
      if (Date.now() - t0 - planned > exchangeLateWakeMs) await new Promise<void>((resolve) => setTimeout(resolve, exchangeLateWakeMs));
    }
  }

  /** Phases 2 and 3: decide unit by unit, free what may go, tell every participant. */
  async commit(): Promise<{ freed: number }> {
    // An exchange is never abandoned: a dead or silent participant counts as having answered, so a
    // commit always follows a whole prepare (no abort state).
    if (this.phase !== 'prepared') throw new Error(`kernel invariant: commit of exchange ${this.xid} in phase ${this.phase}`);
    this.actor.send({ type: 'commit' });
    const purgedFor = new Map<number, Array<[number, number]>>();
    const oldFor = new Map<number, Array<[number, number]>>();
    const unmarkFor = new Map<number, Array<[number, number]>>();
    const seenFor = new Map<number, Array<[number, number]>>();
    const decided = new Set<number>();
    const file = (to: Map<number, Array<[number, number]>>, list: Array<[number, number, number]> | undefined) => {
      for (const [pid, vpage, count] of list ?? []) {
        let l = to.get(pid);
        if (!l) to.set(pid, (l = []));
        l.push([vpage, count]);
      }
    };
    const voteOf: VoteOf = (pid, vpage) => this.voteOf(pid, vpage);
    // A unit whose frame set an earlier unit had (the same run list: vmscan.ts shares it) finds every frame decided.
    const seen = new Set<readonly number[]>();
    for (const unit of this.k.units(this.xid, this.participants.values())) {
      if (this.freed >= this.want) break;
      this.unitsTried++;
      if (seen.has(unit.runs)) continue;
      seen.add(unit.runs);
      for (const { record, notify, seen: saw, old, unmark } of this.k.decideUnit(this.xid, this.reason, unit, voteOf, decided)) {
        this.freed += record.freed;
        file(purgedFor, notify);
        file(seenFor, saw);
        file(oldFor, old);
        file(unmarkFor, unmark);
        this.decisions.push(record);
      }
    }
    this.k.unhold(this.xid);
    this.joinLate(seenFor);
    for (const p of this.participants.values()) {
      if (!p.proc.live) continue;
      const runs = mergeRuns(purgedFor.get(p.proc.pid) ?? []);
      const saw = mergeRuns(seenFor.get(p.proc.pid) ?? []);
      if (runs.length > 0 || saw.length > 0) this.k.log('purge-notify', { xid: this.xid, process: p.proc.name, runs, ...(saw.length > 0 ? { seen: saw } : {}) });
      const batches = splitRuns(runs, 2, runsPerMessageMax);
      // madv-free: the young bits the scan cleared and the marks it took back go first, in batches
      // of their own; so do the purged file pages the mm did not hold (`seen`).
      for (const [field, to] of [['old', oldFor], ['unmark', unmarkFor], ['seen', seenFor]] as const) {
        const list = to.get(p.proc.pid);
        if (!list) continue;
        for (const part of splitRuns(mergeRuns(list), 2, runsPerMessageMax)) this.k.send(p.proc, { t: 'commit', xid: this.xid, runs: [], last: false, [field]: part });
      }
      batches.forEach((runs, i) => this.k.send(p.proc, { t: 'commit', xid: this.xid, runs, last: i === batches.length - 1 }));
      p.committing = true;
    }
    // The commit is sent: the exchange is over. Its acks are not waited for here (each agent takes
    // its commit before any later message of the kernel, and answers it before any later message
    // of its own), but collected as they come, and before the run's verdict (settled, below).
    this.checkAcks();
    this.actor.send({ type: 'sent' });
    this.k.log('reclaim-commit', { xid: this.xid, reason: this.reason, freed: this.freed, unitsTried: this.unitsTried,
      purged: this.decisions.filter((d) => d.decision.purge).map((d) => d.what) });
    return { freed: this.freed };
  }

  /** Whether a live participant has not acked its commit yet. */
  get acksPending(): boolean {
    for (const p of this.participants.values()) if (p.committing && !p.acked && p.proc.live) return true;
    return false;
  }

  /**
   * Once the commit is sent: every live participant's ack (and the violations it reports) has come,
   * or each one still silent has been judged so (stopped or remote, exchangeTimeoutMs; at most
   * exchangeWaitMaxMs in all), as the prepare's answers are waited for.
   */
  async settled(): Promise<void> {
    if (this.phase !== 'done') throw new Error(`kernel invariant: acks of exchange ${this.xid} awaited in phase ${this.phase}`);
    await this.waitFor(this.acksIn.promise, (p) => p.committing === true && !p.acked);
  }

  /** The vote of `pid` on `vpage`: asked and answered (alive), and answered volatile; constant up to `until`. */
  private voteOf(pid: number, vpage: number): ReturnType<VoteOf> {
    const p = this.participants.get(pid);
    if (!p) return undefined;
    const asked = runAt(p.asked, vpage, 2);
    const vol = runAt(p.answers, vpage, 4);
    // bits: the third number of the answer's run (madv-free: the pte's lazyfree and young bits).
    return { answered: p.answered && p.proc.live && asked.inside, volatile: vol.inside, until: Math.min(asked.until, vol.until),
      bits: vol.inside ? p.answers[vol.at + 2]! : 0 };
  }
}

/** [start, count] pieces (disjoint) as an ascending run list, adjacent pieces joined. */
function mergeRuns(pieces: Array<[number, number]>): number[] {
  pieces.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, n] of pieces) {
    const last = out.length - 2;
    if (last >= 0 && out[last]! + out[last + 1]! === s) out[last + 1]! += n;
    else if (last >= 0 && out[last]! + out[last + 1]! > s) throw new Error(`kernel invariant: page ${s} purged twice in one exchange`);
    else out.push(s, n);
  }
  return out;
}
