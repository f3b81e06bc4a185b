// `vrange quiz --seed S [--answers]`: a small scenario made from a seed, printed as YAML, with the
// steps a student must predict marked Q1, Q2, ... (as the OSTEP simulators do: a seed makes the
// problem, a flag reveals the answer). The answers come from running the scenario on the real
// emulator, each with the rule that explains it (report/explain.ts).
//
// The whole output is a valid scenario file (questions and answers are YAML comments), so
// `vrange quiz --seed 7 > q.yaml && vrange run q.yaml` runs it. Each quiz orders its phases with
// signal/wait (set-up, then one reclaim, then the questions, one process after the other), so the
// answers do not depend on the schedule.

import { Prng } from '../shared/prng.js';
import { parseScenario } from '../shared/scenario.js';
import { runConfigFor } from '../shared/run_config.js';
import { POLICIES, type PolicyName, type RunConfig, type Scenario, type StepResult } from '../shared/scenario-types.js';
import { runScenario } from './run.js';
import type { RunSession } from './session.js';
import { explainRun, shortResult, shortStep } from '../report/explain.js';
import { UsageError } from './command.js';
import { parseCommandArgs } from '../shared/args.js';
import type { HistoryEvent } from '../coordinator/history.js';

type Step = Record<string, unknown>;

export interface Question { label: string; process: string; index: number; step: string }
export interface Answer extends Question { result: StepResult; rules: string[]; why: string[] }
export interface Quiz { seed: number; yaml: string; scenario: Scenario; questions: Question[] }

/** One scenario document, built step by step; `ask` marks the step as the next question. */
class Builder {
  readonly procs: Record<string, { forked?: boolean; steps: Step[] }> = {};
  readonly kernel: Step[] = [];
  private asked = 0;
  proc(name: string, forked = false): Step[] {
    this.procs[name] = { ...(forked ? { forked: true } : {}), steps: [] };
    return this.procs[name]!.steps;
  }
  ask(steps: Step[], step: Step): void { steps.push({ ...step, label: `Q${++this.asked}` }); }
}

function anonQuiz(r: Prng, b: Builder): string {
  const pages = 2 + r.below(2);
  const a = b.proc('A');
  a.push({ op: 'mmap', as: 'buf', pages });
  const start = r.below(pages - 1);
  const len = 1 + r.below(pages - start);
  // The first page of the volatile range is always written: the quiz is about what happens to data.
  const written = Array.from({ length: pages }, (_, p) => p === start || r.below(3) > 0);
  written.forEach((w, p) => { if (w) a.push({ op: 'write', map: 'buf', page: p, value: `a${p}` }); });
  a.push({ op: 'vrange', map: 'buf', page: start, pages: len, mode: 'volatile' });
  const span = len === 1 ? `page ${start}` : `pages ${start}-${start + len - 1}`;
  const w = written.flatMap((x, p) => (x ? [p] : []));
  let story = `A maps ${pages} anonymous pages, writes ${w.length === 1 ? `page ${w[0]}` : `pages ${w.join(', ')}`} and marks ${span} volatile`;
  if (len > 1 && r.below(3) === 0) {
    a.push({ op: 'vrange', map: 'buf', page: start + len - 1, pages: 1, mode: 'nonvolatile' });
    story += `, then takes page ${start + len - 1} back`;
  }
  a.push({ op: 'signal', name: 'ready' }, { op: 'wait', name: 'reclaimed' });
  b.ask(a, { op: 'read', map: 'buf', page: r.below(pages) });
  b.ask(a, { op: 'vrange', map: 'buf', page: start, pages: len, mode: 'nonvolatile' });
  b.ask(a, { op: 'read', map: 'buf', page: start + r.below(len) });
  const reclaim = r.below(3) === 0 ? { op: 'reclaim', pages: 1 } : { op: 'reclaim', all: true };
  b.kernel.push({ op: 'wait', name: 'ready' }, reclaim, { op: 'signal', name: 'reclaimed' });
  return `${story}. The kernel reclaims (${reclaim.all ? 'everything it may' : 'at least 1 frame'}), then A asks.`;
}

