/**
 * The one pipeline (`Detector`) that every shell runs: the tenant path, inputs never written
 * to, and diagnostics that always name the raw input event.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createIngestHttpHandler } from '../../functions/ingest-http.js';
import { Detector } from '../../src/pipeline/detector.js';
import { loadRulesFromPaths } from '../../src/rules/load.js';
import { createRule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/index.js';
import type { AlertDocument } from '../../src/engine/alert.js';
import { runCli } from '../cli/run-cli.js';
import { context, EXAMPLE_LINES, httpEvent, RULES_DIR, testRuntime } from '../functions/helpers.js';

const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** A STIX 2.0 observed-data with embedded objects: one self-contained event. */
function observed20(
  n: number,
  at: string,
  objects: Record<string, Record<string, unknown>>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    type: 'observed-data',
    id: `observed-data--${uuid(n)}`,
    created: at,
    modified: at,
    first_observed: at,
    last_observed: at,
    number_observed: 1,
    objects,
    ...extra,
  };
}

/** A STIX 2.1 bundle holding one observed-data per process name, all at `at`. */
function bundleOf(
  n: number,
  at: string,
  names: string[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const objects: Record<string, unknown>[] = [];
  names.forEach((name, i) => {
    const proc = { type: 'process', spec_version: '2.1', id: `process--${uuid(n * 100 + i + 50)}`, name };
    objects.push(
      {
        type: 'observed-data',
        spec_version: '2.1',
        id: `observed-data--${uuid(n * 100 + i)}`,
        created: at,
        modified: at,
        first_observed: at,
        last_observed: at,
        number_observed: 1,
        object_refs: [proc.id],
        ...extra,
      },
      proc,
    );
  });
  return { type: 'bundle', id: `bundle--${uuid(n * 1000)}`, objects };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const EXAMPLES = loadRulesFromPaths([RULES_DIR]);

/** The README's five events, a STIX bundle (a shell from nginx, then a callback) claiming another tenant. */
function mixedEvents(): unknown[] {
  const at = '2026-01-01T11:00:00Z';
  const parent = { type: 'process', spec_version: '2.1', id: `process--${uuid(901)}`, name: 'nginx' };
  const shell = {
    type: 'process',
    spec_version: '2.1',
    id: `process--${uuid(902)}`,
    name: 'sh',
    parent_ref: parent.id,
  };
  const bundle = {
    type: 'bundle',
    id: `bundle--${uuid(900)}`,
    objects: [
      {
        type: 'observed-data',
        spec_version: '2.1',
        id: `observed-data--${uuid(903)}`,
        created: at,
        modified: at,
        first_observed: at,
        last_observed: at,
        number_observed: 1,
        object_refs: [shell.id, parent.id],
        x_tenant: 'someone-else',
      },
      shell,
      parent,
    ],
  };
  return [...EXAMPLE_LINES.map((l) => JSON.parse(l) as unknown), bundle];
}

describe('Detector.process: one tenant path, inputs never mutated', () => {
  it("processes a deep-frozen batch without writing to it, under the caller's tenant", async () => {
    const events = mixedEvents();
    const before = structuredClone(events);
    const detector = new Detector({ rules: EXAMPLES.rules, store: new InMemoryStateStore() });
    const result = await detector.process(deepFreeze(events), 'tenant-a');
    expect(result.rejected).toEqual([]);
    expect(result.errors).toEqual([]);
    expect(result.accepted).toBe(6);
    expect(result.alerts.map((a) => a.ruleId).sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
    expect(new Set(result.alerts.map((a) => a.tenant))).toEqual(new Set(['tenant-a']));
    expect(events).toEqual(before);
  });

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

  it('derives different ids for another tenant (the tenant is part of derived ids)', async () => {
    const ecs = [JSON.parse(EXAMPLE_LINES[3] as string) as unknown];
    const a = await new Detector({ rules: EXAMPLES.rules, store: new InMemoryStateStore() }).process(ecs, 'tenant-a');
    const b = await new Detector({ rules: EXAMPLES.rules, store: new InMemoryStateStore() }).process(ecs, 'tenant-b');
    expect(a.alerts[0]?.observedDataIds).not.toEqual(b.alerts[0]?.observedDataIds);
  });
});

describe('Detector.process: every diagnostic names the raw input event', () => {
  const rules = [
    createRule({ id: 'odd-ctime', pattern: "[file:ctime > t'2020-01-01T00:00:00Z']" }),
    createRule({ id: 'a-then-b', pattern: "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']" }),
    createRule({ id: 'evil', pattern: "[process:name = 'evil.exe']" }),
  ];

  it('blames the rejected, failing and late events by their position in the input', async () => {
    const detector = new Detector({ rules, store: new InMemoryStateStore(), engine: { latenessSeconds: 60 } });
    // An earlier batch moved the correlation clock of `a-then-b` to 10:00.
    expect((await detector.process([bundleOf(9, '2026-01-01T10:00:00Z', ['a'])], 't')).accepted).toBe(1);
    const batch = [
      // 0: no mapping recognises it.
      { nothing: 'to see' },
      // 1: one bundle, three observed-data: raises `evil` and starts `a-then-b` at 10:00.
      bundleOf(1, '2026-01-01T10:00:00Z', ['evil.exe', 'a', 'x']),
      // 2: a file whose ctime is not a timestamp: `odd-ctime` cannot be evaluated on it.
      observed20(2, '2026-01-01T10:00:01Z', { '0': { type: 'file', name: 'f', ctime: 'yesterday' } }),
      // 3: `a` again, an hour before the group's newest event: late for `a-then-b`.
      observed20(3, '2026-01-01T09:00:00Z', { '0': { type: 'process', name: 'a' } }),
      // 4: not an object.
      42,
    ];
    const result = await detector.process(batch, 't');
    expect(result.rejected.map((d) => [d.eventIndex, d.code])).toEqual([
      [0, 'unrecognised-format'],
      [4, 'not-an-object'],
    ]);
    expect(result.errors.map((d) => [d.eventIndex, d.ruleId, d.code])).toEqual([
      [2, 'odd-ctime', 'bad-timestamp-in-data'],
    ]);
    expect(result.late.map((l) => [l.eventIndex, l.ruleId])).toEqual([[3, 'a-then-b']]);
    expect(result.alerts.map((a) => a.ruleId)).toEqual(['evil']);
    // Raw events 1, 2 and 3 reached the engine (1 as three observed-data).
    expect(result.accepted).toBe(3);
  });

  it("keeps positions in the caller's list for processObserved too", async () => {
    const detector = new Detector({ rules, store: new InMemoryStateStore() });
    const normalised = [
      {
        observedData: {
          type: 'observed-data',
          id: `observed-data--${uuid(7)}`,
          first_observed: 'soon',
          last_observed: 'soon',
          number_observed: 1,
          objects: { '0': { type: 'process', name: 'a' } },
        },
        objects: [],
      },
      {
        observedData: observed20(8, '2026-01-01T10:00:01Z', { '0': { type: 'file', name: 'f', ctime: 'yesterday' } }),
        objects: [],
      },
    ] as never;
    const result = await detector.processObserved(normalised, 't');
    expect(result.rejected.map((d) => [d.eventIndex, d.code])).toEqual([[0, 'bad-timestamp']]);
    expect(result.errors.map((d) => [d.eventIndex, d.ruleId])).toEqual([[1, 'odd-ctime']]);
  });
});

describe('stixflow run: diagnostics name the file and line of the event', () => {
  it('points at the NDJSON line and at the item of a JSON array, whatever the batch size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-origins-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      `rules:\n  - id: odd-ctime\n    name: odd ctime\n    severity: low\n    pattern: "[file:ctime > t'2020-01-01T00:00:00Z']"\n`,
    );
    const ndjson = join(dir, 'one.ndjson');
    writeFileSync(
      ndjson,
      [
        '',
        JSON.stringify({ nothing: 'to see' }),
        JSON.stringify(bundleOf(1, '2026-01-01T10:00:00Z', ['a', 'b', 'c'])),
      ].join('\n'),
    );
    const array = join(dir, 'two.json');
    const badFile = observed20(2, '2026-01-01T10:00:01Z', { '0': { type: 'file', name: 'f', ctime: 'yesterday' } });
    writeFileSync(
      array,
      JSON.stringify([observed20(3, '2026-01-01T10:00:02Z', { '0': { type: 'file', name: 'g' } }), badFile]),
    );
    for (const batchSize of ['1', '10']) {
      const run = await runCli(['run', '--rules', rules, '--batch-size', batchSize, ndjson, array]);
      expect(run.code).toBe(1);
      const lines = run.err.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^${ndjson}:2: event 0: error \\[unrecognised-format\\] `));
      expect(lines[1]).toMatch(new RegExp(`^${array}:1 \\(item 1\\): event 3: error \\[bad-timestamp-in-data\\] `));
      expect(lines.slice(2)).toEqual(['4 events, 0 alerts']);
    }
  });
});
