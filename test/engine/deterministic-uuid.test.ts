import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deterministicUuid } from '../../src/engine/alert.js';
import { Prng } from '../../src/generate/prng.js';

/** The definition alert, sighting and notice ids were issued with: node:crypto SHA-1 of the parts' JSON. */
function reference(parts: string[]): string {
  const hash = createHash('sha1').update(JSON.stringify(parts)).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const ALPHABET = ['a', 'Z', '0', '-', '"', '\\', '\u001f', 'é', '€', '𝄞', '\n', ' '];

// Pins the alert id scheme (SHA-1 of the parts' JSON, no namespace), so that folding it into
// normalise/ids.ts's UUIDv5 code cannot change the ids of alerts already sent.
describe('deterministicUuid', () => {
  it('gives the ids already issued, for short, long and non-ASCII parts', () => {
    const prng = new Prng(12);
    for (let n = 0; n < 300; n++) {
      const parts = Array.from({ length: 1 + prng.int(0, 5) }, () =>
        Array.from({ length: prng.int(0, n < 250 ? 40 : 3000) }, () => prng.pick(ALPHABET)).join(''),
      );
      expect(deterministicUuid(parts)).toBe(reference(parts));
    }
  });

  it('keeps the indicator id of an example rule', () => {
    expect(deterministicUuid(['stixflow-rule', 'web-shell-then-callback'])).toBe(
      '6caa2c1b-de1b-52ec-a0b4-274f49bd9260',
    );
  });
});
