// The JSON Schema of the scenario format, generated from the zod schema of shared/scenario.ts (the
// one the loader checks with), so the two cannot drift apart. Editors use it to complete and check
// fields as the user types (the first line of each library scenario names it).
//
//   npm run schema            writes schema/scenario.schema.json (committed, shipped in the package)
//   node dist/scripts/scenario-schema.js --check   exits 1 if the committed file is not current
//
// What the JSON Schema cannot say (cross-references: bindings, forks, signals; rules between
// fields such as "page and pages, or byteOffset and byteLength") only the loader checks.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zodToJsonSchema } from 'zod-to-json-schema';
import { scenarioSchema } from '../shared/scenario.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const schemaPath = join(root, 'schema', 'scenario.schema.json');

/** The JSON Schema text, exactly as the committed file holds it. */
export function scenarioJsonSchema(): string {
  const schema = zodToJsonSchema(scenarioSchema, {
    target: 'jsonSchema7', $refStrategy: 'root', effectStrategy: 'input', removeAdditionalStrategy: 'strict',
  }) as Record<string, unknown>;
  const out = {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/vrange/vrange/schema/scenario.schema.json',
    title: 'vrange scenario, format version 1',
    description: 'A scenario for the vrange emulator (docs/scenario-format.md). Generated from shared/scenario.ts by `npm run schema`: do not edit by hand.',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
  return JSON.stringify(out, null, 2) + '\n';
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = scenarioJsonSchema();
  if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(schemaPath, 'utf8'); } catch { /* missing: not current */ }
    if (current !== text) {
      process.stderr.write(`${schemaPath} is not the schema shared/scenario.ts gives; run \`npm run schema\` and commit it\n`);
      process.exit(1);
    }
  } else {
    writeFileSync(schemaPath, text);
    process.stdout.write(`wrote ${schemaPath}\n`);
  }
}
