// The published JSON Schema of the scenario format: generated from the zod schema, committed as
// generated, named by every library scenario, and in agreement with the loader.
import test from 'ava';
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { scenarioJsonSchema } from '../scripts/scenario-schema.js';
import { parseScenario, ScenarioError } from '../shared/scenario.js';
import { randomScenario } from '../shared/generate.js';
import { root } from './helpers-root.js';
import { scenarioData, schemaErrors, schemaFile } from './schema-check.js';

const libraryDir = join(root, 'scenarios');
const library = readdirSync(libraryDir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

test('the committed schema is the one the zod schema generates (run `npm run schema` after changing shared/scenario.ts)', (t) => {
  t.is(readFileSync(schemaFile, 'utf8'), scenarioJsonSchema());
});

test('every library scenario names the schema on its first line and is valid against it', (t) => {
  t.true(library.length > 20);
  for (const f of library) {
    const text = readFileSync(join(libraryDir, f), 'utf8');
    t.is(text.split('\n')[0], '# yaml-language-server: $schema=../schema/scenario.schema.json', f);
    t.is(schemaErrors(scenarioData(text)), undefined, f);
  }
});

test('random valid scenarios of the generator are valid against the schema', (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const s = randomScenario(seed);
    const { file: _file, processes, ...top } = s;
    const doc = { ...top, processes: Object.fromEntries(processes.map(({ name, ...p }) => [name, p])) };
    t.is(schemaErrors(doc), undefined, `seed ${seed}`);
  }
});

