/**
 * MessageSink on SQS. Sends in SendMessageBatch calls of at most 10 entries and at most
 * maxBatchBytes of bodies, retries entries SQS reports as not the sender's fault (throttling,
 * internal errors) and whole calls that failed transiently, with exponential backoff and full
 * jitter, and reports what still failed instead of throwing, so the caller can decide (the
 * alerting Lambda reports those records as batch item failures). A message the queue can never
 * take (over its size limit, or refused as the sender's fault) is reported as a permanent
 * failure: retrying the input that raised it would fail the same way, forever.
 */
import { createHash } from 'node:crypto';
import { SendMessageBatchCommand, type SendMessageBatchRequestEntry, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueConfigError } from './errors.js';
import { DEFAULT_RETRY_POLICY, backoffDelayMs, errorLabel, isTransientError, type RetryPolicy } from './retry.js';
import type { MessageSink, OutgoingMessage, SendFailure, SendResult } from './types.js';

/** SendMessageBatch accepts at most 10 entries. */
export const SQS_MAX_BATCH_ENTRIES = 10;
/** Classic SQS limit on one message and on a whole batch. */
export const SQS_DEFAULT_MAX_BATCH_BYTES = 256 * 1024;
/**
 * Largest message assumed when none is configured: the classic SQS limit, which every queue
 * takes. A queue's own limit (MaximumMessageSize) may be lower, or up to 1 MiB.
 */
export const SQS_DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

/** The permanent failure of a message over the queue's limit, naming the alert, its size and the limit. */
export function messageTooLarge(id: string, bytes: number, limit: number): SendFailure {
  return {
    id,
    reason: `message-too-large: alert ${id} is ${bytes} bytes; the alert queue takes at most ${limit} bytes per message, so it can never be sent`,
    permanent: true,
  };
}

export interface SqsMessageSinkOptions {
  client: SQSClient;
  queueUrl: string;
  retry?: Partial<RetryPolicy>;
  /** Cap on the summed body bytes of one batch of several messages; default 256 KiB. */
  maxBatchBytes?: number;
  /**
   * The queue's limit on one message (its MaximumMessageSize); default 256 KiB. A larger
   * message is not sent and is reported as a permanent failure. One larger than maxBatchBytes
   * but within this limit is sent in a batch of its own.
   */
  maxMessageBytes?: number;
  /** Batches in flight at once for a standard queue; default 4. FIFO queues send batches one by one to keep order. */
  concurrency?: number;
}

interface Entry {
  message: OutgoingMessage;
  bytes: number;
}

export class SqsMessageSink implements MessageSink {
  readonly fifo: boolean;
  private readonly client: SQSClient;
  private readonly queueUrl: string;
  private readonly retry: RetryPolicy;
  private readonly maxBatchBytes: number;
  private readonly maxMessageBytes: number;
  private readonly concurrency: number;

  constructor(options: SqsMessageSinkOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.fifo = options.queueUrl.endsWith('.fifo');
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    if (!(Number.isInteger(this.retry.maxAttempts) && this.retry.maxAttempts >= 1)) {
      throw new QueueConfigError('retry.maxAttempts must be a positive integer');
    }
    this.maxBatchBytes = options.maxBatchBytes ?? SQS_DEFAULT_MAX_BATCH_BYTES;
    this.maxMessageBytes = options.maxMessageBytes ?? SQS_DEFAULT_MAX_MESSAGE_BYTES;
    if (!(
      Number.isInteger(this.maxBatchBytes) &&
      this.maxBatchBytes >= 1 &&
      Number.isInteger(this.maxMessageBytes) &&
      this.maxMessageBytes >= 1
    )) {
      throw new QueueConfigError('maxBatchBytes and maxMessageBytes must be positive integers');
    }
    this.concurrency = this.fifo ? 1 : Math.max(1, options.concurrency ?? 4);
  }

