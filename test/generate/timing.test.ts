/** Observation operators and qualifiers: timed sequences, and the near misses that break them. */
import { describe, expect, it } from 'vitest';
import { generateEvents, type NearMiss } from '../../src/generate/index.js';
import { parseStixTimestamp } from '../../src/pattern/literals.js';
import { matches, roots, times } from './helpers.js';

const seconds = (t: string): number => (parseStixTimestamp(t) as number) / 1e6;

function misses(pattern: string): NearMiss[] {
  const out = generateEvents(pattern, { seed: 4, miss: true });
  for (const m of out) expect(matches(pattern, m.events), m.description).toBe(false);
  return out;
}

describe('timing', () => {
  it('FOLLOWEDBY: events one second apart from start, in order', () => {
    const pattern = "[process:name = 'winword.exe'] FOLLOWEDBY [process:name = 'powershell.exe']";
    const [set] = generateEvents(pattern, { start: '2025-03-01T10:00:00Z' });
    expect(times(set!)).toEqual(['2025-03-01T10:00:00Z', '2025-03-01T10:00:01Z']);
    expect(roots(set!).map((r) => r.name)).toEqual(['winword.exe', 'powershell.exe']);
    expect(matches(pattern, set!)).toBe(true);
  });

  it('WITHIN shorter than the sequence tightens the spacing', () => {
    const pattern = '([a:x = 1] FOLLOWEDBY [a:x = 2] FOLLOWEDBY [a:x = 3] FOLLOWEDBY [a:x = 4]) WITHIN 1 SECONDS';
    const [set] = generateEvents(pattern);
    const ts = times(set!).map(seconds);
    expect(Math.max(...ts) - Math.min(...ts)).toBeLessThanOrEqual(1);
    expect(matches(pattern, set!)).toBe(true);
  });

  it('REPEATS gives n distinct observations', () => {
    const pattern = "[user-account:user_id = 'u1'] REPEATS 5 TIMES WITHIN 60 SECONDS";
    const [set] = generateEvents(pattern);
    expect(set).toHaveLength(5);
    expect(new Set(set!.map((b) => b.objects[0]!.id)).size).toBe(5);
    expect(matches(pattern, set!)).toBe(true);
  });

  it('START/STOP places the events inside the window, whatever start is', () => {
    const pattern = "[ipv4-addr:value = '1.2.3.4'] START t'2023-05-01T00:00:00Z' STOP t'2023-05-01T00:00:05Z'";
    const [set] = generateEvents(pattern, { start: '2024-01-01T00:00:00Z' });
    expect(times(set!)[0]).toBe('2023-05-01T00:00:00Z');
    expect(matches(pattern, set!)).toBe(true);
  });

  it('AND, OR and nested qualifiers', () => {
    for (const pattern of [
      '[a:x = 1] AND [b:y = 2]',
      '[a:x = 1] OR [b:y = 2]',
      '([a:x = 1] AND [a:x = 1]) REPEATS 2 TIMES',
      '(([a:x = 1] FOLLOWEDBY [b:y = 2]) WITHIN 5 SECONDS) REPEATS 3 TIMES',
      "([a:x = 1] FOLLOWEDBY [b:y = 2] START t'2020-01-01T00:00:00Z' STOP t'2020-01-01T00:01:00Z') WITHIN 30 SECONDS",
      '[a:x = 1] FOLLOWEDBY ([b:y = 2] OR [c:z = 3]) FOLLOWEDBY [a:x = 1]',
    ]) {
      for (const set of generateEvents(pattern, { count: 4, seed: 2 }))
        expect(matches(pattern, set), pattern).toBe(true);
    }
  });

  it('successive sets do not overlap in time', () => {
    const sets = generateEvents('[a:x = 1] FOLLOWEDBY [a:x = 2]', { count: 3 });
    const starts = sets.map((s) => seconds(times(s)[0]!));
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(60);
  });
});

describe('near misses', () => {
  it('one comparison off per comparison, labelled, the value just outside', () => {
    const out = misses('[network-traffic:dst_port >= 1024 AND network-traffic:dst_port < 2048]');
    expect(out.map((m) => m.kind)).toEqual(['comparison', 'comparison']);
    expect(out[0]!.description).toBe(
      'comparison off in observation 1: network-traffic:dst_port >= 1024 is false (network-traffic:dst_port is 1023)',
    );
    expect(out[1]!.description).toBe(
      'comparison off in observation 1: network-traffic:dst_port < 2048 is false (network-traffic:dst_port is 2048)',
    );
  });

  it('a non-matching string close to the constant', () => {
    const [m] = misses("[process:name = 'winword.exe']");
    expect(m!.description).toMatch(/process:name = 'winword.exe' is false \(process:name is "[^"]+"\)/);
    expect(roots(m!.events)[0]!.name).not.toBe('winword.exe');
  });

  it('FOLLOWEDBY reversed and WITHIN exceeded by one second', () => {
    const out = misses(
      "([process:name = 'winword.exe'] FOLLOWEDBY [process:name = 'powershell.exe']) WITHIN 60 SECONDS",
    );
    const kinds = out.map((m) => m.kind);
    expect(kinds).toEqual(expect.arrayContaining(['comparison', 'followedby-reversed', 'within-exceeded']));
    const reversed = out.find((m) => m.kind === 'followedby-reversed')!;
    expect(roots(reversed.events).map((r) => r.name)).toEqual(['powershell.exe', 'winword.exe']);
    const within = out.find((m) => m.kind === 'within-exceeded')!;
    const ts = times(within.events).map(seconds);
    expect(Math.max(...ts) - Math.min(...ts)).toBe(61);
    expect(within.description).toBe('WITHIN 60 SECONDS exceeded by 1 s: first and last observations 61 s apart');
  });

  it('one repetition short', () => {
    const out = misses("[user-account:user_id = 'u1'] REPEATS 3 TIMES");
    const short = out.find((m) => m.kind === 'repeats-short')!;
    expect(short.events).toHaveLength(2);
    expect(short.description).toBe('REPEATS 3 TIMES short by one: 2 repetitions');
  });

  it('outside START/STOP (STOP is exclusive)', () => {
    const out = misses("[ipv4-addr:value = '1.2.3.4'] START t'2023-05-01T00:00:00Z' STOP t'2023-05-02T00:00:00Z'");
    const outside = out.find((m) => m.kind === 'outside-start-stop')!;
    expect(times(outside.events)).toEqual(['2023-05-02T00:00:00Z']);
  });

  it('no near miss still matches, also when an OR alternative could hold', () => {
    const out = misses("[process:name = 'a.exe' OR process:name = 'a.exf' OR process:pid = 4]");
    expect(out.length).toBeGreaterThan(0);
    misses('[a:x = 1] OR [a:x = 2]');
    misses('[a:x > 5] AND [a:x > 6]');
  });

  it('EXISTS and NOT EXISTS flip to absent and present', () => {
    const out = misses('[EXISTS process:pid AND NOT EXISTS process:name]');
    expect(out.map((m) => m.description)).toEqual([
      'comparison off in observation 1: EXISTS process:pid is false (process:pid is absent)',
      expect.stringMatching(
        /^comparison off in observation 1: NOT EXISTS process:name is false \(process:name is present \(.+\)\)$/,
      ),
    ]);
  });
});
