// Reports: the narrated text a student reads line by line as the run goes, and the JSON document
// of ../shared/spec/scenario-format.md. Both are built from the history's events.

import type { DecisionVote, EventOf, HistoryEvent } from '../coordinator/history.js';
import { printable, printableJson } from '../shared/printable.js';
import type { Kernel, StepRecord } from '../coordinator/kernel.js';
import { expectationFor, type Failure } from '../checker/expectations.js';
import type { InvariantResult } from '../checker/invariants.js';
import type { KernelStep, ProcessStep, RunConfig, Scenario, StepResult } from '../shared/scenario-types.js';
import type { MapperVote } from '../shared/policy.js';
import { isKernelStep, KERNEL_ACTION, KERNEL_NAME, kernelMark, ownerLabel, stepKey } from '../shared/kernel_name.js';

export interface RunReport {
  scenario: string;
  policy: string;
  access: string;
  purgeUnit: string;
  schedule: string;
  seed: number;
  ok: boolean;
  /** The run was stopped by this signal before it ended (the report holds what ran so far; ok is false). */
  interrupted?: 'SIGINT' | 'SIGTERM' | 'SIGHUP';
  steps: StepRecord[];
  failures: Failure[];
  /**
   * Expectations on steps that never ran, in a run where faults were injected: not judged (a
   * killed process may be the one whose steps they are), listed so that nothing passes unseen.
   */
  notJudged: Failure[];
  invariants: InvariantResult[];
  kernel: {
    frames: { total: number; used: number };
    purgedPages: number;
    files: Array<{ name: string; open: number; mapped: number; volatile: Array<[number, number]> }>;
    /** `outside: true`: killed by a signal from outside vrange (a `kill -9` of its agent), as the history's `cleanup` says. */
    processes: Array<{ name: string; pid?: number; state: string; exitCode?: number; signal?: string; outside?: true }>;
  };
}

/** `failures`: what the run's expectation checker (checker/expectations.ts) recorded. */
export function buildReport(k: Kernel, failures: Failure[], invariants: InvariantResult[], interrupted?: 'SIGINT' | 'SIGTERM' | 'SIGHUP', notJudged: Failure[] = []): RunReport {
  return {
    scenario: k.scenario.name, policy: k.config.policy, access: k.config.access, purgeUnit: k.config.purgeUnit,
    schedule: k.config.schedule, seed: k.config.seed,
    ok: interrupted === undefined && failures.length === 0 && invariants.every((i) => i.ok),
    ...(interrupted ? { interrupted } : {}),
    steps: k.steps, failures, notJudged, invariants,
    kernel: {
      frames: { total: k.frames.total, used: k.frames.used },
      purgedPages: k.purgedPages,
      files: k.files.filter((f) => f.kind !== 'shmem').map((f) => k.fileSummary(f)),
      processes: k.procs.map((p) => ({
        name: p.name,
        ...(p.state !== 'unborn' ? { pid: p.pid } : {}),
        state: p.state,
        ...(p.exitCode !== undefined ? { exitCode: p.exitCode } : {}),
        ...(p.signal !== undefined ? { signal: p.signal } : {}),
        ...(p.killedOutside ? { outside: true as const } : {}),
      })),
    },
  };
}

/** Where a step is in the scenario file, as the loader names it: `processes.H.steps[5]`, `kernel[2]`. */
export function stepPath(x: { process: string; kernel?: true }, index: number): string {
  return isKernelStep(x) ? `kernel[${index}]` : `processes.${x.process}.steps[${index}]`;
}

/**
 * Every expectation under this policy on a step that never reported a result: nothing judged it.
 * A step has an expectation when it has an `expect` that applies to the policy (a `byPolicy` with
 * neither this policy nor `default`, and no fields of its own, has none), even an empty one; a
 * kernel `check` always has one (it is an assertion). `why` says how far the process got.
 */
