/**
 * The hardening acceptance (#11): one batch through the local stack's HTTP ingest holding one
 * poisoned element of each kind — unreadable lines, an event no mapping takes, an invalid and an
 * unsatisfiable rule beside valid ones, a broken indicator in a feed, an over-long group key, a
 * sequence of 999,999,999 instances on both halves, a 70 KB command line, an event dated 2099,
 * a 600 KB value under MATCHES. Every failure is reported against its own event index; every
 * other event is processed and alerts; alerts stay bounded in number and size; delivering the
 * batch again raises nothing new.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDocument } from '../../src/engine/alert.js';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth, stackClient } from './helpers.js';

const RULES = `rules:
  - id: staged-sequence
    name: Stage one, then stage two, on one host
    severity: critical
    pattern: "([process:name = 'stage1'] FOLLOWEDBY [process:name = 'stage2']) WITHIN 600 SECONDS"
    group_by: x-oca-asset:hostname
  - id: marker-in-command-line
    name: Marker at the end of a command line
    severity: high
    pattern: "[process:command_line MATCHES 'evil-marker$']"
  - id: broken-pattern
    name: Does not compile
    severity: low
    pattern: "[process:name = ]"
  - id: never-matches
    name: Can never match
    severity: low
    pattern: "[process:name = 'a' AND process:name = 'b']"
`;

const FEED = {
  type: 'bundle',
  id: 'bundle--0b6c2a10-7d4e-4f39-9a55-1c2d3e4f5a60',
  objects: [
    {
      type: 'indicator',
      spec_version: '2.1',
      id: 'indicator--0b6c2a10-7d4e-4f39-9a55-1c2d3e4f5a61',
      created: '2026-01-01T00:00:00.000Z',
      modified: '2026-01-01T00:00:00.000Z',
      name: 'C2 address',
      pattern_type: 'stix',
      pattern: "[ipv4-addr:value = '198.51.100.7']",
      valid_from: '2026-01-01T00:00:00Z',
    },
    {
      type: 'indicator',
      spec_version: '2.1',
      id: 'indicator--0b6c2a10-7d4e-4f39-9a55-1c2d3e4f5a62',
      created: '2026-01-01T00:00:00.000Z',
      modified: '2026-01-01T00:00:00.000Z',
      name: 'Broken',
      pattern_type: 'stix',
      pattern: '[ipv4-addr:value = ',
      valid_from: '2026-01-01T00:00:00Z',
    },
  ],
};

const BASE = Date.UTC(2026, 10, 30, 12, 0, 0);
let serial = 0;

/** One STIX bundle: an observed-data with a process (and its host), or a connection. */
function event(options: {
  second: number;
  host: string;
  process?: Record<string, unknown>;
  dst?: string;
  count?: number;
  at?: string;
}): string {
  const n = ++serial;
  const hex = n.toString(16).padStart(12, '0');
  const at = options.at ?? new Date(BASE + options.second * 1000).toISOString();
  const asset = { type: 'x-oca-asset', id: `x-oca-asset--00000000-0000-4000-8000-${hex}`, hostname: options.host };
  const objects: Record<string, unknown>[] = [asset];
  if (options.process)
    objects.push({ type: 'process', id: `process--00000000-0000-4000-8000-${hex}`, ...options.process });
  if (options.dst) {
    objects.push({ type: 'ipv4-addr', id: `ipv4-addr--00000000-0000-4000-8000-${hex}`, value: options.dst });
    objects.push({
      type: 'network-traffic',
      id: `network-traffic--00000000-0000-4000-8000-${hex}`,
      dst_ref: `ipv4-addr--00000000-0000-4000-8000-${hex}`,
      protocols: ['tcp'],
    });
  }
  const sdo = {
    type: 'observed-data',
    spec_version: '2.1',
    id: `observed-data--00000000-0000-4000-8000-${hex}`,
    created: at,
    modified: at,
    first_observed: at,
    last_observed: at,
    number_observed: options.count ?? 1,
    object_refs: objects.map((o) => o.id),
  };
  return JSON.stringify({ type: 'bundle', id: `bundle--00000000-0000-4000-8000-${hex}`, objects: [sdo, ...objects] });
}

const LONG_HOST = '長'.repeat(300);
const PADDING = 'x'.repeat(70_000);
const LONG_VALUE = 'y'.repeat(600_000);

