// Why did a step return what it returned? This module reads a run's history and names, for each
// completed step, the rule that made its answer: most answers that depend on the policy or the
// schedule go back to a reclaim `decision` (its `rule` and `why`, from shared/policy.ts), and the
// rest to a rule of the syscall itself. `vrange compare` and `vrange quiz` print these.
//
// How an answer is traced to decisions (docs/semantics.md, "Explanations"):
//   - every decision is filed under each page it was about: `P@vpage` for every mapper (the
//     decision event's `vpages`) and `file#page` for a file page, each page of its run; the latest decision wins;
//   - a fork copies the parent's entries to the child (it inherits the purged markers);
//   - a successful write, mmap or munmap forgets the entries of its pages (new data, new mapping);
//     a nonvolatile marks the purges of its span as reported: a later nonvolatile over them
//     answers `purged: false` by `purge-already-reported`, and a later `""` read is still the purge's;
//   - a SIGBUS, or a `""` read of a page a decision purged, is explained by that purge; a
//     `purged: true` by the purges of the pages the call found purged (`detail.purgedPages`, and
//     the file pages of a `file-nonvolatile` event); a `purged: false` or a surviving value by the
//     decisions that kept the pages, or by `no-decision` when no reclaim looked at them;
//   - a kernel `reclaim` is explained by every decision of its exchange, counted by rule.

import { decisionPageName, decisionRun, type AnyStep, type EventOf, type HistoryEvent } from '../coordinator/history.js';
import { keysIn } from '../checker/pageset.js';
import type { ProcessStep, RunConfig, Scenario, Step } from '../shared/scenario-types.js';
import { PAGE_SIZE } from '../shared/scenario-types.js';
import { isMode, spanOf } from '../shared/spans.js';
import { scenarioStep, stepKey } from '../shared/kernel_name.js';

/** The rules of an answer: names (policy rules from shared/policy.ts, or the step rules below) and sentences. */
export interface Explanation { rules: string[]; why: string[] }

/** Rules that do not come from a reclaim decision, with their sentence. */
export const STEP_RULES = {
  'no-decision': 'no reclaim decided on these pages (no reclaim found them in a volatile range)',
  'anon-only-refuses-file': 'anon-only: vrange on a file mapping, or on a span that reaches one, is refused with EINVAL, nothing changes',
  'madv-free-marks-resident': 'madv-free: MADV_FREE marks the pages that have a frame now, page by page (clean and old); a page written later is not marked',
  'madv-free-refuses': 'madv-free: MADV_FREE is for private anonymous memory only, and has no fd form and no inverse: EINVAL (the private anonymous mappings before a refused one stay marked)',
  'syscall-error': 'the call failed its argument checks (docs/semantics.md, Errors)',
  'zero-page': 'the page was never written (or is a file hole): it reads as ""',
  'no-mapping': 'no mapping covers the address: SIGSEGV',
  'oom-kill': 'the OOM killer chose this process: nothing was purgeable',
  'killed': 'the process was killed while the step was in flight',
  'killed-outside': 'the process was killed from outside vrange (a signal neither the scenario, a --fault nor the kernel sent) while the step was in flight',
  'deadlock': 'it waits for something nothing left can bring about',
  'nothing-volatile': 'no resident page was in a volatile range, so the exchange decided nothing',
  'died-of-signal': 'the process died of a signal',
  'marked-volatile': 'the pages are marked volatile and no reclaim has decided on them yet',
  'file-ranges-hold-vrange': "shared-file: the file's own ranges hold fvrange marks and the vrange marks of shared mappings",
  'file-ranges-hold-fvrange-only': "the file's own ranges hold only fvrange marks (a vrange mark lives in the mm, or is refused)",
  'vrange-marks-mm': "the mark lives in this process's mm (its own pages, or per-mm file marks) and dies with it",
  'vrange-marks-file': "shared-file: a vrange on a shared file mapping marks the file's own range, like fvrange",
  'fvrange-marks-file': "fvrange marks the file's own range, whoever maps it",
  'purge-already-reported': 'the pages were purged, but an earlier nonvolatile reported it and cleared the purged marks',
} as const;

/** A decision (a run of `count` pages); `pageAt(k)` names its page k as a one-page decision would. */
interface Decided { xid: number; purge: boolean; rule: string; why: string; page: string; count: number; pageAt: (k: number) => string }

