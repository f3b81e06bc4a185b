// `--html FILE`: one self-contained page (inline CSS, SVG and a few lines of script; nothing
// fetched) that shows a run three ways, all built from its history:
//
//   1. a space-time diagram: one vertical lane per process and one for the kernel, time going
//      down; every kernel<->agent message is an arrow; kills, OOM kills, SIGBUS, injected faults,
//      cleanups and reclaim decisions are marked;
//   2. a page map: for each mapping (process + binding) and each file, each page's state after
//      every step and every cleanup (the `snapshot` events, report/snapshot.ts);
//   3. the step list: each step with its result, and each kernel decision in the words of the
//      narrated report (report.ts).
//
// Clicking a step (or pressing the arrow keys) highlights it in all three. Histories recorded
// without `--html` have no messages and no snapshots: the page then says so and draws the rest.

import { isRunList, pageCount, pagesOf } from '../shared/runs.js';
import type { RunReport } from './report.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { describeResult, describeStep, narrate } from './report.js';
import { expectationFor, matches } from '../checker/expectations.js';
import type { StepResult } from '../shared/scenario-types.js';

export interface HtmlOptions {
  /** The scenario's description, shown under the title. */
  description?: string;
  /** A heading above the scenario name (e.g. "outcome 2 of 3, witness schedule"). */
  title?: string;
  /** The schedule this run replayed (`--choices`): shown instead of the seed, which did not choose it. */
  choices?: string[];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const KERNEL = 'kernel';
const PALETTE = ['#2563eb', '#059669', '#c2410c', '#db2777', '#7c3aed', '#0e7490', '#4d7c0f', '#a16207'];

// ---------------------------------------------------------------- the run, as the page sees it

interface Step {
  key: string;              // "1", "2", ...: the step's number in the run
  process: string;
  index: number;
  invokeSeq: number;        // -1 when the step never started (stuck)
  seq: number;              // the `complete` event
  e: HistoryEvent;
  step: Record<string, unknown>;
}

interface Note { key: string; seq: number; e: HistoryEvent; text: string; process: string }

interface Model {
  lanes: string[];
  births: Map<string, number>;
  ends: Map<string, HistoryEvent>;
  steps: Step[];
  notes: Note[];
  /** Step (or note) key each event belongs to, by seq. */
  owner: Map<number, string>;
  snapshots: HistoryEvent[];
  messages: HistoryEvent[];
  colour: Map<string, string>;
}

function buildModel(history: HistoryEvent[]): Model {
  const lanes = [KERNEL];
  const births = new Map<string, number>();
  const ends = new Map<string, HistoryEvent>();
  const parents = new Map<string, string>();
  for (const e of history) {
    if (e.kind === 'birth') {
      lanes.push(e.process as string);
      births.set(e.process as string, e.seq);
      if (e.parent) parents.set(e.process as string, e.parent as string);
    }
    if (e.kind === 'cleanup') ends.set(e.process as string, e);
  }
  const colour = new Map<string, string>([[KERNEL, '#334155']]);
  lanes.slice(1).forEach((p, i) => colour.set(p, PALETTE[i % PALETTE.length]!));

  // Pass 1: the steps, each from its invoke (if it started) to its complete.
  const steps: Step[] = [];
  const invoked = new Map<string, HistoryEvent>();
  for (const e of history) {
    if (e.kind === 'invoke') invoked.set(e.process as string, e);
    if (e.kind !== 'complete') continue;
    const inv = invoked.get(e.process as string);
    invoked.delete(e.process as string);
    steps.push({ key: String(steps.length + 1), process: e.process as string, index: e.index as number, invokeSeq: inv?.seq ?? -1,
      seq: e.seq, e, step: (inv?.step as Record<string, unknown> | undefined) ?? { op: e.op } });
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
    if (by) xidOwner.set(e.xid as number, by);
  });
  const notes: Note[] = [];
  const names = new Map<number, string>();
  const messages: HistoryEvent[] = [];
  const snapshots: HistoryEvent[] = [];
  // Pass 3: messages, snapshots and narrated kernel events, each given to the step it is part of.
  walk((e, inFlight) => {
    if (e.kind === 'message') {
      messages.push(e);
      const msg = e.msg as Record<string, unknown>;
      const agent = e.agent as string;
      // A forked child's init and ready are part of its parent's fork step.
      const key = typeof msg.xid === 'number' && xidOwner.has(msg.xid) ? xidOwner.get(msg.xid)
        : inFlight.get(agent) ?? (parents.has(agent) ? inFlight.get(parents.get(agent)!) : undefined);
      if (key) owner.set(e.seq, key);
      return;
    }
    if (e.kind === 'snapshot') { snapshots.push(e); return; }
    const text = narrate(e, names);
    let key: string | undefined;
    if (typeof e.xid === 'number') key = xidOwner.get(e.xid);
    else if (e.kind === 'fault' || e.kind === 'blocked') key = inFlight.get(e.process as string) ?? inFlight.get(KERNEL);
    else if (e.kind === 'oom-kill') key = inFlight.get(e.faulting as string);
    else if (e.kind === 'kill') key = inFlight.get(KERNEL);
    if (!text || e.kind === 'birth') { if (key) owner.set(e.seq, key); return; }
    key ??= `e${e.seq}`;
    owner.set(e.seq, key);
    notes.push({ key, seq: e.seq, e, text: text.replace(/^\S+\s+/, ''), process: (e.process as string | undefined) ?? KERNEL });
  });
  // A snapshot belongs to the step or cleanup it follows.
  for (const s of snapshots) {
    const k = owner.get(s.after as number);
    if (k) owner.set(s.seq, k);
  }
  return { lanes, births, ends, steps, notes, owner, snapshots, messages, colour };
}

