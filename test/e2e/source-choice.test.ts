/**
 * An explicit source beats detection at every entry of the local stack (the deployed handlers): the `source`
 * query parameter or the `x-stixflow-source` header on POST /events and POST /queue (carried as the SQS
 * message's `source` attribute), and `--source` on the CLI. An unknown name is one clear error naming the known
 * mappings (#13.4).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { runCli } from '../cli/run-cli.js';
import { auth, stackClient } from './helpers.js';

/** Flat key-value fields beside an @timestamp: no mapping detects it (flat stays away, ecs sees one mark). */
const FLAT_WITH_TIMESTAMP = JSON.stringify({
  '@timestamp': '2026-01-01T10:00:00Z',
  event_type: 'process_create',
  process_name: 'bash',
  parent_process_name: 'nginx',
  host: 'web-1',
  event_id: 'chosen-1',
});
const KNOWN = /^source "(\w+)" names no mapping \(known: stix, windows, .*\becs, flat\)$/;

let stack: LocalStack;
const client = stackClient(() => stack);

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, quiet: true });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
});

describe('choosing the mapping explicitly', () => {
  it('POST /events without a source rejects what detection cannot place', async () => {
    const { status, body } = await client.post('/events', FLAT_WITH_TIMESTAMP, auth('choice-none'));
    expect(status).toBe(400);
    expect(body).toMatchObject({ accepted: 0, rejectionCodes: { 'unrecognised-format': 1 } });
  });

  it('POST /events?source=flat maps it with flat and alerts', async () => {
    const { status, body } = await client.post('/events?source=flat', FLAT_WITH_TIMESTAMP, auth('choice-query'));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 1, alerts: 1 });
    const [alert] = await client.alertsFor('choice-query', 1);
    expect(alert).toMatchObject({ ruleId: 'web-server-spawns-shell', sourceEventIds: ['chosen-1'] });
  });

  it('the x-stixflow-source header does the same; the query parameter wins over it', async () => {
    const viaHeader = await client.post('/events', FLAT_WITH_TIMESTAMP, {
      ...auth('choice-header'),
      'x-stixflow-source': 'flat',
    });
    expect(viaHeader.status).toBe(202);
    expect(viaHeader.body).toMatchObject({ accepted: 1, alerts: 1 });
    await client.alertsFor('choice-header', 1);
    // ecs, chosen by the query, finds no event time in flat fields: chosen, not detected, and not handed on.
    const both = await client.post('/events?source=ecs', FLAT_WITH_TIMESTAMP, {
      ...auth('choice-both'),
      'x-stixflow-source': 'flat',
    });
    expect(both.status).toBe(400);
    expect(both.body).toMatchObject({ accepted: 0 });
    expect((both.body.rejections as { reason: string }[])[0]?.reason).toMatch(/^ecs: /);
  });

  it('an unknown source is refused with the known names, on /events and /queue alike', async () => {
    for (const path of ['/events?source=flta', '/queue?source=flta']) {
      const { status, body } = await client.post(path, FLAT_WITH_TIMESTAMP, auth('choice-typo'));
      expect(status).toBe(400);
      expect(body.error).toBe('unknown-source');
      expect(body.message).toMatch(KNOWN);
    }
  });

  it('POST /queue carries the source to the SQS handler as the message attribute', async () => {
    const queued = await client.post('/queue', FLAT_WITH_TIMESTAMP, {
      ...auth('choice-queue'),
      'x-stixflow-source': 'flat',
    });
    expect(queued.status).toBe(202);
    const [alert] = await client.alertsFor('choice-queue', 1);
    expect(alert).toMatchObject({ ruleId: 'web-server-spawns-shell', sourceEventIds: ['chosen-1'] });
  });

  it('stixflow run --source and stixflow normalise --source choose it on the command line', async () => {
    const detected = await runCli(['run', '--rules', 'rules', '-'], `${FLAT_WITH_TIMESTAMP}\n`);
    expect(detected.code).toBe(1);
    expect(detected.err).toContain('[unrecognised-format]');
    const chosen = await runCli(['run', '--rules', 'rules', '--source', 'flat', '-'], `${FLAT_WITH_TIMESTAMP}\n`);
    expect(chosen.code).toBe(0);
    expect(
      chosen.out
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { ruleId: string }).ruleId),
    ).toEqual(['web-server-spawns-shell']);
    const normalised = await runCli(['normalise', '--source', 'flat', '-'], `${FLAT_WITH_TIMESTAMP}\n`);
    expect(normalised.code).toBe(0);
    const bundle = JSON.parse(normalised.out) as { objects: { type: string; x_source_mapping?: string }[] };
    expect(bundle.objects.find((o) => o.type === 'observed-data')?.x_source_mapping).toBe('flat');
    for (const command of [
      ['run', '--rules', 'rules', '--source', 'flta', '-'],
      ['normalise', '--source', 'flta', '-'],
    ]) {
      const typo = await runCli(command, `${FLAT_WITH_TIMESTAMP}\n`);
      expect(typo.code).toBe(2);
      expect(typo.err).toMatch(/--source: source "flta" names no mapping \(known: stix, windows, .*\becs, flat\)/);
    }
  });
});