interface Where { vpage: number; file?: string; filePage?: number }

/** The latest decision about a page, and the nonvolatile step that has reported its purge, if any. */
interface Entry { d: Decided; k: number; reportedBy?: string }
/** A decision as one page of it (k), or as the whole run (k = -1). */
type DecidedPage = { d: Decided; k: number };

/**
 * Entries by owner (a process, or a file) and page, sparse: a span is looked up, forgotten or
 * copied by walking the entries there (or the span, if shorter), never the pages of the span, so
 * a nonvolatile or munmap of 4,000,000 pages costs what was decided there (issue 11, item 5).
 */
class Entries {
  private readonly by = new Map<string, Map<number, Entry>>();
  get(owner: string, page: number): Entry | undefined { return this.by.get(owner)?.get(page); }
  set(owner: string, page: number, x: Entry): void {
    let m = this.by.get(owner);
    if (!m) this.by.set(owner, (m = new Map()));
    m.set(page, x);
  }
  delete(owner: string, page: number): void { this.by.get(owner)?.delete(page); }
  /** The entries of [s, e), by ascending page. */
  inSpan(owner: string, s: number, e: number): Entry[] {
    const m = this.by.get(owner);
    return m ? keysIn(m, s, e).map((k) => m.get(k)!) : [];
  }
  forget(owner: string, s: number, e: number): void {
    const m = this.by.get(owner);
    if (m) for (const k of keysIn(m, s, e)) m.delete(k);
  }
  /** A fork: the child gets a copy of each of the parent's entries. */
  copy(from: string, to: string): void {
    for (const [k, x] of this.by.get(from) ?? []) this.set(to, k, { ...x });
  }
}
const key = (proc: string) => `proc:${proc}`;
const fileKey = (file: string) => `file:${file}`;

function decisionWhy({ d, k }: DecidedPage): string {
  return `${d.rule}: exchange ${d.xid} ${d.purge ? 'purged' : 'kept'} ${k >= 0 ? d.pageAt(k) : d.page}: ${d.why}`;
}

function stepRule(rule: keyof typeof STEP_RULES, extra = ''): Explanation {
  return { rules: [rule], why: [`${rule}: ${STEP_RULES[rule]}${extra}`] };
}

function fromDecisions(ds: DecidedPage[]): Explanation {
  const rules: string[] = [];
  const why: string[] = [];
  for (const x of ds) {
    if (!rules.includes(x.d.rule)) rules.push(x.d.rule);
    const w = decisionWhy(x);
    if (!why.includes(w)) why.push(w);
  }
  return { rules, why };
}

/** Resolves bindings (`as`, `fd`) statically from the scenario and the mmap results of the run. */
class Bindings {
  private readonly addr = new Map<string, number>();
  constructor(private readonly s: Scenario) {}

  mmapped(proc: string, index: number, addr: number): void { this.addr.set(`${proc}#${index}`, addr / PAGE_SIZE); }

  private steps(proc: string): ProcessStep[] { return this.s.processes.find((p) => p.name === proc)?.steps ?? []; }

  /** The step that bound `name` (as `kind`) for `proc`'s step `index`: its own, or its parent's before the fork. */
  private binder(proc: string, index: number, name: string, kind: 'map' | 'fd'): { proc: string; index: number } | undefined {
    const steps = this.steps(proc);
    for (let i = index - 1; i >= 0; i--) {
      const st = steps[i]!;
      if (kind === 'map' && st.op === 'mmap' && st.as === name) return { proc, index: i };
      if (kind === 'fd' && st.op === 'open' && (st.fd ?? st.file) === name) return { proc, index: i };
    }
    for (const p of this.s.processes) {
      const at = p.steps.findIndex((st) => st.op === 'fork' && st.child === proc);
      if (at >= 0) return this.binder(p.name, at, name, kind);
    }
    return undefined;
  }

  file(proc: string, index: number, fd: string): string | undefined {
    const b = this.binder(proc, index, fd, 'fd');
    const st = b ? this.steps(b.proc)[b.index] : undefined;
    return st?.op === 'open' ? st.file : undefined;
  }