// ---------------------------------------------------------------- space-time diagram

const LANE_GAP = 210;
const LEFT = 130;
const TOP = 16;

function msgLabel(m: Record<string, unknown>): string {
  const pages = (runs: unknown, stride: number) => {
    if (!isRunList(runs, stride)) return '';
    const n = pageCount(runs, stride);
    return n > 4 ? `${n} pages` : `[${pagesOf(runs, stride).join(',')}]`;
  };
  switch (m.t) {
    case 'grant': return `grant #${m.index}`;
    case 'start': return `start #${m.index}`;
    case 'done': { const r = m.result as StepResult; return `done #${m.index}${r.ok ? '' : ` ${(r.signal ?? r.errno ?? 'failed') as string}`}`; }
    case 'init': return `init ${m.name}`;
    case 'ret': return `ret${m.errno ? ` ${m.errno}` : m.signal ? ` ${m.signal}` : m.retry ? ' retry' : m.stuck ? ' stuck' : ''}`;
    case 'prepare': return `prepare x${m.xid} ${pages(m.runs, 2)}`;
    case 'prepared': return `prepared x${m.xid}: ${isRunList(m.runs, 4) ? pageCount(m.runs, 4) : 0} volatile`;
    case 'commit': return `commit x${m.xid} purged ${pages(m.runs, 2)}`;
    case 'committed': return `committed x${m.xid}`;
    case 'read': case 'write': return `${m.t} page ${m.vpage}`;
    case 'fork': return `fork ${m.child}`;
    case 'signal': case 'wait': return `${m.t} "${m.name}"`;
    case 'waitpid': return `waitpid ${m.process}`;
    case 'blocked': return `blocked on x${m.xid}`;
    case 'release': return `release #${m.index}`;
    case 'fvrange': return `fvrange ${m.mode}`;
    case 'die': return 'die';
    default: return String(m.t);
  }
}

function shortJson(x: unknown): string {
  const s = JSON.stringify(x);
  return s.length > 400 ? s.slice(0, 400) + '...' : s;
}

