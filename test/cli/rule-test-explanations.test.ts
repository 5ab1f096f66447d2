/**
 * `stixflow test` explains a test that expected an alert and got none (issue #11, item 22): the
 * verdict must be the one that holds — a part of the pattern no event satisfies; every needed
 * observation expression satisfied but not together; or a match the pipeline held back — and
 * never a contradiction ("satisfied by no event … each observation expression is satisfied").
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-explain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

interface Case {
  pattern: string;
  events: Record<string, unknown>[];
  extra?: string;
}

const event = (process: string, at: string, host = 'web-1'): Record<string, unknown> => ({
  process,
  host,
  datetime: `2026-01-01T${at}`,
});

/** Runs one rule with one written test expecting an alert; returns the failure's explanation lines. */
async function explanation({ pattern, events, extra = '' }: Case): Promise<string[]> {
  const file = join(dir, `${files++}.yaml`);
  const list = events.map((e) => `          - ${JSON.stringify(e)}`).join('\n');
  writeFileSync(
    file,
    `- id: r\n  name: r\n  severity: low\n  pattern: "${pattern}"\n${extra}  tests:\n    - name: t\n      expect: alert\n      events:\n${list}\n`,
  );
  const { code, out } = await runCli(['test', file, '--no-generated']);
  expect(code).toBe(1);
  const lines = out.split('\n').map((l) => l.trim());
  expect(lines).toContain('FAIL r › t');
  expect(lines).toContain('expected an alert, got 0');
  const from = lines.indexOf('expected an alert, got 0') + 1;
  const block = lines.slice(from, lines.indexOf('', from));
  // Whatever the case, exactly one verdict follows the per-expression lines.
  expect(
    block.filter((l) => !/ is satisfied by (no event|events? \d+(, \d+)*)$/.test(l) && !/^event \d+: /.test(l)),
    block.join('\n'),
  ).toHaveLength(1);
  return block;
}

const A = "[process:name = 'a.exe']";
const B = "[process:name = 'b.exe']";
const C = "[process:name = 'c.exe']";

describe('stixflow test: why no alert', () => {
  it('a sequence whose second step never came: names the missing step, and does not claim every expression is satisfied', async () => {
    const lines = await explanation({
      pattern: `(${A} FOLLOWEDBY ${B}) WITHIN 60 SECONDS`,
      events: [event('a.exe', '10:00:00')],
    });
    expect(lines).toEqual([
      `${A} is satisfied by event 0`,
      `${B} is satisfied by no event`,
      `no event satisfies ${B}, so the pattern cannot match`,
    ]);
  });

  it('one observation expression that no event satisfies', async () => {
    const lines = await explanation({ pattern: A, events: [event('x.exe', '10:00:00')] });
    expect(lines).toEqual([
      `${A} is satisfied by no event`,
      "no event satisfies the observation expression: compare the events' values with its comparisons",
    ]);
  });

  it('OR: neither side is satisfied, and the verdict says either would do', async () => {
    const lines = await explanation({ pattern: `${A} OR ${B}`, events: [event('x.exe', '10:00:00')] });
    expect(lines.at(-1)).toBe(`no event satisfies ${A} or ${B}, so the pattern cannot match`);
  });

  it('(A OR B) AND C: only the part that is missing is named', async () => {
    expect(
      (await explanation({ pattern: `(${A} OR ${B}) AND ${C}`, events: [event('c.exe', '10:00:00')] })).at(-1),
    ).toBe(`no event satisfies ${A} or ${B}, so the pattern cannot match`);
    expect(
      (await explanation({ pattern: `(${A} OR ${B}) AND ${C}`, events: [event('b.exe', '10:00:00')] })).at(-1),
    ).toBe(`no event satisfies ${C}, so the pattern cannot match`);
  });

  it('a sequence in the wrong order: each step is satisfied, not together; the conditions the pattern sets are named', async () => {
    const lines = await explanation({
      pattern: `(${A} FOLLOWEDBY ${B}) WITHIN 60 SECONDS`,
      events: [event('b.exe', '10:00:00'), event('a.exe', '10:00:10')],
    });
    expect(lines.slice(0, 2)).toEqual([`${A} is satisfied by event 1`, `${B} is satisfied by event 0`]);
    expect(lines[2]).toMatch(
      /^every observation expression the pattern needs is satisfied by some event, but not together as the pattern requires: it needs /,
    );
    expect(lines[2]).toContain('the left one first');
    expect(lines[2]).toContain('within 60 seconds of each other (WITHIN)');
  });

  it('AND satisfied by one event only: each side needs an event of its own', async () => {
    const lines = await explanation({
      pattern: `${A} AND [process:name LIKE 'a%']`,
      events: [event('a.exe', '10:00:00')],
    });
    expect(lines.slice(0, 2)).toEqual([
      `${A} is satisfied by event 0`,
      "[process:name LIKE 'a%'] is satisfied by event 0",
    ]);
    expect(lines[2]).toBe(
      'every observation expression the pattern needs is satisfied by some event, but not together as the pattern requires: it needs a different event for each side of AND',
    );
  });

  it('REPEATS with too few events', async () => {
    const lines = await explanation({
      pattern: `${A} REPEATS 3 TIMES`,
      events: [event('a.exe', '10:00:00'), event('a.exe', '10:00:05')],
    });
    expect(lines.at(-1)).toBe(
      'every observation expression the pattern needs is satisfied by some event, but not together as the pattern requires: it needs 3 different events for REPEATS 3 TIMES',
    );
  });

  it("a match the rule's filter mutes", async () => {
    const lines = await explanation({
      pattern: A,
      events: [event('a.exe', '10:00:00')],
      extra: `  filters: ["[process:name = 'a.exe']"]\n`,
    });
    expect(lines).toEqual([
      `${A} is satisfied by event 0`,
      "the events match the pattern taken all together (as 'stixflow match' sees them), but the pipeline raised no alert: the rule's filters muted an event",
    ]);
  });

  it('a match across two groups of group_by', async () => {
    const lines = await explanation({
      pattern: `${A} AND ${B}`,
      events: [event('a.exe', '10:00:00', 'web-1'), event('b.exe', '10:00:05', 'web-2')],
      extra: '  group_by: x-oca-asset:hostname\n',
    });
    expect(lines.at(-1)).toBe(
      "the events match the pattern taken all together (as 'stixflow match' sees them), but the pipeline raised no alert: events correlate only within one group: they must share the values of group_by (x-oca-asset:hostname)",
    );
  });

  it('a rejected event is named with its index among the events as written', async () => {
    const lines = await explanation({
      pattern: `${A} AND ${B}`,
      events: [{ nothing: 'known' }, event('a.exe', '10:00:00')],
    });
    expect(lines[0]).toMatch(/^event 0: no mapping recognises the event/);
    expect(lines.slice(-3)).toEqual([
      `${A} is satisfied by event 1`,
      `${B} is satisfied by no event`,
      `no event satisfies ${B}, so the pattern cannot match`,
    ]);
  });
});