  /** The page `page` of mapping `map` as `proc`'s step `index` sees it. */
  page(proc: string, index: number, map: string, page: number): Where | undefined {
    const b = this.binder(proc, index, map, 'map');
    if (!b) return undefined;
    const st = this.steps(b.proc)[b.index]!;
    const start = this.addr.get(`${b.proc}#${b.index}`);
    if (st.op !== 'mmap' || start === undefined) return undefined;
    const file = st.fd ? this.file(b.proc, b.index, st.fd) : undefined;
    return { vpage: start + page, ...(file ? { file, filePage: (st.offset ?? 0) + page } : {}) };
  }

  isSharedFileMapping(proc: string, index: number, map: string): boolean {
    const b = this.binder(proc, index, map, 'map');
    const st = b ? this.steps(b.proc)[b.index] : undefined;
    return st?.op === 'mmap' && st.fd !== undefined && (st.share ?? 'shared') === 'shared';
  }

}

/** A `vrange` whose mode and span pass the syscall's first checks (so an EINVAL after them is a refused mapping). */
function argumentsPass(st: Extract<Step, { op: 'vrange' }>): boolean {
  return isMode(st.mode) && !('errno' in spanOf(st));
}

function stepOf(s: Scenario, x: { process: string; kernel?: true }, index: number): Step | undefined {
  return scenarioStep(s, x, index);
}

