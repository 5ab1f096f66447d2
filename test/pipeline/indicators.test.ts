import { describe, expect, it } from 'vitest';
import { loadRules } from '../../src/rules/load.js';
import { harness } from './harness.js';
import { observedDataId, stixEvent, uuid } from '../rules/helpers.js';

const ids = {
  current: `indicator--${uuid(0xa1)}`,
  expired: `indicator--${uuid(0xa2)}`,
  future: `indicator--${uuid(0xa3)}`,
  sigma: `indicator--${uuid(0xa4)}`,
  broken: `indicator--${uuid(0xa5)}`,
  noType: `indicator--${uuid(0xa6)}`,
  sequence: `indicator--${uuid(0xa8)}`,
  sequenceExpired: `indicator--${uuid(0xa9)}`,
};

function indicator(id: string, fields: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'indicator',
    spec_version: '2.1',
    id,
    created: '2025-01-01T00:00:00.000Z',
    modified: '2025-01-01T00:00:00.000Z',
    pattern_type: 'stix',
    valid_from: '2025-01-01T00:00:00Z',
    ...fields,
  };
}

const bundle = {
  type: 'bundle',
  id: `bundle--${uuid(0xb0)}`,
  objects: [
    {
      type: 'identity',
      spec_version: '2.1',
      id: `identity--${uuid(0xc0)}`,
      name: 'CTI team',
      identity_class: 'organization',
      created: '2025-01-01T00:00:00.000Z',
      modified: '2025-01-01T00:00:00.000Z',
    },
    indicator(ids.current, {
      name: 'Evil tool',
      description: 'Known bad binary',
      indicator_types: ['malicious-activity', 'attribution'],
      x_severity: 'high',
      pattern: "[process:name = 'evil.exe']",
    }),
    indicator(ids.expired, {
      name: 'Retired tool',
      pattern: "[process:name = 'old.exe']",
      valid_until: '2026-01-01T00:00:00Z',
    }),
    indicator(ids.future, {
      name: 'Embargoed',
      pattern: "[process:name = 'future.exe']",
      valid_from: '2026-06-01T00:00:00Z',
    }),
    indicator(ids.sigma, { name: 'Sigma rule', pattern_type: 'sigma', pattern: 'title: x' }),
    indicator(ids.broken, { name: 'Broken', pattern: "[process:name = 'x' AND ]" }),
    {
      type: 'indicator',
      spec_version: '2.1',
      id: ids.noType,
      created: '2025-01-01T00:00:00.000Z',
      modified: '2025-01-01T00:00:00.000Z',
      valid_from: '2025-01-01T00:00:00Z',
      pattern: "[process:name = 'notype.exe']",
    },
    // Not one plain observation expression: these load as ordinary rules.
    indicator(ids.sequence, {
      name: 'Two stages',
      x_severity: 'critical',
      pattern: "[process:name = 'stage1.exe'] FOLLOWEDBY [process:name = 'stage2.exe']",
    }),
    indicator(ids.sequenceExpired, {
      name: 'Old pair',
      pattern: "[process:name = 'old2.exe'] OR [process:name = 'old3.exe']",
      valid_until: '2026-01-01T00:00:00Z',
    }),
    {
      type: 'relationship',
      spec_version: '2.1',
      id: `relationship--${uuid(0xd0)}`,
      relationship_type: 'indicates',
      source_ref: ids.current,
      target_ref: `malware--${uuid(0xe0)}`,
      created: '2025-01-01T00:00:00.000Z',
      modified: '2025-01-01T00:00:00.000Z',
    },
  ],
};

const loaded = loadRules([{ file: 'intel/bundle.json', text: JSON.stringify(bundle, null, 2) }]);

describe('a STIX 2.1 bundle of indicators', () => {
  it('loads every stix indicator (pattern_type stix or absent): single observations into the indicator set, the others as rules', () => {
    expect(loaded.indicators.size).toBe(4);
    expect(loaded.rules.map((r) => r.id)).toEqual([ids.sequence, ids.sequenceExpired]);
  });

  it('maps the indicator fields onto a rule', () => {
    const rule = loaded.rules.find((r) => r.id === ids.sequence)!;
    expect(rule).toMatchObject({
      name: 'Two stages',
      severity: 'critical',
      category: 'indicator',
      enabled: true,
      validFrom: Date.UTC(2025, 0, 1),
    });
    expect(rule.validUntil).toBeUndefined();
    expect(rule.source?.file).toBe('intel/bundle.json');
    const expired = loaded.rules.find((r) => r.id === ids.sequenceExpired)!;
    expect(expired.severity).toBe('medium');
    expect(expired.tags).toEqual([]);
    expect(expired.validUntil).toBe(Date.UTC(2026, 0, 1));
  });

  it('warns about and skips a non-stix pattern_type, and reports a bad pattern as an error', () => {
    expect(loaded.diagnostics.map((d) => [d.severity, d.code, d.ruleId, d.file])).toEqual([
      ['warning', 'indicator-pattern-type', ids.sigma, 'intel/bundle.json'],
      ['error', 'syntax', ids.broken, 'intel/bundle.json'],
    ]);
    expect(loaded.diagnostics[0]!.message).toContain('sigma');
    for (const d of loaded.diagnostics) expect(d.line).toBeGreaterThanOrEqual(1);
  });

  it('takes stix_version 2.0 from a 2.0 indicator', () => {
    const v20 = {
      type: 'bundle',
      id: `bundle--${uuid(0xb1)}`,
      objects: [
        {
          type: 'indicator',
          spec_version: '2.0',
          id: `indicator--${uuid(0xa7)}`,
          labels: ['malicious-activity'],
          valid_from: '2025-01-01T00:00:00Z',
          pattern: "[process:name = 'a'] START '2025-01-01T00:00:00Z' STOP '2025-01-02T00:00:00Z'",
        },
      ],
    };
    const result = loadRules([{ file: 'v20.json', text: JSON.stringify(v20) }]);
    expect(result.diagnostics).toEqual([]);
    expect(result.rules.map((r) => r.pattern.stixVersion)).toEqual(['2.0']);
  });
});

