/**
 * The SNS output: each alert is one message on a topic (its body the alert document, as on the alert queue),
 * published with PublishBatch in requests that respect SNS's limits: at most 10 entries and 256 KiB (262,144
 * bytes) a request, message bodies and attributes counted together. A FIFO topic (a name ending in .fifo) gets
 * the alert id as MessageDeduplicationId, so that a redelivered alert within SNS's five-minute window is
 * published once, and the tenant as MessageGroupId (one tenant's alerts in order). Message attributes (severity,
 * ruleId, tenant) let subscriptions filter without reading the body.
 */
import {
  PublishBatchCommand,
  type MessageAttributeValue,
  type PublishBatchRequestEntry,
  type SNSClient,
} from '@aws-sdk/client-sns';
import { sdkDeliveryError } from './aws.js';
import { DeliveryError, type AlertDocument, type AttemptFailures, type OutputSender } from './types.js';

export const SNS_MAX_BATCH_ENTRIES = 10;
export const SNS_MAX_REQUEST_BYTES = 256 * 1024;

export interface SnsSettings {
  topicArn: string;
}

/** The bytes SNS counts for an entry: the message, and each attribute's name, data type and value. */
export function snsEntryBytes(entry: PublishBatchRequestEntry): number {
  let bytes = Buffer.byteLength(entry.Message ?? '', 'utf8');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {}))
    bytes +=
      Buffer.byteLength(name, 'utf8') +
      Buffer.byteLength(value.DataType ?? '', 'utf8') +
      Buffer.byteLength(value.StringValue ?? '', 'utf8');
  return bytes;
}

/**
 * Entries in order, split into requests of at most 10 entries and 256 KiB. An entry over 256 KiB on its own is
 * returned apart (`tooLarge`): no request can carry it.
 */
export function snsBatches<T extends PublishBatchRequestEntry>(
  entries: readonly T[],
  maxBytes = SNS_MAX_REQUEST_BYTES,
): { batches: T[][]; tooLarge: T[] } {
  const batches: T[][] = [];
  const tooLarge: T[] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = snsEntryBytes(entry);
    if (size > maxBytes) {
      tooLarge.push(entry);
      continue;
    }
    if (current.length === SNS_MAX_BATCH_ENTRIES || bytes + size > maxBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return { batches, tooLarge };
}

const attribute = (value: string): MessageAttributeValue => ({ DataType: 'String', StringValue: value });

export class SnsSender implements OutputSender {
  private readonly fifo: boolean;

  constructor(
    private readonly client: SNSClient,
    private readonly settings: SnsSettings,
  ) {
    this.fifo = settings.topicArn.endsWith('.fifo');
  }

  entry(alert: AlertDocument, index: number): PublishBatchRequestEntry & { alertId: string } {
    return {
      alertId: alert.id,
      // Batch entry ids are unique within a request and at most 80 of [A-Za-z0-9_-].
      Id: `a${index}`,
      Message: JSON.stringify(alert),
      MessageAttributes: {
        severity: attribute(alert.severity),
        ruleId: attribute(alert.ruleId),
        tenant: attribute(alert.tenant),
      },
      ...(this.fifo ? { MessageDeduplicationId: alert.id, MessageGroupId: alert.tenant } : {}),
    };
  }

  async send(alerts: readonly AlertDocument[]): Promise<AttemptFailures> {
    const failures: AttemptFailures = new Map();
    const { batches, tooLarge } = snsBatches(alerts.map((a, i) => this.entry(a, i)));
    for (const entry of tooLarge)
      failures.set(entry.alertId, new DeliveryError(false, `message over ${SNS_MAX_REQUEST_BYTES} bytes`));
    await Promise.all(
      batches.map(async (batch) => {
        try {
          const response = await this.client.send(
            new PublishBatchCommand({
              TopicArn: this.settings.topicArn,
              PublishBatchRequestEntries: batch.map(({ alertId: _alertId, ...entry }) => entry),
            }),
          );
          const byEntry = new Map(batch.map((e) => [e.Id, e.alertId]));
          for (const failed of response.Failed ?? []) {
            const alertId = byEntry.get(failed.Id);
            if (alertId === undefined) continue;
            // SenderFault: the entry itself is wrong; otherwise SNS failed it and it may pass next time.
            failures.set(alertId, new DeliveryError(failed.SenderFault !== true, `SNS ${failed.Code ?? 'failure'}`));
          }
          const succeeded = new Set((response.Successful ?? []).map((s) => s.Id));
          for (const e of batch)
            if (!succeeded.has(e.Id) && !failures.has(e.alertId))
              failures.set(e.alertId, new DeliveryError(true, 'SNS did not report the entry'));
        } catch (error) {
          const failure = sdkDeliveryError(error);
          for (const e of batch) failures.set(e.alertId, failure);
        }
      }),
    );
    return failures;
  }
}
