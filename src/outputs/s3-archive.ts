/**
 * The S3 archive output: alerts as gzip'd NDJSON objects (one alert document a line) under Hive-style partitions
 * `<prefix>dt=YYYY-MM-DD/rule=<ruleId>/<key>.json.gz`, the day being the UTC day the alert was raised (`created`),
 * ready for Athena (docs/outputs.md has the table). A batch writes one object per partition, its name the SHA-256
 * of the partition's sorted alert ids: the same batch redelivered overwrites its objects instead of adding
 * copies.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { sdkDeliveryError } from './aws.js';
import type { AlertDocument, AttemptFailures, OutputSender } from './types.js';

export interface S3ArchiveSettings {
  bucket: string;
  /** Key prefix, e.g. `alerts/` (empty: the bucket's root). */
  prefix: string;
}

/** The partition of an alert: `dt=YYYY-MM-DD/rule=<ruleId>` (the rule id URI-encoded, as Hive escapes values). */
export function archivePartition(alert: AlertDocument): string {
  const day = (typeof alert.created === 'string' ? alert.created : alert.firstObserved).slice(0, 10);
  return `dt=${day}/rule=${encodeURIComponent(alert.ruleId)}`;
}

/** The object key of a partition's alerts: derived from their ids only, in any order. */
export function archiveKey(prefix: string, partition: string, alertIds: readonly string[]): string {
  const digest = createHash('sha256')
    .update([...new Set(alertIds)].sort().join('\n'))
    .digest('hex');
  return `${prefix}${partition}/${digest.slice(0, 40)}.json.gz`;
}

export class S3ArchiveSender implements OutputSender {
  constructor(
    private readonly client: S3Client,
    private readonly settings: S3ArchiveSettings,
  ) {}

  async send(alerts: readonly AlertDocument[]): Promise<AttemptFailures> {
    const partitions = new Map<string, AlertDocument[]>();
    for (const alert of alerts) {
      const partition = archivePartition(alert);
      partitions.set(partition, [...(partitions.get(partition) ?? []), alert]);
    }
    const failures: AttemptFailures = new Map();
    await Promise.all(
      [...partitions].map(async ([partition, members]) => {
        const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        const body = gzipSync(sorted.map((a) => `${JSON.stringify(a)}\n`).join(''));
        try {
          await this.client.send(
            new PutObjectCommand({
              Bucket: this.settings.bucket,
              Key: archiveKey(
                this.settings.prefix,
                partition,
                sorted.map((a) => a.id),
              ),
              Body: body,
              ContentType: 'application/x-ndjson',
              // Not Content-Encoding: readers (Athena among them) decompress by the .gz name.
            }),
          );
        } catch (error) {
          const failure = sdkDeliveryError(error);
          for (const alert of members) failures.set(alert.id, failure);
        }
      }),
    );
    return failures;
  }
}
