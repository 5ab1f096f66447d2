import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { RULE_SCHEMA } from '../../src/rules/schema.js';

const schemaPath = fileURLToPath(new URL('../../schemas/rule.schema.json', import.meta.url));
const examplesPath = fileURLToPath(new URL('../../rules/examples.yaml', import.meta.url));

function publishedValidator() {
  const published = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
  return new Ajv2020({ allErrors: true, strict: false }).compile(published);
}

describe('schemas/rule.schema.json', () => {
  it('is RULE_SCHEMA, byte for byte as JSON.stringify(RULE_SCHEMA, null, 2) plus a newline', () => {
    const text = readFileSync(schemaPath, 'utf8');
    expect(text).toBe(`${JSON.stringify(RULE_SCHEMA, null, 2)}\n`);
    expect(JSON.parse(text)).toEqual(RULE_SCHEMA);
  });

  it('is a draft 2020-12 schema that ajv compiles', () => {
    const published = JSON.parse(readFileSync(schemaPath, 'utf8')) as { $schema: string; $id: string };
    expect(published.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(published.$id).toBe('https://stixflow.dev/schemas/rule.schema.json');
    expect(typeof publishedValidator()).toBe('function');
  });

  it('accepts every rule in rules/examples.yaml', () => {
    const validate = publishedValidator();
    const file = parse(readFileSync(examplesPath, 'utf8')) as { rules: Record<string, unknown>[] };
    expect(file.rules.map((r) => r.id)).toEqual([
      'web-server-spawns-shell',
      'credential-file-read',
      'outbound-unusual-port',
      'word-launches-powershell',
      'web-shell-then-callback',
    ]);
    for (const rule of file.rules) {
      const ok = validate(rule);
      expect({ id: rule.id, ok, errors: validate.errors ?? null }).toEqual({ id: rule.id, ok: true, errors: null });
    }
  });

  it('rejects what the loader rejects (so validating against it is not vacuous)', () => {
    const validate = publishedValidator();
    const base = { id: 'r1', name: 'R', severity: 'low', pattern: "[process:name = 'a']" };
    expect(validate(base)).toBe(true);
    expect(validate({ ...base, colour: 'blue' })).toBe(false);
    expect(validate({ ...base, severity: 'urgent' })).toBe(false);
    expect(validate({ ...base, id: '-starts-with-dash' })).toBe(false);
    expect(validate({ ...base, suppress: '10 minutes' })).toBe(false);
    expect(validate({ ...base, rate_limit: { period: 60 } })).toBe(false);
    const { pattern: _pattern, ...withoutPattern } = base;
    expect(validate(withoutPattern)).toBe(false);
  });
});
