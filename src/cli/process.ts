/**
 * Runs the CLI as the process (bin/stixflow.js and `npm run stixflow`): standard streams, exit
 * status, and what happens when a stream's reader goes away.
 */
import { OutputClosedError } from './io.js';
import { main } from './main.js';

/** The error code of a write to a pipe whose reader has closed it (`stixflow … | head -1`). */
const BROKEN_PIPE = 'EPIPE';

/**
 * A reader that stops early (`| head`, a pager quit) closes the pipe: the rest of the output is
 * not wanted. C tools die quietly of SIGPIPE there, which Node ignores, turning the failed write
 * into an unhandled 'error' event and a stack trace. Instead stop at once, quietly, with success:
 * the reader got what it asked for. On standard error a closed pipe only loses the messages.
 */
function stopQuietlyWhenTheReaderLeaves(): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === BROKEN_PIPE) process.exit(0);
    process.stderr.write(`stixflow: cannot write the output: ${error.message}\n`);
    process.exit(2);
  });
  process.stderr.on('error', () => {
    // Nowhere left to report it; the output and the exit status still tell the caller.
  });
}

export async function runAsProcess(argv: string[]): Promise<void> {
  stopQuietlyWhenTheReaderLeaves();
  try {
    process.exitCode = await main(argv, { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
  } catch (error) {
    if (error instanceof OutputClosedError) {
      process.exitCode = 0;
      return;
    }
    // A defect, not bad input (commands report those as diagnostics): show where it happened.
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exitCode = 2;
  }
}
