// The `--html` page's space-time diagram (report/html.ts): one vertical lane per process and one
// for the kernel, time going down; each step a bar, every kernel<->agent message an arrow; kills,
// OOM kills, SIGBUS, injected faults, cleanups and reclaim decisions are marked. SVG text only.

import { isRunList, pageCount, pagesOf } from '../shared/runs.js';
import type { AgentMsg, KernelMsg } from '../shared/messages.js';
import { describeResult, describeStep } from './report.js';
import { esc, escText, windowOfSeq, type Model } from './html_model.js';

const LEFT = 130;
const TOP = 16;
/** Room to the right of the last lane (its markers' words). */
const RIGHT = 230;
/** The diagram's width beside the step list (few lanes) or under it (many), for a 1,400 px window. */
const SIDE_W = 680, FULL_W = 1240;
/** Lanes never closer than this: beyond (some 40 processes) the diagram scrolls, its lane names stay on top. */
const GAP_MIN = 26, GAP_MAX = 210;
/** Below this gap the arrows' and markers' words are left to their tooltips. */
const GAP_WORDS = 100;

/** Where the lanes go: beside the step list while they fit there with room for words, else under it. */
export function laneLayout(lanes: number): { gap: number; stacked: boolean; width: number } {
  const fit = (w: number) => Math.max(GAP_MIN, Math.min(GAP_MAX, Math.floor((w - LEFT - RIGHT) / Math.max(1, lanes - 1))));
  const stacked = fit(SIDE_W) < GAP_WORDS + 40;
  const gap = fit(stacked ? FULL_W : SIDE_W);
  return { gap, stacked, width: LEFT + (lanes - 1) * gap + RIGHT };
}

