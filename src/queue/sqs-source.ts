/** MessageSource on SQS: long-polling ReceiveMessage and DeleteMessageBatch acknowledgements. */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueAckError, QueueConfigError, QueueServiceError } from './errors.js';
import { DEFAULT_RETRY_POLICY, backoffDelayMs, errorLabel, isTransientError, type RetryPolicy } from './retry.js';
import { SQS_MAX_BATCH_ENTRIES } from './sqs-sink.js';
import type { MessageSource, ReceivedMessage } from './types.js';

/** SQS caps one long poll at 20 seconds. */
export const SQS_MAX_WAIT_SECONDS = 20;

export interface SqsMessageSourceOptions {
  client: SQSClient;
  queueUrl: string;
  /** Visibility timeout for received messages; the queue's own setting when absent. */
  visibilityTimeoutSeconds?: number;
  retry?: Partial<RetryPolicy>;
}

export class SqsMessageSource implements MessageSource {
  private readonly client: SQSClient;
  private readonly queueUrl: string;
  private readonly visibilityTimeoutSeconds: number | undefined;
  private readonly retry: RetryPolicy;

  constructor(options: SqsMessageSourceOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
    this.visibilityTimeoutSeconds = options.visibilityTimeoutSeconds;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /**
   * Up to max messages. The first call long-polls for waitSeconds; when more than 10 are wanted
   * it keeps asking without waiting until the queue returns nothing or max is reached.
   */
  async receive(max: number, waitSeconds: number): Promise<ReceivedMessage[]> {
    if (!(Number.isInteger(max) && max >= 1)) throw new QueueConfigError('receive max must be a positive integer');
    if (!(Number.isInteger(waitSeconds) && waitSeconds >= 0 && waitSeconds <= SQS_MAX_WAIT_SECONDS)) {
      throw new QueueConfigError(`waitSeconds must be an integer from 0 to ${SQS_MAX_WAIT_SECONDS}`);
    }
    const received: ReceivedMessage[] = [];
    for (let call = 0; received.length < max; call += 1) {
      let messages: Message[];
      try {
        const output = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: Math.min(SQS_MAX_BATCH_ENTRIES, max - received.length),
            WaitTimeSeconds: call === 0 ? waitSeconds : 0,
            VisibilityTimeout: this.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: ['All'],
          }),
        );
        messages = output.Messages ?? [];
      } catch (error) {
        // Messages already received in earlier calls stay in flight and reappear after their visibility timeout.
        throw new QueueServiceError(`ReceiveMessage failed: ${errorLabel(error)}`, error);
      }
      if (messages.length === 0) break;
      for (const m of messages) {
        if (m.MessageId === undefined || m.ReceiptHandle === undefined) continue;
        received.push({
          messageId: m.MessageId,
          body: m.Body ?? '',
          receiptHandle: m.ReceiptHandle,
          attributes: { ...(m.Attributes ?? {}) } as Record<string, string>,
        });
      }
    }
    return received;
  }

  /** Deletes the messages; throws QueueAckError naming those that could not be deleted after retries. */
  async ack(messages: ReceivedMessage[]): Promise<void> {
    const failed: { messageId: string; reason: string }[] = [];
    for (let start = 0; start < messages.length; start += SQS_MAX_BATCH_ENTRIES) {
      failed.push(...(await this.deleteBatch(messages.slice(start, start + SQS_MAX_BATCH_ENTRIES))));
    }
    if (failed.length > 0) throw new QueueAckError(failed);
  }

  private async deleteBatch(batch: ReceivedMessage[]): Promise<{ messageId: string; reason: string }[]> {
    const failed: { messageId: string; reason: string }[] = [];
    let pending = new Map(batch.map((message, index) => [`d${index}`, message]));
    let lastReason = '';
    for (let attempt = 1; pending.size > 0; attempt += 1) {
      if (attempt > this.retry.maxAttempts) {
        for (const m of pending.values())
          failed.push({
            messageId: m.messageId,
            reason: `${lastReason} (gave up after ${this.retry.maxAttempts} attempts)`,
          });
        break;
      }
      if (attempt > 1) await this.retry.sleep(backoffDelayMs(attempt - 1, this.retry));
      let output;
      try {
        output = await this.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: [...pending].map(([id, m]) => ({ Id: id, ReceiptHandle: m.receiptHandle })),
          }),
        );
      } catch (error) {
        lastReason = errorLabel(error);
        if (isTransientError(error)) continue;
        for (const m of pending.values()) failed.push({ messageId: m.messageId, reason: lastReason });
        break;
      }
      const retry = new Map<string, ReceivedMessage>();
      for (const bad of output.Failed ?? []) {
        const m = bad.Id !== undefined ? pending.get(bad.Id) : undefined;
        if (!m || bad.Id === undefined) continue;
        const reason = `${bad.Code ?? 'Unknown'}: ${bad.Message ?? ''}`.trim();
        if (bad.SenderFault) failed.push({ messageId: m.messageId, reason });
        else {
          lastReason = reason;
          retry.set(bad.Id, m);
        }
      }
      pending = retry;
    }
    return failed;
  }
}
