// A run session: the kernel's socket and the started agents, kept across the runs of one sweep
// (explore, explore --all, --every-kill, shrinking, compare, quiz --answers, the test suite's
// sweeps) instead of made again for every run (docs/performance.md, "Runs").
//
// Each run still has a kernel of its own (coordinator/kernel.ts, made new for the run: frames,
// files, process table, history) and each emulated process is still its own OS process during the
// run. What the session keeps is the run folder with its bound socket and receive loop
// (coordinator/agent_pool.ts AgentHost), and the agents: a process that exits is a reset of its
// agent (a `die` with `reset`: the agent drops its whole state, becomes the next incarnation and
// says hello again naming it; what it sent before is refused), and the agent waits in the pool for
// the next process, of this run or the next. A real SIGKILL (a fault, a `kill` step, the OOM
// killer, a fatal signal, a bad message) is still a real one; the pool starts a replacement in the
// background, after the run. At the end of a run the agents of processes that did not exit
// (stuck, stopped, timed out) are SIGKILLed for real and never reused.
//
// `close()` ends every agent and removes the run folder; `withSession` closes on every way out
// (an error, SIGINT or SIGTERM: the runs stop, then the session closes before the command writes
// its report). A second signal, or an exit, ends the agents at once (shared/lifecycle.ts).

import { AgentHost } from '../coordinator/agent_pool.js';
import { createRunDir, removeRunDir } from '../shared/lifecycle.js';
import { sessionSpareAgents } from '../shared/limits.js';

export class RunSession {
  private host: AgentHost | undefined;
  private runDir: string | undefined;
  private closed = false;
  private lostAgents = false;
  /** Runs started in this session. */
  runs = 0;
  /**
   * `reuse: false`: every run starts its own agents and socket as a run outside a session does
   * (the tests compare the two; `VRANGE_REUSE=0` asks for it everywhere).
   */
  readonly reuse: boolean;

  constructor(opts: { reuse?: boolean } = {}) {
    this.reuse = opts.reuse ?? process.env.VRANGE_REUSE !== '0';
  }

  /** The socket and agents for the next run (made at the first); one run at a time. */
  async hostForRun(): Promise<AgentHost | undefined> {
    if (this.closed) throw new Error('the run session is closed');
    if (!this.reuse) { this.runs++; return undefined; }
    if (!this.host) {
      this.runDir = createRunDir();
      this.host = new AgentHost(this.runDir, true);
      await this.host.bind();
    }
    if (this.host.deliver) throw new Error('a run session runs one run at a time');
    this.runs++;
    return this.host;
  }

  /** The run folder of the session (made at its first run). */
  get folder(): string | undefined { return this.runDir; }

  /** After a run that used `agents` local agents: start replacements for the dead, in the background. */
  afterRun(agents: number): void {
    if (this.closed || !this.host) return;
    // Once a run has lost an agent for real (a kill), one spare: the next run that loses one finds
    // its replacement started already. Before that none: a spare starting takes the CPU the runs need.
    if (this.agentsAlive < agents) this.lostAgents = true;
    try { this.host.pool.fill(agents + (this.lostAgents ? sessionSpareAgents : 0)); } catch { /* closing */ }
  }

  /** The OS pids of the session's agents alive now (the benchmark reads their CPU). */
  agentPids(): number[] {
    return this.host ? [...this.host.pool.all.values()].flatMap((c) => (c.alive && c.child?.pid !== undefined ? [c.child.pid] : [])) : [];
  }

  /** Agents alive in the session (idle between runs). */
  get agentsAlive(): number { return this.host ? [...this.host.pool.all.values()].filter((c) => c.alive).length : 0; }

  /** Ends every agent (SIGKILL, reaped), closes the socket, removes the run folder. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.host?.close();
    } finally {
      if (this.runDir) removeRunDir(this.runDir);
    }
  }
}

/** Runs `fn` with a run session, closed however `fn` ends. */
export async function withSession<T>(fn: (s: RunSession) => Promise<T>): Promise<T> {
  const s = new RunSession();
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
