import { describe, expect, it } from 'vitest';
import { createNormaliser, loadMapping } from '../../src/normalise/index.js';
import { single } from './helpers.js';

const mapping = (name: string, detect: string, extra = ''): ReturnType<typeof loadMapping> =>
  loadMapping(
    `mapping: 1\nname: ${name}\ndetect: ${detect}\ntime: { start: t }\n${extra}fields:\n  a: process:name\n  b: process:command_line\n`,
    `${name}.yaml`,
  );

describe('choosing a mapping', () => {
  const loose = mapping('loose', '{ any: [ { present: a } ] }');
  const specific = mapping('specific', '{ all: [ { present: a }, { present: b } ] }');

  it('scores detection: the most specific mapping that fits wins, whatever the order', () => {
    const normaliser = createNormaliser({ mappings: [loose, specific], includeBuiltIns: false });
    const both = normaliser.normalise({ t: '2024-05-01T10:00:00Z', a: 'x', b: 'x -y' });
    expect(both.ok && both.mapping).toBe('specific');
    const onlyA = normaliser.normalise({ t: '2024-05-01T10:00:00Z', a: 'x' });
    expect(onlyA.ok && onlyA.mapping).toBe('loose');
  });

  it('breaks ties by order: the caller’s mappings before the built-ins', () => {
    const twin = mapping('twin', '{ any: [ { present: a } ] }');
    const normaliser = createNormaliser({ mappings: [twin, loose], includeBuiltIns: false });
    const result = normaliser.normalise({ t: '2024-05-01T10:00:00Z', a: 'x' });
    expect(result.ok && result.mapping).toBe('twin');
  });

  it('weight lets a source mapping outrank a generic one on events both fit', () => {
    const weighted = mapping('weighted', '{ weight: 5, any: [ { present: a } ] }');
    const normaliser = createNormaliser({ mappings: [specific, weighted], includeBuiltIns: false });
    const result = normaliser.normalise({ t: '2024-05-01T10:00:00Z', a: 'x', b: 'y' });
    expect(result.ok && result.mapping).toBe('weighted');
  });

  it('hands an event to the next mapping that fits when the best one rejects it', () => {
    const otherTime = loadMapping(
      `mapping: 1\nname: other-time\ndetect: { any: [ { present: a } ] }\ntime: { start: when }\nfields:\n  a: process:name\n`,
      'other-time.yaml',
    );
    const normaliser = createNormaliser({ mappings: [specific, otherTime], includeBuiltIns: false });
    const result = normaliser.normalise({ when: '2024-05-01T10:00:00Z', a: 'x', b: 'y' });
    expect(result.ok && result.mapping).toBe('other-time');
    // When every candidate rejects, the best one's reason is given.
    const none = normaliser.normalise({ a: 'x', b: 'y' });
    expect(!none.ok && none.diagnostic.code).toBe('no-timestamp');
    expect(!none.ok && none.diagnostic.message).toMatch(/^specific: /);
  });

  it('an explicit source beats detection; an unknown one is rejected by name', () => {
    const normaliser = createNormaliser({ mappings: [loose, specific], includeBuiltIns: false });
    const event = { t: '2024-05-01T10:00:00Z', a: 'x', b: 'y' };
    const chosen = normaliser.normalise(event, 0, { source: 'loose' });
    expect(chosen.ok && chosen.mapping).toBe('loose');
    const perNormaliser = createNormaliser({ mappings: [loose, specific], includeBuiltIns: false, source: 'loose' });
    const fixed = perNormaliser.normalise(event);
    expect(fixed.ok && fixed.mapping).toBe('loose');
    const unknown = normaliser.normalise(event, 3, { source: 'zeek' });
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) {
      expect(unknown.diagnostic).toMatchObject({ code: 'unknown-source', eventIndex: 3 });
      expect(unknown.diagnostic.message).toContain('"zeek"');
    }
  });

  it('names the closest candidates and the fields they missed when nothing fits', () => {
    const zeekish = mapping('zeekish', '{ all: [ { present: uid }, { present: id.orig_h }, { present: ts } ] }');
    const normaliser = createNormaliser({ mappings: [zeekish, specific], includeBuiltIns: false });
    const result = normaliser.normalise({ uid: 'C1', ts: 1, a: 'x' }, 7);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.diagnostic).toMatchObject({ code: 'unrecognised-format', eventIndex: 7 });
      expect(result.diagnostic.message).toBe(
        'no mapping recognises the event; closest: zeekish (missing id.orig_h); specific (missing b)',
      );
    }
  });
});

describe('the ecs built-in does not claim events on one field', () => {
  const normaliser = createNormaliser();

  it('leaves a lone @timestamp or event object alone', () => {
    for (const event of [
      { '@timestamp': '2024-05-01T10:00:00Z', message: 'hello' },
      { event: { ingested: '2024-05-01T10:00:00Z' } },
    ]) {
      const result = normaliser.normalise(event);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.diagnostic.code).toBe('unrecognised-format');
    }
  });

  it('still takes an event with two ECS marks', () => {
    const result = normaliser.normalise({ '@timestamp': '2024-05-01T10:00:00Z', process: { name: 'bash' } });
    expect(result.ok && result.mapping).toBe('ecs');
    single(result);
  });
});
