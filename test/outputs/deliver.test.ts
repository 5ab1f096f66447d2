import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deliverAlert,
  type InMemoryDeadLetterSink,
  InMemorySecretStore,
  outputsFor,
  parseOutputsConfig,
  type DeliveryOptions,
} from '../../src/outputs/deliver.js';
import type { AlertDocument } from '../../src/outputs/types.js';
import { testDelivery } from './fixtures.js';
import { pagerDutyReceiver, slackReceiver, webhookReceiver, type Receiver } from './receivers.js';

const SIGNING_KEY = 'whsec_test_0123456789';
const ROUTING_KEY = 'R0123456789ABCDEF0123456789ABCDE';

function alert(overrides: Partial<AlertDocument> = {}): AlertDocument {
  return {
    schema: 'stixflow.alert/1',
    id: 'alert--b57f88a8-6fd4-58a0-80a4-c8c576818db7',
    ruleId: 'ct-create-access-key',
    ruleName: 'Access key created',
    severity: 'high',
    description: 'An IAM access key was created <for someone>.',
    tags: ['attack.t1098.001'],
    tenant: 'acme',
    groupKey: '',
    firstObserved: '2024-06-02T11:20:31Z',
    lastObserved: '2024-06-02T11:20:31Z',
    observedDataIds: ['observed-data--880bd327-7bf3-5521-a44b-c16646e68143'],
    sourceEventIds: ['5d0c4f6e|2024-06-02T11:20:31Z'],
    objects: [],
    created: '2026-12-02T02:50:34.761Z',
    ...overrides,
  };
}

let webhook: Receiver;
let slack: Receiver;
let pagerduty: Receiver;
let options: DeliveryOptions;
let deadLetters: InMemoryDeadLetterSink;
let slept: number[] = [];

beforeAll(async () => {
  [webhook, slack, pagerduty] = await Promise.all([webhookReceiver(SIGNING_KEY), slackReceiver(), pagerDutyReceiver()]);
});
afterAll(async () => {
  await Promise.all([webhook.close(), slack.close(), pagerduty.close()]);
});

function setup() {
  const delivery = testDelivery(
    [
      { name: 'soc', kind: 'webhook', secret: 'stixflow/soc' },
      { name: 'chat', kind: 'slack', secret: 'stixflow/chat' },
      { name: 'oncall', kind: 'pagerduty', secret: 'stixflow/oncall' },
    ],
    {
      'stixflow/soc': JSON.stringify({ url: webhook.url, signingKey: SIGNING_KEY }),
      'stixflow/chat': JSON.stringify({ url: slack.url }),
      'stixflow/oncall': JSON.stringify({ routingKey: ROUTING_KEY, url: pagerduty.url }),
    },
  );
  options = delivery;
  deadLetters = delivery.deadLetters;
  slept = delivery.slept;
}

