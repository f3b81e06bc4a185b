// The `--html` page's page map (report/html.ts): for each mapping (process + binding) and each
// file, each page's state after every step and every cleanup, from the `snapshot` events
// (report/snapshot.ts); a long row draws only its touched pages. SVG text only.

import { describeStep } from './report.js';
import { esc, KERNEL, type Model } from './html_model.js';
import type { SnapshotRow as SnapRow } from '../coordinator/history.js';

const CELL_H = 22;
const LABEL_W = 190;

/** `at`: a long row's drawn page numbers (snapshot.ts lists touched pages only), and the position of each. */
interface Row { id: string; kind: 'map' | 'file'; owner: string; name: string; what: string; pages: number; at?: Map<number, number>; total?: number }
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

export function pageMap(m: Model): string {
  if (m.snapshots.length === 0) return '';
  const rows = new Map<string, Row>();
  for (const s of m.snapshots) {
    for (const r of s.maps) {
      const id = `map ${r.process} ${r.name}`;
      const what = r.kind === 'anon' ? 'anonymous' : r.kind === 'shmem' ? 'shared anonymous' : r.kind === 'unmapped' ? 'unmapped' : `${r.file} ${r.kind === 'file-shared' ? 'shared' : 'private'}`;
      const row: Row = rows.get(id) ?? { id, kind: 'map', owner: r.process, name: r.name, what, pages: 0 };
      fitRow(row, r);
      rows.set(id, row);
    }
  }
  for (const s of m.snapshots) {
    for (const f of s.files) {
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
    const frames = s.frames;
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
    for (const r of s.maps) {
      cell(rows.get(`map ${r.process} ${r.name}`)!, r, `data-owner="${esc(r.process)}" data-map="${esc(r.name)}"`);
    }
    for (const f of s.files) cell(rows.get(`file ${f.file}`)!, f, `data-file="${esc(f.file)}"`);
  });
  return `<svg id="pagemap" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${out.join('\n')}</svg>`;
}
