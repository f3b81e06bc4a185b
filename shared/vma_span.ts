// munmap's cut, written once: what is left of a list of VMAs once [start, end) is unmapped. The
// kernel's copy of a process's VMAs (coordinator/mmap.ts) and the agent's own mm (agents/mm.ts)
// both cut with it, so the two copies cannot split a VMA differently; verify mode checks that they
// agree (coordinator/verify.ts, verifyVmasAgree).

export interface Span { start: number; pages: number }

/**
 * The VMAs left after unmapping [start, end), in the order of `vmas`: those outside the span as
 * they are, and of each VMA the span cuts, its part below and its part above (`slice(v, from,
 * to)` builds a VMA over [from, to) of `v`, its offset and page-table entries moved along).
 * `cut`: the VMAs the span touched, whole.
 */
export function unmapSpan<V extends Span>(vmas: readonly V[], start: number, end: number,
  slice: (v: V, from: number, to: number) => V): { kept: V[]; cut: V[] } {
  const kept: V[] = [];
  const cut: V[] = [];
  for (const v of vmas) {
    const vEnd = v.start + v.pages;
    if (vEnd <= start || v.start >= end) { kept.push(v); continue; }
    cut.push(v);
    if (v.start < start) kept.push(slice(v, v.start, start));
    if (vEnd > end) kept.push(slice(v, end, vEnd));
  }
  return { kept, cut };
}
