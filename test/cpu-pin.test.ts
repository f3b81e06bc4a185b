// Lockstep on one CPU (coordinator/cpu_pin.ts). The binding is process-wide, so the runs here are serial: another run of this
// process would hold the lease.
import test from 'ava';
import { accessSync, constants, readFileSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { agentCommand, cpuOfStat, cpusIn, listHas } from '../coordinator/cpu_pin.js';
import type { Kernel } from '../coordinator/kernel.js';
import { runScenario } from '../harness/run.js';
import { RunSession } from '../harness/session.js';
import { loadScenario } from '../shared/scenario.js';
import { configFor, scenarioPath } from './helpers.js';

test('CPU lists are read as the kernel writes them', (t) => {
  t.is(cpusIn('0-1'), 2);
  t.is(cpusIn('0'), 1);
  t.is(cpusIn('0-3,6,8-9'), 7);
  t.true(Number.isNaN(cpusIn('')));
  t.true(Number.isNaN(cpusIn('3-1')));
  t.true(Number.isNaN(cpusIn('a')));
  t.true(listHas('0-3,6', 2));
  t.true(listHas('0-3,6', 6));
  t.false(listHas('0-3,6', 5));
  t.false(listHas('0-3,6', 7));
  // Field 39 of /proc/PID/stat; the command name may hold spaces and parentheses.
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3)); // fields 3.. as their own numbers
  t.is(cpuOfStat(`42 (a (b) c) ${fields.join(' ')}`), 39);
  t.is(cpuOfStat('garbage'), undefined);
});

/** Whether this machine can bind: Linux, more than one CPU allowed, taskset on PATH. */
function canBind(): boolean {
  if (process.platform !== 'linux') return false;
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  if (!(cpusIn(list) >= 2)) return false;
  return (process.env.PATH ?? '').split(delimiter).some((d) => { try { accessSync(join(d, 'taskset'), constants.X_OK); return d !== ''; } catch { return false; } });
}

const allowedOf = (path: string): string => /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(path, 'utf8'))?.[1] ?? '?';
/** The CPU list of each thread of a process, by thread name. */
function threadLists(pid: number): Array<{ comm: string; list: string }> {
  return readdirSync(`/proc/${pid}/task`).map((tid) => ({
    comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(), list: allowedOf(`/proc/${pid}/task/${tid}/status`),
  }));
}

interface Seen { kernelMain: string; kernelZmq: string[]; agents: Array<{ pid: number; lists: string[] }>; command: [string, string[]] }

/** A run of `name`, looking at the CPU lists of the kernel's threads and of every agent at each step's completion. */
async function look(name: string, schedule: 'lockstep' | 'free', session?: RunSession): Promise<{ ok: boolean; seen: Seen[] }> {
  const s = loadScenario(scenarioPath(name));
  let kernel: Kernel | undefined;
  const seen: Seen[] = [];
  const { report } = await runScenario(s, configFor(s, { seed: 1, schedule }), {
    session,
    onKernel: (k) => { kernel = k; k.addObserver({ event: (e) => watch(e.kind) }); },
  });
  return { ok: report.ok, seen };

  function watch(kind: string): void {
      if (kind !== 'complete' || !kernel || seen.length >= 6) return;
      const mine = threadLists(process.pid);
      const agents: Seen['agents'] = [];
      for (const p of kernel.procs) {
        const pid = p.live ? p.agent?.child?.pid : undefined;
        if (pid === undefined) continue;
        try {
          agents.push({ pid, lists: threadLists(pid).map((x) => x.list) });
        } catch { /* it has just ended */ }
      }
      seen.push({ kernelMain: allowedOf(`/proc/self/task/${process.pid}/status`), kernelZmq: mine.filter((x) => x.comm.startsWith('ZMQbg/IO/')).map((x) => x.list), agents,
        command: agentCommand('/usr/bin/node', ['agent.js']) });
  }
}

test.serial('a lockstep run binds the kernel\'s main and I/O threads and every agent to one CPU, and gives the kernel its CPUs back after', async (t) => {
  const before = allowedOf('/proc/self/status');
  const { ok, seen } = await look('fork-cow-purge', 'lockstep');
  t.true(ok);
  t.true(seen.length > 0 && seen.some((x) => x.agents.length > 0), 'looked while agents ran');
  if (canBind()) {
    for (const x of seen) {
      t.is(cpusIn(x.kernelMain), 1, `the kernel's main thread is bound: ${x.kernelMain}`);
      for (const l of x.kernelZmq) t.is(l, x.kernelMain, 'its ZeroMQ I/O thread is on the same CPU');
      for (const a of x.agents) for (const l of a.lists) t.is(l, x.kernelMain, `agent ${a.pid}: every thread on the kernel's CPU`);
      t.true(x.command[0].endsWith('/taskset'), 'an agent started while bound starts through taskset');
      t.deepEqual(x.command[1], ['-c', before, '/usr/bin/node', 'agent.js'], '... with the CPUs the kernel had');
    }
  } else {
    for (const x of seen) t.is(x.kernelMain, before, 'nothing is bound where binding is not possible');
  }
  t.is(allowedOf('/proc/self/status'), before, 'the kernel has its CPUs back');
  t.deepEqual(agentCommand('/usr/bin/node', ['agent.js']), ['/usr/bin/node', ['agent.js']], 'unbound, an agent starts as node itself');
  for (const { list } of threadLists(process.pid)) t.is(list, before, 'every thread of the kernel has its CPUs back');
});

test.serial('a free run and VRANGE_PIN=0 bind nothing', async (t) => {
  const before = allowedOf('/proc/self/status');
  const free = await look('fork-cow-purge', 'free');
  t.true(free.ok);
  t.true(free.seen.length > 0);
  for (const x of free.seen) {
    t.is(x.kernelMain, before);
    for (const a of x.agents) for (const l of a.lists) t.is(l, before, 'a free run\'s agents may use every CPU');
  }
  process.env.VRANGE_PIN = '0';
  try {
    const off = await look('fork-cow-purge', 'lockstep');
    t.true(off.ok);
    for (const x of off.seen) {
      t.is(x.kernelMain, before);
      for (const a of x.agents) for (const l of a.lists) t.is(l, before, 'VRANGE_PIN=0: nothing bound');
    }
  } finally {
    delete process.env.VRANGE_PIN;
  }
});

test.serial('a session keeps its lockstep runs bound, gives its agents every CPU back for a free run, and the kernel its CPUs at its close', async (t) => {
  const before = allowedOf('/proc/self/status');
  const session = new RunSession({ reuse: true });
  try {
    const a = await look('fork-cow-purge', 'lockstep', session);
    const b = await look('fork-cow-purge', 'lockstep', session);
    t.true(a.ok && b.ok);
    if (canBind()) {
      t.is(cpusIn(allowedOf('/proc/self/status')), 1, 'between the runs of a session the kernel stays bound');
      for (const x of b.seen) for (const ag of x.agents) for (const l of ag.lists) t.is(l, x.kernelMain, 'the second run\'s agents (reused or new) are bound too');
    }
    const c = await look('fork-cow-purge', 'free', session);
    t.true(c.ok);
    for (const x of c.seen) {
      t.is(x.kernelMain, before, 'a free run gives the kernel its CPUs back');
      for (const ag of x.agents) for (const l of ag.lists) t.is(l, before, 'and every agent');
    }
  } finally {
    await session.close();
  }
  t.is(allowedOf('/proc/self/status'), before);
});