export function neverRan(k: Kernel): Array<Failure & { ran: false; why: string }> {
  const ran = new Set(k.steps.map((s) => stepKey(s, s.index)));
  const out: Array<Failure & { ran: false; why: string }> = [];
  // Keyed by stepKey's owner: `@kernel` for the kernel list, never a process's name.
  const lastRun = new Map<string, StepRecord>();
  const owner = (s: { process: string; kernel?: true }) => (isKernelStep(s) ? KERNEL_ACTION : s.process);
  for (const s of k.steps) if ((lastRun.get(owner(s))?.index ?? -1) < s.index) lastRun.set(owner(s), s);
  const stopped = k.violations.some((v) => v.name === 'run-completed');
  const why = (name: string, kernel: boolean): string => {
    if (stopped) return 'the run did not complete';
    const last = lastRun.get(kernel ? KERNEL_ACTION : name);
    const who = kernel ? "the kernel's list" : name;
    if (last?.result.stuck) return `${who} was stuck at step ${last.index}`;
    if (kernel) return `the kernel's list stopped ${last ? `after step ${last.index}` : 'before its first step'}`;
    const p = k.procs.find((q) => q.name === name)!;
    const at = !last ? 'before its first step' : `${last.result.ok && last.op !== 'exit' ? 'after' : 'at'} step ${last.index}`;
    if (p.state === 'unborn') return p.spec.forked ? `${name} was never forked` : `${name} never started`;
    if (p.state === 'killed') return `${name} was killed by ${p.signal}${p.killedOutside ? ' from outside vrange' : ''} ${at}`;
    if (p.state === 'exited') return `${name} exited with code ${p.exitCode ?? 0} ${at}`;
    return `${name} did not get there: it stopped ${at}`;
  };
  const judge = (process: string, steps: Array<ProcessStep | KernelStep>, kernel: boolean) => {
    steps.forEach((step, index) => {
      if (ran.has(stepKey({ process, kernel }, index))) return;
      const expected = appliesTo(step, k.config.policy) ? expectationFor(step, k.config.policy)! : step.op === 'check' ? { ok: true } : undefined;
      if (expected) out.push({ process, index, expected, ran: false, why: why(process, kernel), ...kernelMark(kernel) });
    });
  };
  for (const p of k.scenario.processes) judge(p.name, p.steps, false);
  judge(KERNEL_NAME, k.scenario.kernel, true);
  return out;
}

/** The step's `expect` says something under this policy: fields of its own, or a `byPolicy` entry for it (or `default`). */
function appliesTo(step: ProcessStep | KernelStep, policy: string): boolean {
  if (!step.expect) return false;
  const { byPolicy, ...base } = step.expect;
  if (!byPolicy || Object.keys(base).length > 0) return true;
  const per: Partial<Record<string, unknown>> = byPolicy;
  return per[policy] !== undefined || per.default !== undefined;
}

/**
 * One line for a failed expectation. `processNames`: the scenario's, so that a kernel-list step is
 * `kernel step N`, or `@kernel step N` when a process is named `kernel` (shared/kernel_name.ts ownerLabel).
 */
export function failureLine(f: Failure, processNames: readonly string[]): string {
  return f.ran === false
    ? `${stepPath(f, f.index)}: expected ${printableJson(f.expected)}, but the step never ran (${f.why})`
    : `${ownerLabel(f, processNames)} step ${f.index}: expected ${printableJson(f.expected)}, got ${printableJson(f.actual)}`;
}

/** The scenario's process names as a report has them (every process, born or not). */
export const reportProcessNames = (r: RunReport): string[] => r.kernel.processes.map((p) => p.name);

// ---------------------------------------------------------------- narration

const SKIP = new Set(['op', 'expect', 'label']);

export function describeStep(step: { op: string }): string {
  const fields = Object.entries(step).filter(([k]) => !SKIP.has(k)).map(([k, v]) => `${k}=${printableJson(v)}`);
  return `${step.op}${fields.length ? ' ' + fields.join(' ') : ''}`;
}

