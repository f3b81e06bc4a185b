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
import { loadScenario } from '../shared/scenario.js';
import { statFieldsOf } from '../shared/procfs.js';
import { configFor, scenarioPath } from './helpers.js';

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

test('a run\'s spares wait at nice 19 and its processes\' agents run, every thread, at the kernel\'s nice value', async (t) => {
  if (process.platform !== 'linux') { t.false(sparePolicy().on, 'off Linux spares are not lowered'); return; }
  const base = getPriority();
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  let kernel: Kernel | undefined;
  const taken: number[] = [];
  const spares: number[] = [];
  const { report } = await runScenario(s, configFor(s, { seed: 1 }), {
    onKernel: (k) => {
      kernel = k;
      k.addObserver({ event: (e) => {
        if (e.kind !== 'complete') return;
        for (const c of (kernel as unknown as { host: AgentHost }).host.pool.all.values()) {
          const pid = c.child?.pid;
          if (!c.alive || pid === undefined || !c.helloed) continue;
          if (c.proc) { for (const tid of threadsOf(pid)) { const n = niceOf(tid, pid); if (n !== undefined) taken.push(n); } }
          else { const n = niceOf(pid, pid); if (n !== undefined) spares.push(n); }
        }
      } });
    },
  });
  t.true(report.ok);
  t.true(taken.length > 10, `the threads of taken agents were read (${taken.length})`);
  t.true(spares.length > 0, `spares were read (${spares.length})`);
  t.deepEqual([...new Set(taken)], [base], 'every thread of an agent that runs a process has the kernel\'s nice value');
  t.deepEqual([...new Set(spares)], [sparePolicy().on ? spareNice : base], sparePolicy().on ? 'a spare waits at nice 19' : 'spares are not lowered when they could not be raised again');
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
  if (process.platform === 'linux') t.is(policyIn({}).on, mayRaiseTo(getPriority()), 'otherwise on exactly when a taken agent could be raised again');
});
