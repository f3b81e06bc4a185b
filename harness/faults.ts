// Fault injection (`--fault SPEC`, repeatable): real SIGKILL and SIGSTOP/SIGCONT of the agents'
// OS processes at chosen points of a run, composable with any scenario.
//
//   kill:P@N        SIGKILL process P just before its step N runs (the step never starts)
//   kill:P@N+       SIGKILL P while step N is in flight: at its first request to the kernel (or its
//                   result, for a step that needs none), which is dropped: the step reports SIGKILL
//   kill:reclaim    SIGKILL one mapper (the lowest pid asked) between the prepare and the commit of
//                   the first reclaim exchange that asks anyone
//   pause:P@N:MS    SIGSTOP P before its step N, SIGCONT it MS milliseconds later; a mapper that does
//                   not answer a prepare within exchangeTimeoutMs has its pages kept
//   random:kill=R,pause=P   before each step of every process, two independent draws from the
//                   seed's fault stream (apart from the schedule's, shared/prng.ts): one kills with
//                   probability R, the other pauses (randomPauseMs) with probability P
//
// At one point (before one step), a kill wins: when a kill and a pause both fire there (the two
// draws of a random fault, or any kill and any pause of the plan), the process is killed and the
// pause is moot (not carried out, not logged). See randomDecision.

import type { Scenario } from '../shared/scenario-types.js';
import { Prng } from '../shared/prng.js';
import { didYouMean } from '../shared/suggest.js';
import type { BeforeStepFault, FaultHooks } from '../coordinator/hooks.js';

export type Fault =
  | { kind: 'kill-before'; process: string; step: number; spec: string }
  | { kind: 'kill-during'; process: string; step: number; spec: string }
  | { kind: 'kill-reclaim'; spec: string }
  | { kind: 'pause'; process: string; step: number; ms: number; spec: string }
  | { kind: 'random'; kill: number; pause: number; spec: string };

export class FaultError extends Error {}

/** Milliseconds a random pause lasts: a little over the exchange bound, so a prepare can time out. */
export const randomPauseMs = 2_500;
/** Longest pause a `pause:` fault may ask for. */
export const pauseMsMax = 60_000;

const allowed = 'allowed: kill:P@N, kill:P@N+, kill:reclaim, pause:P@N:MS, random:kill=R,pause=P';

function processStep(s: Scenario, spec: string, name: string, step: string): { process: string; step: number } {
  const names = s.processes.map((p) => p.name);
  const proc = s.processes.find((p) => p.name === name);
  if (!proc) throw new FaultError(`--fault ${spec}: no process "${name}"; processes: ${names.join(', ')}${didYouMean(name, names)}`);
  const n = Number(step);
  if (proc.steps.length === 0) throw new FaultError(`--fault ${spec}: process ${name} has no steps, so no step ${step} to fault`);
  if (!/^\d{1,9}$/.test(step) || n >= proc.steps.length) {
    throw new FaultError(`--fault ${spec}: process ${name} has steps 0 to ${proc.steps.length - 1}, not "${step}"`);
  }
  return { process: name, step: n };
}

function probability(spec: string, key: string, v: string): number {
  const r = Number(v);
  if (!/^(\d+\.?\d*|\.\d+)$/.test(v) || !(r >= 0 && r <= 1)) throw new FaultError(`--fault ${spec}: ${key}="${v}" is not a probability from 0 to 1`);
  return r;
}

/** `P@N` (and `+` for kill): the process name, the step index and the rest. */
function target(spec: string, body: string, form: string): [string, string, string] {
  const at = body.lastIndexOf('@');
  if (at <= 0) throw new FaultError(`--fault ${spec}: expected ${form} (a process name, @, a step number)`);
  const m = /^(\d*)(.*)$/.exec(body.slice(at + 1))!;
  if (m[1] === '') throw new FaultError(`--fault ${spec}: expected ${form}: a step number after @, got "${body.slice(at + 1)}"`);
  return [body.slice(0, at), m[1]!, m[2]!];
}

