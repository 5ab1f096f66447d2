/**
 * The alert store and triage (#17) against dynalite: alerts kept by the intake handler from alert
 * queue messages, listed per tenant through the indexes, triaged with history, and the rejected
 * counter following the verdict.
 */
// Response bodies are checked by shape: typed loosely on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizerContext } from '../../functions/auth.js';
import { createAlertIntakeHandler } from '../../functions/alert-intake.js';
import { createAlertsApiHandler } from '../../functions/alerts-api.js';
import { createOutputsHandler } from '../../functions/outputs.js';
import { FetchHttpClient, InMemoryDeadLetterSink, InMemorySecretStore } from '../../src/outputs/deliver.js';
import { startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import { createAlertTableInput, DynamoDbAlertStore } from '../../src/state/alert-store.js';
import { InMemoryRuleStore } from '../../src/state/rule-store.js';
import { context, httpEvent, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

const TENANT_A: AuthorizerContext = { jwt: { claims: { sub: 'analyst-a', tenant: 'tenant-a' }, scopes: [] } };
const TENANT_B: AuthorizerContext = { jwt: { claims: { sub: 'analyst-b', tenant: 'tenant-b' }, scopes: [] } };

function alertDocument(n: number, overrides: Record<string, unknown> = {}) {
  return {
    schema: 'stixflow.alert/v1',
    id: `alert-${n}`,
    ruleId: n % 2 === 0 ? 'rule-even' : 'rule-odd',
    ruleName: 'A rule',
    title: `Alert ${n}`,
    severity: n % 3 === 0 ? 'high' : 'low',
    description: 'd',
    tags: [],
    tenant: 'tenant-a',
    groupKey: `host-${n}`,
    firstObserved: `2026-01-0${n}T10:00:00.000Z`,
    lastObserved: `2026-01-0${n}T10:00:00.000Z`,
    created: `2026-01-0${n}T10:00:01.000Z`,
    observedDataIds: [],
    sourceEventIds: [`e${n}`],
    sighting: { type: 'sighting', id: `sighting--${n}` },
    ...overrides,
  };
}

describe('alerts API and alert intake', () => {
  let dynamo: RunningDynamo;
  let tables = 0;
  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(() => dynamo.stop());

  async function setup() {
    const tableName = `alerts-${tables++}`;
    await dynamo.client.send(new CreateTableCommand(createAlertTableInput(tableName)));
    const alerts = new DynamoDbAlertStore({ client: dynamo.client, tableName, retentionDays: 30 });
    const { runtime, counters } = testRuntime({}, { alerts, ruleStore: new InMemoryRuleStore() }, 'alerts-api');
    const now = Date.parse('2026-01-09T12:00:00Z');
    const api = createAlertsApiHandler(
      () => runtime,
      () => now,
    );
    const intake = createAlertIntakeHandler(() => alerts);
    const call = async (
      method: string,
      path: string,
      options: { body?: unknown; authorizer?: AuthorizerContext | null; query?: Record<string, string> } = {},
    ) => {
      const event = {
        ...httpEvent({
          method,
          path,
          authorizer: 'authorizer' in options ? options.authorizer : TENANT_A,
          ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
        }),
        ...(options.query ? { queryStringParameters: options.query } : {}),
      };
      const response = await api(event, context('alerts-api'));
      return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, any> };
    };
    const ids = (body: Record<string, any>) => (body.alerts as { id: string }[]).map((a) => a.id);
    return { call, intake, counters, alerts, ids, tableName };
  }

  it('keeps delivered alerts once each and lists them newest first by tenant, rule, severity, status and time', async () => {
    const { call, intake, ids, alerts } = await setup();
    const records = [1, 2, 3, 4, 5, 6].map((n) => sqsRecord(`m${n}`, JSON.stringify(alertDocument(n))));
    const other = sqsRecord('mb', JSON.stringify(alertDocument(7, { tenant: 'tenant-b', id: 'alert-b' })));
    const bad = sqsRecord('bad', '{"not": "an alert"}');
    const result = await intake(sqsEvent(...records, other, bad), context('alert-intake'));
    // The bad message fails alone; every alert is kept.
    expect(result?.batchItemFailures).toEqual([{ itemIdentifier: 'bad' }]);
    // A redelivery keeps the first copy (and its triage).
    expect(await alerts.put(alertDocument(1) as any)).toBe(false);

    expect(ids((await call('GET', '/alerts')).body)).toEqual([
      'alert-6',
      'alert-5',
      'alert-4',
      'alert-3',
      'alert-2',
      'alert-1',
    ]);
    expect(ids((await call('GET', '/alerts', { query: { ruleId: 'rule-even' } })).body)).toEqual([
      'alert-6',
      'alert-4',
      'alert-2',
    ]);
    expect(ids((await call('GET', '/alerts', { query: { severity: 'high' } })).body)).toEqual(['alert-6', 'alert-3']);
    expect(
      ids((await call('GET', '/alerts', { query: { from: '2026-01-02T00:00:00Z', to: '2026-01-04T10:00:01Z' } })).body),
    ).toEqual(['alert-4', 'alert-3', 'alert-2']);
    expect(ids((await call('GET', '/alerts', { query: { ruleId: 'rule-even', severity: 'high' } })).body)).toEqual([
      'alert-6',
    ]);
    expect((await call('GET', '/alerts', { authorizer: TENANT_B })).body.alerts).toEqual([
      expect.objectContaining({ id: 'alert-b', tenant: 'tenant-b', status: 'new' }),
    ]);

    // Pages: the cursor continues where the page ended; another tenant cannot use it.
    const page1 = await call('GET', '/alerts', { query: { limit: '4' } });
    expect(ids(page1.body)).toEqual(['alert-6', 'alert-5', 'alert-4', 'alert-3']);
    const page2 = await call('GET', '/alerts', { query: { limit: '4', cursor: page1.body.cursor } });
    expect(ids(page2.body)).toEqual(['alert-2', 'alert-1']);
    expect((await call('GET', '/alerts', { authorizer: TENANT_B, query: { cursor: page1.body.cursor } })).status).toBe(
      400,
    );
    expect((await call('GET', '/alerts', { query: { status: 'maybe' } })).status).toBe(400);
    expect((await call('GET', '/alerts', { query: { from: 'yesterday' } })).status).toBe(400);

    const one = await call('GET', '/alerts/alert-3');
    expect(one.body).toMatchObject({
      status: 'new',
      history: [],
      alert: { id: 'alert-3', sighting: { id: 'sighting--3' }, sourceEventIds: ['e3'] },
    });
    expect((await call('GET', '/alerts/alert-3', { authorizer: TENANT_B })).status).toBe(404);
  });

  it('triages an alert with who, when and history; rejected moves the rule counter both ways', async () => {
    const { call, intake, counters, ids } = await setup();
    await intake(sqsEvent(sqsRecord('m2', JSON.stringify(alertDocument(2)))), context('alert-intake'));
    const rejected = await call('PATCH', '/alerts/alert-2', { body: { status: 'rejected', note: 'test host' } });
    expect(rejected).toMatchObject({
      status: 200,
      body: { id: 'alert-2', status: 'rejected', statusBy: 'analyst-a', statusAt: '2026-01-09T12:00:00.000Z' },
    });
    // Written by the triage itself, not left in this container's minute buffer: deployed, GET /rules reads the
    // counters store from another function, which cannot flush this one's buffer.
    expect(counters.incrementCalls).toBe(1);
    const day = '2026-01-02';
    const read = async () => (await counters.read('tenant-a', ['rule-even'], [day])).get('rule-even')?.get(day);
    expect(await read()).toMatchObject({ rejected: 1 });
    // Rejecting again does not count twice.
    await call('PATCH', '/alerts/alert-2', { body: { status: 'rejected' } });
    expect(await read()).toMatchObject({ rejected: 1 });
    expect(ids((await call('GET', '/alerts', { query: { status: 'rejected' } })).body)).toEqual(['alert-2']);
    expect(ids((await call('GET', '/alerts', { query: { status: 'new' } })).body)).toEqual([]);

    await call('PATCH', '/alerts/alert-2', { body: { status: 'resolved' } });
    expect(await read()).toMatchObject({ rejected: 0 });
    const one = await call('GET', '/alerts/alert-2');
    expect(one.body.status).toBe('resolved');
    expect(one.body.history.map((h: { status: string }) => h.status)).toEqual(['rejected', 'rejected', 'resolved']);
    expect(one.body.history[0]).toEqual({
      status: 'rejected',
      by: 'analyst-a',
      at: '2026-01-09T12:00:00.000Z',
      note: 'test host',
    });

    // Another tenant's alert: 404, and nothing changes.
    expect(
      (await call('PATCH', '/alerts/alert-2', { body: { status: 'rejected' }, authorizer: TENANT_B })).status,
    ).toBe(404);
    expect(await read()).toMatchObject({ rejected: 0 });
    expect((await call('PATCH', '/alerts/alert-2', { body: { status: 'closed' } })).status).toBe(400);
    expect((await call('PATCH', '/alerts/alert-2', { body: { status: 'new', extra: 1 } })).status).toBe(400);
    expect((await call('GET', '/alerts', { authorizer: null })).status).toBe(401);
  });

  it('the outputs function keeps each alert before delivering it, and fails the message when it cannot', async () => {
    const { alerts, call, ids } = await setup();
    const deps = (keeper: DynamoDbAlertStore) => ({
      routes: [],
      ruleOutputs: new Map<string, string[]>(),
      alerts: keeper,
      delivery: {
        outputs: [],
        secrets: new InMemorySecretStore({}),
        http: new FetchHttpClient(),
        deadLetters: new InMemoryDeadLetterSink(),
      },
    });
    const outputs = createOutputsHandler(() => deps(alerts));
    const kept = await outputs(sqsEvent(sqsRecord('o1', JSON.stringify(alertDocument(4)))), context('outputs'));
    expect(kept?.batchItemFailures).toEqual([]);
    expect(ids((await call('GET', '/alerts')).body)).toEqual(['alert-4']);
    const missing = new DynamoDbAlertStore({ client: dynamo.client, tableName: 'no-such-alert-table' });
    const failing = createOutputsHandler(() => deps(missing));
    const failed = await failing(sqsEvent(sqsRecord('o2', JSON.stringify(alertDocument(5)))), context('outputs'));
    expect(failed?.batchItemFailures).toEqual([{ itemIdentifier: 'o2' }]);
  });
});
