// Shrinking a failing run: fewer faults and a shorter schedule that still fail the same way.
//
// Our own delta debugging (Zeller's ddmin), not fast-check: a run is a real multi-process
// execution that cannot be replayed inside fast-check's generators, but it can be replayed
// exactly from two lists the history gives us:
//   - the faults actually injected, each as a fixed spec (`fault` events carry `as`: a random
//     draw becomes `kill:P@N`, `kill:P@N+` or `pause:P@N:MS`);
//   - the lockstep choices (`schedule` events), replayed by replayChooser, which takes the i-th
//     name when it is enabled and the first enabled action otherwise. So every sub-list of the
//     choices is itself a valid schedule, and ddmin may cut anywhere.
// First faults are dropped one at a time, then ddmin cuts the choice list; a candidate is kept
// when its run still breaks one of the things the original broke. Each candidate is a real run;
// shrinkRunsMax bounds them. The result is printed as a one-line `vrange run ... --choices ...`.

import { choiceTokens, parseChoiceToken, scheduleAction } from '../shared/kernel_name.js';
import { runScenario } from './run.js';
import { withSession, type RunSession } from './session.js';
import { replayChooser } from './replay.js';
import { parseFault, type Fault } from './faults.js';
import { judge } from './judge.js';
import { reproduce } from './command.js';
import type { HistoryEvent } from '../coordinator/history.js';
import type { RunConfig, Scenario } from '../shared/scenario-types.js';

/** Most real runs one shrink may spend. */
export const shrinkRunsMax = 200;

export interface ShrinkInput {
  file: string; scenario: Scenario; config: RunConfig; faults: Fault[]; history: HistoryEvent[];
  /** What the original run broke: a candidate must break one of these. */
  broken: string[];
  strict: boolean;
  /** Judge candidates as the original was judged (with faults), even after every fault is dropped. */
  withFaults: boolean;
  /** The run session the candidates run in; default: one of its own, closed at the end. */
  session?: RunSession;
}

export interface ShrinkResult {
  /** Whether the fixed replay of the original failed at all (pauses may not replay exactly). */
  reproduced: boolean;
  runs: number;
  /** The faults the original run injected (fixed specs) and how many choices its schedule made. */
  before: { faults: string[]; choices: number };
  /** The choices as `--choices` takes them (shared/kernel_name.ts choiceTokens). */
  after: { faults: string[]; choices: string[] };
  broken: string[];
  repro: string;
}

const injectedOf = (h: HistoryEvent[]) => [...new Set(h.filter((e) => e.kind === 'fault' && typeof e.as === 'string').map((e) => e.as))];
const choicesOf = (h: HistoryEvent[]) => h.filter((e) => e.kind === 'schedule').map((e) => scheduleAction(e));

export async function shrink(i: ShrinkInput): Promise<ShrinkResult> {
  if (!i.session) return withSession((session) => shrink({ ...i, session }));
  let runs = 0;
  const fails = async (faultSpecs: string[], choices: string[]): Promise<{ broken: string[]; history: HistoryEvent[] } | undefined> => {
    if (runs >= shrinkRunsMax) return undefined;
    runs++;
    const faults = faultSpecs.map((f) => parseFault(f, i.scenario));
    const { report, history } = await runScenario(i.scenario, i.config, { faults, chooser: replayChooser(choices), session: i.session });
    const j = judge(report, history, i.withFaults, i.strict);
    return j.broken.some((b) => i.broken.includes(b)) ? { broken: j.broken, history } : undefined;
  };

  const names = i.scenario.processes.map((p) => p.name);
  let faults = injectedOf(i.history);
  let choices = choicesOf(i.history);
  const before = { faults, choices: choices.length };
  let last = await fails(faults, choices);
  if (!last) {
    return { reproduced: false, runs, before, after: { faults, choices: choiceTokens(choices, names) }, broken: i.broken,
      repro: reproduce(i.file, i.config, i.faults) };
  }

  // 1. Drop faults one at a time, until no single one can go.
  for (let changed = true; changed && faults.length > 0;) {
    changed = false;
    for (let k = 0; k < faults.length; k++) {
      const fewer = faults.filter((_, x) => x !== k);
      const r = await fails(fewer, choices);
      if (r) { faults = fewer; last = r; changed = true; break; }
    }
  }

  // 2. ddmin over the choices.
  let n = 2;
  while (choices.length >= 1 && runs < shrinkRunsMax) {
    const size = Math.ceil(choices.length / n);
    let cut = false;
    for (let start = 0; start < choices.length; start += size) {
      const rest = [...choices.slice(0, start), ...choices.slice(start + size)];
      const r = await fails(faults, rest);
      if (r) { choices = rest; last = r; n = Math.max(n - 1, 2); cut = true; break; }
    }
    if (!cut) {
      if (size <= 1) break;
      n = Math.min(n * 2, choices.length);
    }
  }

  // 3. Trailing choices that name the first enabled action are what the replay does anyway.
  const taken = last.history.filter((e) => e.kind === 'schedule');
  while (choices.length > 0) {
    const k = choices.length - 1;
    const ev = taken[k];
    // The event names actions as --choices does (`kernel`, or `@kernel` when a process takes the word).
    if (!ev || scheduleAction(ev) !== choices[k] || (ev.options?.[0] !== undefined ? parseChoiceToken(String(ev.options[0]), names) : scheduleAction(ev)) !== choices[k]) break;
    choices = choices.slice(0, k);
  }
  return {
    reproduced: true, runs, before, after: { faults, choices: choiceTokens(choices, names) }, broken: last.broken,
    repro: reproduce(i.file, i.config, faults.map((spec) => ({ spec })), choiceTokens(choices, names)),
  };
}
