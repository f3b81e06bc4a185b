// Reading a history file (docs/history-format.md, "What is not a history"): one JSON object per
// line, each read strictly (no blank line, no duplicate or `__proto__` key, no lone surrogate,
// within the bounds of shared/limits.ts) and validated against its kind's schema
// (coordinator/history.ts, EVENT_SCHEMAS) before any check sees it. A file that is not a history
// is a HistoryFormatError naming the file and line (`vrange check` exits 2); nothing is checked.

import { eventProblem, type HistoryEvent } from '../coordinator/history.js';
import { jsonDepthOffset, jsonTextProblem, type JsonTextProblem } from '../shared/json_scan.js';
import { historyDepthMax, historyEventsMax, historyLineBytesMax, historyStringLengthMax } from '../shared/limits.js';
import { formatPath } from '../shared/scenario_error.js';
import { jsonMistakeAt } from '../shared/scenario_text.js';

export class HistoryFormatError extends Error {}

const FORMAT = '(docs/history-format.md)';
const count = (n: number) => n.toLocaleString('en-US');

/** Reads JSON lines; each event keeps the line it came from. */
export function parseHistory(text: string, file = 'history'): Array<HistoryEvent & { line: number }> {
  if (text.trim() === '') throw new HistoryFormatError(`${file}: empty; a history has one JSON object per line ${FORMAT}`);
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop(); // the newline that ends the last line
  if (lines.length > historyEventsMax) {
    throw new HistoryFormatError(`${file}: ${count(lines.length)} lines; a history has at most ${count(historyEventsMax)} (historyEventsMax, the most events a run keeps) ${FORMAT}`);
  }
  const out: Array<HistoryEvent & { line: number }> = [];
  for (let i = 0; i < lines.length; i++) {
    const e = readLine(lines[i]!, `${file}:${i + 1}`);
    out.push({ ...e, line: i + 1 }); // of the documented shape: readLine said so
  }
  checkOneFormat(out, file);
  return out;
}

/** One line as an event, or a HistoryFormatError that starts with `where` (FILE:LINE). */
function readLine(raw: string, where: string): HistoryEvent {
  const fail = (detail: string): never => { throw new HistoryFormatError(`${where}: ${detail}`); };
  if (raw.trim() === '') fail(`an empty line; a history has one JSON object on every line, with no blank lines ${FORMAT}`);
  const bytes = raw.length * 3 > historyLineBytesMax ? Buffer.byteLength(raw) : raw.length;
  if (bytes > historyLineBytesMax) fail(`a line of ${count(bytes)} bytes; a history line has at most ${count(historyLineBytesMax)} (historyLineBytesMax) ${FORMAT}`);
  const deep = jsonDepthOffset(raw, historyDepthMax);
  if (deep >= 0) fail(`nested more than ${historyDepthMax} objects and arrays deep (at column ${deep + 1}); a history line nests at most ${historyDepthMax} (historyDepthMax) ${FORMAT}`);
  let e: unknown;
  try { e = JSON.parse(raw); } catch (err) {
    const { at, what } = jsonMistakeAt(raw, (err as Error).message);
    fail(`invalid JSON${at >= 0 ? ` at column ${at + 1}` : ''}: ${what}; a history has one JSON object (RFC 8259) per line ${FORMAT}`);
  }
  const p = jsonTextProblem(raw, { protoKey: true, loneSurrogate: true, stringLengthMax: historyStringLengthMax });
  if (p) fail(textProblem(p));
  const problem = eventProblem(e);
  if (problem) fail(problem);
  return e as HistoryEvent;
}

function textProblem(p: JsonTextProblem): string {
  const at = `${p.path.length ? `${formatPath(p.path)}: ` : ''}`;
  const col = (offset: number) => `column ${offset + 1}`;
  switch (p.kind) {
    case 'duplicate-key': return `${at}the key ${JSON.stringify(p.key).slice(0, 80)} is given twice in one object (${col(p.first)} and ${col(p.offset)}); each key may appear once ${FORMAT}`;
    case 'proto-key': return `${at}a key "__proto__" (${col(p.offset)}), which is no field of any event and which a JavaScript object cannot hold as one; not allowed ${FORMAT}`;
    case 'lone-surrogate': return `${at}a ${p.inKey ? 'key' : 'string'} with a lone surrogate (${col(p.offset)}: an escape such as \\ud800 with no pair), which is not text and has no UTF-8 encoding ${FORMAT}`;
    case 'string-length': return `${at}a ${p.inKey ? 'key' : 'string'} of ${count(p.length)} characters (${col(p.offset)}); a history string has at most ${count(historyStringLengthMax)} (historyStringLengthMax) ${FORMAT}`;
  }
}

/**
 * A history is in one format (docs/history-format.md, Names): format 2 (`boot` has `format: 2`)
 * marks the kernel list `kernel: true`; an older history (no `format`) never does. A line with the
 * mark in a history whose boot has no format is in neither.
 */
function checkOneFormat(events: ReadonlyArray<HistoryEvent & { line: number }>, file: string): void {
  const boot = events[0];
  if (boot?.kind !== 'boot' || boot.format !== undefined) return;
  const marked = events.find((e) => (e as { kernel?: unknown }).kernel === true);
  if (marked) {
    throw new HistoryFormatError(`${file}:${marked.line}: kernel: true marks the kernel list in format 2, but the boot line (line ${boot.line}) has no format (an older history, which names the kernel list by process "kernel" alone); a history is in one format: give boot format: 2, or drop the marks ${FORMAT}`);
  }
}
