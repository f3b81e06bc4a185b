// The purge decision: a pure function of the page's kind, the file's own volatility and what
// each mapper answered. The kernel calls it at commit time; tests call it directly.
// The three policies are the three positions of the 2013 thread (../shared/seeds/):
//   shared-file  John Stultz: volatility is a state of the file's pages, stored on the address_space.
//   per-mm       Minchan Kim: a vrange mark lives in the marking mm; every mapper must agree and
//                no mapper may map the page private.
//   anon-only    the "easiest out": vrange on file pages is refused; only fvrange marks files.

import type { PolicyName } from './scenario-types.js';

/** anon: private anonymous or copied-on-write page; shmem: shared anonymous; file: page-cache page. */
export type PageKind = 'anon' | 'shmem' | 'file';

export interface MapperVote {
  pid: number;
  share: 'shared' | 'private';
  /** The mapper answered the prepare and the page is volatile in its mm. */
  volatile: boolean;
  /** False when the mapper did not answer (died, paused, or appeared after the prepare). */
  answered: boolean;
  /** Private file mapper whose page table still holds the file's page (not yet copied). */
  privatePresent: boolean;
}

export interface PageFacts {
  kind: PageKind;
  policy: PolicyName;
  /** The file's own range set covers the page (fvrange marks, and vrange marks in shared-file). */
  fileVolatile: boolean;
  mappers: MapperVote[];
}

export type Rule =
  | 'anon-every-mapper-volatile' | 'anon-mapper-not-volatile' | 'no-mapper'
  | 'file-range-volatile' | 'file-not-volatile' | 'private-copy-kept'
  | 'per-mm-private-mapper' | 'per-mm-every-mapper-marked' | 'per-mm-mapper-not-marked'
  | LazyfreeRule;

export interface Decision { purge: boolean; rule: Rule; why: string }

export const RULE_TEXT: Record<Rule, string> = {
  'anon-every-mapper-volatile': 'every process mapping the page has it volatile',
  'anon-mapper-not-volatile': 'a process mapping the page does not have it volatile',
  'no-mapper': 'no process maps the page, so no mm marks it volatile',
  'file-range-volatile': "the file's own range is volatile",
  'file-not-volatile': "the file's range is not volatile",
  'private-copy-kept': 'a private mapping still shares the page with the file (not yet copied)',
  'per-mm-private-mapper': 'per-mm: a process maps the page private',
  'per-mm-every-mapper-marked': 'per-mm: every process mapping the page marked it with vrange',
  'per-mm-mapper-not-marked': 'per-mm: a process mapping the page has not marked it',
  'lazyfree-not-marked': 'madv-free: the page is not marked lazyfree (never marked, or a write cancelled the mark)',
  'lazyfree-second-chance': 'madv-free: the page was read since the last scan: kept once (folio_check_references, FOLIOREF_KEEP)',
  'lazyfree-activated': 'madv-free: the page was read again after its second chance, or through several mappings (FOLIOREF_ACTIVATE)',
  'lazyfree-redirtied': "madv-free: a mapper's page-table entry is dirty, so the page cannot be discarded (try_to_unmap_one)",
  'lazyfree-clean': 'madv-free: the page is marked, clean in every mapping and not referenced: discarded',
  'lazyfree-not-asked': 'madv-free: a process mapping the page was not asked (forked after the prepare) or did not answer: kept, nothing changed',
};

function names(votes: Array<{ pid: number; answered?: boolean }>): string {
  return votes.map((v) => `pid ${v.pid}${v.answered === false ? ' (no answer)' : ''}`).join(', ');
}

function everyMapperVolatile(mappers: MapperVote[], yes: Rule, no: Rule): Decision {
  if (mappers.length === 0) return { purge: false, rule: 'no-mapper', why: RULE_TEXT['no-mapper'] };
  const against = mappers.filter((m) => !m.volatile);
  if (against.length > 0) return { purge: false, rule: no, why: `${RULE_TEXT[no]}: ${names(against)}` };
  return { purge: true, rule: yes, why: `${RULE_TEXT[yes]}: ${names(mappers)}` };
}

