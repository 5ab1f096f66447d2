import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateExceptionEntry, validateRuleDocument } from '../../src/rules/rule-validators.js';
import { RULE_SCHEMA } from '../../src/rules/schema.js';
import { ruleValidatorsSource } from '../../src/rules/validator-source.js';

const runtime = new Ajv2020({ allErrors: true, strict: false });
runtime.addSchema(RULE_SCHEMA);
const runtimeRule = runtime.getSchema(RULE_SCHEMA.$id);
const runtimeException = runtime.getSchema(`${RULE_SCHEMA.$id}#/$defs/exception`);

/** What a validator says of a value: whether it holds, and its errors as the diagnostics read them. */
function verdict(validate: typeof validateRuleDocument, value: unknown): unknown {
  const ok = validate(value);
  return { ok, errors: (validate.errors ?? []).map((e) => [e.instancePath, e.keyword, e.params, e.message]) };
}

describe('rule schema validators (compiled ahead of time)', () => {
  it('are the code the schema compiles to now (run `npm run generate` after changing the schema)', () => {
    const written = readFileSync(
      new URL('../../src/rules/generated/rule-schema-validators.ts', import.meta.url),
      'utf8',
    );
    expect(written).toBe(ruleValidatorsSource());
  });

  it('say what the schema compiled at run time says, of valid and broken rules and exceptions (seeded)', () => {
    if (!runtimeRule || !runtimeException) throw new Error('the rule schema did not compile');
    const examples = parse(readFileSync(new URL('../../rules/examples.yaml', import.meta.url), 'utf8')) as {
      rules: Record<string, unknown>[];
    };
    const documents = examples.rules;
    // The examples hold: the mutations below are what make most of the cases fail.
    expect(documents.length).toBeGreaterThan(3);
    for (const document of documents) expect(validateRuleDocument(document)).toBe(true);
    const field = fc.constantFrom(
      'id',
      'name',
      'severity',
      'pattern',
      'kind',
      'tags',
      'suppress',
      'filters',
      'x_extra',
    );
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 3 }),
    );
    fc.assert(
      fc.property(
        fc.nat({ max: documents.length - 1 }),
        fc.array(fc.tuple(field, fc.option(value)), { maxLength: 3 }),
        (at, edits) => {
          const document: Record<string, unknown> = { ...(documents[at] as Record<string, unknown>) };
          for (const [key, v] of edits) {
            if (v === null) delete document[key];
            else document[key] = v;
          }
          expect(verdict(validateRuleDocument, document)).toEqual(verdict(runtimeRule, document));
          const exception = {
            id: document.id,
            pattern: document.pattern,
            applies_to: 'all',
            reason: document.name,
            expires: document.severity,
          };
          expect(verdict(validateExceptionEntry, exception)).toEqual(verdict(runtimeException, exception));
        },
      ),
      { seed: 20261203, numRuns: 300 },
    );
  });
});