  async send(messages: OutgoingMessage[]): Promise<SendResult> {
    const result: SendResult = { sent: [], failed: [] };
    const batches: Entry[][] = [];
    let current: Entry[] = [];
    let currentBytes = 0;
    for (const message of messages) {
      const bytes = Buffer.byteLength(message.body, 'utf8');
      if (bytes > this.maxMessageBytes) {
        result.failed.push(messageTooLarge(message.id, bytes, this.maxMessageBytes));
        continue;
      }
      if (
        current.length > 0 &&
        (current.length === SQS_MAX_BATCH_ENTRIES || currentBytes + bytes > this.maxBatchBytes)
      ) {
        batches.push(current);
        current = [];
        currentBytes = 0;
      }
      current.push({ message, bytes });
      currentBytes += bytes;
    }
    if (current.length > 0) batches.push(current);

    let next = 0;
    const worker = async (): Promise<void> => {
      for (let batch = batches[next++]; batch !== undefined; batch = batches[next++]) {
        const outcome = await this.sendBatch(batch);
        result.sent.push(...outcome.sent);
        result.failed.push(...outcome.failed);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, worker));
    return result;
  }

  private async sendBatch(batch: Entry[]): Promise<SendResult> {
    const sent: string[] = [];
    const failed: SendFailure[] = [];
    // Batch entry ids only allow [A-Za-z0-9_-]{1,80}, which alert ids need not satisfy, so use positions.
    let pending = batch.map((entry, index) => ({ entryId: `m${index}`, message: entry.message }));
    let lastReason = '';
    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > this.retry.maxAttempts) {
        for (const p of pending)
          failed.push({ id: p.message.id, reason: `${lastReason} (gave up after ${this.retry.maxAttempts} attempts)` });
        break;
      }
      if (attempt > 1) await this.retry.sleep(backoffDelayMs(attempt - 1, this.retry));
      let output;
      try {
        output = await this.client.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: pending.map((p) => this.toEntry(p.entryId, p.message)),
          }),
        );
      } catch (error) {
        lastReason = errorLabel(error);
        if (isTransientError(error)) continue;
        for (const p of pending) failed.push({ id: p.message.id, reason: lastReason });
        break;
      }
      const byEntryId = new Map(pending.map((p) => [p.entryId, p]));
      for (const ok of output.Successful ?? []) {
        const p = ok.Id !== undefined ? byEntryId.get(ok.Id) : undefined;
        if (!p) continue;
        sent.push(p.message.id);
        byEntryId.delete(p.entryId);
      }
      for (const bad of output.Failed ?? []) {
        const p = bad.Id !== undefined ? byEntryId.get(bad.Id) : undefined;
        if (!p) continue;
        const reason = `${bad.Code ?? 'Unknown'}: ${bad.Message ?? ''}`.trim();
        if (bad.SenderFault) {
          // The sender's fault (too large for the queue, invalid characters): the same message
          // will be refused the same way on every retry.
          failed.push({ id: p.message.id, reason: `refused by the alert queue: ${reason}`, permanent: true });
          byEntryId.delete(p.entryId);
        } else {
          lastReason = reason;
        }
      }
      // What is left was throttled, failed on the service side, or (defensively) not mentioned at all.
      pending = [...byEntryId.values()];
      if (pending.length > 0 && lastReason === '') lastReason = 'entry not acknowledged by SendMessageBatch';
    }
    return { sent, failed };
  }

  private toEntry(entryId: string, message: OutgoingMessage): SendMessageBatchRequestEntry {
    const entry: SendMessageBatchRequestEntry = { Id: entryId, MessageBody: message.body };
    if (this.fifo) {
      entry.MessageDeduplicationId = fifoToken(message.id);
      entry.MessageGroupId = fifoToken(message.groupId ?? message.id);
    }
    return entry;
  }
}

const FIFO_TOKEN = /^[\x21-\x7e]{1,128}$/;

/**
 * SQS deduplication and group ids allow 1-128 printable ASCII characters. Ids that fit are used
 * as they are (readable in the console); others are replaced by a SHA-256 digest, which is still
 * deterministic, so the same alert id still deduplicates.
 */
export function fifoToken(id: string): string {
  return FIFO_TOKEN.test(id) ? id : `sha256-${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}
