/**
 * How the Lambda functions are bundled: one set of esbuild options shared by the CDK construct
 * (NodejsFunction, bundling locally with esbuild, never Docker) and by bench/coldstart.ts, so
 * the benchmark measures what is deployed. No aws-cdk-lib import here: the bench stays light.
 */
import { formatDiagnostics } from '../src/errors.js';
import { writeCompiledRules } from '../src/rules/compile-dir.js';
import { COMPILED_RULES_FILE } from '../src/rules/precompiled.js';
import { packageRoot } from '../src/util/package-root.js';

/** Repository root. */
export const REPO_ROOT = packageRoot();

/** The functions, by construct id, with their entry files relative to the repository root. */
export const FUNCTION_ENTRIES = {
  IngestHttp: 'functions/ingest-http.ts',
  IngestSqs: 'functions/ingest-sqs.ts',
  RulesApi: 'functions/rules-api.ts',
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

/** The ingest channel functions (#19), defined only when the construct's `ingest` props ask for them. */
export const CHANNEL_ENTRIES = {
  IngestS3: 'functions/ingest-s3.ts',
  IngestKinesis: 'functions/ingest-kinesis.ts',
  IngestEventBridge: 'functions/ingest-eventbridge.ts',
  IngestCwLogs: 'functions/ingest-cwlogs.ts',
  Outputs: 'functions/outputs.ts',
  /** The alerts API of the alert store (#17), with the construct's `alertStore`. */
  AlertsApi: 'functions/alerts-api.ts',

  /** The outbox sweeper (#18), on an EventBridge schedule unless the construct's `outboxSweep` is false. */
  OutboxSweeper: 'functions/outbox-sweeper.ts',
} as const;

/** The console function (#17.3), serving the detection console's page. */
export const CONSOLE_ENTRY = 'functions/console.ts';
/** Where the console's built assets sit inside its bundle (CONSOLE_ASSETS_DIR, LAMBDA_TASK_ROOT-relative). */
export const BUNDLED_CONSOLE_DIR = 'console';

/** esbuild target matching the Lambda runtime (Runtime.NODEJS_24_X). */
export const ESBUILD_TARGET = 'node24';

/**
 * ESM output needs `require` for the CommonJS dependencies that load Node built-ins (ajv,
 * yaml...): esbuild's ESM shim throws "Dynamic require of X is not supported" without it.
 */
export const REQUIRE_SHIM_BANNER =
  "import { createRequire as __stixflowCreateRequire } from 'node:module'; const require = __stixflowCreateRequire(import.meta.url);";

/** Prefer ES module builds of dependencies (smaller, tree-shakable). */
export const MAIN_FIELDS = ['module', 'main'];

/**
 * The AWS SDK v3 ships with the Lambda Node.js runtime; leaving it out keeps each bundle under
 * its size budget (it adds about 350 KB minified). The clients used are long-stable APIs (DynamoDB item and
 * query calls, SQS send/receive).
 */
export const EXTERNAL_MODULES = ['@aws-sdk/*'];

/**
 * The size budget of each function's bundle (index.mjs), checked by the infra tests and shown by the
 * cold-start bench. It was 1 MB until the runtime rule store, Sigma, the outputs and the outbox
 * sweeper (#15–#19) came in: every ingest bundle now carries the whole rule compiler, because rules
 * written through the API compile where they run. Cold start itself is measured, not assumed
 * (bench/coldstart.ts); trimming the bundles again (mappings shipped as JSON, so that `yaml` leaves the
 * ingest bundles) is a known next step.
 */
export const MAX_BUNDLE_BYTES = 1.25 * 1024 * 1024;

/** Where the shipped files live inside the function bundle (LAMBDA_TASK_ROOT-relative). */
export const BUNDLED_RULES_DIR = 'rules';
export const BUNDLED_MAPPINGS_DIR = 'mappings';

/**
 * The precompiled form of the rules (src/rules/precompiled.ts), written by `cdk synth` into the
 * rules directory each bundle ships: a container's first init reads it instead of compiling
 * every rule (1,000 rules: a fifth of the cold start). It is checked against the shipped rule
 * files by content hash, so a bundle whose rules were edited afterwards still loads them.
 */
export const RULES_COMPILED = COMPILED_RULES_FILE;

/** Writes RULES_COMPILED into a staged rules directory; throws when a rule there does not load. */
export function writeRulesCompiled(stagedRulesDir: string): void {
  const written = writeCompiledRules(stagedRulesDir);
  const errors = written.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0)
    throw new Error(`the staged rules do not load (${errors.length} errors):\n${formatDiagnostics(errors)}`);
}

/** The same options as esbuild's API takes them (for the benchmark). */
export function esbuildOptions(entry: string): {
  entryPoints: string[];
  bundle: true;
  platform: 'node';
  format: 'esm';
  target: string;
  minify: true;
  sourcemap: false;
  mainFields: string[];
  external: string[];
  banner: { js: string };
  absWorkingDir: string;
} {
  return {
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: ESBUILD_TARGET,
    minify: true,
    sourcemap: false,
    mainFields: MAIN_FIELDS,
    external: EXTERNAL_MODULES,
    banner: { js: REQUIRE_SHIM_BANNER },
    absWorkingDir: REPO_ROOT,
  };
}
