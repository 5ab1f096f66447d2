/**
 * Detection → alert queue → the outputs function: alerts reach their outputs by the rule's `outputs:` and the
 * stack's routes; a failing output is retried and dead-lettered while the others deliver, and detection's state
 * commit never waits for it (the outputs stage reads the alert queue after the commit).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../functions/config.js';
import { createIngestHttpHandler } from '../../functions/ingest-http.js';
import { createIngestS3Handler } from '../../functions/ingest-s3.js';
import { createOutputsHandler, outputsDepsFromEnv, type OutputsDeps } from '../../functions/outputs.js';
import { LayeredRuleOutputs, RuleLayers, type RuleOutputs } from '../../functions/rule-layers.js';
import { createRulesApiHandler } from '../../functions/rules-api.js';
import { HandlerRuntime } from '../../functions/runtime.js';
import { ensureStateTable, startDynamo } from '../../src/emulators/emulators.js';
import { InMemoryObjectStore } from '../../src/ingest/object-store.js';
import {
  FetchHttpClient,
  InMemoryDeadLetterSink,
  InMemorySecretStore,
  parseOutputsConfig,
} from '../../src/outputs/deliver.js';
import type { DeadLetter, DeadLetterSink } from '../../src/outputs/types.js';
import { DynamoDbRuleStore, InMemoryRuleStore } from '../../src/state/rule-store.js';
import { S3RVER_CREDENTIALS, startS3rver } from '../outputs/fixtures.js';
import {
  bulkReceiver,
  originOf,
  securityHubReceiver,
  slackReceiver,
  theHiveReceiver,
  webhookReceiver,
  type BulkReceiver,
  type Receiver,
} from '../outputs/receivers.js';
import { CLOUD_RULES, cloudTrailFile, s3Notification } from './channel-fixtures.js';
import { context, httpEvent, RULES_DIR, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

const KEY = 'whsec_outputs_test';
let webhook: Receiver;
let slack: Receiver;

const REGION = 'us-east-1';
// s3rver accepts only its own key; fauxqs and the Security Hub stand-in take any (the stand-in verifies the signature).
const TEST_CREDENTIALS = S3RVER_CREDENTIALS;
let hive: Awaited<ReturnType<typeof theHiveReceiver>>;
let hub: Awaited<ReturnType<typeof securityHubReceiver>>;
let search: BulkReceiver;
let fauxqs: ReturnType<typeof buildApp>;
let awsEndpoint: string;
let s3rver: Awaited<ReturnType<typeof startS3rver>>;
let s3Endpoint: string;

beforeAll(async () => {
  [webhook, slack, hive, hub, search] = await Promise.all([
    webhookReceiver(KEY),
    slackReceiver(),
    theHiveReceiver('hive-key'),
    securityHubReceiver(TEST_CREDENTIALS, REGION),
    bulkReceiver({ kind: 'basic', username: 'u', password: 'p' }, 'stixflow-alerts'),
  ]);
  fauxqs = buildApp({ logger: false, defaultRegion: REGION });
  awsEndpoint = `http://127.0.0.1:${new URL(await fauxqs.listen({ port: 0, host: '127.0.0.1' })).port}`;
  s3rver = await startS3rver('archive');
  s3Endpoint = s3rver.endpoint;
});
afterAll(async () => {
  await Promise.all([webhook.close(), slack.close(), hive.close(), hub.close(), search.close()]);
  await fauxqs.close();
  await s3rver.stop();
});

function rulesWithOutputs(): string {
  const dir = mkdtempSync(join(tmpdir(), 'stixflow-outputs-rules-'));
  // The access-key rule also names its own output.
  writeFileSync(
    join(dir, 'cloud.yaml'),
    CLOUD_RULES.replace('    tags: [attack.t1098.001]\n', '    tags: [attack.t1098.001]\n    outputs: [chat]\n'),
  );
  return dir;
}

function outputsDeps(deadLetters: DeadLetterSink, ruleOutputs: RuleOutputs): OutputsDeps {
  const config = parseOutputsConfig(
    JSON.stringify([
      { name: 'soc', kind: 'webhook', secret: 'stixflow/soc' },
      { name: 'chat', kind: 'slack', secret: 'stixflow/chat' },
    ]),
    JSON.stringify([{ outputs: ['soc'], minSeverity: 'medium' }]),
  );
  return {
    routes: config.routes,
    ruleOutputs,
    delivery: {
      outputs: config.outputs,
      secrets: new InMemorySecretStore({
        'stixflow/soc': JSON.stringify({ url: webhook.url, signingKey: KEY }),
        'stixflow/chat': JSON.stringify({ url: slack.url }),
      }),
      http: new FetchHttpClient(5000),
      deadLetters,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, random: () => 0, sleep: async () => undefined },
    },
  };
}

describe('the outputs function on the alert queue', () => {
  it('delivers by rule and route, dead-letters a failing webhook without holding the others or the state commit', async () => {
    const t = testRuntime({ RULES_DIR: rulesWithOutputs() });
    const ruleOutputs = new Map(t.runtime.rules.map((r) => [r.id, r.outputs ?? []]));
    expect(ruleOutputs.get('ct-create-access-key')).toEqual(['chat']);
    const objects = new InMemoryObjectStore();
    objects.put(
      'trail',
      'AWSLogs/a.json',
      cloudTrailFile(11, 0).replace('"eventName":"GetObject"', '"eventName":"ConsoleLogin"'),
    );
    const ingest = createIngestS3Handler(
      () => t.runtime,
      () => ({ objects, routes: [] }),
    );
    const notification = sqsRecord('n-1', s3Notification([{ bucket: 'trail', key: 'AWSLogs/a.json' }]));
    expect((await ingest(sqsEvent(notification), context())).batchItemFailures).toEqual([]);
    const alerts = await t.sink.drain();
    // Records 0 and 10 are CreateAccessKey (high), record 1 became a ConsoleLogin (medium).
    expect(alerts.map((a) => `${a.ruleId}:${a.severity}`).sort()).toEqual([
      'ct-console-login:medium',
      'ct-create-access-key:high',
      'ct-create-access-key:high',
    ]);

    webhook.failNext(100, 502);
    const deadLetters = new InMemoryDeadLetterSink();
    const outputs = createOutputsHandler(() => outputsDeps(deadLetters, ruleOutputs));
    const slackBefore = slack.received.length;
    const response = await outputs(
      sqsEvent(...alerts.map((a, i) => sqsRecord(`a-${i}`, JSON.stringify(a)))),
      context('outputs'),
    );
    expect(response.batchItemFailures).toEqual([]);
    // Slack: the two access-key alerts (the rule's own output), each once and as Slack's format asks.
    const toSlack = slack.received.slice(slackBefore);
    expect(toSlack).toHaveLength(2);
    expect(toSlack.every((r) => r.problems.length === 0)).toBe(true);
    // The webhook (every alert of medium and up) kept failing: three attempts each, then one dead letter each.
    expect(deadLetters.letters.map((l) => `${l.output}:${l.alert.ruleId}:${l.attempts}`).sort()).toEqual([
      'soc:ct-console-login:3',
      'soc:ct-create-access-key:3',
      'soc:ct-create-access-key:3',
    ]);
    // Detection committed regardless: the same object again raises nothing new.
    expect((await ingest(sqsEvent(notification), context())).batchItemFailures).toEqual([]);
    expect(await t.sink.drain()).toEqual([]);
    webhook.failNext(0, 500);
  });

  it('fails the message only when a dead letter cannot be stored, so the queue brings the alert back', async () => {
    const broken: DeadLetterSink = {
      put: async (_letter: DeadLetter) => {
        throw new Error('dead-letter queue unavailable');
      },
    };
    webhook.failNext(100, 503);
    const outputs = createOutputsHandler(() => outputsDeps(broken, new Map()));
    const alert = {
      schema: 'stixflow.alert/1',
      id: 'alert--x',
      ruleId: 'r',
      ruleName: 'R',
      severity: 'high',
      description: '',
      tags: [],
      tenant: 't',
      groupKey: '',
      firstObserved: '2024-01-01T00:00:00Z',
      lastObserved: '2024-01-01T00:00:00Z',
      observedDataIds: [],
      sourceEventIds: [],
    };
    const response = await outputs(sqsEvent(sqsRecord('a-1', JSON.stringify(alert))), context('outputs'));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'a-1' }]);
    webhook.failNext(0, 500);
  });
});

describe('the outputs function with every kind of output', () => {
  it('delivers to SNS, the S3 archive, TheHive and Security Hub while a failing OpenSearch is retried and dead-lettered', async () => {
    const t = testRuntime({ RULES_DIR: rulesWithOutputs() });
    const objects = new InMemoryObjectStore();
    objects.put(
      'trail',
      'AWSLogs/b.json',
      cloudTrailFile(11, 0).replace('"eventName":"GetObject"', '"eventName":"ConsoleLogin"'),
    );
    const ingest = createIngestS3Handler(
      () => t.runtime,
      () => ({ objects, routes: [] }),
    );
    await ingest(sqsEvent(sqsRecord('n-2', s3Notification([{ bucket: 'trail', key: 'AWSLogs/b.json' }]))), context());
    const alerts = await t.sink.drain();
    expect(alerts).toHaveLength(3);

    const sns = new SNSClient({ endpoint: awsEndpoint, region: REGION, credentials: TEST_CREDENTIALS });
    const sqs = new SQSClient({ endpoint: awsEndpoint, region: REGION, credentials: TEST_CREDENTIALS });
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: 'alerts' }));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'alert-subscriber' }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: 'sqs',
        Endpoint: Attributes!.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );

    const config = parseOutputsConfig(
      JSON.stringify([
        { name: 'topic', kind: 'sns', settings: { topicArn: TopicArn } },
        { name: 'archive', kind: 's3', settings: { bucket: 'archive', prefix: 'alerts/' } },
        { name: 'hive', kind: 'thehive', secret: 'stixflow/hive' },
        { name: 'hub', kind: 'securityhub', settings: { region: REGION, accountId: '111122223333' } },
        {
          name: 'search',
          kind: 'opensearch',
          settings: { endpoint: originOf(search), auth: 'basic' },
          secret: 'stixflow/search',
        },
      ]),
      JSON.stringify([{ outputs: ['topic', 'archive', 'hive', 'hub', 'search'] }]),
    );
    // The cluster is down for the whole batch: every attempt of the bulk (and of its template) fails.
    search.failNext(100, 503);
    const deadLetters = new InMemoryDeadLetterSink();
    const outputs = createOutputsHandler(() => ({
      routes: config.routes,
      ruleOutputs: new Map(),
      delivery: {
        outputs: config.outputs,
        secrets: new InMemorySecretStore({
          'stixflow/hive': JSON.stringify({ url: originOf(hive), apiKey: 'hive-key' }),
          'stixflow/search': JSON.stringify({ username: 'u', password: 'p' }),
        }),
        http: new FetchHttpClient(5000),
        deadLetters,
        retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, random: () => 0, sleep: async () => undefined },
        aws: {
          region: REGION,
          credentials: TEST_CREDENTIALS,
          endpoints: { sns: awsEndpoint, securityhub: originOf(hub), s3: s3Endpoint },
        },
      },
    }));
    const hubBefore = hub.received.length;
    const response = await outputs(
      sqsEvent(...alerts.map((a, i) => sqsRecord(`b-${i}`, JSON.stringify(a)))),
      context('outputs'),
    );
    expect(response.batchItemFailures).toEqual([]);
    const ids = alerts.map((a) => a.id as string).sort();

    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(Messages.map((m) => (JSON.parse(m.Body!) as { id: string }).id).sort()).toEqual(ids);
    const s3 = new S3Client({
      endpoint: s3Endpoint,
      region: REGION,
      forcePathStyle: true,
      credentials: TEST_CREDENTIALS,
    });
    const { Contents = [] } = await s3.send(new ListObjectsV2Command({ Bucket: 'archive', Prefix: 'alerts/' }));
    // Two rules, raised today: two partitions, one object each.
    expect(Contents.map((c) => c.Key!.split('/').slice(1, 3).join('/')).sort()).toEqual(
      [...new Set(alerts.map((a) => `dt=${String(a.created).slice(0, 10)}/rule=${String(a.ruleId)}`))].sort(),
    );
    expect([...hive.alerts.values()].map((a) => a.sourceRef).sort()).toEqual(ids);
    // One BatchImportFindings for the three, as Security Hub asks.
    expect(hub.received.slice(hubBefore).map((r) => [(r.json.Findings as unknown[]).length, r.problems])).toEqual([
      [3, []],
    ]);
    expect(deadLetters.letters.map((l) => `${l.output}:${l.kind}:${l.attempts}:${l.reason}`)).toEqual(
      alerts.map(() => 'search:opensearch:3:index template not installed: HTTP 503'),
    );
    search.failNext(0, 500);
    sns.destroy();
    sqs.destroy();
    s3.destroy();
  });
});

describe("the outputs of rules from the runtime rule store (#17): routed as the bundle's are", () => {
  const shellRule = (id: string, name: string, outputs?: string[]) =>
    [
      `id: ${id}`,
      `name: ${name}`,
      'severity: low',
      `pattern: "[process:name = 'bash' AND process:parent_ref.name = 'nginx']"`,
      ...(outputs ? [`outputs: [${outputs.join(', ')}]`] : []),
      '',
    ].join('\n');
  let now = Date.parse('2026-01-03T12:00:00Z');
  const clock = () => now;
  let events = 0;
  const shellEvent = () =>
    JSON.stringify({
      event_type: 'process_create',
      process_name: 'bash',
      parent_process_name: 'nginx',
      host: `web-${++events}`,
      timestamp: new Date(now - 1000).toISOString(),
      event_id: `store-outputs-${events}`,
    });
  /** The rule names of the Slack messages ("LOW: <rule name>") the handler sent for one event's alerts. */
  const toChat = async (
    ingest: ReturnType<typeof createIngestHttpHandler>,
    sink: { drain(): Promise<Record<string, unknown>[]> },
    outputs: ReturnType<typeof createOutputsHandler>,
  ): Promise<string[]> => {
    expect((await ingest(httpEvent({ body: shellEvent() }), context())).statusCode).toBe(202);
    const alerts = await sink.drain();
    const before = slack.received.length;
    const response = await outputs(
      sqsEvent(...alerts.map((a, i) => sqsRecord(`s-${events}-${i}`, JSON.stringify(a)))),
      context('outputs'),
    );
    expect(response.batchItemFailures).toEqual([]);
    return slack.received
      .slice(before)
      .map((r) => String(r.json.text).replace(/^LOW: (.*) \(tenant [^)]*\)$/, '$1'))
      .sort();
  };

  it("sends a new store rule's first alert to its outputs, applies a change within the refresh interval, and lets a store rule replace a bundle rule's outputs", async () => {
    const bundleDir = mkdtempSync(join(tmpdir(), 'stixflow-store-outputs-'));
    writeFileSync(join(bundleDir, 'shell.yaml'), shellRule('bundle-shell', 'Bundle shell', ['chat']));
    const store = new InMemoryRuleStore();
    const t = testRuntime({ RULES_DIR: bundleDir, RULE_STORE_REFRESH_SECONDS: '0' }, { ruleStore: store, now: clock });
    const ingest = createIngestHttpHandler(() => t.runtime);
    // The outputs function's own reads of the store (ingest reads the same store on every event here).
    let reads = 0;
    const reader = { storeVersion: () => (reads++, store.storeVersion()), list: () => store.list() };
    const ruleOutputs = new LayeredRuleOutputs(new RuleLayers(bundleDir), reader, { refreshSeconds: 60, now: clock });
    const outputs = createOutputsHandler(() => outputsDeps(new InMemoryDeadLetterSink(), ruleOutputs));
    expect(await toChat(ingest, t.sink, outputs)).toEqual(['Bundle shell']);
    expect(reads).toBe(1);

    // Created after the outputs function last read the store: its first alert makes it read the store at once.
    const by = { status: 'loaded' as const, by: 'alice', at: new Date(now).toISOString() };
    store.put({ id: 'store-shell', source: shellRule('store-shell', 'Store shell', ['chat']), ...by });
    now += 1000;
    expect(await toChat(ingest, t.sink, outputs)).toEqual(['Bundle shell', 'Store shell']);
    expect(reads).toBe(2);
    // Known rules: no read before the interval is up.
    now += 1000;
    expect(await toChat(ingest, t.sink, outputs)).toEqual(['Bundle shell', 'Store shell']);
    expect(reads).toBe(2);

    // The store rule drops its output, and a store rule replaces the bundle rule without one.
    store.put({ id: 'store-shell', source: shellRule('store-shell', 'Store shell'), ...by });
    store.put({ id: 'bundle-shell', source: shellRule('bundle-shell', 'Bundle shell replaced'), ...by });
    // Ingest runs the new definitions at once (it reads the store on every event here); the outputs function
    // routes by the outputs it read until its refresh interval is up, 60 s after its last read.
    now += 57_000; // 58 s since its last read
    expect(await toChat(ingest, t.sink, outputs)).toEqual(['Bundle shell replaced', 'Store shell']);
    expect(reads).toBe(2);
    now += 2000; // 60 s
    expect(await toChat(ingest, t.sink, outputs)).toEqual([]);
    expect(reads).toBe(3);

    // Deleted from the store: the bundle rule and its output are back.
    store.remove('bundle-shell');
    now += 60_000;
    expect(await toChat(ingest, t.sink, outputs)).toEqual(['Bundle shell']);
  });

  it('reads the store in the state table through the rules API path (dynalite), and keeps the outputs in force when the store cannot be read', async () => {
    const dynamo = await startDynamo();
    try {
      const tableName = 'store-outputs';
      await ensureStateTable(dynamo.client, tableName);
      const env = {
        TABLE_NAME: tableName,
        ALERT_QUEUE_URL: 'https://sqs.local/alerts.fifo',
        RULES_DIR,
        RULE_OVERRIDES_REFRESH_SECONDS: '0',
        RULE_STORE_REFRESH_SECONDS: '0',
      };
      const ingestStore = new DynamoDbRuleStore({ client: dynamo.client, tableName });
      const t = testRuntime(env, { ruleStore: ingestStore, now: clock });
      const api = new HandlerRuntime(readConfig({ ...env, ALERT_QUEUE_URL: '' }, 'rules-api'), {
        counters: t.counters,
        overrides: t.overrides,
        dynamo: dynamo.client,
        now: clock,
      });
      const rulesApi = createRulesApiHandler(() => api, clock);
      let failing = false;
      const reader = {
        storeVersion: () => (failing ? Promise.reject(new Error('unreachable')) : ingestStore.storeVersion()),
        list: () => ingestStore.list(),
      };
      const readErrors: unknown[] = [];
      const ruleOutputs = new LayeredRuleOutputs(new RuleLayers(RULES_DIR), reader, {
        refreshSeconds: 60,
        now: clock,
        onReadError: (error) => readErrors.push(error),
      });
      const outputs = createOutputsHandler(() => outputsDeps(new InMemoryDeadLetterSink(), ruleOutputs));
      const ingest = createIngestHttpHandler(() => t.runtime);
      expect(await toChat(ingest, t.sink, outputs)).toEqual([]);

      const created = await rulesApi(
        httpEvent({
          method: 'POST',
          path: '/rules',
          body: JSON.stringify({ source: shellRule('store-shell', 'Store shell', ['chat']) }),
          authorizer: { jwt: { claims: { sub: 'alice', tenant: 'tenant-a' }, scopes: ['stixflow/rules.admin'] } },
        }),
        context('rules-api'),
      );
      expect(created.statusCode).toBe(201);
      expect(await toChat(ingest, t.sink, outputs)).toEqual(['Store shell']);

      failing = true;
      now += 60_000;
      expect(await toChat(ingest, t.sink, outputs)).toEqual(['Store shell']);
      expect(readErrors).toHaveLength(1);
    } finally {
      await dynamo.stop();
    }
  });

  it('builds the layered outputs from the environment when the function has the state table', () => {
    const base = { OUTPUT_DLQ_URL: 'https://sqs.local/dlq', RULES_DIR };
    expect(outputsDepsFromEnv({ ...base, TABLE_NAME: 'state' }).ruleOutputs).toBeInstanceOf(LayeredRuleOutputs);
    expect(outputsDepsFromEnv(base).ruleOutputs).toBeInstanceOf(Map);
    expect(() => outputsDepsFromEnv({ ...base, TABLE_NAME: 'state', RULE_STORE_REFRESH_SECONDS: 'soon' })).toThrow(
      /RULE_STORE_REFRESH_SECONDS/,
    );
  });
});