function spaceTime(m: Model): { header: string; svg: string } {
  const x = new Map(m.lanes.map((l, i) => [l, LEFT + i * LANE_GAP]));
  const width = LEFT + (m.lanes.length - 1) * LANE_GAP + 250;
  const y = new Map<number, number>();
  let cur = TOP;
  const noteSeqs = new Set(m.notes.map((n) => n.seq));
  const events = [...m.messages, ...m.steps.map((s) => s.e), ...m.notes.map((n) => n.e)];
  for (const s of m.steps) if (s.invokeSeq >= 0) events.push({ seq: s.invokeSeq, at: 0, kind: 'invoke', process: s.process });
  for (const b of m.births.values()) events.push({ seq: b, at: 0, kind: 'birth' });
  events.sort((a, b) => a.seq - b.seq);
  for (const e of events) {
    y.set(e.seq, cur);
    if (e.kind === 'message') cur += 22;
    else if (e.kind === 'invoke') cur += 4;
    else if (e.kind === 'complete') cur += 12;
    else if (noteSeqs.has(e.seq)) cur += e.kind === 'decision' ? 22 : e.kind === 'cleanup' ? 20 : 30;
    else cur += 8;
  }
  const height = cur + 30;
  const out: string[] = [];
  const attrStep = (seq: number) => (m.owner.has(seq) ? ` data-step="${m.owner.get(seq)}"` : '');

  // Lanes: a process's lane runs from its birth to its cleanup.
  for (const lane of m.lanes) {
    const lx = x.get(lane)!;
    const from = lane === KERNEL ? 0 : y.get(m.births.get(lane)!)!;
    const end = m.ends.get(lane);
    const to = end ? (y.get(end.seq) ?? height - 18) + 8 : height - 10;
    out.push(`<line class="lane" data-lane="${esc(lane)}" x1="${lx}" y1="${from}" x2="${lx}" y2="${to}" stroke="${m.colour.get(lane)}" stroke-width="${lane === KERNEL ? 4 : 3}"/>`);
    if (lane !== KERNEL) out.push(`<circle cx="${lx}" cy="${from}" r="5" fill="${m.colour.get(lane)}"><title>${esc(lane)} starts</title></circle>`);
  }
  // Step bars, and the step numbers in the left gutter.
  for (const s of m.steps) {
    const lx = x.get(s.process)!;
    const y1 = s.invokeSeq >= 0 ? y.get(s.invokeSeq)! : y.get(s.seq)! - 6;
    const y2 = Math.max(y.get(s.seq)!, y1 + 6);
    const r = s.e.result as StepResult;
    const cls = s.e.type === 'info' ? 'info' : r.ok ? 'ok' : 'fail';
    out.push(`<g class="bar ${cls}" data-step="${s.key}" data-process="${esc(s.process)}"><rect x="${lx - 7}" y="${y1}" width="14" height="${y2 - y1}" rx="4"/>`
      + `<title>step ${s.key}: ${esc(s.process)} #${s.index} ${esc(describeStep(s.step))} -> ${esc(describeResult(r))}</title></g>`);
    out.push(`<text class="stepno" data-step="${s.key}" x="${LEFT - 118}" y="${y2 + 4}">${s.key}</text>`
      + `<text class="stepop" data-step="${s.key}" x="${LEFT - 92}" y="${y2 + 4}" fill="${m.colour.get(s.process)}">${esc(s.process)} ${esc(String(s.step.op))}</text>`);
    if (!r.ok && r.signal === 'SIGBUS') { // a signal this process got (a waitpid's `signal` is another's)
      out.push(`<g class="marker sigbus" data-lane="${esc(s.process)}" data-step="${s.key}" transform="translate(${lx},${y2})">`
        + `<circle r="11"/><path d="M2,-8 L-4,1 L0,1 L-2,8 L4,-1 L0,-1 Z" fill="#fff"/><text x="15" y="4">SIGBUS</text><title>${esc(s.process)} got SIGBUS: it touched a purged page that is still volatile</title></g>`);
    }
  }
  // Messages: a send leaves the kernel at its event and reaches the agent a little later; a
  // receive left the agent a little earlier. The kernel records both ends in one event.
  for (const e of m.messages) {
    const msg = e.msg as Record<string, unknown>;
    const agent = e.agent as string;
    const kx = x.get(KERNEL)!;
    const ax = x.get(agent) ?? kx + LANE_GAP;
    const ey = y.get(e.seq)!;
    const [x1, x2] = e.dir === 'send' ? [kx, ax] : [ax, kx];
    const y1 = ey;
    const y2 = ey + 16;
    const label = msgLabel(msg);
    const mx = (x1 + x2) / 2;
    out.push(`<g class="arrow ${e.dir}" data-seq="${e.seq}" data-dir="${e.dir}" data-agent="${esc(agent)}" data-t="${esc(String(msg.t))}"${attrStep(e.seq)}>`
      + `<line x1="${x1}" y1="${y1}" x2="${x2 + (x2 > x1 ? -4 : 4)}" y2="${y2}" marker-end="url(#arrow-${e.dir})"/>`
      + `<text x="${mx}" y="${(y1 + y2) / 2 - 3}" text-anchor="middle">${esc(label)}</text>`
      + `<title>${e.dir === 'send' ? `kernel -> ${esc(agent)}` : `${esc(agent)} -> kernel`}: ${esc(shortJson(msg))}</title></g>`);
  }
  // Kernel decisions and deaths.
  for (const n of m.notes) {
    const e = n.e;
    const ey = y.get(e.seq)!;
    const kx = x.get(KERNEL)!;
    const step = attrStep(e.seq);
    const px = x.get(e.process as string);
    switch (e.kind) {
      case 'decision':
        out.push(`<g class="marker decision ${e.purge ? 'purged' : 'kept'}" data-seq="${e.seq}"${step} transform="translate(${kx},${ey + 8})">`
          + `<rect x="-7" y="-7" width="14" height="14" transform="rotate(45)"/><text x="-14" y="4" text-anchor="end">${e.purge ? 'PURGE' : 'keep'}</text><title>${esc(n.text)}</title></g>`);
        break;
      case 'reclaim-prepare': case 'reclaim-commit':
        out.push(`<g class="marker reclaim" data-seq="${e.seq}"${step} transform="translate(${kx},${ey + 10})"><rect x="-10" y="-9" width="20" height="18" rx="3"/>`
          + `<text x="-14" y="4" text-anchor="end">${e.kind === 'reclaim-prepare' ? `reclaim x${e.xid}` : `freed ${e.freed}`}</text><title>${esc(n.text)}</title></g>`);
        break;
      case 'kill': case 'oom-kill': {
        const cls = e.kind === 'kill' ? 'kill' : 'oom';
        if (px !== undefined) {
          out.push(`<g class="signal-line" data-seq="${e.seq}"${step}><line x1="${kx}" y1="${ey + 10}" x2="${px}" y2="${ey + 10}"/></g>`);
          out.push(`<g class="marker ${cls}" data-lane="${esc(e.process as string)}" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})">`
            + `<circle r="11"/><path d="M-5,-5 L5,5 M5,-5 L-5,5" stroke="#fff" stroke-width="3"/><text x="15" y="4">${e.kind === 'kill' ? 'SIGKILL' : 'OOM kill'}</text><title>${esc(n.text)}</title></g>`);
        }
        break;
      }
      case 'fault':
        if (px !== undefined) {
          out.push(`<g class="marker fault" data-lane="${esc(e.process as string)}" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})">`
            + `<path d="M0,-11 L11,9 L-11,9 Z"/><text x="0" y="7" text-anchor="middle" fill="#fff" font-weight="700">!</text><text x="15" y="4">fault ${esc(String(e.fault))}</text><title>${esc(n.text)}</title></g>`);
        }
        break;
      case 'cleanup':
        if (px !== undefined) {
          const how = e.signal ? `killed by ${e.signal}` : `exit ${e.exitCode}`;
          out.push(`<g class="marker cleanup" data-lane="${esc(e.process as string)}" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 8})">`
            + `<rect x="-16" y="-3" width="32" height="6" rx="2"/><text x="20" y="4">${esc(how)}, cleanup</text><title>${esc(n.text)}</title></g>`);
        }
        break;
      case 'blocked':
        if (px !== undefined) out.push(`<g class="marker blocked" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})"><circle r="6"/><text x="12" y="4">waits for x${e.xid}</text><title>${esc(n.text)}</title></g>`);
        break;
      case 'stuck':
        if (px !== undefined) out.push(`<g class="marker stuck" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})"><circle r="8"/><text x="12" y="4">STUCK</text><title>${esc(n.text)}</title></g>`);
        break;
      default:
        out.push(`<g class="marker note" data-seq="${e.seq}"${step} transform="translate(${kx},${ey + 10})"><circle r="4"/><title>${esc(n.text)}</title></g>`);
    }
  }
  const header = m.lanes.map((l) => `<div class="lane-name" style="left:${x.get(l)! - 80}px;color:${m.colour.get(l)}">${esc(l)}</div>`).join('');
  return {
    header: `<div class="lane-head" style="width:${width}px">${header}</div>`,
    svg: `<svg id="spacetime" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${out.join('\n')}</svg>`,
  };
}

