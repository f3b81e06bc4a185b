// Reclaim: purging volatile pages, through the two-phase exchange of ../shared/spec/design.md.
//
// 1. prepare  the kernel asks each process that maps a candidate page (one message per agent per
//             pass) which of those pages are volatile in its mm; the agent answers and holds them:
//             its own steps that touch a held page wait until the commit.
// 2. decide   at commit time, unit by unit (oldest-marked range first, or least recently used page
//             first), the pure policy function (shared/policy.ts) says purge or keep for each page,
//             from the page's current mappers, their answers and the file's own ranges.
// 3. commit   the kernel frees the purged frames and tells every participant which of its held
//             pages are now purged; the rest are released unchanged.
//
// Ordering rules: frames held by one open exchange are not candidates of another; a mapper that
// appeared after the prepare (a fork) or did not answer (dead, paused) counts as not volatile, so
// its page is kept: the kernel never has to purge. While an exchange is open the kernel may send
// only `prepare`, `commit` and syscall replies to its participants.

import { createActor, setup } from 'xstate';
import type { Kernel } from './kernel.js';
import type { Proc } from './process_table.js';
import { decide, type Decision, type MapperVote, type PageFacts, type PageKind } from '../shared/policy.js';
import { exchangeLateWakeMs, exchangeTimeoutMs, exchangeWaitMaxMs, runsPerMessageMax } from '../shared/limits.js';
import { clipRuns, isRunList, pageCount, runIndexOf, runsOf, splitRuns } from '../shared/runs.js';

export const exchangeMachine = setup({
  types: { events: {} as { type: 'answered' } | { type: 'commit' } | { type: 'acked' } | { type: 'abort' } },
}).createMachine({
  id: 'reclaim-exchange',
  initial: 'preparing',
  states: {
    preparing: { on: { answered: 'prepared', abort: 'aborted' } },
    prepared: { on: { commit: 'committing', abort: 'aborted' } },
    committing: { on: { acked: 'done' } },
    done: { type: 'final' },
    aborted: { type: 'final' },
  },
});

interface Participant {
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
  answered: boolean;
  acked: boolean;
}

export interface PurgeRecord {
  frame: number;
  what: string;              // "anon pid 2 page 5" / "file cache page 3"
  unit: string;              // the unit it was tried in
  kind: PageKind;
  decision: Decision;
  mappers: MapperVote[];
  where: PageWhere;
  freed: boolean;
}

export interface PageWhere {
  frame: number; file?: string; filePage?: number;
  /** In vote order: each mapper and the vpage it maps the page at (for vrange check). */
  mappers: Array<{ process: string; vpage: number }>;
  /** [pid, vpage] of the mappers that see this very frame now (for explanations). */
  vpages: Array<[number, number]>;
}

type Deferred = { promise: Promise<void>; resolve: () => void };
function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

export class Exchange {
  readonly actor = createActor(exchangeMachine).start();
  readonly participants = new Map<number, Participant>();
  readonly candidates: number[];
  readonly decisions: PurgeRecord[] = [];
  freed = 0;
  unitsTried = 0;
  private answersIn = deferred();
  private acksIn = deferred();

  constructor(readonly xid: number, readonly want: number, readonly reason: string, private readonly k: Kernel) {
    this.candidates = k.reclaimCandidates();
    for (const f of this.candidates) k.heldFrames.set(f, xid);
  }

  get phase(): string { return String(this.actor.getSnapshot().value); }

