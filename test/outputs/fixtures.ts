/** Alert documents for the output tests (schemas/alert.schema.json, version 2), with STIX objects of each kind. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import {
  FetchHttpClient,
  InMemoryDeadLetterSink,
  InMemorySecretStore,
  parseOutputsConfig,
  type DeliveryOptions,
} from '../../src/outputs/deliver.js';
import type { AlertDocument } from '../../src/outputs/types.js';

export const SAMPLE_OBJECTS: Record<string, unknown>[] = [
  {
    type: 'x-oca-event',
    id: 'x-oca-event--1',
    action: 'CreateAccessKey',
    x_target_arn: 'arn:aws:iam::111122223333:user/alice',
  },
  { type: 'ipv4-addr', id: 'ipv4-addr--1', value: '203.0.113.7' },
  { type: 'ipv6-addr', id: 'ipv6-addr--1', value: '2001:db8::7' },
  { type: 'domain-name', id: 'domain-name--1', value: 'evil.example' },
  { type: 'url', id: 'url--1', value: 'https://evil.example/payload' },
  {
    type: 'file',
    id: 'file--1',
    name: 'dropper.exe',
    hashes: { 'SHA-256': 'a'.repeat(64), MD5: 'b'.repeat(32) },
  },
  { type: 'email-addr', id: 'email-addr--1', value: 'alice@example.org' },
  { type: 'user-account', id: 'user-account--1', account_login: 'alice' },
  { type: 'x-oca-asset', id: 'x-oca-asset--1', hostname: 'web-1.corp.example' },
  {
    type: 'network-traffic',
    id: 'network-traffic--1',
    x_user_agent: 'aws-cli/2.15.0',
    extensions: { 'http-request-ext': { request_value: '/admin', request_header: { 'User-Agent': 'curl/8.5' } } },
  },
  // The same address again: one observable.
  { type: 'ipv4-addr', id: 'ipv4-addr--2', value: '203.0.113.7' },
];

/** A v5 UUID-shaped alert id from a number (the schema's pattern). */
export const alertId = (n: number): string =>
  `alert--${n.toString(16).padStart(8, '0')}-0000-5000-8000-${n.toString(16).padStart(12, '0')}`;

export function sampleAlert(overrides: Partial<AlertDocument> = {}): AlertDocument {
  return {
    schema: 'stixflow.alert/2',
    id: alertId(1),
    ruleId: 'ct-create-access-key',
    ruleName: 'Access key created',
    title: 'Access key created for alice',
    severity: 'high',
    description: 'An IAM access key was created <for someone>.',
    tags: ['attack.persistence', 'attack.t1098.001'],
    tenant: 'acme',
    groupKey: '',
    firstObserved: '2024-06-02T11:20:31Z',
    lastObserved: '2024-06-02T11:20:35Z',
    observedDataIds: ['observed-data--880bd327-7bf3-5521-a44b-c16646e68143'],
    sourceEventIds: ['5d0c4f6e|2024-06-02T11:20:31Z'],
    objects: SAMPLE_OBJECTS,
    created: '2026-12-02T02:50:34.761Z',
    sighting: {},
    ...overrides,
  };
}

/** Delivery options for tests: instant, recorded backoff; fetch with a 5 s timeout; dead letters in memory. */
export function testDelivery(
  outputs: unknown[],
  secrets: Record<string, string> = {},
  aws: DeliveryOptions['aws'] = {},
): DeliveryOptions & { deadLetters: InMemoryDeadLetterSink; slept: number[] } {
  const slept: number[] = [];
  return {
    outputs: parseOutputsConfig(JSON.stringify(outputs), undefined).outputs,
    secrets: new InMemorySecretStore(secrets),
    http: new FetchHttpClient(5000),
    deadLetters: new InMemoryDeadLetterSink(),
    retry: {
      maxAttempts: 3,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 0.5,
      sleep: async (ms) => void slept.push(ms),
    },
    now: () => Date.parse('2026-12-02T03:00:00Z'),
    aws,
    slept,
  };
}

export const TEST_CREDENTIALS = { accessKeyId: 'AKIDSTIXFLOWTEST', secretAccessKey: 'stixflow-test-secret' };

/** s3rver's only key pair. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** s3rver on loopback with one bucket, in a temporary directory that stop() removes. */
export async function startS3rver(bucket: string): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const directory = mkdtempSync(join(tmpdir(), 'stixflow-s3rver-outputs-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
