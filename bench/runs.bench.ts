// (8) Runs: how many real runs a second the sweeps do (explore, explore --all), each against the
// reference model's runs a second on the same scenario in the same process (the headline ratio),
// and where a real run's CPU goes (harness/phases.ts: set-up, agents start, steps, shutdown,
// checks, report; the agents' own CPU apart). Also lockstep steps/s against free-schedule steps/s
// on the 16-process scenario (the steps part of each run only).
//
// Cases: explore of scenarios/fork-cow-purge.yaml (seeds), explore --all of
// race-purge-vs-nonvolatile and of race-two-marks (every reduced schedule), explore of a
// generated 16-process scenario (lockstep and free). The model's rate: seeded random lockstep
// walks of the same scenario through model/ (modelSession), or for --all the enumeration's
// schedules a second.
//
// Run: node dist/bench/runs.bench.js [--json [FILE]] [--quick] [--repeats N]

import { join } from 'node:path';
import { emit, nowMs, parseArgs, summarise, type Row } from './lib.js';
import { scenarioOf } from './harness.js';
import { explore } from '../harness/explore.js';
import { exploreAll } from '../harness/explore_all.js';
import { enumerate } from '../harness/enumerate.js';
import { PhaseClock } from '../harness/phases.js';
import { RunSession } from '../harness/session.js';
import { scenariosDir } from '../harness/command.js';
import { modelSession } from '../model/model.js';
import { loadScenario } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import { Prng } from '../shared/prng.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

/** 16 processes, each maps, writes, marks and reads back its own buffer; the kernel reclaims between. */
function sixteen(): Scenario {
  const processes: Record<string, unknown> = {};
  for (let i = 0; i < 16; i++) {
    processes[`P${i}`] = { sigbus: 'handle', steps: [
      { op: 'mmap', as: 'b', pages: 2 }, { op: 'write', map: 'b', page: 0, value: `p${i}` }, { op: 'write', map: 'b', page: 1, value: 'x' },
      { op: 'vrange', map: 'b', page: 0, pages: 2, mode: 'volatile' }, { op: 'vrange', map: 'b', page: 0, pages: 2, mode: 'nonvolatile' },
      { op: 'read', map: 'b', page: 0 },
    ] };
  }
  return scenarioOf({ name: 'bench-sixteen', memory: { frames: 48 }, processes, kernel: [{ op: 'reclaim', pages: 8 }, { op: 'reclaim', all: true }] });
}

/** Seeded random lockstep walks through the reference model: runs a second. */
function modelRuns(s: Scenario, config: RunConfig, ms: number): number {
  const t0 = nowMs();
  let n = 0;
  while (nowMs() - t0 < ms) {
    const m = modelSession(s, { ...config, seed: n });
    const r = new Prng(n, 'schedule');
    for (let guard = 0; guard < 100_000; guard++) {
      const en = m.enabled();
      if (en.length === 0) break;
      m.apply(en[r.below(en.length)]!);
    }
    m.finish();
    n++;
  }
  return n / ((nowMs() - t0) / 1000);
}

interface Sweep { runsPerS: number; wallMs: number; runs: number; phases: PhaseClock; firstMs: number; steadyPerS: number }

/** The end time of each run (the sweeps' progress callback): the first run's time (the agents start) and the rate after it. */
function ends(): { progress: () => void; first: (t0: number) => number; steady: () => number } {
  const at: number[] = [];
  return {
    progress: () => { at.push(nowMs()); },
    first: (t0) => (at[0] ?? nowMs()) - t0,
    steady: () => (at.length < 2 ? 0 : (at.length - 1) / ((at[at.length - 1]! - at[0]!) / 1000)),
  };
}

