/**
 * A STIX bundle of indicators (a CTI feed) in the rules directory raises alerts through the
 * local stack (the deployed handlers), as it does in `stixflow run`, and GET /rules lists it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { runCli } from '../cli/run-cli.js';
import { auth, EXAMPLE_LINES, FIXTURES, stackClient } from './helpers.js';

const FEED_DIR = join(FIXTURES, 'cti');
const C2 = 'indicator--5d0c7a3e-1b7e-4c55-9d0e-3f1a2b4c6d11';
/** evt-4: bash connects from 10.0.0.5 to 203.0.113.9:4444 (ECS). */
const CALLBACK = EXAMPLE_LINES[3] as string;

let stack: LocalStack;
const client = stackClient(() => stack);

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true, rulesDir: FEED_DIR });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

describe('indicator bundles through the local stack', () => {
  it('raises the indicator alert for POST /events, as `stixflow run` does for the same event and feed', async () => {
    const cli = await runCli(['run', '--rules', FEED_DIR, '--tenant', 'cti-http', '-'], `${CALLBACK}\n`);
    const cliAlerts = cli.out
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id: string; ruleId: string });
    expect(cliAlerts.map((a) => a.ruleId)).toEqual([C2]);

    const { status, body } = await client.post('/events', CALLBACK, auth('cti-http'));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 1, alerts: 1 });
    const [alert] = await client.alertsFor('cti-http', 1);
    // The expired indicator (valid until 2025) matches the source address but is not in force.
    expect(alert).toMatchObject({
      ruleId: C2,
      severity: 'high',
      category: 'indicator',
      sighting: { sighting_of_ref: C2 },
    });
    expect(alert?.id).toBe(cliAlerts[0]?.id);
  });

  it('raises it for events sent through POST /queue (the SQS handler)', async () => {
    expect((await client.post('/queue', CALLBACK, auth('cti-queue'))).status).toBe(202);
    const [alert] = await client.alertsFor('cti-queue', 1);
    expect(alert?.ruleId).toBe(C2);
  });

  it('lists the indicator source in GET /rules', async () => {
    const { status, body } = await client.request('GET', '/rules', undefined, auth('cti-http'));
    expect(status).toBe(200);
    expect(body.indicators).toEqual({ total: 3, sources: [{ file: 'c2-feed.json', indicators: 3 }] });
    const rules = body.rules as { id: string }[];
    expect(rules).toEqual([]);
  });
});
