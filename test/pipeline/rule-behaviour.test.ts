import { describe, expect, it } from 'vitest';
import { Detector } from '../../src/pipeline/detector.js';
import { harness } from './harness.js';
import { observedDataId, rulesFrom, stixEvent } from '../rules/helpers.js';

const T = (clock: string): string => `2026-01-01T${clock}Z`;
const bash = (n: number, time: string, host = 'web-1', extra: Record<string, unknown> = {}): Record<string, unknown> =>
  stixEvent({ n, time: T(time), process: { name: 'bash', x_host_id: host, ...extra } });

describe('disabled rules', () => {
  it('raise nothing and count nothing', async () => {
    const rules = rulesFrom(`
rules:
  - { id: off, name: Off, severity: high, enabled: false, pattern: "[process:name = 'bash']" }
  - { id: on, name: On, severity: high, enabled: true, pattern: "[process:name = 'bash']" }
`);
    const h = harness(rules);
    const result = await h.detector.process([bash(1, '10:00:00'), bash(2, '10:00:01')]);
    expect(result.alerts.map((a) => a.ruleId)).toEqual(['on', 'on']);
    expect((await h.drain()).map((d) => d.ruleId)).toEqual(['on', 'on']);
    expect(await h.countersOf('off')).toMatchObject({ matches: 0, alerts: 0, filtered: 0, suppressed: 0 });
    expect(await h.countersOf('on')).toMatchObject({ matches: 2, alerts: 2 });
  });
});

describe('filters', () => {
  const rules = rulesFrom(`
id: shell
name: Shell
severity: high
pattern: "[process:name = 'bash']"
filters:
  - "[process:command_line = 'bash /opt/backup.sh']"
  - pattern: "[process:x_user = 'deploy']"
    reason: deployments run shells
    expires: "2026-01-01T11:00:00Z"
`);

  it('mute matching events and count them as filtered', async () => {
    const h = harness(rules, '2026-01-01T10:30:00Z');
    const result = await h.detector.process([
      bash(1, '10:00:00', 'web-1', { command_line: 'bash /opt/backup.sh' }),
      bash(2, '10:00:01', 'web-1', { x_user: 'deploy' }),
      bash(3, '10:00:02', 'web-1', { command_line: 'bash -i', x_user: 'www-data' }),
    ]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[observedDataId(3)]]);
    expect(result.filtered).toBe(2);
    expect((await h.drain()).map((d) => d.sighting.observed_data_refs)).toEqual([[observedDataId(3)]]);
    expect(await h.countersOf('shell')).toMatchObject({ filtered: 2, alerts: 1, matches: 1, suppressed: 0 });
  });

  it('a filter past its expires no longer mutes (the other filters still do)', async () => {
    const h = harness(rules, '2026-01-01T11:00:00Z');
    const result = await h.detector.process([
      bash(1, '10:00:00', 'web-1', { command_line: 'bash /opt/backup.sh' }),
      bash(2, '10:00:01', 'web-1', { x_user: 'deploy' }),
    ]);
    expect(result.alerts.map((a) => a.observedDataIds)).toEqual([[observedDataId(2)]]);
    expect(result.filtered).toBe(1);
    expect(await h.countersOf('shell')).toMatchObject({ filtered: 1, alerts: 1 });
  });

  it('an event matching only the filter is neither a match nor filtered', async () => {
    const h = harness(rules, '2026-01-01T10:30:00Z');
    const result = await h.detector.process([
      stixEvent({ n: 1, time: T('10:00:00'), process: { name: 'sh', command_line: 'bash /opt/backup.sh' } }),
    ]);
    expect(result.alerts).toEqual([]);
    expect(result.filtered).toBe(0);
    expect(await h.countersOf('shell')).toMatchObject({ filtered: 0, matches: 0 });
  });
});

