// Turning a step's position fields into a page span, the way the vrange patches did:
// the offset must be page aligned, the length is rounded down to whole pages (v8: len &= PAGE_MASK)
// and a length that rounds to zero is EINVAL.
import { PAGE_SIZE } from './scenario-types.js';

export type Span = { start: number; pages: number } | { errno: 'EINVAL' };

export function spanOf(f: { page?: number; pages?: number; byteOffset?: number; byteLength?: number }): Span {
  if (f.byteOffset !== undefined || f.byteLength !== undefined) {
    const off = f.byteOffset ?? 0;
    const pages = Math.floor((f.byteLength ?? 0) / PAGE_SIZE);
    if (off % PAGE_SIZE !== 0 || pages === 0) return { errno: 'EINVAL' };
    return { start: off / PAGE_SIZE, pages };
  }
  const pages = f.pages ?? 0;
  if (pages === 0) return { errno: 'EINVAL' };
  return { start: f.page ?? 0, pages };
}

export const MODES = ['volatile', 'nonvolatile'] as const;
export function isMode(m: unknown): m is 'volatile' | 'nonvolatile' {
  return m === 'volatile' || m === 'nonvolatile';
}
