import { DescribeTableCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { ensureQueue, ensureStateTable, startDynamo, startSqs } from '../../src/emulators/emulators.js';
import { QueueConfigError } from '../../src/queue/errors.js';

describe('local emulators', () => {
  it('runs dynalite on loopback, creates the state table idempotently, and stops', async () => {
    const dynamo = await startDynamo();
    try {
      expect(dynamo.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // dynalite has no UpdateTimeToLive: the table is made, TTL is reported as not enabled.
      expect(await ensureStateTable(dynamo.client, 'stixflow-state')).toEqual({ created: true, ttlEnabled: false });
      expect(await ensureStateTable(dynamo.client, 'stixflow-state')).toEqual({ created: false, ttlEnabled: false });
      const { Table } = await dynamo.client.send(new DescribeTableCommand({ TableName: 'stixflow-state' }));
      expect(Table?.TableStatus).toBe('ACTIVE');
      expect(Table?.KeySchema?.map((k) => k.AttributeName)).toEqual(['pk', 'sk']);
    } finally {
      await dynamo.stop();
    }
    // Stopping twice is harmless, and the port no longer answers.
    await dynamo.stop();
    await expect(fetch(dynamo.endpoint, { method: 'POST' })).rejects.toThrow();
  });

  it('gives each start its own in-memory database', async () => {
    const first = await startDynamo();
    const second = await startDynamo();
    try {
      await ensureStateTable(first.client, 'only-in-first');
      expect((await second.client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
    } finally {
      await Promise.all([first.stop(), second.stop()]);
    }
  });

  it('runs fauxqs on loopback and creates queues with a dead-letter queue', async () => {
    const sqs = await startSqs();
    try {
      expect(sqs.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const url = await ensureQueue(sqs.client, 'alerts.fifo', {
        dlq: { name: 'alerts-dlq.fifo', maxReceiveCount: 4 },
      });
      expect(url).toMatch(/\/alerts\.fifo$/);
      expect(
        await ensureQueue(sqs.client, 'alerts.fifo', { dlq: { name: 'alerts-dlq.fifo', maxReceiveCount: 4 } }),
      ).toBe(url);
      const { Attributes } = await sqs.client.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }),
      );
      expect(Attributes?.FifoQueue).toBe('true');
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({
        deadLetterTargetArn: expect.stringMatching(/:alerts-dlq\.fifo$/),
        maxReceiveCount: 4,
      });
      const { QueueUrls } = await sqs.client.send(new ListQueuesCommand({}));
      expect(QueueUrls?.map((u) => u.split('/').pop()).sort()).toEqual(['alerts-dlq.fifo', 'alerts.fifo']);
    } finally {
      await sqs.stop();
    }
    await expect(fetch(sqs.endpoint)).rejects.toThrow();
  });

  it('refuses FIFO options that SQS would reject', async () => {
    const sqs = await startSqs();
    try {
      await expect(ensureQueue(sqs.client, 'alerts', { fifo: true })).rejects.toThrow(QueueConfigError);
      await expect(
        ensureQueue(sqs.client, 'alerts.fifo', { dlq: { name: 'plain-dlq', maxReceiveCount: 3 } }),
      ).rejects.toThrow(QueueConfigError);
      await expect(ensureQueue(sqs.client, 'alerts', { dlq: { name: 'dlq', maxReceiveCount: 0 } })).rejects.toThrow(
        QueueConfigError,
      );
    } finally {
      await sqs.stop();
    }
  });
});
