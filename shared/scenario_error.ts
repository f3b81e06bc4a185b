// The error every stage of reading a scenario throws (shared/scenario.ts, shared/scenario_text.ts):
// the file, the place (`processes.A.steps[3].pages`) and what is allowed. A module of its own so
// that the two stages import it, not each other.

export class ScenarioError extends Error {
  override name = 'ScenarioError';
  constructor(public file: string, public path: string, public detail: string) {
    super(path ? `${file}: ${oneLine(path)}: ${oneLine(detail)}` : `${file}: ${oneLine(detail)}`);
  }
}

const LINE_BREAK = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/g;
const BREAK_ESCAPE: Readonly<Record<string, string>> = { '\r\n': '\\r\\n', '\n': '\\n', '\r': '\\r', '\v': '\\v', '\f': '\\f' };

/**
 * The error is one line, whatever names it quotes: a file, signal or binding name may hold a line
 * break (only process names are restricted), and quoted raw it would start a line of its own
 * that reads as another message. Each break is written as its escape (`\n`), as JSON would.
 */
function oneLine(message: string): string {
  return message.replace(LINE_BREAK, (c) => BREAK_ESCAPE[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export type PathPart = string | number;

/** A key written as it is in a path: a name (process, policy, field); any other key is quoted. */
const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * `processes.A.steps[3].pages`. A key that is not a plain name (empty, with a dot, a space or a
 * bracket, starting with a digit: a file name of check's files, an unknown field) is written
 * `["..."]`, so that `processes["1.5"]` is not read as two keys and `processes[""]` is seen.
 */
export function formatPath(path: readonly PathPart[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : PLAIN_KEY.test(p) ? (i === 0 ? p : `.${p}`) : `[${JSON.stringify(p)}]`)).join('');
}
