/**
 * In-process AWS emulators for tests and the one-command local stack: dynalite for DynamoDB and
 * fauxqs for SQS, both bound to 127.0.0.1 on a free port. Nothing here talks to AWS; clients use
 * dummy credentials. dynalite keeps its tables in memory, or in a LevelDB directory (`path`)
 * that survives restarts; fauxqs is in memory only (it has no persistence), so the local stack
 * journals what it queues itself (src/local/data-dir.ts).
 * The local stack, the tests and the benches share this start-up; it depends on no handler.
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { StixflowError } from '../errors.js';
import { QueueConfigError } from '../queue/errors.js';
import { TTL_ATTRIBUTE, createStateTableInput } from '../state/table-schema.js';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
const LOOPBACK = '127.0.0.1';

/** An emulator failed to start, stop, or reach the state the caller asked for. */
export class EmulatorError extends StixflowError {
  constructor(message: string, options?: ErrorOptions) {
    super('emulator', message, [], options);
  }
}

export interface RunningDynamo {
  endpoint: string;
  client: DynamoDBClient;
  /** Destroys the client, drops open connections and closes the server and its database (releasing a `path`). */
  stop(): Promise<void>;
}

export interface RunningSqs {
  endpoint: string;
  client: SQSClient;
  stop(): Promise<void>;
}

interface DynaliteOptions {
  /** LevelDB directory: tables persist there (in memory without it). */
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  maxItemSizeKb?: number;
}
type DynaliteFactory = (options?: DynaliteOptions) => Server;

// dynalite is CommonJS and ships no type declarations; this is the one function we use from it.
const requireCjs = createRequire(import.meta.url);

export interface StartDynamoOptions {
  /**
   * Directory for dynalite's LevelDB files: tables and items persist there across restarts
   * (created if missing; one running emulator per directory). In memory when absent.
   */
  path?: string;
}

export async function startDynamo(options: StartDynamoOptions = {}): Promise<RunningDynamo> {
  const dynalite = requireCjs('dynalite') as DynaliteFactory;
  if (options.path !== undefined) mkdirSync(options.path, { recursive: true });
  // Tables become ACTIVE immediately: tests should not wait out a simulated provisioning delay.
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(options.path !== undefined ? { path: options.path } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const endpoint = `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    client,
    stop: () => {
      stopped ??= (async () => {
        client.destroy();
        await new Promise<void>((resolve, reject) => {
          server.close((error?: Error) => (error ? reject(error) : resolve()));
          // Keep-alive sockets would otherwise hold close() (and the test process) open.
          server.closeAllConnections();
        });
      })();
      return stopped;
    },
  };
}

export async function startSqs(): Promise<RunningSqs> {
  // buildApp rather than startFauxqs: startFauxqs always listens on 0.0.0.0, and tests stay on loopback.
  const app = buildApp({ logger: false, defaultRegion: LOCAL_REGION });
  const address = await app.listen({ port: 0, host: LOOPBACK });
  const endpoint = `http://${LOOPBACK}:${new URL(address).port}`;
  const client = new SQSClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    client,
    stop: () => {
      stopped ??= (async () => {
        client.destroy();
        // fauxqs builds Fastify with forceCloseConnections, so close() also ends keep-alive sockets and long polls.
        await app.close();
      })();
      return stopped;
    },
  };
}

/**
 * Creates the state table if missing, waits for it to be ACTIVE, and enables TTL where the
 * backend supports it (dynalite does not: it neither accepts UpdateTimeToLive nor deletes
 * expired items, which the stores tolerate by treating expired items as absent).
 */
export async function ensureStateTable(
  client: DynamoDBClient,
  tableName: string,
): Promise<{ created: boolean; ttlEnabled: boolean }> {
  let created = true;
  try {
    await client.send(new CreateTableCommand(createStateTableInput(tableName)));
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
    created = false;
  }
  for (let attempt = 0; ; attempt += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (attempt >= 100) throw new EmulatorError(`table ${tableName} did not become ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
      }),
    );
    return { created, ttlEnabled: true };
  } catch (error) {
    const name = errorName(error);
    if (name === 'UnknownOperationException') return { created, ttlEnabled: false };
    // Real DynamoDB refuses to enable TTL twice; that means it is already on.
    if (name === 'ValidationException' && /already enabled/i.test(error instanceof Error ? error.message : '')) {
      return { created, ttlEnabled: true };
    }
    throw error;
  }
}

export interface EnsureQueueOptions {
  /** FIFO queue; defaults to whether the name ends in .fifo, and requires that suffix. */
  fifo?: boolean;
  /** Dead-letter queue created alongside (FIFO too when the main queue is) and wired by RedrivePolicy. */
  dlq?: { name: string; maxReceiveCount: number };
  /** Visibility timeout of the main queue in seconds; SQS default (30) when absent. */
  visibilityTimeoutSeconds?: number;
}

/** Creates the queue (and its DLQ) if missing and returns the queue URL. Idempotent for the same options. */
export async function ensureQueue(client: SQSClient, name: string, options: EnsureQueueOptions = {}): Promise<string> {
  const fifo = options.fifo ?? name.endsWith('.fifo');
  checkFifoName(name, fifo);
  const attributes: Record<string, string> = {};
  if (fifo) attributes.FifoQueue = 'true';
  if (options.visibilityTimeoutSeconds !== undefined)
    attributes.VisibilityTimeout = String(options.visibilityTimeoutSeconds);
  if (options.dlq) {
    checkFifoName(options.dlq.name, fifo);
    if (!(
      Number.isInteger(options.dlq.maxReceiveCount) &&
      options.dlq.maxReceiveCount >= 1 &&
      options.dlq.maxReceiveCount <= 1000
    )) {
      throw new QueueConfigError('dlq.maxReceiveCount must be an integer from 1 to 1000');
    }
    const dlqUrl = await createQueue(client, options.dlq.name, fifo ? { FifoQueue: 'true' } : {});
    const { Attributes } = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }),
    );
    const dlqArn = Attributes?.QueueArn;
    if (!dlqArn) throw new EmulatorError(`queue ${options.dlq.name} has no QueueArn`);
    attributes.RedrivePolicy = JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: options.dlq.maxReceiveCount,
    });
  }
  return createQueue(client, name, attributes);
}

function checkFifoName(name: string, fifo: boolean): void {
  if (fifo !== name.endsWith('.fifo')) {
    throw new QueueConfigError(`queue ${name}: a FIFO queue name must end in .fifo and only a FIFO queue's may`);
  }
}

async function createQueue(client: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  if (!QueueUrl) throw new EmulatorError(`CreateQueue ${name} returned no URL`);
  return QueueUrl;
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'name' in error
    ? String((error as { name: unknown }).name)
    : undefined;
}
