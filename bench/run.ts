/**
 * `npm run bench`: every benchmark of the project in one run, printed as tables. Figures are
 * printed, never asserted: targets are shown beside them. Each section runs in a process of
 * its own, so that one section's heap (a million indicators, say) does not slow the next.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printTable, type BenchRow } from './table.js';

/** Node flags of a section's process, beyond those of this one. */
const ONE_CORE = ['--single-threaded-gc']; // the rules figures are for one core: no GC helper threads either

const SECTIONS: [file: string, fn: string, title: string, flags?: string[]][] = [
  ['./pattern.ts', 'benchPattern', 'Pattern engine'],
  ['./normalise.ts', 'benchNormalise', 'Normalisation'],
  ['./streaming.ts', 'benchStreaming', 'Streaming correlation'],
  ['./aggregation.ts', 'benchAggregation', 'Aggregation rule kinds (threshold, distinct_count, outliers, new_terms)'],
  ['./storage.ts', 'benchStorage', 'State store (DynamoDB emulator)'],
  ['./cost.ts', 'benchCost', 'DynamoDB request units per event, three workloads (docs/cost.md; DynamoDB emulator)'],
  ['./local-stack.ts', 'benchLocalStack', 'Local stack end to end (HTTP, DynamoDB and SQS emulators)'],
  ['./generate.ts', 'benchGenerate', 'Event generator'],
  ['./coldstart.ts', 'benchColdStart', 'Lambda cold start'],
  ['./sigma.ts', 'benchSigma', 'Sigma at SigmaHQ scale (issue 15; single-threaded GC)', ONE_CORE],
  ['./rules.ts', 'benchRules', 'Rules and indicators at scale (one core, single-threaded GC)', ONE_CORE],
];

const section = process.argv.indexOf('--section');
if (section >= 0) {
  const [file, fn, title] = SECTIONS.find(([f]) => f === process.argv[section + 1]) as [string, string, string];
  const mod = (await import(file)) as Record<string, () => BenchRow[] | Promise<BenchRow[]>>;
  printTable(title, await (mod[fn] as () => BenchRow[] | Promise<BenchRow[]>)());
} else {
  console.log(`stixflow benchmarks — node ${process.version}, ${process.arch}; each section in its own process`);
  for (const [file, , , flags = []] of SECTIONS) {
    if (!existsSync(new URL(file, import.meta.url))) continue;
    execFileSync(process.execPath, [...process.execArgv, ...flags, fileURLToPath(import.meta.url), '--section', file], {
      stdio: 'inherit',
    });
  }
}
