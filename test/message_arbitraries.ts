// fast-check arbitraries made from the message schemas (shared/message_schemas.ts): for each
// agent -> kernel message type, well-formed messages, and forged ones (one field made wrong, a
// required field left out, or a field the type does not have). Nothing here knows a message type
// by hand: a new type or field in the schemas is generated and forged too.

import fc from 'fast-check';
import { z } from 'zod';
import { agentMsgSchemas, type AgentMsgType, type CustomMeta } from '../shared/message_schemas.js';

type Arb = fc.Arbitrary<unknown>;

function numberBounds(s: z.ZodNumber): { int: boolean; min: number; max: number } {
  let min = -Number.MAX_VALUE;
  let max = Number.MAX_VALUE;
  let int = false;
  for (const c of s._def.checks) {
    if (c.kind === 'int') int = true;
    if (c.kind === 'min') min = c.inclusive ? c.value : c.value + Number.EPSILON;
    if (c.kind === 'max') max = c.inclusive ? c.value : c.value - Number.EPSILON;
  }
  return { int, min, max };
}

function stringMax(s: z.ZodString): number {
  const c = s._def.checks.find((x) => x.kind === 'max') as { value: number } | undefined;
  return c?.value ?? 64;
}

/** Keeps generated numbers small most of the time, and the bounds themselves often. */
function intIn(min: number, max: number): Arb {
  const lo = Math.max(min, Number.MIN_SAFE_INTEGER);
  const hi = Math.min(max, Number.MAX_SAFE_INTEGER);
  const small = fc.integer({ min: Math.max(lo, -8), max: Math.max(Math.max(lo, -8), Math.min(hi, 64)) });
  return fc.oneof({ weight: 4, arbitrary: small }, fc.constantFrom(lo, hi), fc.integer({ min: Math.max(lo, -(2 ** 31)), max: Math.min(hi, 2 ** 31) }));
}

function metaOf(s: z.ZodTypeAny): CustomMeta | undefined {
  return s.description ? (JSON.parse(s.description) as CustomMeta) : undefined;
}

/** Values the schema accepts. */
export function validOf(s: z.ZodTypeAny): Arb {
  const meta = metaOf(s);
  if (meta && 'intArray' in meta) {
    const { min, max, stride } = meta.intArray;
    if (!stride) return fc.array(intIn(min, max) as fc.Arbitrary<number>, { maxLength: 8 });
    // An ascending run list: [start, count, ...extra] with gaps.
    return fc.array(fc.tuple(fc.nat(5), fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(100), { minLength: stride - 2, maxLength: stride - 2 })), { maxLength: 5 })
      .map((runs) => { let at = 0; const out: number[] = []; for (const [gap, count, extra] of runs) { at += gap; out.push(at, count, ...extra); at += count; } return out; });
  }
  if (meta && 'typedOrIntArray' in meta) {
    const { type, min, max } = meta.typedOrIntArray;
    const plain = fc.array(fc.integer({ min, max: Math.min(max, 1000) }), { maxLength: 6 });
    return fc.oneof(plain, plain.map((a) => (type === 'Int32Array' ? Int32Array.from(a) : type === 'Float64Array' ? Float64Array.from(a) : Uint8Array.from(a.map((v) => v & 255)))));
  }
  if (meta && 'rangeSet' in meta) {
    return fc.array(fc.tuple(fc.nat(4), fc.integer({ min: 1, max: 4 })), { maxLength: 4 }).map((ps) => {
      const pieces: number[] = [];
      let at = 0;
      ps.forEach(([gap, len], i) => { at += gap + 1; pieces.push(at, at + len, i + 1, i); at += len; });
      return { v: 1, limit: 1000, nextId: ps.length + 1, pieces };
    });
  }
  if (meta && 'plainResult' in meta) {
    const leaf = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.string({ maxLength: 8 }));
    const field = fc.oneof(leaf, fc.array(fc.dictionary(fc.constantFrom('page', 'resident', 'volatile'), leaf, { maxKeys: 3 }), { maxLength: 3 }));
    return fc.tuple(fc.boolean(), fc.dictionary(fc.constantFrom('value', 'bytes', 'errno', 'pages', 'fd', 'constructor', 'toString'), field, { maxKeys: 4 }))
      .map(([ok, rest]) => ({ ...rest, ok }));
  }
  if (s instanceof z.ZodObject) {
    const shape = s.shape as Record<string, z.ZodTypeAny>;
    const arbs: Record<string, Arb> = {};
    const required: string[] = [];
    for (const [k, v] of Object.entries(shape)) {
      if (v instanceof z.ZodOptional) arbs[k] = validOf(v._def.innerType);
      else { arbs[k] = validOf(v); required.push(k); }
    }
    return fc.record(arbs, { requiredKeys: required });
  }
  if (s instanceof z.ZodNumber) {
    const { int, min, max } = numberBounds(s);
    return int ? intIn(min, max) : fc.double({ min: Math.max(min, 0), max: Math.min(max, 1e12), noNaN: true, noDefaultInfinity: true });
  }
  if (s instanceof z.ZodString) return fc.string({ maxLength: Math.min(stringMax(s), 16), unit: 'binary' });
  if (s instanceof z.ZodBoolean) return fc.boolean();
  if (s instanceof z.ZodLiteral) return fc.constant(s._def.value);
  if (s instanceof z.ZodEnum) return fc.constantFrom(...(s._def.values as string[]));
  if (s instanceof z.ZodArray) return fc.array(validOf(s._def.type), { maxLength: 4 });
  if (s instanceof z.ZodTuple) return fc.tuple(...(s._def.items as z.ZodTypeAny[]).map(validOf));
  if (s instanceof z.ZodRecord) return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__'), validOf(s._def.valueType), { maxKeys: 3 });
  if (s instanceof z.ZodDiscriminatedUnion) return fc.oneof(...[...s._def.options.values()].map((o) => validOf(o as z.ZodTypeAny)));
  if (s instanceof z.ZodOptional) return fc.option(validOf(s._def.innerType), { nil: undefined });
  throw new Error(`validOf: no generator for ${s._def.typeName}`);
}

