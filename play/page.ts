// The page of `vrange play`: the `--html` page of the run so far (report/html.ts: page map, step
// list with the kernel's decisions in words, space-time diagram), with the game's panel on top:
// one button per enabled action, undo, redo, restart, quit, the moves made, the outcome classes
// of `explore --all` (reached ones ticked) and, at the end, the class reached and the replay line.
//
// Every button is a plain form POST (the server answers 303 to the page again), so the page works
// without its script; the inline script only adds keys (1-9, u, r), the heartbeat and the
// goodbye beacon when the page is closed. Nothing is fetched from anywhere else.

import { renderHtml } from '../report/html.js';
import { esc } from '../report/html_model.js';
import type { GameState } from './game.js';
import type { ClassesState } from './classes.js';

export interface PageParts {
  game: GameState;
  classes: ClassesState;
  /** Class keys reached in this game (over every run, undo or not). */
  reached: ReadonlySet<string>;
  token: string;
  driver: string;
  description?: string;
  /** A line to show once (a refused move, a page that took over). */
  notice?: string;
  /** Goals as challenges (when the scenario has them): name, and whether reached in this run / ever. */
  goals?: Array<{ name: string; title: string; now: boolean; ever: boolean }>;
  /** How often the page's script beats (play.ts heartbeatIntervalMs). */
  heartbeatMs: number;
}

const PANEL_CSS = `<style>
#play { background: #eff6ff; border: 2px solid #2563eb; border-radius: 8px; margin: 12px 16px; padding: 12px 16px; }
#play h2 { margin: 0 0 6px; } #play .row { display: flex; flex-wrap: wrap; gap: 8px; margin: 6px 0; align-items: center; }
#play form { display: inline-flex; flex-wrap: wrap; gap: 8px; margin: 0; }
#play button { font: inherit; padding: 6px 12px; border-radius: 6px; border: 1px solid #1d4ed8; background: #fff; cursor: pointer; }
#play button.option { background: #1d4ed8; color: #fff; font-family: ui-monospace, monospace; font-size: 15px; }
#play button.option.kill { background: #b91c1c; border-color: #b91c1c; }
#play button:disabled { opacity: .45; cursor: default; }
#play .moves { font-family: ui-monospace, monospace; font-size: 14px; color: #334155; }
#play .notice { background: #fef3c7; padding: 4px 10px; border-radius: 6px; }
#play ul.classes li.found { color: #15803d; } #play ul.classes li.found::marker { content: "\\2713  "; }
#play .outcome { background: #dcfce7; padding: 8px 12px; border-radius: 6px; }
#play code.replay { display: block; white-space: pre-wrap; word-break: break-all; background: #fff; padding: 6px; border: 1px solid #cbd5e1; }
#play li.goal.now { font-weight: 700; color: #15803d; } #play li.goal.ever { color: #15803d; }
</style>`;

function pageScript(token: string, driver: string, heartbeatMs: number): string {
  return `<script>
(function () {
  var q = '?t=${token}', d = 'd=${driver}', leaving = true, reload, submitted = false;
  // The model is still searching the classes: ask /state every 1.5 s and reload once they are
  // there (a reload is no goodbye). The page itself is not reloaded while they are computed: a
  // click during such a reload could land on a page on its way out and be lost.
  function poll() {
    reload = setTimeout(function () {
      fetch('/state' + q).then(function (r) { return r.ok ? r.json() : null; }).then(function (st) {
        if (submitted) return;
        if (st && st.classes && st.classes.state !== 'computing') { leaving = false; location.reload(); } else poll();
      }, function () { if (!submitted) poll(); });
    }, 1500);
  }
  // A long run is paged (80 entries a part): show the part with the latest move.
  window.addEventListener('DOMContentLoaded', function () {
    if (document.querySelector('[data-classes="computing"]')) poll();
    var part = document.getElementById('part');
    if (part && part.options.length > 1) { part.value = String(part.options.length - 1); part.dispatchEvent(new Event('change')); }
  });
  // A move's answer is the page again: no reload on top of it (it would cancel the move's page).
  document.addEventListener('submit', function () { leaving = false; submitted = true; clearTimeout(reload); });
  setInterval(function () { fetch('/beat' + q, { method: 'POST', body: d, headers: { 'content-type': 'application/x-www-form-urlencoded' } }).catch(function () {}); }, ${heartbeatMs});
  window.addEventListener('pagehide', function () { if (leaving && navigator.sendBeacon) navigator.sendBeacon('/bye' + q, new Blob([d], { type: 'application/x-www-form-urlencoded' })); });
  document.addEventListener('keydown', function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || (ev.target && ev.target.tagName === 'SELECT')) return;
    var b = null;
    if (ev.key >= '1' && ev.key <= '9') b = document.querySelector('#play button.option[data-n="' + ev.key + '"]');
    else if (ev.key === 'u') b = document.getElementById('undo');
    else if (ev.key === 'r') b = document.getElementById('redo');
    if (b && !b.disabled) { ev.preventDefault(); b.click(); }
  });
})();
</script>`;
}

const form = (token: string, driver: string, action: string, inner: string) =>
  `<form method="post" action="/${action}?t=${token}"><input type="hidden" name="d" value="${driver}">${inner}</form>`;

