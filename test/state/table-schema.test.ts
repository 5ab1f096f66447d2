import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stateItemBytes, dynamoNumberBytes } from '../../src/state/item-size.js';
import {
  COUNTER_PK_PREFIX,
  PARTITION_KEY,
  SORT_KEY,
  STATE_PK_PREFIX,
  counterTableKey,
  createStateTableInput,
  stateTableKey,
} from '../../src/state/table-schema.js';

describe('table schema', () => {
  it('maps distinct state keys to distinct table keys, whatever characters the parts contain', () => {
    const part = fc.string({ unit: fc.constantFrom('a', '#', '%', '2', '3', 'S', 'G', '\u00e9', '/'), minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(fc.tuple(part, part, fc.string({ maxLength: 6 })), fc.tuple(part, part, fc.string({ maxLength: 6 })), ([t1, r1, g1], [t2, r2, g2]) => {
        const a = stateTableKey({ tenant: t1, ruleId: r1, group: g1 });
        const b = stateTableKey({ tenant: t2, ruleId: r2, group: g2 });
        const same = t1 === t2 && r1 === r2 && g1 === g2;
        expect(a.pk === b.pk && a.sk === b.sk).toBe(same);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps counter items apart from state items of the same tenant and rule', () => {
    const state = stateTableKey({ tenant: 't', ruleId: 'r', group: 'D#2025-01-01' });
    const counter = counterTableKey('t', 'r', '2025-01-01');
    expect(state.pk.startsWith(STATE_PK_PREFIX)).toBe(true);
    expect(counter.pk.startsWith(COUNTER_PK_PREFIX)).toBe(true);
    expect(state.pk).not.toBe(counter.pk);
  });

  it('describes an on-demand table keyed by pk and sk', () => {
    const input = createStateTableInput('stixflow-state');
    expect(input).toMatchObject({
      TableName: 'stixflow-state',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: PARTITION_KEY, KeyType: 'HASH' },
        { AttributeName: SORT_KEY, KeyType: 'RANGE' },
      ],
    });
  });

  it('sizes items by the DynamoDB rule', () => {
    expect(dynamoNumberBytes(1)).toBe(2);
    expect(dynamoNumberBytes(1_750_000_000)).toBe(3); // significant digits "175": ceil(3 / 2) + 1
    expect(dynamoNumberBytes(1_750_000_123)).toBe(6);
    // names: pk sk v val ttl = 2+2+1+3+3 = 11; pk "S#t#r" 5, sk "G#g" 3, value 4, numbers 2+2
    expect(stateItemBytes(stateTableKey({ tenant: 't', ruleId: 'r', group: 'g' }), 1, 'abcd', 1)).toBe(11 + 5 + 3 + 4 + 2 + 2);
  });
});