/** The explanation of every completed step, keyed `process#index`. */
export function explainRun(s: Scenario, config: RunConfig, history: HistoryEvent[]): Map<string, Explanation> {
  const out = new Map<string, Explanation>();
  const names = new Map<number, string>();
  const latest = new Entries();
  const byXid = new Map<number, Decided[]>();
  const bindings = new Bindings(s);
  const deaths = new Map<string, Explanation>();
  const oomKilled = new Set<string>();
  // A death from outside vrange: its `cleanup` (which says so) comes after the step it cut short.
  const killedOutside = new Set(history.flatMap((e) => (e.kind === 'cleanup' && e.outside ? [e.process] : [])));
  let kernelXid: number | undefined;
  let fileNonvolatile: EventOf<'file-nonvolatile'> | undefined;

  const forget = (proc: string, from: number, to: number) => latest.forget(key(proc), from, to);
  const lookup = (proc: string, w: Where): Entry | undefined =>
    latest.get(key(proc), w.vpage) ?? (w.file !== undefined ? latest.get(fileKey(w.file), w.filePage!) : undefined);

  for (const e of history) {
    switch (e.kind) {
      case 'birth': names.set(e.pid, e.process); break;
      case 'reclaim-prepare': if (String(e.reason).startsWith('kernel step')) kernelXid = e.xid; break;
      case 'oom-kill': oomKilled.add(e.process); break;
      case 'file-nonvolatile': fileNonvolatile = e; break;
      case 'decision': {
        const { count } = decisionRun(e);
        const d: Decided = { xid: e.xid, purge: e.purge, rule: e.rule, why: e.why, page: e.page, count, pageAt: (k) => decisionPageName(e, k) };
        let list = byXid.get(d.xid);
        if (!list) byXid.set(d.xid, (list = []));
        list.push(d);
        // A run of pages (docs/history-format.md, Decisions by run): page k is each vpage + k and filePage + k.
        for (const [pid, vpage] of e.vpages ?? []) for (let k = 0; k < count; k++) latest.set(key(names.get(pid) ?? String(pid)), vpage + k, { d, k });
        if (typeof e.file === 'string') for (let k = 0; k < count; k++) latest.set(fileKey(e.file), e.filePage! + k, { d, k });
        break;
      }
      case 'complete': {
        const proc = e.process;
        const index = e.index;
        const step = stepOf(s, e, index);
        if (!step) break;
        const r = e.result;
        const detail = e.detail ?? {};
        const fnv = fileNonvolatile?.by === proc ? fileNonvolatile : undefined;
        fileNonvolatile = undefined;
        function explainStep(st: Step): Explanation | undefined {
          if (r.stuck) return stepRule('deadlock');
          if (!r.ok && r.signal === 'SIGKILL') return stepRule(oomKilled.has(proc) ? 'oom-kill' : killedOutside.has(proc) ? 'killed-outside' : 'killed');
          switch (st.op) {
            case 'read': case 'write': {
              if (r.signal === 'SIGSEGV') return stepRule('no-mapping');
              const w = bindings.page(proc, index, st.map, st.page);
              const x = w ? lookup(proc, w) : undefined;
              const d = x?.d;
              if (r.signal === 'SIGBUS') return x && d?.purge ? fromDecisions([x]) : undefined;
              if (st.op === 'write') return undefined;
              if (r.value === '') return x && d?.purge ? fromDecisions([x]) : stepRule('zero-page');
              // A value over a purge: a sub-page write after it, the rest of the page the purge's zeros.
              return x && d ? fromDecisions([x]) : stepRule('no-decision');
            }
            case 'vrange': case 'fvrange': {
              // A refusal is known by the error order (docs/semantics.md, Errors): once the mode and the span pass
              // their checks, the only EINVAL left is a mapping the policy refuses somewhere in the walk over
              // the span's VMAs, whatever lies before it (holes, other mappings) and whichever binding it starts in.
              const refused = r.errno === 'EINVAL' && st.op === 'vrange' && argumentsPass(st);
              if (refused && config.policy === 'anon-only') return stepRule('anon-only-refuses-file');
              if (r.errno === 'EINVAL' && config.policy === 'madv-free' && (st.op === 'fvrange' || st.mode === 'nonvolatile' || refused)) return stepRule('madv-free-refuses');
              if (r.errno) return stepRule('syscall-error', `: ${r.errno as string}`);
              if (st.mode !== 'nonvolatile') {
                if (st.op === 'fvrange') return stepRule('fvrange-marks-file');
                if (config.policy === 'madv-free') return stepRule('madv-free-marks-resident');
                return stepRule(config.policy === 'shared-file' && bindings.isSharedFileMapping(proc, index, st.map) ? 'vrange-marks-file' : 'vrange-marks-mm');
              }
              // The entries of the pages this call looked at: its own mm's, and the file's (fnv).
              const entries = r.purged ? (detail.purgedPages ?? []).map((v) => latest.get(key(proc), v))
                : detail.span ? latest.inSpan(key(proc), detail.span[0], detail.span[1]) : [];
              if (fnv) entries.push(...latest.inSpan(fileKey(fnv.file), fnv.start, fnv.start + fnv.pages));
              const found = entries.filter((x): x is Entry => x !== undefined);
              const fresh = found.filter((x) => x.d.purge === r.purged && (!x.d.purge || !x.reportedBy));
              for (const x of found) if (x.d.purge && !x.reportedBy) x.reportedBy = `${proc} #${index}`;
              if (fresh.length) return fromDecisions(fresh);
              if (r.purged) return undefined;
              const reported = found.filter((x) => x.d.purge && x.reportedBy && x.reportedBy !== `${proc} #${index}`);
              if (reported.length) {
                const x = fromDecisions(reported);
                return { rules: ['purge-already-reported'], why: [`purge-already-reported: ${STEP_RULES['purge-already-reported']} (${[...new Set(reported.map((y) => y.reportedBy))].join(', ')})`, ...x.why] };
              }
              return stepRule('no-decision');
            }
            case 'query': {
              const pages = (r.pages ?? []) as Array<{ page: number; resident: boolean; volatile: boolean; purged: boolean }>;
              const ds: DecidedPage[] = [];
              for (const p of pages) {
                let x: Entry | undefined;
                if (st.map !== undefined) { const w = bindings.page(proc, index, st.map, p.page); x = w ? lookup(proc, w) : undefined; }
                else if (st.fd !== undefined) { const f = bindings.file(proc, index, st.fd); x = f ? latest.get(fileKey(f), p.page) : undefined; }
                if (x && (p.purged ? x.d.purge : !x.d.purge)) ds.push(x);
              }
              if (ds.length) return fromDecisions(ds);
              if (pages.length === 0) return undefined;
              if (st.fd !== undefined) return stepRule(config.policy === 'shared-file' ? 'file-ranges-hold-vrange' : 'file-ranges-hold-fvrange-only');
              return stepRule(pages.some((p) => p.volatile) ? 'marked-volatile' : 'no-decision');
            }
            case 'reclaim': {
              const ds = kernelXid !== undefined ? byXid.get(kernelXid) ?? [] : [];
              kernelXid = undefined;
              if (ds.length === 0) return stepRule('nothing-volatile');
              const counts = new Map<string, number>();
              // Pages, not decisions: a run counts its pages.
              for (const d of ds) counts.set(`${d.purge ? 'purged' : 'kept'} by ${d.rule}`, (counts.get(`${d.purge ? 'purged' : 'kept'} by ${d.rule}`) ?? 0) + d.count);
              const x = fromDecisions(ds.map((d) => ({ d, k: -1 })));
              return { rules: x.rules, why: [...[...counts].map(([k, n]) => `${n} page(s) ${k}`), ...x.why] };
            }
            case 'waitpid': {
              if (!r.signal) return undefined;
              const cause = deaths.get(st.process);
              return cause ? { rules: cause.rules, why: [`${st.process} died of ${r.signal as string}`, ...cause.why] } : stepRule('died-of-signal');
            }
            default: return undefined;
          }
        }

        const x = explainStep(step);
        if (x) out.set(stepKey(e, index), x);
        if (x && r.signal && r.signal !== 'SIGKILL' && !r.ok) deaths.set(proc, x);
        // What the step changed in what later answers rely on.
        if (step.op === 'mmap' && r.ok) bindings.mmapped(proc, index, r.addr as number);
        if ((step.op === 'mmap' || step.op === 'munmap') && r.ok && detail.span) forget(proc, detail.span[0], detail.span[1]);
        if (step.op === 'write' && r.ok && step.offset === undefined) { // a sub-page write keeps the rest: and what it was
          const w = bindings.page(proc, index, step.map, step.page);
          if (w) { latest.delete(key(proc), w.vpage); if (w.file) latest.delete(fileKey(w.file), w.filePage!); }
        }
        if (step.op === 'fork' && r.ok) {
          latest.copy(key(proc), key(step.child));
        }
        break;
      }
    }
  }
  return out;
}