function msgLabel(m: AgentMsg | KernelMsg): string {
  const pages = (runs: unknown, stride: number) => {
    if (!isRunList(runs, stride)) return '';
    const n = pageCount(runs, stride);
    return n > 4 ? `${n} pages` : `[${pagesOf(runs, stride).join(',')}]`;
  };
  switch (m.t) {
    case 'grant': return `grant #${m.index}`;
    case 'start': return `start #${m.index}`;
    case 'done': { const r = m.result; return `done #${m.index}${r.ok ? '' : ` ${String(r.signal ?? r.errno ?? 'failed')}`}`; }
    case 'init': return `init ${m.name}`;
    case 'ret': return `ret${m.errno ? ` ${m.errno}` : m.signal ? ` ${m.signal}` : m.retry ? ' retry' : m.stuck ? ' stuck' : ''}`;
    case 'prepare': return `prepare x${m.xid} ${pages(m.runs, 2)}`;
    case 'prepared': return `prepared x${m.xid}: ${isRunList(m.runs, 4) ? pageCount(m.runs, 4) : 0} volatile`;
    case 'commit': return `commit x${m.xid} purged ${pages(m.runs, 2)}`;
    case 'committed': return `committed x${m.xid}`;
    case 'read': return `read page ${m.vpage}`;
    case 'write': return `write page ${m.vpage}${m.offset === undefined ? '' : ` +${m.offset}`}`;
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

function shortJson(x: unknown, max = 400): string {
  const s = JSON.stringify(x);
  return s.length > max ? s.slice(0, max) + '...' : s;
}

/** The diagram, a window of the run at a time (html_model.ts); the lane names stay at the top. */
export function spaceTime(m: Model): { header: string; svg: string; stacked: boolean } {
  const { gap, stacked, width } = laneLayout(m.lanes.length);
  const x = new Map(m.lanes.map((l, i) => [l, LEFT + i * gap]));
  // Each step, note, message, birth and end in the window of its step, in one pass.
  const parts = m.windows.map(() => ({ steps: [] as Model['steps'], notes: [] as Model['notes'], messages: [] as Model['messages'],
    births: new Map<string, number>(), ends: new Map() as Model['ends'] }));
  const part = (seq: number) => parts[windowOfSeq(m, seq)]!;
  for (const st of m.steps) part(st.seq).steps.push(st);
  for (const n of m.notes) part(n.seq).notes.push(n);
  for (const e of m.messages) part(e.seq).messages.push(e);
  for (const [l, seq] of m.births) part(seq).births.set(l, seq);
  for (const [l, e] of m.ends) part(e.seq).ends.set(l, e);
  const svgs = m.windows.map((wd, w) => {
    // A lane is drawn in a window when its process lives there: born before its end, not ended before its start.
    const lanes = m.lanes.filter((l) => l === m.kernel || ((m.births.get(l) ?? 0) <= wd.lastSeq && (m.ends.get(l)?.seq ?? Infinity) >= wd.firstSeq));
    return drawWindow({ ...m, lanes, ...parts[w]! }, x, width, gap, w, w !== 0);
  });
  const nameW = Math.min(160, gap);
  const header = m.lanes.map((l) => `<div class="lane-name" style="left:${x.get(l)! - nameW / 2}px;width:${nameW}px;color:${m.colour.get(l)}${gap < 40 ? ';font-size:11px' : gap < 60 ? ';font-size:13px' : ''}" title="${esc(l)}">${esc(l)}</div>`).join('');
  return { header: `<div class="lane-head" style="width:${width}px">${header}</div>`, svg: `<div id="spacetime">${svgs.join('\n')}</div>`, stacked };
}

function drawWindow(m: Model, x: Map<string, number>, width: number, gap: number, w: number, hidden: boolean): string {
  const LANE_GAP = gap;
  /** Wide lanes: each arrow says what it carries; narrow ones leave it to the tooltip (and a shorter one). */
  const words = gap >= GAP_WORDS;
  const y = new Map<number, number>();
  let cur = TOP;
  const noteSeqs = new Set(m.notes.map((n) => n.seq));
  // The events that take room down the page (an invoke and a birth only need their seq and kind).
  const events: Array<{ seq: number; kind: string }> = [...m.messages, ...m.steps.map((s) => s.e), ...m.notes.map((n) => n.e)];
  for (const s of m.steps) if (s.invokeSeq >= 0) events.push({ seq: s.invokeSeq, kind: 'invoke' });
  for (const b of m.births.values()) events.push({ seq: b, kind: 'birth' });
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
    const born = m.births.get(lane);
    const from = lane === m.kernel || born === undefined ? 0 : y.get(born)!;
    const end = m.ends.get(lane);
    const to = end ? (y.get(end.seq) ?? height - 18) + 8 : height - 10;
    out.push(`<line class="lane" data-lane="${esc(lane)}" x1="${lx}" y1="${from}" x2="${lx}" y2="${to}" stroke="${m.colour.get(lane)}" stroke-width="${lane === m.kernel ? 4 : 3}"/>`);
    if (lane !== m.kernel && born !== undefined) out.push(`<circle cx="${lx}" cy="${from}" r="5" fill="${m.colour.get(lane)}"><title>${escText(lane)} starts</title></circle>`);
  }
  // Step bars, and the step numbers in the left gutter.
  for (const s of m.steps) {
    const lx = x.get(s.process)!;
    const y1 = s.invokeSeq >= 0 ? y.get(s.invokeSeq)! : y.get(s.seq)! - 6;
    const y2 = Math.max(y.get(s.seq)!, y1 + 6);
    const r = s.e.result;
    const cls = s.e.type === 'info' ? 'info' : r.ok ? 'ok' : 'fail';
    out.push(`<g class="bar ${cls}" data-step="${s.key}" data-process="${esc(s.process)}"><rect x="${lx - 7}" y="${y1}" width="14" height="${y2 - y1}" rx="4"/>`
      + `<title>step ${s.key}: ${escText(s.process)} #${s.index} ${escText(describeStep(s.step))} -> ${escText(describeResult(r))}</title></g>`);
    out.push(`<text class="stepno" data-step="${s.key}" x="${LEFT - 118}" y="${y2 + 4}">${s.key}</text>`
      + `<text class="stepop" data-step="${s.key}" x="${LEFT - 92}" y="${y2 + 4}" fill="${m.colour.get(s.process)}">${esc(s.process)} ${esc(String(s.step.op))}</text>`);
    if (!r.ok && r.signal === 'SIGBUS') { // a signal this process got (a waitpid's `signal` is another's)
      out.push(`<g class="marker sigbus" data-lane="${esc(s.process)}" data-step="${s.key}" transform="translate(${lx},${y2})">`
        + `<circle r="11"/><path d="M2,-8 L-4,1 L0,1 L-2,8 L4,-1 L0,-1 Z" fill="#fff"/><text x="15" y="4">SIGBUS</text><title>${escText(s.process)} got SIGBUS: it touched a purged page that is still volatile</title></g>`);
    }
  }
  // Messages: a send leaves the kernel at its event and reaches the agent a little later; a
  // receive left the agent a little earlier. The kernel records both ends in one event.
  for (const e of m.messages) {
    const msg = e.msg;
    const agent = e.agent;
    const kx = x.get(m.kernel)!;
    const ax = x.get(agent) ?? kx + LANE_GAP;
    const ey = y.get(e.seq)!;
    const [x1, x2] = e.dir === 'send' ? [kx, ax] : [ax, kx];
    const y1 = ey;
    const y2 = ey + 16;
    const label = msgLabel(msg);
    const mx = (x1 + x2) / 2;
    out.push(`<g class="arrow ${e.dir}" data-seq="${e.seq}" data-dir="${e.dir}" data-agent="${esc(agent)}" data-t="${esc(String(msg.t))}"${attrStep(e.seq)}>`
      + `<line x1="${x1}" y1="${y1}" x2="${x2 + (x2 > x1 ? -4 : 4)}" y2="${y2}" marker-end="url(#arrow-${e.dir})"/>`
      + (words ? `<text x="${mx}" y="${(y1 + y2) / 2 - 3}" text-anchor="middle">${esc(label)}</text>` : '')
      + `<title>${e.dir === 'send' ? `kernel -> ${escText(agent)}` : `${escText(agent)} -> kernel`}: ${escText(words ? shortJson(msg) : `${label}: ${shortJson(msg, 120)}`)}</title></g>`);
  }
  out.push(...drawNotes(m, x, y, attrStep));
  return `<svg class="st-win${gap < GAP_WORDS ? ' narrow' : ''}" data-win="${w}" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"${hidden ? ' style="display:none"' : ''}>${out.join('\n')}</svg>`;
}

/** The kernel's decisions, reclaim exchanges, kills, faults, deaths and waits, as markers. */
function drawNotes(m: Model, x: Map<string, number>, y: Map<number, number>, attrStep: (seq: number) => string): string[] {
  const out: string[] = [];
  for (const n of m.notes) {
    const e = n.e;
    const ey = y.get(e.seq)!;
    const kx = x.get(m.kernel)!;
    const step = attrStep(e.seq);
    const px = e.process === undefined ? undefined : x.get(e.process);
    switch (e.kind) {
      case 'decision':
        out.push(`<g class="marker decision ${e.purge ? 'purged' : 'kept'}" data-seq="${e.seq}"${step} transform="translate(${kx},${ey + 8})">`
          + `<rect x="-7" y="-7" width="14" height="14" transform="rotate(45)"/><text x="-14" y="4" text-anchor="end">${e.purge ? 'PURGE' : 'keep'}</text><title>${escText(n.text)}</title></g>`);
        break;
      case 'reclaim-prepare': case 'reclaim-commit':
        out.push(`<g class="marker reclaim" data-seq="${e.seq}"${step} transform="translate(${kx},${ey + 10})"><rect x="-10" y="-9" width="20" height="18" rx="3"/>`
          + `<text x="-14" y="4" text-anchor="end">${e.kind === 'reclaim-prepare' ? `reclaim x${e.xid}` : `freed ${e.freed}`}</text><title>${escText(n.text)}</title></g>`);
        break;
      case 'kill': case 'oom-kill': {
        const cls = e.kind === 'kill' ? 'kill' : 'oom';
        if (px !== undefined) {
          out.push(`<g class="signal-line" data-seq="${e.seq}"${step}><line x1="${kx}" y1="${ey + 10}" x2="${px}" y2="${ey + 10}"/></g>`);
          out.push(`<g class="marker ${cls}" data-lane="${esc(e.process)}" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})">`
            + `<circle r="11"/><path d="M-5,-5 L5,5 M5,-5 L-5,5" stroke="#fff" stroke-width="3"/><text x="15" y="4">${e.kind === 'kill' ? 'SIGKILL' : 'OOM kill'}</text><title>${escText(n.text)}</title></g>`);
        }
        break;
      }
      case 'fault':
        if (px !== undefined) {
          out.push(`<g class="marker fault" data-lane="${esc(e.process)}" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})">`
            + `<path d="M0,-11 L11,9 L-11,9 Z"/><text x="0" y="7" text-anchor="middle" fill="#fff" font-weight="700">!</text><text x="15" y="4">fault ${esc(String(e.fault))}</text><title>${escText(n.text)}</title></g>`);
        }
        break;
      case 'cleanup':
        if (px !== undefined) {
          const how = e.signal ? `killed by ${e.signal}${e.outside ? ' from outside vrange' : ''}` : `exit ${e.exitCode}`;
          out.push(`<g class="marker cleanup" data-lane="${esc(e.process)}" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 8})">`
            + `<rect x="-16" y="-3" width="32" height="6" rx="2"/><text x="20" y="4">${esc(how)}, cleanup</text><title>${escText(n.text)}</title></g>`);
        }
        break;
      case 'blocked':
        if (px !== undefined) out.push(`<g class="marker blocked" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})"><circle r="6"/><text x="12" y="4">waits for x${e.xid}</text><title>${escText(n.text)}</title></g>`);
        break;
      case 'stuck':
        if (px !== undefined) out.push(`<g class="marker stuck" data-seq="${e.seq}"${step} transform="translate(${px},${ey + 10})"><circle r="8"/><text x="12" y="4">STUCK</text><title>${escText(n.text)}</title></g>`);
        break;
      default:
        out.push(`<g class="marker note" data-seq="${e.seq}"${step} transform="translate(${kx},${ey + 10})"><circle r="4"/><title>${escText(n.text)}</title></g>`);
    }
  }
  return out;
}