// ---------------------------------------------------------------- page map

const CELL_H = 22;
const LABEL_W = 190;

/** `at`: a long row's drawn page numbers (snapshot.ts lists touched pages only), and the position of each. */
interface Row { id: string; kind: 'map' | 'file'; owner: string; name: string; what: string; pages: number; at?: Map<number, number>; total?: number }
type SnapRow = { pages: string; at?: number[]; total?: number };
/** Widens a row to hold a snapshot's row: its page count, or for a long row the union of its drawn pages. */
function fitRow(row: Row, r: SnapRow): void {
  if (!r.at) { row.pages = Math.max(row.pages, r.pages.length); return; }
  row.total = r.total;
  const pages = new Set([...(row.at?.keys() ?? []), ...r.at]);
  row.at = new Map([...pages].sort((a, b) => a - b).map((p, i) => [p, i]));
  row.pages = row.at.size;
}

const STATE_NAMES: Record<string, string> = { a: 'absent', r: 'resident', c: 'copy-on-write shared', p: 'purged', x: 'not mapped' };
function stateName(c: string): string {
  if (c === 'x') return STATE_NAMES.x!;
  return `${STATE_NAMES[c.toLowerCase()]}${c !== c.toLowerCase() ? ', volatile' : ''}`;
}

function pageMap(m: Model): string {
  if (m.snapshots.length === 0) return '';
  const rows = new Map<string, Row>();
  for (const s of m.snapshots) {
    for (const r of s.maps as Array<{ process: string; name: string; kind: string; file?: string; pages: string }>) {
      const id = `map ${r.process} ${r.name}`;
      const what = r.kind === 'anon' ? 'anonymous' : r.kind === 'shmem' ? 'shared anonymous' : r.kind === 'unmapped' ? 'unmapped' : `${r.file} ${r.kind === 'file-shared' ? 'shared' : 'private'}`;
      const row: Row = rows.get(id) ?? { id, kind: 'map', owner: r.process, name: r.name, what, pages: 0 };
      fitRow(row, r);
      rows.set(id, row);
    }
  }
  for (const s of m.snapshots) {
    for (const f of s.files as Array<{ file: string; kind: string; pages: string }>) {
      const id = `file ${f.file}`;
      const row: Row = rows.get(id) ?? { id, kind: 'file', owner: KERNEL, name: f.file, what: `${f.kind} file, page cache`, pages: 0 };
      fitRow(row, f);
      rows.set(id, row);
    }
  }
  const cols = m.snapshots.length;
  // Wide cells for short runs (a projector), narrow ones for long runs.
  const CELL_W = Math.max(22, Math.min(40, Math.floor(1100 / cols)));
  const HEAD = 58;
  const out: string[] = [];
  let y = HEAD;
  const rowY = new Map<string, number>();
  for (const r of rows.values()) {
    rowY.set(r.id, y + 18);
    y += 18 + r.pages * CELL_H + 10;
  }
  const height = y + 4;
  const width = LABEL_W + cols * CELL_W + 20;
  // Column headers: the step number, or the process whose cleanup it follows.
  m.snapshots.forEach((s, i) => {
    const cx = LABEL_W + i * CELL_W;
    const key = m.owner.get(s.seq);
    const step = m.steps.find((st) => st.seq === s.after);
    const cleanup = m.notes.find((n) => n.seq === s.after);
    const label = step ? step.key : cleanup ? '\u2020' : '';
    const tip = step ? `after step ${step.key}: ${step.process} #${step.index} ${describeStep(step.step)}` : cleanup ? `after ${cleanup.text}` : '';
    const frames = s.frames as { used: number; total: number };
    out.push(`<g class="col" data-snap="${i}"${key ? ` data-step="${key}"` : ''}><rect class="colbg" x="${cx}" y="2" width="${CELL_W}" height="${height - 4}" rx="3"/>`
      + `<text class="colno${cleanup ? ' death' : ''}" x="${cx + CELL_W / 2}" y="20" text-anchor="middle">${esc(label)}</text>`
      + `<text class="frames" x="${cx + CELL_W / 2}" y="42" text-anchor="middle">${frames.used}</text><title>${esc(tip)}; ${frames.used} of ${frames.total} frames in use</title></g>`);
  });
  out.push(`<text class="rowhead" x="8" y="20">after step</text><text class="rowhead" x="8" y="42">frames in use</text>`);
  for (const r of rows.values()) {
    const ry = rowY.get(r.id)!;
    const c = r.kind === 'file' ? '#334155' : m.colour.get(r.owner) ?? '#334155';
    const what = r.at ? `${r.what}; ${r.total} pages, only the ${r.pages} touched drawn` : r.what;
    out.push(`<text class="rowlabel" x="8" y="${ry - 4}" fill="${c}">${r.kind === 'file' ? `file ${esc(r.name)}` : `${esc(r.owner)} \u00b7 ${esc(r.name)}`}<tspan class="what"> ${esc(what)}</tspan></text>`);
    const pageNo = r.at ? [...r.at.keys()] : undefined;
    for (let p = 0; p < r.pages; p++) out.push(`<text class="pageno" x="${LABEL_W - 6}" y="${ry + p * CELL_H + 14}" text-anchor="end">page ${pageNo ? pageNo[p] : p}</text>`);
  }
  m.snapshots.forEach((s, i) => {
    const cx = LABEL_W + i * CELL_W;
    const key = m.owner.get(s.seq);
    const cell = (r: Row, snap: SnapRow, attrs: string) => {
      const ry = rowY.get(r.id)!;
      const pages = snap.pages;
      for (let k = 0; k < pages.length; k++) {
        // A long row: the k-th letter is page snap.at[k], drawn at that page's position in the row.
        const p = snap.at && r.at ? r.at.get(snap.at[k]!)! : k;
        const st = pages[k]!;
        const vol = st !== 'x' && st !== st.toLowerCase();
        out.push(`<g class="cell s-${st.toLowerCase()}${vol ? ' vol' : ''}" ${attrs} data-page="${snap.at ? snap.at[k] : p}" data-snap="${i}" data-state="${st}"${key ? ` data-step="${key}"` : ''}>`
          + `<rect x="${cx + 2}" y="${ry + p * CELL_H + 1}" width="${CELL_W - 4}" height="${CELL_H - 3}" rx="3"/>`
          + (vol ? `<rect class="stripes" x="${cx + 2}" y="${ry + p * CELL_H + 1}" width="${CELL_W - 4}" height="${CELL_H - 3}" rx="3"/>` : '')
          + `<title>${esc(r.kind === 'file' ? `file ${r.name}` : `${r.owner} ${r.name}`)} page ${snap.at ? snap.at[k] : p}: ${stateName(st)}</title></g>`);
      }
    };
    for (const r of s.maps as Array<SnapRow & { process: string; name: string }>) {
      cell(rows.get(`map ${r.process} ${r.name}`)!, r, `data-owner="${esc(r.process)}" data-map="${esc(r.name)}"`);
    }
    for (const f of s.files as Array<SnapRow & { file: string }>) cell(rows.get(`file ${f.file}`)!, f, `data-file="${esc(f.file)}"`);
  });
  return `<svg id="pagemap" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${out.join('\n')}</svg>`;
}

