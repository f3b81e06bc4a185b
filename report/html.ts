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
//
// Split: html_model.ts builds the run as the page sees it, html_spacetime.ts and html_pagemap.ts
// draw 1 and 2; this file draws the step list and the page shell (CSS, script, layout).

import type { RunReport } from './report.js';
import type { HistoryEvent } from '../coordinator/history.js';
import { describeResult, describeStep } from './report.js';
import { expectationFor, matches } from '../checker/expectations.js';
import { buildModel, esc, escText, windowItems, type Model, type Note } from './html_model.js';
import { spaceTime } from './html_spacetime.js';
import { LABEL_W, pageMap } from './html_pagemap.js';

export interface HtmlOptions {
  /** The scenario's description, shown under the title. */
  description?: string;
  /** A heading above the scenario name (e.g. "outcome 2 of 3, witness schedule"). */
  title?: string;
  /** The schedule this run replayed (`--choices`): shown instead of the seed, which did not choose it. */
  choices?: string[];
  /** A run still going (`vrange play`): this badge instead of the verdict. */
  live?: string;
  /** HTML put under the header, and CSS and script put in the head (`vrange play`'s panel); inline only. */
  top?: string;
  head?: string;
}

// ---------------------------------------------------------------- step list

/** The window an entry is in (html_model.ts), and hidden unless it is the first. */
function winAttr(m: Model, key: string): string {
  const w = m.winOf.get(key) ?? 0;
  return ` data-win="${w}"${w !== 0 ? ' hidden' : ''}`;
}

/** The pager of a long run: one button per window, and the previous and next ones. */
function pager(m: Model): string {
  if (m.windows.length <= 1) return '';
  const options = m.windows.map((wd, w) => `<option value="${w}">part ${w + 1} of ${m.windows.length}: ${esc(wd.label)}</option>`).join('');
  return `<nav id="pager" aria-label="parts of the run"><button type="button" data-move="-1" title="previous part">\u25c0</button>`
    + `<select id="part" aria-label="part of the run">${options}</select><button type="button" data-move="1" title="next part">\u25b6</button>`
    + `<span class="hint">a long run is shown ${windowItems} entries at a time; \u2191 \u2193 walk on across parts</span></nav>`;
}

