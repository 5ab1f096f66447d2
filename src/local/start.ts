/**
 * `npm start`: the local stack on http://127.0.0.1:${STIXFLOW_PORT:-8080}, with the example rules
 * from rules/ (or STIXFLOW_RULES_DIR). Alerts print as they arrive; Ctrl-C stops everything.
 * In memory unless STIXFLOW_DATA_DIR names a directory to keep state and queued messages in.
 * STIXFLOW_WATCH_DIR names a folder read as if it were an S3 bucket prefix (drop a CloudTrail file, see its
 * alerts), with STIXFLOW_WATCH_SOURCE (a mapping; detected when unset) and STIXFLOW_WATCH_TENANT (default local).
 *
 *   curl -s -X POST localhost:8080/events -H 'Authorization: Bearer local-dev' --data-binary @examples/events.ndjson
 */
import { parseLocalTokens, startLocalStack } from './server.js';

function portFromEnv(): number {
  const raw = process.env.STIXFLOW_PORT;
  if (raw === undefined || raw === '') return 8080;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`STIXFLOW_PORT must be a port number (0-65535), got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}

async function main(): Promise<void> {
  const tokens = process.env.STIXFLOW_LOCAL_TOKENS ? parseLocalTokens(process.env.STIXFLOW_LOCAL_TOKENS) : undefined;
  const stack = await startLocalStack({
    port: portFromEnv(),
    ...(process.env.STIXFLOW_RULES_DIR ? { rulesDir: process.env.STIXFLOW_RULES_DIR } : {}),
    ...(tokens ? { tokens } : {}),
    ...(process.env.STIXFLOW_DATA_DIR ? { dataDir: process.env.STIXFLOW_DATA_DIR } : {}),
    ...(process.env.STIXFLOW_WATCH_DIR
      ? {
          watch: {
            dir: process.env.STIXFLOW_WATCH_DIR,
            ...(process.env.STIXFLOW_WATCH_SOURCE ? { source: process.env.STIXFLOW_WATCH_SOURCE } : {}),
            ...(process.env.STIXFLOW_WATCH_TENANT ? { tenant: process.env.STIXFLOW_WATCH_TENANT } : {}),
          },
        }
      : {}),
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local stack`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  const code = (error as { code?: unknown }).code;
  if (code === 'EADDRINUSE')
    console.error(`port ${portFromEnv()} is in use; set STIXFLOW_PORT to another port (0 picks a free one)`);
  else console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