// ---------------------------------------------------------------- step list

function stepList(m: Model, report: RunReport): string {
  const notesByKey = new Map<string, Note[]>();
  for (const n of m.notes) {
    const l = notesByKey.get(n.key) ?? [];
    l.push(n);
    notesByKey.set(n.key, l);
  }
  const items: Array<{ seq: number; html: string }> = [];
  for (const s of m.steps) {
    const r = s.e.result as StepResult;
    const exp = expectationFor(s.step as never, report.policy) ?? (s.step.op === 'check' ? { ok: true } : undefined);
    const ok = exp ? matches(exp, r) : undefined;
    const verdict = exp === undefined ? '' : ok ? '<span class="exp ok" title="as expected">\u2713</span>' : `<span class="exp bad" title="expected ${esc(JSON.stringify(exp))}">\u2717 expected ${esc(JSON.stringify(exp))}</span>`;
    const cls = s.e.type === 'info' ? 'info' : r.ok ? 'ok' : 'fail';
    const label = s.step.label ? ` <span class="label">(${esc(String(s.step.label))})</span>` : '';
    const notes = (notesByKey.get(s.key) ?? []).map((n) => `<li class="note k-${n.e.kind}">${esc(n.text)}</li>`).join('');
    const caption = `Step ${s.key}: ${s.process} #${s.index} ${describeStep(s.step)} \u2192 ${describeResult(r)}`;
    items.push({ seq: s.seq, html: `<li class="step-row ${cls}" data-step="${s.key}" data-caption="${esc(caption)}" tabindex="0"><span class="no">${s.key}</span>`
      + `<span class="who" style="background:${m.colour.get(s.process)}">${esc(s.process)}</span> <span class="idx">#${s.index}</span> `
      + `<code>${esc(describeStep(s.step))}</code>${label}<div class="result">\u2192 ${esc(describeResult(r))} ${verdict}</div>`
      + (notes ? `<ul class="notes">${notes}</ul>` : '') + '</li>' });
  }
  // Kernel events that belong to no step (a death after a step, a final release) stand alone.
  const stepKeys = new Set(m.steps.map((s) => s.key));
  const seen = new Set<string>();
  for (const n of m.notes) {
    if (stepKeys.has(n.key) || seen.has(n.key)) continue;
    seen.add(n.key);
    const text = (notesByKey.get(n.key) ?? []).map((x) => esc(x.text)).join('<br>');
    const caption = `Kernel: ${(notesByKey.get(n.key) ?? []).map((x) => x.text).join(' ')}`;
    items.push({ seq: n.seq, html: `<li class="event-row k-${n.e.kind}" data-step="${n.key}" data-caption="${esc(caption)}" tabindex="0"><span class="no">\u2022</span><span class="who kernel">kernel</span> ${text}</li>` });
  }
  items.sort((a, b) => a.seq - b.seq);
  return `<ol id="steps">${items.map((i) => i.html).join('\n')}</ol>`;
}