async function exploreSweep(file: string, s: Scenario, config: RunConfig, runs: number): Promise<Sweep> {
  const phases = new PhaseClock();
  const t0 = nowMs();
  const session = new RunSession();
  const e = ends();
  const r = await explore({ file, scenario: s, base: config, runs, faultSpecs: [], checkDeterminism: false, shrink: false, phases, session, progress: e.progress });
  phases.mark('between runs');
  phases.agentsNow(session.agentPids());
  await session.close();
  const wallMs = nowMs() - t0; // the session's start and close included
  const bad = r.runs.filter((x) => x.outcome !== 'ok');
  if (bad.length) throw new Error(`bench explore of ${s.name}: ${bad.length} run(s) not ok: ${bad[0]!.outcome}`);
  return { runsPerS: r.runs.length / (wallMs / 1000), wallMs, runs: r.runs.length, phases, firstMs: e.first(t0), steadyPerS: e.steady() };
}

async function allSweep(file: string, s: Scenario, config: RunConfig): Promise<Sweep & { modelMs: number }> {
  const phases = new PhaseClock();
  const t0 = nowMs();
  const session = new RunSession();
  const e = ends();
  const r = await exploreAll(file, s, config, 100_000, e.progress, phases, session);
  phases.mark('between runs');
  phases.agentsNow(session.agentPids());
  await session.close();
  const wallMs = nowMs() - t0; // the session's start and close included
  if (r.problems.length) throw new Error(`bench explore --all of ${s.name}: ${r.problems[0]}`);
  return { runsPerS: r.ran / (wallMs / 1000), wallMs, runs: r.ran, phases, firstMs: e.first(t0), steadyPerS: e.steady(), modelMs: phases.parts.get('model enumeration')?.wallMs ?? 0 };
}

/** CPU ms per run of each part, as a row's extras. */
function split(ph: PhaseClock, runs: number): Record<string, number> {
  const out: Record<string, number> = {};
  // "checks (history check)" -> checksHistoryCpuMs: the part's first word and the first word in its brackets.
  for (const [k, v] of ph.parts) {
    const m = /^(\S+)(?: .*?\((\S+?)[ ,)])?/.exec(k.replace(/[^A-Za-z ,()]/g, ''))!;
    out[`${m[1]}${m[2] ? m[2][0]!.toUpperCase() + m[2].slice(1) : ''}CpuMs`] = Math.round((v.cpuMs / runs) * 10) / 10;
  }
  return out;
}