export function describeResult(r: StepResult): string {
  if (r.stuck) return 'STUCK: waits for something that can no longer happen';
  if (r.signal && !r.ok) return r.signal === 'SIGKILL' ? 'SIGKILL: the process was killed during this step' : `${r.signal as string}`;
  if (r.errno) return `error ${r.errno as string}`;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(r)) {
    if (k === 'ok') continue;
    if (k === 'pages' && Array.isArray(v)) {
      parts.push('pages ' + pagesText(v as QueryPage[]) + ' (R resident, V volatile, P purged)');
    } else if (k === 'mismatches') {
      parts.push('MISMATCH ' + (v as Array<{ field: string; expected: unknown; actual: unknown }>).map((m) =>
        `${m.field}: expected ${printableJson(m.expected)}, found ${printableJson(m.actual)}`).join('; '));
    } else parts.push(`${k}=${printableJson(v)}`);
  }
  return (r.ok ? 'ok' : 'failed') + (parts.length ? ' ' + parts.join(' ') : '');
}

type QueryPage = { page: number; resident: boolean; volatile: boolean; purged: boolean };
/** A query result's pages beyond this are told as runs (`0-4095:---`), at most this many runs. */
const queryPagesTold = 64;

/** `0:R-- 1:---`; a long result as runs of consecutive pages in the same state, so that a line stays short. */
function pagesText(pages: QueryPage[]): string {
  const st = (p: QueryPage) => `${p.resident ? 'R' : '-'}${p.volatile ? 'V' : '-'}${p.purged ? 'P' : '-'}`;
  if (pages.length <= queryPagesTold) return pages.map((p) => `${p.page}:${st(p)}`).join(' ');
  const runs: Array<[number, number, string]> = [];
  for (const p of pages) {
    const last = runs[runs.length - 1];
    if (last && last[1] + 1 === p.page && last[2] === st(p)) last[1] = p.page; else runs.push([p.page, p.page, st(p)]);
  }
  const told = runs.slice(0, queryPagesTold).map(([a, b, s]) => (a === b ? `${a}:${s}` : `${a}-${b}:${s}`)).join(' ');
  return runs.length > queryPagesTold ? `${told} ... (${runs.length - queryPagesTold} more runs of ${pages.length} pages)` : told;
}

/** Each mapper's part in a decision, in words; only what the policy looked at. */
function votesText(e: EventOf<'decision'>, names: Map<number, string>): string[] {
  const votes: MapperVote[] = e.votes;
  const who = (v: MapperVote) => names.get(v.pid) ?? `pid ${v.pid}`;
  const mm = (v: MapperVote) => !v.answered ? `${who(v)} did not answer` : `${who(v)} has it ${v.volatile ? 'volatile' : 'not volatile'} in its mm`;
  // madv-free: each mapping's pte, as try_to_unmap_one and folio_referenced see it.
  const pte = (v: DecisionVote) => !v.answered ? `${who(v)} did not answer (counts as dirty)`
    : `${who(v)}'s pte ${v.volatile ? 'clean, marked lazyfree' : 'dirty'}${v.referenced ? ', young' : ''}`;
  if (e.policy === 'madv-free') return e.votes.map(pte);
  if (e.pageKind === 'anon' || e.pageKind === 'shmem') return votes.map(mm);
  if (e.policy === 'per-mm') return votes.map((v) => (v.share === 'private' ? `${who(v)} maps it private` : mm(v)));
  return votes.filter((v) => v.privatePresent).map((v) => `${who(v)} maps it private, not yet copied`);
}

/**
 * One line (or none) of plain words per history event. `names`: the born processes by pid, filled
 * as births go by; `processNames`: the scenario's, so that a kernel-list item is named `kernel`, or
 * `@kernel` when a process has that name (shared/kernel_name.ts ownerLabel).
 */
