/**
 * SQS refuses U+FFFE and U+FFFF in a message body, which JSON.stringify leaves as they are: an
 * event carrying one (in a command line, say) must not make its alert undeliverable.
 */
import { describe, expect, it } from 'vitest';
import { Detector } from '../../src/pipeline/detector.js';
import type { MessageSink, OutgoingMessage, SendResult } from '../../src/queue/types.js';
import { InMemoryCounterStore, utcDay } from '../../src/state/counters.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { rulesFrom, stixEvent } from '../rules/helpers.js';

/** SQS's character set for message bodies (SendMessage: InvalidMessageContents otherwise). */
// eslint-disable-next-line no-control-regex -- the set SQS documents starts with three control characters
const SQS_BODY = /^[\u0009\u000A\u000D\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;

class CharacterCheckingSink implements MessageSink {
  readonly bodies: string[] = [];
  async send(messages: OutgoingMessage[]): Promise<SendResult> {
    const failed = messages
      .filter((m) => !SQS_BODY.test(m.body))
      .map((m) => ({ id: m.id, reason: 'InvalidMessageContents: invalid characters', permanent: true }));
    this.bodies.push(...messages.filter((m) => SQS_BODY.test(m.body)).map((m) => m.body));
    return { sent: messages.filter((m) => SQS_BODY.test(m.body)).map((m) => m.id), failed };
  }
}

describe('alert bodies and the SQS character set', () => {
  it('delivers the alert of an event whose command line holds U+FFFE and U+FFFF, with the value intact', async () => {
    const rules = rulesFrom(`
rules:
  - id: tool
    name: Tool
    severity: critical
    pattern: "[process:name = 'tool']"
`);
    const sink = new CharacterCheckingSink();
    const detector = new Detector({ rules, store: new InMemoryStateStore(), sink });
    const commandLine = 'mimikatz \uFFFE\uFFFF sekurlsa';
    const result = await detector.process(
      [stixEvent({ n: 1, time: '2026-01-01T10:00:00Z', process: { name: 'tool', command_line: commandLine } })],
      't',
    );
    expect(result.errors).toEqual([]);
    expect(result.alerts).toHaveLength(1);
    expect(sink.bodies).toHaveLength(1);
    const document = JSON.parse(sink.bodies[0] as string) as { objects: { command_line?: string }[] };
    expect(document.objects.find((o) => o.command_line !== undefined)?.command_line).toBe(commandLine);
  });
});

describe('bookkeeping after delivery', () => {
  it('reports a ledger that cannot be settled as a warning; the delivered alert stands and nothing throws', async () => {
    const rules = rulesFrom(`
rules:
  - id: tool
    name: Tool
    severity: high
    pattern: "[process:name = 'tool']"
`);
    const inner = new InMemoryStateStore();
    // Settling writes the ledger item again once the alert is out; that write fails here.
    const store = Object.assign(Object.create(inner) as InMemoryStateStore, {
      put: (item: { key: { group: string }; value: string; expiresAt: number }, version: number | null) => {
        if (version !== null && item.key.group.startsWith('#ledger'))
          return Promise.reject(new Error('ProvisionedThroughputExceededException'));
        return inner.put(item as never, version);
      },
    });
    const sink = new CharacterCheckingSink();
    const detector = new Detector({ rules, store, sink });
    const result = await detector.process(
      [stixEvent({ n: 1, time: '2026-01-01T10:00:00Z', process: { name: 'tool' } })],
      't',
    );
    expect(result.alerts).toHaveLength(1);
    expect(sink.bodies).toHaveLength(1);
    expect(result.errors).toEqual([expect.objectContaining({ severity: 'warning', code: 'bookkeeping-failed' })]);
  });
});

describe('correlation alerts whose state cannot be stored', () => {
  it('are delivered and counted once however often the batch is delivered (the ledger stands in for the outbox)', async () => {
    const rules = rulesFrom(`
rules:
  - id: pair
    name: Pair
    severity: high
    description: "${'a long description '.repeat(160)}"
    pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']"
`);
    // No state item of this store holds even the alert alone: it goes out uncommitted.
    const store = new InMemoryStateStore({ maxItemBytes: 2500 });
    const counters = new InMemoryCounterStore();
    const sink = new CharacterCheckingSink();
    const detector = new Detector({ rules, store, sink, counters });
    const batch = [
      stixEvent({ n: 1, time: '2026-01-01T10:00:00Z', process: { name: 'a' } }),
      stixEvent({ n: 2, time: '2026-01-01T10:00:05Z', process: { name: 'b' } }),
    ];
    const first = await detector.process(batch, 't');
    expect(first.errors.map((e) => e.code)).toContain('state-too-large');
    expect(first.alerts).toHaveLength(1);
    const again = await detector.process(batch, 't');
    expect(again.alerts).toHaveLength(0);
    expect(sink.bodies).toHaveLength(1);
    const totals = [...(await counters.read('t', ['pair'], [utcDay(Date.now())])).values()].flatMap((days) => [
      ...days.values(),
    ]);
    expect(totals.reduce((sum, c) => sum + c.alerts, 0)).toBe(1);
  });
});
