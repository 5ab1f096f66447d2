/**
 * The runtime rule store through the rules API (#17): writes validated by the rule loader, versions
 * and audit in the state table (dynalite), the store layered over the bundle, and ingest picking
 * changes up on the store version's refresh interval (a fake clock).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Response bodies are checked by shape with toMatchObject: typed loosely on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthorizerContext } from '../../functions/auth.js';
import { readConfig } from '../../functions/config.js';
import { createIngestHttpHandler } from '../../functions/ingest-http.js';
import { createRulesApiHandler } from '../../functions/rules-api.js';
import { HandlerRuntime } from '../../functions/runtime.js';
import { ensureStateTable, startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import { loadRulesFromPaths } from '../../src/rules/load.js';
import { InMemoryCounterStore, InMemoryStateStore } from '../../src/state/index.js';
import { DynamoDbRuleOverrideStore } from '../../src/state/rule-overrides.js';
import { DynamoDbRuleStore } from '../../src/state/rule-store.js';
import { context, httpEvent, JWT_TENANT_A, RecordingSink, RULES_DIR } from './helpers.js';

const ADMIN: AuthorizerContext = {
  jwt: { claims: { sub: 'alice', tenant: 'tenant-a' }, scopes: ['stixflow/rules.admin'] },
};
let events = 0;
/** A web server starting bash, each time a new event (and host, past any suppression). */
const shellEvent = () =>
  JSON.stringify({
    event_type: 'process_create',
    process_name: 'bash',
    parent_process_name: 'nginx',
    host: `web-${++events}`,
    timestamp: '2026-01-03T11:00:00Z',
    event_id: `e${events}`,
  });
const storeRule = (severity = 'medium') =>
  [
    'id: store-shell',
    'name: Shell from a web server (store)',
    `severity: ${severity}`,
    `pattern: "[process:name = 'bash' AND process:parent_ref.name = 'nginx']"`,
    '',
  ].join('\n');
const INVALID = [
  'id: store-broken',
  'name: Broken',
  'severity: low',
  `pattern: "[process:name = 'bash' AND process:parent_ref.name = ]"`,
  '',
].join('\n');