describe('suppression', () => {
  const rules = rulesFrom(`
id: shell
name: Shell
severity: high
pattern: "[process:name = 'bash']"
group_by: process:x_host_id
suppress: 10m
`);

  it('suppresses a second alert for the same rule and group within the period, by event time', async () => {
    const h = harness(rules);
    const first = await h.detector.process([bash(1, '10:00:00', 'web-1')]);
    expect(first.alerts.map((a) => [a.groupKey, a.observedDataIds])).toEqual([['["web-1"]', [observedDataId(1)]]]);

    const second = await h.detector.process([bash(2, '10:05:00', 'web-1')]);
    expect(second.alerts).toEqual([]);
    expect(second.suppressed).toBe(1);

    // Another group is not suppressed.
    const other = await h.detector.process([bash(3, '10:05:00', 'web-2')]);
    expect(other.alerts.map((a) => a.groupKey)).toEqual(['["web-2"]']);
    expect(other.suppressed).toBe(0);

    // Wall-clock time passing does not end the window: event time does.
    h.clock.advance(3600);
    const stillInside = await h.detector.process([bash(4, '10:09:59', 'web-1')]);
    expect(stillInside.alerts).toEqual([]);
    expect(stillInside.suppressed).toBe(1);

    const after = await h.detector.process([bash(5, '10:10:01', 'web-1')]);
    expect(after.alerts.map((a) => a.observedDataIds)).toEqual([[observedDataId(5)]]);
    expect(after.suppressed).toBe(0);

    expect((await h.drain()).map((d) => d.sighting.observed_data_refs[0])).toEqual([
      observedDataId(1),
      observedDataId(3),
      observedDataId(5),
    ]);
    expect(await h.countersOf('shell')).toMatchObject({ matches: 5, alerts: 3, suppressed: 2 });
  });

  it('suppresses within one batch too, keeping the earliest event', async () => {
    const h = harness(rules);
    const result = await h.detector.process([
      bash(2, '10:01:00', 'web-1'),
      bash(1, '10:00:00', 'web-1'),
      bash(3, '10:00:30', 'web-2'),
    ]);
    expect(result.alerts.map((a) => a.observedDataIds[0]).sort()).toEqual([observedDataId(1), observedDataId(3)]);
    expect(result.suppressed).toBe(1);
  });

  it('orders a batch by event time, also when timestamps carry fractions of a second', async () => {
    const h = harness(rules);
    // 10:00:05Z is earlier than 10:00:05.5Z, though it sorts after it as a string.
    const result = await h.detector.process([bash(2, '10:00:05.5', 'web-1'), bash(1, '10:00:05', 'web-1')]);
    expect(result.suppressed).toBe(1);
    expect(result.alerts.map((a) => a.observedDataIds[0])).toEqual([observedDataId(1)]);
    // The window is 10 minutes from the first event: 10:10:05.2 is past it.
    const later = await h.detector.process([bash(3, '10:10:05.2', 'web-1')]);
    expect(later.suppressed).toBe(0);
    expect(later.alerts.map((a) => a.observedDataIds[0])).toEqual([observedDataId(3)]);
  });

  it('does not suppress a re-send of the alert that opened the window; a redelivery after delivery is a duplicate (#11.2)', async () => {
    const h = harness(rules);
    // A sink whose sends fail while `down` is set, as SQS may: the alert stays pending.
    let down = true;
    const flaky = new Detector({
      rules,
      store: h.store,
      counters: h.counters,
      now: h.clock.now,
      sink: {
        send: async (messages) =>
          down
            ? { sent: [], failed: messages.map((m) => ({ id: m.id, reason: 'unavailable' })) }
            : h.queue.send(messages),
      },
    });
    const first = await flaky.process([bash(1, '10:00:00', 'web-1')]);
    expect(first.undelivered).toHaveLength(1);
    down = false;
    const again = await flaky.process([bash(1, '10:00:00', 'web-1')]);
    expect(again.suppressed).toBe(0);
    expect(again.alerts.map((a) => a.id)).toEqual(first.undelivered.map((u) => u.id));
    // Delivered now: one more redelivery raises nothing (it used to send the alert again).
    const duplicate = await flaky.process([bash(1, '10:00:00', 'web-1')]);
    expect(duplicate.alerts).toEqual([]);
    expect(duplicate.suppressed).toBe(0);
    // ...while a new alert in the window still is suppressed.
    const next = await flaky.process([bash(2, '10:00:10', 'web-1')]);
    expect(next.suppressed).toBe(1);
    expect(await h.countersOf('shell')).toMatchObject({ matches: 2, alerts: 1, suppressed: 1 });
  });
});

