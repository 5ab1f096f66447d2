/**
 * The one pipeline (`Detector`) that every shell runs: the library, the CLI and the Lambda handler
 * give the same observed-data ids and alert ids for the same events.
 */
import { describe, expect, it } from 'vitest';
import { createIngestHttpHandler } from '../../functions/ingest-http.js';
import type { AlertDocument } from '../../src/engine/alert.js';
import { Detector } from '../../src/pipeline/detector.js';
import { InMemoryStateStore } from '../../src/state/index.js';
import { runCli } from '../cli/run-cli.js';
import { context, httpEvent, testRuntime } from '../functions/helpers.js';
import { EXAMPLES, mixedEvents, RULES_DIR } from '../pipeline/detector-fixtures.js';

describe('Detector.process, the CLI and the Lambda handler', () => {
  it('gives the same observed-data ids and alert ids through Detector.process, the CLI and the Lambda handler', async () => {
    const events = mixedEvents();
    const detector = new Detector({ rules: EXAMPLES.rules, store: new InMemoryStateStore() });
    const library = (await detector.process(events, 'tenant-a')).alerts;

    const { runtime, sink } = testRuntime();
    const handler = createIngestHttpHandler(() => runtime);
    const response = await handler(httpEvent({ body: events.map((e) => JSON.stringify(e)).join('\n') }), context());
    expect(response.statusCode).toBe(202);
    const lambda = (await sink.drain()) as unknown as AlertDocument[];

    const cli = await runCli(
      ['run', '--rules', RULES_DIR, '--tenant', 'tenant-a', '--batch-size', '100', '-'],
      events.map((e) => JSON.stringify(e)).join('\n'),
    );
    const fromCli = cli.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as AlertDocument);

    const ids = (alerts: { id: string; ruleId: string; observedDataIds: string[] }[]) =>
      alerts.map((a) => `${a.ruleId} ${a.id} ${a.observedDataIds.join(',')}`).sort();
    expect(library).toHaveLength(6);
    expect(ids(lambda)).toEqual(ids(library));
    expect(ids(fromCli)).toEqual(ids(library));
  });
});
