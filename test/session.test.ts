// Run sessions (harness/session.ts): agents and the kernel's socket reused across runs. A reused
// agent must hold nothing of an earlier run: run B after A on the same agents gives exactly the
// history of B on fresh agents (time stamps and OS pids aside), for random scenario pairs, with
// real kills among the runs; a whole explore on reused agents gives the report it gives on fresh
// ones; and a session leaves no process behind when it closes.
import test from 'ava';
import fc from 'fast-check';
import { randomScenario } from '../shared/generate.js';
import { runScenario } from '../harness/run.js';
import { RunSession } from '../harness/session.js';
import { explore } from '../harness/explore.js';
import { parseFault } from '../harness/faults.js';
import { loadScenario } from '../shared/scenario.js';
import { endpointOf } from '../shared/lifecycle.js';
import { pidsWithArg } from '../shared/procfs.js';
import { POLICIES } from '../shared/scenario-types.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { configFor, scenarioPath } from './helpers.js';

/** A history without what differs between equal runs: the time stamps and the agents' OS pids. */
const comparable = (h: HistoryEvent[]) => h.map(({ at: _at, ...e }) => (e.kind === 'birth' ? { ...e, osPid: 0 } : e));

test('run B after A on the same agents gives the history of B on fresh agents (random pairs, with real kills)', async (t) => {
  const session = new RunSession();
  try {
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 1000 }),
      fc.constantFrom(...POLICIES), fc.nat(), async (seedA, seedB, runSeed, policy, killAt) => {
        const a = randomScenario(seedA);
        const b = randomScenario(seedB);
        // A's run kills one of its processes for real (its agent is replaced), then B runs.
        const victim = a.processes[killAt % a.processes.length]!;
        const kill = parseFault(`kill:${victim.name}@${killAt % victim.steps.length}`, a);
        await runScenario(a, configFor(a, { policy, seed: runSeed }), { session, faults: [kill] });
        await runScenario(a, configFor(a, { policy, seed: runSeed + 1 }), { session });
        const reused = await runScenario(b, configFor(b, { policy, seed: runSeed }), { session, checkModel: true });
        const fresh = await runScenario(b, configFor(b, { policy, seed: runSeed }), { checkModel: true });
        t.deepEqual(comparable(reused.history), comparable(fresh.history), `B = random ${seedB} after A = random ${seedA}, ${policy}, seed ${runSeed}`);
        return true;
      }), { numRuns: 6, seed: 13 });
    t.true(session.runs >= 18, 'the runs went through the session');
  } finally {
    await session.close();
  }
});

test('a whole explore on reused agents gives the report it gives on fresh ones (seeds, and every kill)', async (t) => {
  const file = scenarioPath('race-purge-vs-nonvolatile');
  const s = loadScenario(file);
  const base = configFor(s, { seed: 1 });
  const reused = new RunSession();
  try {
    // The reused session has run other scenarios first.
    const other = randomScenario(7);
    await runScenario(other, configFor(other, { seed: 3 }), { session: reused });
    for (const everyKill of [false, true]) {
      const o = { file, scenario: s, base, runs: 4, faultSpecs: [], checkDeterminism: false, everyKill };
      const a = await explore({ ...o, session: reused });
      const b = await explore({ ...o, session: new RunSession({ reuse: false }) });
      t.deepEqual(a, b, everyKill ? '--every-kill' : 'seeds');
      t.true(a.runs.length >= 4);
    }
    t.true(reused.runs > 15);
  } finally {
    await reused.close();
  }
});

test('a session leaves no agent and no run folder behind when it closes', async (t) => {
  const session = new RunSession();
  const s = loadScenario(scenarioPath('fork-cow-purge'));
  await runScenario(s, configFor(s), { session });
  await runScenario(s, configFor(s), { session, faults: [parseFault('kill:B@1', s)] });
  const folder = session.folder!;
  t.true(pidsWithArg(endpointOf(folder)).length >= 2, 'the agents wait between runs');
  await session.close();
  t.deepEqual(pidsWithArg(endpointOf(folder)), []);
  const { existsSync } = await import('node:fs');
  t.false(existsSync(folder));
  await t.throwsAsync(() => runScenario(s, configFor(s), { session }), { message: /closed/ });
});

test('what an agent sent before the hello of its new incarnation is refused; after it, delivered', async (t) => {
  const { AgentConn, AgentHost } = await import('../coordinator/agent_pool.js');
  const { AgentSocket } = await import('../shared/transport.js');
  const { createRunDir, removeRunDir } = await import('../shared/lifecycle.js');
  const dir = createRunDir();
  const host = new AgentHost(dir, true);
  const agent = new AgentSocket(endpointOf(dir), 'agent-9', () => {});
  try {
    await host.bind();
    // The kernel's record of agent-9 after two resets: incarnation 2, no hello yet.
    const conn = new AgentConn('agent-9', host.socket, undefined, 2);
    host.pool.all.set('agent-9', conn);
    const delivered: unknown[] = [];
    host.deliver = (_c, msgs) => { delivered.push(...msgs); };
    agent.connect();
    // The old incarnation's last words, then a hello naming the wrong incarnation: neither is read.
    agent.send({ t: 'done', index: 3, result: { ok: true } });
    await agent.flushed();
    agent.send({ t: 'hello', osPid: 1, incarnation: 1 });
    await agent.flushed();
    agent.send({ t: 'hello', osPid: 1, incarnation: 2 });
    await conn.hello;
    agent.send({ t: 'done', index: 0, result: { ok: true } });
    for (let i = 0; i < 200 && delivered.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    t.deepEqual(delivered, [{ t: 'done', index: 0, result: { ok: true } }]);
    t.is(host.dropped, 2);
    t.true(conn.helloed);
  } finally {
    agent.close();
    host.deliver = undefined;
    await host.close();
    removeRunDir(dir);
  }
});