describe('indicator validity, by event time', () => {
  const at = '2026-01-01T10:00:00Z';
  const event = (n: number, name: string, time = at): Record<string, unknown> =>
    stixEvent({ n, time, process: { name } });

  it('alerts on valid indicators only: not after valid_until, not before valid_from', async () => {
    const h = harness(loaded.rules, undefined, { indicators: loaded.indicators });
    const result = await h.detector.process([
      event(1, 'evil.exe'),
      event(2, 'old.exe'),
      event(3, 'future.exe'),
      event(4, 'notype.exe'),
      event(10, 'stage1.exe', '2026-01-01T10:00:01Z'),
      event(11, 'stage2.exe', '2026-01-01T10:00:02Z'),
      event(12, 'old3.exe'),
    ]);
    expect(result.rejected).toEqual([]);
    expect(result.errors).toEqual([]);
    const expected = [ids.current, ids.noType, ids.sequence].sort();
    expect(result.alerts.map((a) => a.ruleId).sort()).toEqual(expected);
    expect(result.filtered).toBe(0);
    const documents = await h.drain();
    expect(documents.map((d) => d.sighting.sighting_of_ref).sort()).toEqual(expected);
    const evil = documents.find((d) => d.ruleId === ids.current)!;
    expect(evil.sighting.observed_data_refs).toEqual([observedDataId(1)]);
    expect(evil).toMatchObject({
      ruleName: 'Evil tool',
      description: 'Known bad binary',
      severity: 'high',
      category: 'indicator',
      tags: ['malicious-activity', 'attribution'],
    });
    expect(documents.find((d) => d.ruleId === ids.noType)).toMatchObject({
      ruleName: `Indicator ${ids.noType}`,
      severity: 'medium',
      tags: [],
    });
    expect(documents.find((d) => d.ruleId === ids.sequence)!.sighting.observed_data_refs).toEqual([
      observedDataId(10),
      observedDataId(11),
    ]);
    expect(await h.countersOf(ids.sequenceExpired)).toMatchObject({ matches: 0, alerts: 0, filtered: 0 });
    // Out of validity is neither a match nor an alert.
    expect(await h.countersOf(ids.expired)).toMatchObject({ matches: 0, alerts: 0, filtered: 0 });
    expect(await h.countersOf(ids.future)).toMatchObject({ matches: 0, alerts: 0, filtered: 0 });
    expect(await h.countersOf(ids.current)).toMatchObject({ matches: 1, alerts: 1 });
  });

  it('judges validity by the event time, not the wall clock', async () => {
    // Wall clock between the two windows; events inside each.
    const h = harness(loaded.rules, '2026-03-01T00:00:00Z', { indicators: loaded.indicators });
    const result = await h.detector.process([
      event(5, 'old.exe', '2025-12-31T23:59:59Z'),
      event(6, 'future.exe', '2026-06-01T00:00:01Z'),
      event(13, 'old2.exe', '2025-12-31T23:59:59Z'),
    ]);
    expect(result.alerts.map((a) => a.ruleId).sort()).toEqual([ids.expired, ids.future, ids.sequenceExpired].sort());
  });

  it('valid_from is inclusive and valid_until exclusive', async () => {
    const h = harness(loaded.rules, undefined, { indicators: loaded.indicators });
    const result = await h.detector.process([
      event(7, 'future.exe', '2026-06-01T00:00:00Z'),
      event(8, 'old.exe', '2026-01-01T00:00:00Z'),
      event(9, 'future.exe', '2026-05-31T23:59:59.999Z'),
      event(14, 'old2.exe', '2026-01-01T00:00:00Z'),
    ]);
    expect(result.alerts.map((a) => [a.ruleId, a.observedDataIds])).toEqual([[ids.future, [observedDataId(7)]]]);
  });
});
