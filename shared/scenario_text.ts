// Scenario text to plain data, before the schema sees it (shared/scenario.ts): strict UTF-8 was
// checked by the reader (shared/files.ts); here JSON and YAML are parsed with every bound a
// document must keep (depth measured without recursion, nodes, list lengths, keys, strings), JSON's
// duplicate keys and YAML's unknown tags refused, YAML read as 1.2 core whatever its directives say
// (a %YAML but 1.2, YAML 1.1 types and merge keys refused), and the total of steps counted, each failure a
// ScenarioError with the file and, where it can be named, the path.

import { Composer, type Document, isAlias, isMap, isPair, isScalar, isSeq, type Node as YamlNode, Parser, YAMLParseError } from 'yaml';
import {
  documentDepthMax, documentListLengthMax, documentMapKeysMax, documentNodesMax, documentStringLengthMax, runStepsMax, yamlAliasCountMax,
} from './limits.js';
import { jsonTextProblem } from './json_scan.js';
import { formatPath, ScenarioError, type PathPart } from './scenario_error.js';


export function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

export function parseJson(text: string, file: string): unknown {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ScenarioError(file, '', jsonErrorText(text, (e as Error).message));
  }
  return data;
}

/**
 * JSON.parse's message names a position for some mistakes only; for an unexpected token it quotes
 * the text around it instead, newlines and all (a comment's `// c` then made three lines of one
 * error). So the place is found again here, the quote dropped, and what JSON does not allow said.
 */
function jsonErrorText(text: string, message: string): string {
  return `${jsonMistakeText(text, message)}; a .json scenario is strict JSON (RFC 8259)`;
}

/**
 * What makes `text` not JSON, for any JSON file vrange reads (a scenario, a --schedule-file, a
 * shard result): `invalid JSON at line L, column C: Unexpected token ']'`, one line, without the
 * excerpt JSON.parse quotes (which may hold the text's newlines), with a hint for a comment, a
 * single quote, NaN or Infinity. `error` is what JSON.parse threw.
 */
export function jsonMistake(text: string, error: unknown): string {
  return jsonMistakeText(text, error instanceof Error ? error.message : String(error));
}

function jsonMistakeText(text: string, message: string): string {
  const { at, what } = jsonMistakeAt(text, message);
  const where = at >= 0 ? ` at ${lineColumn(text, at)}` : '';
  return `invalid JSON${where}: ${what}`;
}

/** Where JSON.parse's `message` about `text` places the mistake (-1: nowhere), and what it is, without its quote of the text (with a hint for common mistakes). */
export function jsonMistakeAt(text: string, message: string): { at: number; what: string } {
  const at = jsonErrorOffset(text);
  const what = message.replace(/, (\.\.\.)?".*"(\.\.\.)? is not valid JSON$/s, '').replace(/ (in JSON )?at position \d+( \(line \d+ column \d+\))?$/, '');
  const c = text[at];
  const hint = c === '/' ? ' (JSON has no comments)' : c === "'" ? ' (JSON strings and keys take double quotes)'
    : /^[NI]/.test(text.slice(at, at + 1)) && /^(NaN|Infinity)/.test(text.slice(at)) ? ' (NaN and Infinity are not JSON numbers)' : '';
  return { at, what: what + hint };
}

/**
 * The offset of the first character that makes `text` not JSON (the end of the text if it stops
 * early), or -1 if it is JSON. A scan without recursion: a 100,000-deep list is just a long stack.
 */
