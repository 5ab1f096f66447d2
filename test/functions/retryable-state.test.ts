/**
 * #12.5: whether a message is retried is decided by the engine's `retryable` mark on its
 * diagnostics, not by a list of codes in the handler: a store that fails may cure itself on a
 * retry, a corrupt state item never does (it must not be redelivered until dead-lettered).
 */
import { describe, expect, it } from 'vitest';
import { createIngestSqsHandler, onMessageFailure, type MessageFailureReport } from '../../functions/ingest-sqs.js';
import { StateStoreError } from '../../src/state/errors.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import type { StateItem, StateKey } from '../../src/state/types.js';
import { context, EXAMPLE_EVENTS, sqsEvent, sqsRecord, testRuntime } from './helpers.js';

/** Correlation groups are '' or JSON arrays; the gate's and the ledger's items start with '#'. */
const isCorrelation = (key: StateKey): boolean => !key.group.startsWith('#');

class FaultyStore extends InMemoryStateStore {
  constructor(private readonly fault: 'corrupt' | 'throttled') {
    super();
  }

  override async getMany(keys: StateKey[]): Promise<Map<string, StateItem>> {
    if (this.fault === 'throttled' && keys.some(isCorrelation))
      throw new StateStoreError('state read failed: ProvisionedThroughputExceededException');
    const items = await super.getMany(keys);
    if (this.fault === 'corrupt')
      for (const [id, item] of items) if (isCorrelation(item.key)) items.set(id, { ...item, value: '{"events": 7' });
    return items;
  }
}

async function ingestTwice(store: InMemoryStateStore) {
  // Two workers on one store: the second reads what the first wrote (not from its own cache).
  const first = testRuntime({}, { store });
  const second = testRuntime({}, { store });
  const failures: MessageFailureReport[] = [];
  const unsubscribe = onMessageFailure((f) => failures.push(f));
  try {
    const firstResponse = await createIngestSqsHandler(() => first.runtime)(
      sqsEvent(sqsRecord('m-1', EXAMPLE_EVENTS)),
      context('ingest-sqs'),
    );
    const outcome = await second.runtime.ingestText(EXAMPLE_EVENTS, second.runtime.config.defaultTenant);
    const secondResponse = await createIngestSqsHandler(() => second.runtime)(
      sqsEvent(sqsRecord('m-2', EXAMPLE_EVENTS)),
      context('ingest-sqs'),
    );
    return { first: firstResponse, second: secondResponse, outcome, failures };
  } finally {
    unsubscribe();
  }
}

describe('#12.5 retryable state failures', () => {
  it('does not retry a message whose correlation state is corrupt, and says why', async () => {
    const { second, outcome, failures } = await ingestTwice(new FaultyStore('corrupt'));
    const corrupt = outcome.result?.errors.filter((e) => e.code === 'state-corrupt') ?? [];
    expect(corrupt.length).toBeGreaterThan(0);
    expect(corrupt.every((e) => e.retryable !== true && e.message.includes('not valid JSON'))).toBe(true);
    expect(outcome.retryable).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(failures).toEqual([]);
  });

  it('retries a message whose state store failed, naming the codes', async () => {
    const { first, outcome, failures } = await ingestTwice(new FaultyStore('throttled'));
    expect(outcome.retryable.length).toBeGreaterThan(0);
    expect(outcome.retryable.every((e) => e.code === 'state-store' && e.retryable === true)).toBe(true);
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(failures[0]).toMatchObject({ messageId: 'm-1', code: 'state-contended' });
    expect(failures[0]?.reason).toMatch(/^correlation state could not be updated \(state-store x\d+\); retrying$/);
  });
});
