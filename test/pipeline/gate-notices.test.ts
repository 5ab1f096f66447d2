/**
 * Rate-limit notices are at least once, and once (#11.4): the notice is committed with the
 * throttle (in the rate item's outbox) and sent again until it is delivered, however its send
 * failed. Through the Detector, with a sink that refuses the notice once, on the in-memory store
 * and on the DynamoDB store (dynalite).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertDocument } from '../../src/engine/alert.js';
import { ensureStateTable, startDynamo, type RunningDynamo } from '../../src/emulators/emulators.js';
import { Detector } from '../../src/pipeline/detector.js';
import { InMemoryQueue } from '../../src/queue/memory-queue.js';
import type { MessageSink, OutgoingMessage, SendResult } from '../../src/queue/types.js';
import { InMemoryCounterStore, type CounterValues } from '../../src/state/counters.js';
import { DynamoDbStateStore } from '../../src/state/dynamodb-store.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import type { StateStore } from '../../src/state/types.js';
import { Clock, rulesFrom, stixEvent } from '../rules/helpers.js';

let dynamo: RunningDynamo;
let tables = 0;
beforeAll(async () => {
  dynamo = await startDynamo();
});
afterAll(async () => {
  await dynamo?.stop();
});

const RULES = rulesFrom(`
rules:
  - id: noisy
    name: Noisy
    severity: low
    pattern: "[process:name = 'bash']"
    rate_limit: { max_alerts: 2, period: 10m, throttle_for: 30m }
  - id: pair
    name: Pair
    severity: low
    pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']"
    group_by: process:x_host_id
    rate_limit: { max_alerts: 1, period: 10m, throttle_for: 30m }
`);

const T = (s: number): string => new Date(Date.UTC(2026, 0, 1, 10) + s * 1000).toISOString().replace('.000Z', 'Z');
const bash = (n: number): Record<string, unknown> =>
  stixEvent({ n, time: T(n), process: { name: 'bash', x_host_id: 'web-1' } });
const proc = (n: number, name: string, host: string): Record<string, unknown> =>
  stixEvent({ n, time: T(n), process: { name, x_host_id: host } });

/** Refuses rate-limited notices (retryably, as a throttled SQS would) while `refusing` is above zero, counting down per send. */
class NoticeRefusingSink implements MessageSink {
  refusing = 0;
  constructor(readonly queue: InMemoryQueue) {}
  async send(messages: OutgoingMessage[]): Promise<SendResult> {
    const isNotice = (m: OutgoingMessage): boolean => (JSON.parse(m.body) as AlertDocument).category === 'rate-limited';
    if (this.refusing > 0 && messages.some(isNotice)) {
      this.refusing -= 1;
      const sent = await this.queue.send(messages.filter((m) => !isNotice(m)));
      return {
        sent: sent.sent,
        failed: [
          ...sent.failed,
          ...messages.filter(isNotice).map((m) => ({ id: m.id, reason: 'ThrottlingException: Rate exceeded' })),
        ],
      };
    }
    return this.queue.send(messages);
  }
}

type StoreFactory = (now: () => number) => Promise<StateStore>;
const stores: [string, StoreFactory][] = [
  ['in-memory store', async (now) => new InMemoryStateStore({ now })],
  [
    'DynamoDB store (dynalite)',
    async (now) => {
      const tableName = `gate-${++tables}`;
      await ensureStateTable(dynamo.client, tableName);
      return new DynamoDbStateStore({ client: dynamo.client, tableName, now });
    },
  ],
];

async function setup(factory: StoreFactory) {
  const clock = new Clock(Date.now());
  const store = await factory(clock.now);
  const queue = new InMemoryQueue({ now: clock.now, dedupeWindowMs: 0 });
  const sink = new NoticeRefusingSink(queue);
  const counters = new InMemoryCounterStore();
  const detector = new Detector({ rules: RULES, store, sink, counters, now: clock.now });
  const drain = async (): Promise<AlertDocument[]> => {
    const out: AlertDocument[] = [];
    for (let batch = await queue.receive(50, 0); batch.length > 0; batch = await queue.receive(50, 0)) {
      out.push(...batch.map((m) => JSON.parse(m.body) as AlertDocument));
      await queue.ack(batch);
    }
    return out;
  };
  const countersOf = async (ruleId: string): Promise<CounterValues> => {
    const day = new Date(clock.ms).toISOString().slice(0, 10);
    return (await counters.read('default', [ruleId], [day])).get(ruleId)?.get(day) as CounterValues;
  };
  return { clock, detector, sink, drain, countersOf };
}

