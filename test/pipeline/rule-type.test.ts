/**
 * The rule's `type` (issue #11, item 14) is carried from the rule file into the alert document as
 * ruleType, which the alert schema accepts.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { toAlertDocument } from '../../src/engine/alert.js';
import { Detector } from '../../src/pipeline/detector.js';
import { loadRules } from '../../src/rules/load.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { stixEvent } from '../rules/helpers.js';

const ruleText = (id: string, extra = ''): string =>
  `id: ${id}\nname: ${id}\nseverity: low\npattern: "[process:name = 'bash']"\n${extra}`;

describe("the rule's type", () => {
  it('is kept on the rule and carried into the alert document as ruleType, which the alert schema accepts', async () => {
    const { rules, diagnostics } = loadRules([
      { file: 'r.yaml', text: ruleText('typed', 'type: process\n') + '---\n' + ruleText('untyped') },
    ]);
    expect(diagnostics).toEqual([]);
    expect(rules.map((r) => r.type)).toEqual(['process', undefined]);
    const detector = new Detector({ rules, store: new InMemoryStateStore() });
    const result = await detector.process([
      stixEvent({ n: 1, time: '2026-01-01T10:00:00Z', process: { name: 'bash' } }),
    ]);
    const documents = result.alerts.map(toAlertDocument);
    expect(documents.map((d) => [d.ruleId, d.ruleType])).toEqual([
      ['typed', 'process'],
      ['untyped', undefined],
    ]);
    const validate = new Ajv2020({ allErrors: true, strict: true }).compile(
      JSON.parse(readFileSync(new URL('../../schemas/alert.schema.json', import.meta.url), 'utf8')) as object,
    );
    for (const document of documents) expect(validate(document), JSON.stringify(validate.errors)).toBe(true);
  });
});
