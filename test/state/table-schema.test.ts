import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stateItemBytes, dynamoNumberBytes } from '../../src/state/item-size.js';
import {
  COUNTER_PK_PREFIX,
  MAX_PARTITION_KEY_BYTES,
  MAX_SORT_KEY_BYTES,
  PARTITION_KEY,
  SORT_KEY,
  STATE_PK_PREFIX,
  counterTableKey,
  createStateTableInput,
  stateTableKey,
  GROUP_ITEM_RULE_ID,
  GROUP_ITEM_SK,
} from '../../src/state/table-schema.js';

describe('table schema', () => {
  it('maps distinct state keys to distinct table keys, whatever characters the parts contain', () => {
    const part = fc.string({
      unit: fc.constantFrom('a', '#', '%', '2', '3', 'S', 'G', '\u00e9', '/'),
      minLength: 1,
      maxLength: 6,
    });
    fc.assert(
      fc.property(
        fc.tuple(part, part, fc.string({ maxLength: 6 })),
        fc.tuple(part, part, fc.string({ maxLength: 6 })),
        ([t1, r1, g1], [t2, r2, g2]) => {
          const a = stateTableKey({ tenant: t1, ruleId: r1, group: g1 });
          const b = stateTableKey({ tenant: t2, ruleId: r2, group: g2 });
          const same = t1 === t2 && r1 === r2 && g1 === g2;
          expect(a.pk === b.pk && a.sk === b.sk).toBe(same);
        },
      ),
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

  it('spreads the groups of one rule over partition keys, and keeps a group item apart from its rule items', () => {
    const groups = ['["host-1"]', '["host-2"]', '["host-3"]'].map((group) =>
      stateTableKey({ tenant: 't', ruleId: 'busy-rule', group }),
    );
    expect(new Set(groups.map((k) => k.pk)).size).toBe(3);
    const item = stateTableKey({ tenant: 't', ruleId: GROUP_ITEM_RULE_ID, group: '["host-1"]' });
    expect(item).toEqual({ pk: groups[0]!.pk, sk: GROUP_ITEM_SK });
    expect(groups[0]!.sk).not.toBe(GROUP_ITEM_SK);
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
    expect(stateItemBytes(stateTableKey({ tenant: 't', ruleId: 'r', group: 'g' }), 1, 'abcd', 1)).toBe(
      11 + 5 + 3 + 4 + 2 + 2,
    );
  });
});

describe('table keys of long parts (issue #11.3)', () => {
  const limits = (k: { pk: string; sk: string }): [number, number] => [
    Buffer.byteLength(k.pk, 'utf8'),
    Buffer.byteLength(k.sk, 'utf8'),
  ];

  it('always fit DynamoDB key limits, keep a readable prefix, and stay injective', () => {
    const unit = fc.constantFrom('a', 'é', '\u6f22', '#', '$', '%', '😀');
    // Short parts, and parts past the limits once encoded (a CJK character encodes to 9 bytes).
    const long = fc.oneof(fc.string({ unit, maxLength: 8 }), fc.string({ unit, minLength: 120, maxLength: 1500 }));
    fc.assert(
      fc.property(fc.tuple(long, long, long), fc.tuple(long, long, long), ([t1, r1, g1], [t2, r2, g2]) => {
        fc.pre(t1.length > 0 && r1.length > 0 && t2.length > 0 && r2.length > 0);
        const a = stateTableKey({ tenant: t1, ruleId: r1, group: g1 });
        const b = stateTableKey({ tenant: t2, ruleId: r2, group: g2 });
        for (const k of [a, b]) {
          const [pk, sk] = limits(k);
          expect(pk).toBeLessThanOrEqual(MAX_PARTITION_KEY_BYTES);
          expect(sk).toBeLessThanOrEqual(MAX_SORT_KEY_BYTES);
        }
        expect(a.pk === b.pk && a.sk === b.sk).toBe(t1 === t2 && r1 === r2 && g1 === g2);
      }),
      { seed: 1103, numRuns: 300 },
    );
  });

  it('hashes only parts too long to keep, after a readable prefix', () => {
    const short = stateTableKey({ tenant: 't', ruleId: 'r', group: '["host-1"]' });
    expect(short).toEqual({ pk: `S#t#${encodeURIComponent('["host-1"]')}`, sk: 'R#r' });
    const group = JSON.stringify(['\u6f22'.repeat(300)]);
    const hashed = stateTableKey({ tenant: 't', ruleId: 'r', group });
    expect(hashed.pk.startsWith(`S#t#${encodeURIComponent('["\u6f22')}`)).toBe(true);
    expect(hashed.pk).toMatch(/\$[A-Za-z0-9_-]{43}$/);
    expect(limits(hashed)[0]).toBeLessThanOrEqual(MAX_PARTITION_KEY_BYTES);
    const long = stateTableKey({ tenant: 't', ruleId: 'r'.repeat(3000), group });
    expect(limits(long)[1]).toBeLessThanOrEqual(MAX_SORT_KEY_BYTES);
    // A counter key of a long tenant and rule fits too.
    expect(limits(counterTableKey('t'.repeat(4000), 'r'.repeat(4000), '2026-01-01'))[0]).toBeLessThanOrEqual(
      MAX_PARTITION_KEY_BYTES,
    );
  });
});
