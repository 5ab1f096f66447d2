/**
 * Sigma correlation rules through `stixflow run`, `validate` and `sigma convert`: event_count,
 * value_count, temporal and temporal_ordered over Sysmon process events (evtx-dump shape) of
 * three users, with the referenced rules in another file; `generate`; redelivery (every event
 * twice, batches of one) and out-of-order arrival within the lateness raise the same alerts.
 * Rules: test/fixtures/sigma-correlations/rules/ (events are written here).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { EVENTS } from './sigma-correlation-events.js';

const RULES = 'test/fixtures/sigma-correlations/rules';
const BASE = `${RULES}/base-rules.yml`;
const EVENT_COUNT = '7a1c0d2e-2222-4c3f-8e21-000000000001';
const VALUE_COUNT = '7a1c0d2e-2222-4c3f-8e21-000000000002';
const TEMPORAL = '7a1c0d2e-2222-4c3f-8e21-000000000003';
const TEMPORAL_ORDERED = '7a1c0d2e-2222-4c3f-8e21-000000000004';
const WHOAMI_RULE = '7a1c0d2e-1111-4c3f-8e21-000000000001';
const NET_RULE = '7a1c0d2e-1111-4c3f-8e21-000000000002';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-sigma-corr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (name: string, events: object[]): string => {
  const path = join(dir, name);
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return path;
};
const IN_ORDER = write('in-order.ndjson', EVENTS);

interface AlertLine {
  id: string;
  ruleId: string;
  groupKey: string;
}

async function alertsOf(rules: string[], events: string, extra: string[] = []): Promise<AlertLine[]> {
  const { code, out, err } = await runCli(['run', ...rules.flatMap((r) => ['--rules', r]), ...extra, events]);
  expect(err.split('\n').filter((l) => l.includes('error'))).toEqual([]);
  expect(code).toBe(0);
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AlertLine);
}

/** The users whose group raised alerts of a rule. */
const usersOf = (alerts: AlertLine[], ruleId: string): string[] =>
  [
    ...new Set(alerts.filter((a) => a.ruleId === ruleId).map((a) => (JSON.parse(a.groupKey) as string[])[0] as string)),
  ].sort();

