/**
 * The console API on the local stack (#17), through the same handlers as deployed: a rule
 * created through the API raises on the next event, disabling it stops it, an invalid rule is
 * refused with positions (or kept red), and an alert triaged as rejected shows in GET /rules.
 */
// Response bodies are checked by shape: typed loosely on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth } from './helpers.js';

let stack: LocalStack;

beforeAll(async () => {
  // Alerts are read off the alert queue (and kept for triage) as `npm start` does; nothing printed.
  stack = await startLocalStack({ port: 0, quiet: true, printAlerts: true, print: () => undefined });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = auth()) {
  const response = await fetch(`${stack.url}${path}`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

let events = 0;
/** A new event of the tool the test rule looks for. */
const toolEvent = () =>
  JSON.stringify({
    event_type: 'process_create',
    process_name: 'e2e-tool',
    parent_process_name: 'cron',
    host: `host-${++events}`,
    timestamp: new Date().toISOString(),
    event_id: `console-${events}`,
  });

const RULE = [
  'id: console-e2e-tool',
  'name: The e2e tool ran',
  'severity: high',
  `pattern: "[process:name = 'e2e-tool']"`,
  '',
].join('\n');

/** Polls GET /alerts until the alert poller has kept `count` alerts of the rule (or gives up). */
async function keptAlerts(ruleId: string, count: number): Promise<Record<string, any>[]> {
  let alerts: Record<string, any>[] = [];
  for (let attempt = 0; attempt < 100 && alerts.length < count; attempt++) {
    alerts = (await call('GET', `/alerts?ruleId=${ruleId}`)).body.alerts;
    if (alerts.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return alerts;
}

describe('console API on the local stack', () => {
  it('a rule created through the API raises on the next event; disabled, the next event does not', async () => {
    expect((await call('POST', '/events', toolEvent())).body.alertIds).toEqual([]);
    const created = await call('POST', '/rules', { source: RULE });
    expect(created.status).toBe(201);
    expect(created.body.rule).toMatchObject({ id: 'console-e2e-tool', origin: 'store', status: 'loaded' });

    const raised = await call('POST', '/events', toolEvent());
    expect(raised.status).toBe(202);
    expect(raised.body.alertIds).toHaveLength(1);
    const [kept] = await keptAlerts('console-e2e-tool', 1);
    expect(kept).toMatchObject({ id: raised.body.alertIds[0], tenant: 'local', status: 'new', severity: 'high' });

    expect((await call('PATCH', '/rules/console-e2e-tool', { enabled: false })).status).toBe(200);
    expect((await call('POST', '/events', toolEvent())).body.alertIds).toEqual([]);
    expect((await call('PATCH', '/rules/console-e2e-tool', { enabled: true })).status).toBe(200);
    expect((await call('POST', '/events', toolEvent())).body.alertIds).toHaveLength(1);

    const audit = await call('GET', '/audit?ruleId=console-e2e-tool');
    expect(audit.body.entries.map((e: { action: string }) => e.action)).toEqual(['enable', 'disable', 'create']);
    expect(audit.body.entries[0]).toMatchObject({ by: 'local-dev' });

    // Another tenant's caller: cannot write rules, sees none of these alerts, cannot triage them.
    expect((await call('PUT', '/rules/console-e2e-tool', { source: RULE }, auth('intruder'))).status).toBe(403);
    expect((await call('GET', '/alerts', undefined, auth('intruder'))).body.alerts).toEqual([]);
    expect((await call('PATCH', `/alerts/${kept?.id}`, { status: 'rejected' }, auth('intruder'))).status).toBe(404);
  });

  it('refuses an invalid rule with its positions, or stores it red with allowInvalid', async () => {
    const source = RULE.replace('console-e2e-tool', 'console-broken').replace("= 'e2e-tool'", '= ');
    const refused = await call('POST', '/rules', { source });
    expect(refused.status).toBe(422);
    expect(refused.body.diagnostics).toEqual([
      expect.objectContaining({ code: 'syntax', severity: 'error', line: 4, column: 27, ruleId: 'console-broken' }),
    ]);
    const red = await call('POST', '/rules?allowInvalid=true', { source });
    expect(red.status).toBe(201);
    const listed = (await call('GET', '/rules')).body.rules as Record<string, any>[];
    expect(listed.find((r) => r.id === 'console-broken')).toMatchObject({
      status: 'invalid',
      enabled: false,
      errors: [expect.objectContaining({ code: 'syntax', line: 4, column: 27 })],
    });
  });

  it('an alert triaged as rejected shows in the rule counters of GET /rules', async () => {
    const [alert] = await keptAlerts('console-e2e-tool', 1);
    const triaged = await call('PATCH', `/alerts/${alert?.id}`, { status: 'rejected', note: 'known tool' });
    expect(triaged.body).toMatchObject({ status: 'rejected', statusBy: 'local-dev' });
    const rule = ((await call('GET', '/rules')).body.rules as Record<string, any>[]).find(
      (r) => r.id === 'console-e2e-tool',
    );
    expect(rule?.counters.totals).toMatchObject({ alerts: 2, rejected: 1 });
    const one = await call('GET', `/alerts/${alert?.id}`);
    expect(one.body).toMatchObject({
      status: 'rejected',
      history: [{ status: 'rejected', by: 'local-dev', note: 'known tool' }],
      alert: { id: alert?.id, sighting: { type: 'sighting' } },
    });
  });
});
