// A page's contents (docs/semantics.md, "Sub-page writes"). A page is PAGE_SIZE bytes. A
// whole-page `write` stores its value: the value's UTF-8 bytes, then zeros; a read gives that
// value back exactly (kept as the string itself, so nothing is re-encoded). A sub-page write
// (`offset` + `bytes`) replaces only its own bytes, on top of what the page held (zeros for a page
// never written, a hole, or a purged page faulted in again): the page is then kept as its bytes,
// and a read gives them with the trailing zero bytes trimmed, decoded as UTF-8 (a zero byte before
// the last non-zero one reads as "\u0000"; a byte sequence that a partial overwrite left invalid
// reads as U+FFFD, as TextDecoder replaces it).
//
// Used by the kernel (frames, faults) and the history checker; the reference model (model/) has
// its own copy, from the documents, as it shares no code.

import { PAGE_SIZE } from './scenario-types.js';

/** What a frame holds: a whole-page write's value, or a sub-page-written page's bytes (trailing zeros trimmed). */
export type PageContent = string | Uint8Array;

const decoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const encoder = new TextEncoder();

/** The bytes a sub-page write lands in [offset, offset + length) of, or the load-time/syscall check's message. */
export function subPageFits(offset: number, bytes: string): string | undefined {
  const n = Buffer.byteLength(bytes, 'utf8');
  if (!(Number.isInteger(offset) && offset >= 0 && offset < PAGE_SIZE)) return `offset ${offset} is outside the page (0 to ${PAGE_SIZE - 1})`;
  if (offset + n > PAGE_SIZE) return `${n} bytes at offset ${offset} end at byte ${offset + n}, past the page's ${PAGE_SIZE}`;
  return undefined;
}

/** The page after writing `bytes` at `offset` over `base` (undefined: a zero page). */
export function writeAt(base: PageContent | undefined, offset: number, bytes: string): Uint8Array {
  const why = subPageFits(offset, bytes);
  if (why) throw new Error(`page invariant: a sub-page write where ${why}`);
  const old = base === undefined ? new Uint8Array(0) : typeof base === 'string' ? encoder.encode(base) : base;
  const data = encoder.encode(bytes);
  const out = new Uint8Array(Math.max(trimmedLength(old), offset + data.length));
  out.set(old.subarray(0, Math.min(old.length, out.length)));
  out.set(data, offset);
  return out.subarray(0, trimmedLength(out));
}

/** What a read of the page returns. */
export function pageText(c: PageContent | undefined): string {
  if (c === undefined) return '';
  if (typeof c === 'string') return c;
  return decoder.decode(c.subarray(0, trimmedLength(c)));
}

function trimmedLength(b: Uint8Array): number {
  let n = Math.min(b.length, PAGE_SIZE);
  while (n > 0 && b[n - 1] === 0) n--;
  return n;
}

/**
 * What a page reads after a sub-page write over a page that read `before` (undefined: unknown),
 * for an observer that sees reads only (the history checker). A read gives U+FFFD for bytes a
 * partial overwrite left invalid, so a page that reads one is unknown: its bytes are not that
 * read's re-encoding.
 */
export function readAfterSubPageWrite(before: string | undefined, offset: number, bytes: string): string | undefined {
  if (before === undefined || before.includes('\uFFFD') || subPageFits(offset, bytes) !== undefined) return undefined;
  return pageText(writeAt(before, offset, bytes));
}
