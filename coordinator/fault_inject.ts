// Fault injection, kernel side: carrying out what the fault hooks (hooks.ts FaultHooks, answered
// by harness/faults.ts) ask for, and logging each as a `fault` event. The kernel decides nothing
// here: the plan says where, this does it.
//
// The hook points, each asked at one place:
//   beforeStep               before a step is granted (lockstep) or at the agent's `at` stop (free):
//                            SIGKILL (the step never starts) or SIGSTOP for some ms, then SIGCONT;
//   atFirstMessage           armed when a step starts (lockstep.ts), struck here at the step's
//                            first message, which is dropped: the step reports SIGKILL;
//   betweenPrepareAndCommit  asked by the exchange (reclaim.ts) once it has its answers.
// A handler that awaits (a kill waits for the cleanup) re-checks liveness after.

import type { AgentMsg } from '../shared/messages.js';
import type { Kernel } from './kernel.js';
import type { BeforeStepFault } from './hooks.js';
import type { Proc } from './process_table.js';

export class FaultInject {
  /** The pauses under way: each one's timer, and how it ends early (stopPauses). */
  private readonly pauses = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly k: Kernel) {}

  /** `as`: the fault as a fixed spec (a random draw becomes `kill:P@N`), so a shrinker can replay it alone. */
  fault(spec: string, proc: Proc, action: string, as: string): void {
    const step = proc.inFlight >= 0 ? proc.inFlight : proc.nextStep;
    this.k.faultsInjected.push({ fault: spec, process: proc.name, step, action });
    this.k.history.add('fault', { fault: spec, process: proc.name, pid: proc.pid, step, as, action });
  }

  /**
   * Before a process starts a step, the faults that name it: kill it (the step never starts),
   * or SIGSTOP it for a while. Returns 'killed', 'paused' (resumes by itself) or 'go'.
   */
  beforeStep(proc: Proc): 'go' | Promise<'killed' | 'paused'> {
    // No fault for this step (the usual case): answered at once, without a promise, so that the
    // lockstep scheduler grants the step in the same turn (one promise and one await a step less).
    if (proc.faultsDrawnFor === proc.nextStep) return 'go';
    proc.faultsDrawnFor = proc.nextStep;
    const f = this.k.faults.beforeStep(proc.name, proc.nextStep);
    if (!f) return 'go';
    return this.strike(proc, f);
  }

  /** A fault drawn before a step: carries it out (a kill waits for the cleanup). */
  private async strike(proc: Proc, f: NonNullable<BeforeStepFault>): Promise<'killed' | 'paused'> {
    if ('kill' in f) {
      this.fault(f.kill, proc, `SIGKILL before step ${proc.nextStep}`, `kill:${proc.name}@${proc.nextStep}`);
      this.k.exit.endsWithNoStep(proc); // the step never starts, a wait included (asleepIn)
      await this.k.exit.killProc(proc);
      return 'killed';
    }
    this.fault(f.spec, proc, `SIGSTOP before step ${proc.nextStep}, SIGCONT in ${f.pauseMs} ms`, `pause:${proc.name}@${proc.nextStep}:${f.pauseMs}`);
    proc.agent!.kill('SIGSTOP');
    proc.paused = new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pauses.delete(timer);
        proc.paused = undefined;
        if (proc.live) proc.agent!.kill('SIGCONT');
        this.k.history.add('resume', { process: proc.name, pid: proc.pid });
        resolve(true);
        this.k.onProgress();
      }, f.pauseMs);
      // Ended by the run's shutdown: no SIGCONT, no `resume`; the agent is SIGKILLed stopped.
      this.pauses.set(timer, () => { proc.paused = undefined; resolve(false); });
    });
    return 'paused';
  }

  /**
   * At shutdown: the pauses still running end with the run (its agents are SIGKILLed, a stopped
   * one too). A pause timer left behind kept the command alive for the rest of its MS after a run
   * stopped by its time bound, and would have sent its SIGCONT to an OS pid no longer the agent's.
   */
  stopPauses(): void {
    for (const [timer, end] of this.pauses) { clearTimeout(timer); end(); }
    this.pauses.clear();
  }

  /** Free schedule: a process stopped before a step a fault names (its `at` message). */
  async atFaultPoint(proc: Proc, index: number): Promise<void> {
    if (index !== proc.nextStep) proc.nextStep = index;
    const drawn = this.beforeStep(proc);
    const r = drawn === 'go' ? drawn : await drawn;
    if (r === 'killed') return;
    // A pause the shutdown ended (stopPauses) lets nothing go on: the agent, still stopped, is
    // SIGKILLed; a `continue` to it was a message nobody reads, logged in the history as sent.
    if (r === 'paused' && !(await proc.paused)) return;
    if (proc.live) this.k.sendTo(proc, { t: 'continue' });
  }

  /** A `kill:P@N+` armed for the step in flight strikes at its first message (dropped). Returns whether it struck. */
  strikeAtFirstMessage(proc: Proc, msg: AgentMsg): boolean {
    if (!proc.killOnFirst || msg.t === 'prepared' || msg.t === 'committed' || msg.t === 'blocked' || msg.t === 'start') return false;
    this.fault(proc.killOnFirst, proc, `dropped its ${msg.t} message, SIGKILL while the step is in flight`, `kill:${proc.name}@${proc.inFlight}+`);
    proc.killOnFirst = undefined;
    proc.agent!.kill('SIGKILL');
    return true;
  }

  /** `kill:reclaim`: the victim the hook names among an exchange's live participants (by pid), killed and reaped. */
  async betweenPrepareAndCommit(xid: number, live: Proc[]): Promise<void> {
    if (live.length === 0) return;
    const f = this.k.faults.betweenPrepareAndCommit(xid, live.map((p) => p.name));
    if (!f) return;
    const victim = live.find((p) => p.name === f.victim);
    if (!victim) throw new Error(`kernel invariant: the fault hook named ${f.victim}, no live participant of exchange ${xid}`);
    this.fault(f.spec, victim, `SIGKILL between the prepare and the commit of exchange ${xid}`, 'kill:reclaim');
    await this.k.exit.killProc(victim);
  }
}
