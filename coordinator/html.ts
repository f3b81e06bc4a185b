// `--html FILE`: one self-contained page (no network) with the run's narrated report and its
// steps. The space-time diagram and page map come with the teaching work; this page is the base.

import type { RunReport } from './report.js';
import type { HistoryEvent } from './history.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderHtml(report: RunReport, lines: string[], history: HistoryEvent[]): string {
  const rows = report.steps.map((s, i) =>
    `<tr class="${s.result.ok ? 'ok' : 'fail'}"><td>${i}</td><td>${esc(s.process)}</td><td>${s.index}</td><td>${esc(s.op)}</td><td><code>${esc(JSON.stringify(s.result))}</code></td></tr>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>vrange run: ${esc(report.scenario)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
tr.fail td { background: #fde2e2; } .verdict { font-weight: bold; }
</style></head><body>
<h1>${esc(report.scenario)}</h1>
<p class="verdict">${report.ok ? 'PASS' : 'FAIL'}: policy ${esc(report.policy)}, access ${esc(report.access)}, purge unit ${esc(report.purgeUnit)}, schedule ${esc(report.schedule)}, seed ${report.seed}</p>
<h2>Steps</h2>
<table><tr><th>#</th><th>process</th><th>step</th><th>op</th><th>result</th></tr>
${rows}
</table>
<h2>Narration</h2>
<pre>${esc(lines.join('\n'))}</pre>
<script type="application/json" id="history">${esc(JSON.stringify(history.filter((e) => e.kind !== 'message')))}</script>
</body></html>
`;
}
