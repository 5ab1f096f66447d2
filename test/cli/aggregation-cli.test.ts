/**
 * Aggregation rules through `stixflow run`, `stixflow state`, `stixflow test` and `stixflow
 * check`, on real-shaped data (test/fixtures/aggregation): password spraying from Windows 4625
 * events and from Okta sign-in failures, many failed logons from one source, a first-seen process
 * name per host from 4688 events, and bytes out per host from VPC flow records (a threshold, and
 * an outlier against the host's hourly baseline).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const FIXTURES = 'test/fixtures/aggregation';

interface AlertLine {
  ruleId: string;
  groupKey: string;
  id: string;
  severity: string;
  observedDataIds: string[];
  objects: { type: string }[];
  aggregate: Record<string, unknown> & { window?: { start: string } };
}

async function alertsOf(rules: string[], events: string[], extra: string[] = []): Promise<AlertLine[]> {
  const { code, out, err } = await runCli(['run', ...rules.flatMap((r) => ['--rules', r]), ...extra, ...events]);
  expect(err.split('\n').filter((l) => l.includes('error'))).toEqual([]);
  expect(code).toBe(0);
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AlertLine);
}

const dir = mkdtempSync(join(tmpdir(), 'stixflow-agg-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('stixflow run with aggregation rules', () => {
  it('finds password spraying in Windows 4625 events, and not the brute force on one account', async () => {
    const alerts = await alertsOf(
      [`${FIXTURES}/password-spraying.rules.yaml`],
      [`${FIXTURES}/windows-4625-spray.ndjson`],
    );
    const spraying = alerts.filter((a) => a.ruleId === 'windows-password-spraying');
    // 12 users from 203.0.113.50 between 09:00:00 and 09:05:30; the 10-minute windows that start
    // every 5 minutes and hold 10 of them: 08:55 (09:00–09:04:30) and 09:00.
    expect(spraying.map((a) => [a.groupKey, a.aggregate.window?.start])).toEqual([
      ['["203.0.113.50"]', '2024-03-04T08:55:00Z'],
      ['["203.0.113.50"]', '2024-03-04T09:00:00Z'],
    ]);
    expect(spraying[0]?.aggregate).toMatchObject({
      kind: 'distinct_count',
      value: 10,
      condition: '>= 10',
      distinct: { count: 10, estimated: false },
    });
    expect((spraying[0]?.aggregate.distinct as { sample: string[] }).sample.slice(0, 3)).toEqual([
      'user01',
      'user02',
      'user03',
    ]);
    expect(spraying[0]?.objects.map((o) => o.type)).toContain('x-oca-event');
  });

  it('counts failed logons per source with a threshold: both sources', async () => {
    const alerts = await alertsOf(
      [`${FIXTURES}/failures-threshold.rules.yaml`],
      [`${FIXTURES}/windows-4625-spray.ndjson`],
    );
    expect(alerts.map((a) => [a.groupKey, a.aggregate.value, a.aggregate.window?.start]).sort()).toEqual([
      ['["198.51.100.7"]', 11, '2024-03-04T09:00:00Z'],
      ['["203.0.113.50"]', 11, '2024-03-04T09:00:00Z'],
    ]);
  });

  it('finds password spraying in Okta sign-in failures, past the exact bound with a sketch', async () => {
    const alerts = await alertsOf([`${FIXTURES}/password-spraying.rules.yaml`], [`${FIXTURES}/okta-spray.json`]);
    expect(alerts.map((a) => [a.ruleId, a.groupKey])).toEqual([
      ['okta-password-spraying', '["198.51.100.200"]'],
      ['okta-password-spraying', '["198.51.100.200"]'],
    ]);
    expect(alerts[0]?.aggregate.distinct).toMatchObject({ count: 8, estimated: true, relativeError: 0.0325 });
  });

  it('raises a first-seen process per host after learning, not for a host with too little history', async () => {
    const alerts = await alertsOf(
      [`${FIXTURES}/first-seen-process.rules.yaml`],
      [`${FIXTURES}/windows-4688-processes.ndjson`],
    );
    expect(alerts.map((a) => [a.groupKey, a.aggregate.term])).toEqual([['["fin-ws-01.corp.example"]', 'm64.exe']]);
    expect(alerts[0]?.aggregate).toMatchObject({
      kind: 'new_terms',
      firstSeen: '2024-03-03T21:17:00Z',
      history: { seconds: 14 * 86_400, groupSince: '2024-03-01T08:00:00Z', knownTerms: 6 },
    });
    expect((alerts[0]?.aggregate.history as { recentTerms: string[] }).recentTerms).toContain('mmc.exe');
  });

  it('sums bytes out per host from VPC flow records', async () => {
    const alerts = await alertsOf([`${FIXTURES}/egress-bytes.rules.yaml`], [`${FIXTURES}/vpcflow-egress.log`]);
    expect(alerts.map((a) => [a.groupKey, a.aggregate.value, a.aggregate.events])).toEqual([
      ['["10.1.2.3"]', 1_200_000_000, 6],
    ]);
    expect(alerts[0]?.observedDataIds).toHaveLength(6);
  });

  it('finds a byte-count outlier per host in hourly VPC flow records, and not on a steady host', async () => {
    const alerts = await alertsOf([`${FIXTURES}/egress-outliers.rules.yaml`], [`${FIXTURES}/vpcflow-hourly.log`]);
    expect(alerts.map((a) => [a.groupKey, (a.aggregate.bucket as { start: string }).start])).toEqual([
      ['["10.1.2.3"]', '2024-06-03T06:00:00Z'],
    ]);
    expect(alerts[0]?.aggregate).toMatchObject({
      kind: 'outliers',
      measure: 'sum',
      events: 6,
      baseline: { buckets: 24 },
    });
    expect(alerts[0]?.aggregate.value).toBeGreaterThan(900_000_000);
  });

  it('raises each alert once when every event is delivered twice, in batches of one', async () => {
    const twice = join(dir, 'twice.ndjson');
    const text = (await import('node:fs')).readFileSync(`${FIXTURES}/windows-4625-spray.ndjson`, 'utf8');
    writeFileSync(twice, text + text);
    const once = await alertsOf(
      [`${FIXTURES}/password-spraying.rules.yaml`],
      [`${FIXTURES}/windows-4625-spray.ndjson`],
    );
    const again = await alertsOf([`${FIXTURES}/password-spraying.rules.yaml`], [twice], ['--batch-size', '1']);
    expect(again.map((a) => a.id).sort()).toEqual(once.map((a) => a.id).sort());
  });

  it('suppresses, filters and scopes aggregation rules like any rule', async () => {
    const rules = join(dir, 'gated.yaml');
    writeFileSync(
      rules,
      `- id: spray-suppressed
  name: spray
  severity: high
  kind: distinct_count
  select: "[x-oca-event:code = '4625']"
  group_by: x-oca-event:network_ref.src_ref.value
  distinct: x-oca-event:x_target_user_ref.account_login
  window: 10m
  hop: 5m
  condition: 10
  suppress: 1h
- id: spray-filtered
  name: spray
  severity: high
  kind: distinct_count
  select: "[x-oca-event:code = '4625']"
  group_by: x-oca-event:network_ref.src_ref.value
  distinct: x-oca-event:x_target_user_ref.account_login
  window: 10m
  condition: 10
  filters:
    - { pattern: "[ipv4-addr:value = '203.0.113.50']", reason: the red team's scanner }
- id: spray-other-tenant
  name: spray
  severity: high
  kind: distinct_count
  select: "[x-oca-event:code = '4625']"
  distinct: x-oca-event:x_target_user_ref.account_login
  window: 10m
  condition: 2
  scope: { tenants: [other] }
`,
    );
    const alerts = await alertsOf([rules], [`${FIXTURES}/windows-4625-spray.ndjson`]);
    expect(alerts.map((a) => a.ruleId)).toEqual(['spray-suppressed']);
  });
});

describe('stixflow state, test and check with aggregation rules', () => {
  it('explains a group: its window slots and open windows', async () => {
    const { code, out } = await runCli([
      'state',
      '--rules',
      `${FIXTURES}/password-spraying.rules.yaml`,
      '--rule',
      'windows-password-spraying',
      `${FIXTURES}/windows-4625-spray.ndjson`,
    ]);
    expect(code).toBe(0);
    expect(out).toContain('203.0.113.50');
    expect(out).toContain('slots');
  });

  it('runs written tests of an aggregation rule, and skips generated checks it cannot have', async () => {
    const rules = join(dir, 'tested.yaml');
    const failure = (i: number, user: string): string =>
      `          - { event_type: logon_failed, username: ${user}, host: dc-1, timestamp: "2026-01-01T10:00:0${i}Z", event_id: f${i}${user} }`;
    writeFileSync(
      rules,
      `- id: tested
  name: tested
  severity: low
  kind: distinct_count
  select: "[x-oca-asset:hostname = 'dc-1']"
  distinct: user-account:account_login
  window: 1m
  condition: 3
  tests:
    - name: three users alert in both windows holding them
      events:
${[failure(1, 'u1'), failure(2, 'u2'), failure(3, 'u3')].join('\n')}
      alerts: 2
    - name: one user three times is quiet
      events:
${[failure(1, 'u1'), failure(2, 'u1'), failure(3, 'u1')].join('\n')}
      expect: no-alert
- id: untested
  name: untested
  severity: low
  kind: threshold
  select: "[x-oca-asset:hostname = 'dc-1']"
  window: 1m
  condition: 3
`,
    );
    const { code, out } = await runCli(['test', rules]);
    expect(out).toContain('2 passed, 0 failed, 1 skipped');
    expect(out).toContain('checked by its written tests');
    expect(code).toBe(0);
  });

  it('reports a bad aggregation rule at its field and loads the others', async () => {
    const rules = join(dir, 'bad.yaml');
    writeFileSync(
      rules,
      `- id: no-window
  name: x
  severity: low
  kind: threshold
  select: "[x-auth:src = 'a']"
  condition: 3
- id: bad-path
  name: x
  severity: low
  kind: distinct_count
  select: "[x-auth:src = 'a']"
  distinct: "not a path"
  window: 1m
  condition: 3
- id: good
  name: x
  severity: low
  kind: new_terms
  select: "[x-auth:src = 'a']"
  terms: x-auth:user
  history: 1d
`,
    );
    const { code, out, err } = await runCli(['validate', rules]);
    const text = out + err;
    expect(text).toMatch(/bad\.yaml:1:\d+: error \[aggregation-field\].*needs 'window'/);
    expect(text).toMatch(/bad\.yaml:12:\d+: error \[bad-aggregation-path\]/);
    expect(text).toMatch(/loaded \(0 indicators\), 2 with errors/);
    expect(code).toBe(1);
  });
});
