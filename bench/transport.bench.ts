// (1) Transport ceiling: raw request/reply over the product's own sockets and codec
// (shared/transport.ts KernelSocket/AgentSocket, shared/messages.ts msgpackr), between this
// machine's processes, with no kernel behind it: the server answers each `read` syscall with a
// `ret` at once. 1 and 16 client processes, synchronous (one call in flight per client, as an
// agent's step makes them) and pipelined (a window of calls in flight per client).
// Baseline: 1 client, synchronous. Every other figure is a ratio to it.
//
// Run: node dist/bench/transport.bench.js [--json [FILE]] [--quick] [--repeats N]
// A client is this same file started as `... --client ENDPOINT ROUTING_ID`.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentSocket, KernelSocket } from '../shared/transport.js';
import type { KernelMsg, SysCall } from '../shared/messages.js';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';
import { agentNodeArgs } from '../coordinator/agent_pool.js';
import { cpuOfStat } from '../coordinator/cpu_pin.js';
import { tierForSteps } from '../shared/tiering.js';

/** The bench's own control messages, carried by the product's codec. */
type Control = { t: 'bench-go'; calls: number; window: number } | { t: 'bench-done' } | { t: 'bench-ping' } | { t: 'bench-pong' };

async function client(endpoint: string, routingId: string): Promise<void> {
  const sock = new AgentSocket(endpoint, routingId, (e) => { process.stderr.write(`client send: ${String(e)}\n`); process.exit(70); });
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
  tierForSteps(); // as an agent does once started (shared/tiering.ts)
  sock.connect();
  sock.send({ t: 'hello', osPid: process.pid });
  let id = 0;
  let left = 0;
  let inFlight = 0;
  let window = 1;
  const issue = () => {
    while (inFlight < window && left > 0) {
      left--; inFlight++;
      sock.send({ t: 'read', id: ++id, vpage: id & 1023, frame: -1 } satisfies SysCall);
    }
  };
  // Received as the agents receive (AgentSocket.listen).
  await sock.listen((msg) => {
    const m = msg as KernelMsg | Control;
    if (m.t === 'bench-go') { left = m.calls; window = m.window; issue(); return; }
    if (m.t === 'ret') {
      inFlight--;
      if (left > 0) issue();
      else if (inFlight === 0) sock.send({ t: 'bench-done' } as never);
      return;
    }
    // One message answered at once: a round's floor (TransportRig.round).
    if (m.t === 'bench-ping') { sock.send({ t: 'bench-pong' } as never); return; }
    if (m.t === 'die') process.exit(0);
  });
}

export interface TransportCase { clients: number; window: number; calls: number }

/** Starts `n` client processes against a bound KernelSocket and measures cases on them. */
export class TransportRig {
  private readonly dir = mkdtempSync(join(tmpdir(), 'vrange-bench-'));
  readonly endpoint = `ipc://${this.dir}/bench.sock`;
  private readonly server = new KernelSocket(this.endpoint, (e) => { throw e; });
  private readonly children: ChildProcess[] = [];
  private readonly ids: string[] = [];
  private hellos = 0;
  private onHello: () => void = () => {};
  private onDone: () => void = () => {};
  private onPong: () => void = () => {};
  private done = 0;
  calls = 0;