describe('rate limit', () => {
  const rules = rulesFrom(`
rules:
  - id: noisy
    name: Noisy
    severity: low
    pattern: "[process:name = 'bash']"
    rate_limit: { max_alerts: 3, period: 1m, throttle_for: 5m }
  - id: quiet
    name: Quiet
    severity: low
    pattern: "[process:name = 'bash']"
`);

  it('throttles a rule after more than max_alerts distinct alerts within the period, with one rate-limited notice', async () => {
    const h = harness(rules);
    const first = await h.detector.process([bash(1, '10:00:00'), bash(2, '10:00:01'), bash(3, '10:00:02')]);
    expect(first.alerts.filter((a) => a.ruleId === 'noisy')).toHaveLength(3);
    expect(first.throttled).toBe(0);

    h.clock.advance(10);
    const over = await h.detector.process([bash(4, '10:00:03'), bash(5, '10:00:04')]);
    const noisy = over.alerts.filter((a) => a.ruleId === 'noisy');
    expect(noisy).toHaveLength(1);
    expect(noisy[0]).toMatchObject({ category: 'rate-limited', severity: 'high', observedDataIds: [] });
    expect(over.throttled).toBe(2);
    // Other rules are not affected.
    expect(over.alerts.filter((a) => a.ruleId === 'quiet')).toHaveLength(2);

    // A redelivery of an alert delivered before is a duplicate: dropped, neither sent nor
    // throttled nor counted (#11.2; it used to be sent again).
    const resend = await h.detector.process([bash(1, '10:00:00')]);
    expect(resend.throttled).toBe(0);
    expect(resend.alerts).toEqual([]);

    // Still throttled: counted, no second notice.
    h.clock.advance(60);
    const during = await h.detector.process([bash(6, '10:01:00')]);
    expect(during.alerts.filter((a) => a.ruleId === 'noisy')).toEqual([]);
    expect(during.throttled).toBe(1);

    const documents = await h.drain();
    const notices = documents.filter((d) => d.category === 'rate-limited');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ ruleId: 'noisy', tags: ['stixflow:rate-limited'] });
    // The redelivery of event 1 is neither a new match nor a new alert.
    expect(await h.countersOf('noisy')).toMatchObject({ matches: 6, alerts: 3, suppressed: 3 });
    expect(await h.countersOf('quiet')).toMatchObject({ matches: 6, alerts: 6, suppressed: 0 });
  });

  it('sends a correlation alert again after its delivery failed, even once the rule is throttled, and counts it once', async () => {
    const pairRules = rulesFrom(`
rules:
  - id: pair
    name: Pair
    severity: low
    pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']"
    group_by: process:x_host_id
    rate_limit: { max_alerts: 2, period: 1m, throttle_for: 10m }
`);
    const proc = (n: number, time: string, name: string, host: string): Record<string, unknown> =>
      stixEvent({ n, time: T(time), process: { name, x_host_id: host } });
    const h = harness(pairRules);
    // A sink whose sends fail while `down` is set, as SQS may.
    let down = true;
    const flaky = new Detector({
      rules: pairRules,
      store: h.store,
      counters: h.counters,
      now: h.clock.now,
      sink: {
        send: async (messages) =>
          down
            ? { sent: [], failed: messages.map((m) => ({ id: m.id, reason: 'unavailable' })) }
            : h.queue.send(messages),
      },
    });
    const first = await flaky.process([proc(1, '10:00:00', 'a', 'h1'), proc(2, '10:00:01', 'b', 'h1')]);
    expect(first.undelivered).toHaveLength(1);
    down = false;

    // Two minutes on (the period has passed), two other hosts reach the limit and a third is throttled.
    h.clock.advance(120);
    const busy = await flaky.process(
      ['h2', 'h3', 'h4'].flatMap((host, i) => [
        proc(10 + 2 * i, '10:02:00', 'a', host),
        proc(11 + 2 * i, '10:02:01', 'b', host),
      ]),
    );
    expect(busy.throttled).toBe(1);

    // h1's group is touched again: its unsent alert goes out although the rule is throttled.
    h.clock.advance(30);
    const again = await flaky.process([proc(20, '10:02:30', 'a', 'h1')]);
    expect(again.throttled).toBe(0);
    expect(again.alerts.map((a) => a.observedDataIds)).toEqual([[observedDataId(1), observedDataId(2)]]);
    const sent = await h.drain();
    expect(sent.filter((d) => d.ruleId === 'pair' && d.category !== 'rate-limited').map((d) => d.groupKey)).toEqual([
      '["h2"]',
      '["h3"]',
      '["h1"]',
    ]);
    // Raised: h1, h2, h3 (h4 throttled); h1's second send is not a fourth alert.
    expect(await h.countersOf('pair')).toMatchObject({ alerts: 3, suppressed: 1 });
  });

  it('lets alerts flow again once the throttle has ended (by the wall clock)', async () => {
    const h = harness(rules);
    await h.detector.process([bash(1, '10:00:00'), bash(2, '10:00:01'), bash(3, '10:00:02'), bash(4, '10:00:03')]);
    h.clock.advance(299);
    const stillThrottled = await h.detector.process([bash(5, '10:00:04')]);
    expect(stillThrottled.throttled).toBe(1);
    h.clock.advance(2);
    const flowing = await h.detector.process([bash(6, '10:00:05'), bash(7, '10:00:06')]);
    expect(flowing.throttled).toBe(0);
    expect(flowing.alerts.filter((a) => a.ruleId === 'noisy').map((a) => a.observedDataIds[0])).toEqual([
      observedDataId(6),
      observedDataId(7),
    ]);
    expect(flowing.alerts.some((a) => a.category === 'rate-limited')).toBe(false);
    expect((await h.drain()).filter((d) => d.category === 'rate-limited')).toHaveLength(1);
  });
});

