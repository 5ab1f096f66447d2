/**
 * Detection → alert queue → the outputs function: alerts reach their outputs by the rule's `outputs:` and the
 * stack's routes; a failing output is retried and dead-lettered while the others deliver, and detection's state
 * commit never waits for it (the outputs stage reads the alert queue after the commit).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIngestS3Handler } from '../../functions/ingest-s3.js';
import { createOutputsHandler, type OutputsDeps } from '../../functions/outputs.js';
import { InMemoryObjectStore } from '../../src/ingest/object-store.js';
import {
  FetchHttpClient,
  InMemoryDeadLetterSink,
  InMemorySecretStore,
  parseOutputsConfig,
} from '../../src/outputs/deliver.js';
import type { DeadLetter, DeadLetterSink } from '../../src/outputs/types.js';
import { slackReceiver, webhookReceiver, type Receiver } from '../outputs/receivers.js';
import { CLOUD_RULES, cloudTrailFile, s3Notification } from './channel-fixtures.js';
import { context, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

const KEY = 'whsec_outputs_test';
let webhook: Receiver;
let slack: Receiver;

beforeAll(async () => {
  [webhook, slack] = await Promise.all([webhookReceiver(KEY), slackReceiver()]);
});
afterAll(async () => {
  await Promise.all([webhook.close(), slack.close()]);
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

function outputsDeps(deadLetters: DeadLetterSink, ruleOutputs: Map<string, string[]>): OutputsDeps {
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
