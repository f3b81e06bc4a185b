// The reference model's plain data (model/model.ts): frames, files, VMAs, page-table
// entries, processes and the open reclaim exchange as the documents describe them, the pieces of a
// volatile range and the results of a step. Types and small pure helpers only; no behaviour.

import type { ProcessSpec, ProcessState, Share } from '../shared/scenario-types.js';
import type { COMMIT_ACTION as SharedCommit, KERNEL_ACTION as SharedKernel, KERNEL_NAME as SharedKernelName } from '../shared/kernel_name.js';

export type Action = { kind: 'step'; process: string } | { kind: 'kernel' } | { kind: 'commit' };
/**
 * The kernel's actions as a session names them (`@kernel`, `@commit`: no process name holds an `@`,
 * so a process may be named `kernel` or `commit`), and the kernel list's name in a step record. The
 * model may import only types from shared/: the types pin these to shared/kernel_name.ts's values.
 */
export const KERNEL_ACTION: typeof SharedKernel = '@kernel';
export const COMMIT_ACTION: typeof SharedCommit = '@commit';
export const KERNEL_NAME: typeof SharedKernelName = 'kernel';
export type Result = { ok: boolean; [k: string]: unknown };
/** A step's result; the kernel list's steps carry `process: "kernel"` and `kernel: true`, as the run's records do. */
export interface ModelStep { process: string; index: number; op: string; result: Result; kernel?: true }
export interface ModelOutcome { steps: ModelStep[]; purgedPages: number; framesUsed: number }

export const PAGE_BYTES = 4096;
export const FIRST_VPAGE = 1; // page 0 stays unmapped, like NULL: the first mapping is at 4096
export const FIRST_FD = 3;
export const FIRST_PID = 2;
/** docs/semantics.md: a `query` of more pages than this is E2BIG (its result is one entry per page). */
export const QUERY_PAGES_MAX = 65_536;

// ---- plain data ---------------------------------------------------------------------------------

/** A physical page frame. `file` is set for a page-cache page (named file or hidden shmem). `serial` only names it (footprint.ts). */
export interface Frame { value: PageValue; lastUse: number; file?: FileObj; fpage: number; serial: number }
/**
 * A page's contents (docs/semantics.md, "Sub-page writes"): a whole-page write's value, kept as
 * written; after a sub-page write, the page's bytes (4096, zeros past the last one kept).
 */
export type PageValue = string | Uint8Array;

/** A read of a page: the value as written, or the bytes up to the last non-zero one, as UTF-8. */
export function pageRead(v: PageValue | undefined): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  let end = v.length;
  while (end > 0 && v[end - 1] === 0) end--;
  return Buffer.from(v.buffer, v.byteOffset, end).toString('utf8');
}

/** The page after `data` is written at byte `offset` over `before` (undefined: zeros); no offset: `data` itself. */
export function pageWrite(before: PageValue | undefined, data: string, offset: number | undefined): PageValue {
  if (offset === undefined) return data;
  const page = Buffer.alloc(PAGE_BYTES);
  if (before !== undefined) (typeof before === 'string' ? Buffer.from(before, 'utf8') : Buffer.from(before)).copy(page, 0, 0, PAGE_BYTES);
  const bytes = Buffer.from(data, 'utf8');
  if (offset < 0 || offset + bytes.length > PAGE_BYTES) throw new Error(`model: a sub-page write of ${bytes.length} bytes at ${offset}`);
  bytes.copy(page, offset);
  return new Uint8Array(page);
}
/** A piece of a volatile range, [start, end). Pieces cut from one call keep its id and mark time. */
export interface Piece { id: number; start: number; end: number; markedAt: number }
export interface FileObj {
  name: string; order: number; kind: 'tmpfs' | 'ashmem' | 'shmem'; pages: number;
  cache: Map<number, Frame>; ranges: Piece[]; purged: Set<number>;
}
export interface Vma { start: number; pages: number; file?: FileObj; offset: number; share: Share }
/** own: a private page of this mm (anonymous or copied-on-write), frame null once purged.
 *  not own: a page-cache page this mm has touched through a mapping (present in its page table).
 *  Under madv-free only (docs/semantics.md "What Linux merged"): `lazy` MADV_FREE marked this page in
 *  this mm and nothing took it back since (a write, a scan that found a dirty mapper); `dirty` written
 *  since MADV_FREE cleaned it (or copied dirty at fork); `young` read or written since MADV_FREE or
 *  the last scan made it old. A frame is lazyfree while some mapper's pte is `lazy`. */
export type Pte = { own: true; frame: Frame | null; lazy?: boolean; dirty?: boolean; young?: boolean } | { own: false };
export interface Inflight { index: number; grantedAt: number; why: 'wait' | 'held' | 'reclaim' }
export type End = { exitCode: number } | { signal: string };
export interface Proc {
  spec: ProcessSpec; pid: number; state: ProcessState; end?: End; next: number; inflight?: Inflight;
  vmas: Vma[]; ptes: Map<number, Pte>; ranges: Piece[]; purged: Set<number>;
  fds: Map<number, FileObj>; fdNames: Map<string, number>; maps: Map<string, { start: number; pages: number }>;
}
/** An mm's answer to "is this page volatile in your mm?": the page, its frame and its range. */
export interface Held { p: Proc; vpage: number; frame: Frame; piece: Piece }
export interface Exchange { index: number; want: number; held: Held[]; candidates: Set<Frame> }
export type Outcome = { result: Result; end?: End };

// ---- volatile range pieces ----------------------------------------------------------------------

export const pieceAt = (pieces: Piece[], page: number) => pieces.find((r) => r.start <= page && page < r.end);

export function cut(pieces: Piece[], s: number, e: number): Piece[] {
  const out: Piece[] = [];
  for (const r of pieces) {
    if (r.end <= s || r.start >= e) { out.push(r); continue; }
    if (r.start < s) out.push({ ...r, end: s });
    if (r.end > e) out.push({ ...r, start: e });
  }
  return out;
}

/** [start, end) runs -> sorted, maximal runs (runs that touch or overlap are joined). */
export function mergeSpans(spans: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of [...spans].sort((a, b) => a[0] - b[0])) {
    const last = out.at(-1);
    if (last && last[1] >= s) last[1] = Math.max(last[1], e); else out.push([s, e]);
  }
  return out;
}

export const err = (errno: string): Outcome => ({ result: { ok: false, errno } });
export const ok = (fields: Record<string, unknown> = {}): Outcome => ({ result: { ok: true, ...fields } });
export const lexLess = (a: number[], b: number[]) => {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
};
