// The environment an agent starts with (coordinator/agent_pool.ts agentEnv).
import test from 'ava';
import { readFileSync } from 'node:fs';
import { agentEnv, agentEnvDropped } from '../coordinator/agent_pool.js';
import type { Kernel } from '../coordinator/kernel.js';
import { runScenario } from '../harness/run.js';
import { loadScenario } from '../shared/scenario.js';
import { configFor, scenarioPath } from './helpers.js';

test('an agent starts without NODE_EXTRA_CA_CERTS and with everything else of the kernel\'s environment', (t) => {
  const env = { PATH: '/bin', NODE_EXTRA_CA_CERTS: '/etc/x.pem', VRANGE_X: '1' };
  t.deepEqual(agentEnv(env), { PATH: '/bin', VRANGE_X: '1' });
  t.is(env.NODE_EXTRA_CA_CERTS, '/etc/x.pem', 'the kernel\'s own environment is left alone');
  t.deepEqual([...agentEnvDropped], ['NODE_EXTRA_CA_CERTS']);
});

test('a run\'s agents, read in /proc while they run, have the kernel\'s variables but NODE_EXTRA_CA_CERTS', async (t) => {
  const had = process.env.NODE_EXTRA_CA_CERTS;
  process.env.NODE_EXTRA_CA_CERTS = '/nonexistent/vrange-test.pem'; // an agent that read it would warn on stderr too
  process.env.VRANGE_ENV_PROBE = 'kept';
  try {
    const s = loadScenario(scenarioPath('fork-cow-purge'));
    let kernel: Kernel | undefined;
    const seen: string[][] = [];
    const { report } = await runScenario(s, configFor(s, { seed: 1 }), {
      onKernel: (k) => {
        kernel = k;
        k.addObserver({ event: (e) => {
          if (e.kind !== 'complete' || seen.length >= 8) return;
          for (const p of kernel!.procs) {
            const pid = p.live ? p.agent?.child?.pid : undefined;
            if (pid === undefined) continue;
            try { seen.push(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')); } catch { /* just ended */ }
          }
        } });
      },
    });
    t.true(report.ok);
    t.true(seen.length > 0, 'agents were looked at while they ran');
    for (const env of seen) {
      t.false(env.some((v) => v.startsWith('NODE_EXTRA_CA_CERTS=')));
      t.true(env.includes('VRANGE_ENV_PROBE=kept'));
    }
  } finally {
    if (had === undefined) delete process.env.NODE_EXTRA_CA_CERTS; else process.env.NODE_EXTRA_CA_CERTS = had;
    delete process.env.VRANGE_ENV_PROBE;
  }
});
