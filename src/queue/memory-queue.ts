/**
 * An in-process queue implementing both MessageSink and MessageSource with the SQS behaviours
 * the engine relies on: deduplication by alert id within a window (as a FIFO queue does with
 * MessageDeduplicationId), visibility timeouts with redelivery, and optionally per-group
 * ordering (a group with a message in flight delivers nothing more until it is acknowledged).
 * For the CLI and unit tests; state lives only in this object.
 */
import { randomUUID } from 'node:crypto';
import { QueueConfigError } from './errors.js';
import { SQS_DEFAULT_MAX_MESSAGE_BYTES, messageTooLarge } from './sqs-sink.js';
import type { MessageSink, MessageSource, OutgoingMessage, ReceivedMessage, SendResult } from './types.js';

export interface InMemoryQueueOptions {
  /** How long an id is remembered for deduplication; default 5 minutes (SQS FIFO's window); 0 turns it off. */
  dedupeWindowMs?: number;
  /** How long a received message stays invisible before redelivery; default 30 s. */
  visibilityTimeoutMs?: number;
  /** Deliver each group's messages in order, one in-flight batch per group; default false. */
  fifo?: boolean;
  /** Largest body accepted; default 256 KiB. A larger one is a permanent failure, as on SQS. */
  maxMessageBytes?: number;
  /** Clock in epoch milliseconds for dedupe and visibility; injectable for tests. */
  now?: () => number;
}

interface StoredMessage {
  messageId: string;
  alertId: string;
  body: string;
  groupId: string;
  sentAt: number;
  receiveCount: number;
  visibleAt: number;
  receiptHandle: string | undefined;
}

export class InMemoryQueue implements MessageSink, MessageSource {
  private readonly messages: StoredMessage[] = [];
  private readonly seenIds = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private readonly dedupeWindowMs: number;
  private readonly visibilityTimeoutMs: number;
  private readonly fifo: boolean;
  private readonly maxMessageBytes: number;
  private readonly now: () => number;

  constructor(options: InMemoryQueueOptions = {}) {
    this.dedupeWindowMs = options.dedupeWindowMs ?? 5 * 60_000;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.fifo = options.fifo ?? false;
    this.maxMessageBytes = options.maxMessageBytes ?? SQS_DEFAULT_MAX_MESSAGE_BYTES;
    this.now = options.now ?? Date.now;
    if (this.dedupeWindowMs < 0 || this.visibilityTimeoutMs < 0)
      throw new QueueConfigError('windows and timeouts must not be negative');
  }

  async send(messages: OutgoingMessage[]): Promise<SendResult> {
    const result: SendResult = { sent: [], failed: [] };
    const now = this.now();
    for (const [id, expiresAt] of this.seenIds) if (expiresAt <= now) this.seenIds.delete(id);
    for (const message of messages) {
      const bytes = Buffer.byteLength(message.body, 'utf8');
      if (bytes > this.maxMessageBytes) {
        result.failed.push(messageTooLarge(message.id, bytes, this.maxMessageBytes));
        continue;
      }
      result.sent.push(message.id);
      // Like SQS FIFO: a duplicate inside the window is accepted and silently dropped.
      if (this.seenIds.has(message.id)) continue;
      if (this.dedupeWindowMs > 0) this.seenIds.set(message.id, now + this.dedupeWindowMs);
      this.messages.push({
        messageId: randomUUID(),
        alertId: message.id,
        body: message.body,
        groupId: message.groupId ?? message.id,
        sentAt: now,
        receiveCount: 0,
        visibleAt: now,
        receiptHandle: undefined,
      });
    }
    if (result.sent.length > 0) for (const wake of [...this.waiters]) wake();
    return result;
  }

  /** Up to max visible messages; if none, waits up to waitSeconds for a send (real time, not the injected clock). */
  async receive(max: number, waitSeconds: number): Promise<ReceivedMessage[]> {
    if (!(Number.isInteger(max) && max >= 1)) throw new QueueConfigError('receive max must be a positive integer');
    const first = this.take(max);
    if (first.length > 0 || waitSeconds <= 0) return first;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, waitSeconds * 1000);
      this.waiters.add(wake);
    });
    return this.take(max);
  }

  /** Deletes messages whose receipt handle is still current; a stale handle (already redelivered) deletes nothing. */
  async ack(messages: ReceivedMessage[]): Promise<void> {
    const handles = new Set(messages.map((m) => m.receiptHandle));
    for (let i = this.messages.length - 1; i >= 0; i -= 1) {
      const handle = this.messages[i]?.receiptHandle;
      if (handle !== undefined && handles.has(handle)) this.messages.splice(i, 1);
    }
  }

  /** Messages not yet acknowledged, visible or in flight. */
  get depth(): number {
    return this.messages.length;
  }

  private take(max: number): ReceivedMessage[] {
    const now = this.now();
    const blockedGroups = new Set<string>();
    const taken: ReceivedMessage[] = [];
    for (const stored of this.messages) {
      if (taken.length >= max) break;
      if (stored.visibleAt > now) {
        // In flight from an earlier receive: in FIFO mode it holds back the rest of its group.
        if (this.fifo) blockedGroups.add(stored.groupId);
        continue;
      }
      if (this.fifo && blockedGroups.has(stored.groupId)) continue;
      stored.receiveCount += 1;
      stored.visibleAt = now + this.visibilityTimeoutMs;
      stored.receiptHandle = `${stored.messageId}#${stored.receiveCount}`;
      const attributes: Record<string, string> = {
        ApproximateReceiveCount: String(stored.receiveCount),
        SentTimestamp: String(stored.sentAt),
      };
      if (this.fifo) {
        attributes.MessageGroupId = stored.groupId;
        attributes.MessageDeduplicationId = stored.alertId;
      }
      taken.push({ messageId: stored.messageId, body: stored.body, receiptHandle: stored.receiptHandle, attributes });
    }
    return taken;
  }
}