describe('Sigma correlation rules', () => {
  it('event_count: three matching events of one user within 5 minutes, the base rules silent (generate: false)', async () => {
    const alerts = await alertsOf([BASE, `${RULES}/event-count.yml`], IN_ORDER);
    expect(alerts.length).toBeGreaterThan(0);
    expect(usersOf(alerts, EVENT_COUNT)).toEqual(['CORP\\ana']);
    expect(new Set(alerts.map((a) => a.ruleId))).toEqual(new Set([EVENT_COUNT]));
  });

  it('value_count: two distinct images per user within 5 minutes', async () => {
    const alerts = await alertsOf([BASE, `${RULES}/value-count.yml`], IN_ORDER);
    expect(usersOf(alerts, VALUE_COUNT)).toEqual(['CORP\\ana', 'CORP\\carol']);
    expect(new Set(alerts.map((a) => a.ruleId))).toEqual(new Set([VALUE_COUNT]));
  });

  it('temporal: both rules per user within a minute, in any order', async () => {
    const alerts = await alertsOf([BASE, `${RULES}/temporal.yml`], IN_ORDER);
    expect(usersOf(alerts, TEMPORAL)).toEqual(['CORP\\ana', 'CORP\\carol']);
  });

  it('temporal_ordered: whoami then net per user; generate: true keeps the base rules alerting', async () => {
    const alerts = await alertsOf([BASE, `${RULES}/temporal-ordered.yml`], IN_ORDER);
    expect(usersOf(alerts, TEMPORAL_ORDERED)).toEqual(['CORP\\ana']);
    expect(alerts.filter((a) => a.ruleId === WHOAMI_RULE)).toHaveLength(4);
    expect(alerts.filter((a) => a.ruleId === NET_RULE)).toHaveLength(3);
  });

  it('raises each alert once when every event is delivered twice, in batches of one', async () => {
    const once = await alertsOf([RULES], IN_ORDER);
    const twice = write('twice.ndjson', [...EVENTS, ...EVENTS]);
    const again = await alertsOf([RULES], twice, ['--batch-size', '1']);
    expect(once.length).toBeGreaterThan(0);
    expect(again.map((a) => a.id).sort()).toEqual(once.map((a) => a.id).sort());
    for (const rule of [EVENT_COUNT, VALUE_COUNT, TEMPORAL, TEMPORAL_ORDERED])
      expect(
        once.some((a) => a.ruleId === rule),
        rule,
      ).toBe(true);
  });

  it('raises the same alerts when the events arrive out of order within the lateness', async () => {
    const once = await alertsOf([RULES], IN_ORDER, ['--lateness', '1h']);
    const order = [6, 2, 4, 0, 5, 1, 3];
    const shuffled = write(
      'out-of-order.ndjson',
      order.map((i) => EVENTS[i] as object),
    );
    // The aggregations and FOLLOWEDBY raise the very same alerts; a temporal (AND) rule alerts
    // for the same groups as often, but its binding takes, of a side's buffered events, the one
    // that arrived first (docs/streaming.md): here ana's later whoami, so another alert id.
    const ids = (alerts: AlertLine[]) =>
      alerts
        .filter((a) => a.ruleId !== TEMPORAL)
        .map((a) => a.id)
        .sort();
    const temporal = (alerts: AlertLine[]) =>
      alerts
        .filter((a) => a.ruleId === TEMPORAL)
        .map((a) => a.groupKey)
        .sort();
    for (const extra of [[], ['--batch-size', '1']]) {
      const late = await alertsOf([RULES], shuffled, ['--lateness', '1h', ...extra]);
      expect(ids(late)).toEqual(ids(once));
      expect(temporal(late)).toEqual(temporal(once));
      expect(usersOf(late, TEMPORAL_ORDERED)).toEqual(['CORP\\ana']);
    }
  });

  it('stixflow test skips the generated checks of rules silenced by generate: false, and checks the rest', async () => {
    const silenced = await runCli(['test', BASE, `${RULES}/event-count.yml`]);
    expect(silenced.code).toBe(0);
    expect(silenced.out).toContain(`raises no alerts of its own: correlated by ${EVENT_COUNT} (generate: false)`);
    const all = await runCli(['test', RULES]);
    expect(all.code).toBe(0);
    expect(all.out).toMatch(
      /PASS 7a1c0d2e-2222-4c3f-8e21-000000000004 › near miss stays quiet: .*WITHIN 60 SECONDS exceeded/,
    );
  });

  it('sigma convert prints what each correlation compiles to', async () => {
    const { code, out } = await runCli(['sigma', 'convert', RULES]);
    expect(code).toBe(0);
    expect(out).toContain(
      `# correlation event_count of ${WHOAMI_RULE}, ${NET_RULE} → threshold group_by x-oca-event:process_ref.x_user window 300s (hop 150s) condition >= 3`,
    );
    expect(out).toContain(
      'distinct_count group_by x-oca-event:process_ref.x_user window 300s (hop 150s) condition >= 2 distinct x-oca-event:process_ref.image_ref.x_path',
    );
    expect(out).toMatch(
      /^\(\[x-oca-event:process_ref\.image_ref\.x_path LIKE '%\\\\whoami\.exe' AND .*\] FOLLOWEDBY \[.*net\.exe.*\]\) WITHIN 60 SECONDS$/m,
    );
    expect(out).toMatch(/^\(\[.*whoami\.exe.*\] AND \[.*net\.exe.*\]\) WITHIN 60 SECONDS$/m);
  });

  it('reports unknown rules, correlations of correlations and aliases it cannot group by, and runs the rest', async () => {
    const file = join(dir, 'bad-correlations.yml');
    writeFileSync(
      file,
      [
        'title: names nothing',
        'id: 7a1c0d2e-3333-4c3f-8e21-000000000001',
        'correlation:',
        '  type: temporal',
        '  rules:',
        '    - whoami_run',
        '    - nowhere_rule',
        '  timespan: 1m',
        '---',
        'title: a correlation of a correlation',
        'id: 7a1c0d2e-3333-4c3f-8e21-000000000002',
        'correlation:',
        '  type: event_count',
        `  rules: [${EVENT_COUNT}]`,
        '  timespan: 1h',
        '  condition: { gte: 2 }',
        '---',
        'title: aliases at two paths',
        'id: 7a1c0d2e-3333-4c3f-8e21-000000000003',
        'correlation:',
        '  type: temporal',
        '  rules: [whoami_run, net_run]',
        '  group-by: [actor]',
        '  aliases:',
        '    actor:',
        '      whoami_run: User',
        '      net_run: Computer',
        '  timespan: 1m',
        '---',
        'title: aliases at one path',
        'id: 7a1c0d2e-3333-4c3f-8e21-000000000004',
        'correlation:',
        '  type: temporal',
        '  rules: [whoami_run, net_run]',
        '  group-by: [actor]',
        '  aliases:',
        '    actor:',
        '      whoami_run: User',
        '      net_run: User',
        '  timespan: 1m',
        '',
      ].join('\n'),
    );
    const { code, out } = await runCli(['validate', BASE, `${RULES}/event-count.yml`, file]);
    expect(code).toBe(1);
    expect(out).toContain(
      `${file}:7:7: error [sigma-correlation-rule] \`nowhere_rule\` is no Sigma rule of the load (by id or name)`,
    );
    expect(out).toContain(
      `${file}:14:11: error [sigma-correlation-rule] \`${EVENT_COUNT}\` is a correlation rule; a correlation of correlations is not supported`,
    );
    expect(out).toMatch(
      /:23:14: error \[sigma-correlation-unsupported\] 'actor' is found at different paths \(x-oca-event:process_ref\.x_user, x-oca-event:host_ref\.hostname\)/,
    );
    const alerts = await alertsOf([BASE, file], IN_ORDER).catch(() => []);
    expect(alerts).toEqual([]);
    const run = await runCli(['run', '--rules', BASE, '--rules', file, IN_ORDER]);
    const raised = run.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as AlertLine);
    expect(usersOf(raised, '7a1c0d2e-3333-4c3f-8e21-000000000004')).toEqual(['CORP\\ana', 'CORP\\carol']);
  });
});