test('the schema refuses what the loader refuses for its shape: unknown fields, ops, enums, limits, names', (t) => {
  const base = (step: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    ({ name: 'x', processes: { A: { steps: [{ op: 'mmap', as: 'm', pages: 1 }, step] } }, ...extra });
  const bad: Array<[string, unknown]> = [
    ['unknown expect field', base({ op: 'read', map: 'm', page: 0, expect: { fred: 5 } })],
    ['expect field of another op', base({ op: 'read', map: 'm', page: 0, expect: { freed: 1 } })],
    ['expect value of the wrong type', base({ op: 'read', map: 'm', page: 0, expect: { value: 5 } })],
    ['byPolicy under an unknown policy', base({ op: 'read', map: 'm', page: 0, expect: { byPolicy: { 'per-mn': { ok: true } } } })],
    ['unknown op', base({ op: 'mmapp' })],
    ['unknown step field', base({ op: 'read', map: 'm', page: 0, pgae: 1 })],
    ['negative pages', base({ op: 'mmap', as: 'n', pages: -1 })],
    ['pages over the limit', base({ op: 'mmap', as: 'n', pages: 4_000_001 })],
    ['unknown share', base({ op: 'mmap', as: 'n', pages: 1, share: 'public' })],
    ['bad process name', { name: 'x', processes: { '1A': { steps: [] } } }],
    ['bad scenario name', { name: 'Bad Name', processes: {} }],
    ['file named __proto__', { name: 'x', files: [{ name: '__proto__', pages: 1 }], processes: {} }],
    ['unknown policy', { name: 'x', policy: 'per-process', processes: {} }],
    ['unknown top-level field', { name: 'x', processes: {}, proceses: {} }],
  ];
  for (const [what, doc] of bad) {
    t.not(schemaErrors(doc), undefined, `schema accepts: ${what}`);
    t.throws(() => parseScenario(JSON.stringify(doc), 'x.json'), { instanceOf: ScenarioError }, `loader accepts: ${what}`);
  }
});

test('goals: the schema accepts what the loader accepts and refuses their shape errors as the loader does', (t) => {
  const doc = (goals: unknown) => ({ name: 'x', processes: { A: { steps: [{ op: 'mmap', as: 'm', pages: 1, label: 'map' }] } }, goals });
  const good = doc([{ name: 'mapped', title: 'A maps', when: [{ process: 'A', label: 'map', result: { ok: true } }] },
    { name: 'by-index', when: [{ process: 'A', step: 0, result: { addr: 4096 } }] }]);
  t.is(schemaErrors(good), undefined);
  t.notThrows(() => parseScenario(JSON.stringify(good), 'x.json'));
  const bad: Array<[string, unknown]> = [
    ['bad goal name', doc([{ name: 'Big', when: [{ process: 'A', step: 0, result: {} }] }])],
    ['unknown goal field', doc([{ name: 'g', tilte: 't', when: [{ process: 'A', step: 0, result: {} }] }])],
    ['no conditions', doc([{ name: 'g', when: [] }])],
    ['unknown condition field', doc([{ name: 'g', when: [{ process: 'A', step: 0, result: {}, op: 'mmap' }] }])],
    ['a negative step', doc([{ name: 'g', when: [{ process: 'A', step: -1, result: {} }] }])],
    ['a result that is not a map', doc([{ name: 'g', when: [{ process: 'A', step: 0, result: 5 }] }])],
    ['goals not a list', doc({ g: 1 })],
  ];
  for (const [what, d] of bad) {
    t.not(schemaErrors(d), undefined, `schema accepts: ${what}`);
    t.throws(() => parseScenario(JSON.stringify(d), 'x.json'), { instanceOf: ScenarioError }, `loader accepts: ${what}`);
  }
});

test('a JSON scenario may name the schema with $schema, as JSON editors expect', (t) => {
  const doc = { $schema: '../schema/scenario.schema.json', name: 'x', processes: { A: { steps: [{ op: 'crash' }] } } };
  t.is(schemaErrors(doc), undefined);
  const s = parseScenario(JSON.stringify(doc), 'x.json');
  t.false('$schema' in s, 'not part of the scenario');
  t.throws(() => parseScenario(JSON.stringify({ ...doc, $schema: 5 }), 'x.json'), { message: /\$schema: expected the path or URL/ });
});

// Property: whatever the loader accepts, the schema accepts (the schema may be looser only where
// JSON Schema cannot say a rule: cross-references and rules between fields).
const name = fc.constantFrom('A', 'B', 'm', 'f', 'cache', 'go');
const num = fc.oneof(fc.integer({ min: -2, max: 10 }), fc.constantFrom(4_000_000, 4_000_001, 0.5));
const field = fc.constantFrom('op', 'map', 'fd', 'as', 'page', 'pages', 'mode', 'value', 'file', 'child', 'name', 'process', 'all',
  'byteOffset', 'byteLength', 'share', 'offset', 'code', 'label', 'expect');
const scalar = fc.oneof(name, num, fc.boolean(), fc.constantFrom('read', 'write', 'mmap', 'vrange', 'volatile', 'shared', 'reclaim', 'check'));
const expectArb = fc.dictionary(fc.constantFrom('ok', 'value', 'errno', 'signal', 'pid', 'freed', 'purged', 'bytes', 'fred', 'byPolicy'),
  fc.oneof(scalar, fc.dictionary(fc.constantFrom('default', 'per-mm', 'ok'), fc.dictionary(fc.constantFrom('ok', 'value'), scalar))), { maxKeys: 3 });
const stepArb = fc.oneof(
  fc.dictionary(field, scalar, { maxKeys: 5 }),
  fc.tuple(fc.dictionary(field, scalar, { maxKeys: 4 }), expectArb).map(([s, expect]) => ({ ...s, expect })),
  fc.record({ op: fc.constantFrom('read', 'write'), map: fc.constant('m'), page: num, value: fc.string({ maxLength: 3 }), expect: expectArb }),
);

test('property: a document the loader accepts is valid against the schema', (t) => {
  let accepted = 0;
  fc.assert(fc.property(fc.array(stepArb, { maxLength: 5 }), fc.boolean(), (steps, json) => {
    const doc = {
      name: 'prop', files: [{ name: 'cache', pages: 8 }],
      processes: { A: { steps: [{ op: 'open', file: 'cache', fd: 'f' }, { op: 'mmap', as: 'm', pages: 8, fd: 'f' }, ...steps] }, B: { forked: true, steps: [] } },
      kernel: [{ op: 'signal', name: 'go' }],
    };
    const text = json ? JSON.stringify(doc) : stringify(doc);
    try { parseScenario(text, json ? 'p.json' : 'p.yaml'); } catch (e) { if (e instanceof ScenarioError) return true; throw e; }
    accepted++;
    return schemaErrors(doc) === undefined;
  }), { numRuns: 1500 });
  t.true(accepted > 20, `only ${accepted} documents accepted: the property tested too little`);
});
