// What JSON.parse does not say about a JSON text, found by scanning the text itself, without
// recursion: how deep it nests (asked before JSON.parse builds anything), and, of a text JSON.parse
// accepted, a key given twice in one object (JSON.parse keeps the last), a `__proto__` key, a string
// with a lone surrogate (an escape such as \ud800 with no pair, which is no text and has no UTF-8
// encoding) and a string longer than a bound. Each problem comes with its offset in the text and its
// path (the keys and indexes down to it). The scenario loader reads duplicate keys with it
// (shared/scenario_text.ts), `vrange check` every line of a history (checker/history_parse.ts).

import type { PathPart } from './scenario_error.js';

/** Where the text nests deeper than `depthMax` objects and arrays: the offset of the first bracket past it, or -1. */
export function jsonDepthOffset(text: string, depthMax: number): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++depth > depthMax) return i;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return -1;
}

export interface JsonTextRules {
  /** Refuse a `__proto__` key (default: no). */
  protoKey?: boolean;
  /** Refuse a string or key with a lone surrogate (default: no). */
  loneSurrogate?: boolean;
  /** Refuse a string or key longer than this, in characters (UTF-16 units, as decoded; default: no bound). */
  stringLengthMax?: number;
}

export type JsonTextProblem = { offset: number; path: PathPart[] } & (
  | { kind: 'duplicate-key'; key: string; first: number }
  | { kind: 'proto-key' }
  | { kind: 'lone-surrogate'; inKey: boolean }
  | { kind: 'string-length'; length: number; inKey: boolean });

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The first problem of `text` (which JSON.parse has accepted) under `rules`: always a duplicate key
 * (keys compare as decoded, so "a" and "\u0061" are one key, as JSON.parse takes them), and what
 * `rules` asks for. Memory grows with the keys of the objects open at once, not with the text.
 */
export function jsonTextProblem(text: string, rules: JsonTextRules = {}): JsonTextProblem | undefined {
  interface Open { keys: Map<string, number> | undefined; expectKey: boolean; key: PathPart }
  const open: Open[] = [];
  const pathOf = (): PathPart[] => open.map((o) => o.key);
  const lengthMax = rules.stringLengthMax ?? Infinity;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const from = i;
      let escaped = false;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) { escaped = true; i++; }
      const raw = text.slice(from + 1, i);
      const top = open[open.length - 1];
      const isKey = top?.keys !== undefined && top.expectKey;
      const value = escaped ? (JSON.parse(text.slice(from, i + 1)) as string) : raw;
      if (isKey) {
        top.key = value;
        const first = top.keys!.get(value);
        if (first !== undefined) return { offset: from, path: pathOf(), kind: 'duplicate-key', key: value, first };
        top.keys!.set(value, from);
        top.expectKey = false;
        if (rules.protoKey && value === '__proto__') return { offset: from, path: pathOf(), kind: 'proto-key' };
      }
      if (value.length > lengthMax) return { offset: from, path: pathOf(), kind: 'string-length', length: value.length, inKey: isKey };
      if (rules.loneSurrogate && escaped && LONE_SURROGATE.test(value)) return { offset: from, path: pathOf(), kind: 'lone-surrogate', inKey: isKey };
    } else if (c === 0x7b /* { */) open.push({ keys: new Map(), expectKey: true, key: '' });
    else if (c === 0x5b /* [ */) open.push({ keys: undefined, expectKey: false, key: 0 });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) open.pop();
    else if (c === 0x2c /* , */) {
      const top = open[open.length - 1];
      if (top?.keys) top.expectKey = true;
      else if (top) top.key = (top.key as number) + 1;
    }
  }
  return undefined;
}
