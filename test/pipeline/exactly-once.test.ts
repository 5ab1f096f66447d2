/**
 * Exactly-once (#11.2 and the delivery acceptance of #11): every event delivered twice, or
 * more often, in whatever batches, yields exactly the alerts of delivering it once, for
 * stateless, stateful and indicator rules, with the same rule-health counters. Driven through
 * the Detector (normaliser, engine, ledger, gate, queue, counters) on the in-memory stores, with
 * a queue that does not deduplicate (dedupe window 0), so a duplicate send would show.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AlertDocument } from '../../src/engine/alert.js';
import { Detector } from '../../src/pipeline/detector.js';
import { InMemoryQueue } from '../../src/queue/memory-queue.js';
import type { MessageSink } from '../../src/queue/types.js';
import { loadRules } from '../../src/rules/load.js';
import { COUNTER_NAMES, InMemoryCounterStore, type CounterValues } from '../../src/state/counters.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { Prng } from '../../src/generate/prng.js';
import { Clock, stixEvent, uuid } from '../rules/helpers.js';

const RULES_YAML = `
rules:
  - id: shell
    name: Shell
    severity: high
    pattern: "[process:name = 'bash']"
    group_by: process:x_host_id
    filters: ["[process:command_line = 'bash /opt/backup.sh']"]
  - id: shell-once-per-host
    name: Shell, suppressed
    severity: low
    pattern: "[process:name = 'bash']"
    group_by: process:x_host_id
    suppress: 10m
  - id: curl-limited
    name: Curl, rate-limited
    severity: low
    pattern: "[process:name = 'curl']"
    rate_limit: { max_alerts: 2, period: 1h, throttle_for: 1h }
  - id: word-then-shell
    name: Word then PowerShell
    severity: critical
    pattern: "([process:name = 'winword.exe'] FOLLOWEDBY [process:name = 'powershell.exe']) WITHIN 120 SECONDS"
    group_by: process:x_host_id
    filters: ["[process:x_user = 'svc-build']"]
  - id: three-logons
    name: Three failed logons
    severity: medium
    pattern: "[process:name = 'logon-failed'] REPEATS 3 TIMES WITHIN 60 SECONDS"
    group_by: process:x_host_id
`;

const INDICATOR_BUNDLE = {
  type: 'bundle',
  id: `bundle--${uuid(0xb0)}`,
  objects: [
    {
      type: 'indicator',
      spec_version: '2.1',
      id: `indicator--${uuid(0xa1)}`,
      created: '2025-01-01T00:00:00.000Z',
      modified: '2025-01-01T00:00:00.000Z',
      name: 'Evil tool',
      pattern_type: 'stix',
      pattern: "[process:name = 'evil.exe']",
      valid_from: '2025-01-01T00:00:00Z',
    },
  ],
};

const loaded = loadRules([
  { file: 'rules.yaml', text: RULES_YAML },
  { file: 'intel.json', text: JSON.stringify(INDICATOR_BUNDLE) },
]);
const RULE_IDS = [...loaded.rules.map((r) => r.id), `indicator--${uuid(0xa1)}`];

const NAMES = [
  'bash',
  'bash',
  'curl',
  'winword.exe',
  'powershell.exe',
  'logon-failed',
  'logon-failed',
  'evil.exe',
  'ls',
  'sshd',
];
const HOSTS = ['web-1', 'web-2', 'db-1'];

/** A seeded stream of events, one second apart (all within the allowed lateness), some muted by filters. */
function stream(seed: number, count: number): Record<string, unknown>[] {
  const prng = new Prng(seed);
  return Array.from({ length: count }, (_, i) => {
    const name = prng.pick(NAMES);
    const time = new Date(Date.UTC(2026, 0, 1, 10) + i * 1000).toISOString().replace('.000Z', 'Z');
    const process: Record<string, unknown> = { name, x_host_id: prng.pick(HOSTS) };
    if (name === 'bash' && prng.chance(0.2)) process.command_line = 'bash /opt/backup.sh';
    if (name === 'winword.exe' && prng.chance(0.2)) process.x_user = 'svc-build';
    return stixEvent({ n: seed * 10_000 + i, time, process });
  });
}

interface Run {
  alerts: AlertDocument[];
  counters: Record<string, CounterValues>;
  suppressed: number;
  throttled: number;
}

/** A sink that refuses, once, every message whose id it has not refused before: each batch's first send fails. */
class FailingFirstSink implements MessageSink {
  private readonly refused = new Set<string>();
  constructor(private readonly queue: InMemoryQueue) {}
  async send(messages: { id: string; body: string }[]): ReturnType<MessageSink['send']> {
    const fresh = messages.filter((m) => !this.refused.has(m.id));
    if (fresh.length > 0) {
      for (const m of fresh) this.refused.add(m.id);
      return { sent: [], failed: messages.map((m) => ({ id: m.id, reason: 'ServiceUnavailable: try again' })) };
    }
    return this.queue.send(messages);
  }
}

/**
 * Runs the batches through one Detector; with `flaky`, every batch's first send fails and the
 * batch is retried, as a queue redelivers a failed message.
 */
