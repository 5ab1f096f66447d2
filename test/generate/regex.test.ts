/** The regex sampler: parse a practical subset, generate matching strings, refuse the rest. */
import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import { parseRegex, Prng, sampleRegex } from '../../src/generate/index.js';

describe('regex sampling', () => {
  it.each([
    'abc',
    '^a.c$',
    '[a-z]{3,5}\\d+',
    '[^0-9]+x',
    '(foo|bar|baz)+',
    '(?:ab)?c*d{2}',
    '^\\w+@\\w+\\.(com|org)$',
    '\\s\\S\\D\\W',
    '[[:alpha:]][[:digit:]]',
    '\\x41\\x{263a}',
    '(?i)^powershell',
    '(?P<user>[a-z]+)\\\\',
    'a+?b*?',
    '[.\\-+*]{2}',
    'x{2,}y{,}',
    '\\A[0-9a-f]{64}\\z',
  ])('%s', (source) => {
    const parsed = parseRegex(source);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const re = RE2JS.compile(source);
    const prng = new Prng(5);
    for (let i = 0; i < 20; i++) {
      const s = sampleRegex(parsed.node, prng);
      expect(re.matcher(s).find(), `${source} ⇐ ${JSON.stringify(s)}`).toBe(true);
    }
  });

  it.each([
    ['\\bword', 'escape \\b'],
    ['\\p{Greek}', 'escape \\p'],
    ['(?=x)', 'group construct (?=x'],
    ['\\Qa.b\\E', 'escape \\Q'],
  ])('%s is unsupported (%s)', (source, reason) => {
    expect(parseRegex(source)).toEqual({ ok: false, reason });
  });
});