/** Checks a `--fault` SPEC against the scenario: every key, value, process and step. */
export function parseFault(spec: string, s: Scenario): Fault {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const body = colon < 0 ? undefined : spec.slice(colon + 1);
  if (kind === 'kill' && body === 'reclaim') return { kind: 'kill-reclaim', spec };
  if (kind === 'kill' && body !== undefined) {
    const [name, step, rest] = target(spec, body, 'kill:P@N or kill:P@N+');
    if (rest !== '' && rest !== '+') throw new FaultError(`--fault ${spec}: unexpected "${rest}" after the step number; expected kill:P@N or kill:P@N+`);
    const at = processStep(s, spec, name, step);
    return { kind: rest ? 'kill-during' : 'kill-before', ...at, spec };
  }
  if (kind === 'pause' && body !== undefined) {
    const [name, step, rest] = target(spec, body, 'pause:P@N:MS');
    const ms = /^:(\d{1,9})$/.exec(rest);
    if (!ms) throw new FaultError(`--fault ${spec}: expected pause:P@N:MS, MS a whole number of milliseconds from 1 to ${pauseMsMax}`);
    const n = Number(ms[1]);
    if (n < 1 || n > pauseMsMax) throw new FaultError(`--fault ${spec}: MS must be from 1 to ${pauseMsMax}`);
    return { kind: 'pause', ...processStep(s, spec, name, step), ms: n, spec };
  }
  if (kind === 'random' && body !== undefined) {
    const fields = new Map<string, number>();
    for (const kv of body.split(',')) {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (key !== 'kill' && key !== 'pause') {
        throw new FaultError(`--fault ${spec}: unknown key "${key}"; random takes kill=R and pause=P${didYouMean(key, ['kill', 'pause'])}`);
      }
      if (eq < 0 || kv.slice(eq + 1) === '') throw new FaultError(`--fault ${spec}: ${key} needs a value: ${key}=R, a probability from 0 to 1`);
      if (fields.has(key)) throw new FaultError(`--fault ${spec}: ${key} is given twice`);
      fields.set(key, probability(spec, key, kv.slice(eq + 1)));
    }
    const kill = fields.get('kill') ?? 0;
    const pause = fields.get('pause') ?? 0;
    if (kill === 0 && pause === 0) throw new FaultError(`--fault ${spec}: injects nothing; give kill=R or pause=P above 0`);
    return { kind: 'random', kill, pause, spec };
  }
  const kinds = ['kill', 'pause', 'random'];
  if (kinds.includes(kind)) throw new FaultError(`--fault ${spec}: ${kind} needs its target; ${allowed}`);
  throw new FaultError(`--fault ${spec}: not a fault; ${allowed}${didYouMean(kind, kinds)}`);
}

/**
 * What a `random:kill=R,pause=P` fault does before one step, from its two draws (each uniform in
 * [0, 1), independent): the kill fires when `killDraw < R`, the pause when `pauseDraw < P`, each
 * at its own rate; when both fire the kill wins (a killed process has no step to pause before).
 * So a step is killed with probability R, paused with P * (1 - R), and, given no kill, paused
 * with P. (Before, one draw decided both: below R killed, below R+P paused, so with R+P > 1 a
 * pause came with 1 - R, not P: `kill=0.7,pause=0.6` paused 0.3 of the steps, not 0.6 of those not killed.)
 */
export function randomDecision(f: { kill: number; pause: number }, killDraw: number, pauseDraw: number): 'kill' | 'pause' | undefined {
  if (killDraw < f.kill) return 'kill';
  if (pauseDraw < f.pause) return 'pause';
  return undefined;
}

/**
 * The fault plan of one run: the kernel's fault hooks (coordinator/hooks.ts), answered from the
 * `--fault` specs. The kernel asks; it carries the fault out and logs its `fault` event.
 */
export class FaultPlan implements FaultHooks {
  private readonly prng: Prng;
  private reclaimKillUsed = false;

  constructor(readonly faults: Fault[], seed: number) {
    // The seed's own fault stream, apart from the schedule's (shared/prng.ts, Streams): adding a
    // fault does not change the schedule's draws, and the schedule does not shift the fault draws.
    this.prng = new Prng(seed, 'faults');
  }

  get empty(): boolean { return this.faults.length === 0; }

  /**
   * Before process `name` starts step `index`: kill it, pause it for some ms, or nothing. Every
   * random fault draws its two numbers at every step, whatever they and the other faults give, so
   * the stream's position depends only on the steps asked about: the same seed (and schedule)
   * gives the same faults. Any kill that fires wins over any pause (the first in the plan's order
   * among kills, else among pauses).
   */
  beforeStep(name: string, index: number): BeforeStepFault {
    let kill: string | undefined;
    let pause: { pauseMs: number; spec: string } | undefined;
    for (const f of this.faults) {
      if (f.kind === 'kill-before' && f.process === name && f.step === index) kill ??= f.spec;
      if (f.kind === 'pause' && f.process === name && f.step === index) pause ??= { pauseMs: f.ms, spec: f.spec };
      if (f.kind === 'random') {
        const d = randomDecision(f, this.prng.fraction(), this.prng.fraction());
        if (d === 'kill') kill ??= f.spec;
        if (d === 'pause') pause ??= { pauseMs: randomPauseMs, spec: f.spec };
      }
    }
    return kill !== undefined ? { kill } : pause;
  }

  /** The step is started: kill at its first message? */
  atFirstMessage(name: string, index: number): string | undefined {
    return this.faults.find((f) => f.kind === 'kill-during' && f.process === name && f.step === index)?.spec;
  }

  /** A prepare has its answers: kill a mapper now (the lowest pid)? Once per run, at the first exchange that asks anyone. */
  betweenPrepareAndCommit(_xid: number, participants: readonly string[]): { spec: string; victim: string } | undefined {
    if (this.reclaimKillUsed || participants.length === 0) return undefined;
    const f = this.faults.find((x) => x.kind === 'kill-reclaim');
    if (!f) return undefined;
    this.reclaimKillUsed = true;
    return { spec: f.spec, victim: participants[0]! };
  }

  /** Steps at which a free-running agent must stop and ask the kernel before going on. */
  stopsFor(name: string, steps: number): number[] {
    const out = new Set<number>();
    for (const f of this.faults) {
      if ((f.kind === 'kill-before' || f.kind === 'pause') && f.process === name) out.add(f.step);
      if (f.kind === 'random') for (let i = 0; i < steps; i++) out.add(i);
    }
    return [...out].sort((a, b) => a - b);
  }
}
