// The published JSON Schema of the scenario format (schema/scenario.schema.json), compiled once
// with a standard validator (ajv), for the tests that check scenarios against it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { root } from './helpers-root.js';

export const schemaFile = join(root, 'schema', 'scenario.schema.json');
let compiled: ValidateFunction | undefined;

/** ajv's validator of the committed schema file (strict mode: an unknown keyword is an error). */
export function schemaValidator(): ValidateFunction {
  compiled ??= new Ajv({ strict: true, allErrors: true }).compile(JSON.parse(readFileSync(schemaFile, 'utf8')));
  return compiled;
}

/** The plain data of a scenario text, as the loader reads it (YAML, or JSON for `.json`). */
export function scenarioData(text: string): unknown {
  return parseDocument(text.replace(/^\uFEFF/, '')).toJS();
}

/** undefined if `data` is valid against the schema, else ajv's errors as one line. */
export function schemaErrors(data: unknown): string | undefined {
  const v = schemaValidator();
  return v(data) ? undefined : JSON.stringify(v.errors?.slice(0, 3));
}
