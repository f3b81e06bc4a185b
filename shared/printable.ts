// Strings a peer supplies (routing ids, host names, process names and error texts from a remote
// agent, libzmq's addresses) reach the operator's terminal and the report. They are shown
// printable-only: every control, format (bidi overrides), separator other than a space,
// surrogate or unassigned character is written as an escape (`\n`, `\x1b`, `\u{202e}`) and a
// backslash as `\\`, so a peer can neither move the cursor nor fake a log line, and the escaped
// text still says exactly what was sent. Long strings are cut (with how many characters were left out).

const unprintable = /[\\\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/gu;
const named: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** `s` with everything non-printable escaped, at most `max` characters of it (default 200). */
export function printable(s: unknown, max = 200): string {
  let text = typeof s === 'string' ? s : String(s);
  let cut = '';
  if (text.length > max) { cut = `...(${text.length - max} more)`; text = text.slice(0, max); }
  return text.replace(unprintable, (c) => named[c] ?? escapeOf(c)) + cut;
}

function escapeOf(c: string): string {
  const code = c.codePointAt(0)!;
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Whether `s` is shown as it is (nothing in it needs an escape). */
export function isPrintable(s: string): boolean {
  unprintable.lastIndex = 0;
  return !unprintable.test(s);
}

// What JSON.stringify leaves as it is but a terminal acts on: C1 controls, format characters
// (bidi overrides, zero-width), line and paragraph separators, unassigned and private-use code
// points. JSON.stringify already escapes C0 controls, quotes, backslashes and lone surrogates.
const unprintableInJson = /[\u007f-\u009f\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/gu;

/**
 * `JSON.stringify(v)` with everything a terminal could act on escaped as `\uXXXX` (a UTF-16 pair
 * past the BMP), so that a value a peer or a scenario supplies (a read's value, a label, an expected
 * result) is shown exactly and cannot move the cursor or fake a line. Still valid JSON that
 * parses back to the same value (a `--json` document).
 */
export function printableJson(v: unknown, indent?: number): string {
  const text = JSON.stringify(v, null, indent) ?? String(v);
  return text.replace(unprintableInJson, (c) => {
    const code = c.codePointAt(0)!;
    // Past the BMP: the UTF-16 pair, as JSON writes it, so the text always parses back to the value (a --json document).
    return code > 0xffff ? `\\u${c.charCodeAt(0).toString(16)}\\u${c.charCodeAt(1).toString(16)}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

// Raw characters a terminal acts on; unlike printable(), a backslash is left alone, so text that
// printableJson already escaped is not escaped twice.
const actsOnTerminal = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * One line of the product's own output made safe for a terminal: every control or format
 * character in it (a newline too, so that one line stays one line) written as `\u{...}`. For text
 * that mixes our words with names, paths and descriptions from a scenario or the command line.
 */
export function terminalLine(line: string): string {
  return line.replace(actsOnTerminal, (c) => (c === '\t' ? c : `\\u{${c.codePointAt(0)!.toString(16)}}`));
}

// What a page shows as it is of text: newlines and tabs; every other control or format character
// (ESC, C1, bidi overrides and isolates, zero-width marks) would be drawn invisibly or reorder the text.
const actsOnPage = /[\x00-\x08\x0b-\x1f\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}]/u;
const actsOnPageAll = new RegExp(actsOnPage.source, 'gu');

/**
 * Text for an HTML page (report/html*.ts, play/): every control or format character but a newline
 * and a tab written as `\u{...}`, as terminalLine writes it, so that a page shows a name, a value
 * or a description exactly as the terminal does and a bidi override cannot reorder what it shows.
 * The page's own escape (`esc`) then escapes `&`, `<`, `>` and quotes.
 */
export function visibleOnPage(s: string): string {
  return actsOnPage.test(s) ? s.replace(actsOnPageAll, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`) : s;
}

/**
 * Lines (a report, a table) made safe for a terminal one by one and joined: a newline inside one of
 * them (a file name given on the command line may hold one) is escaped, so it cannot make a line of its own.
 */
export function terminalLines(lines: readonly string[]): string {
  return lines.map(terminalLine).join('\n');
}
/** Text of several lines (a report, a table) made safe for a terminal line by line (terminalLine). */
export function terminalText(text: string): string {
  return text.split('\n').map(terminalLine).join('\n');
}

/** A word (a run of characters other than spaces) longer than this is cut in an error message. */
export const messageWordMax = 300;
const longWord = new RegExp(`[^ ]{${messageWordMax + 1},}`, 'g');

/**
 * One line of an error message made safe and short for a terminal: terminalLine, and every word
 * longer than messageWordMax characters (an argument or path the user gave, echoed back) cut to
 * its first 200 and last 60 characters with how many were left out, so that a 100 KB argument
 * gives a message of a line, and what is allowed (the words after it) is still there.
 */
export function messageLine(line: string): string {
  return terminalLine(line.replace(longWord, (w) => `${w.slice(0, 200)}...(${w.length - 260} characters left out)...${w.slice(-60)}`));
}
