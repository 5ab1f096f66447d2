/**
 * The Security Hub output: the SDK's BatchImportFindings against a loopback stand-in for the Security Hub endpoint
 * that verifies the SigV4 signature and the required ASFF fields of every finding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverBatchTo } from '../../src/outputs/deliver.js';
import { asffFinding, customProductArn, findingTypes } from '../../src/outputs/securityhub.js';
import { alertId, sampleAlert, TEST_CREDENTIALS, testDelivery } from './fixtures.js';
import { originOf, securityHubReceiver } from './receivers.js';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
let hub: Awaited<ReturnType<typeof securityHubReceiver>>;
beforeAll(async () => {
  hub = await securityHubReceiver(TEST_CREDENTIALS, REGION);
});
afterAll(() => hub.close());

const securityHub = () =>
  testDelivery(
    [{ name: 'hub', kind: 'securityhub', settings: { region: REGION, accountId: ACCOUNT } }],
    {},
    {
      credentials: TEST_CREDENTIALS,
      endpoints: { securityhub: originOf(hub) },
    },
  );

const settings = { region: REGION, accountId: ACCOUNT, partition: 'aws' };

describe('Security Hub output', () => {
  it('imports ASFF findings (Id = alert id) under the custom integration, every required field present', async () => {
    const options = securityHub();
    const alerts = [
      sampleAlert({ id: alertId(1001) }),
      sampleAlert({ id: alertId(1002), severity: 'informational', tags: ['attack.t1078'], objects: [] }),
    ];
    const reports = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect(reports.map((r) => [r.delivered, r.attempts])).toEqual([
      [true, 1],
      [true, 1],
    ]);
    const got = hub.received.at(-1)!;
    expect(got.problems).toEqual([]);
    const productArn = `arn:aws:securityhub:${REGION}:${ACCOUNT}:product/${ACCOUNT}/default`;
    expect(customProductArn(settings)).toBe(productArn);
    const first = hub.findings.get(`${productArn}|${alertId(1001)}`)!;
    expect(first).toMatchObject({
      SchemaVersion: '2018-10-08',
      GeneratorId: 'stixflow/ct-create-access-key',
      AwsAccountId: ACCOUNT,
      Types: ['TTPs/Persistence/T1098.001'],
      Severity: { Label: 'HIGH', Original: 'high' },
      Title: 'Access key created for alice',
      FirstObservedAt: '2024-06-02T11:20:31Z',
    });
    const resources = first.Resources as { Type: string; Id: string }[];
    expect(resources[0]).toMatchObject({ Type: 'AwsIamUser', Id: 'arn:aws:iam::111122223333:user/alice' });
    expect(resources.map((r) => r.Id)).toContain('ip:203.0.113.7');
    // No objects: the tenant is the resource; a technique without its tactic is a TTP.
    const second = hub.findings.get(`${productArn}|${alertId(1002)}`)!;
    expect(second).toMatchObject({ Types: ['TTPs'], Severity: { Label: 'INFORMATIONAL' } });
    expect(second.Resources).toEqual([expect.objectContaining({ Type: 'Other', Id: 'stixflow:tenant/acme' })]);
  });

  it('re-imports a redelivered alert as the same finding, and sends at most 100 findings a request', async () => {
    const options = securityHub();
    const alerts = Array.from({ length: 130 }, (_, i) => sampleAlert({ id: alertId(2000 + i) }));
    const before = hub.received.length;
    await deliverBatchTo(options, options.outputs[0]!, alerts);
    await deliverBatchTo(options, options.outputs[0]!, alerts.slice(0, 5));
    const requests = hub.received.slice(before);
    expect(requests.map((r) => (r.json.Findings as unknown[]).length).sort((a, b) => a - b)).toEqual([5, 30, 100]);
    expect(requests.every((r) => r.problems.length === 0)).toBe(true);
    // 135 findings imported, 130 kept: the five again updated theirs.
    const wanted = new Set(alerts.map((a) => a.id));
    expect([...hub.findings.values()].filter((f) => wanted.has(f.Id as string))).toHaveLength(130);
  });

  it('maps ATT&CK tags to ASFF types and retries the endpoint when it fails', async () => {
    expect(findingTypes(['attack.initial_access', 'attack.t1190', 'attack.exfiltration', 'cve.2021-44228'])).toEqual([
      'TTPs/Initial Access/T1190',
      'Effects/Data Exfiltration',
    ]);
    expect(findingTypes([])).toEqual(['Unusual Behaviors']);
    expect(asffFinding(sampleAlert({ description: 'd'.repeat(5000) }), settings).Description).toHaveLength(1024);
    const options = securityHub();
    hub.failNext(1, 503);
    const [report] = await deliverBatchTo(options, options.outputs[0]!, [sampleAlert({ id: alertId(3001) })]);
    expect(report).toEqual({ output: 'hub', delivered: true, attempts: 2 });
    hub.failNext(5, 400);
    const [refused] = await deliverBatchTo(options, options.outputs[0]!, [sampleAlert({ id: alertId(3002) })]);
    expect(refused).toMatchObject({ delivered: false, attempts: 1 });
    expect(options.deadLetters.letters.map((l) => l.alertId)).toEqual([alertId(3002)]);
    hub.failNext(0, 500);
  });
});
