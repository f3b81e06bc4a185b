// Reading a history file (docs/history-format.md): one JSON object per line, each validated
// against its kind's schema (coordinator/history.ts, EVENT_SCHEMAS) before any check sees it. A line
// that is not an event is a HistoryFormatError (`vrange check` exits 2 naming the file and line).

import { eventProblem, type HistoryEvent } from '../coordinator/history.js';

export class HistoryFormatError extends Error {}

/** Reads JSON lines; each event keeps the line it came from. */
export function parseHistory(text: string, file = 'history'): Array<HistoryEvent & { line: number }> {
  const out: Array<HistoryEvent & { line: number }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    let e: unknown;
    try { e = JSON.parse(raw); } catch (err) {
      throw new HistoryFormatError(`${file}:${i + 1}: not a JSON object (${(err as Error).message}); a history has one JSON object per line (docs/history-format.md)`);
    }
    const problem = eventProblem(e);
    if (problem) throw new HistoryFormatError(`${file}:${i + 1}: ${problem}`);
    out.push({ ...(e as HistoryEvent), line: i + 1 }); // of the documented shape: eventProblem said so
  }
  if (out.length === 0) throw new HistoryFormatError(`${file}: empty; a history has one JSON object per line (docs/history-format.md)`);
  return out;
}