/** The rules of an answer in one short cell: `rule-a, rule-b` or `-`. */
export function rulesCell(x: Explanation | undefined): string {
  return x && x.rules.length ? x.rules.join(', ') : '-';
}

/** A step in a few words: `vrange m pages 0-3 nonvolatile`, `read m page 1`, `reclaim all`. */
export function shortStep(step: AnyStep): string {
  const where = (): string => {
    const first = step.page ?? (step.byteOffset !== undefined ? step.byteOffset / PAGE_SIZE : undefined);
    const n = step.pages ?? (step.byteLength !== undefined ? Math.floor(step.byteLength / PAGE_SIZE) : undefined);
    if (first === undefined) return '';
    return n === undefined || n === 1 ? ` page ${first}` : ` pages ${first}-${first + n - 1}`;
  };
  const on = step.map ?? step.fd ?? '';
  switch (step.op) {
    case 'read': case 'query': case 'munmap': return `${step.op} ${on}${where()}`;
    // A sub-page write names its byte offset: `write buf page 2 +2 "xy"`.
    case 'write': return `write ${on}${where()}${step.offset === undefined ? '' : ` +${step.offset}`} ${JSON.stringify(step.value)}`;
    case 'vrange': case 'fvrange': return `${step.op} ${on}${where()} ${step.mode}`;
    case 'reclaim': return step.all ? 'reclaim all' : `reclaim ${step.pages} page(s)`;
    case 'mmap': return `mmap ${step.as} ${step.pages} page(s)${step.fd ? ` of ${step.fd}` : ''}${step.share ? ` ${step.share}` : ''}`;
    case 'fork': return `fork ${step.child}`;
    case 'open': case 'close': return `${step.op} ${step.fd ?? step.file}`;
    case 'signal': case 'wait': return `${step.op} ${step.name}`;
    case 'waitpid': case 'kill': return `${step.op} ${step.process}`;
    default: return step.op;
  }
}

/** A result in a few words; a query's pages as `0:RV-` (resident, volatile, purged). */
export function shortResult(r: Record<string, unknown> | null): string {
  if (!r) return '(not run)';
  if (r.stuck) return 'stuck';
  if (!r.ok && r.signal) return r.signal as string;
  if (r.errno) return r.errno as string;
  if (Array.isArray(r.pages)) {
    return (r.pages as Array<{ page: number; resident: boolean; volatile: boolean; purged: boolean }>).map((p) =>
      `${p.page}:${p.resident ? 'R' : '-'}${p.volatile ? 'V' : '-'}${p.purged ? 'P' : '-'}`).join(' ');
  }
  if (Array.isArray(r.mismatches)) return `mismatch ${(r.mismatches as Array<{ field: string }>).map((m) => m.field).join(', ')}`;
  const parts = Object.entries(r).filter(([k]) => k !== 'ok' && k !== 'bytes').map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? parts.join(' ') : 'ok';
}
