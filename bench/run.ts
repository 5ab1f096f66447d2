/**
 * `npm run bench`: every benchmark of the project in one run, printed as tables. Figures are
 * printed, never asserted: targets are shown beside them.
 */
import { existsSync } from 'node:fs';
import { benchPattern } from './pattern.js';
import { printTable, type BenchRow } from './table.js';

console.log(`stixflow benchmarks — node ${process.version}, ${process.arch}, one process`);
printTable('Pattern engine', benchPattern());

// Benchmarks of other modules, loaded when present.
const optional: [string, string, string][] = [
  ['./normalise.ts', 'benchNormalise', 'Normalisation (issue: normalisation)'],
  ['./streaming.ts', 'benchStreaming', 'Streaming correlation'],
  ['./storage.ts', 'benchStorage', 'State store (DynamoDB emulator)'],
  ['./rules.ts', 'benchRules', 'Rules and indicators at scale (one core)'],
  ['./generate.ts', 'benchGenerate', 'Event generator'],
  ['./coldstart.ts', 'benchColdStart', 'Lambda cold start'],
];
for (const [file, fn, title] of optional) {
  if (!existsSync(new URL(file, import.meta.url))) continue;
  const mod = (await import(file)) as Record<string, () => BenchRow[] | Promise<BenchRow[]>>;
  const run = mod[fn];
  if (run) printTable(title, await run());
}
