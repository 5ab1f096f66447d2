import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimDataDir, IngestJournal, JOURNAL_FILE, PID_FILE } from '../../src/local/data-dir.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'stixflow-dir-'));

describe('the ingest journal of the local stack', () => {
  it('gives back, in order, the messages not settled, and compacts itself at each open', () => {
    const d = dir();
    const first = IngestJournal.open(d);
    expect(first.pending).toEqual([]);
    for (const id of ['a', 'b', 'c', 'd']) first.journal.put({ id, tenant: 't', body: `{"n":"${id}"}` });
    first.journal.settle('b', 'processed');
    first.journal.settle('d', 'dead-lettered');
    first.journal.close();
    // A kill in the middle of writing a record leaves a torn last line: its 202 was never sent.
    appendFileSync(join(d, JOURNAL_FILE), '{"op":"put","id":"e","ten');

    const second = IngestJournal.open(d);
    expect(second.pending.map((e) => e.id)).toEqual(['a', 'c']);
    expect(second.pending[0]).toEqual({ id: 'a', tenant: 't', body: '{"n":"a"}' });
    second.journal.close();
    expect(readFileSync(join(d, JOURNAL_FILE), 'utf8').trim().split('\n')).toHaveLength(2);
  });
});

describe('claiming a data directory', () => {
  it('allows one stack per directory, and takes over after a stack that was killed', () => {
    const d = dir();
    const release = claimDataDir(d);
    expect(() => claimDataDir(d)).toThrow(/in use by another local stack of this process/);
    release();
    claimDataDir(d)();
    // The pid file of a process that no longer exists.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(join(d, PID_FILE), `${gone.stdout}\n`);
    const again = claimDataDir(d);
    expect(readFileSync(join(d, PID_FILE), 'utf8').trim()).toBe(String(process.pid));
    again();
  });
});
