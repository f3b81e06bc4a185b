// Spare agents start at the lowest CPU priority and get the kernel's when a process takes them
// (coordinator/spare_priority.ts): read in /proc while a run forks, thread by thread.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { getPriority } from 'node:os';
import type { Kernel } from '../coordinator/kernel.js';
import type { AgentHost } from '../coordinator/agent_pool.js';
import { mayRaiseTo, spareNice, sparePolicy } from '../coordinator/spare_priority.js';
import { runScenario } from '../harness/run.js';
import { parseScenario } from '../shared/scenario.js';
import { agentPoolMax } from '../shared/limits.js';
import { statFieldsOf } from '../shared/procfs.js';
import { configFor } from './helpers.js';

test('whether a lowered agent may be raised again: CAP_SYS_NICE, or RLIMIT_NICE by Linux\'s rule', (t) => {
  const status = (capEff: string) => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${capEff}\n`;
  const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax nice priority         ${soft}                    ${soft}\n`;
  t.true(mayRaiseTo(0, status('000001ffffffffff'), limits('0')), 'root with every capability');
  t.true(mayRaiseTo(0, status('0000000000800000'), limits('0')), 'CAP_SYS_NICE alone');
  t.false(mayRaiseTo(0, status('00000000a80425fb'), limits('0')), 'a container\'s root: Docker\'s default capabilities lack CAP_SYS_NICE');
  t.false(mayRaiseTo(0, status('0000000000000000'), limits('0')), 'an unprivileged process with the default RLIMIT_NICE');
  t.true(mayRaiseTo(0, status('0000000000000000'), limits('20')), 'RLIMIT_NICE 20 allows nice 0');
  t.false(mayRaiseTo(0, status('0000000000000000'), limits('19')), 'RLIMIT_NICE 19 allows nice 1, not 0');
  t.true(mayRaiseTo(10, status('0000000000000000'), limits('10')), 'a kernel at nice 10 with RLIMIT_NICE 10');
  t.true(mayRaiseTo(-5, status('0000000000000000'), limits('unlimited')));
  t.false(mayRaiseTo(0, 'no such lines', 'no such lines'), 'unreadable: not lowered');
});

const niceOf = (tid: number, pid: number): number | undefined => {
  try { return Number(statFieldsOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'))?.[16]); } catch { return undefined; }
};
const threadsOf = (pid: number): number[] => { try { return readdirSync(`/proc/${pid}/task`).map(Number); } catch { return []; } };

test('a run\'s lowered spares wait at nice 19; every other agent runs, every thread, at the kernel\'s nice value', async (t) => {
  if (process.platform !== 'linux') { t.false(sparePolicy().on, 'off Linux spares are not lowered'); return; }
  const base = getPriority();
  // Seven forks one after the other, more than the pool holds (agentPoolMax): each takes a spare and
  // the pool starts the next one, lowered.
  const forks = 7;
  const children = Array.from({ length: forks }, (_, i) => `C${i}`);
  const s = parseScenario(JSON.stringify({
    name: 'spare-priority', memory: { frames: 64 },
    processes: {
      A: { steps: [{ op: 'mmap', as: 'a', pages: 1 }, { op: 'write', map: 'a', page: 0, value: 'x' },
        ...children.flatMap((c) => [{ op: 'fork', child: c }, { op: 'read', map: 'a', page: 0, expect: { value: 'x' } }])] },
      ...Object.fromEntries(children.map((c) => [c, { forked: true, steps: [{ op: 'read', map: 'a', page: 0, expect: { value: 'x' } }] }])),
    },
  }), 'spare-priority.json');
  t.true(forks > agentPoolMax);
  let kernel: Kernel | undefined;
  const normal: number[] = [];
  const lowered: number[] = [];
  const { report } = await runScenario(s, configFor(s, { seed: 1 }), {
    onKernel: (k) => {
      kernel = k;
      k.addObserver({ event: (e) => {
        if (e.kind !== 'complete') return;
        for (const c of (kernel as unknown as { host: AgentHost }).host.pool.all.values()) {
          const pid = c.child?.pid;
          if (!c.alive || pid === undefined) continue;
          // A lowered spare's main thread (threads Node made before the renice, if any, keep the
          // kernel's value: spare_priority.ts); every thread of any other agent.
          if (c.lowered) { const n = niceOf(pid, pid); if (n !== undefined) lowered.push(n); }
          else for (const tid of threadsOf(pid)) { const n = niceOf(tid, pid); if (n !== undefined) normal.push(n); }
        }
      } });
    },
  });
  t.true(report.ok);
  t.true(normal.length > 10, `the threads of agents at the kernel's value were read (${normal.length})`);
  t.deepEqual([...new Set(normal)], [base], 'every thread of an agent that runs a process, or that the kernel waited for, has the kernel\'s nice value');
  if (sparePolicy().on) {
    t.true(lowered.length > 0, `the spares the forks' refills started were read (${lowered.length})`);
    t.deepEqual([...new Set(lowered)], [spareNice], 'a spare waits at nice 19');
  } else {
    t.is(lowered.length, 0, 'spares are not lowered when they could not be raised again');
  }
});

test('VRANGE_SPARE_NICE=0 turns it off; a kernel already at nice 19 lowers nothing', (t) => {
  const policyIn = (env: Record<string, string>, nice = 0) => {
    const code = `import(${JSON.stringify(new URL('../coordinator/spare_priority.js', import.meta.url).href)}).then((m) => console.log(JSON.stringify(m.sparePolicy())))`;
    const r = spawnSync('nice', ['-n', String(nice), process.execPath, '--input-type=module', '-e', code], { env: { ...process.env, ...env }, encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { on: boolean; base: number };
  };
  t.deepEqual(policyIn({ VRANGE_SPARE_NICE: '0' }), { on: false, base: getPriority() });
  t.deepEqual(policyIn({}, 19 - getPriority()), { on: false, base: 19 });
  if (process.platform === 'linux' && !mayRaiseTo(getPriority())) t.false(policyIn({}).on, 'never on where /proc says a raise is not allowed');
});

test('in a user namespace, where CAP_SYS_NICE is there but does not count, spares are not lowered', (t) => {
  // `unshare -r`: root of a new user namespace, every capability in CapEff, none over this process's priority.
  const code = `import(${JSON.stringify(new URL('../coordinator/spare_priority.js', import.meta.url).href)}).then((m) => console.log(JSON.stringify({ policy: m.sparePolicy(), proc: m.mayRaiseTo(0) })))`;
  const r = spawnSync('unshare', ['-r', process.execPath, '--input-type=module', '-e', code], { encoding: 'utf8' });
  if (r.error || r.status !== 0) { t.pass(`no user namespaces here (${r.error?.message ?? r.stderr.trim()}): nothing to show`); return; }
  const seen = JSON.parse(r.stdout) as { policy: { on: boolean }; proc: boolean };
  t.true(seen.proc, '/proc says it may (CapEff has CAP_SYS_NICE)');
  t.false(seen.policy.on, 'the throwaway child shows it may not: spares are not lowered');
});