describe('rule store through the rules API', () => {
  let dynamo: RunningDynamo;
  let tables = 0;
  beforeAll(async () => {
    dynamo = await startDynamo();
  });
  afterAll(() => dynamo.stop());

  async function setup(options: { refreshSeconds?: string } = {}) {
    const tableName = `rule-store-${tables++}`;
    await ensureStateTable(dynamo.client, tableName);
    let now = Date.parse('2026-01-03T12:00:00Z');
    const clock = () => now;
    const table = { client: dynamo.client, tableName };
    const counters = new InMemoryCounterStore();
    const overrides = new DynamoDbRuleOverrideStore(table);
    const ingestStore = new DynamoDbRuleStore(table);
    const sink = new RecordingSink();
    const env = {
      TABLE_NAME: tableName,
      ALERT_QUEUE_URL: 'https://sqs.local/alerts.fifo',
      RULES_DIR,
      RULE_OVERRIDES_REFRESH_SECONDS: options.refreshSeconds ?? '0',
      RULE_STORE_REFRESH_SECONDS: options.refreshSeconds ?? '0',
    };
    const ingest = new HandlerRuntime(readConfig(env, 'ingest'), {
      store: new InMemoryStateStore(),
      counters,
      sink,
      overrides,
      ruleStore: ingestStore,
      now: clock,
    });
    const api = new HandlerRuntime(readConfig({ ...env, ALERT_QUEUE_URL: '' }, 'rules-api'), {
      counters,
      overrides,
      dynamo: dynamo.client,
      now: clock,
    });
    const rulesApi = createRulesApiHandler(() => api, clock);
    const ingestHttp = createIngestHttpHandler(() => ingest);
    const call = async (
      method: string,
      path: string,
      body?: unknown,
      authorizer: AuthorizerContext = ADMIN,
      query?: Record<string, string>,
    ) => {
      const event = {
        ...httpEvent({ method, path, authorizer, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) }),
        ...(query ? { queryStringParameters: query } : {}),
      };
      const response = await rulesApi(event, context('rules-api'));
      return { status: response.statusCode, body: JSON.parse(response.body ?? '{}') as Record<string, any> };
    };
    const alertRules = async (): Promise<string[]> => {
      await ingestHttp(httpEvent({ body: shellEvent() }), context());
      return (await sink.drain()).map((a) => a.ruleId as string);
    };
    return { call, alertRules, ingestStore, advance: (ms: number) => (now += ms) };
  }

  it('creates a store rule that the next event raises, lists it with its origin and audits every change', async () => {
    const { call, alertRules } = await setup();
    expect(await alertRules()).not.toContain('store-shell');
    const created = await call('POST', '/rules', { source: storeRule() });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      version: 1,
      diagnostics: [],
      rule: { id: 'store-shell', origin: 'store', kind: 'pattern', status: 'loaded', enabled: true, scope: 'all' },
    });
    expect(await alertRules()).toContain('store-shell');

    const listed = (await call('GET', '/rules', undefined, JWT_TENANT_A)).body.rules as Record<string, any>[];
    expect(listed.find((r) => r.id === 'store-shell')).toMatchObject({
      origin: 'store',
      lastChange: { by: 'alice', version: 1 },
      counters: { totals: { alerts: 1, rejected: 0 } },
    });
    expect(listed.find((r) => r.id === 'web-server-spawns-shell')).toMatchObject({ origin: 'bundle' });

    // The same id again: 409. A new version through PUT, then disable, then delete.
    expect((await call('POST', '/rules', { source: storeRule() })).status).toBe(409);
    const updated = await call('PUT', '/rules/store-shell', { source: storeRule('high') });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ version: 2, rule: { severity: 'high' } });
    expect((await call('PATCH', '/rules/store-shell', { enabled: false })).body).toMatchObject({ version: 3 });
    expect(await alertRules()).not.toContain('store-shell');
    expect((await call('PATCH', '/rules/store-shell', { enabled: true })).status).toBe(200);
    expect(await alertRules()).toContain('store-shell');

    const one = await call('GET', '/rules/store-shell', undefined, JWT_TENANT_A);
    expect(one.status).toBe(200);
    expect(one.body.source).toBe(storeRule('high'));
    expect(one.body.tests).toEqual({ cases: 0 });
    expect(one.body.versions.map((v: { action: string }) => v.action)).toEqual([
      'enable',
      'disable',
      'update',
      'create',
    ]);
    expect(one.body.versions[2]).toMatchObject({ version: 2, by: 'alice', summary: 'changed severity' });
    const first = await call('GET', '/rules/store-shell/versions/1', undefined, JWT_TENANT_A);
    expect(first.body).toMatchObject({ version: 1, action: 'create', by: 'alice', source: storeRule() });
    expect((await call('GET', '/rules/store-shell/versions/9', undefined, JWT_TENANT_A)).status).toBe(404);

    expect((await call('DELETE', '/rules/store-shell')).body).toMatchObject({ id: 'store-shell', version: 5 });
    expect(await alertRules()).not.toContain('store-shell');
    expect((await call('DELETE', '/rules/store-shell')).status).toBe(404);
    expect((await call('DELETE', '/rules/web-server-spawns-shell')).status).toBe(409);

    const audit = await call('GET', '/audit', undefined, JWT_TENANT_A, { limit: '3' });
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toEqual(['delete', 'enable', 'disable']);
    expect(audit.body.entries[0]).toMatchObject({ ruleId: 'store-shell', by: 'alice', version: 5 });
    const ofRule = await call('GET', '/audit', undefined, JWT_TENANT_A, { ruleId: 'store-shell' });
    expect(ofRule.body.entries).toHaveLength(5);
  });

  it('refuses writes without the admin scope, but lets anyone of the tenant validate', async () => {
    const { call } = await setup();
    for (const [method, path] of [
      ['POST', '/rules'],
      ['PUT', '/rules/store-shell'],
      ['DELETE', '/rules/store-shell'],
      ['PATCH', '/rules/web-server-spawns-shell'],
    ] as const)
      expect((await call(method, path, { source: storeRule() }, JWT_TENANT_A)).status).toBe(403);
    const checked = await call('POST', '/rules/validate', { source: storeRule() }, JWT_TENANT_A);
    expect(checked.body).toEqual({ valid: true, diagnostics: [] });
    expect((await call('GET', '/audit', undefined, JWT_TENANT_A)).body.entries).toEqual([]);
  });

  it('answers an invalid rule with the diagnostics stixflow validate gives, or stores it red with allowInvalid', async () => {
    const { call } = await setup();
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-store-'));
    writeFileSync(join(dir, 'broken.yaml'), INVALID);
    const expected = loadRulesFromPaths([join(dir, 'broken.yaml')]).diagnostics.map((d) => ({
      code: d.code,
      severity: d.severity,
      message: d.message,
      line: d.line,
      column: d.column,
      ruleId: d.ruleId,
    }));
    expect(expected[0]).toMatchObject({ code: 'syntax', line: 4, column: 64 });

    const checked = await call('POST', '/rules/validate', { source: INVALID });
    expect(checked.body.valid).toBe(false);
    expect(checked.body.diagnostics).toEqual(expected.map((d) => ({ ...d, file: 'source.yaml' })));

    const refused = await call('POST', '/rules', { source: INVALID });
    expect(refused.status).toBe(422);
    expect(refused.body.diagnostics).toEqual(checked.body.diagnostics);
    expect((await call('GET', '/rules/store-broken')).status).toBe(404);

    const red = await call('POST', '/rules', { source: INVALID }, ADMIN, { allowInvalid: 'true' });
    expect(red.status).toBe(201);
    expect(red.body.rule).toMatchObject({ id: 'store-broken', status: 'invalid', origin: 'store', enabled: false });
    const listed = (await call('GET', '/rules')).body.rules as Record<string, any>[];
    expect(listed.find((r) => r.id === 'store-broken')?.errors).toEqual([
      expect.objectContaining({ code: 'syntax', line: 4, column: 64, file: 'store/store-broken.yaml' }),
    ]);

    // Two rules in one source, or none: refused with the reason.
    const two = await call('POST', '/rules/validate', {
      source: `rules:\n  - ${storeRule().trimEnd().split('\n').join('\n    ')}\n  - id: x\n    name: x\n    severity: low\n    pattern: "[a:b = 1]"\n`,
    });
    expect(two.body).toMatchObject({ valid: false, error: expect.stringContaining('holds 2') });
    expect((await call('POST', '/rules', { source: 'name: no id\n' })).status).toBe(422);
    expect((await call('POST', '/rules', { nope: 1 })).status).toBe(400);
  });

  it('lets a store rule replace a bundle rule and the bundle rule come back when it is deleted', async () => {
    const { call, alertRules } = await setup();
    const bundle = await call('GET', '/rules/web-server-spawns-shell');
    expect(bundle.body.rule).toMatchObject({ origin: 'bundle' });
    expect(bundle.body.source).toContain('web-server-spawns-shell');
    expect(bundle.body.tests.cases).toBe(3);
    const replaced = await call('PUT', '/rules/web-server-spawns-shell', {
      source: storeRule().replace('store-shell', 'web-server-spawns-shell'),
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body.rule).toMatchObject({ origin: 'store', severity: 'medium' });
    const listed = (await call('GET', '/rules')).body;
    expect(listed.diagnostics).toEqual([]);
    expect((listed.rules as { id: string }[]).filter((r) => r.id === 'web-server-spawns-shell')).toHaveLength(1);
    expect(await alertRules()).toContain('web-server-spawns-shell');
    expect((await call('DELETE', '/rules/web-server-spawns-shell')).status).toBe(200);
    expect((await call('GET', '/rules/web-server-spawns-shell')).body.rule).toMatchObject({
      origin: 'bundle',
      severity: 'high',
    });
  });

  it("runs a rule's tests on every save and keeps the last run with the version; a read runs them when none is current", async () => {
    const { call, advance } = await setup();
    const event = (process: string, id: string) =>
      `{ event_type: process_create, process_name: ${process}, parent_process_name: nginx, host: web-1, timestamp: "2026-01-03T11:00:00Z", event_id: ${id} }`;
    const withTests = (expectation: string) =>
      storeRule() +
      [
        'tests:',
        '  - name: nginx starting bash alerts',
        `    events: [${event('bash', 't1')}]`,
        '    expect: alert',
        '  - name: nginx starting zsh',
        `    events: [${event('zsh', 't2')}]`,
        `    expect: ${expectation}`,
        '',
      ].join('\n');
    const created = await call('POST', '/rules', { source: withTests('alert') });
    expect(created.status).toBe(201);
    expect(created.body.tests).toMatchObject({
      cases: 2,
      lastRun: { trigger: 'save', by: 'alice', version: 1, current: true, passed: 1, failed: 1, skipped: 0 },
    });
    const [passed, failed] = created.body.tests.lastRun.results;
    expect(passed).toMatchObject({ name: 'nginx starting bash alerts', outcome: 'passed' });
    expect(passed.message).toBeUndefined();
    // The reason, as `stixflow test` gives it: what was expected, and which part of the pattern no event satisfies.
    expect(failed).toMatchObject({ name: 'nginx starting zsh', outcome: 'failed' });
    expect(failed.message).toMatch(/^expected an alert, got 0\n/);
    expect(failed.message).toContain(
      "[process:name = 'bash' AND process:parent_ref.name = 'nginx'] is satisfied by no event",
    );

    // Kept: a read later answers the same run, not a new one.
    advance(60_000);
    const read = await call('GET', '/rules/store-shell', undefined, JWT_TENANT_A);
    expect(read.body.tests).toEqual(created.body.tests);

    // A new version runs them again and keeps that run.
    const fixed = await call('PUT', '/rules/store-shell', { source: withTests('no-alert') });
    expect(fixed.body.tests.lastRun).toMatchObject({ version: 2, passed: 2, failed: 0, current: true });
    expect((await call('GET', '/rules/store-shell')).body.tests.lastRun.at).toBe(fixed.body.tests.lastRun.at);
    // Running tests is not a change of the rule: no version, no audit entry.
    expect((await call('GET', '/audit', undefined, ADMIN, { ruleId: 'store-shell' })).body.entries).toHaveLength(2);

    // A bundle rule's tests run on its first read (by the reader), then that run is answered.
    const bundle = await call('GET', '/rules/web-server-spawns-shell', undefined, JWT_TENANT_A);
    expect(bundle.body.tests).toMatchObject({
      cases: 3,
      lastRun: { trigger: 'read', by: 'user-1', current: true, passed: 3, failed: 0 },
    });
    expect(bundle.body.tests.lastRun.version).toBeUndefined();
    advance(60_000);
    expect((await call('GET', '/rules/web-server-spawns-shell')).body.tests).toEqual(bundle.body.tests);

    // A draft's tests, through validate: answered, nothing kept.
    const draft = await call('POST', '/rules/validate', { source: withTests('alert'), tests: true }, JWT_TENANT_A);
    expect(draft.body).toMatchObject({ valid: true, tests: { cases: 2, passed: 1, failed: 1 } });
    expect((await call('GET', '/rules/store-shell')).body.tests.lastRun).toMatchObject({ version: 2, passed: 2 });
    const broken = await call('POST', '/rules/validate', { source: INVALID, tests: true });
    expect(broken.body.tests).toMatchObject({ cases: 0, notRun: expect.stringContaining('does not compile') });
  });

  it('ingest reads the store version at most once per refresh interval and sees a creation and a disable within it', async () => {
    const { call, alertRules, ingestStore, advance } = await setup({ refreshSeconds: '60' });
    expect(await alertRules()).not.toContain('store-shell');
    const reads = ingestStore.versionReads;
    expect((await call('POST', '/rules', { source: storeRule() })).status).toBe(201);
    advance(59_000);
    expect(await alertRules()).not.toContain('store-shell');
    // Not re-read before the interval is up.
    expect(ingestStore.versionReads).toBe(reads);
    advance(1_000);
    expect(await alertRules()).toContain('store-shell');
    expect(ingestStore.versionReads).toBe(reads + 1);
    // Unchanged version: read once more after the next interval, rules not rebuilt, still raised.
    advance(60_000);
    expect(await alertRules()).toContain('store-shell');
    expect(ingestStore.versionReads).toBe(reads + 2);

    // Disabled through the API (overrides refreshed on the same 60 s): in force within the minute.
    expect((await call('PATCH', '/rules/store-shell', { enabled: false })).status).toBe(200);
    advance(59_000);
    expect(await alertRules()).toContain('store-shell');
    advance(1_000);
    expect(await alertRules()).not.toContain('store-shell');
  });
});