// ---------------------------------------------------------------- the page

function legend(): string {
  const sw = (cls: string, vol = false) => `<svg width="24" height="18"><g class="cell ${cls}${vol ? ' vol' : ''}"><rect x="1" y="1" width="22" height="16" rx="3"/>${vol ? '<rect class="stripes" x="1" y="1" width="22" height="16" rx="3"/>' : ''}</g></svg>`;
  return `<div class="legend">
<span>${sw('s-a')} absent</span><span>${sw('s-r')} resident</span><span>${sw('s-c')} copy-on-write shared</span>
<span>${sw('s-r', true)} volatile (striped)</span><span>${sw('s-p', true)} purged</span><span>${sw('s-x')} unmapped</span>
<span class="sep"></span>
<span><svg width="34" height="14"><line x1="2" y1="7" x2="26" y2="7" stroke="#1d4ed8" stroke-width="2" marker-end="url(#arrow-send)"/></svg> kernel \u2192 process</span>
<span><svg width="34" height="14"><line x1="2" y1="7" x2="26" y2="7" stroke="#0f766e" stroke-width="2" marker-end="url(#arrow-recv)"/></svg> process \u2192 kernel</span>
<span><svg width="22" height="22"><g class="marker sigbus" transform="translate(11,11)"><circle r="10"/></g></svg> SIGBUS</span>
<span><svg width="22" height="22"><g class="marker kill" transform="translate(11,11)"><circle r="10"/></g></svg> SIGKILL / OOM kill</span>
<span><svg width="22" height="22"><g class="marker fault" transform="translate(11,11)"><path d="M0,-10 L10,8 L-10,8 Z"/></g></svg> injected fault</span>
<span><svg width="22" height="22"><g class="marker decision purged" transform="translate(11,11)"><rect x="-6" y="-6" width="12" height="12" transform="rotate(45)"/></g></svg> purge decision</span>
<span><svg width="36" height="12"><g class="marker cleanup" transform="translate(18,6)"><rect x="-16" y="-3" width="32" height="6" rx="2"/></g></svg> death and cleanup</span>
</div>`;
}