  /** Phase 1: ask every mapper of a candidate page, one batch per agent. */
  async prepare(): Promise<void> {
    for (const [pid, vpages] of this.k.pagesToAsk(this.candidates)) {
      const proc = this.k.procByPid(pid)!;
      const asked = runsOf(vpages);
      const batches = splitRuns(asked, 2, runsPerMessageMax);
      this.participants.set(pid, { proc, asked, askedPages: vpages.length, answers: [], batchesLeft: batches.length, answered: false, acked: false });
      for (const runs of batches) this.k.sendTo(proc, { t: 'prepare', xid: this.xid, runs });
    }
    this.k.history.add('reclaim-prepare', { xid: this.xid, reason: this.reason, want: this.want,
      candidates: this.candidates.length, asked: [...this.participants.values()].map((p) => ({ pid: p.proc.pid, pages: p.askedPages })) });
    this.checkAnswers();
    await this.waitFor(this.answersIn.promise, (p) => !p.answered);
    for (const p of this.participants.values()) {
      if (!p.answered && p.proc.live) {
        this.k.history.add('no-answer', { xid: this.xid, process: p.proc.name, pages: p.askedPages, timeoutMs: exchangeTimeoutMs });
      }
    }
    this.actor.send({ type: 'answered' });
    await this.injectKill();
  }

  /** The fault hook between the prepare and the commit (`kill:reclaim`): SIGKILL the victim it names. */
  private async injectKill(): Promise<void> {
    const live = [...this.participants.values()].filter((p) => p.proc.live).sort((a, b) => a.proc.pid - b.proc.pid);
    if (live.length === 0) return;
    const f = this.k.faults.betweenPrepareAndCommit(this.xid, live.map((p) => p.proc.name));
    if (!f) return;
    const victim = live.find((p) => p.proc.name === f.victim)?.proc;
    if (!victim) throw new Error(`kernel invariant: the fault hook named ${f.victim}, no live participant of exchange ${this.xid}`);
    this.k.fault(f.spec, victim, `SIGKILL between the prepare and the commit of exchange ${this.xid}`, 'kill:reclaim');
    await this.k.killProc(victim);
  }

  onPrepared(pid: number, runs: unknown): void {
    const p = this.participants.get(pid);
    if (!p || p.answered) return;
    // A malformed answer (only a forged remote agent sends one) counts as "nothing volatile".
    if (isRunList(runs, 4)) {
      if (p.answers.length > 0 && runs.length > 0 && runs[0]! < p.answers[p.answers.length - 4]! + p.answers[p.answers.length - 3]!) {
        p.answers = []; // batches answered out of order or overlapping: not an honest agent
      } else p.answers = p.answers.length === 0 ? runs : p.answers.concat(runs); // not push(...runs): an answer may hold 262,144 numbers, past the arguments limit
    } else this.k.history.add('bad-answer', { xid: this.xid, process: p.proc.name, why: 'prepared: runs is not an ascending list of [start, count, rangeId, markedAt]' });
    // The agent answers once per prepare message.
    if (--p.batchesLeft === 0) {
      p.answered = true;
      // Only what it was asked about counts.
      p.answers = clipRuns(p.answers, 4, p.asked);
    }
    this.checkAnswers();
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
    this.checkAnswers();
    this.checkAcks();
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
   * Waits for `all` (every answer, or every ack), or until each participant still `waiting` has
   * been silent for exchangeTimeoutMs (counted from the start of this wait or its last message,
   * whichever is later), and at most exchangeWaitMaxMs in all.
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
        if (p.proc.live && waiting(p)) deadline = Math.max(deadline, Math.max(since, p.proc.lastHeardAt) + exchangeTimeoutMs);
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
    this.actor.send({ type: 'commit' });
    const purgedFor = new Map<number, number[]>();
    const decided = new Set<number>();
    for (const unit of this.units()) {
      if (this.freed >= this.want) break;
      this.unitsTried++;
      for (const frame of unit.frames) {
        if (decided.has(frame) || !this.k.frames.isUsed(frame)) continue;
        decided.add(frame);
        this.decideFrame(frame, unit.name, purgedFor);
      }
    }
    for (const f of this.candidates) if (this.k.heldFrames.get(f) === this.xid) this.k.heldFrames.delete(f);
    for (const p of this.participants.values()) {
      if (!p.proc.live) continue;
      const purged = (purgedFor.get(p.proc.pid) ?? []).sort((a, b) => a - b);
      if (purged.length > 0) this.k.history.add('purge-notify', { xid: this.xid, process: p.proc.name, vpages: purged });
      const batches = splitRuns(runsOf(purged), 2, runsPerMessageMax);
      batches.forEach((runs, i) => this.k.sendTo(p.proc, { t: 'commit', xid: this.xid, runs, last: i === batches.length - 1 }));
    }
    this.checkAcks();
    await this.waitFor(this.acksIn.promise, (p) => !p.acked);
    this.actor.send({ type: 'acked' });
    this.k.history.add('reclaim-commit', { xid: this.xid, reason: this.reason, freed: this.freed, unitsTried: this.unitsTried,
      purged: this.decisions.filter((d) => d.decision.purge).map((d) => d.what) });
    return { freed: this.freed };
  }

