/**
 * The local stack against hostile or careless callers: bounded answers to oversized bodies, late
 * events reported, and local authorisation that decides like the deployed one (tokens map to a
 * principal and a tenant, rule changes need an admin token, the audit names the principal, and
 * /queue refuses what /events refuses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth, EXAMPLE_LINES, stackClient } from './helpers.js';

let stack: LocalStack;
const client = stackClient(() => stack);
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

type Rule = { id: string; enabled: boolean; override?: { enabled: boolean; updatedBy: string } };

describe('local stack: bounded reports', () => {
  it('answers a 1 MiB body of `{}` lines in a few kilobytes: the first 100 rejections, counts by code, the total', async () => {
    const lines = 349_525;
    const { status, body, bytes } = await client.post('/events', '{}\n'.repeat(lines), auth('flood'));
    expect(status).toBe(400);
    expect(bytes).toBeLessThan(16 * 1024);
    expect(body).toMatchObject({ accepted: 0, rejected: lines, rejectionCodes: { 'unrecognised-format': lines } });
    expect(body.rejections as unknown[]).toHaveLength(100);
  });

  it('reports late events in the response', async () => {
    expect((await client.post('/events', EXAMPLE_LINES[0] as string, auth('late'))).status).toBe(202);
    const early = JSON.stringify({
      ...(JSON.parse(EXAMPLE_LINES[0] as string) as Record<string, unknown>),
      timestamp: '2026-01-01T09:50:00Z',
      event_id: 'evt-early',
    });
    const { status, body } = await client.post('/events', early, auth('late'));
    expect(status).toBe(202);
    expect(body).toMatchObject({
      late: 1,
      lateEvents: [{ index: 0, ruleId: 'web-shell-then-callback', groupKey: '["web-1"]', lagSeconds: 600 }],
    });
    await client.alertsFor('late', 1); // the first event's web-shell alert; the early one is suppressed
  });
});

describe('local stack: authorisation as deployed', () => {
  it('lets only an admin token change a rule, and records its principal', async () => {
    const refused = await client.request('PATCH', '/rules/credential-file-read', '{"enabled": false}', auth('acme'));
    expect(refused).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    const listed = async (): Promise<Rule | undefined> =>
      ((await client.request('GET', '/rules', undefined, auth('acme'))).body.rules as Rule[]).find(
        (r) => r.id === 'credential-file-read',
      );
    expect((await listed())?.enabled).toBe(true);

    const changed = await client.request('PATCH', '/rules/credential-file-read', '{"enabled": false}', auth());
    expect(changed).toMatchObject({ status: 200, body: { override: { enabled: false, updatedBy: 'local-dev' } } });
    expect(await listed()).toMatchObject({ enabled: false, override: { enabled: false, updatedBy: 'local-dev' } });
    expect((await client.request('PATCH', '/rules/credential-file-read', '{"enabled": true}', auth())).status).toBe(
      200,
    );
  });

  it('refuses on /queue the tenant /events refuses, instead of queueing it for the dead-letter queue', async () => {
    const longTenant = auth('t'.repeat(300));
    const viaEvents = await client.post('/events', EXAMPLE_LINES[4] as string, longTenant);
    expect(viaEvents.status).toBe(403);
    const viaQueue = await client.post('/queue', EXAMPLE_LINES[4] as string, longTenant);
    expect(viaQueue).toEqual({ status: 403, body: viaEvents.body, bytes: viaEvents.bytes });
    expect((await client.post('/queue', EXAMPLE_LINES[4] as string, bearer('nobody'))).status).toBe(401);
    expect(await client.receiveAll(stack.dlqUrl, 1, 3000)).toEqual([]);
  });
});

describe('local stack with its own token table', () => {
  let custom: LocalStack;
  const customClient = stackClient(() => custom);

  beforeAll(async () => {
    await stack.stop();
    custom = await startLocalStack({
      port: 0,
      quiet: true,
      tokens: {
        'alice-secret': { principal: 'alice', tenant: 'ops', admin: true },
        'bob-secret': { principal: 'bob', tenant: 'team-b' },
      },
    });
  }, 30_000);

  afterAll(async () => {
    await custom?.stop();
  });

  it('maps each token to its principal and tenant; the defaults are gone', async () => {
    expect((await customClient.post('/events', EXAMPLE_LINES[4] as string, bearer('local-dev'))).status).toBe(401);
    expect((await customClient.post('/events', EXAMPLE_LINES[4] as string, bearer('bob-secret'))).status).toBe(202);
    expect((await customClient.alertsFor('team-b', 1))[0]?.ruleId).toBe('word-launches-powershell');
    expect(
      (
        await customClient.request(
          'PATCH',
          '/rules/word-launches-powershell',
          '{"enabled": false}',
          bearer('bob-secret'),
        )
      ).status,
    ).toBe(403);
    const byAlice = await customClient.request(
      'PATCH',
      '/rules/word-launches-powershell',
      '{"enabled": false}',
      bearer('alice-secret'),
    );
    expect(byAlice).toMatchObject({ status: 200, body: { override: { updatedBy: 'alice' } } });
    const rules = (await customClient.request('GET', '/rules', undefined, bearer('bob-secret'))).body;
    expect(rules.tenant).toBe('team-b');
    expect((rules.rules as Rule[]).find((r) => r.id === 'word-launches-powershell')?.override).toMatchObject({
      enabled: false,
      updatedBy: 'alice',
    });
  });
});
