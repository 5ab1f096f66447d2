/**
 * The local stack end to end: HTTP → normalise → match → state on the DynamoDB emulator → alerts
 * on the SQS emulator, with the example rules (rules/), at 100 events per request from 6
 * concurrent clients; beside it, the same events through the pipeline alone (in-memory state and
 * queue), so that what the emulators and HTTP cost is plain.
 *
 * Run alone: npx tsx bench/local-stack.ts
 */
import { pathToFileURL } from 'node:url';
import { Detector } from '../src/pipeline/detector.js';
import { InMemoryQueue } from '../src/queue/memory-queue.js';
import { loadRulesFromPaths } from '../src/rules/load.js';
import { InMemoryStateStore } from '../src/state/memory-store.js';
import { seededRandom } from './events.js';
import type { BenchRow } from './table.js';

const CLIENTS = 6;
const EVENTS_PER_REQUEST = 100;
const REQUESTS_PER_CLIENT = 12;
const WARM_REQUESTS = 2;

/**
 * Events shaped like examples/events.ndjson (process starts, file reads, network flows in the
 * formats the built-in mappings read), over the client's own hosts, so that the example rules
 * match some and correlate some.
 */
function requestBody(client: number, request: number, random: () => number): string {
  const lines: string[] = [];
  const base = Date.UTC(2026, 0, 1, 10) + request * EVENTS_PER_REQUEST * 1000;
  for (let i = 0; i < EVENTS_PER_REQUEST; i++) {
    const n = request * EVENTS_PER_REQUEST + i;
    const host = `c${client}-host-${Math.floor(random() * 20)}`;
    const timestamp = new Date(base + i * 1000).toISOString();
    const id = `c${client}-evt-${n}`;
    const kind = random();
    if (kind < 0.4)
      lines.push(
        JSON.stringify({
          event_type: 'process_create',
          process_name: random() < 0.2 ? 'bash' : 'python3',
          parent_process_name: random() < 0.3 ? 'nginx' : 'systemd',
          host,
          timestamp,
          event_id: id,
        }),
      );
    else if (kind < 0.7)
      lines.push(
        JSON.stringify({
          event_type: 'file_read',
          process_name: 'python3',
          path: random() < 0.1 ? '/etc/shadow' : '/var/log/syslog',
          host,
          timestamp,
          event_id: id,
        }),
      );
    else
      lines.push(
        JSON.stringify({
          '@timestamp': timestamp,
          event: { id, category: ['network'] },
          host: { name: host },
          source: { ip: '10.0.0.5', port: 50000 + (n % 1000) },
          destination: { ip: '203.0.113.9', port: random() < 0.2 ? 4444 : 443 },
          network: { transport: 'tcp' },
          process: { name: random() < 0.3 ? 'bash' : 'curl' },
        }),
      );
  }
  return `${lines.join('\n')}\n`;
}

function bodies(): string[][] {
  return Array.from({ length: CLIENTS }, (_, client) => {
    const random = seededRandom(1000 + client);
    return Array.from({ length: WARM_REQUESTS + REQUESTS_PER_CLIENT }, (_, r) => requestBody(client, r, random));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export async function benchLocalStack(): Promise<BenchRow[]> {
  const all = bodies();
  const rows: BenchRow[] = [];

  // The pipeline alone: the same requests, one after another, in-memory state and alert queue.
  const { rules, indicators } = loadRulesFromPaths([new URL('../rules/', import.meta.url).pathname]);
  const detector = new Detector({ rules, indicators, store: new InMemoryStateStore(), sink: new InMemoryQueue() });
  const parsed = all.map((client) =>
    client.map((body) =>
      body
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ),
  );
  for (const client of parsed)
    for (const events of client.slice(0, WARM_REQUESTS)) await detector.process(events, 'bench');
  const t0 = performance.now();
  let engineEvents = 0;
  for (const client of parsed)
    for (const events of client.slice(WARM_REQUESTS)) {
      await detector.process(events, 'bench');
      engineEvents += events.length;
    }
  const engineSeconds = (performance.now() - t0) / 1000;
  rows.push({
    name: 'pipeline alone, example rules (normalise → match → state, in memory)',
    value: engineEvents / engineSeconds,
    unit: 'events/s',
    note: `${CLIENTS * REQUESTS_PER_CLIENT} requests of ${EVENTS_PER_REQUEST} events, one at a time`,
  });

  // The handlers' per-request INFO lines would be most of what this bench prints (and costs).
  process.env.POWERTOOLS_LOG_LEVEL = 'ERROR';
  const { startLocalStack } = await import('../src/local/server.js');
  const stack = await startLocalStack({ port: 0, quiet: true, printAlerts: false });
  try {
    const post = async (body: string): Promise<number> => {
      const started = performance.now();
      const response = await fetch(`${stack.url}/events`, {
        method: 'POST',
        body,
        headers: { authorization: 'Bearer local-dev:bench', 'content-type': 'application/x-ndjson' },
      });
      await response.text();
      if (response.status !== 202 && response.status !== 200)
        throw new Error(`local stack answered ${response.status} to a bench request`);
      return performance.now() - started;
    };
    await Promise.all(
      all.map(async (client) => {
        for (const body of client.slice(0, WARM_REQUESTS)) await post(body);
      }),
    );
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      all.map(async (client) => {
        for (const body of client.slice(WARM_REQUESTS)) latencies.push(await post(body));
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const events = CLIENTS * REQUESTS_PER_CLIENT * EVENTS_PER_REQUEST;
    rows.push({
      name: `local stack end to end, ${CLIENTS} clients × ${EVENTS_PER_REQUEST}-event requests (HTTP → DynamoDB and SQS emulators)`,
      value: events / seconds,
      unit: 'events/s',
      target: '≥ 2,000',
      note: `p50 ${Math.round(percentile(latencies, 50))} ms, p95 ${Math.round(percentile(latencies, 95))} ms per request`,
    });
  } finally {
    await stack.stop();
  }
  return rows;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { printTable } = await import('./table.js');
  printTable('Local stack end to end', await benchLocalStack());
}
