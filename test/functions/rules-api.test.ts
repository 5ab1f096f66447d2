import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizerContext } from '../../functions/auth.js';
import { createIngestHttpHandler } from '../../functions/ingest-http.js';
import { DynamoDbRuleOverrideStore } from '../../src/state/rule-overrides.js';
import { DynamoDbRuleStore } from '../../src/state/rule-store.js';
import { createRulesApiHandler, lastDays } from '../../functions/rules-api.js';
import { HandlerRuntime } from '../../functions/runtime.js';
import { readConfig } from '../../functions/config.js';
import { ensureStateTable, startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import { InMemoryCounterStore, InMemoryStateStore } from '../../src/state/index.js';
import { context, EXAMPLE_EVENTS, httpEvent, JWT_TENANT_A, RecordingSink, RULES_DIR } from './helpers.js';

type RuleView = {
  id: string;
  enabled: boolean;
  enabledInRuleFile?: boolean;
  status: string;
  override?: { enabled: boolean; updatedBy: string };
  counters?: {
    days: { day: string; matches: number; alerts: number; filtered: number }[];
    totals: { matches: number; alerts: number; filtered: number };
  };
};

describe('rules API handler', () => {
  let dynamo: RunningDynamo;
  beforeAll(async () => {
    dynamo = await startDynamo();
    await ensureStateTable(dynamo.client, 'rules-api-test');
  });
  afterAll(() => dynamo.stop());

  /** An ingest runtime and a rules API runtime sharing counters, and overrides in DynamoDB (dynalite). */
  function setup(now = Date.parse('2026-01-03T12:00:00Z'), extraEnv: Record<string, string> = {}) {
    const counters = new InMemoryCounterStore();
    const overrides = new DynamoDbRuleOverrideStore({ client: dynamo.client, tableName: 'rules-api-test' });
    const sink = new RecordingSink();
    const ruleStore = new DynamoDbRuleStore({ client: dynamo.client, tableName: 'rules-api-test' });
    const env = {
      TABLE_NAME: 'rules-api-test',
      ALERT_QUEUE_URL: 'https://sqs.local/alerts.fifo',
      RULES_DIR,
      RULE_OVERRIDES_REFRESH_SECONDS: '0',
      ...extraEnv,
    };
    const ingest = new HandlerRuntime(readConfig(env, 'ingest'), {
      store: new InMemoryStateStore(),
      counters,
      sink,
      overrides,
      ruleStore,
      now: () => now,
    });
    const api = new HandlerRuntime(readConfig({ ...env, ALERT_QUEUE_URL: '' }, 'rules-api'), {
      counters,
      overrides,
      dynamo: dynamo.client,
    });
    const rulesApi = createRulesApiHandler(
      () => api,
      () => now,
    );
    const ingestHttp = createIngestHttpHandler(() => ingest);
    const call = async (event: Parameters<typeof rulesApi>[0]) => {
      const response = await rulesApi(event, context('rules-api'));
      return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, unknown> };
    };
    return { call, ingestHttp, sink };
  }

  /** A tenant-a token that also carries the rules admin scope (by default `stixflow/rules.admin`). */
  const JWT_ADMIN = { jwt: { claims: { sub: 'user-1', tenant: 'tenant-a' }, scopes: ['stixflow/rules.admin'] } };
  const list = (authorizer = JWT_TENANT_A) => httpEvent({ method: 'GET', path: '/rules', authorizer });
  const patch = (id: string, body: string, authorizer: AuthorizerContext = JWT_ADMIN) =>
    httpEvent({
      method: 'PATCH',
      path: `/rules/${id}`,
      routeKey: 'PATCH /rules/{id}',
      pathParameters: { id },
      body,
      authorizer,
    });

  it("lists every rule with its state, source and the tenant's counters for the last 7 days", async () => {
    const { call, ingestHttp } = setup();
    expect((await ingestHttp(httpEvent({ body: EXAMPLE_EVENTS }), context())).statusCode).toBe(202);
    const { status, body } = await call(list());
    expect(status).toBe(200);
    expect(body.tenant).toBe('tenant-a');
    expect(body.days).toEqual(lastDays(Date.parse('2026-01-03T12:00:00Z')));
    expect(body.days).toEqual([
      '2025-12-28',
      '2025-12-29',
      '2025-12-30',
      '2025-12-31',
      '2026-01-01',
      '2026-01-02',
      '2026-01-03',
    ]);
    const rules = body.rules as RuleView[];
    expect(rules.map((r) => r.id)).toEqual([
      'web-server-spawns-shell',
      'credential-file-read',
      'outbound-unusual-port',
      'word-launches-powershell',
      'web-shell-then-callback',
    ]);
    expect(rules.every((r) => r.enabled && r.status === 'loaded')).toBe(true);
    const credential = rules.find((r) => r.id === 'credential-file-read');
    // Counted on the day the pipeline ran (the injected clock): one alert, one filtered (sshd).
    expect(credential?.counters?.totals).toMatchObject({ matches: 1, alerts: 1, filtered: 1 });
    expect(credential?.counters?.days.at(-1)).toMatchObject({ day: '2026-01-03', alerts: 1 });
    expect(credential).toMatchObject({ source: { file: 'examples.yaml' } });
    // Another tenant sees its own (empty) counters.
    const other = await call(list({ jwt: { claims: { tenant: 'tenant-b' }, scopes: [] } }));
    expect((other.body.rules as RuleView[]).every((r) => r.counters?.totals.alerts === 0)).toBe(true);
  });

  it('disables a rule with PATCH; ingest stops alerting on it after its refresh, and re-enabling restores it', async () => {
    const { call, ingestHttp, sink } = setup();
    const disabled = await call(patch('word-launches-powershell', '{"enabled": false}'));
    expect(disabled.status).toBe(200);
    expect(disabled.body).toMatchObject({
      id: 'word-launches-powershell',
      enabled: false,
      override: { enabled: false, updatedBy: 'user-1' },
    });
    const listed = (await call(list())).body.rules as RuleView[];
    expect(listed.find((r) => r.id === 'word-launches-powershell')).toMatchObject({
      enabled: false,
      enabledInRuleFile: true,
      override: { enabled: false },
    });

    await ingestHttp(httpEvent({ body: EXAMPLE_EVENTS }), context());
    expect((await sink.drain()).map((a) => a.ruleId)).not.toContain('word-launches-powershell');

    expect((await call(patch('word-launches-powershell', '{"enabled": true}'))).status).toBe(200);
    const tenantB = { jwt: { claims: { sub: 'u', tenant: 'tenant-b' }, scopes: [] } };
    await ingestHttp(httpEvent({ body: EXAMPLE_EVENTS, authorizer: tenantB }), context());
    expect((await sink.drain()).map((a) => a.ruleId)).toContain('word-launches-powershell');
  });

  it('refuses unknown rules, malformed bodies, unknown routes and unauthenticated calls', async () => {
    const { call } = setup();
    expect((await call(patch('no-such-rule', '{"enabled": false}'))).status).toBe(404);
    expect((await call(patch('credential-file-read', 'nope'))).status).toBe(400);
    expect((await call(patch('credential-file-read', '{"enabled": "no"}'))).status).toBe(400);
    expect((await call(patch('credential-file-read', '{"enabled": false, "severity": "low"}'))).status).toBe(400);
    // A write route needs the admin scope before anything else; an unknown one is then 404.
    expect((await call(httpEvent({ method: 'DELETE', path: '/rules' }))).status).toBe(403);
    expect((await call(httpEvent({ method: 'DELETE', path: '/rules', authorizer: JWT_ADMIN }))).status).toBe(404);
    expect((await call(httpEvent({ method: 'GET', path: '/rules', authorizer: null }))).status).toBe(401);
  });

  it('under JWT, changes a rule only for a token with the admin scope (overrides apply to every tenant)', async () => {
    const { call } = setup(undefined, { RULES_ADMIN_SCOPE: 'stixflow/rules.admin' });
    const token = (scopes: string[] | null, scope?: string) => ({
      jwt: { claims: { sub: 'u', tenant: 'tenant-a', ...(scope !== undefined ? { scope } : {}) }, scopes },
    });
    const refused = await call(patch('credential-file-read', '{"enabled": false}', token([])));
    expect(refused).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'changing a rule needs the stixflow/rules.admin scope' },
    });
    expect(
      (await call(patch('credential-file-read', '{"enabled": false}', token(['stixflow/events.write'])))).status,
    ).toBe(403);
    expect(
      (await call(patch('credential-file-read', '{"enabled": false}', token(['stixflow/rules.admin'])))).status,
    ).toBe(200);
    // Scopes only in the raw claim (space-separated), as some issuers send them.
    expect(
      (await call(patch('credential-file-read', '{"enabled": true}', token(null, 'openid stixflow/rules.admin'))))
        .status,
    ).toBe(200);
    // Reading rule health needs no admin scope.
    expect((await call(list({ jwt: { claims: { sub: 'u', tenant: 'tenant-a' }, scopes: [] } }))).status).toBe(200);
  });

  it('refuses a rule change to a token without the admin scope even when none is configured (default stixflow/rules.admin)', async () => {
    const { call } = setup();
    const refused = await call(patch('credential-file-read', '{"enabled": false}', JWT_TENANT_A));
    expect(refused).toEqual({
      status: 403,
      body: { error: 'forbidden', message: 'changing a rule needs the stixflow/rules.admin scope' },
    });
    expect(((await call(list())).body.rules as RuleView[]).find((r) => r.id === 'credential-file-read')?.enabled).toBe(
      true,
    );
  });

  it('checks the admin scope for callers through a Lambda authoriser too, and records who changed the rule', async () => {
    const { call } = setup(undefined, { RULES_ADMIN_SCOPE: 'ops/rules' });
    const lambda = (context: Record<string, unknown>) => ({
      lambda: { tenant: 'tenant-a', principal: 'carol', ...context },
    });
    expect((await call(patch('credential-file-read', '{"enabled": false}', lambda({})))).status).toBe(403);
    expect(
      (await call(patch('credential-file-read', '{"enabled": false}', lambda({ scopes: ['events.write'] })))).status,
    ).toBe(403);
    expect(
      (await call(patch('credential-file-read', '{"enabled": false}', lambda({ scope: 'events.write ops/rulesx' }))))
        .status,
    ).toBe(403);
    const granted = await call(patch('credential-file-read', '{"enabled": false}', lambda({ scopes: ['ops/rules'] })));
    expect(granted).toMatchObject({ status: 200, body: { override: { enabled: false, updatedBy: 'carol' } } });
    // A space-separated `scope` string, as an authoriser may pass an OAuth token's.
    const asString = await call(
      patch('credential-file-read', '{"enabled": true}', {
        lambda: { tenant: 'tenant-a', principal: 'dave', scope: 'openid ops/rules' },
      }),
    );
    expect(asString).toMatchObject({ status: 200, body: { override: { updatedBy: 'dave' } } });
    const listed = ((await call(list())).body.rules as RuleView[]).find((r) => r.id === 'credential-file-read');
    expect(listed?.override).toMatchObject({ enabled: true, updatedBy: 'dave' });
  });

  it('lets IAM callers through (the IAM policy on PATCH/rules/* decides), recording their ARN', async () => {
    const { call } = setup();
    const iam = { iam: { accountId: '123456789012', userArn: 'arn:aws:iam::123456789012:user/ops/erin' } };
    expect(await call(patch('credential-file-read', '{"enabled": false}', iam))).toMatchObject({
      status: 200,
      body: { override: { updatedBy: 'arn:aws:iam::123456789012:user/ops/erin' } },
    });
    expect((await call(patch('credential-file-read', '{"enabled": true}', iam))).status).toBe(200);
  });

  it('makes no change it cannot audit: when the audit entry cannot be written, the override is not stored', async () => {
    await ensureStateTable(dynamo.client, 'rules-api-unaudited');
    const overrides = new DynamoDbRuleOverrideStore({ client: dynamo.client, tableName: 'rules-api-unaudited' });
    const env = { TABLE_NAME: 'rules-api-unaudited', ALERT_QUEUE_URL: '', RULES_DIR };
    const api = new HandlerRuntime(readConfig(env, 'rules-api'), {
      counters: new InMemoryCounterStore(),
      overrides,
      // The audit trail lives in the rule store: here a table that does not exist.
      ruleStore: new DynamoDbRuleStore({ client: dynamo.client, tableName: 'no-such-table' }),
      dynamo: dynamo.client,
    });
    const rulesApi = createRulesApiHandler(() => api);
    const response = await rulesApi(patch('word-launches-powershell', '{"enabled": false}'), context('rules-api'));
    expect(response.statusCode).toBe(503);
    expect((await overrides.list()).has('word-launches-powershell')).toBe(false);
  });

  it('stores overrides as small items in their own partition', async () => {
    const store = new DynamoDbRuleOverrideStore({ client: dynamo.client, tableName: 'rules-api-test' });
    await store.set({ ruleId: 'a#b/c', enabled: false, updatedAt: '2026-01-01T00:00:00.000Z', updatedBy: 'ops' });
    const all = await store.list();
    expect(all.get('a#b/c')).toEqual({
      ruleId: 'a#b/c',
      enabled: false,
      updatedAt: '2026-01-01T00:00:00.000Z',
      updatedBy: 'ops',
    });
  });

  it('lists Sigma rules with their Sigma metadata, and the one that cannot run with its error', async () => {
    const { call } = setup(undefined, { RULES_DIR: 'test/fixtures/sigma-rules' });
    const { status, body } = await call(list());
    expect(status).toBe(200);
    const rules = body.rules as (RuleView & { sigma?: Record<string, unknown>; errors?: { code: string }[] })[];
    expect(rules.find((r) => r.id === '5c4f1a2e-0b7d-4d51-9a3e-2f1c8b6d7e01')).toMatchObject({
      status: 'loaded',
      sigma: {
        status: 'test',
        author: 'stixflow tests',
        references: ['https://learn.microsoft.com/windows-server/administration/windows-commands/whoami'],
        falsePositives: ['Administrators checking their own token'],
        attack: ['attack.discovery', 'attack.t1033'],
      },
    });
    const broken = rules.find((r) => r.id === '7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c03');
    expect(broken?.errors?.map((e) => e.code)).toEqual(['sigma-unsupported-modifier']);
  });
});
