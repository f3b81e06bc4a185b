// The process table: every emulated process (pid, fds, the kernel's copy of its VMAs, its
// lifecycle) and the agents (real OS child processes) behind them, with a small pool of agents
// started ahead so that a fork does not wait for Node to start.
//
// Death is learnt from the OS (the child's `exit` event), never from the agent's word: a normal
// exit, a crash, a SIGKILL and an OOM kill all arrive the same way and run the same cleanup.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assign, createActor, setup, type ActorRefFrom } from 'xstate';
import type { VmaKind } from '../shared/messages.js';
import type { ProcessSpec, ProcessState, Share } from '../shared/scenario-types.js';
import { agentStartTimeoutMs } from '../shared/limits.js';

/** The kernel's record of one VMA: what i_mmap and the fault path need. */
export interface KVma { start: number; pages: number; kind: VmaKind; fileId: number; offset: number; share: Share }

// ---- the lifecycle of an agent / emulated process ----
export const lifecycleMachine = setup({
  types: {
    context: {} as { osPid: number; exitCode: number | null; signal: string | null },
    events: {} as
      | { type: 'hello'; osPid: number }
      | { type: 'assigned' }
      | { type: 'ending' }
      | { type: 'osExited'; code: number | null; signal: string | null }
      | { type: 'cleanedUp' },
  },
  actions: {
    recordPid: assign({ osPid: ({ event }) => (event.type === 'hello' ? event.osPid : 0) }),
    recordExit: assign({
      exitCode: ({ event }) => (event.type === 'osExited' ? event.code : null),
      signal: ({ event }) => (event.type === 'osExited' ? event.signal : null),
    }),
  },
}).createMachine({
  id: 'process',
  context: { osPid: 0, exitCode: null, signal: null },
  initial: 'starting',
  states: {
    starting: { on: { hello: { target: 'idle', actions: 'recordPid' }, osExited: { target: 'dead', actions: 'recordExit' } } },
    idle: { on: { assigned: 'running', osExited: { target: 'dead', actions: 'recordExit' } } },
    running: { on: { ending: 'exiting', osExited: { target: 'dead', actions: 'recordExit' } } },
    exiting: { on: { osExited: { target: 'dead', actions: 'recordExit' } } },
    dead: { on: { cleanedUp: 'reaped' } },
    reaped: { type: 'final' },
  },
});

export class AgentConn {
  readonly actor: ActorRefFrom<typeof lifecycleMachine>;
  proc: Proc | undefined;
  readonly hello: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private resolveHello!: () => void;

  constructor(readonly routingId: string, readonly child: ChildProcess) {
    this.actor = createActor(lifecycleMachine, { id: routingId }).start();
    this.hello = new Promise((resolve) => (this.resolveHello = resolve));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }
  get state(): string { return String(this.actor.getSnapshot().value); }
  onHello(osPid: number): void {
    this.actor.send({ type: 'hello', osPid });
    this.resolveHello();
  }
  get alive(): boolean { return this.child.exitCode === null && this.child.signalCode === null; }
}

export class Proc {
  pid = 0;
  state: ProcessState = 'unborn';
  exitCode: number | undefined;
  signal: string | undefined;
  agent: AgentConn | undefined;
  /** fd number -> address space id. */
  fds = new Map<number, number>();
  vmas: KVma[] = [];
  /** Index of the next step to grant (lockstep) or to start. */
  nextStep = 0;
  /** Index of the step in flight, or -1. */
  inFlight = -1;
  /** Id of the reclaim exchange the step in flight waits on, or -1. */
  blockedOn = -1;
  /** The process has run its cleanup and can be waited for. */
  reaped = false;
  /** A wait/waitpid this process is parked in (free schedule), for deadlock reports. */
  parkedOn: string | undefined;
  /** A `kill:P@N+` fault armed for the step in flight: kill at its first message. */
  killOnFirst: string | undefined;
  /** SIGSTOPped by a pause fault until this resolves. */
  paused: Promise<void> | undefined;
  /** The step whose faults were already drawn (a step is drawn for once, even if paused first). */
  faultsDrawnFor = -1;
  constructor(readonly spec: ProcessSpec) {}
  get name(): string { return this.spec.name; }
  get live(): boolean { return this.state === 'running'; }
  vmaAt(vpage: number): KVma | undefined {
    return this.vmas.find((v) => vpage >= v.start && vpage < v.start + v.pages);
  }
}

const agentScript = fileURLToPath(new URL('../agents/agent.js', import.meta.url));

/** Started agents waiting for a process, and every agent ever started (to end them all). */
export class AgentPool {
  private idle: AgentConn[] = [];
  readonly all = new Map<string, AgentConn>();
  private started = 0;

  constructor(private readonly endpoint: string, private readonly cwd: string,
              private readonly onExit: (conn: AgentConn, code: number | null, signal: string | null) => void) {}

  spawnOne(): AgentConn {
    const routingId = `agent-${++this.started}`;
    const child = spawn(process.execPath, [agentScript, this.endpoint, routingId], {
      cwd: this.cwd, stdio: ['pipe', 'inherit', 'inherit'],
    });
    child.stdin!.on('error', () => {}); // the agent may be gone before we close its stdin
    const conn = new AgentConn(routingId, child);
    this.all.set(routingId, conn);
    this.idle.push(conn);
    void conn.exited.then(({ code, signal }) => this.onExit(conn, code, signal));
    return conn;
  }

  fill(n: number): void { while (this.idle.length < n) this.spawnOne(); }

  /** An agent that has said hello, leaving the pool topped up. */
  async take(poolSize: number): Promise<AgentConn> {
    if (this.idle.length === 0) this.spawnOne();
    const conn = this.idle.shift()!;
    this.fill(poolSize);
    await withTimeout(conn.hello, agentStartTimeoutMs, `agent ${conn.routingId} did not start within ${agentStartTimeoutMs} ms`);
    return conn;
  }

  /** Resolves when every agent waiting in the pool has said hello (a warm pool is a started one). */
  async warm(): Promise<void> {
    await withTimeout(Promise.all(this.idle.map((c) => c.hello)), agentStartTimeoutMs, `the agent pool did not start within ${agentStartTimeoutMs} ms`);
  }

  /** SIGKILL every agent still alive and wait until the OS has reaped them all. */
  async killAll(): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    for (const conn of this.all.values()) {
      if (conn.alive) conn.child.kill('SIGKILL');
      waits.push(conn.exited);
    }
    await Promise.all(waits);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(what)), ms); });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
