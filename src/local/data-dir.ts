/**
 * The local stack's data directory (STIXFLOW_DATA_DIR): what survives a restart, or a kill.
 *
 *   dynamodb/               dynalite's LevelDB: correlation state, rule overrides, counters
 *   ingest-journal.ndjson   messages POST /queue accepted and the SQS handler has not finished
 *   stixflow.pid            the process using the directory (one stack per directory)
 *
 * fauxqs, the SQS emulator, keeps its queues in memory and offers no persistence. So POST /queue
 * writes each message to the journal (and syncs it to disk) before answering 202 and sending it
 * to the emulator; the ingest poller records when the handler has processed it (or it went to
 * the dead-letter queue). At start, every message not settled is sent to the ingest queue again:
 * a message /queue acknowledged is never lost, and one that was in flight at a kill is
 * processed again (the pipeline's outbox and alert ids make that redelivery safe).
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { EmulatorError } from '../emulators/emulators.js';

export const DYNAMO_SUBDIR = 'dynamodb';
export const JOURNAL_FILE = 'ingest-journal.ndjson';
export const PID_FILE = 'stixflow.pid';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory for this process (two emulators on one LevelDB would corrupt it), creating
 * it if needed. A pid file left by a stack that was killed is taken over. Returns the release.
 */
export function claimDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const pidFile = join(dir, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(pidFile, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(pidFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(pidFile, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && alive(owner)) {
        const who = owner === process.pid ? 'another local stack of this process' : `process ${owner}`;
        throw new EmulatorError(`data directory ${dir} is in use by ${who} (one local stack per directory)`);
      }
      rmSync(pidFile, { force: true }); // stale: its stack was killed
    }
  }
  throw new EmulatorError(`data directory ${dir}: could not take ${PID_FILE}`);
}

/** A message POST /queue accepted. */
export interface JournalEntry {
  id: string;
  tenant: string;
  body: string;
  /** The mapping the sender named for the message's events, if any. */
  source?: string;
}

/** How a journalled message left the ingest queue. */
export type Settlement = 'processed' | 'dead-lettered' | 'not-queued';

type JournalRecord = ({ op: 'put' } & JournalEntry) | { op: Settlement; id: string };

/** The write-ahead journal of the ingest queue: one JSON record per line. */
export class IngestJournal {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens the journal of a data directory: returns the messages not settled, in the order they
   * were accepted, and a journal holding only those (settled records are dropped at each start,
   * so the file stays as small as the backlog).
   */
  static open(dir: string): { journal: IngestJournal; pending: JournalEntry[] } {
    const path = join(dir, JOURNAL_FILE);
    const pending = new Map<string, JournalEntry>();
    if (existsSync(path)) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line === '') continue;
        let record: JournalRecord;
        try {
          record = JSON.parse(line) as JournalRecord;
        } catch {
          continue; // a line torn by a kill mid-write: its 202 was never sent
        }
        if (record.op === 'put')
          pending.set(record.id, {
            id: record.id,
            tenant: record.tenant,
            body: record.body,
            ...(record.source !== undefined ? { source: record.source } : {}),
          });
        else pending.delete(record.id);
      }
    }
    const compacted = `${path}.tmp`;
    const out = openSync(compacted, 'w');
    try {
      for (const entry of pending.values()) writeSync(out, `${JSON.stringify({ op: 'put', ...entry })}\n`);
      fsyncSync(out);
    } finally {
      closeSync(out);
    }
    renameSync(compacted, path);
    return { journal: new IngestJournal(path, openSync(path, 'a')), pending: [...pending.values()] };
  }

  /** Records a message durably (synced to disk) before it is acknowledged. */
  put(entry: JournalEntry): void {
    this.write({ op: 'put', ...entry }, true);
  }

  /** Records that a message left the ingest queue; it is not sent again at the next start. */
  settle(id: string, how: Settlement): void {
    // Not synced: losing this record only means the message is processed once more after a crash.
    this.write({ op: how, id }, false);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private write(record: JournalRecord, sync: boolean): void {
    if (this.fd === undefined) throw new EmulatorError(`ingest journal ${this.path} is closed`);
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    if (sync) fsyncSync(this.fd);
  }
}