function forkQuiz(r: Prng, b: Builder): string {
  const a = b.proc('A');
  const c = b.proc('B', true);
  a.push({ op: 'mmap', as: 'buf', pages: 2 }, { op: 'write', map: 'buf', page: 0, value: 'a0' }, { op: 'write', map: 'buf', page: 1, value: 'a1' });
  a.push({ op: 'vrange', map: 'buf', page: 0, pages: 2, mode: 'volatile' }, { op: 'fork', child: 'B' }, { op: 'wait', name: 'reclaimed' });
  const x = r.below(2);
  const what = r.below(3);
  let story = 'A fills 2 anonymous pages, marks both volatile and forks B';
  if (what === 0) { c.push({ op: 'write', map: 'buf', page: x, value: `b${x}` }); story += `; B writes page ${x} (copy-on-write)`; }
  if (what === 1) { c.push({ op: 'vrange', map: 'buf', page: x, pages: 1, mode: 'nonvolatile' }); story += `; B marks page ${x} nonvolatile`; }
  c.push({ op: 'signal', name: 'b-ready' }, { op: 'wait', name: 'a-done' });
  b.ask(a, { op: 'vrange', map: 'buf', page: 0, pages: 2, mode: 'nonvolatile' });
  b.ask(a, { op: 'read', map: 'buf', page: r.below(2) });
  a.push({ op: 'signal', name: 'a-done' });
  b.ask(c, { op: 'read', map: 'buf', page: r.below(2) });
  b.ask(c, { op: 'vrange', map: 'buf', page: 0, pages: 2, mode: 'nonvolatile' });
  b.kernel.push({ op: 'wait', name: 'b-ready' }, { op: 'reclaim', all: true }, { op: 'signal', name: 'reclaimed' });
  return `${story}. The kernel reclaims everything it may; then A asks, then B.`;
}

function fileQuiz(r: Prng, b: Builder): string {
  const a = b.proc('A');
  const c = b.proc('B');
  const share = r.below(3) === 0 ? 'private' : 'shared';
  const byFd = r.below(3) === 0;
  a.push({ op: 'open', file: 'f' }, { op: 'mmap', as: 'm', fd: 'f', pages: 2 });
  a.push({ op: 'write', map: 'm', page: 0, value: 'f0' }, { op: 'write', map: 'm', page: 1, value: 'f1' });
  if (byFd) b.ask(a, { op: 'fvrange', fd: 'f', page: 0, pages: 2, mode: 'volatile' });
  else b.ask(a, { op: 'vrange', map: 'm', page: 0, pages: 2, mode: 'volatile' });
  a.push({ op: 'signal', name: 'a-ready' }, { op: 'wait', name: 'reclaimed' });
  c.push({ op: 'open', file: 'f' }, { op: 'mmap', as: 'm', fd: 'f', pages: 2, share }, { op: 'wait', name: 'a-ready' });
  const bReads = r.below(2) === 0;
  const bMarks = share === 'shared' && r.below(2) === 0;
  if (bReads) c.push({ op: 'read', map: 'm', page: 0 });
  if (bMarks) c.push({ op: 'vrange', map: 'm', page: 0, pages: 2, mode: 'volatile' });
  c.push({ op: 'signal', name: 'b-ready' }, { op: 'wait', name: 'a-done' });
  b.ask(a, { op: 'read', map: 'm', page: r.below(2) });
  if (byFd) b.ask(a, { op: 'fvrange', fd: 'f', page: 0, pages: 2, mode: 'nonvolatile' });
  else b.ask(a, { op: 'vrange', map: 'm', page: 0, pages: 2, mode: 'nonvolatile' });
  a.push({ op: 'signal', name: 'a-done' });
  b.ask(c, { op: 'read', map: 'm', page: r.below(2) });
  b.kernel.push({ op: 'wait', name: 'b-ready' }, { op: 'reclaim', all: true }, { op: 'signal', name: 'reclaimed' });
  return `A writes both pages of file f through a shared mapping and marks them volatile with ${byFd ? 'fvrange' : 'vrange'}; `
    + `B maps f ${share}${bReads ? ', reads page 0' : ''}${bMarks ? ' and marks it volatile with vrange' : ''}. The kernel reclaims everything it may; then A asks, then B.`;
}

/** YAML for a scalar: bare when it reads back as the same string. */
function scalar(v: unknown): string {
  if (typeof v === 'string') return /^[a-z][a-z0-9-]*$/i.test(v) && !['true', 'false', 'null', 'yes', 'no', 'on', 'off'].includes(v) ? v : JSON.stringify(v);
  return String(v);
}
const flow = (s: Step) => `{ ${Object.entries(s).map(([k, v]) => `${k}: ${scalar(v)}`).join(', ')} }`;

