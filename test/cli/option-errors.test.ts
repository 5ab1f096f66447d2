import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('stixflow option errors', () => {
  it('answers an out-of-range engine option with one line naming it and exit 2, not a stack trace', async () => {
    const { code, err } = await runCli(['run', '--rules', 'rules', '--lateness', 'abc', 'examples/events.ndjson']);
    expect(code).toBe(2);
    expect(err).toMatch(/^stixflow run: error \[invalid-engine-option\] .*latenessSeconds/m);
    expect(err).not.toMatch(/\n\s+at /);
  });
});