describe('output delivery', () => {
  it('sends each output its published format: a signed webhook, a Slack message, a PagerDuty trigger keyed by the alert id', async () => {
    setup();
    const reports = await deliverAlert(options, alert(), ['soc', 'chat', 'oncall']);
    expect(reports.map((r) => [r.output, r.delivered, r.attempts])).toEqual([
      ['soc', true, 1],
      ['chat', true, 1],
      ['oncall', true, 1],
    ]);
    for (const r of [webhook, slack, pagerduty]) expect(r.received.at(-1)!.problems).toEqual([]);
    expect(webhook.received.at(-1)!.json.id).toBe(alert().id);
    expect(webhook.received.at(-1)!.headers['x-stixflow-timestamp']).toBe(
      String(Date.parse('2026-12-02T03:00:00Z') / 1000),
    );
    const pd = pagerduty.received.at(-1)!.json as { dedup_key: string; payload: { severity: string } };
    expect(pd.dedup_key).toBe(alert().id);
    expect(pd.payload.severity).toBe('error');
    const message = slack.received.at(-1)!.json as { text: string; blocks: { type: string }[] };
    expect(message.text).toBe('HIGH: Access key created (tenant acme)');
    // mrkdwn is escaped: a description cannot inject links or mentions.
    expect(JSON.stringify(message.blocks)).toContain('&lt;for someone&gt;');
  });

  it('retries a failing output with backoff, dead-letters it, and delivers the others all the same', async () => {
    setup();
    pagerduty.failNext(10, 503);
    const before = slack.received.length;
    const reports = await deliverAlert(options, alert({ id: 'alert--two' }), ['chat', 'oncall']);
    expect(reports).toEqual([
      { output: 'chat', delivered: true, attempts: 1 },
      { output: 'oncall', delivered: false, attempts: 3, reason: 'HTTP 503 (unavailable)' },
    ]);
    expect(slack.received.length).toBe(before + 1);
    // Full-jitter backoff, doubling (jitter fixed at one half here).
    expect(slept).toEqual([50, 100]);
    expect(deadLetters.letters).toEqual([
      expect.objectContaining({ output: 'oncall', kind: 'pagerduty', alertId: 'alert--two', attempts: 3 }),
    ]);
    // The dead letter holds the alert to replay, and no secret.
    expect(JSON.stringify(deadLetters.letters)).not.toContain(ROUTING_KEY);
    pagerduty.failNext(0, 500);
  });

  it('does not retry what the receiver refuses as wrong, and dead-letters an unknown output or unusable settings', async () => {
    setup();
    webhook.failNext(1, 400);
    const [refused] = await deliverAlert(options, alert({ id: 'alert--three' }), ['soc']);
    expect(refused).toMatchObject({ delivered: false, attempts: 1 });
    const [unknown] = await deliverAlert(options, alert({ id: 'alert--four' }), ['nope']);
    expect(unknown).toMatchObject({ delivered: false, reason: 'no output named nope is configured' });
    options.secrets = new InMemorySecretStore({ 'stixflow/chat': '{"nourl":1}' });
    const [unusable] = await deliverAlert(options, alert({ id: 'alert--five' }), ['chat']);
    expect(unusable).toMatchObject({ delivered: false, attempts: 0, reason: expect.stringContaining('has no "url"') });
    expect(deadLetters.letters.map((l) => l.alertId)).toEqual(['alert--three', 'alert--four', 'alert--five']);
  });

  it("routes by the rule's own outputs and the stack's routes (rule, severity, tag, tenant)", () => {
    const { routes } = parseOutputsConfig(
      JSON.stringify([
        { name: 'soc', kind: 'webhook', secret: 's1' },
        { name: 'chat', kind: 'slack', secret: 's2' },
        { name: 'oncall', kind: 'pagerduty', secret: 's3' },
      ]),
      JSON.stringify([
        { outputs: ['soc'] },
        { outputs: ['oncall'], minSeverity: 'critical' },
        { outputs: ['chat'], tags: ['attack.t1078'], tenants: ['acme'] },
        { outputs: ['chat'], ruleIds: ['special'] },
      ]),
    );
    expect(outputsFor(alert(), [], routes)).toEqual(['soc']);
    expect(outputsFor(alert({ severity: 'critical' }), [], routes)).toEqual(['soc', 'oncall']);
    expect(outputsFor(alert({ tags: ['attack.t1078'] }), [], routes)).toEqual(['soc', 'chat']);
    expect(outputsFor(alert({ tags: ['attack.t1078'], tenant: 'other' }), [], routes)).toEqual(['soc']);
    expect(outputsFor(alert({ ruleId: 'special' }), ['oncall'], routes)).toEqual(['oncall', 'soc', 'chat']);
    expect(() => parseOutputsConfig('[{"name":"a","kind":"fax","secret":"s"}]', '[{"outputs":["b"]}]')).toThrow(
      /kind must be one of[\s\S]*names no output "b"/,
    );
  });
});
