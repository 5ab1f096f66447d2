/**
 * The one pipeline (`Detector`) that every shell runs: the tenant path, inputs never written
 * to, and diagnostics that always name the raw input event. That the CLI and the Lambda handler
 * give the same ids: test/e2e/same-ids.test.ts; file and line in the CLI: test/cli/run-origins.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Detector } from '../../src/pipeline/detector.js';
import { createRule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/index.js';

import { bundleOf, EXAMPLE_LINES, EXAMPLES, mixedEvents, observed20, uuid } from './detector-fixtures.js';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
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
