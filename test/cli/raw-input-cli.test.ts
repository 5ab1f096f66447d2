/**
 * Raw (non-STIX) events through `stixflow match` and `stixflow state` (issue #11, item 22):
 * `match` normalises them as `run` does (built-in mappings, and --mapping) and says so in its
 * output, or says that an event is not STIX; `state` takes --mapping like `run`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { observed21, odId } from '../pattern/fixtures.js';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-cli-raw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function tempFile(name: string, content: string): string {
  const path = join(dir, `${files++}-${name}`);
  writeFileSync(path, content);
  return path;
}
const ndjson = (values: unknown[]): string => values.map((v) => JSON.stringify(v)).join('\n') + '\n';

/** A tool's own format, which no built-in mapping knows: `{ "exe": …, "box": …, "at": … }`. */
const EDR_MAPPING = `mapping: 1
name: edr-x
detect:
  all:
    - present: exe
    - present: box
time:
  start: at
source_id: uid
fields:
  exe: { target: process:name, transform: basename }
  box: process:x_host_id
`;
const edr = (uid: string, exe: string, at: string): Record<string, unknown> => ({ uid, exe, box: 'web-1', at });

interface MatchOutput {
  matched: boolean;
  binding?: { observation: number; observedDataIndex: number; observedDataId: string }[];
  normalised: { input: number; line: number; mapping: string; observedDataIds: string[] }[];
  error?: string;
  diagnostics?: { code: string; message: string; line: number; file: string }[];
}

describe('stixflow match on raw events', () => {
  const P = "[process:name = 'bash' AND process:parent_ref.name = 'nginx']";
  const flat = {
    event_type: 'process_create',
    process_name: 'bash',
    parent_process_name: 'nginx',
    host: 'web-1',
    timestamp: '2026-01-01T10:00:00Z',
    event_id: 'evt-1',
  };

  it('normalises a flat event with the built-in mappings and matches it, naming the mapping and the observed data it became', async () => {
    const file = tempFile('flat.ndjson', ndjson([flat]));
    const r = await runCli(['match', '-p', P, file]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as MatchOutput;
    expect(out.matched).toBe(true);
    expect(out.normalised).toEqual([
      { input: 0, line: 1, mapping: 'flat', observedDataIds: [expect.stringMatching(/^observed-data--/)] },
    ]);
    expect(out.binding?.[0]?.observedDataId).toBe(out.normalised[0]?.observedDataIds[0]);
    expect(r.err).toContain('1 raw event normalised into STIX observed data (mapping: flat)');
  });

  it('a raw event that does not satisfy the pattern is a real no-match (exit 1), still listed as normalised', async () => {
    const file = tempFile('miss.ndjson', ndjson([{ ...flat, parent_process_name: 'sshd' }]));
    const r = await runCli(['match', '-p', P, file]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out)).toMatchObject({ matched: false, normalised: [{ input: 0, mapping: 'flat' }] });
  });

  it('mixes STIX (kept as it is) and raw events in input order, across a sequence', async () => {
    const stix = observed21([{ type: 'process', name: 'nc' }], { first: 3 * 365 * 86_400 });
    const file = tempFile('mixed.ndjson', ndjson([flat, stix]));
    const r = await runCli(['match', '-p', `${P} FOLLOWEDBY [process:name = 'nc']`, file]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as MatchOutput;
    expect(out.normalised.map((n) => [n.input, n.line])).toEqual([[0, 1]]);
    expect(out.binding?.map((b) => [b.observation, b.observedDataIndex, b.observedDataId])).toEqual([
      [0, 0, out.normalised[0]?.observedDataIds[0]],
      [1, 1, odId(stix)],
    ]);
  });

  it('an event that is not STIX and that no mapping recognises is an error at its line (exit 2), not "no match"', async () => {
    const stix = observed21([{ type: 'process', name: 'bash' }]);
    const file = tempFile('unknown.ndjson', ndjson([stix, { exe: 'bash', box: 'web-1', at: '2026-01-01T10:00:00Z' }]));
    const r = await runCli(['match', '-p', "[process:name = 'bash']", file]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.out) as MatchOutput;
    expect(out.error).toBe('invalid-input');
    expect(out.diagnostics).toEqual([
      expect.objectContaining({
        code: 'unrecognised-format',
        file,
        line: 2,
        message: expect.stringMatching(
          /^input 1 is not STIX, and no mapping recognises the event; none of the \d+ mappings comes close/,
        ),
      }),
    ]);
    expect(r.err).toContain(`${file}:2: error [unrecognised-format] input 1 is not STIX`);
  });

  it('--mapping: the same event then normalises with that mapping and matches', async () => {
    const mapping = tempFile('edr-x.yaml', EDR_MAPPING);
    const file = tempFile('edr.ndjson', ndjson([edr('u-1', '/usr/bin/bash', '2026-01-01T10:00:00Z')]));
    const r = await runCli([
      'match',
      '-p',
      "[process:name = 'bash' AND process:x_host_id = 'web-1']",
      '--mapping',
      mapping,
      file,
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ matched: true, normalised: [{ input: 0, mapping: 'edr-x' }] });
  });

  it('all-STIX input keeps its output, with an empty normalised list and nothing on stderr', async () => {
    const hit = observed21([{ type: 'file', name: 'evil.exe' }]);
    const r = await runCli(['match', '-p', "[file:name = 'evil.exe']", tempFile('stix.json', JSON.stringify(hit))]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ matched: true, normalised: [] });
    expect(r.err).toBe('');
  });
});

describe('stixflow state --mapping', () => {
  const rules = tempFile(
    'seq.yaml',
    `id: bash-then-nc
name: bash then nc
severity: high
group_by: process:x_host_id
pattern: "([process:name = 'bash'] FOLLOWEDBY [process:name = 'nc']) WITHIN 300 SECONDS"
`,
  );

  it('normalises events with the given mapping and explains the partial match they leave', async () => {
    const mapping = tempFile('edr-x.yaml', EDR_MAPPING);
    const events = tempFile('edr.ndjson', ndjson([edr('u-1', 'bash', '2026-01-01T10:00:00Z')]));
    const r = await runCli(['state', '--rules', rules, '--rule', 'bash-then-nc', '--mapping', mapping, events]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const [explanation] = JSON.parse(r.out) as {
      groupKey: string;
      partialMatches: { sourceEventId?: string; satisfies: number[] }[];
      pendingObservations: number[];
    }[];
    expect(explanation?.groupKey).toBe('["web-1"]');
    expect(explanation?.partialMatches).toMatchObject([{ sourceEventId: 'u-1', satisfies: [0] }]);
    expect(explanation?.pendingObservations).toEqual([1]);
  });

  it('without the mapping, says the events were rejected (exit 1) instead of explaining nothing silently', async () => {
    const events = tempFile('edr.ndjson', ndjson([edr('u-1', 'bash', '2026-01-01T10:00:00Z')]));
    const r = await runCli(['state', '--rules', rules, '--rule', 'bash-then-nc', events]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/event 0.*unrecognised-format/);
    expect(JSON.parse(r.out)).toEqual([]);
  });

  it('--help lists --mapping', async () => {
    expect((await runCli(['state', '--help'])).out).toContain('-m, --mapping <file>');
  });
});
