/**
 * The local stack's watched folder: a folder read as if it were an S3 bucket prefix. A file dropped in it (a
 * CloudTrail `.json.gz`, NDJSON, VPC flow text, in any subfolder) is handed to the very S3 ingest handler Lambda
 * runs (functions/ingest-s3.ts), as the S3 event notification of an object whose key is the file's path under the
 * folder; the alerts reach the local alert queue like any others. A file is read once it has stopped growing (the
 * same size and modification time on two looks), and again when it changes; a failed one is tried again on the
 * next looks, up to `maxAttempts` times.
 */
import { randomUUID } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { IngestRoute } from '../ingest/routes.js';

/** The bucket name the watched folder stands for (routes are matched on `local/<path under the folder>`). */
export const WATCH_BUCKET = 'local';

export interface FolderWatchOptions {
  dir: string;
  /** The S3 ingest handler, configured with a DirectoryObjectStore on `dir` and `routes`. */
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;
  context: () => Context;
  /** How often the folder is looked at; default 500 ms. */
  intervalMs?: number;
  maxAttempts?: number;
  /** Told after each file is handed over (tests and the console). */
  onFile?: (outcome: { key: string; ok: boolean; attempt: number }) => void;
}

export interface FolderWatch {
  /** Looks once (the loop calls it; tests may too). */
  scan(): Promise<void>;
  stop(): Promise<void>;
}

/** The route of the whole folder: every file gets this mapping (detection when absent) and tenant. */
export function folderRoutes(source: string | undefined, tenant: string): IngestRoute[] {
  return [{ prefix: `${WATCH_BUCKET}/`, tenant, ...(source !== undefined ? { source } : {}) }];
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => join((e as { parentPath?: string; path?: string }).parentPath ?? (e as { path: string }).path, e.name));
}

export function watchFolder(options: FolderWatchOptions): FolderWatch {
  const interval = options.intervalMs ?? 500;
  const maxAttempts = options.maxAttempts ?? 3;
  /** path → what was last seen, and what was last handed over. */
  const seen = new Map<string, { signature: string; stableSince?: string; done?: string; attempts: number }>();
  let running = true;
  let scanning: Promise<void> | undefined;

  const scanOnce = async (): Promise<void> => {
    let files: string[];
    try {
      files = await listFiles(options.dir);
    } catch {
      return; // the folder may not exist yet
    }
    for (const path of files.sort()) {
      if (!running) return;
      let signature: string;
      try {
        const s = await stat(path);
        signature = `${s.size}:${s.mtimeMs}`;
      } catch {
        continue;
      }
      const entry = seen.get(path) ?? { signature: '', attempts: 0 };
      seen.set(path, entry);
      if (entry.signature !== signature) {
        // Changed since the last look: wait for it to settle.
        entry.signature = signature;
        entry.attempts = 0;
        continue;
      }
      if (entry.done === signature || entry.attempts >= maxAttempts) continue;
      entry.attempts++;
      const key = relative(options.dir, path).split(sep).join('/');
      const event: SQSEvent = {
        Records: [
          {
            messageId: randomUUID(),
            receiptHandle: randomUUID(),
            body: JSON.stringify({
              Records: [
                {
                  eventVersion: '2.1',
                  eventSource: 'aws:s3',
                  eventName: 'ObjectCreated:Put',
                  eventTime: new Date().toISOString(),
                  s3: {
                    s3SchemaVersion: '1.0',
                    bucket: { name: WATCH_BUCKET, arn: `arn:aws:s3:::${WATCH_BUCKET}` },
                    object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+'), size: 0 },
                  },
                },
              ],
            }),
            attributes: {
              ApproximateReceiveCount: String(entry.attempts),
              SentTimestamp: String(Date.now()),
              SenderId: 'local',
              ApproximateFirstReceiveTimestamp: String(Date.now()),
            },
            messageAttributes: {},
            md5OfBody: '',
            eventSource: 'aws:sqs',
            eventSourceARN: 'arn:aws:sqs:local:000000000000:stixflow-s3-notifications',
            awsRegion: 'local',
          },
        ],
      };
      const response = await options.handler(event, options.context());
      const ok = (response?.batchItemFailures ?? []).length === 0;
      if (ok) entry.done = signature;
      options.onFile?.({ key, ok, attempt: entry.attempts });
    }
  };

  const scan = (): Promise<void> => {
    scanning ??= scanOnce().finally(() => {
      scanning = undefined;
    });
    return scanning;
  };

  const loop = (async () => {
    while (running) {
      await scan().catch(() => undefined);
      await new Promise((r) => setTimeout(r, interval));
    }
  })();

  return {
    scan,
    async stop() {
      running = false;
      await loop;
    },
  };
}