/** The batch, one line per event; the comments give each line's index. */
const LINES = [
  '{"not json', // 0: unreadable
  '{}', // 1: no mapping takes it
  event({ second: 0, host: LONG_HOST, process: { name: 'stage1' } }), // 2
  event({ second: 10, host: LONG_HOST, process: { name: 'stage2' } }), // 3: sequence on an over-long key
  event({ second: 0, host: 'flood', process: { name: 'stage1' }, count: 999_999_999 }), // 4
  event({ second: 1, host: 'flood', process: { name: 'stage2' }, count: 999_999_999 }), // 5: a billion matches, counted
  event({ second: 0, host: 'padded', process: { name: 'stage1', command_line: PADDING } }), // 6
  event({ second: 5, host: 'padded', process: { name: 'stage2', command_line: PADDING } }), // 7: padded sequence
  event({ second: 0, host: 'future', process: { name: 'stage1' }, at: '2099-01-01T00:00:00Z' }), // 8: from the future
  event({ second: 20, host: 'future', process: { name: 'stage1' } }), // 9
  event({ second: 30, host: 'future', process: { name: 'stage2' } }), // 10: sequence after the future event
  event({ second: 40, host: 'big', process: { name: 'tool', command_line: `${LONG_VALUE} evil-marker` } }), // 11: marker past the searched length
  event({ second: 41, host: 'plain', process: { name: 'tool', command_line: 'run evil-marker' } }), // 12: marker in reach
  event({ second: 50, host: 'web', dst: '198.51.100.7' }), // 13: indicator hit
];

let stack: LocalStack;
let rulesDir: string;
const client = stackClient(() => stack);

beforeAll(async () => {
  rulesDir = mkdtempSync(join(tmpdir(), 'stixflow-poisoned-'));
  writeFileSync(join(rulesDir, 'rules.yaml'), RULES);
  writeFileSync(join(rulesDir, 'feed.json'), JSON.stringify(FEED));
  stack = await startLocalStack({ port: 0, quiet: true, rulesDir });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(rulesDir, { recursive: true, force: true });
});

describe('one poisoned element of each kind in one batch', () => {
  it('reports the invalid rule, the unsatisfiable rule and the broken indicator, and runs the rest', async () => {
    const response = await client.request('GET', '/rules');
    expect(response.status).toBe(200);
    const body = response.body;
    const rules = body.rules as { id: string; status: string; errors: { code: string }[] }[];
    const status = (wanted: string): string[] =>
      rules
        .filter((r) => r.status === wanted)
        .map((r) => r.id)
        .sort();
    expect(status('loaded')).toEqual(['marker-in-command-line', 'staged-sequence']);
    expect(status('invalid')).toEqual([
      'broken-pattern',
      'indicator--0b6c2a10-7d4e-4f39-9a55-1c2d3e4f5a62',
      'never-matches',
    ]);
    expect(rules.find((r) => r.id === 'never-matches')?.errors.map((e) => e.code)).toEqual(['unsatisfiable']);
    expect(body.indicators).toMatchObject({ total: 1 });
  });

  it('processes every other event, blames each failure on its own index, and bounds alerts', async () => {
    const { status, body, bytes } = await client.post('/events', LINES.join('\n'), auth('poisoned'));
    expect(status).toBe(202);
    expect(bytes).toBeLessThan(64 * 1024);
    expect((body.rejections as { index: number }[]).map((r) => r.index)).toEqual([0, 1]);
    expect(body.accepted).toBe(LINES.length - 2);
    const errors = body.errorEvents as { index: number; code: string; ruleId?: string }[];
    expect(errors).toContainEqual(
      expect.objectContaining({ index: 8, code: 'future-event', ruleId: 'staged-sequence' }),
    );
    expect(errors.filter((e) => e.index !== 8)).toEqual([]);
    expect(body.valuesCut).toBeGreaterThanOrEqual(1);

    // 1 (long key) + 10 of the billion (the cap per rule and event) + 1 (padded) + 1 (after the
    // future event) + 1 (marker in reach) + 1 (indicator).
    expect(body.alerts).toBe(15);
    const alerts = await client.alertsFor('poisoned', 15);
    const byRule = (id: string): AlertDocument[] => alerts.filter((a) => a.ruleId === id);
    expect(byRule('marker-in-command-line')).toHaveLength(1);
    expect(byRule('indicator--0b6c2a10-7d4e-4f39-9a55-1c2d3e4f5a61')).toHaveLength(1);
    const sequences = byRule('staged-sequence');
    expect(sequences).toHaveLength(13);
    expect(sequences.filter((a) => a.groupKey.includes('長'))).toHaveLength(1);
    expect(sequences.filter((a) => a.groupKey.includes('future'))).toHaveLength(1);
    const flood = sequences.filter((a) => a.groupKey.includes('flood'));
    expect(flood).toHaveLength(10);
    // The other 999,999,989 matches are counted on one alert, not raised.
    const summarised = flood.map((a) => (a as unknown as { additionalMatches?: number }).additionalMatches ?? 0);
    expect(summarised.reduce((a, b) => a + b, 0)).toBe(999_999_989);
    for (const alert of alerts) expect(Buffer.byteLength(JSON.stringify(alert))).toBeLessThan(256 * 1024);
    const padded = sequences.find((a) => a.groupKey.includes('padded'));
    expect(JSON.stringify(padded?.objects)).toContain('truncated by stixflow');
  });

  it('raises nothing new when the same batch is delivered again', async () => {
    const { status, body } = await client.post('/events', LINES.join('\n'), auth('poisoned'));
    expect(status).toBe(202);
    expect(body.alerts).toBe(0);
    await client.alertsFor('poisoned', 0);
  });
});
