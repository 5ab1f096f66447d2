/**
 * The local stack's data directory: correlation state, overrides, counters and /queue messages
 * survive a stop and a kill; printed alerts are kept in a bounded ring.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { AlertDocument } from '../../src/engine/alert.js';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth, EXAMPLE_EVENTS, EXAMPLE_LINES, stackClient } from './helpers.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

let stack: LocalStack | undefined;
const client = stackClient(() => stack as LocalStack);

afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

const dataDir = (): string => mkdtempSync(join(tmpdir(), 'stixflow-data-'));

/** The two halves of the web-shell-then-callback sequence on one host (flat events). */
const shellOn = (host: string): string =>
  JSON.stringify({
    event_type: 'process_create',
    process_name: 'bash',
    parent_process_name: 'nginx',
    host,
    timestamp: '2026-01-01T10:00:00Z',
    event_id: `shell-${host}`,
  });
const callbackFrom = (host: string): string =>
  JSON.stringify({
    event_type: 'network_connection',
    process_name: 'bash',
    dst_ip: '203.0.113.9',
    dst_port: 4444,
    host,
    timestamp: '2026-01-01T10:02:00Z',
    event_id: `callback-${host}`,
  });

/** Reads the alert queue until `count` alerts of `ruleId` arrived (others are set aside). */
async function sequenceAlerts(ruleId: string, count: number): Promise<AlertDocument[]> {
  const found: AlertDocument[] = [];
  for (let round = 0; round < 30 && found.length < count; round++) {
    const messages = await client.receiveAll((stack as LocalStack).alertQueueUrl, 10, 1000);
    for (const m of messages) {
      const alert = JSON.parse(m.Body ?? '{}') as AlertDocument;
      if (alert.ruleId === ruleId) found.push(alert);
    }
  }
  return found;
}

type Rule = {
  id: string;
  enabled: boolean;
  override?: { updatedBy: string };
  counters: { totals: { alerts: number } };
};

describe('local stack with a data directory', () => {
  it('completes a sequence whose first half arrived before a restart; overrides and counters survive too', async () => {
    const dir = dataDir();
    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir });
    expect((await client.post('/events', EXAMPLE_LINES[0] as string, auth())).body).toMatchObject({
      accepted: 1,
      alerts: 1,
    });
    expect(
      (await client.request('PATCH', '/rules/word-launches-powershell', '{"enabled": false}', auth())).status,
    ).toBe(200);
    await stack.stop();

    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir });
    const second = await client.post('/events', EXAMPLE_LINES[3] as string, auth());
    expect(second.body).toMatchObject({ accepted: 1, alerts: 2 });
    expect((await client.alertsFor('local', 2)).map((a) => a.ruleId)).toEqual([
      'outbound-unusual-port',
      'web-shell-then-callback',
    ]);
    const rules = (await client.request('GET', '/rules', undefined, auth())).body.rules as Rule[];
    expect(rules.find((r) => r.id === 'word-launches-powershell')).toMatchObject({
      enabled: false,
      override: { updatedBy: 'local-dev' },
    });
    // Counted before the restart (web-server-spawns-shell) and after it (the sequence).
    expect(rules.find((r) => r.id === 'web-server-spawns-shell')?.counters.totals.alerts).toBe(1);
    expect(rules.find((r) => r.id === 'web-shell-then-callback')?.counters.totals.alerts).toBe(1);
  });

  it('processes after a restart what /queue acknowledged before the stop and had not processed', async () => {
    const dir = dataDir();
    // No ingest poller, like a disabled event source mapping: the messages wait on the queue.
    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir, pollIngestQueue: false });
    for (const host of ['q-1', 'q-2', 'q-3'])
      expect((await client.post('/queue', shellOn(host), auth())).status).toBe(202);
    await stack.stop();

    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir });
    for (const host of ['q-1', 'q-2', 'q-3'])
      expect((await client.post('/events', callbackFrom(host), auth())).status).toBe(202);
    const sequences = await sequenceAlerts('web-shell-then-callback', 3);
    expect(sequences.map((a) => a.groupKey).sort()).toEqual(['["q-1"]', '["q-2"]', '["q-3"]']);
    await stack.stop();
    // Processed messages are settled: a third start queues nothing again.
    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir });
    expect(await client.receiveAll(stack.ingestQueueUrl, 1, 1500)).toEqual([]);
  });

  it('loses none of the messages /queue acknowledged when `npm start` is killed', async () => {
    const dir = dataDir();
    // One process (node with the tsx loader, as `npm start` runs it), so SIGKILL kills the server itself.
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'src/local/start.ts')], {
      cwd: REPO,
      env: { ...process.env, STIXFLOW_PORT: '0', STIXFLOW_DATA_DIR: dir, POWERTOOLS_LOG_LEVEL: 'ERROR' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
        const match = /stixflow local stack on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (match) resolve(match[1] as string);
      });
      child.on('exit', () => reject(new Error(`npm start exited before serving: ${out}`)));
    });
    const hosts = Array.from({ length: 33 }, (_, i) => `k-${i}`);
    const queued = await Promise.all(
      hosts.map((host) =>
        fetch(`${url}/queue`, { method: 'POST', body: shellOn(host), headers: auth() }).then((r) => r.status),
      ),
    );
    expect(queued).toEqual(hosts.map(() => 202));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir });
    for (const host of hosts) expect((await client.post('/events', callbackFrom(host), auth())).status).toBe(202);
    const sequences = await sequenceAlerts('web-shell-then-callback', hosts.length);
    expect(sequences.map((a) => a.groupKey).sort()).toEqual(hosts.map((h) => `["${h}"]`).sort());
  }, 60_000);

  it('refuses a second stack on the same directory', async () => {
    const dir = dataDir();
    stack = await startLocalStack({ port: 0, quiet: true, dataDir: dir });
    await expect(startLocalStack({ port: 0, quiet: true, dataDir: dir })).rejects.toThrow(
      /is in use by another local stack of this process/,
    );
  });
});

describe('local stack memory', () => {
  it('keeps only the last `keepAlerts` printed alerts', async () => {
    const printed: string[] = [];
    stack = await startLocalStack({
      port: 0,
      quiet: true,
      printAlerts: true,
      keepAlerts: 3,
      print: (line) => printed.push(line),
    });
    for (const tenant of ['ring-a', 'ring-b'])
      expect((await client.post('/events', EXAMPLE_EVENTS, auth(tenant))).body).toMatchObject({ alerts: 5 });
    const summaries = (): string[] => printed.filter((l) => l.startsWith('ALERT '));
    for (let round = 0; round < 100 && summaries().length < 10; round++) await new Promise((r) => setTimeout(r, 100));
    expect(summaries()).toHaveLength(10);
    expect(stack.alerts).toHaveLength(3);
    const lastPrinted = summaries()
      .slice(-3)
      .map((l) => /id=(\S+)$/.exec(l)?.[1]);
    expect(stack.alerts.map((a) => a.id)).toEqual(lastPrinted);
  });
});
