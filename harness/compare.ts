// `vrange compare FILE`: the scenario under every policy, same seed, on the real emulator; a table
// of every step whose result differs, one column per policy, each answer with the rule that made
// it (report/explain.ts). The thread's argument, as a table: the three proposals, then what Linux
// merged (madv-free) behind a bar, and each row says whether the proposals disagree among
// themselves or only with what was merged.
//
// With lockstep, the same seed draws the same choices; once the runs diverge (a process dies in
// one policy and not in another) the enabled actions differ and so may the rest of the schedule.
// Steps are matched by process and index, not by position in the run.

import { runScenario } from './run.js';
import { withSession, type RunSession } from './session.js';
import { parseRun, reproduce, UsageError } from './command.js';
import { explainRun, shortResult, shortStep, type Explanation } from '../report/explain.js';
import { POLICIES, type PolicyName, type RunConfig, type Scenario, type StepResult } from '../shared/scenario-types.js';
import type { Fault } from './faults.js';
import { interrupted, type StopSignal } from '../shared/lifecycle.js';
import { terminalLines, printableJson } from '../shared/printable.js';
import { KERNEL_ACTION, KERNEL_NAME, kernelMark, ownerLabel, scenarioStep, stepKey } from '../shared/kernel_name.js';
import { failureLine } from '../report/report.js';

/** At most this many reasons in a run's `why` (compare --json). */
const compareWhyMax = 5;

export interface PolicyAnswer { result: StepResult | null; rules: string[]; why: string[] }

export interface CompareRow {
  /** `kernel: true` on a step of the kernel list (`process` is then "kernel", which a process may be named too). */
  process: string; index: number; kernel?: true; step: string; label?: string; answers: Record<PolicyName, PolicyAnswer>;
  /** The proposals that ran gave the same answer: the row differs only from what Linux merged (madv-free). */
  proposalsAgree: boolean;
}

/** What Linux merged, beside the three proposals. */
export const MERGED: PolicyName = 'madv-free';

export interface CompareResult {
  scenario: string;
  seed: number;
  schedule: string;
  policies: readonly PolicyName[];
  /** Steps that completed in at least one run. */
  steps: number;
  /** Only the steps whose result differs between policies. */
  differing: CompareRow[];
  /** Of `differing`: rows where the proposals disagree among themselves (the rest differ only from madv-free). */
  amongProposals: number;
  /** Each policy's run: its verdict, the expectations that failed and the invariants that broke. */
  runs: Record<PolicyName, { ok: boolean; failures: number; broken: string[]; why?: string[] }>;
  /** SIGINT/SIGTERM stopped the runs: `policies` are those whose run ended before it. */
  interrupted?: StopSignal;
}

/** Runs `scenario` under each policy with `base`'s other options and seed, and compares. */
export async function compare(scenario: Scenario, base: Omit<RunConfig, 'policy'>, faults: Fault[] = [], session?: RunSession): Promise<CompareResult> {
  if (!session) return withSession((ss) => compare(scenario, base, faults, ss));
  const results = new Map<PolicyName, Map<string, StepResult>>();
  const explained = new Map<PolicyName, Map<string, Explanation>>();
  const order: string[] = [];
  const runs = {} as CompareResult['runs'];
  const done: PolicyName[] = [];
  for (const policy of POLICIES) {
    if (interrupted()) break;
    const config: RunConfig = { ...base, policy };
    const { report, history } = await runScenario(scenario, config, { faults, checkModel: config.schedule === 'lockstep' && faults.length === 0, session,
      repro: reproduce(scenario.file, config, faults) });
    if (report.interrupted) break;
    done.push(policy);
    const byStep = new Map<string, StepResult>();
    for (const s of report.steps) {
      const k = stepKey(s, s.index);
      byStep.set(k, s.result);
      if (!order.includes(k)) order.push(k);
    }
    results.set(policy, byStep);
    explained.set(policy, explainRun(scenario, config, history));
    const broken = report.invariants.filter((i) => !i.ok);
    // A run that is not ok says why (the first few failed expectations and broken invariants), so a
    // reader of --json, or a test that fails, sees the reason and not only `ok: false`.
    const why = [...report.failures.map((f) => failureLine(f, scenario.processes.map((p) => p.name))), ...broken.map((i) => `invariant ${i.name}${i.detail ? `: ${i.detail}` : ''}`)].slice(0, compareWhyMax);
    runs[policy] = { ok: report.ok, failures: report.failures.length, broken: broken.map((i) => i.name), ...(report.ok ? {} : { why }) };
  }
  const differing: CompareRow[] = [];
  for (const k of order) {
    const answers = done.map((p) => results.get(p)!.get(k) ?? null);
    const first = JSON.stringify(answers[0]);
    if (answers.every((a) => JSON.stringify(a) === first)) continue;
    const [key, idx] = k.split('#') as [string, string];
    const index = Number(idx);
    const kernel = key === KERNEL_ACTION;
    const process = kernel ? KERNEL_NAME : key;
    const step = scenarioStep(scenario, { process, kernel }, index)!;
    const proposals = done.flatMap((p, i) => (p === MERGED ? [] : [JSON.stringify(answers[i])]));
    const row: CompareRow = { process, index, ...kernelMark(kernel), step: shortStep(step), answers: {} as CompareRow['answers'], proposalsAgree: new Set(proposals).size <= 1 };
    if (step.label) row.label = step.label;
    done.forEach((p, i) => {
      const x = explained.get(p)!.get(k);
      row.answers[p] = { result: answers[i]!, rules: x?.rules ?? [], why: x?.why ?? [] };
    });
    differing.push(row);
  }
  const stopped = interrupted();
  return { scenario: scenario.name, seed: base.seed, schedule: base.schedule, policies: done, steps: order.length, differing,
    amongProposals: differing.filter((r) => !r.proposalsAgree).length, runs,
    ...(stopped ? { interrupted: stopped } : {}) };
}

