/**
 * The alert builder's side of alert content (issue #14, item 4): filled text is bounded, so an
 * attacker's command line cannot blow up a title or a context; the id is the same with or
 * without content; a document always has a title (the rule's name when the alert has none,
 * as throttle notices and alerts committed before titles existed).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildAlert, singleEvent } from '../../src/engine/alert-builder.js';
import { ALERT_LIMITS, TRUNCATION_MARKER, toAlertDocument, utf8Bytes } from '../../src/engine/alert.js';
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import { observed } from './helpers.js';

const ruleFrom = (extra: string[]): Rule => {
  const { rules, diagnostics } = loadRules([
    {
      file: 'r.yaml',
      text: ['id: r', 'name: Long lines', 'severity: low', `pattern: "[process:name = 'cmd.exe']"`, ...extra, ''].join(
        '\n',
      ),
    },
  ]);
  expect(diagnostics).toEqual([]);
  return rules[0] as Rule;
};

const clock = () => Date.UTC(2026, 0, 1, 12);

describe('alert content in the alert builder', () => {
  const long = `cmd.exe /c ${'A'.repeat(100_000)}`;
  const { input } = observed('00000000-0000-4000-8000-000000000001', 0, {
    type: 'process',
    name: 'cmd.exe',
    command_line: long,
    x_args: Array.from({ length: 500 }, (_, i) => `arg-${i}-${'x'.repeat(40)}`),
  });

  it('bounds titles, descriptions and context whatever the event holds', () => {
    const rule = ruleFrom([
      'title: "{process:command_line} and {process:command_line} and {process:command_line}"',
      'description: "{process:command_line} {process:command_line} {process:command_line} {process:command_line} {process:command_line}"',
      'context: { command_line: process:command_line, args: process:x_args }',
    ]);
    const alert = buildAlert(rule, 't', '', [singleEvent(input)], input, clock);
    expect(alert.title!.length).toBeLessThanOrEqual(ALERT_LIMITS.titleChars + 64);
    expect(alert.title).toMatch(/^cmd\.exe \/c A+… and cmd\.exe/);
    expect(alert.description.length).toBeLessThanOrEqual(ALERT_LIMITS.descriptionChars + 64);
    expect(alert.description).toContain(TRUNCATION_MARKER);
    const context = JSON.stringify(alert.context);
    expect(Buffer.byteLength(context)).toBeLessThan(ALERT_LIMITS.contextBytes + ALERT_LIMITS.maxStringChars + 512);
    expect((alert.context?.command_line as string).length).toBeLessThan(ALERT_LIMITS.maxStringChars + 64);
  });

  it('keeps the id of the same match, with or without content', () => {
    const plain = buildAlert(ruleFrom([]), 't', '', [singleEvent(input)], input, clock);
    const filled = buildAlert(
      ruleFrom([
        'title: "{process:name}"',
        'context: { cmd: process:command_line }',
        'severity_overrides: [{ when: "process:name = \'cmd.exe\'", severity: critical }]',
      ]),
      't',
      '',
      [singleEvent(input)],
      input,
      clock,
    );
    expect(filled.severity).toBe('critical');
    expect(filled.id).toBe(plain.id);
    expect(toAlertDocument(plain).title).toBe('Long lines');
    expect(toAlertDocument(filled).title).toBe('cmd.exe');
  });
});

describe("the byte count that bounds an alert's copies", () => {
  it('counts UTF-8 bytes as Buffer.byteLength does, lone surrogates included', () => {
    // Code units drawn from every range that encodes differently: ASCII, two-byte, three-byte,
    // high and low surrogates (paired or not).
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0x7f }),
      fc.integer({ min: 0x80, max: 0x7ff }),
      fc.integer({ min: 0x800, max: 0xd7ff }),
      fc.integer({ min: 0xd800, max: 0xdbff }),
      fc.integer({ min: 0xdc00, max: 0xdfff }),
      fc.integer({ min: 0xe000, max: 0xffff }),
    );
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 40 }), (units) => {
        const text = String.fromCharCode(...units);
        expect(utf8Bytes(text)).toBe(Buffer.byteLength(text, 'utf8'));
      }),
      { seed: 20261203, numRuns: 5000 },
    );
  });
});