describe('scope', () => {
  const rules = rulesFrom(`
rules:
  - id: acme-only
    name: Acme only
    severity: low
    pattern: "[process:name = 'bash']"
    scope: { tenants: [acme, globex] }
  - id: web-hosts
    name: Web hosts
    severity: low
    pattern: "[process:name = 'bash']"
    scope: { hosts: [web-1, web-2] }
`);

  it('tenants: the rule applies to the listed tenants only', async () => {
    const h = harness(rules);
    const acme = await h.detector.process([bash(1, '10:00:00', 'db-1')], 'acme');
    expect(acme.alerts.map((a) => [a.ruleId, a.tenant])).toEqual([['acme-only', 'acme']]);
    const initech = await h.detector.process([bash(2, '10:00:00', 'db-1')], 'initech');
    expect(initech.alerts).toEqual([]);
    expect(await h.countersOf('acme-only', 'acme')).toMatchObject({ matches: 1, alerts: 1 });
    expect(await h.countersOf('acme-only', 'initech')).toMatchObject({ matches: 0, alerts: 0, filtered: 0 });
  });

  it('hosts: x_host_id or an asset hostname in the listed hosts; others and host-less events are out of scope', async () => {
    const h = harness(rules);
    const result = await h.detector.process([
      bash(1, '10:00:00', 'web-2'),
      bash(2, '10:00:00', 'db-1'),
      stixEvent({ n: 3, time: T('10:00:00'), process: { name: 'bash' }, assetHostname: 'web-1' }),
      stixEvent({ n: 4, time: T('10:00:00'), process: { name: 'bash' }, assetHostname: 'db-2' }),
      stixEvent({ n: 5, time: T('10:00:00'), process: { name: 'bash' } }),
    ]);
    expect(result.alerts.filter((a) => a.ruleId === 'web-hosts').map((a) => a.observedDataIds[0])).toEqual([
      observedDataId(1),
      observedDataId(3),
    ]);
    expect(result.filtered).toBe(0);
    expect(await h.countersOf('web-hosts')).toMatchObject({ matches: 2, alerts: 2, filtered: 0 });
  });
});

describe('alert documents on the sink', () => {
  it('are JSON alert documents with a STIX sighting of the rule', async () => {
    const rules = rulesFrom(`
id: doc-rule
name: Document rule
description: A rule to look at its alerts.
severity: critical
category: execution
tags: [t1]
pattern: "[process:name = 'bash']"
group_by: process:x_host_id
`);
    const h = harness(rules);
    const result = await h.detector.process([bash(1, '10:00:00', 'web-1')], 'acme');
    const [document, ...rest] = await h.drain();
    expect(rest).toEqual([]);
    expect(document).toMatchObject({
      schema: 'stixflow.alert/2',
      id: result.alerts[0]!.id,
      ruleId: 'doc-rule',
      ruleName: 'Document rule',
      title: 'Document rule',
      description: 'A rule to look at its alerts.',
      severity: 'critical',
      category: 'execution',
      tags: ['t1'],
      tenant: 'acme',
      groupKey: '["web-1"]',
      firstObserved: '2026-01-01T10:00:00Z',
      lastObserved: '2026-01-01T10:00:00Z',
      observedDataIds: [observedDataId(1)],
      created: '2026-01-01T12:00:00.000Z',
    });
    expect(document!.id).toMatch(/^alert--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(document!.objects).toEqual([expect.objectContaining({ type: 'process', name: 'bash', x_host_id: 'web-1' })]);
    const sighting = document!.sighting;
    expect(sighting).toMatchObject({
      type: 'sighting',
      spec_version: '2.1',
      count: 1,
      first_seen: '2026-01-01T10:00:00Z',
      last_seen: '2026-01-01T10:00:00Z',
      observed_data_refs: [observedDataId(1)],
      x_stixflow_alert_id: document!.id,
      description: 'Document rule',
    });
    expect(sighting.id).toMatch(/^sighting--[0-9a-f-]{36}$/);
    expect(sighting.sighting_of_ref).toMatch(
      /^indicator--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    // The same rule always stands for the same indicator.
    const again = harness(rules);
    await again.detector.process([bash(2, '11:00:00', 'web-9')]);
    expect((await again.drain())[0]!.sighting.sighting_of_ref).toBe(sighting.sighting_of_ref);
  });
});