const CSS = `
:root { --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --hl: #f59e0b; }
* { box-sizing: border-box; }
body { font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: var(--ink); background: #f8fafc; }
header { padding: 14px 24px 8px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 26px; margin: 0 0 4px; } h1 .title { color: var(--muted); font-weight: 500; font-size: 18px; display: block; }
h2 { font-size: 18px; margin: 0 0 8px; }
.desc { margin: 4px 0; max-width: 110ch; color: #334155; }
.config { color: var(--muted); font-size: 15px; }
.verdict { font-weight: 700; padding: 1px 10px; border-radius: 12px; color: #fff; }
.verdict.pass { background: #16a34a; } .verdict.fail { background: #dc2626; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; font-size: 14px; margin-top: 8px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; } .legend .sep { width: 1px; height: 20px; background: var(--line); }
section { background: #fff; margin: 12px 16px; padding: 12px 14px; border: 1px solid var(--line); border-radius: 8px; }
.hint { color: var(--muted); font-size: 14px; font-weight: 400; }
.scroll-x { overflow-x: auto; }
.panes { display: grid; grid-template-columns: minmax(380px, 1fr) minmax(420px, 1.25fr); gap: 0; margin: 12px 16px; }
.panes > section { margin: 0; display: flex; flex-direction: column; min-height: 0; height: 78vh; }
.panes > section:first-child { border-radius: 8px 0 0 8px; } .panes > section:last-child { border-radius: 0 8px 8px 0; border-left: 0; }
.pane-body { overflow: auto; flex: 1; position: relative; }
.lane-head { position: sticky; top: 0; height: 28px; background: #fff; z-index: 2; border-bottom: 1px solid var(--line); }
.lane-name { position: absolute; width: 160px; text-align: center; font-weight: 700; font-size: 17px; top: 2px; }
#steps { list-style: none; margin: 0; padding: 0; }
#steps li.step-row, #steps li.event-row { padding: 6px 8px; border-bottom: 1px solid var(--line); cursor: pointer; border-left: 5px solid transparent; }
#steps li.step-row.fail { border-left-color: #dc2626; background: #fef2f2; } #steps li.step-row.info { border-left-color: #94a3b8; background: #f1f5f9; }
#steps li.event-row { font-size: 14px; color: #334155; background: #f8fafc; }
#steps li.hl { background: #fef3c7; border-left-color: var(--hl); outline: 2px solid var(--hl); outline-offset: -2px; }
#steps .no { display: inline-block; min-width: 2.2em; font-weight: 700; color: var(--muted); }
#steps .who { color: #fff; border-radius: 4px; padding: 0 6px; font-weight: 700; font-size: 14px; }
#steps .who.kernel { background: #334155; }
#steps .idx { color: var(--muted); } #steps code { font-size: 15px; }
#steps .result { margin-left: 2.2em; } #steps .label { color: var(--muted); font-style: italic; }
#steps .exp.ok { color: #16a34a; font-weight: 700; } #steps .exp.bad { color: #dc2626; font-weight: 700; }
#steps ul.notes { margin: 4px 0 0 2.2em; padding: 0 0 0 14px; font-size: 14px; color: #334155; }
#steps li.note.k-decision { list-style: "\\25C6  "; } #steps li.note { list-style: "\\2192  "; }
svg text { font-family: inherit; }
#spacetime .arrow line { stroke-width: 1.6; } #spacetime .arrow text { font-size: 12px; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
#spacetime .arrow.send line { stroke: #1d4ed8; } #spacetime .arrow.send text { fill: #1e3a8a; }
#spacetime .arrow.recv line { stroke: #0f766e; } #spacetime .arrow.recv text { fill: #134e4a; }
#spacetime .arrow.hl line { stroke: var(--hl); stroke-width: 3.5; } #spacetime .arrow.hl text { fill: #000; font-weight: 700; }
#spacetime .bar rect { stroke: #fff; stroke-width: 1; } .bar.ok rect { fill: #22c55e; } .bar.fail rect { fill: #ef4444; } .bar.info rect { fill: #94a3b8; }
#spacetime .bar.hl rect { stroke: #000; stroke-width: 3; }
#spacetime .stepno { font-size: 13px; font-weight: 700; fill: var(--muted); } #spacetime .stepop { font-size: 12px; }
#spacetime .stepno.hl { fill: #000; font-size: 15px; } #spacetime .stepop.hl { font-weight: 700; }
.marker text { font-size: 13px; font-weight: 700; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.marker.sigbus circle { fill: #ea580c; } .marker.sigbus text { fill: #c2410c; }
.marker.kill circle, .marker.oom circle { fill: #b91c1c; } .marker.kill text, .marker.oom text { fill: #991b1b; }
.marker.fault path { fill: #7c3aed; } .marker.fault text { fill: #6d28d9; }
.marker.cleanup rect { fill: #0f172a; } .marker.cleanup text { fill: #0f172a; font-weight: 600; }
.marker.decision rect { stroke: #fff; } .marker.decision.purged rect { fill: #ef4444; } .marker.decision.kept rect { fill: #94a3b8; }
.marker.decision text { font-size: 12px; } .marker.decision.purged text { fill: #b91c1c; }
.marker.reclaim rect { fill: #fde68a; stroke: #b45309; } .marker.reclaim text { fill: #92400e; font-size: 12px; }
.marker.blocked circle { fill: #facc15; } .marker.stuck circle { fill: #000; } .marker.note circle { fill: #94a3b8; }
.signal-line line { stroke: #b91c1c; stroke-width: 2; stroke-dasharray: 6 4; }
.marker.hl circle, .marker.hl rect, .marker.hl path { stroke: var(--hl); stroke-width: 4; }
.cell rect { stroke: #94a3b8; stroke-width: 1; }
.cell.s-a rect { fill: #fff; } .cell.s-r rect { fill: #3b82f6; stroke: #1d4ed8; } .cell.s-c rect { fill: #a855f7; stroke: #7e22ce; }
.cell.s-p rect { fill: #ef4444; stroke: #b91c1c; } .cell.s-x rect { fill: #f1f5f9; stroke: #e2e8f0; stroke-dasharray: 2 2; }
.cell rect.stripes { fill: url(#stripes); stroke: #d97706; stroke-width: 2; }
#pagemap .colbg { fill: transparent; } #pagemap .col.hl .colbg { fill: #fef3c7; stroke: var(--hl); stroke-width: 3; }
#pagemap .colno { font-size: 13px; font-weight: 700; fill: #334155; cursor: pointer; } #pagemap .colno.death { fill: #b91c1c; font-size: 16px; }
#pagemap .frames { font-size: 11px; fill: var(--muted); } #pagemap .rowhead { font-size: 13px; fill: var(--muted); }
#pagemap .rowlabel { font-size: 15px; font-weight: 700; } #pagemap .rowlabel .what { font-weight: 400; fill: var(--muted); font-size: 13px; }
#pagemap .pageno { font-size: 12px; fill: var(--muted); } #pagemap .cell { cursor: pointer; }
details pre { background: #0f172a; color: #e2e8f0; padding: 12px; overflow-x: auto; font-size: 13px; border-radius: 6px; }
.selected { margin: 0 0 6px; font-weight: 600; min-height: 1.45em; color: #92400e; }
.missing { color: var(--muted); font-style: italic; }
`;

