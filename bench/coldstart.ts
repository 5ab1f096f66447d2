/**
 * Lambda cold start: what each function ships and what its init does.
 *
 * - Bundle size of each function, bundled with the very options the CDK construct uses
 *   (infra/bundling.ts: ESM, minified, node24, AWS SDK left to the runtime). Target: MAX_BUNDLE_BYTES (1.25 MB).
 * - Init time: loading and compiling 1,000 generated rules of mixed shapes (equality, IN lists,
 *   LIKE, MATCHES, CIDR, references, sequences with WITHIN, group_by, filters, suppression and
 *   rate limits) with `loadRules`, then constructing the Detector. Target ≤ 300 ms.
 *
 * Runnable alone: `npx tsx bench/coldstart.ts`; also part of `npm run bench`.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import {
  BUNDLED_MAPPINGS_DIR,
  BUNDLED_RULES_DIR,
  esbuildOptions,
  FUNCTION_ENTRIES,
  MAX_BUNDLE_BYTES,
  REPO_ROOT,
} from '../infra/bundling.js';
import { Detector } from '../src/pipeline/detector.js';
import { writeCompiledRules } from '../src/rules/compile-dir.js';
import { loadRules, type RuleSource } from '../src/rules/load.js';
import { SEVERITIES } from '../src/rules/model.js';
import { InMemoryStateStore } from '../src/state/memory-store.js';
import { medianFreshColdStart, type FreshColdStart } from './coldstart-fresh.js';
import type { BenchRow } from './table.js';

const RULE_COUNT = 1000;

/** One rule of one of ten shapes, distinct by index. */
function generatedRule(i: number): Record<string, unknown> {
  const base = {
    id: `gen-${i}`,
    name: `Generated rule ${i}`,
    description: `shape ${i % 10}`,
    severity: SEVERITIES[i % SEVERITIES.length],
    tags: [`bench.${i % 7}`],
  };
  const port = 1024 + (i % 60_000);
  switch (i % 10) {
    case 0:
      return { ...base, pattern: `[process:name = 'tool-${i}.exe']` };
    case 1:
      return {
        ...base,
        pattern: `[process:name IN ('a${i}', 'b${i}', 'c${i}', 'd${i}') AND process:parent_ref.name = 'parent-${i}']`,
        group_by: 'x-oca-asset:hostname',
      };
    case 2:
      return { ...base, pattern: `[process:command_line LIKE '%-enc ${i}%']`, suppress: '10m' };
    case 3:
      return { ...base, pattern: `[process:command_line MATCHES '^cmd${i} (/c|-c) [a-z]+$']` };
    case 4:
      return {
        ...base,
        pattern: `[network-traffic:dst_port = ${port} AND network-traffic:dst_ref.value NOT ISSUBSET '10.0.0.0/8']`,
        rate_limit: { max_alerts: 50, period: '1m', throttle_for: '10m' },
      };
    case 5:
      return {
        ...base,
        pattern: `[file:name = 'f${i}.dll' AND file:parent_directory_ref.path = '/tmp/${i}']`,
        filters: [{ pattern: `[process:name = 'updater-${i}']`, reason: 'benign updater' }],
      };
    case 6:
      return {
        ...base,
        pattern: `([process:name = 'w${i}.exe'] FOLLOWEDBY [network-traffic:dst_port = ${port}]) WITHIN 300 SECONDS`,
        group_by: 'x-oca-asset:hostname',
      };
    case 7:
      return {
        ...base,
        pattern: `[user-account:user_id = 'u${i}'] REPEATS 5 TIMES WITHIN 60 SECONDS`,
        group_by: 'user-account:user_id',
      };
    case 8:
      return {
        ...base,
        pattern: `[domain-name:value = 'evil-${i}.example.com'] OR [ipv4-addr:value = '203.0.113.${i % 250}']`,
      };
    default:
      return { ...base, pattern: `[file:hashes.'SHA-256' = '${i.toString(16).padStart(64, '0')}']`, category: 'ioc' };
  }
}

export function generatedRuleSources(count = RULE_COUNT): RuleSource[] {
  // JSON is YAML: the loader reads it through the same staged path as rule files.
  return [
    {
      file: 'generated.json',
      text: JSON.stringify({ rules: Array.from({ length: count }, (_, i) => generatedRule(i)) }),
    },
  ];
}

function initOnce(sources: RuleSource[]): { ms: number; rules: number; errors: number } {
  const start = performance.now();
  const { rules, diagnostics } = loadRules(sources);
  new Detector({ rules, store: new InMemoryStateStore() });
  return {
    ms: performance.now() - start,
    rules: rules.length,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
  };
}

/**
 * The same rules as a rules directory, loaded and the Detector built in fresh processes (a
 * container's first init): from the rule file, then from its precompiled form
 * (`stixflow rules compile`, as `cdk synth` ships it).
 */
