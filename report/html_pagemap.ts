// The `--html` page's page map (report/html.ts): for each mapping (process + binding) and each
// file, each page's state after every step and every cleanup, from the `snapshot` events
// (report/snapshot.ts). Histories of both forms are read: full rows (`pages`, with `at` for a long
// row) and delta rows (`delta: true`: only the runs that changed, `gone` for rows that ended).
//
// Drawn for one window of the run at a time (html_model.ts windows): a column per snapshot of
// the window, a row band per run of consecutive pages whose states are the same in every column
// of the window ("pages 3-62"; a click on its label expands it into one row per page, the page's
// script), and in a band a bar per run of columns in the same state. Rows in the scenario's order
// (its processes, then each process's bindings as they appeared, then the files).

import { describeStep } from './report.js';
import { esc, escText, KERNEL, type Model } from './html_model.js';
import type { HistoryEvent } from '../coordinator/history.js';

const CELL_H = 22;
export const LABEL_W = 190;
/** Room for the columns of one window: at 1,400 px the map never needs a horizontal scroll. */
const COLUMNS_W = 1040;

type Snap = Extract<HistoryEvent, { kind: 'snapshot' }>;
type AnyRow = Snap['maps'][number] | Snap['files'][number];

/** A row of the map: its page numbers by position, and its letters by position after each snapshot (undefined: not there). */
export interface PmRow { id: string; kind: 'map' | 'file'; owner: string; name: string; what: string; size: number; sparse: boolean; pages: number[]; cols: Array<string | undefined> }

const rowId = (r: { process?: string; name?: string; file?: string }) => (r.process !== undefined ? `map ${r.process} ${r.name}` : `file ${r.file}`);

function whatOf(r: AnyRow): string {
  if (!('process' in r)) return `${r.kind} file, page cache`;
  return r.kind === 'anon' ? 'anonymous' : r.kind === 'shmem' ? 'shared anonymous' : r.kind === 'unmapped' ? 'unmapped' : `${r.file} ${r.kind === 'file-shared' ? 'shared' : 'private'}`;
}

/** Every row's state after every snapshot, from full or delta snapshots; rows in the scenario's order. */
export function pageRows(snapshots: Snap[], order: readonly string[]): PmRow[] {
  const rows = new Map<string, PmRow & { cur?: Map<number, string> }>();
  const present = new Set<string>();
  snapshots.forEach((s, c) => {
    if (!s.delta) present.clear();
    for (const g of s.gone ?? []) present.delete(rowId(g));
    for (const r of [...s.maps, ...s.files] as AnyRow[]) {
      const id = rowId(r as { process?: string; name?: string; file?: string });
      let row = rows.get(id);
      if (!row) {
        row = { id, kind: 'process' in r ? 'map' : 'file', owner: 'process' in r ? r.process : KERNEL, name: 'process' in r ? r.name : r.file,
          what: whatOf(r), size: 0, sparse: false, pages: [], cols: [] };
        rows.set(id, row);
      }
      row.what = whatOf(r);
      // A new map each time the row changes: a column keeps the map it was drawn from.
      const cur = new Map(present.has(id) ? row.cur ?? [] : []);
      if ('set' in r) {
        row.size = r.size;
        row.sparse ||= r.sparse === true;
        for (const [p, n, letter] of r.set) for (let i = 0; i < n; i++) cur.set(p + i, letter);
      } else {
        row.size = r.total ?? r.pages.length;
        row.sparse ||= r.at !== undefined;
        cur.clear();
        [...r.pages].forEach((letter, k) => cur.set(r.at ? r.at[k]! : k, letter));
      }
      row.cur = cur;
      present.add(id);
    }
    for (const id of present) { const row = rows.get(id)!; row.cols[c] = row.cur as unknown as string; }
  });
  // Positions: every page of a short row; a long row's pages that were ever listed.
  const strings = new Map<unknown, string>();
  for (const row of rows.values()) {
    if (row.sparse) {
      const all = new Set<number>();
      for (const m of row.cols) if (m) for (const p of (m as unknown as Map<number, string>).keys()) all.add(p);
      row.pages = [...all].sort((a, b) => a - b);
    } else row.pages = Array.from({ length: row.size }, (_, i) => i);
    row.cols = row.cols.map((m) => {
      if (m === undefined) return undefined;
      const map = m as unknown as Map<number, string>;
      let str = strings.get(map);
      if (str === undefined) strings.set(map, (str = row.pages.map((p) => map.get(p) ?? 'a').join('')));
      return str;
    });
    delete row.cur;
  }
  const rank = (r: PmRow) => (r.kind === 'file' ? order.length : Math.max(0, order.indexOf(r.owner)));
  return [...rows.values()].sort((a, b) => rank(a) - rank(b)); // stable: first appearance within a process
}

