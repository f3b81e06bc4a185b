// Shared by the --html browser tests: the page map decoded from the history on its own, and the
// cells the page draws, read back from the browser.

import type { Page } from 'playwright-core';
import type { HistoryEvent } from '../coordinator/history.js';

export type Rows = Record<string, string>;
/**
 * The page map each snapshot stands for, decoded here on its own from the history (full rows, or
 * delta rows: runs `[page, count, letter]` of what changed, rows `gone`): row key -> letters by
 * page (a long row: its listed pages only, ascending).
 */
export function decodeSnapshots(history: HistoryEvent[]): Rows[] {
  const cur = new Map<string, Map<number, string>>();
  const out: Rows[] = [];
  for (const e of history) {
    if (e.kind !== 'snapshot') continue;
    const s = e as unknown as { delta?: boolean; gone?: Array<{ process?: string; name?: string; file?: string }>; maps: Array<Record<string, unknown>>; files: Array<Record<string, unknown>> };
    if (!s.delta) cur.clear();
    const key = (r: { process?: unknown; name?: unknown; file?: unknown }) => (r.process !== undefined ? `${String(r.process)}:${String(r.name)}` : `file ${String(r.file)}`);
    for (const g of s.gone ?? []) cur.delete(key(g));
    for (const r of [...s.maps, ...s.files]) {
      const k = key(r);
      const m = s.delta ? cur.get(k) ?? new Map<number, string>() : new Map<number, string>();
      if (s.delta) {
        if (!r.sparse) for (let p = 0; p < (r.size as number); p++) if (!m.has(p)) m.set(p, 'a');
        for (const [p, n, c] of r.set as Array<[number, number, string]>) for (let i = 0; i < n; i++) m.set(p + i, c);
      } else [...(r.pages as string)].forEach((c, i) => m.set(r.at ? (r.at as number[])[i]! : i, c));
      cur.set(k, m);
    }
    out.push(Object.fromEntries([...cur].map(([k, m]) => [k, [...m].sort((a, b) => a[0] - b[0]).map(([, c]) => c).join('')])));
  }
  return out;
}

/** Expands every band of the visible page-map window, then each drawn cell as (snapshot, row, page, state), one per column it spans. */
export async function drawnCells(page: Page): Promise<string[][]> {
  await page.$$eval('#pagemap .pm-win:not([hidden]) .band.many:not(.open) .pageno', (els) => els.forEach((el) => (el as HTMLElement).click()));
  const cells = await page.$$eval('#pagemap .pm-win:not([hidden]) .band:not(.open) .cell', (els) => els.map((el) =>
    ['data-snap', 'data-snaps', 'data-owner', 'data-map', 'data-file', 'data-page', 'data-state'].map((n) => el.getAttribute(n) ?? '')));
  const out: string[][] = [];
  for (const [snap, snaps, owner, map, file, p, st] of cells) {
    for (let i = 0; i < Number(snaps); i++) out.push([String(Number(snap) + i), file ? `file ${file}` : `${owner}:${map}`, p!, st!]);
  }
  return out;
}