  /** `cpu`: every client, and this whole process, bound to that one CPU (util-linux `taskset`), as a lockstep run binds its agents (coordinator/cpu_pin.ts). */
  async start(n: number, cpu?: number): Promise<void> {
    await this.server.bind();
    void this.loop();
    const script = fileURLToPath(import.meta.url);
    const all = new Promise<void>((resolve) => (this.onHello = () => { if (++this.hellos === n) resolve(); }));
    for (let i = 0; i < n; i++) {
      const id = `bench-${i}`;
      this.ids.push(id);
      // A client is started as the kernel starts an agent (the same Node options): the ceiling is that of agent processes.
      const argv = [...agentNodeArgs(), script, '--client', this.endpoint, id];
      this.children.push(cpu === undefined ? spawn(process.execPath, argv, { stdio: ['pipe', 'inherit', 'inherit'] })
        : spawn('taskset', ['-c', String(cpu), process.execPath, ...argv], { stdio: ['pipe', 'inherit', 'inherit'] }));
    }
    await all;
    if (cpu !== undefined) { this.cpusBefore = execFileSync('taskset', ['-p', '-c', String(process.pid)], { encoding: 'utf8' }).split(':').at(-1)!.trim(); execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' }); }
  }
  private cpusBefore: string | undefined;

  private async loop(): Promise<void> {
    // Received as the kernel receives (KernelSocket.listen).
    await this.server.listen((id, msgs) => {
      for (const msg of msgs) {
        const m = msg as { t: string; id?: number };
        if (m.t === 'read') { this.calls++; this.server.send(id, { t: 'ret', re: m.id!, value: '' }); }
        else if (m.t === 'hello') this.onHello();
        else if (m.t === 'bench-done') this.onDone();
        else if (m.t === 'bench-pong') this.onPong();
      }
    });
  }

  /** Calls per second over `clients` of the started clients, each making `calls` calls. */
  async measure(c: TransportCase): Promise<number> {
    this.done = 0;
    const finished = new Promise<void>((resolve) => (this.onDone = () => { if (++this.done === c.clients) resolve(); }));
    const t0 = nowMs();
    for (const id of this.ids.slice(0, c.clients)) this.server.send(id, { t: 'bench-go', calls: c.calls, window: c.window } as never);
    await finished;
    return (c.clients * c.calls) / ((nowMs() - t0) / 1000);
  }

  /**
   * One round, as a reclaim exchange's prepare makes it: after `idleMs` with nothing sent (the
   * clients asleep, as mappers waiting in a step are), one message to each of `clients` clients,
   * then every answer; its milliseconds. The floor under any exchange with that many mappers.
   */
  async round(clients: number, idleMs: number): Promise<number> {
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    let pongs = 0;
    const all = new Promise<void>((resolve) => (this.onPong = () => { if (++pongs === clients) resolve(); }));
    const t0 = nowMs();
    for (const id of this.ids.slice(0, clients)) this.server.send(id, { t: 'bench-ping' } as never);
    await all;
    return nowMs() - t0;
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map((ch) => new Promise<void>((resolve) => {
      if (ch.exitCode !== null || ch.signalCode !== null) return resolve();
      ch.once('exit', () => resolve());
      ch.kill('SIGKILL');
    })));
    if (this.cpusBefore !== undefined) execFileSync('taskset', ['-a', '-p', '-c', this.cpusBefore, String(process.pid)], { stdio: 'ignore' });
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The floor under a reclaim exchange's prepare with `clients` mappers: rounds (TransportRig.round)
 * after `idleMs` each, free on every CPU and with everything on one CPU (as a lockstep run is);
 * milliseconds a round, after `warm` rounds not kept.
 */
export async function roundFloor(clients: number, rounds: number, idleMs: number, oneCpu: boolean, warm = 3): Promise<number[]> {
  const rig = new TransportRig();
  try {
    await rig.start(clients, oneCpu ? cpuOfSelf() : undefined);
    for (let i = 0; i < warm; i++) await rig.round(clients, idleMs);
    const xs: number[] = [];
    for (let i = 0; i < rounds; i++) xs.push(await rig.round(clients, idleMs));
    return xs;
  } finally { await rig.stop(); }
}

/** The CPU this process last ran on, 0 when /proc cannot tell. */
function cpuOfSelf(): number {
  try { return cpuOfStat(readFileSync('/proc/self/stat', 'utf8')) ?? 0; } catch { return 0; }
}

/** The 16-client synchronous figure, for other benchmarks' ratios (measured in their own run). */
export async function transportCeiling16(repeats: number, calls = 2_000): Promise<number[]> {
  const rig = new TransportRig();
  try {
    await rig.start(16);
    await rig.measure({ clients: 16, window: 1, calls: 200 });
    const xs: number[] = [];
    for (let i = 0; i < repeats; i++) xs.push(await rig.measure({ clients: 16, window: 1, calls }));
    return xs;
  } finally { await rig.stop(); }
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 3 : 7);
  const calls = args.quick ? 2_000 : 10_000;
  const window = 32;
  const cases: Array<TransportCase & { name: string }> = [
    { name: '1 client, synchronous', clients: 1, window: 1, calls },
    { name: '1 client, pipelined (32 in flight)', clients: 1, window, calls: calls * 4 },
    { name: '16 clients, synchronous', clients: 16, window: 1, calls: Math.ceil(calls / 4) },
    { name: '16 clients, pipelined (32 in flight each)', clients: 16, window, calls: calls },
  ];
  const rig = new TransportRig();
  const rows: Row[] = [];
  try {
    await rig.start(16);
    for (const c of cases) await rig.measure({ ...c, calls: Math.ceil(c.calls / 10) }); // warm-up
    const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
    // Interleave the cases so that a burst of load from elsewhere hits them all alike.
    for (let r = 0; r < repeats; r++) for (const c of cases) samples.get(c.name)!.push(await rig.measure(c));
    const base = summarise(samples.get(cases[0]!.name)!).median;
    for (const c of cases) {
      const summary = summarise(samples.get(c.name)!);
      rows.push({ name: c.name, unit: 'calls/s', summary, ratio: summary.median / base, against: '1 client sync',
        extra: { callsPerClient: c.calls, window: c.window, usPerCall: 1e6 / summary.median } });
    }
  } finally { await rig.stop(); }
  emit({ bench: 'transport', what: 'raw ZeroMQ Router/Dealer + msgpackr request/reply (read -> ret), no kernel', rows }, args);
}

if (process.argv[2] === '--client') void client(process.argv[3]!, process.argv[4]!);
else if (process.argv[1] === fileURLToPath(import.meta.url)) void main().catch((e) => { console.error(e); process.exit(1); });
