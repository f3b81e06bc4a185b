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
