/** stixflow run names the file and line (or array item) of each event in its diagnostics. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleOf, observed20 } from '../pipeline/detector-fixtures.js';
import { runCli } from './run-cli.js';

describe('stixflow run: diagnostics name the file and line of the event', () => {
  it('points at the NDJSON line and at the item of a JSON array, whatever the batch size', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-origins-'));
    const rules = join(dir, 'rules.yaml');
    writeFileSync(
      rules,
      `rules:\n  - id: odd-ctime\n    name: odd ctime\n    severity: low\n    pattern: "[file:ctime > t'2020-01-01T00:00:00Z']"\n`,
    );
    const ndjson = join(dir, 'one.ndjson');
    writeFileSync(
      ndjson,
      [
        '',
        JSON.stringify({ nothing: 'to see' }),
        JSON.stringify(bundleOf(1, '2026-01-01T10:00:00Z', ['a', 'b', 'c'])),
      ].join('\n'),
    );
    const array = join(dir, 'two.json');
    const badFile = observed20(2, '2026-01-01T10:00:01Z', { '0': { type: 'file', name: 'f', ctime: 'yesterday' } });
    writeFileSync(
      array,
      JSON.stringify([observed20(3, '2026-01-01T10:00:02Z', { '0': { type: 'file', name: 'g' } }), badFile]),
    );
    for (const batchSize of ['1', '10']) {
      const run = await runCli(['run', '--rules', rules, '--batch-size', batchSize, ndjson, array]);
      expect(run.code).toBe(1);
      const lines = run.err.trim().split('\n');
      expect(lines[0]).toMatch(new RegExp(`^${ndjson}:2: event 0: error \\[unrecognised-format\\] `));
      expect(lines[1]).toMatch(new RegExp(`^${array}:1 \\(item 1\\): event 3: error \\[bad-timestamp-in-data\\] `));
      expect(lines.slice(2)).toEqual(['4 events, 0 alerts']);
    }
  });
});