function decideFile(f: PageFacts): Decision {
  if (f.policy === 'per-mm') {
    const priv = f.mappers.filter((m) => m.share === 'private');
    if (priv.length > 0) {
      return { purge: false, rule: 'per-mm-private-mapper', why: `${RULE_TEXT['per-mm-private-mapper']}: ${names(priv)}` };
    }
    if (f.fileVolatile) return { purge: true, rule: 'file-range-volatile', why: RULE_TEXT['file-range-volatile'] };
    return everyMapperVolatile(f.mappers, 'per-mm-every-mapper-marked', 'per-mm-mapper-not-marked');
  }
  if (!f.fileVolatile) return { purge: false, rule: 'file-not-volatile', why: RULE_TEXT['file-not-volatile'] };
  const copies = f.mappers.filter((m) => m.privatePresent);
  if (copies.length > 0) {
    return { purge: false, rule: 'private-copy-kept', why: `${RULE_TEXT['private-copy-kept']}: ${names(copies)}` };
  }
  return { purge: true, rule: 'file-range-volatile', why: RULE_TEXT['file-range-volatile'] };
}

export function decide(f: PageFacts): Decision {
  switch (f.kind) {
    case 'anon':
    case 'shmem':
      return everyMapperVolatile(f.mappers, 'anon-every-mapper-volatile', 'anon-mapper-not-volatile');
    case 'file':
      return decideFile(f);
  }
}

/** Where a `vrange` on a mapping of this kind stores its mark, or null when the policy refuses it. */
export function vrangeTarget(kind: 'anon' | 'shmem' | 'file-shared' | 'file-private', policy: PolicyName): 'mm' | 'file' | null {
  if (kind === 'anon' || kind === 'shmem') return 'mm';
  if (policy === 'anon-only') return null;
  if (kind === 'file-shared' && policy === 'shared-file') return 'file';
  return 'mm';
}

// madv-free: what Linux merged (MADV_FREE, 4.5). Reclaim meets a lazyfree page on the LRU, one page
// at a time, and decides as mm/vmscan.c shrink_folio_list does: first folio_check_references (a
// referenced page gets a second chance, a page referenced again is activated), then try_to_unmap
// (mm/rmap.c try_to_unmap_one): any mapping whose pte is dirty redirties the folio, which is then
// mapped back and is no longer lazyfree. docs/semantics.md, "What Linux merged", cites each rule.

export type LazyfreeRule = 'lazyfree-not-marked' | 'lazyfree-second-chance' | 'lazyfree-activated' | 'lazyfree-redirtied' | 'lazyfree-clean'
  | 'lazyfree-not-asked';

export interface LazyfreeMapper {
  pid: number;
  /** The pte is dirty: written since MADV_FREE cleaned it, or a copy that was dirty when this mm forked from the marker. */
  dirty: boolean;
  /** The pte is young: read or written since the last scan cleared it. */
  referenced: boolean;
}

export interface LazyfreeFacts {
  /** MADV_FREE marked the page (folio_mark_lazyfree: !PG_swapbacked) and no reclaim has put it back since. */
  lazyfree: boolean;
  /** PG_referenced: an earlier scan already gave the page its second chance. */
  referencedFolio: boolean;
  /** Every mapping of the page (rmap); at least one, as an anonymous page with no mapping is already freed. */
  mappers: LazyfreeMapper[];
}

/**
 * The decision on one lazyfree page. `referencedFolio` is the page's PG_referenced after the scan;
 * `lazyfree` whether it is still marked (false once a dirty mapper put it back: folio_set_swapbacked).
 */
export interface LazyfreeDecision extends Decision { rule: LazyfreeRule; referencedFolio: boolean; lazyfree: boolean }

export function decideLazyfree(f: LazyfreeFacts): LazyfreeDecision {
  if (f.mappers.length === 0) throw new Error('decideLazyfree: an anonymous page with no mapping has no LRU entry to scan');
  const out = (purge: boolean, rule: LazyfreeRule, referencedFolio: boolean, lazyfree: boolean, who = ''): LazyfreeDecision =>
    ({ purge, rule, why: RULE_TEXT[rule] + who, referencedFolio, lazyfree });
  if (!f.lazyfree) return out(false, 'lazyfree-not-marked', f.referencedFolio, false);
  // folio_check_references: folio_referenced() clears and counts the young ptes.
  const young = f.mappers.filter((m) => m.referenced);
  if (young.length > 0) {
    if (f.referencedFolio || young.length > 1) return out(false, 'lazyfree-activated', true, true, `: ${names(young)}`);
    return out(false, 'lazyfree-second-chance', true, true, `: ${names(young)}`);
  }
  // try_to_unmap_one: a dirty pte marks the folio dirty; a dirty lazyfree folio is mapped back, swap-backed again.
  const dirty = f.mappers.filter((m) => m.dirty);
  if (dirty.length > 0) return out(false, 'lazyfree-redirtied', f.referencedFolio, false, `: ${names(dirty)}`);
  return out(true, 'lazyfree-clean', f.referencedFolio, true, `: ${names(f.mappers)}`);
}