export function narrate(e: HistoryEvent, names: Map<number, string>, processNames: readonly string[]): string | undefined {
  const pad = (s: string) => s.padEnd(8);
  switch (e.kind) {
    case 'birth':
      names.set(e.pid, e.process);
      return `${pad('kernel')} ${e.process} starts as pid ${e.pid}${e.parent ? `, forked by ${e.parent}` : ''} (OS pid ${e.osPid}${e.host ? ` on ${e.host}, remote agent ${e.agent}` : ''})`;
    case 'agent-connected':
      return `${pad('kernel')} remote agent ${e.agent} connected from ${e.host} (OS pid ${e.osPid})`;
    case 'agent-refused':
      return `${pad('kernel')} REFUSED an agent from ${e.address}: ${e.why}`;
    case 'heartbeat-lost':
      return `${pad('kernel')} remote agent ${e.agent} on ${e.host}${e.process ? ` (${e.process}, pid ${e.pid})` : ''} silent for ${e.silentMs} ms (timeout ${e.timeoutMs} ms): dead`;
    case 'efault':
      return `${pad('kernel')} EFAULT: ${e.process} (pid ${e.pid}) named ${e.frame !== undefined ? `frame ${printableJson(e.frame)} at page ${printableJson(e.vpage)}` : printableJson(e)} in a ${e.call}: ${e.why}`;
    case 'blocked':
      return `${pad(e.process)} #${e.index} waits: its pages are held by reclaim exchange ${e.xid}`;
    case 'reclaim-prepare': {
      const asked = e.asked.map((a) => `${names.get(a.pid) ?? a.pid} about ${a.pages} page(s)`);
      const ask = asked.length ? `asks ${asked.join(', ')} whether these are volatile in their mm (held until the commit)` : 'no mm needs asking';
      return `${pad('reclaim')} exchange ${e.xid} prepare (${e.reason}): ${e.candidates} resident page(s); ${ask}`;
    }
    case 'decision': {
      const votes = votesText(e, names);
      const verb = e.purge ? 'PURGED' : 'kept  ';
      return `${pad('reclaim')} exchange ${e.xid} ${verb} ${e.page}: ${e.why}${votes.length ? ` [${votes.join('; ')}]` : ''} (unit: ${e.unit})`;
    }
    case 'no-answer':
      return `${pad('reclaim')} exchange ${e.xid}: ${e.process} did not answer within ${e.timeoutMs} ms: its ${e.pages} page(s) count as not volatile and are kept`;
    case 'reclaim-commit':
      return `${pad('reclaim')} exchange ${e.xid} commit: freed ${e.freed} frame(s) after trying ${e.unitsTried} unit(s)`;
    case 'oom-kill':
      return `${pad('kernel')} OUT OF MEMORY while ${e.faulting} faulted: nothing purgeable, SIGKILL ${e.process} (${e.why}, ${e.resident} resident page(s))`;
    case 'kill':
      return `${pad('kernel')} sends SIGKILL to ${e.process} (pid ${e.pid})`;
    case 'cleanup': {
      const how = e.signal ? `killed by ${e.signal}${e.outside ? ' from outside vrange (not by the scenario, a --fault or the kernel)' : ''}` : `exited with code ${e.exitCode}`;
      const rel = e.filesReleased.length ? `; final release of ${e.filesReleased.join(', ')}` : '';
      return `${pad('kernel')} ${e.process} ${how}; cleanup freed ${e.framesFreed} frame(s), dropped ${e.pagesUnmapped} page-table entr${e.pagesUnmapped === 1 ? 'y' : 'ies'} and ${e.vmas} mapping(s), closed ${e.fdsClosed} fd(s)${rel}`;
    }
    case 'final-release':
      if (e.fileKind === 'shmem') return undefined;
      return `${pad('kernel')} final release of ${e.file} (${e.fileKind}): no fd and no mapping left, its volatility is cleared${e.framesFreed ? `, ${e.framesFreed} frame(s) freed` : ''}`;
    case 'fault':
      return `${pad('fault')} ${e.fault}: ${e.process} (pid ${e.pid}) ${e.action}`;
    case 'resume':
      return `${pad('fault')} SIGCONT ${e.process}: it runs again`;
    case 'stuck':
      return `${pad(ownerLabel(e, processNames))} step ${e.index} is STUCK: it waits for ${e.waitsFor}, which nothing left can bring about`;
    case 'violation':
      return `!! invariant ${e.name}: ${e.text}`;
    default:
      return undefined;
  }
}

