/**
 * What the outbox sweeper relies on (#18): every write of a correlation state says whether the state
 * still holds undelivered alerts, so the store can mark it in the outbox index, and the write that
 * clears the last one takes the mark away; a partial acknowledgement keeps it.
 */
import { describe, expect, it } from 'vitest';
import { StreamingEngine } from '../../src/engine/streaming.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import type { PutItem } from '../../src/state/types.js';
import { observed, rule } from './helpers.js';

/** The in-memory store, recording what each put said about pending alerts. */
class RecordingStore extends InMemoryStateStore {
  readonly marks: (boolean | undefined)[] = [];
  override put(item: PutItem, expectedVersion: number | null) {
    this.marks.push(item.pending);
    return super.put(item, expectedVersion);
  }
}

const NOW = Date.UTC(2026, 0, 1, 0, 10);
const PAIR = rule('pair', "[process:name = 'a'] FOLLOWEDBY [process:name = 'b']", ['process:x_host_id']);
const proc = (id: string, second: number, name: string) =>
  observed(id, second, { type: 'process', name, x_host_id: 'h1' }).input;

describe('outbox marks on correlation state writes', () => {
  it('marks the commit that raised an alert and unmarks the acknowledgement that cleared it', async () => {
    const store = new RecordingStore({ now: () => NOW });
    const engine = new StreamingEngine({ rules: [PAIR], store, now: () => NOW });
    // A partial match only: written, nothing pending.
    await engine.processBatch([proc('e1', 1, 'a')]);
    expect(store.marks).toEqual([undefined]);
    const raised = await engine.processBatch([proc('e2', 2, 'b')]);
    expect(raised.alerts).toHaveLength(1);
    expect(store.marks.at(-1)).toBe(true);
    await engine.acknowledge(raised.alerts);
    expect(store.marks.at(-1)).toBe(undefined);
    expect((await engine.outboxes([raised.touched[0]!])).alerts).toEqual([]);
  });

  it('keeps the mark while another alert of the state is still undelivered', async () => {
    const store = new RecordingStore({ now: () => NOW });
    const engine = new StreamingEngine({ rules: [PAIR], store, now: () => NOW });
    const raised = await engine.processBatch([
      proc('e1', 1, 'a'),
      proc('e2', 2, 'b'),
      proc('e3', 3, 'a'),
      proc('e4', 4, 'b'),
    ]);
    expect(raised.alerts).toHaveLength(2);
    expect(store.marks.at(-1)).toBe(true);
    await engine.acknowledge([raised.alerts[0]!]);
    expect(store.marks.at(-1)).toBe(true);
    const left = await engine.outboxes([raised.touched[0]!]);
    expect(left.alerts.map((a) => a.id)).toEqual([raised.alerts[1]!.id]);
    await engine.acknowledge([raised.alerts[1]!]);
    expect(store.marks.at(-1)).toBe(undefined);
  });

  it('reports the keys of rules it does not run instead of reading them', async () => {
    const engine = new StreamingEngine({ rules: [PAIR], store: new RecordingStore(), now: () => NOW });
    const gone = { tenant: 'default', ruleId: 'removed-rule', group: '' };
    expect(await engine.outboxes([gone])).toEqual({ alerts: [], unknown: [gone] });
  });
});