async function main(): Promise<void> {
  const args = parseArgs();
  const repeats = args.repeats ?? (args.quick ? 1 : 3);
  const rows: Row[] = [];
  const splits: Array<[string, PhaseClock, number]> = [];

  const fcpFile = join(scenariosDir, 'fork-cow-purge.yaml');
  const fcp = loadScenario(fcpFile);
  const fcpConfig = runConfigFor(fcp, { seed: 1, schedule: 'lockstep' });
  const fcpModel = modelRuns(fcp, fcpConfig, 1000);
  const fcpRuns: Sweep[] = [];
  for (let i = 0; i < repeats; i++) fcpRuns.push(await exploreSweep(fcpFile, fcp, fcpConfig, args.quick ? 15 : 40));
  const fcpS = summarise(fcpRuns.map((x) => x.runsPerS));
  rows.push({ name: 'explore fork-cow-purge (seeds)', unit: 'runs/s', summary: fcpS, ratio: fcpS.median / fcpModel, against: `model ${Math.round(fcpModel)} runs/s`,
    extra: { runs: fcpRuns[0]!.runs, firstRunMs: Math.round(fcpRuns[0]!.firstMs), afterFirstRunsPerS: Math.round(fcpRuns[0]!.steadyPerS * 10) / 10, ...split(fcpRuns[0]!.phases, fcpRuns[0]!.runs) } });
  splits.push(['fork-cow-purge', fcpRuns[0]!.phases, fcpRuns[0]!.runs]);

  for (const name of ['race-purge-vs-nonvolatile', 'race-two-marks']) {
    const file = join(scenariosDir, `${name}.yaml`);
    const s = loadScenario(file);
    const config = runConfigFor(s, { seed: 1, schedule: 'lockstep' });
    const t0 = nowMs();
    const e = enumerate(s, config, 100_000);
    const modelRate = e.all / ((nowMs() - t0) / 1000);
    const sweeps: Array<Sweep & { modelMs: number }> = [];
    for (let i = 0; i < repeats; i++) sweeps.push(await allSweep(file, s, config));
    const sum = summarise(sweeps.map((x) => x.runsPerS));
    rows.push({ name: `explore --all ${name}`, unit: 'runs/s', summary: sum, ratio: sum.median / modelRate, against: `model ${Math.round(modelRate)} schedules/s`,
      extra: { realRuns: sweeps[0]!.runs, firstRunMs: Math.round(sweeps[0]!.firstMs), afterFirstRunsPerS: Math.round(sweeps[0]!.steadyPerS * 10) / 10, schedules: e.all, wallMsMedian: Math.round(summarise(sweeps.map((x) => x.wallMs)).median), ...split(sweeps[0]!.phases, sweeps[0]!.runs) } });
    splits.push([`--all ${name}`, sweeps[0]!.phases, sweeps[0]!.runs]);
  }

  const six = sixteen();
  const stepsPerRun = six.processes.reduce((n, p) => n + p.steps.length, 0) + six.kernel.length;
  for (const schedule of ['lockstep', 'free'] as const) {
    const config = runConfigFor(six, { seed: 1, schedule });
    const model = schedule === 'lockstep' ? modelRuns(six, config, 1000) : undefined;
    const sweeps: Sweep[] = [];
    for (let i = 0; i < repeats; i++) sweeps.push(await exploreSweep('bench-sixteen.json', six, config, args.quick ? 8 : 20));
    const sum = summarise(sweeps.map((x) => x.runsPerS));
    const stepsPerS = summarise(sweeps.map((x) => (stepsPerRun * x.runs) / ((x.phases.parts.get('steps (schedule)')?.wallMs ?? 1) / 1000)));
    rows.push({ name: `explore 16 processes, ${schedule}`, unit: 'runs/s', summary: sum, ...(model ? { ratio: sum.median / model, against: `model ${Math.round(model)} runs/s` } : {}),
      extra: { runs: sweeps[0]!.runs, firstRunMs: Math.round(sweeps[0]!.firstMs), afterFirstRunsPerS: Math.round(sweeps[0]!.steadyPerS * 10) / 10, ...split(sweeps[0]!.phases, sweeps[0]!.runs) } });
    rows.push({ name: `  steps/s while scheduling, 16 processes, ${schedule}`, unit: 'steps/s', summary: stepsPerS });
    splits.push([`16 processes ${schedule}`, sweeps[0]!.phases, sweeps[0]!.runs]);
  }
  const lock = rows.find((r) => r.name.includes('steps/s') && r.name.endsWith('lockstep'))!;
  const free = rows.find((r) => r.name.includes('steps/s') && r.name.endsWith('free'))!;
  free.ratio = free.summary.median / lock.summary.median;
  free.against = 'lockstep steps/s';

  const two = rows.find((r) => r.name.includes('race-two-marks'))!;
  const fcpMet = fcpS.median >= 30;
  const twoMet = (two.extra!.wallMsMedian as number) < 3000;
  emit({ bench: 'runs', what: 'real runs a second of the sweeps, against the reference model on the same scenario',
    goal: `explore fork-cow-purge >= 30 runs/s (${fcpMet ? 'met' : 'not met'}); explore --all race-two-marks < 3 s (${twoMet ? 'met' : 'not met'})`,
    goalMet: fcpMet && twoMet, rows }, args);
  // The CPU split of one sweep of each case, ms per run.
  const out = args.json && !args.jsonFile ? process.stderr : process.stdout;
  for (const [name, ph, runs] of splits) {
    out.write(`   CPU per run, ${name} (${runs} runs):\n`);
    for (const [k, v] of ph.parts) out.write(`     ${k.padEnd(40)} ${(v.cpuMs / runs).toFixed(1).padStart(8)} ms CPU  ${(v.wallMs / runs).toFixed(1).padStart(8)} ms wall\n`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
