/** The TheHive output against a loopback TheHive 5 alert API that checks InputAlert and refuses duplicates. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverAlerts, deliverBatchTo } from '../../src/outputs/deliver.js';
import { alertObservables } from '../../src/outputs/observables.js';
import { alertId, sampleAlert, testDelivery } from './fixtures.js';
import { originOf, theHiveReceiver } from './receivers.js';

const API_KEY = 'thehive-api-key-0123';
let hive: Awaited<ReturnType<typeof theHiveReceiver>>;
beforeAll(async () => {
  hive = await theHiveReceiver(API_KEY);
});
afterAll(() => hive.close());

const setup = (extra: Record<string, unknown> = {}) =>
  testDelivery([{ name: 'hive', kind: 'thehive', secret: 'stixflow/hive' }], {
    'stixflow/hive': JSON.stringify({ url: `${originOf(hive)}/thehive/`, apiKey: API_KEY, ...extra }),
  });

describe('TheHive output', () => {
  it('derives observables from the STIX objects, each type and value once', () => {
    expect(alertObservables(sampleAlert()).map((o) => `${o.dataType}=${o.data}`)).toEqual([
      'ip=203.0.113.7',
      'ip=2001:db8::7',
      'domain=evil.example',
      'url=https://evil.example/payload',
      'filename=dropper.exe',
      `hash=${'a'.repeat(64)}`,
      `hash=${'b'.repeat(32)}`,
      'mail=alice@example.org',
      'other=alice',
      'fqdn=web-1.corp.example',
      'user-agent=curl/8.5',
      'uri_path=/admin',
    ]);
    const cut = sampleAlert({
      objects: [{ type: 'url', value: 'https://x/…[truncated by stixflow: 9000 characters]' }],
    });
    expect(alertObservables(cut)).toEqual([]);
  });

  it('creates an alert keyed by sourceRef = alert id, with severity, tags, TLP/PAP and observables', async () => {
    const options = setup({ tlp: 3, pap: 1, organisation: 'soc' });
    const [report] = await deliverBatchTo(options, options.outputs[0]!, [sampleAlert()]);
    expect(report).toEqual({ output: 'hive', delivered: true, attempts: 1 });
    const got = hive.received.at(-1)!;
    expect(got.problems).toEqual([]);
    expect(got.path).toBe('/thehive/api/v1/alert');
    expect(got.headers['x-organisation']).toBe('soc');
    expect(got.json).toMatchObject({
      type: 'stixflow',
      source: 'stixflow',
      sourceRef: alertId(1),
      title: 'Access key created for alice',
      severity: 3,
      date: Date.parse('2024-06-02T11:20:35Z'),
      tlp: 3,
      pap: 1,
      tags: ['attack.persistence', 'attack.t1098.001', 'stixflow:rule=ct-create-access-key', 'stixflow:tenant=acme'],
    });
    const observables = got.json.observables as { dataType: string; data: string; tlp: number }[];
    expect(observables).toHaveLength(12);
    expect(observables[0]).toMatchObject({ dataType: 'ip', data: '203.0.113.7', tlp: 3, pap: 1 });
  });

  it('counts a redelivered alert (TheHive refuses it as one it has) as delivered, not as a failure', async () => {
    const options = setup();
    const alerts = [
      sampleAlert({ id: alertId(2), severity: 'critical' }),
      sampleAlert({ id: alertId(3), severity: 'informational' }),
    ];
    const first = await deliverBatchTo(options, options.outputs[0]!, alerts);
    const again = await deliverBatchTo(options, options.outputs[0]!, alerts);
    expect([...first, ...again].every((r) => r.delivered && r.attempts === 1)).toBe(true);
    expect(hive.received.slice(-2).map((r) => r.problems)).toEqual([[], []]);
    expect(
      [...hive.alerts.values()]
        .filter((a) => [alertId(2), alertId(3)].includes(a.sourceRef as string))
        .map((a) => a.severity),
    ).toEqual([4, 1]);
    expect(options.deadLetters.letters).toEqual([]);
  });

  it('retries TheHive when it is unavailable, dead-letters on a refusal or settings out of range', async () => {
    const options = setup();
    hive.failNext(1, 503);
    const [retried] = await deliverAlerts(options, [{ alert: sampleAlert({ id: alertId(4) }), outputs: ['hive'] }]);
    expect(retried).toEqual([{ output: 'hive', delivered: true, attempts: 2 }]);
    hive.failNext(1, 401);
    const [refused] = await deliverAlerts(options, [{ alert: sampleAlert({ id: alertId(5) }), outputs: ['hive'] }]);
    expect(refused![0]).toMatchObject({ delivered: false, attempts: 1, reason: 'HTTP 401 (unavailable)' });
    const bad = setup({ tlp: 7 });
    const [unusable] = await deliverAlerts(bad, [{ alert: sampleAlert({ id: alertId(6) }), outputs: ['hive'] }]);
    expect(unusable![0]).toMatchObject({
      delivered: false,
      attempts: 0,
      reason: expect.stringContaining('"tlp" must be an integer from 0 to 4'),
    });
    expect(JSON.stringify([...options.deadLetters.letters, ...bad.deadLetters.letters])).not.toContain(API_KEY);
  });
});