async function run(batches: unknown[][], options: { flaky?: boolean } = {}): Promise<Run> {
  const clock = new Clock(Date.parse('2026-01-01T12:00:00Z'));
  const store = new InMemoryStateStore({ now: clock.now });
  const queue = new InMemoryQueue({ now: clock.now, dedupeWindowMs: 0 });
  const counters = new InMemoryCounterStore();
  const sink = options.flaky ? new FailingFirstSink(queue) : queue;
  const detector = new Detector({
    rules: loaded.rules,
    indicators: loaded.indicators,
    store,
    sink,
    counters,
    now: clock.now,
  });
  let suppressed = 0;
  let throttled = 0;
  for (const batch of batches) {
    for (let attempt = 0; ; attempt++) {
      const result = await detector.process(batch);
      expect(result.errors).toEqual([]);
      suppressed += result.suppressed;
      throttled += result.throttled;
      if (result.undelivered.length === 0) break;
      expect(attempt).toBeLessThan(3);
    }
  }
  const alerts: AlertDocument[] = [];
  for (let received = await queue.receive(100, 0); received.length > 0; received = await queue.receive(100, 0)) {
    alerts.push(...received.map((m) => JSON.parse(m.body) as AlertDocument));
    await queue.ack(received);
  }
  const day = new Date(clock.ms).toISOString().slice(0, 10);
  const read = await counters.read('default', RULE_IDS, [day]);
  const byRule: Record<string, CounterValues> = {};
  for (const id of RULE_IDS) byRule[id] = read.get(id)?.get(day) as CounterValues;
  return { alerts, counters: byRule, suppressed, throttled };
}

const ids = (r: Run): string[] => r.alerts.map((a) => a.id).sort();
const inBatches = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

describe('exactly-once delivery through the Detector', () => {
  const events = stream(7, 120);

  it('the reference run exercises every rule kind and every counter', async () => {
    const once = await run(inBatches(events, 1));
    const kinds = new Set(once.alerts.map((a) => a.ruleId));
    for (const id of RULE_IDS) expect(kinds, id).toContain(id);
    expect(once.alerts.some((a) => a.category === 'rate-limited')).toBe(true);
    expect(new Set(ids(once)).size).toBe(once.alerts.length);
    const total = (name: (typeof COUNTER_NAMES)[number]): number =>
      Object.values(once.counters).reduce((n, c) => n + c[name], 0);
    for (const name of ['matches', 'alerts', 'filtered', 'suppressed'] as const)
      expect(total(name), name).toBeGreaterThan(0);
  });

  for (const size of [1, 7]) {
    describe(`in batches of ${size}`, () => {
      it('the whole stream delivered twice', async () => {
        const once = await run(inBatches(events, size));
        const twice = await run([...inBatches(events, size), ...inBatches(events, size)]);
        expect(ids(twice)).toEqual(ids(once));
        expect(twice.counters).toEqual(once.counters);
        expect([twice.suppressed, twice.throttled]).toEqual([once.suppressed, once.throttled]);
      });

      it('every batch delivered twice in a row, and every event twice within its batch', async () => {
        const once = await run(inBatches(events, size));
        const batchTwice = await run(inBatches(events, size).flatMap((b) => [b, b]));
        const eventTwice = await run(inBatches(events, size).map((b) => b.flatMap((e) => [e, e])));
        for (const again of [batchTwice, eventTwice]) {
          expect(ids(again)).toEqual(ids(once));
          expect(again.counters).toEqual(once.counters);
        }
      });

      it('every first send failing: the retried batches send each alert once, counted once', async () => {
        const once = await run(inBatches(events, size));
        const flaky = await run(inBatches(events, size), { flaky: true });
        expect(ids(flaky)).toEqual(ids(once));
        expect(flaky.counters).toEqual(once.counters);
        // The re-sent documents are the ones first raised, to the byte.
        const byId = (r: Run): AlertDocument[] => [...r.alerts].sort((a, b) => a.id.localeCompare(b.id));
        expect(byId(flaky)).toEqual(byId(once));
      });
    });
  }

  it('a late event delivered again is counted late once', async () => {
    const time = (s: number): string =>
      new Date(Date.UTC(2026, 0, 1, 10) + s * 1000).toISOString().replace('.000Z', 'Z');
    const word = stixEvent({ n: 1, time: time(0), process: { name: 'winword.exe', x_host_id: 'web-1' } });
    // 400 s on: the first event is still held (window 120 s + lateness 300 s), one at 50 s is late.
    const newer = stixEvent({ n: 2, time: time(400), process: { name: 'winword.exe', x_host_id: 'web-1' } });
    const late = stixEvent({ n: 3, time: time(50), process: { name: 'powershell.exe', x_host_id: 'web-1' } });
    const once = await run([[word], [newer], [late]]);
    expect(once.counters['word-then-shell']).toMatchObject({ late: 1, matches: 2 });
    const again = await run([[word], [newer], [late], [late], [word, newer, late]]);
    expect(again.counters).toEqual(once.counters);
  });

  it('property (fast-check, seeded): any schedule of redeliveries and batch boundaries gives the alerts and counters of one delivery', async () => {
    const events = stream(11, 60);
    const once = await run(inBatches(events, 1));
    await fc.assert(
      fc.asyncProperty(
        // For each event: how many extra deliveries, and how far after the original each comes.
        fc.array(fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 2 }), {
          minLength: events.length,
          maxLength: events.length,
        }),
        fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 20 }),
        async (extra, sizes) => {
          const slots: { at: number; order: number; event: unknown }[] = [];
          events.forEach((event, i) => {
            slots.push({ at: i, order: 0, event });
            (extra[i] ?? []).forEach((delay, k) => slots.push({ at: i + delay, order: k + 1, event }));
          });
          slots.sort((a, b) => a.at - b.at || a.order - b.order);
          const schedule = slots.map((s) => s.event);
          const batches: unknown[][] = [];
          for (let start = 0, s = 0; start < schedule.length; s++) {
            const size = sizes[s % sizes.length] as number;
            batches.push(schedule.slice(start, start + size));
            start += size;
          }
          const redelivered = await run(batches);
          expect(ids(redelivered)).toEqual(ids(once));
          expect(redelivered.counters).toEqual(once.counters);
        },
      ),
      { seed: 20260111, numRuns: 25 },
    );
  });
});
