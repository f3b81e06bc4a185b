// One game of `vrange play`: a lockstep run of a scenario on real processes with the student as
// the chooser (coordinator/scheduler.ts LiveChooser). The run waits, every process idle, until
// the student grants one of the enabled actions; undo and redo replay the prefix of moves on reset
// agents of the run session (harness/session.ts), as `--choices` does: the same moves give the
// same run.
//
// A move is a choice as the scheduler names it (a process, `@kernel`, `@commit`), and, for a
// process, optionally a kill (with `--kills`): `kill:P@N` before its step N, or `kill:P@N+` during
// it, added to the run's fault plan as the move is made (harness/faults.ts). The `vrange run` line
// that replays a game carries those faults and the choices.

import type { Kernel } from '../coordinator/kernel.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { runScenario, type RunOutcome } from '../harness/run.js';
import { reproduce } from '../harness/command.js';
import { parseFault, type Fault } from '../harness/faults.js';
import { outcomeOf, outcomeSteps, type OutcomeSteps } from '../harness/enumerate.js';
import type { RunSession } from '../harness/session.js';
import { buildReport, type RunReport } from '../report/report.js';
import { shortStep } from '../report/explain.js';
import { playMovesMax, runTimeoutMaxMs } from '../shared/limits.js';
import type { AnyStep } from '../coordinator/history.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';
import { choiceToken, COMMIT_ACTION, isKernelStep, KERNEL_ACTION } from '../shared/kernel_name.js';

/** One button: what granting it does. */
export interface PlayOption {
  /** `B #3 read buf page 0`, `kernel: reclaim prepare (#1 reclaim all)` (`@kernel: ...` when a process is named `kernel`), `kill A before #3 read buf page 0`. */
  label: string;
  /** The scheduler's name for it (a process, `@kernel`, `@commit`); the replay line writes it as `--choices` takes it. */
  choice: string;
  /** A kill this move adds to the run's faults (`kill:A@3`, `kill:A@3+`). */
  fault?: string;
}

export type Move = PlayOption;

/** What the student sees now. */
export interface GameState {
  moves: Move[];
  /** Moves that redo would make again, the next one first. */
  redo: Move[];
  /** Enabled actions (empty once the run is over). */
  options: PlayOption[];
  over: boolean;
  report: RunReport;
  history: HistoryEvent[];
  /** The narrated lines of the run so far (the kernel's decisions in words). */
  lines: string[];
  /** Once over: the outcome (enumerate.ts outcomeOf) and the line that replays the game. */
  outcome?: { key: string; results: string[]; replay: string; faults: string[] };
}

/** Who can kill: the choice of `--kills`. */
export interface GameOptions { kills: boolean }