const STATE_NAMES: Record<string, string> = { a: 'absent', r: 'resident', c: 'copy-on-write shared', p: 'purged', x: 'not mapped' };
function stateName(c: string): string {
  if (c === 'x') return STATE_NAMES.x!;
  return `${STATE_NAMES[c.toLowerCase()]}${c !== c.toLowerCase() ? ', volatile' : ''}`;
}

/** The pages (positions) of a row grouped into bands: consecutive positions with the same letters in columns c0..c1. */
function bands(row: PmRow, c0: number, c1: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const cols = row.cols.slice(c0, c1).filter((x): x is string => x !== undefined);
  const same = (p: number) => cols.every((letters) => letters.charCodeAt(p) === letters.charCodeAt(p - 1));
  for (let p = 0; p < row.pages.length; p++) {
    if (p > 0 && same(p) && (!row.sparse || row.pages[p] === row.pages[p - 1]! + 1)) out[out.length - 1]![1]++;
    else out.push([p, 1]);
  }
  return out;
}

const pagesLabel = (from: number, to: number) => (from === to ? `page ${from}` : `pages ${from}\u2013${to}`);

interface BySeq { steps: Map<number, Model['steps'][number]>; notes: Map<number, Model['notes'][number]> }

/** The page map of window `w`, or '' when it has no snapshot. */
function windowMap(m: Model, by: BySeq, rows: PmRow[], w: number, cols: number[], hidden: boolean): string {
  if (cols.length === 0) return '';
  const c0 = cols[0]!, c1 = cols[cols.length - 1]! + 1;
  const n = c1 - c0;
  const cw = Math.max(13, Math.min(40, Math.floor(COLUMNS_W / n)));
  const width = n * cw + 4;
  const head: string[] = [];
  for (let c = c0; c < c1; c++) {
    const s = m.snapshots[c]!;
    const cx = (c - c0) * cw;
    const key = m.owner.get(s.seq);
    const step = by.steps.get(s.after);
    const cleanup = step ? undefined : by.notes.get(s.after);
    const label = step ? step.key : cleanup ? '\u2020' : '';
    const shown = cw >= 24 || cleanup || c === c0 || (step && Number(step.key) % 5 === 0);
    // Narrow columns: the first column's words start at its left edge, so that none is cut.
    const [at, anchor] = c === c0 && cw < 24 ? [cx + 1, 'start'] : [cx + cw / 2, 'middle'];
    const tip = step ? `after step ${step.key}: ${step.process} #${step.index} ${describeStep(step.step)}` : cleanup ? `after ${cleanup.text}` : '';
    head.push(`<g class="col" data-snap="${c}"${key ? ` data-step="${key}"` : ''}><rect class="colbg" x="${cx}" y="2" width="${cw}" height="50" rx="3"/>`
      + `<text class="colno${cleanup ? ' death' : ''}" x="${at}" y="20" text-anchor="${anchor}">${shown ? esc(label) : ''}</text>`
      + `<text class="frames" x="${at}" y="42" text-anchor="${anchor}">${shown ? s.frames.used : ''}</text><title>${escText(tip)}; ${s.frames.used} of ${s.frames.total} frames in use</title></g>`);
  }
  const body: string[] = [];
  for (const r of rows) {
    if (!r.cols.slice(c0, c1).some((x) => x !== undefined)) continue;
    const colour = r.kind === 'file' ? '#334155' : m.colour.get(r.owner) ?? '#334155';
    const what = r.sparse ? `${r.what}; ${r.size} pages, only the ${r.pages.length} touched drawn` : r.what;
    const attrs = r.kind === 'file' ? `data-file="${esc(r.name)}"` : `data-owner="${esc(r.owner)}" data-map="${esc(r.name)}"`;
    const title = r.kind === 'file' ? `file ${r.name}` : `${r.owner} ${r.name}`;
    body.push(`<div class="pm-row"><div class="rowlabel" style="color:${colour}">${r.kind === 'file' ? `file ${esc(r.name)}` : `${esc(r.owner)} \u00b7 ${esc(r.name)}`} <span class="what">${esc(what)}</span></div>`);
    for (const [p, count] of bands(r, c0, c1)) {
      const first = r.pages[p]!, last = r.pages[p + count - 1]!;
      const list = r.sparse && count > 1 ? ` data-list="${r.pages.slice(p, p + count).join(',')}"` : '';
      const segs: string[] = [];
      for (let c = c0; c < c1;) {
        const st = r.cols[c]?.[p];
        let e = c + 1;
        while (e < c1 && r.cols[e]?.[p] === st) e++;
        if (st !== undefined) {
          const vol = st !== 'x' && st !== st.toLowerCase();
          const x = (c - c0) * cw + 2, wd = (e - c) * cw - 4;
          segs.push(`<g class="cell s-${st.toLowerCase()}${vol ? ' vol' : ''}" ${attrs} data-page="${first}" data-snap="${c}" data-snaps="${e - c}" data-state="${st}">`
            + `<rect x="${x}" y="1" width="${wd}" height="${CELL_H - 3}" rx="3"/>` + (vol ? `<rect class="stripes" x="${x}" y="1" width="${wd}" height="${CELL_H - 3}" rx="3"/>` : '')
            + `<title>${escText(title)} ${pagesLabel(first, last)}: ${stateName(st)}</title></g>`);
        }
        c = e;
      }
      body.push(`<div class="band${count > 1 ? ' many' : ''}" data-first="${first}" data-n="${count}"${list}><span class="pageno"${count > 1 ? ' title="click to show each page"' : ''}>${pagesLabel(first, last)}${count > 1 ? ` <b>(${count})</b>` : ''}</span>`
        + `<svg width="${width}" height="${CELL_H}">${segs.join('')}</svg></div>`);
    }
    body.push('</div>');
  }
  return `<div class="pm-win" data-win="${w}" data-cw="${cw}"${hidden ? ' hidden' : ''}><div class="colhl"></div>`
    + `<div class="pm-head"><div class="rowhead"><span>after step</span><span>frames in use</span></div><svg width="${width}" height="54">${head.join('')}</svg></div>`
    + `${body.join('\n')}</div>`;
}

/** The page map, a window of it visible at a time; '' when the history has no snapshots. */
export function pageMap(m: Model, order: readonly string[]): string {
  if (m.snapshots.length === 0) return '';
  const rows = pageRows(m.snapshots, order);
  const colsOf = m.windows.map(() => [] as number[]);
  m.snapshots.forEach((s, c) => {
    const key = m.owner.get(s.seq);
    let w = key === undefined ? undefined : m.winOf.get(key);
    // A snapshot of no known step goes with the window before it (or the first).
    w ??= c > 0 ? m.winOf.get(m.owner.get(m.snapshots[c - 1]!.seq) ?? '') ?? 0 : 0;
    colsOf[w]!.push(c);
  });
  // A window's columns are consecutive snapshots (the step list's order is the snapshots' order).
  const by: BySeq = { steps: new Map(m.steps.map((st) => [st.seq, st])), notes: new Map() };
  for (const n of m.notes) if (!by.notes.has(n.seq)) by.notes.set(n.seq, n);
  return `<div id="pagemap">${m.windows.map((_, w) => windowMap(m, by, rows, w, colsOf[w]!, w !== 0)).join('\n')}</div>`;
}
