// The run as the `--html` page (report/html.ts) sees it, built from the history in three passes:
// the lanes (kernel, then each process by birth) and their colours; each step from its invoke to
// its complete; each message, snapshot and narrated kernel event given to the step it is part of
// (a reclaim exchange to the step that opened it). Also the page's shared helpers (esc).

import type { AnyStep, EventOf, HistoryEvent } from '../coordinator/history.js';
import { narrate } from './report.js';
import { choiceToken, isKernelStep, KERNEL_ACTION } from '../shared/kernel_name.js';
import { visibleOnPage } from '../shared/printable.js';

// Most strings of a page (names, numbers, step words) need no escape: one test, no four replaces.
// Every string is first made visible (shared/printable.ts visibleOnPage: control and bidi characters
// written as \u{...}, as the terminal shows them), then HTML-escaped.
const needsEsc = /[&<>"]/;
const needsEscText = /[&<>]/;
export const esc = (raw: string) => { const s = visibleOnPage(raw); return needsEsc.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;') : s; };
/** Escapes text content (not an attribute): quotes stay as they are. */
export const escText = (raw: string) => { const s = visibleOnPage(raw); return needsEscText.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : s; };
/** The kernel's lane, unless a process is named `kernel`: then it is `@kernel` (Model.kernel; shared/kernel_name.ts choiceToken). */
export const KERNEL = 'kernel';
export const PALETTE = ['#2563eb', '#059669', '#c2410c', '#db2777', '#7c3aed', '#0e7490', '#4d7c0f', '#a16207'];

// ---------------------------------------------------------------- the run, as the page sees it

export interface Step {
  key: string;              // "1", "2", ...: the step's number in the run
  process: string;
  index: number;
  invokeSeq: number;        // -1 when the step never started (stuck)
  seq: number;              // the `complete` event
  e: EventOf<'complete'>;
  /** The step as invoked; one that never started, as its op alone. */
  step: AnyStep | { op: string; expect?: undefined; label?: undefined };
}

export interface Note { key: string; seq: number; e: HistoryEvent; text: string; process: string }

export interface Model {
  /** The kernel's lane (the first): `kernel`, or `@kernel` when a process takes that name. A step's `process` is its lane. */
  kernel: string;
  lanes: string[];
  births: Map<string, number>;
  ends: Map<string, EventOf<'cleanup'>>;
  steps: Step[];
  notes: Note[];
  /** Step (or note) key each event belongs to, by seq. */
  owner: Map<number, string>;
  snapshots: Array<EventOf<'snapshot'>>;
  messages: Array<EventOf<'message'>>;
  colour: Map<string, string>;
  /** The run in windows of at most windowItems entries of the step list (a long run is paged). */
  windows: Window[];
  /** The window of each step (or note) key. */
  winOf: Map<string, number>;
}

/** A window of the run: its step-list entries (steps and standalone kernel events), in order. */
export interface Window { keys: string[]; firstSeq: number; lastSeq: number; label: string }

/** Entries of the step list a window holds: at most this many columns of the page map, too. */
export const windowItems = 80;

/** The window an event belongs to: its step's, or (an event of no step) the one it falls in by seq. */
export function windowOfSeq(m: Pick<Model, 'owner' | 'winOf' | 'windows'>, seq: number): number {
  const key = m.owner.get(seq);
  const w = key === undefined ? undefined : m.winOf.get(key);
  if (w !== undefined) return w;
  // The last window that starts at or before seq (windows start in order: a binary search).
  let lo = 0, hi = m.windows.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (m.windows[mid]!.firstSeq <= seq) lo = mid; else hi = mid - 1;
  }
  return lo;
}

function windowsOf(steps: Step[], notes: Note[]): { windows: Window[]; winOf: Map<string, number> } {
  const items: Array<{ key: string; from: number; to: number; label: string }> = steps.map((s) => ({ key: s.key, from: s.invokeSeq >= 0 ? s.invokeSeq : s.seq, to: s.seq, label: s.key }));
  const stepKeys = new Set(steps.map((s) => s.key));
  const seen = new Set<string>();
  for (const n of notes) {
    if (stepKeys.has(n.key) || seen.has(n.key)) continue;
    seen.add(n.key);
    items.push({ key: n.key, from: n.seq, to: n.seq, label: '' });
  }
  items.sort((a, b) => a.to - b.to);
  const windows: Window[] = [];
  const winOf = new Map<string, number>();
  for (let i = 0; i < items.length; i += windowItems) {
    const chunk = items.slice(i, i + windowItems);
    const nums = chunk.filter((c) => c.label !== '').map((c) => c.label);
    windows.push({ keys: chunk.map((c) => c.key), firstSeq: Math.min(...chunk.map((c) => c.from)), lastSeq: Math.max(...chunk.map((c) => c.to)),
      label: nums.length ? `steps ${nums[0]}\u2013${nums[nums.length - 1]}` : 'kernel events' });
    for (const c of chunk) winOf.set(c.key, windows.length - 1);
  }
  if (windows.length === 0) windows.push({ keys: [], firstSeq: 0, lastSeq: Number.MAX_SAFE_INTEGER, label: 'no steps' });
  return { windows, winOf };
}

export function buildModel(history: HistoryEvent[]): Model {
  const born = history.flatMap((e) => (e.kind === 'birth' ? [e.process] : []));
  const KERNEL = choiceToken(KERNEL_ACTION, born);
  // The lane of an event: the kernel list's steps (`kernel: true`) are the kernel's, never a process's named `kernel`.
  const laneOf = (e: { process: string; kernel?: true }) => (isKernelStep(e) ? KERNEL : e.process);
  const lanes = [KERNEL];
  const births = new Map<string, number>();
  const ends = new Map<string, EventOf<'cleanup'>>();
  const parents = new Map<string, string>();
  for (const e of history) {
    if (e.kind === 'birth') {
      lanes.push(e.process);
      births.set(e.process, e.seq);
      if (e.parent) parents.set(e.process, e.parent);
    }
    if (e.kind === 'cleanup') ends.set(e.process, e);
  }
  const colour = new Map<string, string>([[KERNEL, '#334155']]);
  lanes.slice(1).forEach((p, i) => colour.set(p, PALETTE[i % PALETTE.length]!));

  // Pass 1: the steps, each from its invoke (if it started) to its complete.
  const steps: Step[] = [];
  const invoked = new Map<string, EventOf<'invoke'>>();
  for (const e of history) {
    if (e.kind === 'invoke') invoked.set(laneOf(e), e);
    if (e.kind !== 'complete') continue;
    const inv = invoked.get(laneOf(e));
    invoked.delete(laneOf(e));
    steps.push({ key: String(steps.length + 1), process: laneOf(e), index: e.index, invokeSeq: inv?.seq ?? -1,
      seq: e.seq, e, step: inv?.step ?? { op: e.op } });
  }
  const byComplete = new Map(steps.map((s) => [s.seq, s]));
  const byInvoke = new Map(steps.filter((s) => s.invokeSeq >= 0).map((s) => [s.invokeSeq, s]));
  const owner = new Map<number, string>();
  for (const s of steps) { owner.set(s.seq, s.key); if (s.invokeSeq >= 0) owner.set(s.invokeSeq, s.key); }
  // The steps in flight at each event: a process's (or the kernel's) step between its invoke and complete.
  const walk = (visit: (e: HistoryEvent, inFlight: Map<string, string>) => void) => {
    const inFlight = new Map<string, string>();
    for (const e of history) {
      const started = byInvoke.get(e.seq);
      if (started) { inFlight.set(started.process, started.key); continue; }
      const done = byComplete.get(e.seq);
      if (done) { inFlight.delete(done.process); continue; }
      visit(e, inFlight);
    }
  };
  // Pass 2: the step that opened each reclaim exchange (a kernel reclaim, or a fault's direct reclaim).
  const xidOwner = new Map<number, string>();
  walk((e, inFlight) => {
    if (e.kind !== 'reclaim-prepare') return;
    const direct = /^direct reclaim: (\S+) faulted/.exec(String(e.reason));
    const by = inFlight.get(direct ? direct[1]! : KERNEL);
    if (by) xidOwner.set(e.xid, by);
  });
  const notes: Note[] = [];
  const names = new Map<number, string>();
  const messages: Array<EventOf<'message'>> = [];
  const snapshots: Array<EventOf<'snapshot'>> = [];
  // Pass 3: messages, snapshots and narrated kernel events, each given to the step it is part of.
  walk((e, inFlight) => {
    if (e.kind === 'message') {
      messages.push(e);
      const msg = e.msg;
      const agent = e.agent;
      // A forked child's init and ready are part of its parent's fork step.
      const xid = 'xid' in msg ? msg.xid : undefined;
      const key = typeof xid === 'number' && xidOwner.has(xid) ? xidOwner.get(xid)
        : inFlight.get(agent) ?? (parents.has(agent) ? inFlight.get(parents.get(agent)!) : undefined);
      if (key) owner.set(e.seq, key);
      return;
    }
    if (e.kind === 'snapshot') { snapshots.push(e); return; }
    const text = narrate(e, names, born);
    let key: string | undefined;
    if (typeof e.xid === 'number') key = xidOwner.get(e.xid);
    else if (e.kind === 'fault') key = inFlight.get(e.process) ?? inFlight.get(KERNEL);
    else if (e.kind === 'oom-kill') key = inFlight.get(e.faulting);
    else if (e.kind === 'kill') key = inFlight.get(KERNEL);
    if (!text || e.kind === 'birth') { if (key) owner.set(e.seq, key); return; }
    key ??= `e${e.seq}`;
    owner.set(e.seq, key);
    notes.push({ key, seq: e.seq, e, text: text.replace(/^\S+\s+/, ''), process: e.process === undefined ? KERNEL : 'kernel' in e && e.kernel === true ? KERNEL : e.process });
  });
  // A snapshot belongs to the step or cleanup it follows.
  for (const s of snapshots) {
    const k = owner.get(s.after);
    if (k) owner.set(s.seq, k);
  }
  return { kernel: KERNEL, lanes, births, ends, steps, notes, owner, snapshots, messages, colour, ...windowsOf(steps, notes) };
}
