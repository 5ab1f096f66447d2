import { describe, expect, it } from 'vitest';
import { createIngestHttpHandler, MAX_LISTED_ALERT_IDS } from '../../functions/ingest-http.js';
import {
  captureStdout,
  context,
  emfMetrics,
  EXAMPLE_EVENTS,
  EXAMPLE_LINES,
  httpEvent,
  testRuntime,
} from './helpers.js';

type Body = {
  accepted: number;
  rejected: number;
  alerts: number;
  alertIds: string[];
  rejections: { index: number; code: string; reason: string }[];
  rejectionCodes: Record<string, number>;
  late: number;
  lateEvents: { index: number; ruleId: string; groupKey: string; lagSeconds: number }[];
  errors: number;
  errorEvents: { index: number; ruleId?: string; code: string }[];
  error?: string;
};

function setup(env: Record<string, string> = {}) {
  const t = testRuntime(env);
  const handler = createIngestHttpHandler(() => t.runtime);
  const call = async (event: Parameters<typeof handler>[0]) => {
    const response = await handler(event, context('ingest-http'));
    return {
      status: response.statusCode,
      headers: response.headers ?? {},
      body: JSON.parse(response.body ?? '{}') as Body,
    };
  };
  return { ...t, call };
}

describe('ingest-http handler', () => {
  it('accepts NDJSON and answers 202 with the alerts it delivered', async () => {
    const { call, sink } = setup();
    const { status, body } = await call(httpEvent({ body: EXAMPLE_EVENTS }));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 5, rejected: 0, alerts: 5, rejections: [] });
    const alerts = await sink.drain();
    expect(alerts.map((a) => a.ruleId).sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
    expect(alerts.map((a) => a.id).sort()).toEqual([...body.alertIds].sort());
    // The tenant is the authorised caller's (JWT claim), for every alert.
    expect(new Set(alerts.map((a) => a.tenant))).toEqual(new Set(['tenant-a']));
  });

  it('accepts a single JSON event and a JSON array, whatever the content type', async () => {
    const { call } = setup();
    const single = await call(httpEvent({ body: EXAMPLE_LINES[4] }));
    expect(single.status).toBe(202);
    expect(single.body).toMatchObject({ accepted: 1, alerts: 1 });
    const array = await call(httpEvent({ body: `[${EXAMPLE_LINES.slice(0, 3).join(',')}]` }));
    expect(array.status).toBe(202);
    // evt-3 is sshd reading the shadow file: filtered, no alert.
    expect(array.body).toMatchObject({ accepted: 3, rejected: 0, alerts: 2 });
  });

  it('reports rejected events by index and still processes the good ones', async () => {
    const { call } = setup();
    const body = [EXAMPLE_LINES[0], 'this is not json', '', '{"no": "recognisable fields"}', EXAMPLE_LINES[4]].join(
      '\n',
    );
    const { status, body: result } = await call(httpEvent({ body }));
    expect(status).toBe(202);
    expect(result.accepted).toBe(2);
    expect(result.rejections).toEqual([
      { index: 1, code: 'invalid-json', reason: 'line 2 is not valid JSON' },
      { index: 2, code: 'unrecognised-format', reason: expect.any(String) },
    ]);
  });

  it('answers 400 when no event can be read', async () => {
    const { call } = setup();
    const garbage = await call(httpEvent({ body: 'not json\nstill not json' }));
    expect(garbage.status).toBe(400);
    expect(garbage.body.rejections.map((r) => r.code)).toEqual(['invalid-json', 'invalid-json']);
    expect((await call(httpEvent({ body: '' }))).status).toBe(400);
    expect((await call(httpEvent({ body: '   \n\n' }))).body.rejections[0]?.code).toBe('empty-body');
  });

  it('answers 413 over MAX_BODY_BYTES, measuring base64 bodies decoded, before parsing', async () => {
    const { call, sink } = setup({ MAX_BODY_BYTES: '200' });
    const event = EXAMPLE_LINES[4] as string; // 113 bytes
    expect(Buffer.byteLength(event)).toBeLessThan(200);
    const encoded = Buffer.from(event).toString('base64');
    expect(encoded.length).toBeGreaterThan(event.length);
    const ok = await call(httpEvent({ body: encoded, base64: true }));
    expect(ok.status).toBe(202);
    expect(ok.body.accepted).toBe(1);
    const big = `${event}\n${'x'.repeat(200)}`;
    const tooLarge = await call(httpEvent({ body: Buffer.from(big).toString('base64'), base64: true }));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toBe('payload-too-large');
    const tooLargePlain = await call(httpEvent({ body: big }));
    expect(tooLargePlain.status).toBe(413);
    expect((await sink.drain()).length).toBe(1);
  });

  it('answers 401 without an authoriser context and 403 for a principal without a tenant', async () => {
    const { call, sink } = setup();
    expect((await call(httpEvent({ body: EXAMPLE_EVENTS, authorizer: null }))).status).toBe(401);
    expect((await call(httpEvent({ body: EXAMPLE_EVENTS, authorizer: {} }))).status).toBe(401);
    const noTenant = await call(
      httpEvent({ body: EXAMPLE_EVENTS, authorizer: { jwt: { claims: { sub: 'x' }, scopes: [] } } }),
    );
    expect(noTenant.status).toBe(403);
    expect(await sink.drain()).toEqual([]);
  });

  it('takes the tenant from the IAM principal (account, or role name when configured)', async () => {
    const iam = {
      iam: {
        accountId: '210987654321',
        userArn: 'arn:aws:sts::210987654321:assumed-role/SensorWriter/i-0abc',
        callerId: 'AROA:i-0abc',
        userId: 'AROA',
      },
    };
    const byAccount = setup();
    expect((await byAccount.call(httpEvent({ body: EXAMPLE_LINES[4], authorizer: iam }))).status).toBe(202);
    expect((await byAccount.sink.drain())[0]?.tenant).toBe('210987654321');
    const byRole = setup({ IAM_TENANT_SOURCE: 'role' });
    expect((await byRole.call(httpEvent({ body: EXAMPLE_LINES[4], authorizer: iam }))).status).toBe(202);
    expect((await byRole.sink.drain())[0]?.tenant).toBe('SensorWriter');
  });

  it('never lets the body choose the tenant (x_tenant on STIX observed-data is overwritten)', async () => {
    const { call, sink } = setup();
    const stix = {
      type: 'bundle',
      id: 'bundle--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0001',
      objects: [
        {
          type: 'observed-data',
          spec_version: '2.1',
          id: 'observed-data--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0002',
          first_observed: '2026-01-01T00:00:00Z',
          last_observed: '2026-01-01T00:00:00Z',
          number_observed: 1,
          object_refs: [
            'process--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0003',
            'process--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0004',
          ],
          x_tenant: 'victim',
        },
        {
          type: 'process',
          spec_version: '2.1',
          id: 'process--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0003',
          name: 'powershell.exe',
          parent_ref: 'process--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0004',
        },
        {
          type: 'process',
          spec_version: '2.1',
          id: 'process--0b7e6c1a-1c55-4b55-9d2a-7d1d7b7e0004',
          name: 'winword.exe',
        },
      ],
    };
    const { status, body } = await call(httpEvent({ body: JSON.stringify(stix) }));
    expect(status).toBe(202);
    expect(body.alerts).toBe(1);
    const [alert] = await sink.drain();
    expect(alert?.tenant).toBe('tenant-a');
    expect(alert?.ruleId).toBe('word-launches-powershell');
  });

  it('answers 503 when the alert queue refuses alerts, and the retry delivers the same alerts once', async () => {
    const { call, sink } = setup();
    sink.failing = true;
    const failed = await call(httpEvent({ body: EXAMPLE_EVENTS }));
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('1');
    expect(await sink.drain()).toEqual([]);
    sink.failing = false;
    const retried = await call(httpEvent({ body: EXAMPLE_EVENTS }));
    expect(retried.status).toBe(202);
    const alerts = await sink.drain();
    expect(alerts.map((a) => a.ruleId).sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
    // A third delivery of the same events raises nothing new.
    const again = await call(httpEvent({ body: EXAMPLE_EVENTS }));
    expect(again.status).toBe(202);
    expect(await sink.drain()).toEqual([]);
  });

  it('answers 503 when the state store fails, without crashing', async () => {
    const t = testRuntime(
      {},
      {
        store: {
          getMany: () => Promise.reject(new Error('boom')),
          put: () => Promise.reject(new Error('boom')),
          delete: () => Promise.reject(new Error('boom')),
        } as never,
      },
    );
    const handler = createIngestHttpHandler(() => t.runtime);
    // The sequence rule keeps state, so the store is needed for the first event.
    const response = await handler(httpEvent({ body: EXAMPLE_LINES[0] }), context());
    expect(response.statusCode).toBe(503);
  });

  it('logs counts and codes but never event content, and emits EMF metrics', async () => {
    const { call } = setup();
    const body = `${EXAMPLE_EVENTS}\nsecret-token-in-a-bad-line`;
    const { result, output, lines } = await captureStdout(() => call(httpEvent({ body })));
    expect(result.status).toBe(202);
    for (const leak of ['nginx', 'evt-1', 'winword', 'secret-token', '/etc/shadow', 'web-1'])
      expect(output).not.toContain(leak);
    const ingested = lines.find((l) => l.message === 'events ingested');
    expect(ingested).toMatchObject({ accepted: 5, rejected: { 'invalid-json': 1 }, alerts: 5, tenant: 'tenant-a' });
    expect(emfMetrics(lines)).toMatchObject({
      EventsAccepted: 5,
      EventsRejected: 1,
      Alerts: 5,
      Filtered: 1,
      Suppressed: 0,
      LateEvents: 0,
    });
  });
});