/** The quiz of a seed: same seed, same quiz, on every machine. */
export function makeQuiz(seed: number): Quiz {
  const r = new Prng(seed, 'quiz');
  const b = new Builder();
  const kind = r.below(3);
  const story = kind === 0 ? anonQuiz(r, b) : kind === 1 ? forkQuiz(r, b) : fileQuiz(r, b);
  const policy: PolicyName | undefined = kind === 2 ? POLICIES[r.below(3)] : undefined;
  const access = r.below(3) === 0 ? 'zero' : 'sigbus';
  const lines = [`name: quiz-${seed}`, 'description: >', `  ${story}`, '  What does each step marked Q1, Q2, ... return?'];
  if (policy) lines.push(`policy: ${policy}`);
  lines.push(`access: ${access}`, 'memory:', '  frames: 16');
  if (kind === 2) lines.push('files:', '  - { name: f, pages: 2 }');
  lines.push('processes:');
  for (const [name, p] of Object.entries(b.procs)) {
    lines.push(`  ${name}:`);
    if (p.forked) lines.push('    forked: true');
    lines.push('    sigbus: handle', '    steps:');
    for (const s of p.steps) lines.push(`      - ${flow(s)}`);
  }
  lines.push('kernel:');
  for (const s of b.kernel) lines.push(`  - ${flow(s)}`);
  const yaml = lines.join('\n') + '\n';
  const scenario = parseScenario(yaml, `quiz-${seed}.yaml`);
  const questions: Question[] = [];
  for (const p of scenario.processes) {
    p.steps.forEach((s, index) => { if (s.label) questions.push({ label: s.label, process: p.name, index, step: shortStep(s) }); });
  }
  questions.sort((x, y) => Number(x.label.slice(1)) - Number(y.label.slice(1)));
  return { seed, yaml, scenario, questions };
}

export function quizConfig(q: Quiz): RunConfig {
  return runConfigFor(q.scenario, { seed: q.seed, schedule: 'lockstep' });
}

/** Runs the quiz on the real emulator; each question's result and the rule behind it. */
export async function answerQuiz(q: Quiz, runSeed = q.seed, session?: RunSession): Promise<{ answers: Answer[]; ok: boolean; history: HistoryEvent[]; interrupted?: string }> {
  const config = { ...quizConfig(q), seed: runSeed };
  const { report, history } = await runScenario(q.scenario, config, { checkModel: true, session, repro: `vrange quiz --seed ${q.seed} --answers` });
  const explained = explainRun(q.scenario, config, history);
  const answers = q.questions.map((x) => {
    const rec = report.steps.find((s) => s.process === x.process && s.index === x.index);
    const e = explained.get(`${x.process}#${x.index}`);
    return { ...x, result: rec?.result ?? { ok: false, notRun: true }, rules: e?.rules ?? [], why: e?.why ?? [] };
  });
  return { answers, ok: report.ok, history, ...(report.interrupted ? { interrupted: report.interrupted } : {}) };
}

export async function quizCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('quiz', args, { seed: { type: 'string', value: `a whole number from 0 to ${2 ** 31 - 1}` }, answers: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`quiz takes no FILE, got ${positionals.map((p) => JSON.stringify(p)).join(', ')}`);
  if (values.seed !== undefined && (!/^\d+$/.test(values.seed) || Number(values.seed) > 2 ** 31 - 1)) {
    throw new UsageError(`--seed: "${values.seed}" is not allowed; expected a whole number from 0 to ${2 ** 31 - 1}`);
  }
  const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  const q = makeQuiz(seed);
  const out: string[] = [`# vrange quiz --seed ${seed}: what does each step marked Q1..Q${q.questions.length} return?`];
  out.push(`# ${q.scenario.policy ? `policy ${q.scenario.policy}, ` : ''}access ${q.scenario.access ?? 'sigbus'}; the output is a scenario: save it and \`vrange run\` it.`);
  for (const x of q.questions) out.push(`#   ${x.label}  ${x.process} #${x.index}  ${x.step}`);
  if (!values.answers) out.push(`# answers: vrange quiz --seed ${seed} --answers`);
  process.stdout.write(out.join('\n') + '\n' + q.yaml);
  if (!values.answers) return 0;
  const { answers, ok, interrupted } = await answerQuiz(q);
  // Stopped by SIGINT/SIGTERM: no answers rather than wrong ones (the exit code is set by cli.ts).
  if (interrupted) { process.stdout.write(`# INTERRUPTED by ${interrupted}: the run was stopped, no answers\n`); return 1; }
  const lines = ['# answers (run on the real emulator, lockstep, seed ' + seed + '):'];
  for (const a of answers) {
    lines.push(`#   ${a.label}  ${a.process} #${a.index}  ${a.step}  ->  ${shortResult(a.result)}`);
    for (const w of a.why) lines.push(`#         ${w}`);
  }
  if (!ok) lines.push('# the run did not pass its invariants: this is a bug in vrange, please report it');
  process.stdout.write(lines.join('\n') + '\n');
  return ok ? 0 : 1;
}
