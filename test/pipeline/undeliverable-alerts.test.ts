/**
 * An alert the queue can never take (#11.17, delivery): reported as an error naming the alert,
 * the rule and the event, not as a retryable undelivered alert, and settled, so neither the
 * input nor the group's later events send it again and again.
 */
import { describe, expect, it } from 'vitest';
import { Detector } from '../../src/pipeline/detector.js';
import { InMemoryQueue } from '../../src/queue/memory-queue.js';
import { InMemoryCounterStore } from '../../src/state/counters.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { Clock, rulesFrom, stixEvent } from '../rules/helpers.js';

const RULES = rulesFrom(`
rules:
  - id: shell
    name: Shell
    severity: high
    pattern: "[process:name = 'bash']"
  - id: pair
    name: Pair
    severity: high
    pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']"
    group_by: process:x_host_id
`);

const T = (s: number): string => new Date(Date.UTC(2026, 0, 1, 10) + s * 1000).toISOString().replace('.000Z', 'Z');
const proc = (n: number, name: string, host = 'h1'): Record<string, unknown> =>
  stixEvent({ n, time: T(n), process: { name, x_host_id: host } });

function setup() {
  const clock = new Clock(Date.now());
  const store = new InMemoryStateStore({ now: clock.now });
  // A queue whose limit no alert document fits: every alert is refused for good.
  const queue = new InMemoryQueue({ now: clock.now, dedupeWindowMs: 0, maxMessageBytes: 256 });
  const counters = new InMemoryCounterStore();
  const detector = new Detector({ rules: RULES, store, sink: queue, counters, now: clock.now });
  return { clock, detector, queue, counters };
}

describe('an alert too large for the alert queue', () => {
  it('is an error with the alert id, rule and event, not a retry; the rest of the batch goes on', async () => {
    const { detector, queue } = setup();
    const result = await detector.process([proc(1, 'ls'), proc(2, 'bash'), proc(3, 'a')]);
    expect(result.undelivered).toEqual([]);
    expect(result.alerts).toEqual([]);
    expect(result.errors).toEqual([
      {
        severity: 'error',
        code: 'alert-undeliverable',
        ruleId: 'shell',
        eventIndex: 1,
        message: expect.stringMatching(
          /^alert alert--\S+ of rule shell cannot be delivered and is not retried: message-too-large: alert alert--\S+ is \d+ bytes; the alert queue takes at most 256 bytes/,
        ),
      },
    ]);
    expect(queue.depth).toBe(0);
    // The stateful part of the batch was committed: the pair completes with the next event.
    const next = await detector.process([proc(4, 'b')]);
    expect(next.errors.map((e) => [e.code, e.ruleId, e.eventIndex])).toEqual([['alert-undeliverable', 'pair', 0]]);
    expect(next.errors[0]!.message).toContain('of rule pair');
  });

  it('is settled: a redelivery and later events of the group do not raise it again', async () => {
    const { detector, counters, clock } = setup();
    await detector.process([proc(1, 'bash'), proc(2, 'a'), proc(3, 'b')]);
    const again = await detector.process([proc(1, 'bash'), proc(2, 'a'), proc(3, 'b')]);
    expect(again.errors).toEqual([]);
    expect(again.undelivered).toEqual([]);
    // The group's outbox no longer holds the alert: another event in it sends nothing.
    const later = await detector.process([proc(5, 'a')]);
    expect(later.errors).toEqual([]);
    const day = new Date(clock.ms).toISOString().slice(0, 10);
    const read = await counters.read('default', ['shell', 'pair'], [day]);
    // Raised once each (the rule fired), whatever became of the delivery.
    expect(read.get('shell')?.get(day)).toMatchObject({ matches: 1, alerts: 1 });
    expect(read.get('pair')?.get(day)).toMatchObject({ alerts: 1 });
  });
});