function freshProcessRows(sources: RuleSource[]): BenchRow[] {
  const dir = mkdtempSync(join(tmpdir(), 'stixflow-coldstart-rules-'));
  try {
    for (const source of sources) writeFileSync(join(dir, source.file), source.text);
    const fromFiles = medianFreshColdStart(dir);
    const compiled = writeCompiledRules(dir);
    if (compiled.rules !== RULE_COUNT) throw new Error(`precompiled ${compiled.rules} of ${RULE_COUNT} rules`);
    const fromCompiled = medianFreshColdStart(dir);
    if (fromCompiled.stale) throw new Error('the precompiled rules were found stale right after writing them');
    const note = (r: FreshColdStart): string =>
      `CPU ${r.cpuMs.toFixed(0)} ms; rules ${r.loadMs.toFixed(0)} ms, Detector ${r.detectorMs.toFixed(0)} ms; median of 3`;
    return [
      {
        name: `init, fresh process: ${RULE_COUNT} rules from their file + build Detector`,
        value: fromFiles.totalMs,
        unit: 'ms',
        note: note(fromFiles),
      },
      {
        name: `init, fresh process: ${RULE_COUNT} rules precompiled + build Detector`,
        value: fromCompiled.totalMs,
        unit: 'ms',
        target: '≤ 200 ms',
        note: note(fromCompiled),
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fresh Node process imports the minified IngestHttp bundle laid out as on Lambda (rules and
 * mappings beside index.mjs) and builds its runtime, as the Lambda init phase does. The bundle
 * is written under node_modules/.cache so that the AWS SDK it leaves external resolves.
 */
async function bundleInitMs(): Promise<number> {
  const dir = join(REPO_ROOT, 'node_modules', '.cache', 'stixflow-coldstart');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    await build({
      ...esbuildOptions(FUNCTION_ENTRIES.IngestHttp),
      outfile: join(dir, 'index.mjs'),
      logLevel: 'silent',
    });
    cpSync(join(REPO_ROOT, 'rules'), join(dir, BUNDLED_RULES_DIR), { recursive: true });
    cpSync(join(REPO_ROOT, 'mappings'), join(dir, BUNDLED_MAPPINGS_DIR), { recursive: true });
    cpSync(join(REPO_ROOT, 'schemas', 'mapping.schema.json'), join(dir, BUNDLED_MAPPINGS_DIR, 'mapping.schema.json'));
    const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(join(dir, 'index.mjs')).href)});process.stdout.write(String(performance.now()-t));`;
    const env = {
      ...process.env,
      LAMBDA_TASK_ROOT: dir,
      AWS_LAMBDA_FUNCTION_NAME: 'coldstart-bench',
      AWS_REGION: 'us-east-1',
      TABLE_NAME: 'bench',
      ALERT_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench.fifo',
      RULES_DIR: BUNDLED_RULES_DIR,
      MAPPINGS_DIR: BUNDLED_MAPPINGS_DIR,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
      NODE_NO_WARNINGS: '1',
    };
    const runs = Array.from({ length: 3 }, () =>
      Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' })),
    );
    return runs.sort((a, b) => a - b)[1] as number;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchColdStart(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const sources = generatedRuleSources();

  // The first run in this process is the cold one (nothing compiled or JIT-warmed yet).
  const first = initOnce(sources);
  if (first.errors > 0 || first.rules !== RULE_COUNT)
    throw new Error(`generated rules did not all load: ${first.rules} loaded, ${first.errors} errors`);
  const warm = Array.from({ length: 5 }, () => initOnce(sources).ms).sort((a, b) => a - b);
  rows.push({
    name: `init: load + compile ${RULE_COUNT} rules, build Detector (first run)`,
    value: first.ms,
    unit: 'ms',
    target: '≤ 300 ms',
    note: '10 rule shapes',
  });
  rows.push({ name: `init: same, warm (median of 5)`, value: warm[2] as number, unit: 'ms' });
  rows.push(...freshProcessRows(sources));

  rows.push({
    name: 'init: fresh process imports the IngestHttp bundle and builds its runtime (rules/)',
    value: await bundleInitMs(),
    unit: 'ms',
    note: 'median of 3 processes; module load + 5 example rules',
  });

  for (const [name, entry] of Object.entries(FUNCTION_ENTRIES)) {
    const result = await build({ ...esbuildOptions(entry), write: false, logLevel: 'silent' });
    const bytes = result.outputFiles.reduce((sum, f) => sum + f.contents.length, 0);
    rows.push({
      name: `bundle: ${name} (${entry})`,
      value: bytes / 1024,
      unit: 'KB',
      target: `≤ ${MAX_BUNDLE_BYTES / 1024} KB`,
      note: 'minified ESM, AWS SDK from the runtime',
    });
  }
  return rows;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { printTable } = await import('./table.js');
  printTable('Lambda cold start', await benchColdStart());
}