describe('ingest-http response: bounded reports of rejected, late and failing events', () => {
  it('answers a 1 MiB body of `{}` lines with the first 100 rejections, the counts by code and the total, and logs a bounded line', async () => {
    const { runtime } = setup();
    const handler = createIngestHttpHandler(() => runtime);
    const lines = 349_525;
    const body = '{}\n'.repeat(lines);
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(1024 * 1024);
    const { result, output } = await captureStdout(() => handler(httpEvent({ body }), context('ingest-http')));
    expect(result.statusCode).toBe(400);
    const bytes = Buffer.byteLength(result.body ?? '');
    expect(bytes).toBeLessThan(16 * 1024);
    const report = JSON.parse(result.body ?? '{}') as Body;
    expect(report).toMatchObject({
      error: 'no-valid-events',
      accepted: 0,
      rejected: lines,
      rejectionCodes: { 'unrecognised-format': lines },
      late: 0,
      errors: 0,
    });
    expect(report.rejections).toHaveLength(100);
    expect(report.rejections.map((r) => r.index)).toEqual([...Array(100).keys()]);
    // Handler logs: counts by code, whatever the number of events.
    expect(Buffer.byteLength(output)).toBeLessThan(8 * 1024);
    expect(output).toContain(`"rejected":{"unrecognised-format":${lines}}`);
  });

  it('reports late events by their index in the body (bad lines counted), with rule and group', async () => {
    const { call } = setup();
    // The shell from nginx on web-1 at 10:00 moves the host's correlation clock.
    expect((await call(httpEvent({ body: EXAMPLE_LINES[0] }))).status).toBe(202);
    const early = JSON.stringify({
      ...(JSON.parse(EXAMPLE_LINES[0] as string) as Record<string, unknown>),
      timestamp: '2026-01-01T09:00:00Z',
      event_id: 'evt-early',
    });
    const { status, body } = await call(httpEvent({ body: ['not json', EXAMPLE_LINES[4], early].join('\n') }));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 2, rejected: 1, late: 1, errors: 0 });
    expect(body.lateEvents).toEqual([
      { index: 2, ruleId: 'web-shell-then-callback', groupKey: '["web-1"]', lagSeconds: 3600 },
    ]);
  });

  it('lists at most MAX_LISTED_ALERT_IDS alert ids, counting the rest', async () => {
    const { call, sink } = setup();
    // Word launching PowerShell on 1,050 hosts: one alert each.
    const lines = Array.from({ length: MAX_LISTED_ALERT_IDS + 50 }, (_, i) =>
      JSON.stringify({ ...(JSON.parse(EXAMPLE_LINES[4] as string) as object), host: `desk-${i}` }),
    );
    const { status, body } = await call(httpEvent({ body: lines.join('\n') }));
    expect(status).toBe(202);
    expect(body.alerts).toBe(MAX_LISTED_ALERT_IDS + 50);
    expect(body.alertIds).toHaveLength(MAX_LISTED_ALERT_IDS);
    expect((body as Body & { alertIdsOmitted?: number }).alertIdsOmitted).toBe(50);
    expect(sink.sent).toHaveLength(MAX_LISTED_ALERT_IDS + 50);
  });

  it('lists at most 100 late events and still counts them all', async () => {
    const { call } = setup();
    expect((await call(httpEvent({ body: EXAMPLE_LINES[0] }))).status).toBe(202);
    const base = JSON.parse(EXAMPLE_LINES[0] as string) as Record<string, unknown>;
    const early = Array.from({ length: 150 }, (_, i) =>
      JSON.stringify({
        ...base,
        timestamp: `2026-01-01T08:${String(Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}Z`,
        event_id: `early-${i}`,
      }),
    );
    const { body } = await call(httpEvent({ body: early.join('\n') }));
    expect(body.late).toBe(150);
    expect(body.lateEvents).toHaveLength(100);
  });
});
