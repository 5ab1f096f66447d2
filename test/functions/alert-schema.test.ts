import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { createIngestHttpHandler } from '../../functions/ingest-http.js';
import { SEVERITIES } from '../../src/rules/model.js';
import { context, EXAMPLE_EVENTS, httpEvent, testRuntime } from './helpers.js';

const schema = JSON.parse(readFileSync(new URL('../../schemas/alert.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv2020({ allErrors: true, strict: true }).compile(schema);

describe('alert document schema', () => {
  it('allows exactly the rule severities', () => {
    const { properties } = schema as { properties: { severity: { enum: string[] } } };
    expect(properties.severity.enum).toEqual([...SEVERITIES]);
  });

  it('accepts every alert the pipeline publishes, rate-limit notices included', async () => {
    const { runtime, sink } = testRuntime();
    const handler = createIngestHttpHandler(() => runtime);
    expect((await handler(httpEvent({ body: EXAMPLE_EVENTS }), context())).statusCode).toBe(202);
    // 101 distinct callbacks in a minute trip outbound-unusual-port's rate limit (100/min): one notice.
    const burst = Array.from({ length: 101 }, (_, i) =>
      JSON.stringify({
        '@timestamp': '2026-01-01T11:00:00Z',
        event: { id: `b-${i}` },
        host: { name: `host-${i}` },
        source: { ip: '10.0.0.5', port: 40000 + i },
        destination: { ip: '198.51.100.7', port: 4444 },
        network: { transport: 'tcp' },
      }),
    ).join('\n');
    expect((await handler(httpEvent({ body: burst }), context())).statusCode).toBe(202);
    const alerts = await sink.drain();
    expect(alerts.some((a) => a.category === 'rate-limited')).toBe(true);
    expect(alerts.length).toBeGreaterThan(100);
    for (const alert of alerts) {
      const ok = validate(alert);
      expect(validate.errors ?? [], JSON.stringify(validate.errors)).toEqual([]);
      expect(ok).toBe(true);
    }
  });

  it('rejects documents that do not match the published shape', () => {
    expect(validate({})).toBe(false);
    const { runtime } = testRuntime();
    expect(runtime).toBeDefined();
    const minimal = {
      schema: 'stixflow.alert/2',
      id: 'alert--8be118ea-9200-5fc5-b452-6e24a738fbe9',
      ruleId: 'r',
      ruleName: 'R',
      title: 'R',
      severity: 'high',
      description: '',
      tags: [],
      tenant: 't',
      groupKey: '',
      firstObserved: '2026-01-01T10:00:05Z',
      lastObserved: '2026-01-01T10:00:05Z',
      observedDataIds: ['observed-data--482838a2-711f-5bb6-8e4e-af689785655e'],
      sourceEventIds: [],
      objects: [{ type: 'file' }],
      created: '2026-01-01T10:00:05.123Z',
      sighting: {
        type: 'sighting',
        spec_version: '2.1',
        id: 'sighting--c8835312-82e2-5f81-80b2-06c284909d04',
        created: '2026-01-01T10:00:05.123Z',
        modified: '2026-01-01T10:00:05.123Z',
        first_seen: '2026-01-01T10:00:05Z',
        last_seen: '2026-01-01T10:00:05Z',
        count: 1,
        sighting_of_ref: 'indicator--060d28f3-0fee-5bd2-8c92-fabec1edcceb',
        observed_data_refs: [],
        description: 'R',
        x_stixflow_alert_id: 'alert--8be118ea-9200-5fc5-b452-6e24a738fbe9',
      },
    };
    expect(validate(minimal)).toBe(true);
    expect(validate({ ...minimal, severity: 'urgent' })).toBe(false);
    expect(validate({ ...minimal, extra: 1 })).toBe(false);
    expect(validate({ ...minimal, firstObserved: '2026-01-01 10:00' })).toBe(false);
    expect(validate({ ...minimal, sighting: { ...minimal.sighting, count: 0 } })).toBe(false);
  });
});
