import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';
import { startLocalStack } from '../../src/local/server.js';

let stack: Awaited<ReturnType<typeof startLocalStack>>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  stack = await startLocalStack({ port: 0, quiet: true });
});
afterAll(async () => {
  await stack.stop();
});

const run = (argv: string[]): ReturnType<typeof runCli> => runCli(argv);

describe('stixflow rules (against the local stack)', () => {
  it('lists every rule with its state and the counts of the events sent', async () => {
    const posted = await fetch(`${stack.url}/events`, {
      method: 'POST',
      headers: { authorization: 'Bearer local-dev' },
      body: readFileSync('examples/events.ndjson'),
    });
    expect(posted.status).toBe(202);
    const { code, out } = await run(['rules', 'status', '--url', stack.url]);
    expect(code).toBe(0);
    expect(out).toContain('tenant local');
    const line = (id: string): string[] =>
      (out.split('\n').find((l) => l.startsWith(`${id} `)) ?? '').trim().split(/\s+/);
    // rule, state, severity, matches, alerts, filtered, suppressed, per-day alerts…
    expect(line('credential-file-read').slice(0, 7)).toEqual([
      'credential-file-read',
      'enabled',
      'high',
      '1',
      '1',
      '1',
      '0',
    ]);
    expect(line('word-launches-powershell').slice(0, 5)).toEqual([
      'word-launches-powershell',
      'enabled',
      'high',
      '1',
      '1',
    ]);
  });

  it('disables and re-enables a rule', async () => {
    expect((await run(['rules', 'disable', 'word-launches-powershell', '--url', stack.url])).code).toBe(0);
    const disabled = await run(['rules', 'status', '--url', stack.url, '--json']);
    const rules = (JSON.parse(disabled.out) as { rules: { id: string; enabled: boolean }[] }).rules;
    expect(rules.find((r) => r.id === 'word-launches-powershell')?.enabled).toBe(false);
    expect((await run(['rules', 'enable', 'word-launches-powershell', '--url', stack.url])).code).toBe(0);
    const enabled = JSON.parse((await run(['rules', 'status', '--url', stack.url, '--json'])).out) as {
      rules: { id: string; enabled: boolean }[];
    };
    expect(enabled.rules.find((r) => r.id === 'word-launches-powershell')?.enabled).toBe(true);
  });

  it('says so when nothing listens at the URL', async () => {
    const { code, err } = await run(['rules', 'status', '--url', 'http://127.0.0.1:9']);
    expect(code).toBe(2);
    expect(err).toContain('cannot reach');
  });
});