export function jsonErrorOffset(text: string): number {
  const stack: string[] = [];
  let i = 0;
  let state: 'value' | 'after' | 'key' | 'firstKey' | 'firstValue' = 'value';
  const skipSpace = () => { while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++; };
  /** Moves i past the string that starts at i; returns the offset of a mistake in it, or -1. */
  const string = (): number => {
    for (i++; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x22) { i++; return -1; }
      if (c < 0x20) return i;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === undefined) return text.length;
        if (e === 'u') {
          for (let k = i + 2; k < i + 6; k++) if (!/[0-9a-fA-F]/.test(text[k] ?? '')) return Math.min(k, text.length);
          i += 5;
        } else if ('"\\/bfnrt'.includes(e)) i++; else return i + 1;
      }
    }
    return text.length;
  };
  const digits = () => { const from = i; while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++; return i > from; };
  /** Moves i past the number that starts at i; returns the offset of a mistake in it (as JSON.parse places it), or -1. */
  const numberAt = (): number => {
    if (text[i] === '-') i++;
    if (text[i] === '0') i++; else if (!digits()) return i;
    if (text[i] === '.') { i++; if (!digits()) return i; }
    if (text[i] === 'e' || text[i] === 'E') { i++; if (text[i] === '+' || text[i] === '-') i++; if (!digits()) return i; }
    return -1;
  };
  for (;;) {
    skipSpace();
    if (i >= text.length) return state === 'after' && stack.length === 0 ? -1 : text.length;
    const c = text[i]!;
    if (state === 'value' || state === 'firstValue') {
      if (state === 'firstValue' && c === ']') { stack.pop(); i++; state = 'after'; continue; }
      if (c === '{') { stack.push('{'); i++; state = 'firstKey'; continue; }
      if (c === '[') { stack.push('['); i++; state = 'firstValue'; continue; }
      if (c === '"') { const bad = string(); if (bad >= 0) return bad; state = 'after'; continue; }
      const word = c === 't' ? 'true' : c === 'f' ? 'false' : c === 'n' ? 'null' : undefined;
      if (word) {
        // JSON.parse places a broken literal at its first wrong character.
        for (let k = 1; k < word.length; k++) if (text[i + k] !== word[k]) return Math.min(i + k, text.length);
        i += word.length; state = 'after'; continue;
      }
      if (c === '-' || (c >= '0' && c <= '9')) { const bad = numberAt(); if (bad >= 0) return bad; state = 'after'; continue; }
      return i;
    }
    if (state === 'after') {
      const top = stack[stack.length - 1];
      if (top === undefined) return i;
      if (c === ',') { i++; state = top === '{' ? 'key' : 'value'; continue; }
      if (c === (top === '{' ? '}' : ']')) { stack.pop(); i++; continue; }
      return i;
    }
    // a key (or, first in a map, the map's end)
    if (state === 'firstKey' && c === '}') { stack.pop(); i++; state = 'after'; continue; }
    if (c !== '"') return i;
    const bad = string();
    if (bad >= 0) return bad;
    skipSpace();
    if (text[i] !== ':') return i;
    i++;
    state = 'value';
  }
}

/**
 * JSON.parse keeps the last of two equal keys; YAML refuses them, and so does a JSON scenario: one
 * pass over the text JSON.parse has already accepted (shared/json_scan.ts), whose memory grows with
 * the keys of the maps open at once, not with the file (building a YAML document of a 16 MiB JSON
 * file to ask it took gigabytes). Keys compare as decoded, as JSON.parse takes them.
 */
export function checkJsonDuplicates(text: string, file: string): void {
  const p = jsonTextProblem(text);
  if (p?.kind === 'duplicate-key') throw new ScenarioError(file, '', `invalid JSON at ${lineColumn(text, p.offset)}: duplicate key ${JSON.stringify(p.key).slice(0, 80)}; each key may appear once in a map`);
}

/**
 * The YAML parser's first stage (the CST) keeps its own stack; the stage that builds values
 * recurses. So the nesting is measured on the CST first, without recursion, and a document
 * deeper than documentDepthMax is refused before it can overflow the stack.
 */
