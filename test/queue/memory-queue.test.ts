import { describe, expect, it } from 'vitest';
import { QueueConfigError } from '../../src/queue/errors.js';
import { InMemoryQueue } from '../../src/queue/memory-queue.js';

describe('InMemoryQueue', () => {
  it('delivers what was sent and removes what was acked', async () => {
    const queue = new InMemoryQueue();
    expect(
      await queue.send([
        { id: 'a', body: 'A' },
        { id: 'b', body: 'B' },
      ]),
    ).toEqual({ sent: ['a', 'b'], failed: [] });
    const received = await queue.receive(10, 0);
    expect(received.map((m) => m.body)).toEqual(['A', 'B']);
    expect(received[0]!.attributes.ApproximateReceiveCount).toBe('1');
    await queue.ack(received);
    expect(queue.depth).toBe(0);
    expect(await queue.receive(10, 0)).toEqual([]);
  });

  it('drops a repeated id inside the dedupe window and accepts it after', async () => {
    let now = 1_000_000;
    const queue = new InMemoryQueue({ dedupeWindowMs: 60_000, now: () => now });
    await queue.send([
      { id: 'a', body: 'first' },
      { id: 'a', body: 'same batch' },
    ]);
    now += 59_999;
    expect(await queue.send([{ id: 'a', body: 'in window' }])).toEqual({ sent: ['a'], failed: [] });
    expect(queue.depth).toBe(1);
    now += 1;
    await queue.send([{ id: 'a', body: 'after window' }]);
    expect((await queue.receive(10, 0)).map((m) => m.body)).toEqual(['first', 'after window']);
  });

  it('keeps every copy when deduplication is off', async () => {
    const queue = new InMemoryQueue({ dedupeWindowMs: 0 });
    await queue.send([
      { id: 'a', body: '1' },
      { id: 'a', body: '2' },
    ]);
    expect(queue.depth).toBe(2);
  });

  it('redelivers a message that was not acked within the visibility timeout, and ignores a stale ack', async () => {
    let now = 0;
    const queue = new InMemoryQueue({ visibilityTimeoutMs: 1000, now: () => now });
    await queue.send([{ id: 'a', body: 'A' }]);
    const first = await queue.receive(1, 0);
    expect(await queue.receive(1, 0)).toEqual([]);
    now = 1000;
    const second = await queue.receive(1, 0);
    expect(second[0]!.attributes.ApproximateReceiveCount).toBe('2');
    await queue.ack(first); // the first receipt handle is stale now
    expect(queue.depth).toBe(1);
    await queue.ack(second);
    expect(queue.depth).toBe(0);
  });

  it('in FIFO mode holds back a group while one of its messages is in flight', async () => {
    const queue = new InMemoryQueue({ fifo: true });
    await queue.send([
      { id: '1', body: 'g1-a', groupId: 'g1' },
      { id: '2', body: 'g1-b', groupId: 'g1' },
      { id: '3', body: 'g2-a', groupId: 'g2' },
    ]);
    const first = await queue.receive(1, 0);
    expect(first.map((m) => m.body)).toEqual(['g1-a']);
    expect(first[0]!.attributes).toMatchObject({ MessageGroupId: 'g1', MessageDeduplicationId: '1' });
    expect((await queue.receive(10, 0)).map((m) => m.body)).toEqual(['g2-a']);
    await queue.ack(first);
    expect((await queue.receive(10, 0)).map((m) => m.body)).toEqual(['g1-b']);
  });

  it('wakes a long poll when a message is sent', async () => {
    const queue = new InMemoryQueue();
    const started = Date.now();
    const pending = queue.receive(5, 10);
    setTimeout(() => void queue.send([{ id: 'late', body: 'L' }]), 20);
    expect((await pending).map((m) => m.body)).toEqual(['L']);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('returns nothing after the wait when nothing arrives', async () => {
    const queue = new InMemoryQueue();
    expect(await queue.receive(1, 0.05)).toEqual([]);
  });

  it('refuses oversize messages (a permanent failure, #11.17) and bad arguments', async () => {
    const queue = new InMemoryQueue({ maxMessageBytes: 10 });
    const result = await queue.send([
      { id: 'big', body: 'x'.repeat(11) },
      { id: 'ok', body: 'fine' },
    ]);
    expect(result).toEqual({
      sent: ['ok'],
      failed: [
        { id: 'big', reason: expect.stringContaining('message-too-large: alert big is 11 bytes'), permanent: true },
      ],
    });
    await expect(queue.receive(0, 0)).rejects.toThrow(QueueConfigError);
    expect(() => new InMemoryQueue({ dedupeWindowMs: -1 })).toThrow(QueueConfigError);
  });
});
