/** `stixflow match` reports how many values LIKE and MATCHES saw cut at MAX_SEARCHED_LENGTH (issue #11, item 19). */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_SEARCHED_LENGTH } from '../../src/pattern/evaluate.js';
import { runCli } from './run-cli.js';

const N = MAX_SEARCHED_LENGTH;

function observed(object: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'observed-data',
    id: 'observed-data--00000000-0000-4000-8000-000000000001',
    first_observed: '2024-01-01T00:00:00Z',
    last_observed: '2024-01-01T00:00:00Z',
    number_observed: 1,
    objects: { 0: { type: 'process', ...object } },
  };
}

describe('searched length in the CLI', () => {
  it('stixflow match reports the cut with its result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-cut-'));
    try {
      const file = join(dir, 'event.json');
      writeFileSync(file, JSON.stringify([observed({ command_line: `${'x'.repeat(N)} -enc evil` })]));
      const r = await runCli(['match', '--pattern', "[process:command_line MATCHES '-enc']", file]);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.out)).toMatchObject({ matched: false, valuesCut: 1 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
