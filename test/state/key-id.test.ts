import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stateKeyId } from '../../src/state/types.js';

describe('stateKeyId', () => {
  it('gives different ids to different keys, whatever characters the parts hold', () => {
    const part = fc.string({ unit: fc.constantFrom('a', '1', ':', '#', '"', '[', ']', ',', '\\', 'é'), maxLength: 6 });
    const key = fc.record({ tenant: part, ruleId: part, group: part });
    fc.assert(
      fc.property(key, key, (a, b) => {
        const same = a.tenant === b.tenant && a.ruleId === b.ruleId && a.group === b.group;
        expect(stateKeyId(a) === stateKeyId(b)).toBe(same);
      }),
      { seed: 20261124, numRuns: 5000 },
    );
  });

  it('separates keys that only a naive join would confuse', () => {
    expect(stateKeyId({ tenant: 'a1:', ruleId: 'b', group: '' })).not.toBe(
      stateKeyId({ tenant: 'a', ruleId: ':b', group: '' }),
    );
    expect(stateKeyId({ tenant: 't', ruleId: 'r1', group: 'x' })).not.toBe(
      stateKeyId({ tenant: 't', ruleId: 'r', group: '1x' }),
    );
  });
});