function stepList(m: Model, report: RunReport): string {
  const notesByKey = new Map<string, Note[]>();
  for (const n of m.notes) {
    const l = notesByKey.get(n.key) ?? [];
    l.push(n);
    notesByKey.set(n.key, l);
  }
  const items: Array<{ seq: number; html: string }> = [];
  for (const s of m.steps) {
    const r = s.e.result;
    const exp = expectationFor(s.step, report.policy) ?? (s.step.op === 'check' ? { ok: true } : undefined);
    const ok = exp ? matches(exp, r) : undefined;
    const verdict = exp === undefined ? '' : ok ? '<span class="exp ok" title="as expected">\u2713</span>' : `<span class="exp bad" title="expected ${esc(JSON.stringify(exp))}">\u2717 expected ${esc(JSON.stringify(exp))}</span>`;
    const cls = s.e.type === 'info' ? 'info' : r.ok ? 'ok' : 'fail';
    const label = s.step.label ? ` <span class="label">(${esc(String(s.step.label))})</span>` : '';
    const notes = (notesByKey.get(s.key) ?? []).map((n) => `<li class="note k-${n.e.kind}">${esc(n.text)}</li>`).join('');
    const caption = `Step ${s.key}: ${s.process} #${s.index} ${describeStep(s.step)} \u2192 ${describeResult(r)}`;
    items.push({ seq: s.seq, html: `<li class="step-row ${cls}"${winAttr(m, s.key)} data-step="${s.key}" data-caption="${esc(caption)}" tabindex="0"><span class="no">${s.key}</span>`
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
    items.push({ seq: n.seq, html: `<li class="event-row k-${n.e.kind}"${winAttr(m, n.key)} data-step="${n.key}" data-caption="${esc(caption)}" tabindex="0"><span class="no">\u2022</span><span class="who kernel">kernel</span> ${text}</li>` });
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
.verdict.pass { background: #16a34a; } .verdict.fail { background: #dc2626; } .verdict.live { background: #2563eb; }
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
#pagemap .pm-win { position: relative; } #pagemap .pm-head, #pagemap .band { display: flex; align-items: center; }
#pagemap .rowhead { width: ${LABEL_W}px; flex: none; display: flex; flex-direction: column; gap: 4px; padding-left: 8px; }
#pagemap .pm-row { margin-top: 6px; } #pagemap .rowlabel { font-size: 15px; font-weight: 700; padding-left: 8px; }
#pagemap .rowlabel .what { font-weight: 400; color: var(--muted); font-size: 13px; }
#pagemap .band .pageno { width: ${LABEL_W}px; flex: none; text-align: right; padding-right: 6px; font-size: 12px; color: var(--muted); white-space: nowrap; overflow: hidden; }
#pagemap .band.many .pageno { cursor: pointer; color: #1d4ed8; text-decoration: underline dotted; } #pagemap .band.open .pageno { color: #92400e; }
#pagemap .colhl { position: absolute; top: 0; bottom: 0; display: none; background: rgba(245, 158, 11, 0.16); border: 2px solid var(--hl); border-radius: 3px; pointer-events: none; z-index: 1; }
#pager { display: flex; flex-wrap: wrap; gap: 4px; align-items: center; margin: 0 0 8px; } #pager button { font: inherit; font-size: 13px; padding: 1px 8px; border: 1px solid var(--line); border-radius: 4px; background: #fff; cursor: pointer; }
#pager select { font: inherit; font-size: 14px; padding: 1px 4px; }
.panes.stacked { grid-template-columns: minmax(0, 1fr); } .panes.stacked > section:first-child { height: 40vh; border-radius: 8px 8px 0 0; }
.panes.stacked > section:last-child { border-left: 1px solid var(--line); border-top: 0; border-radius: 0 0 8px 8px; }
.lane-name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#spacetime .narrow .arrow text, #spacetime .narrow .marker text, #spacetime .narrow .stepop { display: none; }
#pagemap .colno { font-size: 13px; font-weight: 700; fill: #334155; cursor: pointer; } #pagemap .colno.death { fill: #b91c1c; font-size: 16px; }
#pagemap .frames { font-size: 11px; fill: var(--muted); } #pagemap .rowhead { font-size: 13px; color: var(--muted); }
#pagemap .cell { cursor: pointer; }
details pre { background: #0f172a; color: #e2e8f0; padding: 12px; overflow-x: auto; font-size: 13px; border-radius: 6px; }
.selected { margin: 0 0 6px; font-weight: 600; min-height: 1.45em; color: #92400e; }
.missing { color: var(--muted); font-style: italic; }
`;

// Selecting a step: every element with its data-step gets .hl, and the page map's column is lit;
// the arrow keys walk the list, on across the windows of a long run (the pager shows one at a
// time); a page-map band's label expands it into one row per page, and folds it again.
const SCRIPT = `
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('#steps > li'));
  var current = -1, win = 0;
  function show(w) {
    if (w === win) return;
    win = w;
    document.querySelectorAll('[data-win]').forEach(function (el) {
      var on = el.getAttribute('data-win') === String(w);
      if (el instanceof SVGElement) el.style.display = on ? '' : 'none'; else el.hidden = !on;
    });
    var part = document.getElementById('part');
    if (part) part.value = String(w);
  }
  function litColumn(key) {
    document.querySelectorAll('#pagemap .colhl').forEach(function (el) { el.style.display = 'none'; });
    var col = document.querySelector('#pagemap .pm-win:not([hidden]) .col[data-step="' + key + '"]');
    if (!col) return;
    var pm = col.closest('.pm-win'), hl = pm.querySelector('.colhl');
    var a = col.getBoundingClientRect(), b = pm.getBoundingClientRect();
    hl.style.left = (a.left - b.left) + 'px'; hl.style.width = a.width + 'px'; hl.style.display = 'block';
  }
  function select(key, from) {
    var at = rows.findIndex(function (r) { return r.dataset.step === key; });
    if (at >= 0 && rows[at].dataset.win !== undefined) show(Number(rows[at].dataset.win));
    document.querySelectorAll('.hl').forEach(function (el) { el.classList.remove('hl'); });
    document.querySelectorAll('[data-step="' + key + '"]').forEach(function (el) { el.classList.add('hl'); });
    current = at;
    document.body.dataset.selected = key;
    var row = rows[current];
    var caption = document.getElementById('selected');
    if (caption && row) caption.textContent = row.getAttribute('data-caption');
    litColumn(key);
    if (row && from !== 'list') row.scrollIntoView({ block: 'nearest' });
    var bar = document.querySelector('#spacetime [data-step="' + key + '"]');
    if (bar && from !== 'diagram') bar.scrollIntoView({ block: 'center', inline: 'nearest' });
  }
  function toggleBand(band) {
    if (band.classList.contains('open')) {
      band.classList.remove('open');
      band.querySelector('svg').style.display = '';
      while (band.nextElementSibling && band.nextElementSibling.classList.contains('clone')) band.nextElementSibling.remove();
      return;
    }
    var first = Number(band.dataset.first), n = Number(band.dataset.n);
    var list = band.dataset.list ? band.dataset.list.split(',').map(Number) : null;
    var after = band;
    for (var i = 0; i < n; i++) {
      var page = list ? list[i] : first + i;
      var c = band.cloneNode(true);
      c.classList.remove('many'); c.classList.add('clone');
      c.dataset.first = String(page); c.dataset.n = '1'; delete c.dataset.list;
      c.querySelector('.pageno').textContent = 'page ' + page;
      c.querySelector('.pageno').removeAttribute('title');
      c.querySelectorAll('.cell').forEach(function (g) { g.setAttribute('data-page', String(page)); });
      after.after(c); after = c;
    }
    band.classList.add('open');
    band.querySelector('svg').style.display = 'none';
  }
  document.addEventListener('click', function (ev) {
    var el = ev.target;
    if (!el.closest) return;
    var b = el.closest('#pager button');
    if (b) { show(Math.max(0, Math.min(document.querySelectorAll('#part option').length - 1, win + Number(b.dataset.move)))); return; }
    var label = el.closest('#pagemap .band.many .pageno');
    if (label) { toggleBand(label.closest('.band')); return; }
    var cell = el.closest('#pagemap .cell');
    if (cell) {
      var pm = cell.closest('.pm-win'), svg = cell.ownerSVGElement;
      var cols = pm.querySelectorAll('.col');
      var k = Math.floor((ev.clientX - svg.getBoundingClientRect().left) / Number(pm.dataset.cw));
      var col = cols[Math.max(0, Math.min(cols.length - 1, k))];
      if (col && col.getAttribute('data-step')) select(col.getAttribute('data-step'), 'map');
      return;
    }
    var t = el.closest('[data-step]');
    if (!t) return;
    select(t.getAttribute('data-step'), t.closest('#steps') ? 'list' : t.closest('#spacetime') ? 'diagram' : 'map');
  });
  var part = document.getElementById('part');
  if (part) part.addEventListener('change', function () { show(Number(part.value)); });
  document.addEventListener('keydown', function (ev) {
    if (ev.target && ev.target.id === 'part') return;
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
  const map = pageMap(m, report.kernel.processes.map((p) => p.name));
  const noMessages = m.messages.length === 0;
  const verdict = opts.live !== undefined ? `<span class="verdict live">${esc(opts.live)}</span>`
    : `<span class="verdict ${report.ok ? 'pass' : 'fail'}">${report.ok ? 'PASS' : 'FAIL'}</span>`;
  const failed = report.invariants.filter((i) => !i.ok).map((i) => `${i.name}${i.detail ? `: ${i.detail}` : ''}`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vrange: ${esc(report.scenario)}</title>
<style>${CSS}</style>${opts.head ?? ''}</head><body>
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
${opts.top ?? ''}<section id="pagemap-section"><h2>Page map <span class="hint">each page of each mapping and file after every step (column = step number, \u2020 = a death and its cleanup); click a column to select its step</span></h2>
<p id="selected" class="selected">Select a step to see it here, in the list and in the diagram.</p>
${pager(m)}
${map ? `<div class="scroll-x">${map}</div>` : '<p class="missing">This history has no page snapshots: they are recorded when the run is made with --html.</p>'}
</section>
<div class="panes${st.stacked ? ' stacked' : ''}">
<section><h2>Steps <span class="hint">click a step, or use \u2191 \u2193</span></h2><div class="pane-body">${stepList(m, report)}</div></section>
<section><h2>Space-time diagram <span class="hint">time flows down; arrows are messages</span></h2>
${noMessages ? '<p class="missing">This history has no messages: they are recorded with --html or --trace.</p>' : ''}
<div class="pane-body" id="spacetime-pane">${st.header}${st.svg}</div></section>
</div>
<section><details><summary>Narrated report</summary><pre>${escText(lines.join('\n'))}</pre></details></section>
<script>${SCRIPT}</script>
</body></html>
`;
}