  private decideFrame(frame: number, unitName: string, purgedFor: Map<number, number[]>): void {
    const facts = this.k.pageFacts(frame, (pid, vpage) => {
      const p = this.participants.get(pid);
      return p ? { answered: p.answered && p.proc.live && runIndexOf(p.asked, vpage) >= 0, volatile: runIndexOf(p.answers, vpage, 4) >= 0 } : undefined;
    });
    const decision = decide(facts.facts);
    const record: PurgeRecord = { frame, what: facts.what, unit: unitName, kind: facts.facts.kind, decision, mappers: facts.facts.mappers, where: facts.where, freed: false };
    if (decision.purge) {
      const { freed, notify } = this.k.purgeFrame(frame, facts.facts);
      record.freed = freed;
      if (freed) this.freed++;
      for (const [pid, vpage] of notify) {
        let list = purgedFor.get(pid);
        if (!list) purgedFor.set(pid, (list = []));
        list.push(vpage);
      }
    }
    this.decisions.push(record);
    this.k.onDecision(this, record);
  }

  /** Purge units in the order the purge unit asks for. */
  private units(): Array<{ name: string; frames: number[] }> {
    if (this.k.config.purgeUnit === 'page') {
      const volatileFrames = new Set<number>();
      for (const u of this.rangeUnits()) for (const f of u.frames) volatileFrames.add(f);
      return [...volatileFrames]
        .sort((a, b) => this.k.frames.lastUse[a]! - this.k.frames.lastUse[b]! || a - b)
        .map((f) => ({ name: `page (frame ${f}, least recently used first)`, frames: [f] }));
    }
    return this.rangeUnits();
  }

  /** Every volatile range with resident candidate pages: the file's own, and each mm's answers. */
  private rangeUnits(): Array<{ name: string; frames: number[]; at: number; key: string }> {
    const units = this.k.fileRangeUnits(this.candidates);
    for (const p of this.participants.values()) {
      const byRange = new Map<number, { at: number; frames: number[]; start: number }>();
      const a = p.answers;
      for (let i = 0; i < a.length; i += 4) {
        const id = a[i + 2]!;
        const at = a[i + 3]!;
        for (let vpage = a[i]!; vpage < a[i]! + a[i + 1]!; vpage++) {
          const frame = this.k.frameSeenBy(p.proc, vpage);
          if (frame < 0 || this.k.heldFrames.get(frame) !== this.xid) continue;
          let u = byRange.get(id);
          if (!u) byRange.set(id, (u = { at, frames: [], start: vpage }));
          u.frames.push(frame);
          u.start = Math.min(u.start, vpage);
        }
      }
      for (const [id, u] of byRange) {
        units.push({ name: `range ${id} of ${p.proc.name} from ${p.proc.name}@${u.start * 4096}, marked at clock ${u.at}`,
          frames: u.frames.sort((a, b) => a - b), at: u.at, key: `p${String(p.proc.pid).padStart(8, '0')}:${String(u.start).padStart(12, '0')}` });
      }
    }
    return units.sort((a, b) => a.at - b.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
}
