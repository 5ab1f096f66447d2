/**
 * How much of a Sigma rule collection loads: every rule file under the given folders (default
 * SigmaHQ's rule folders in ../shared/sigma) goes through the ordinary loader with the built-in
 * taxonomy, and a table by folder and by logsource says how many loaded and why the others did
 * not (their diagnostic codes). Prints the overall share last; exits 1 when it is below
 * --min (a percentage), 0 otherwise.
 *
 *   npm run sigma:load [-- <folder>…] [--min 98] [--list CODE]
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadRules } from '../src/rules/load.js';
import { readLogsource, describeLogsource } from '../src/rules/sigma/compile.js';
import { parse } from 'yaml';
import { isSigmaFilter } from '../src/rules/sigma/filter.js';
import { isSigmaPipelineFile } from '../src/rules/sigma/pipeline.js';

/** The file's first YAML document, or undefined when it does not parse (the loader reports that). */
function parseQuietly(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return undefined;
  }
}

const args = process.argv.slice(2);
let min: number | undefined;
let list: string | undefined;
const folders: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i] as string;
  if (arg === '--min') min = Number(args[++i]);
  else if (arg === '--list') list = args[++i];
  else folders.push(arg);
}
const base = join(import.meta.dirname, '..', '..', 'shared', 'sigma');
if (folders.length === 0)
  for (const name of ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-placeholder'])
    if (existsSync(join(base, name))) folders.push(join(base, name));
if (folders.length === 0) {
  console.error(`no Sigma rule folders given, and none at ${base}`);
  process.exit(2);
}

function ruleFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...ruleFiles(path));
    else if (/\.ya?ml$/i.test(entry)) out.push(path);
  }
  return out;
}

interface Tally {
  loaded: number;
  failed: number;
  codes: Map<string, number>;
}
const tally = (map: Map<string, Tally>, key: string): Tally => {
  let t = map.get(key);
  if (!t) map.set(key, (t = { loaded: 0, failed: 0, codes: new Map() }));
  return t;
};
const byFolder = new Map<string, Tally>();
const byLogsource = new Map<string, Tally>();
const total: Tally = { loaded: 0, failed: 0, codes: new Map() };
const listed: string[] = [];

for (const folder of folders) {
  for (const file of ruleFiles(folder)) {
    // Pipelines and filters are not rules: they count through the rules they change.
    if (isSigmaPipelineFile(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (isSigmaFilter(parseQuietly(text))) continue;
    const result = loadRules([{ file, text }]);
    const errors = result.diagnostics.filter((d) => d.severity === 'error' || d.code === 'sigma-status-not-run');
    const loaded = result.rules.length > 0 && errors.length === 0;
    let logsource = '(unreadable)';
    try {
      const value = parse(text) as { logsource?: Record<string, unknown> };
      if (value?.logsource) logsource = describeLogsource(readLogsource(value.logsource));
    } catch {
      // the loader reported it
    }
    const folderKey = relative(join(folder, '..'), file).split('/').slice(0, 3).join('/');
    const codes = [...new Set(errors.map((d) => d.code))];
    for (const t of [tally(byFolder, folderKey), tally(byLogsource, logsource), total]) {
      if (loaded) t.loaded++;
      else {
        t.failed++;
        for (const code of codes) t.codes.set(code, (t.codes.get(code) ?? 0) + 1);
      }
    }
    if (list && codes.includes(list))
      for (const d of errors.filter((e) => e.code === list))
        listed.push(`${relative(base, file)}:${d.line ?? ''}:${d.column ?? ''} ${d.message}`);
  }
}

const share = (t: Tally): string => `${((100 * t.loaded) / Math.max(1, t.loaded + t.failed)).toFixed(1)}%`;
const codesText = (t: Tally): string =>
  [...t.codes.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
function print(title: string, map: Map<string, Tally>): void {
  console.log(`\n| ${title} | loaded | not loaded | share | why not |\n|---|---:|---:|---:|---|`);
  for (const [key, t] of [...map.entries()].sort((a, b) => a[0].localeCompare(b[0])))
    console.log(`| ${key} | ${t.loaded} | ${t.failed} | ${share(t)} | ${codesText(t)} |`);
}
print('folder', byFolder);
print('logsource', byLogsource);
console.log(
  `\nSigma rules loaded: ${total.loaded} of ${total.loaded + total.failed} (${share(total)}); not loaded: ${codesText(total) || 'none'}`,
);
if (list) console.log(`\n${list}:\n${listed.join('\n')}`);
const percent = (100 * total.loaded) / Math.max(1, total.loaded + total.failed);
process.exit(min !== undefined && percent < min ? 1 : 0);
