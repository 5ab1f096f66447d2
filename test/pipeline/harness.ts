/** A Detector wired to in-memory parts (state, queue, counters) and a settable clock, for the rule behaviour tests. */
import { Detector, type DetectorOptions } from '../../src/pipeline/detector.js';
import type { Rule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { InMemoryQueue } from '../../src/queue/memory-queue.js';
import { InMemoryCounterStore, type CounterValues } from '../../src/state/counters.js';
import type { AlertDocument } from '../../src/engine/alert.js';
import { Clock } from '../rules/helpers.js';

export interface Harness {
  detector: Detector;
  store: InMemoryStateStore;
  queue: InMemoryQueue;
  counters: InMemoryCounterStore;
  clock: Clock;
  /** Every alert document the sink holds, in send order (receives and acknowledges them). */
  drain(): Promise<AlertDocument[]>;
  /** Counters of one rule for the clock's UTC day. */
  countersOf(ruleId: string, tenant?: string): Promise<CounterValues>;
}

export function harness(
  rules: Rule[],
  start = '2026-01-01T12:00:00Z',
  extra: Partial<Pick<DetectorOptions, 'indicators'>> = {},
): Harness {
  const clock = new Clock(Date.parse(start));
  const store = new InMemoryStateStore({ now: clock.now });
  const queue = new InMemoryQueue({ now: clock.now, dedupeWindowMs: 0 });
  const counters = new InMemoryCounterStore();
  const detector = new Detector({ ...extra, rules, store, sink: queue, counters, now: clock.now });
  return {
    detector,
    store,
    queue,
    counters,
    clock,
    async drain() {
      const out: AlertDocument[] = [];
      for (;;) {
        const batch = await queue.receive(10, 0);
        if (batch.length === 0) return out;
        out.push(...batch.map((m) => JSON.parse(m.body) as AlertDocument));
        await queue.ack(batch);
      }
    },
    async countersOf(ruleId, tenant = 'default') {
      const day = new Date(clock.ms).toISOString().slice(0, 10);
      const read = await counters.read(tenant, [ruleId], [day]);
      const values = read.get(ruleId)?.get(day);
      if (!values) throw new Error(`no counters for ${ruleId}`);
      return values;
    },
  };
}
