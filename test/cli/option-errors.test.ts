import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('stixflow option errors', () => {
  it('answers an out-of-range engine option with one line naming it and exit 2, not a stack trace', async () => {
    const { code, err } = await runCli(['run', '--rules', 'rules', '--lateness', 'abc', 'examples/events.ndjson']);
    expect(code).toBe(2);
    expect(err).toMatch(/^stixflow run: error \[invalid-engine-option\] .*latenessSeconds/m);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('reads --lateness as seconds or as a duration with a unit, and locates what is wrong in a bad one', async () => {
    const seconds = await runCli(['run', '--rules', 'rules', '--lateness', '300', 'examples/events.ndjson']);
    const minutes = await runCli(['run', '--rules', 'rules', '--lateness', '5m', 'examples/events.ndjson']);
    const alertIds = (out: string): string[] =>
      out
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { id: string }).id);
    expect(seconds.code).toBe(0);
    expect(alertIds(seconds.out).length).toBeGreaterThan(0);
    expect({ ...minutes, out: alertIds(minutes.out) }).toEqual({ ...seconds, out: alertIds(seconds.out) });
    const bad = await runCli(['run', '--rules', 'rules', '--lateness', '5x', 'examples/events.ndjson']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^stixflow run: error \[invalid-engine-option\] .*latenessSeconds .*'x' is not a unit/m);
  });
});
