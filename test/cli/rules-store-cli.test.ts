/** `stixflow rules push` and `stixflow rules export` against the local stack's rule store (#17). */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '../../src/local/server.js';
import { runCli } from './run-cli.js';

let stack: Awaited<ReturnType<typeof startLocalStack>>;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  stack = await startLocalStack({ port: 0, quiet: true });
});
afterAll(async () => {
  await stack.stop();
});

const rule = (id: string, severity: string, pattern = "[process:name = 'cli-tool']") =>
  ['id: ' + id, `name: ${id}`, `severity: ${severity}`, `pattern: "${pattern}"`, ''].join('\n');

describe('stixflow rules push / export', () => {
  it('pushes a directory (creating, then updating), prints positions for an invalid file, and exports the store back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-push-'));
    writeFileSync(join(dir, 'a.yaml'), rule('cli-a', 'low'));
    writeFileSync(join(dir, 'b.yml'), rule('cli-b', 'medium'));
    writeFileSync(join(dir, 'broken.yaml'), rule('cli-broken', 'low', '[process:name = ]'));
    writeFileSync(join(dir, 'notes.txt'), 'not a rule');

    const first = await runCli(['rules', 'push', dir, '--url', stack.url, '--token', 'local-dev']);
    expect(first.code).toBe(1);
    expect(first.out).toContain(`${join(dir, 'a.yaml')}: created cli-a version 1`);
    expect(first.out).toContain(`${join(dir, 'b.yml')}: created cli-b version 1`);
    // The diagnostic names the file, line and column, with the line and a caret.
    expect(first.out).toMatch(new RegExp(`${join(dir, 'broken.yaml').replace(/[/.]/g, '\\$&')}:4:27: error`));
    expect(first.out).toContain(`${join(dir, 'broken.yaml')}: refused (422)`);
    expect(first.out).toContain('2 of 3 file(s) stored');

    // Pushed again after an edit: the existing rule is replaced (a new version).
    writeFileSync(join(dir, 'a.yaml'), rule('cli-a', 'high'));
    writeFileSync(join(dir, 'broken.yaml'), rule('cli-broken', 'low'));
    const second = await runCli(['rules', 'push', dir, '--url', stack.url]);
    expect(second.code).toBe(0);
    expect(second.out).toContain(`${join(dir, 'a.yaml')}: updated cli-a version 2`);
    expect(second.out).toContain(`${join(dir, 'broken.yaml')}: created cli-broken version 1`);

    // A non-admin token cannot push.
    const denied = await runCli(['rules', 'push', dir, '--url', stack.url, '--token', 'local-dev:other']);
    expect(denied.code).toBe(1);
    expect(denied.out).toContain('refused (403)');

    const out = join(mkdtempSync(join(tmpdir(), 'stixflow-export-')), 'rules');
    mkdirSync(out, { recursive: true });
    const exported = await runCli(['rules', 'export', out, '--url', stack.url]);
    expect(exported.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['cli-a.yaml', 'cli-b.yaml', 'cli-broken.yaml']);
    expect(readFileSync(join(out, 'cli-a.yaml'), 'utf8')).toBe(rule('cli-a', 'high'));
    expect(exported.out).toContain('3 store rule(s) exported');
  });

  it('says so when the stack cannot be reached or the directory cannot be read', async () => {
    const gone = await runCli(['rules', 'export', tmpdir(), '--url', 'http://127.0.0.1:9']);
    expect(gone.code).toBe(2);
    expect(gone.err).toContain('cannot reach');
    const missing = await runCli(['rules', 'push', join(tmpdir(), 'no-such-dir-stixflow'), '--url', stack.url]);
    expect(missing.code).toBe(2);
    expect((await runCli(['rules', 'push'])).code).toBe(2);
  });
});