// Selecting a step: every element with its data-step gets .hl; arrow keys walk the list.
const SCRIPT = `
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('#steps > li'));
  var current = -1;
  function select(key, from) {
    document.querySelectorAll('.hl').forEach(function (el) { el.classList.remove('hl'); });
    var els = document.querySelectorAll('[data-step="' + key + '"]');
    els.forEach(function (el) { el.classList.add('hl'); });
    current = rows.findIndex(function (r) { return r.dataset.step === key; });
    document.body.dataset.selected = key;
    var row = rows[current];
    var caption = document.getElementById('selected');
    if (caption && row) caption.textContent = row.getAttribute('data-caption');
    if (row && from !== 'list') row.scrollIntoView({ block: 'nearest' });
    var bar = document.querySelector('#spacetime [data-step="' + key + '"]');
    if (bar && from !== 'diagram') bar.scrollIntoView({ block: 'center', inline: 'nearest' });
  }
  document.addEventListener('click', function (ev) {
    var t = ev.target.closest ? ev.target.closest('[data-step]') : null;
    if (!t) return;
    select(t.getAttribute('data-step'), t.closest('#steps') ? 'list' : t.closest('#spacetime') ? 'diagram' : 'map');
  });
  document.addEventListener('keydown', function (ev) {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp' && ev.key !== 'j' && ev.key !== 'k') return;
    var next = current + (ev.key === 'ArrowDown' || ev.key === 'j' ? 1 : -1);
    if (next < 0 || next >= rows.length) return;
    ev.preventDefault();
    select(rows[next].dataset.step, 'key');
  });
})();
`;

export function renderHtml(report: RunReport, lines: string[], history: HistoryEvent[], opts: HtmlOptions = {}): string {
  const m = buildModel(history);
  const st = spaceTime(m);
  const map = pageMap(m);
  const noMessages = m.messages.length === 0;
  const verdict = `<span class="verdict ${report.ok ? 'pass' : 'fail'}">${report.ok ? 'PASS' : 'FAIL'}</span>`;
  const failed = report.invariants.filter((i) => !i.ok).map((i) => `${i.name}${i.detail ? `: ${i.detail}` : ''}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vrange: ${esc(report.scenario)}</title>
<style>${CSS}</style></head><body>
<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>
<pattern id="stripes" width="7" height="7" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="7" height="7" fill="transparent"/><rect width="2.5" height="7" fill="#f59e0b"/></pattern>
<marker id="arrow-send" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1d4ed8"/></marker>
<marker id="arrow-recv" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#0f766e"/></marker>
</defs></svg>
<header>
<h1>${opts.title ? `<span class="title">${esc(opts.title)}</span>` : ''}${esc(report.scenario)} ${verdict}</h1>
${opts.description ? `<p class="desc">${esc(opts.description.trim())}</p>` : ''}
<div class="config">policy <b>${esc(report.policy)}</b> \u00b7 access ${esc(report.access)} \u00b7 purge unit ${esc(report.purgeUnit)} \u00b7 schedule ${esc(report.schedule)} \u00b7 ${opts.choices ? `replayed choices <code>${esc(opts.choices.join(',') || '(none)')}</code>` : `seed ${report.seed}`} \u00b7 ${report.steps.length} steps \u00b7 ${report.kernel.purgedPages} page(s) purged${failed.length ? ` \u00b7 <b>broken: ${esc(failed.join('; '))}</b>` : ''}</div>
${legend()}
</header>
<section id="pagemap-section"><h2>Page map <span class="hint">each page of each mapping and file after every step (column = step number, \u2020 = a death and its cleanup); click a column to select its step</span></h2>
<p id="selected" class="selected">Select a step to see it here, in the list and in the diagram.</p>
${map ? `<div class="scroll-x">${map}</div>` : '<p class="missing">This history has no page snapshots: they are recorded when the run is made with --html.</p>'}
</section>
<div class="panes">
<section><h2>Steps <span class="hint">click a step, or use \u2191 \u2193</span></h2><div class="pane-body">${stepList(m, report)}</div></section>
<section><h2>Space-time diagram <span class="hint">time flows down; arrows are messages</span></h2>
${noMessages ? '<p class="missing">This history has no messages: they are recorded with --html or --trace.</p>' : ''}
<div class="pane-body" id="spacetime-pane">${st.header}${st.svg}</div></section>
</div>
<section><details><summary>Narrated report</summary><pre>${esc(lines.join('\n'))}</pre></details></section>
<script>${SCRIPT}</script>
</body></html>
`;
}