const notices = (docs: AlertDocument[]): AlertDocument[] => docs.filter((d) => d.category === 'rate-limited');

for (const [name, factory] of stores) {
  describe(`rate-limit notices on the ${name}`, () => {
    it('a stateless rule: the notice whose send failed goes out on the retry, once, and the trigger stays throttled', async () => {
      const { detector, sink, drain, countersOf } = await setup(factory);
      await detector.process([bash(1), bash(2)]);
      sink.refusing = 1;
      const over = await detector.process([bash(3)]);
      expect(over.throttled).toBe(1);
      expect(over.undelivered).toEqual([
        { id: expect.stringMatching(/^alert--/), reason: expect.stringContaining('Throttling') },
      ]);
      expect(notices(await drain())).toEqual([]);

      // The input is retried (its message failed): the notice goes out now, the trigger stays throttled.
      const retry = await detector.process([bash(3)]);
      expect(retry.undelivered).toEqual([]);
      expect(retry.throttled).toBe(0);
      expect(retry.alerts.map((a) => a.id)).toEqual(over.undelivered.map((u) => u.id));
      const sent = await drain();
      expect(notices(sent).map((d) => d.id)).toEqual(over.undelivered.map((u) => u.id));
      expect(sent.filter((d) => d.category !== 'rate-limited')).toEqual([]);

      // Delivered and acknowledged: no further copy, whatever comes next.
      expect((await detector.process([bash(3)])).alerts).toEqual([]);
      const later = await detector.process([bash(4)]);
      expect(later.alerts).toEqual([]);
      expect(later.throttled).toBe(1);
      expect(await drain()).toEqual([]);
      expect(await countersOf('noisy')).toMatchObject({ matches: 4, alerts: 2, suppressed: 2 });
    });

    it('a stateful rule: the same, with the trigger held in its group outbox until the notice is out', async () => {
      const { detector, sink, drain, countersOf } = await setup(factory);
      await detector.process([proc(1, 'a', 'h1'), proc(2, 'b', 'h1')]);
      sink.refusing = 2;
      const input = [proc(3, 'a', 'h2'), proc(4, 'b', 'h2')];
      const over = await detector.process(input);
      expect(over.throttled).toBe(1);
      expect(over.undelivered).toHaveLength(1);
      // Two failed attempts, then the third delivers.
      expect((await detector.process(input)).undelivered).toHaveLength(1);
      const third = await detector.process(input);
      expect(third.undelivered).toEqual([]);
      const sent = await drain();
      expect(notices(sent).map((d) => d.id)).toEqual(over.undelivered.map((u) => u.id));
      expect(sent.filter((d) => d.category !== 'rate-limited').map((d) => d.groupKey)).toEqual(['["h1"]']);
      expect((await detector.process(input)).alerts).toEqual([]);
      expect(await drain()).toEqual([]);
      expect(await countersOf('pair')).toMatchObject({ matches: 4, alerts: 1, suppressed: 1 });
    });

    it('a notice whose input is never retried goes out with the next alert of its rule', async () => {
      const { detector, sink, drain } = await setup(factory);
      await detector.process([bash(1), bash(2)]);
      sink.refusing = 1;
      const over = await detector.process([bash(3)]);
      expect(over.undelivered).toHaveLength(1);
      const next = await detector.process([bash(5)]);
      expect(next.throttled).toBe(1);
      expect(next.alerts.map((a) => a.id)).toEqual(over.undelivered.map((u) => u.id));
      expect(notices(await drain())).toHaveLength(1);
      expect((await detector.process([bash(6)])).alerts).toEqual([]);
      expect(await drain()).toEqual([]);
    });
  });
}