export function stepLine(process: string, index: number, step: { op: string; label?: string }, result: StepResult, expected?: Record<string, unknown>, ok?: boolean): string {
  const who = process.padEnd(8);
  const label = step.label ? ` (${printable(step.label)})` : '';
  let line = `${who} #${index} ${describeStep(step)}${label} -> ${describeResult(result)}`;
  if (expected) line += ok ? '   [as expected]' : `   [EXPECTED ${printableJson(expected)}]`;
  return line;
}

export function header(s: Scenario, c: RunConfig): string[] {
  const lines = [`seed ${c.seed}`, `scenario ${s.name} (${s.file})`];
  if (s.description) lines.push(...s.description.trim().split('\n').map((l) => `  ${l}`));
  // madv-free ignores access and purge unit (docs/scenario-format.md, "The madv-free policy").
  const unused = c.policy === 'madv-free' ? ` (not used by madv-free: access ${c.access}, purge unit ${c.purgeUnit})` : `, access ${c.access}, purge unit ${c.purgeUnit}`;
  lines.push(`policy ${c.policy}${unused}, ${c.frames} frames, schedule ${c.schedule}`);
  lines.push('');
  return lines;
}

/** Lines of never-ran expectations the text report shows (the JSON report has them all). */
const neverRanShown = 20;

export function footer(r: RunReport, repro: string): string[] {
  const lines = [''];
  lines.push(`frames: ${r.kernel.frames.used} of ${r.kernel.frames.total} in use; ${r.kernel.purgedPages} page(s) purged in this run`);
  for (const f of r.kernel.files) {
    lines.push(`file ${f.name}: open ${f.open}, mapped ${f.mapped}, volatile ${f.volatile.length ? f.volatile.map(([p, n]) => `[${p}, ${n}]`).join(' ') : 'none'}`);
  }
  for (const p of r.kernel.processes) {
    lines.push(`process ${p.name}: ${p.state}${p.exitCode !== undefined ? ` (code ${p.exitCode})` : ''}${p.signal ? ` (${p.signal}${p.outside ? ', from outside vrange' : ''})` : ''}`);
  }
  lines.push('invariants:');
  for (const i of r.invariants) lines.push(`  ${i.ok ? 'ok  ' : 'FAIL'} ${i.name}${i.detail ? `: ${i.detail}` : ''}`);
  // Every failure that ran; of those that never ran (a run cut short has many), the first few.
  const unrun = r.failures.filter((f) => f.ran === false);
  const names = reportProcessNames(r);
  for (const f of r.failures) if (f.ran !== false) lines.push(`expectation failed: ${failureLine(f, names)}`);
  for (const f of unrun.slice(0, neverRanShown)) lines.push(`expectation failed: ${failureLine(f, names)}`);
  if (unrun.length > neverRanShown) lines.push(`expectation failed: ${unrun.length - neverRanShown} more step(s) with an expectation never ran (--json lists them all)`);
  for (const f of r.notJudged.slice(0, neverRanShown)) lines.push(`not judged (faults were injected): ${failureLine(f, names)}`);
  if (r.notJudged.length > neverRanShown) lines.push(`not judged (faults were injected): ${r.notJudged.length - neverRanShown} more (--json lists them all)`);
  lines.push(...verdictLines(r, repro));
  return lines;
}

/** The report's last lines: an interruption, the verdict, and on failure the command that reproduces the run. */
export function verdictLines(r: RunReport, repro: string): string[] {
  const lines: string[] = [];
  if (r.interrupted) lines.push(`INTERRUPTED by ${r.interrupted}: the run was stopped before it ended; the steps above are what ran so far`);
  if (r.interrupted) lines.push(`verdict: INTERRUPTED (${r.steps.length} steps ran; no verdict on the scenario)`);
  else lines.push(r.ok ? `verdict: PASS (${r.steps.length} steps)` : `verdict: FAIL (${r.failures.length} expectation(s) failed, ${r.invariants.filter((i) => !i.ok).length} invariant(s) broken)`);
  if (!r.ok) lines.push(`reproduce: ${repro}`);
  return lines;
}
