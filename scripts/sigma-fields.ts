/**
 * How well the Sigma taxonomy resolves the fields real rules use, on real events: for every rule of a SigmaHQ
 * regression folder (by default `../shared/sigma/regression`, see its README), the fields its detection names,
 * and for each field whether its taxonomy paths hold, on the rule's own sample normalised by the built-in
 * mappings, the value the raw event has for that field (the property test/rules/sigma-taxonomy.test.ts proves on
 * the project's fixtures). Also whether the logsource's condition selects the sample's events.
 *
 * A field counts as resolved when every sample event that has it is found by the taxonomy; fields no sample event
 * has (Sigma's md5/sha1/sha256/Imphash are read from Hashes) cannot be checked and are listed apart.
 *
 * It measures, it does not judge: the exit status is 0 unless it cannot run.
 *
 *   npm run sigma:fields [-- <regression-dir>] [--quiet]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createNormaliser, toBundle } from '../src/normalise/index.js';
import { readDocuments } from '../src/normalise/reader.js';
import { compilePattern } from '../src/pattern/compile.js';
import { builtinSigmaTaxonomy as taxonomy } from '../src/rules/sigma/taxonomy.js';
import type { FieldBinding, SigmaLogsource } from '../src/rules/sigma/taxonomy-types.js';
import type { ObservedEvent } from '../src/stix/types.js';
import { packageRoot } from '../src/util/package-root.js';

type Json = Record<string, unknown>;

const args = process.argv.slice(2);
const quiet = args.includes('--quiet');
const dir = args.find((a) => !a.startsWith('--')) ?? join(packageRoot(), '..', 'shared', 'sigma', 'regression');
if (!existsSync(dir)) {
  console.error(`sigma:fields: no regression folder at ${dir}`);
  process.exit(2);
}

/** The windows mapping's "no value" placeholders: such a field is absent from the normalised event. */
const NULL_VALUES = new Set(['-', '', 'N/A', '%%1793', 'NULL SID']);
const HASH_FIELDS: Record<string, string> = { md5: 'MD5', sha1: 'SHA1', sha256: 'SHA256', imphash: 'IMPHASH' };