function checkYamlDepth(tokens: readonly unknown[], text: string, file: string): void {
  type Cst = { type?: string; offset?: number; source?: string; start?: { source?: string } | unknown[]; value?: Cst;
    items?: Array<{ key?: Cst | null; value?: Cst | null }> };
  interface At { n: Cst; depth: number; parent: At | undefined; key: PathPart | undefined }
  const pathOf = (a: At): PathPart[] => {
    const out: PathPart[] = [];
    for (let x: At | undefined = a; x; x = x.parent) if (x.key !== undefined) out.push(x.key);
    return out.reverse();
  };
  const keyName = (k: Cst | null | undefined): string => (k?.source ?? '?').replace(/^["']|["']$/g, '');
  for (const doc of tokens) {
    const stack: At[] = [{ n: doc as Cst, depth: 0, parent: undefined, key: undefined }];
    while (stack.length > 0) {
      const at = stack.pop()!;
      const { n } = at;
      const isMap = n.type === 'block-map' || (n.type === 'flow-collection' && (n.start as { source?: string })?.source === '{');
      const d = at.depth + (n.type === 'block-map' || n.type === 'block-seq' || n.type === 'flow-collection' ? 1 : 0);
      if (d > documentDepthMax) {
        throw new ScenarioError(file, shortPath(pathOf(at)), `nested more than ${documentDepthMax} maps and lists deep (line ${lineColumn(text, n.offset ?? 0).replace(/^line /, '')}); at most ${documentDepthMax}`);
      }
      if (n.value && typeof n.value === 'object') stack.push({ n: n.value, depth: d, parent: at, key: undefined });
      (n.items ?? []).forEach((it, i) => {
        if (it.value && typeof it.value === 'object') stack.push({ n: it.value, depth: d, parent: at, key: isMap ? keyName(it.key) : i });
        if (it.key && typeof it.key === 'object') stack.push({ n: it.key, depth: d, parent: at, key: isMap ? keyName(it.key) : i });
      });
    }
  }
}

const tooDeep = (m: string) => (/Maximum call stack size exceeded/.test(m) ? `nested too deeply to read; at most ${documentDepthMax} maps and lists deep` : m);

/** What each YAML 1.2 core tag reads (the yaml parser's core schema), for a value that does not fit its tag. */
const CORE_TAG_VALUES: Readonly<Record<string, string>> = {
  str: 'a scalar (not a map or a list)', int: 'a whole number such as 3, -7, 0o17 or 0x1f',
  float: 'a number with a point or an exponent, such as 1.0, -2.5, 1e3, .inf or .nan', bool: 'true or false',
  null: 'null, ~ or nothing', map: 'a map', seq: 'a list',
};

/** The tags of the yaml.org repository that are YAML 1.1 types, not YAML 1.2 core's (the yaml parser would read them unless told not to). */
const YAML_11_TYPES = new Set(['binary', 'omap', 'pairs', 'set', 'timestamp', 'merge', 'value', 'yaml']);

/**
 * The directives before the document (CST `directive` tokens): `%YAML 1.2` and `%TAG` only. Any
 * other `%YAML` would switch the parser to that version's rules (`%YAML 1.1`: `yes`, `no`, `on`
 * and `off` are booleans, `010` is 8, `1:20` is 80, `<<` merges), so the same text would mean
 * something else than YAML 1.2 core gives it: refused, with its line. A `%TAG` only names a
 * prefix; whatever tag it makes still has to be one of YAML 1.2 core's (parseYaml).
 */
function checkYamlDirectives(tokens: readonly unknown[], text: string, file: string): void {
  // The CST gives each directive as a token of its own, before the document it belongs to.
  let seen = new Set<string>();
  for (const tok of tokens as Array<{ type?: string; source?: string; offset?: number }>) {
    if (tok.type === 'document') { seen = new Set(); continue; }
    if (tok.type !== 'directive' || typeof tok.source !== 'string') continue;
    const [name, ...args] = tok.source.trim().split(/[ \t]+/);
    const at = `invalid YAML at ${lineColumn(text, tok.offset ?? 0)}`;
    const shown = JSON.stringify(printableDirective(tok.source.trim()));
    // YAML 1.2 §6.8: one %YAML directive per document, and one %TAG per handle.
    const once = name === '%YAML' ? '%YAML' : `%TAG ${args[0] ?? ''}`;
    if ((name === '%YAML' || name === '%TAG') && seen.has(once)) throw new ScenarioError(file, '', `${at}: the directive ${shown} is the second ${once}${name === '%TAG' ? ' (the same handle)' : ''} of the document; YAML allows one`);
    seen.add(once);
    if (name === '%YAML') {
      if (args[0] === '1.2' && (args.length === 1 || args[1]!.startsWith('#'))) continue;
      const eg = args[0] === '1.1' ? ' (under YAML 1.1, yes/no/on/off would be true/false, 010 would be 8 and << would merge maps; under 1.2 they are strings, 10 and a plain key)' : '';
      throw new ScenarioError(file, '', `${at}: the directive ${shown} is not allowed; a scenario is read as YAML 1.2 (core schema) only, so the one %YAML directive allowed is %YAML 1.2${eg}: remove it`);
    }
    if (name === '%TAG') continue;
    throw new ScenarioError(file, '', `${at}: the directive ${shown} is not allowed; the directives allowed are %YAML 1.2 and %TAG`);
  }
}

const printableDirective = (d: string) => (d.length > 60 ? `${d.slice(0, 60)}...` : d).replace(/[^\x20-\x7e]/g, '?');

export function parseYaml(text: string, file: string): unknown {
  // The CST is made once: measured for depth, then composed into the document (parseDocument
  // would parse the text a second time: half of a large file's load time).
  const tokens = Array.from(new Parser().parse(text));
  checkYamlDirectives(tokens, text, file);
  checkYamlDepth(tokens, text, file);
  let doc: Document.Parsed | undefined;
  try {
    // YAML 1.2, core schema, whatever the document says: no merge keys (`<<` is a plain key, refused
    // in checkYamlKeys), and no YAML 1.1 types (!!binary, !!set, !!timestamp, ...: left unresolved, refused below).
    for (const d of new Composer({ strict: true, uniqueKeys: false, version: '1.2', schema: 'core', merge: false, resolveKnownTags: false }).compose(tokens, true, text.length)) {
      if (doc) { doc.errors.push(new YAMLParseError(d.range.slice(0, 2) as [number, number], 'MULTIPLE_DOCS', 'Source contains multiple documents; a scenario is one')); break; }
      doc = d;
    }
  } catch (e) {
    throw new ScenarioError(file, '', `invalid YAML: ${tooDeep((e as Error).message)}`);
  }
  if (!doc) return null; // compose always makes one document (forceDoc), empty for an empty text
  const err = doc.errors[0];
  if (err) throw new ScenarioError(file, '', `invalid YAML at ${lineColumn(text, err.pos[0])}: ${tooDeep(err.message)}`);
  // A tag the parser does not know (`!fred 1`) would be silently read as its plain value.
  const warning = doc.warnings[0];
  if (warning) {
    const at = `invalid YAML at ${lineColumn(text, warning.pos[0])}`;
    // A core tag the value does not fit (`!!float 1`, `!!bool yes`) is named as such: the tag itself is allowed.
    const core = warning.code === 'TAG_RESOLVE_FAILED' ? /^Unresolved tag: tag:yaml\.org,2002:(\w+)$/.exec(warning.message.split(' at line ')[0]!) : null;
    const fits = core ? CORE_TAG_VALUES[core[1]!] : undefined;
    if (core && fits) throw new ScenarioError(file, '', `${at}: the value tagged !!${core[1]} is not one that tag reads; !!${core[1]} takes ${fits}`);
    if (core && YAML_11_TYPES.has(core[1]!)) {
      throw new ScenarioError(file, '', `${at}: the tag !!${core[1]} is a YAML 1.1 type, not one of YAML 1.2 core, which a scenario is read as; the tags allowed are !!str, !!int, !!float, !!bool, !!null, !!map, !!seq`);
    }
    const tag = warning.code === 'TAG_RESOLVE_FAILED' ? ' (the tags allowed are those of YAML 1.2 core: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)' : '';
    throw new ScenarioError(file, '', `${at}: ${warning.message}${tag}`);
  }
  checkYamlKeys(doc, text, file);
  try {
    return doc.toJS({ maxAliasCount: yamlAliasCountMax }); // throws on alias abuse
  } catch (e) {
    const m = (e as Error).message;
    if (/^Excessive alias count/.test(m)) {
      throw new ScenarioError(file, '', `invalid YAML: its aliases expand too far (an anchored value that holds aliases is used so often that the values would multiply past the parser's bound of ${yamlAliasCountMax}, its guard against alias bombs); reuse such a value less, or write it out`);
    }
    throw new ScenarioError(file, '', `invalid YAML: ${tooDeep(m)}`);
  }
}

/**
 * Every duplicate key is found here, not by the parser (its uniqueKeys is off: its "Map keys must
 * be unique" named neither the key, nor its map, nor where it was first). The parser compares keys
 * as YAML nodes, but the plain data names every key by a string: `true` and `"true"`, `1` and `"1"`, `~` and `""`, and an alias `*k` of
 * an anchored key `&k A` are each one key there, and the last would silently replace the first (a
 * whole process lost). So each map's keys are compared again as the data will name them, and a key
 * that is a map or a list (which the data could name only by its YAML text) is refused. Walked
 * without recursion; aliases are not followed (the node they name is checked where it stands).
 */
function checkYamlKeys(doc: Document.Parsed, text: string, file: string): void {
  // Each node keeps its parent and its key, not its path: a list of millions of items makes no arrays.
  interface At { n: unknown; parent: At | undefined; key: PathPart | undefined }
  const pathOf = (a: At | undefined, last?: PathPart): PathPart[] => {
    const out: PathPart[] = last === undefined ? [] : [last];
    for (let x = a; x; x = x.parent) if (x.key !== undefined) out.push(x.key);
    return out.reverse();
  };
  const where = (n: unknown) => lineColumn(text, (n as { range?: [number] } | null)?.range?.[0] ?? 0);
  const source = (n: unknown) => { const r = (n as { range?: [number, number] } | null)?.range; return r ? text.slice(r[0], r[1]) : ''; };
  const stack: At[] = [{ n: doc.contents, parent: undefined, key: undefined }];
  while (stack.length > 0) {
    const at = stack.pop()!;
    const { n } = at;
    if (isSeq(n)) { n.items.forEach((v, i) => stack.push({ n: v, parent: at, key: i })); continue; }
    if (!isMap(n)) continue;
    const seen = new Map<string, unknown>();
    for (const pair of n.items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key as YamlNode | null;
      const target = isAlias(keyNode) ? keyNode.resolve(doc) : keyNode;
      if (target && !isScalar(target)) {
        throw new ScenarioError(file, shortPath(pathOf(at)), `invalid YAML at ${where(keyNode)}: a key that is a map or a list; a key is a name (a string)`);
      }
      const value = target ? (target as { value: unknown }).value : null;
      // A plain `<<` is YAML 1.1's merge key; under YAML 1.2 core it would be a key named "<<", and
      // the fields it meant to merge in would be lost with no word of why: said as such.
      if (value === '<<' && isScalar(target) && target.type === 'PLAIN') {
        throw new ScenarioError(file, shortPath(pathOf(at)), `invalid YAML at ${where(keyNode)}: \`<<\` (a merge key) is YAML 1.1's, and a scenario is read as YAML 1.2 (core schema), which does not merge maps; write the fields out (an alias \`*name\` may still reuse a whole value)`);
      }
      const key = value === null || value === undefined ? '' : String(value);
      if (seen.has(key)) {
        const first = seen.get(key);
        const another = source(first) !== source(keyNode) ? ', written another way' : '';
        throw new ScenarioError(file, shortPath(pathOf(at, key)), `invalid YAML at ${where(keyNode)}: the key ${JSON.stringify(key).slice(0, 80)} is given twice in one map (first at ${where(first)}${another}); each key may appear once`);
      }
      seen.set(key, keyNode);
      stack.push({ n: pair.value, parent: at, key });
    }
  }
}

const shortPath = (path: readonly PathPart[]) => (path.length <= 12 ? formatPath(path) : `${formatPath(path.slice(0, 8))}...`);

/**
 * Bounds on the plain data before the schema sees it: nesting, node count, list length, keys per
 * map, string length; plain values only (no binary or other tagged types); no `__proto__` key.
 * Walked without recursion, so a document nested 100,000 deep is refused here, with its path,
 * rather than overflowing a stack later (zod's, or the encoder that sends a step to an agent).
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkDocumentBounds(data: unknown, file: string): void {
  interface Node { v: unknown; parent: Node | undefined; key: PathPart; depth: number }
  const pathOf = (n: Node | undefined): PathPart[] => {
    const out: PathPart[] = [];
    for (let x = n; x && x.parent; x = x.parent) out.push(x.key);
    return out.reverse();
  };
  const fail = (n: Node | undefined, detail: string): never => { throw new ScenarioError(file, shortPath(pathOf(n)), detail); };
  const stack: Node[] = [{ v: data, parent: undefined, key: '', depth: 0 }];
  let nodes = 0;
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (++nodes > documentNodesMax) fail(n, `the document has more than ${documentNodesMax} values (maps, lists and scalars); at most ${documentNodesMax}`);
    const v = n.v;
    if (typeof v === 'string') {
      if (v.length > documentStringLengthMax) fail(n, `a string of ${v.length} characters; at most ${documentStringLengthMax}`);
      if (LONE_SURROGATE.test(v)) fail(n, 'a string with a lone surrogate (an escape such as \\ud800 with no pair), which is not text and has no UTF-8 encoding');
      continue;
    }
    if (v === null || typeof v === 'number' || typeof v === 'boolean') continue;
    const container = Array.isArray(v) || (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype);
    if (!container) fail(n, `a value of type ${typeof v === 'object' ? (v as object).constructor?.name ?? 'object' : typeof v}; a scenario holds only maps, lists, strings, numbers, true/false and null`);
    if (n.depth >= documentDepthMax) fail(n, `nested more than ${documentDepthMax} maps and lists deep; at most ${documentDepthMax}`);
    const children: Node[] = [];
    if (Array.isArray(v)) {
      if (v.length > documentListLengthMax) fail(n, `a list of ${v.length} items; at most ${documentListLengthMax}`);
      for (let i = 0; i < v.length; i++) children.push({ v: v[i], parent: n, key: i, depth: n.depth + 1 });
    } else {
      const keys = Object.keys(v as object);
      if (keys.length > documentMapKeysMax) fail(n, `a map of ${keys.length} keys; at most ${documentMapKeysMax}`);
      for (const k of keys) {
        const child: Node = { v: (v as Record<string, unknown>)[k], parent: n, key: k, depth: n.depth + 1 };
        if (k === '__proto__') fail(child, '"__proto__" is not allowed as a name or a field');
        if (k.length > documentStringLengthMax) fail(n, `a key of ${k.length} characters; at most ${documentStringLengthMax}`);
        if (LONE_SURROGATE.test(k)) fail(child, 'a key with a lone surrogate (an escape such as \\ud800 with no pair), which has no UTF-8 encoding');
        children.push(child);
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
  }
}

/**
 * Steps in all (shared/limits.ts runStepsMax), counted on the plain data before the schema looks
 * at each step: a run of more could not be held or bounded, and the count costs nothing.
 */
export function checkTotalSteps(data: unknown, file: string): void {
  const len = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  if (data === null || typeof data !== 'object') return;
  const d = data as { processes?: unknown; kernel?: unknown };
  let total = len(d.kernel);
  if (d.processes !== null && typeof d.processes === 'object') {
    for (const p of Object.values(d.processes as Record<string, unknown>)) {
      if (p !== null && typeof p === 'object') total += len((p as { steps?: unknown }).steps);
    }
  }
  if (total > runStepsMax) {
    throw new ScenarioError(file, 'processes', `${total} steps in all (processes and kernel together); at most ${runStepsMax} in one scenario`);
  }
}