const junk: Arb = fc.oneof(fc.constant(null), fc.constant(undefined), fc.constant(Number.NaN), fc.constant(Infinity), fc.constant(-1.5),
  fc.constant('7'), fc.constant(true), fc.constant([]), fc.constant({}), fc.constant('\u001b[2J\n'));

/** Values the schema refuses (each for a reason its kind makes certain). */
export function invalidOf(s: z.ZodTypeAny): Arb {
  const meta = metaOf(s);
  const notArray = fc.constantFrom<unknown>('1,2', 3, null, { 0: 1 }, true);
  if (meta && 'intArray' in meta) {
    const { min, max, stride } = meta.intArray;
    const bad = fc.constantFrom<unknown>(1.5, Number.NaN, '1', null, ...(min > -Number.MAX_SAFE_INTEGER ? [min - 1] : []), ...(max < Number.MAX_SAFE_INTEGER ? [max + 1] : []));
    const withBad = fc.tuple(validOf(s) as fc.Arbitrary<number[]>, bad, fc.nat()).map(([a, b, i]) => { const c: unknown[] = [...a]; c.splice(i % (c.length + 1), 0, b); return c; });
    return stride ? fc.oneof(notArray, withBad, fc.constant([0])) : fc.oneof(notArray, withBad);
  }
  if (meta && 'typedOrIntArray' in meta) {
    const { type, min, max } = meta.typedOrIntArray;
    return fc.oneof(notArray, fc.constantFrom<unknown>([0.5], [min - 1], [max + 1], ['1'], [null]), ...(min >= 0 ? [] : [fc.constant(Int32Array.of(min - 1))]), ...(type === 'Float64Array' ? [fc.constant(Float64Array.of(0.5)), fc.constant(Float64Array.of(max + 1))] : []));
  }
  if (meta && 'plainResult' in meta) {
    const { fieldsMax, listMax, depthMax, stringMax } = meta.plainResult;
    let deep: unknown = 1;
    for (let i = 0; i < depthMax; i++) deep = [deep];
    return fc.constantFrom<unknown>(null, [], 'ok', {}, { ok: 1 }, { ok: 'true' }, { ok: true, value: 2n ** 62n }, { ok: true, value: Number.NaN },
      { ok: true, value: Infinity }, { ok: true, value: new Date(0) }, { ok: true, value: new Set([1]) },
      { ok: true, value: Float64Array.of(1) }, { ok: true, value: /a/ }, { ok: true, value: new Error('x') },
      { ok: true, value: 'x'.repeat(stringMax + 1) }, { ok: true, value: deep }, { ok: true, pages: new Array(listMax + 1).fill(0) },
      Object.fromEntries([['ok', true], ...Array.from({ length: fieldsMax }, (_, i) => [`f${i}`, i])]));
  }
  if (meta && 'rangeSet' in meta) return fc.constantFrom<unknown>([], null, { v: 2, limit: 1, nextId: 1, pieces: [] }, { v: 1, limit: 0, nextId: 1, pieces: [1, 2, 1, 0] });
  if (s instanceof z.ZodObject) {
    const shape = s.shape as Record<string, z.ZodTypeAny>;
    const keys = Object.keys(shape).filter((k) => k !== 't');
    const valid = validOf(s) as fc.Arbitrary<Record<string, unknown>>;
    const options: Arb[] = [fc.constantFrom<unknown>(null, 5, 'x', [1])];
    // A field made wrong.
    if (keys.length > 0) {
      options.push(fc.tuple(valid, fc.constantFrom(...keys)).chain(([o, k]) => invalidOf(shape[k]!).map((bad) => ({ ...o, [k]: bad }))));
    }
    // A required field left out.
    const required = keys.filter((k) => !(shape[k] instanceof z.ZodOptional));
    if (required.length > 0) options.push(fc.tuple(valid, fc.constantFrom(...required)).map(([o, k]) => { const c = { ...o }; delete c[k]; return c; }));
    // A field the type does not have.
    if (s._def.unknownKeys === 'strict') {
      options.push(fc.tuple(valid, fc.string({ minLength: 1, maxLength: 8 }).filter((k) => !(k in shape) && k !== '__proto__'), junk).map(([o, k, v]) => ({ ...o, [k]: v ?? 0 })));
    }
    return fc.oneof(...options);
  }
  if (s instanceof z.ZodNumber) {
    const { int, min, max } = numberBounds(s);
    const outside: number[] = [];
    if (min > -Number.MAX_SAFE_INTEGER) outside.push(min - 1);
    if (max < Number.MAX_SAFE_INTEGER) outside.push(max + 1);
    return fc.constantFrom<unknown>(Number.NaN, Infinity, -Infinity, '3', null, true, [], ...(int ? [0.5, min + 0.25] : []), ...outside);
  }
  if (s instanceof z.ZodString) {
    const max = stringMax(s);
    return fc.oneof(fc.constantFrom<unknown>(3, null, true, ['a'], { s: 'a' }), fc.constant('x'.repeat(max + 1)));
  }
  if (s instanceof z.ZodBoolean) return fc.constantFrom<unknown>(0, 1, 'true', null, []);
  if (s instanceof z.ZodLiteral) return fc.constantFrom<unknown>(`${String(s._def.value)}x`, 0, null);
  if (s instanceof z.ZodEnum) return fc.constantFrom<unknown>('SIGKILL', 'volatil', '', 7, null);
  if (s instanceof z.ZodArray) {
    const withBad = fc.tuple(fc.array(validOf(s._def.type), { maxLength: 3 }), invalidOf(s._def.type)).map(([a, b]) => [...a, b]);
    return fc.oneof(fc.constantFrom<unknown>('[]', 3, null, { length: 0 }), withBad);
  }
  if (s instanceof z.ZodTuple) {
    const items = s._def.items as z.ZodTypeAny[];
    return fc.oneof(fc.constantFrom<unknown>(null, 'ab', [], [0]), fc.tuple(...items.map(validOf), fc.nat()).map((t) => t.slice(0, -1).concat(t.slice(0, 1))),
      fc.tuple(fc.tuple(...items.map(validOf)), fc.nat(items.length - 1)).chain(([t, i]) => invalidOf(items[i]!).map((b) => { const c = [...t]; c[i] = b; return c; })));
  }
  if (s instanceof z.ZodRecord) return fc.oneof(fc.constantFrom<unknown>(null, 3, 'x'), invalidOf(s._def.valueType).map((b) => ({ k: b })));
  if (s instanceof z.ZodDiscriminatedUnion) {
    const opts = [...s._def.options.values()] as z.ZodTypeAny[];
    return fc.oneof(fc.constantFrom<unknown>(null, { kind: 'nope' }, 3), ...opts.map((o) => invalidOf(o).filter((v) => {
      // Forging one option's field must not make it a valid other option.
      return !s.safeParse(v).success;
    })));
  }
  if (s instanceof z.ZodOptional) return invalidOf(s._def.innerType).filter((v) => v !== undefined);
  throw new Error(`invalidOf: no forger for ${s._def.typeName}`);
}

export const messageTypes = Object.keys(agentMsgSchemas) as AgentMsgType[];

/** Well-formed messages of type `t`. */
export const validMessage = (t: AgentMsgType) => validOf(agentMsgSchemas[t]) as fc.Arbitrary<Record<string, unknown>>;

/** Forged messages of type `t`: `t` kept, one thing about the rest made wrong. */
export const forgedMessage = (t: AgentMsgType) => invalidOf(agentMsgSchemas[t]).filter((m) => typeof m === 'object' && m !== null && !Array.isArray(m))
  .map((m) => ({ ...(m as Record<string, unknown>), t }));