function classList(p: PageParts): string {
  const c = p.classes;
  if (c.state === 'computing') return '<p class="hint" data-classes="computing">The outcome classes of <code>explore --all</code>: the model is still searching\u2026 (the page reloads when it is done)</p>';
  if (c.state === 'failed') return `<p class="hint">The outcome classes are not known: ${esc(c.why)}</p>`;
  const items = c.classes.map((x, i) => `<li class="${p.reached.has(x.key) ? 'found' : 'unfound'}" data-class="${i + 1}"><b>class ${i + 1}</b> (${x.traces} trace(s)): ${esc(x.summary)}</li>`).join('');
  const found = c.classes.filter((x) => p.reached.has(x.key)).length;
  return `<h3>Outcome classes (explore --all finds ${c.classes.length}; you have reached ${found}) <span class="hint">what sets each apart</span></h3><ul class="classes">${items}</ul>`;
}

function outcome(p: PageParts): string {
  const o = p.game.outcome;
  if (!o) return '';
  const c = p.classes;
  let where: string;
  if (o.faults.length > 0) where = `with a kill (${esc(o.faults.join(', '))}): explore --all injects no faults, so this outcome is outside its classes`;
  else if (c.state !== 'ready') where = 'its class among those of explore --all: not known yet (the model is still searching)';
  else {
    const i = c.classes.findIndex((x) => x.key === o.key);
    const unfound = c.classes.map((x, n) => [x, n] as const).filter(([x]) => !p.reached.has(x.key));
    where = (i >= 0 ? `<b id="class-reached" data-class="${i + 1}">class ${i + 1} of ${c.classes.length}</b>` : '<b id="class-reached" data-class="0">an outcome explore --all did not find (a problem: please report it)</b>')
      + (unfound.length ? `; not yet reached: ${unfound.map(([, n]) => `class ${n + 1}`).join(', ')}` : '; you have reached every class');
  }
  return `<div class="outcome" id="outcome"><h3>The run is over: ${where}</h3><p>${esc(o.results.join('; '))}</p>`
    + `<p>Replay it: <code class="replay" id="replay">${esc(o.replay)}</code></p></div>`;
}

function goals(p: PageParts): string {
  if (!p.goals || p.goals.length === 0) return '';
  const items = p.goals.map((g) => `<li class="goal${g.now ? ' now' : g.ever ? ' ever' : ''}" data-goal="${esc(g.name)}">${g.now ? '\u2605 reached: ' : g.ever ? '\u2713 reached in an earlier run: ' : '\u2610 '}<b>${esc(g.name)}</b>: ${esc(g.title)}</li>`).join('');
  const n = p.goals.filter((g) => g.now || g.ever).length;
  return `<h3>Challenges (${n} of ${p.goals.length} reached)</h3><ul class="goals">${items}</ul>`;
}

function panel(p: PageParts): string {
  const { game: g, token: t, driver: d } = p;
  let n = 0;
  const options = g.options.map((o, i) => {
    n++;
    return `<button type="submit" name="i" value="${i}" class="option${o.fault ? ' kill' : ''}" data-n="${n <= 9 ? n : ''}" data-choice="${esc(o.choice)}" title="${n <= 9 ? `key ${n}` : ''}">${esc(o.label)}</button>`;
  }).join('');
  const controls = [
    form(t, d, 'undo', `<button type="submit" id="undo"${g.moves.length ? '' : ' disabled'} title="key u">\u21b6 undo</button>`),
    form(t, d, 'redo', `<button type="submit" id="redo"${g.redo.length ? '' : ' disabled'} title="key r">\u21b7 redo${g.redo.length ? ` (${esc(g.redo[0]!.label)})` : ''}</button>`),
    form(t, d, 'restart', `<button type="submit" id="restart"${g.moves.length ? '' : ' disabled'}>start again</button>`),
    form(t, d, 'quit', '<button type="submit" id="quit">quit (ends the processes and the server)</button>'),
  ].join('');
  const moves = g.moves.length ? `<ol class="moves" id="moves">${g.moves.map((m) => `<li>${esc(m.label)}</li>`).join('')}</ol>` : '<p class="moves hint" id="moves">No move yet.</p>';
  return `<section id="play"><h2>vrange play: you are the scheduler <span class="hint">move ${g.moves.length}</span></h2>`
    + (p.notice ? `<p class="notice" id="notice">${esc(p.notice)}</p>` : '')
    + (g.over ? outcome(p) : `<p>Grant one of the enabled actions (it runs on the real processes):</p><div class="row" id="options">${form(t, d, 'move', options)}</div>`)
    + `<div class="row">${controls}</div>${goals(p)}<details${g.moves.length ? ' open' : ''}><summary>Moves so far (${g.moves.length})</summary>${moves}</details>${classList(p)}</section>`;
}

export function playPage(p: PageParts): string {
  const g = p.game;
  return renderHtml(g.report, g.lines, g.history, {
    description: p.description, title: 'vrange play', live: g.over ? (g.report.ok ? 'OVER: PASS' : 'OVER: FAIL') : 'IN PLAY',
    top: panel(p), head: PANEL_CSS + pageScript(p.token, p.driver, p.heartbeatMs),
  });
}

/** The page once the game has ended. */
export function endedPage(): string {
  return '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>vrange play: ended</title></head><body><h1>The game has ended</h1><p>Its processes are gone and the server is closing; you may close this page.</p></body></html>';
}