/** The table a student reads: two or more lines per differing step (the answers, then the rules), one column per policy. */
/** `processNames`: the scenario's (a kernel-list row is `kernel`, or `@kernel` when a process has that name). */
export function compareTable(c: CompareResult, processNames: readonly string[]): string[] {
  const lines = [`compare ${c.scenario}: seed ${c.seed}, schedule ${c.schedule}, policies ${c.policies.join(', ')}`];
  const merged = c.policies.includes(MERGED) && c.policies.length > 1;
  lines.push(`${c.differing.length} of ${c.steps} step(s) differ between policies${merged && c.differing.length
    ? `: ${c.amongProposals} among the proposals, ${c.differing.length - c.amongProposals} only between the proposals and ${MERGED} (marked *)` : ''}`);
  if (c.differing.length > 0) {
    const head = (r: CompareRow) => `${merged && r.proposalsAgree ? '*' : ' '}${ownerLabel(r, processNames)} #${r.index} ${r.step}`;
    const cells = (r: CompareRow, p: PolicyName) => [shortResult(r.answers[p].result), ...(r.answers[p].rules.length ? r.answers[p].rules : ['-']).map((x) => `  ${x}`)];
    const stepW = Math.max(4, ...c.differing.map((r) => Math.max(head(r).length, r.label ? r.label.length + 4 : 0)));
    const colW = c.policies.map((p) => Math.max(p.length, ...c.differing.flatMap((r) => cells(r, p).map((x) => x.length))));
    // What Linux merged stands behind a bar: the three proposals first, then madv-free.
    const sep = (i: number) => (i > 0 && c.policies[i] === MERGED ? ' | ' : '  ');
    const line = (xs: string[]) => xs.map((x, i) => (i === 0 ? '' : sep(i - 1)) + x.padEnd(i === 0 ? stepW : colW[i - 1]!)).join('').trimEnd();
    lines.push('');
    if (merged) lines.push(line(['', ...c.policies.map((p) => (p === MERGED ? 'merged' : p === c.policies[0] ? 'proposals' : ''))]));
    lines.push(line([' step', ...c.policies]));
    for (const r of c.differing) {
      const cols = c.policies.map((p) => cells(r, p));
      const left = [head(r), ...(r.label ? [`  (${r.label})`] : [])];
      const height = Math.max(left.length, ...cols.map((x) => x.length));
      for (let i = 0; i < height; i++) lines.push(line([left[i] ?? '', ...cols.map((x) => x[i] ?? '')]));
    }
    if (c.differing.some((r) => c.policies.some((p) => Array.isArray(r.answers[p].result?.pages)))) lines.push('', 'query pages: page:RVP, R resident, V volatile, P purged, - not');
    lines.push('', 'why:');
    // Policies whose explanations are the same are named together (with four columns, the three proposals often agree).
    for (const r of c.differing) {
      const groups = new Map<string, PolicyName[]>();
      for (const p of c.policies) {
        const k = JSON.stringify(r.answers[p].why);
        groups.set(k, [...(groups.get(k) ?? []), p]);
      }
      for (const [k, ps] of groups) for (const w of JSON.parse(k) as string[]) lines.push(`  ${ownerLabel(r, processNames)} #${r.index} under ${ps.join(', ')}: ${w}`);
    }
  }
  lines.push('');
  for (const p of c.policies) {
    const run = c.runs[p];
    lines.push(`run under ${p}: ${run.ok ? 'PASS' : 'FAIL'}${run.failures ? `, ${run.failures} expectation(s) failed` : ''}${run.broken.length ? `, invariants broken: ${run.broken.join(', ')}` : ''}`);
    for (const w of run.why ?? []) lines.push(`  ${w}`);
  }
  if (c.interrupted) lines.push(`INTERRUPTED by ${c.interrupted}: ${c.policies.length} of ${POLICIES.length} policies ran (${c.policies.join(', ') || 'none'}); the run under way was stopped and is not compared`);
  return lines;
}

const refused = ['--policy', '--runs', '--check-determinism', '--trace', '--html', '--check-model'];

/** The `compare` command: exit 0 when no run broke an invariant, 1 otherwise, 2 on bad input. */
export async function compareCommand(args: string[]): Promise<number> {
  for (const a of args) {
    const flag = a.split('=')[0]!;
    if (refused.includes(flag)) throw new UsageError(`${flag} does not go with compare (it runs every policy, each checked against the model)`);
  }
  const cmd = parseRun(args, 'compare');
  const { policy: _policy, ...base } = cmd.config;
  const result = await compare(cmd.scenario, base, cmd.faults);
  if (cmd.json) process.stdout.write(printableJson(result, 2) + '\n');
  else process.stdout.write(terminalLines(compareTable(result, cmd.scenario.processes.map((p) => p.name))) + '\n');
  return result.policies.some((p) => result.runs[p].broken.length > 0) ? 1 : 0;
}
