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
//   random:kill=R,pause=R   before each step, kill with probability R, else pause (for pauseMs) with
//                   probability R; one draw per step from the seed's fault stream, independent of
//                   the schedule's stream (shared/prng.ts)

import type { Scenario } from '../shared/scenario-types.js';
import { Prng } from '../shared/prng.js';

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

const allowed = 'allowed: kill:P@N, kill:P@N+, kill:reclaim, pause:P@N:MS, random:kill=R,pause=R';

function processStep(s: Scenario, spec: string, name: string, step: string): { process: string; step: number } {
  const proc = s.processes.find((p) => p.name === name);
  if (!proc) throw new FaultError(`--fault ${spec}: no process "${name}"; processes: ${s.processes.map((p) => p.name).join(', ')}`);
  const n = Number(step);
  if (!/^\d+$/.test(step) || n >= proc.steps.length) {
    throw new FaultError(`--fault ${spec}: process ${name} has steps 0 to ${proc.steps.length - 1}, not "${step}"`);
  }
  return { process: name, step: n };
}

function probability(spec: string, v: string | undefined): number {
  const r = Number(v ?? '0');
  if (v !== undefined && (!/^\d*\.?\d+$/.test(v) || r > 1)) throw new FaultError(`--fault ${spec}: "${v}" is not a probability from 0 to 1`);
  return r;
}

export function parseFault(spec: string, s: Scenario): Fault {
  let m: RegExpMatchArray | null;
  if (spec === 'kill:reclaim') return { kind: 'kill-reclaim', spec };
  if ((m = spec.match(/^kill:([^@]+)@(\d+)(\+?)$/))) {
    const at = processStep(s, spec, m[1]!, m[2]!);
    return { kind: m[3] ? 'kill-during' : 'kill-before', ...at, spec };
  }
  if ((m = spec.match(/^pause:([^@]+)@(\d+):(\d+)$/))) {
    const ms = Number(m[3]);
    if (ms < 1 || ms > pauseMsMax) throw new FaultError(`--fault ${spec}: MS must be from 1 to ${pauseMsMax}`);
    return { kind: 'pause', ...processStep(s, spec, m[1]!, m[2]!), ms, spec };
  }
  if ((m = spec.match(/^random:(.*)$/))) {
    const fields = Object.fromEntries(m[1]!.split(',').map((kv) => kv.split('=') as [string, string]));
    for (const k of Object.keys(fields)) if (k !== 'kill' && k !== 'pause') throw new FaultError(`--fault ${spec}: unknown "${k}"; ${allowed}`);
    return { kind: 'random', kill: probability(spec, fields.kill), pause: probability(spec, fields.pause), spec };
  }
  throw new FaultError(`--fault ${spec}: not a fault; ${allowed}`);
}

/** What the scheduler asks before a step starts, and the kernel when a step sends something. */
export class FaultPlan {
  private readonly prng: Prng;
  private reclaimKillUsed = false;
  readonly injected: Array<{ fault: string; process: string; step: number; action: string }> = [];

  constructor(readonly faults: Fault[], seed: number) {
    // The seed's own fault stream, apart from the schedule's (shared/prng.ts, Streams): adding a
    // fault does not change the schedule's draws, and the schedule does not shift the fault draws.
    this.prng = new Prng(seed, 'faults');
  }

  get empty(): boolean { return this.faults.length === 0; }

  /** Before process `name` starts step `index`: kill it, pause it for some ms, or nothing. */
  beforeStep(name: string, index: number): { kill: string } | { pauseMs: number; spec: string } | undefined {
    for (const f of this.faults) {
      if (f.kind === 'kill-before' && f.process === name && f.step === index) return { kill: f.spec };
      if (f.kind === 'pause' && f.process === name && f.step === index) return { pauseMs: f.ms, spec: f.spec };
      if (f.kind === 'random') {
        const draw = this.prng.fraction();
        if (draw < f.kill) return { kill: f.spec };
        if (draw < f.kill + f.pause) return { pauseMs: randomPauseMs, spec: f.spec };
      }
    }
    return undefined;
  }

  /** The step is started: kill at its first message? */
  killDuring(name: string, index: number): string | undefined {
    return this.faults.find((f) => f.kind === 'kill-during' && f.process === name && f.step === index)?.spec;
  }

  /** A prepare has its answers: kill a mapper now? (once per run) */
  killInExchange(): string | undefined {
    if (this.reclaimKillUsed) return undefined;
    const f = this.faults.find((x) => x.kind === 'kill-reclaim');
    if (!f) return undefined;
    this.reclaimKillUsed = true;
    return f.spec;
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
