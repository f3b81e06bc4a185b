// Where a run's CPU goes (bench/runs.bench.ts, docs/performance.md): an optional clock that the
// run orchestration (run.ts runKernel and runScenario) and the sweeps (explore.ts) advance at the
// end of each part of a run. `mark(part)` charges the coordinator's CPU and wall time since the
// previous mark to `part`. The agents' CPU is not the coordinator's: it is read from the
// coordinator's reaped children (`/proc/self/stat` cutime + cstime), so it is known once the
// agents have ended, and is charged to `agents` when `agentsNow()` is called.

import { readFileSync } from 'node:fs';

export interface PhaseTotals { cpuMs: number; wallMs: number }

export class PhaseClock {
  readonly parts = new Map<string, PhaseTotals>();
  private lastCpu = process.cpuUsage();
  private lastWall = performance.now();
  private agentsBase = childrenCpuMs();
  private liveBase = 0;

  /** Charges everything since the previous mark to `part`. */
  mark(part: string): void {
    const cpu = process.cpuUsage();
    const wall = performance.now();
    const t = this.parts.get(part) ?? { cpuMs: 0, wallMs: 0 };
    t.cpuMs += (cpu.user - this.lastCpu.user + cpu.system - this.lastCpu.system) / 1000;
    t.wallMs += wall - this.lastWall;
    this.parts.set(part, t);
    this.lastCpu = cpu;
    this.lastWall = wall;
  }

  /** Charges the CPU of the agents reaped since the last call to `agents`, and of the live ones in `pids` (read from /proc). */
  agentsNow(pids: readonly number[] = []): void {
    const now = childrenCpuMs();
    const live = pids.reduce((n, pid) => n + processCpuMs(pid), 0);
    const t = this.parts.get('agents') ?? { cpuMs: 0, wallMs: 0 };
    t.cpuMs += now - this.agentsBase + live - this.liveBase;
    this.liveBase = 0;
    this.parts.set('agents', t);
    this.agentsBase = now;
  }
}

/** The CPU (user + system, ms) of this process's reaped children, from /proc/self/stat (0 where there is no /proc). */
export function childrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of stat(5) (cutime, cstime), counted from after the command name (field 3 is f[0]).
    return (Number(f[13]) + Number(f[14])) * 10;
  } catch {
    return 0;
  }
}

/** The CPU (user + system, ms) a live process has used, from /proc/PID/stat (0 if it is gone). */
export function processCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return 0;
  }
}
