/**
 * The built CLI with its output piped to a reader that stops early (issue #11, item 22): it
 * stops quietly with exit status 0, as `yes | head -1` does, instead of an unhandled EPIPE.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/bundling.js';
import { generateEvents } from '../../src/generate/index.js';

const exec = promisify(execFile);

/** Runs `command | head -1` in bash; returns what head printed, the CLI's exit status and its stderr. */
async function pipedToHead(command: string): Promise<{ firstLine: string; status: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'stixflow-pipe-'));
  try {
    const errFile = join(dir, 'stderr.txt');
    // \${PIPESTATUS[0]} is the CLI's own exit status (the pipeline's is head's).
    const { stdout } = await exec(
      'bash',
      ['-c', `${command} 2>"$ERR_FILE" | head -1; echo "status=\${PIPESTATUS[0]}"`],
      { cwd: REPO_ROOT, env: { ...process.env, ERR_FILE: errFile } },
    );
    const [firstLine = '', statusLine = ''] = stdout.split('\n');
    return {
      firstLine,
      status: Number(/^status=(\d+)$/.exec(statusLine)?.[1] ?? NaN),
      stderr: readFileSync(errFile, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('output piped to head', () => {
  it('stixflow emit (megabytes of output) stops after head has its line: exit 0, nothing on stderr', async () => {
    // 5,000 bundles are several megabytes, far beyond a pipe's buffer: the write after head exits fails.
    const { firstLine, status, stderr } = await pipedToHead(`node bin/stixflow.js emit "[process:name = 'a']" -n 5000`);
    expect(JSON.parse(firstLine)).toMatchObject({ type: 'bundle' });
    expect(stderr).toBe('');
    expect(status).toBe(0);
  }, 60_000);

  it('stixflow run (thousands of alerts) stops after head has its line: exit 0, no stack trace on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-pipe-run-'));
    try {
      // 3,000 distinct events, each raising an alert line of about a kilobyte: far beyond a pipe's buffer.
      const pattern = "[process:name = 'a']";
      writeFileSync(join(dir, 'rule.yaml'), `id: a-started\nname: a started\nseverity: low\npattern: "${pattern}"\n`);
      const events = generateEvents(pattern, { count: 3000, seed: 7 }).flat();
      writeFileSync(join(dir, 'events.ndjson'), events.map((e) => JSON.stringify(e)).join('\n'));
      const { firstLine, status, stderr } = await pipedToHead(
        `node bin/stixflow.js run --rules "${dir}/rule.yaml" "${dir}/events.ndjson"`,
      );
      expect(JSON.parse(firstLine)).toMatchObject({ schema: 'stixflow.alert/2', ruleId: 'a-started' });
      expect(stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
      expect(stderr).toBe('');
      expect(status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