/** The next-step label of each enabled action, read from the kernel as the run waits. */
export function optionsFor(k: Kernel, names: string[], kills: boolean): PlayOption[] {
  const kernelIndex = k.history.events.filter((e) => e.kind === 'invoke' && isKernelStep(e)).length;
  // The kernel list is `kernel` in a label, `@kernel` when a process takes that name (its own labels read `kernel #3 ...`).
  const list = choiceToken(KERNEL_ACTION, k.scenario.processes.map((p) => p.name));
  const out: PlayOption[] = [];
  for (const name of names) {
    if (name === COMMIT_ACTION) {
      const prepare = [...k.history.events].reverse().find((e) => e.kind === 'reclaim-prepare');
      const xid = prepare && prepare.kind === 'reclaim-prepare' ? prepare.xid : '?';
      const step = k.scenario.kernel[kernelIndex - 1];
      out.push({ label: `${list}: commit exchange ${xid}${step ? ` (#${kernelIndex - 1} ${shortStep(step as AnyStep)})` : ''}`, choice: name });
    } else if (name === KERNEL_ACTION) {
      const step = k.scenario.kernel[kernelIndex];
      if (!step) throw new Error(`play invariant: the kernel is enabled but its list has ${k.scenario.kernel.length} steps, ${kernelIndex} run`);
      out.push({ label: step.op === 'reclaim' ? `${list}: reclaim prepare (#${kernelIndex} ${shortStep(step as AnyStep)})` : `${list} #${kernelIndex} ${shortStep(step as AnyStep)}`, choice: name });
    } else {
      const proc = k.procs.find((p) => p.name === name);
      const step = proc?.spec.steps[proc.nextStep];
      if (!proc || !step) throw new Error(`play invariant: ${name} is enabled but has no next step`);
      const what = `#${proc.nextStep} ${shortStep(step as AnyStep)}`;
      out.push({ label: `${name} ${what}`, choice: name });
      if (kills) {
        out.push({ label: `kill ${name} before ${what}`, choice: name, fault: `kill:${name}@${proc.nextStep}` });
        out.push({ label: `kill ${name} during ${what}`, choice: name, fault: `kill:${name}@${proc.nextStep}+` });
      }
    }
  }
  return out;
}

/** One run of the game: the prefix of moves replayed, then the student's. */
class LiveRun {
  kernel: Kernel | undefined;
  readonly lines: string[] = [];
  readonly faults: Fault[];
  pending: { options: PlayOption[]; names: string[]; resolve: (i: number) => void } | undefined;
  done: RunOutcome | undefined;
  error: Error | undefined;
  private draining = false;
  private waiters: Array<() => void> = [];
  readonly finished: Promise<void>;

  constructor(private readonly g: Game, prefix: readonly Move[]) {
    this.faults = prefix.flatMap((m) => (m.fault ? [parseFault(m.fault, g.scenario)] : []));
    let i = 0;
    const chooser = {
      choose: (names: string[]): number | Promise<number> => {
        if (this.draining) return 0;
        if (i < prefix.length) {
          const m = prefix[i++]!;
          const at = names.indexOf(m.choice);
          if (at < 0) { this.error = new Error(`play invariant: replayed move ${i} (${m.label}) is not enabled; enabled: ${names.join(', ')}`); throw this.error; }
          return at;
        }
        return new Promise<number>((resolve) => {
          this.pending = { options: optionsFor(this.kernel!, names, g.options.kills), names, resolve };
          this.wake();
        });
      },
    };
    this.finished = runScenario(g.scenario, g.config, {
      chooser, session: g.session, pictures: true, narrate: (l) => this.lines.push(l), faults: this.faults,
      timeoutMs: runTimeoutMaxMs, onKernel: (k) => { this.kernel = k; },
    }).then((out) => { this.done = out; }, (e: Error) => { this.error ??= e; }).finally(() => this.wake());
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** Resolves once the run waits for the student or is over. */
  settled(): Promise<void> {
    if (this.pending || this.done || this.error) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  grant(o: PlayOption): void {
    const p = this.pending;
    if (!p) throw new Error('play invariant: a move with no choice pending');
    const at = p.names.indexOf(o.choice);
    if (at < 0) throw new Error(`play invariant: ${o.choice} is not enabled`);
    if (o.fault) this.faults.push(parseFault(o.fault, this.g.scenario)); // the run's FaultPlan holds this array
    this.pending = undefined;
    p.resolve(at);
  }

  /** Ends the run at once: every choice left is the first enabled one (agents end as in any run). */
  async abandon(): Promise<void> {
    this.draining = true;
    const p = this.pending;
    this.pending = undefined;
    p?.resolve(0);
    await this.finished;
  }
}

export class Game {
  private moves: Move[] = [];
  private redoMoves: Move[] = [];
  private live: LiveRun | undefined;
  private closed = false;
  private readonly counts: OutcomeSteps;

  constructor(readonly file: string, readonly scenario: Scenario, readonly config: RunConfig, readonly session: RunSession, readonly options: GameOptions) {
    this.counts = outcomeSteps(scenario, config.policy);
  }

  /** Starts the run with the moves made so far; resolves when it waits for the student or is over. */
  async start(): Promise<void> {
    if (this.live) await this.live.abandon();
    // An undo under way when the game ends (close) starts no run on the closing session.
    if (this.closed) throw new Error('the game has ended');
    this.live = new LiveRun(this, [...this.moves]);
    await this.live.settled();
    if (this.live.error) throw this.live.error;
  }

  /** Grants option `i` of the current state; false if there is no such option. */
  async choose(i: number): Promise<boolean> {
    const live = this.live!;
    const o = live.pending?.options[i];
    if (!o) return false;
    if (this.moves.length >= playMovesMax) throw new Error(`play invariant: more than ${playMovesMax} moves`);
    this.moves.push(o);
    this.redoMoves = [];
    live.grant(o);
    await live.settled();
    if (live.error) throw live.error;
    return true;
  }

  /** Takes back the last move: the run again from the start, with the moves before it. */
  async undo(): Promise<boolean> {
    const m = this.moves.pop();
    if (!m) return false;
    this.redoMoves.unshift(m);
    await this.start();
    return true;
  }

  async redo(): Promise<boolean> {
    const m = this.redoMoves[0];
    const live = this.live!;
    const at = live.pending?.options.findIndex((o) => o.label === m?.label && o.choice === m.choice && o.fault === m.fault) ?? -1;
    if (!m || at < 0) return false;
    const rest = this.redoMoves.slice(1);
    await this.choose(at);
    this.redoMoves = rest;
    return true;
  }

  /** Undoes every move. */
  async restart(): Promise<void> {
    this.redoMoves = [...this.moves, ...this.redoMoves];
    this.moves = [];
    await this.start();
  }

  get moveCount(): number { return this.moves.length; }

  state(): GameState {
    const live = this.live!;
    if (live.done) {
      const { report, history } = live.done;
      const { key, results } = outcomeOf(report.steps, this.counts);
      const faults = this.moves.flatMap((m) => (m.fault ? [m.fault] : []));
      const replay = reproduce(this.file, this.config, faults.map((spec) => ({ spec })), this.moves.map((m) => choiceToken(m.choice, this.scenario.processes.map((p) => p.name))));
      return { moves: [...this.moves], redo: [...this.redoMoves], options: [], over: true, report, history, lines: live.lines, outcome: { key, results, replay, faults } };
    }
    const k = live.kernel!;
    return { moves: [...this.moves], redo: [...this.redoMoves], options: live.pending?.options ?? [], over: false,
      report: buildReport(k, [], []), history: k.history.events, lines: live.lines };
  }

  /** Ends the run under way (its agents end with it); the session is the caller's to close. */
  async close(): Promise<void> {
    this.closed = true;
    await this.live?.abandon();
  }
}