function record(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** The fields a Sigma detection compares (`Image|endswith` → Image); keyword selections name none. */
export function detectionFields(detection: Json): string[] {
  const fields = new Set<string>();
  const fromMap = (map: Json): void => {
    for (const key of Object.keys(map)) {
      const field = key.split('|')[0] as string;
      if (field.length > 0) fields.add(field);
    }
  };
  for (const [name, selection] of Object.entries(detection)) {
    if (name === 'condition' || name === 'timeframe') continue;
    const map = record(selection);
    if (map !== undefined) fromMap(map);
    else if (Array.isArray(selection)) for (const item of selection) if (record(item)) fromMap(item as Json);
  }
  return [...fields];
}

/** The raw value an evtx-dump event has for a Sigma field: EventData, UserData, the System block, Hashes parts. */
function rawValue(event: Json, field: string): unknown {
  const root = record(event.Event) ?? event;
  const data = record(root.EventData);
  if (data !== undefined && data[field] !== undefined) return data[field];
  // Sigma spells Defender's `Threat Name` ThreatName.
  const spaced = Object.keys(data ?? {}).find((key) => key.includes(' ') && key.replace(/ /g, '') === field);
  if (spaced !== undefined) return data?.[spaced];
  for (const element of Object.values(record(root.UserData) ?? {})) {
    const value = record(element)?.[field];
    if (value !== undefined) return value;
  }
  const system = record(root.System) ?? {};
  if (field === 'Provider_Name') return record(record(system.Provider)?.['#attributes'])?.Name;
  if (field === 'EventID') return record(system.EventID)?.['#text'] ?? system.EventID;
  if (system[field] !== undefined && record(system[field]) === undefined) return system[field];
  const hash = HASH_FIELDS[field.toLowerCase()];
  if (hash !== undefined && typeof data?.Hashes === 'string') {
    for (const pair of data.Hashes.split(',')) {
      const [name, value] = pair.split('=');
      if (name?.trim().toUpperCase() === hash) return value?.trim();
    }
  }
  return undefined;
}

function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `field = value` as a Sigma compiler writes it: the value in the binding's type, holding on any of its paths. */
function equality(binding: FieldBinding, value: unknown): string {
  const constant =
    binding.type === 'integer'
      ? String(Number(value))
      : binding.type === 'boolean'
        ? String(String(value).toLowerCase() === 'true')
        : literal(String(value));
  return binding.paths.map((path) => `${path} = ${constant}`).join(' OR ');
}

function fires(pattern: string, event: ObservedEvent): boolean {
  return compilePattern(pattern, { caseInsensitive: true }).match(toBundle(event)).matched;
}

interface RuleFigures {
  id: string;
  title: string;
  logsource: string;
  resolved: string[];
  unresolved: string[];
  unbound: string[];
  absent: string[];
  events: number;
  selected: number;
  rejected: number;
}

const normaliser = createNormaliser({});

function measure(caseDir: string): RuleFigures {
  const rule = parseYaml(readFileSync(join(caseDir, 'rule.yml'), 'utf8')) as Json;
  const logsource = (record(rule.logsource) ?? {}) as SigmaLogsource;
  const shown = [logsource.product, logsource.category, logsource.service].filter(Boolean).join('/');
  const raws: Json[] = [];
  for (const doc of readDocuments(readFileSync(join(caseDir, 'events.json'), 'utf8'))) {
    if (!doc.ok) continue;
    for (const value of Array.isArray(doc.value) ? doc.value : [doc.value]) if (record(value)) raws.push(value as Json);
  }
  const events: (ObservedEvent | undefined)[] = raws.map((raw, i) => {
    const result = normaliser.normalise(raw, i);
    return result.ok ? result.events[0] : undefined;
  });
  const figures: RuleFigures = {
    id: String(rule.id),
    title: String(rule.title),
    logsource: shown,
    resolved: [],
    unresolved: [],
    unbound: [],
    absent: [],
    events: raws.length,
    selected: 0,
    rejected: events.filter((e) => e === undefined).length,
  };
  const condition = taxonomy.condition(logsource);
  for (const event of events) {
    if (event !== undefined && (condition === undefined || fires(`[${condition}]`, event))) figures.selected++;
  }
  for (const field of detectionFields(record(rule.detection) ?? {})) {
    const binding = taxonomy.field(logsource, field);
    let checked = 0;
    let found = 0;
    raws.forEach((raw, i) => {
      const event = events[i];
      const value = rawValue(raw, field);
      if (event === undefined || value === undefined || value === null) return;
      if (typeof value === 'string' && NULL_VALUES.has(value)) return;
      checked++;
      if (binding === undefined) return;
      const values = Array.isArray(value) ? value : [value];
      if (values.every((one) => fires(`[${equality(binding, one)}]`, event))) found++;
    });
    if (checked === 0) figures.absent.push(field);
    else if (binding === undefined) figures.unbound.push(field);
    else if (found === checked) figures.resolved.push(field);
    else figures.unresolved.push(field);
  }
  return figures;
}

const cases = readdirSync(dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'rule.yml')))
  .map((d) => d.name)
  .sort();
const all = cases.map((name) => measure(join(dir, name)));

let resolved = 0;
let checkable = 0;
let absent = 0;
let fullyResolved = 0;
let selectedAll = 0;
const missing = new Map<string, number>();
for (const f of all) {
  const total = f.resolved.length + f.unresolved.length + f.unbound.length;
  resolved += f.resolved.length;
  checkable += total;
  absent += f.absent.length;
  if (f.resolved.length === total) fullyResolved++;
  if (f.selected === f.events && f.events > 0) selectedAll++;
  for (const field of [...f.unresolved, ...f.unbound])
    missing.set(`${f.logsource} ${field}`, (missing.get(field) ?? 0) + 1);
  if (!quiet) {
    const notes = [
      f.unresolved.length > 0 ? `not found: ${f.unresolved.join(', ')}` : '',
      f.unbound.length > 0 ? `no binding: ${f.unbound.join(', ')}` : '',
      f.absent.length > 0 ? `not in sample: ${f.absent.join(', ')}` : '',
      f.rejected > 0 ? `${f.rejected} event(s) rejected by the mappings` : '',
    ].filter(Boolean);
    console.log(
      `${f.id}  ${f.logsource.padEnd(28)} fields ${f.resolved.length}/${total}  selected ${f.selected}/${f.events}  ${f.title}${notes.length > 0 ? `\n    ${notes.join('; ')}` : ''}`,
    );
  }
}
const share = (a: number, b: number): string => (b === 0 ? 'n/a' : `${((100 * a) / b).toFixed(1)}%`);
console.log('');
if (missing.size > 0) {
  console.log('fields not resolved (logsource field: rules):');
  for (const [key, count] of [...missing].sort((a, b) => b[1] - a[1])) console.log(`  ${key}: ${count}`);
}
console.log(
  `sigma fields: ${resolved}/${checkable} fields resolved (${share(resolved, checkable)}), ` +
    `${fullyResolved}/${all.length} rules with every field resolved, ` +
    `${selectedAll}/${all.length} rules whose logsource condition selects all their sample events, ` +
    `${absent} field uses not in their samples`,
);
