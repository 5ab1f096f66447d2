/**
 * Runs the OASIS reference conformance vectors (../shared/conformance by default, or the folder
 * given as the first argument) through the public API and prints every failure with its id;
 * and, when the folder has them, public patterns that must be found satisfiable
 * (realworld-satisfiable.jsonl), through the rule loader, the analysis and the generator.
 * Cases decided differently on purpose are listed in docs/conformance.md and counted apart;
 * their ids are in scripts/conformance-divergences.ts.
 * Ends with `N passed, N failed`; exits non-zero when a case fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  compilePattern,
  checkPattern,
  findUnsatisfiable,
  generateEvents,
  loadRules,
  PatternError,
  StixflowError,
} from '../src/index.js';
import { DIVERGENCES } from './conformance-divergences.js';

interface MatcherCase {
  id: string;
  stix_version: '2.0' | '2.1';
  pattern: string;
  observed_data: unknown[];
  expected_matched: boolean | null;
  expected_error: null | 'ParseException' | 'MatcherException';
  checks: string[];
  expected_matched_sdo_ids?: (string | null)[];
  expected_matched_sdo_count?: number;
}

/** Public patterns with a dead observation expression that an observation-level OR keeps alive. */
interface SatisfiableCase {
  id: string;
  pattern: string;
  spec_version?: string;
}

interface ValidatorCase {
  id: string;
  stix_version: '2.0' | '2.1';
  pattern: string;
  valid: boolean;
}

const folder = resolve(process.argv[2] ?? join(import.meta.dirname, '..', '..', 'shared', 'conformance'));
if (!existsSync(folder)) {
  console.log(`no conformance folder at ${folder}; nothing to run`);
  console.log('0 passed, 0 failed');
  process.exit(0);
}

const readJsonl = <T>(file: string): T[] =>
  readFileSync(join(folder, file), 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as T);

let passed = 0;
let failed = 0;
let diverged = 0;
const failures: string[] = [];
const suiteTotals = {
  matcher: { cases: 0, agreed: 0 },
  validator: { cases: 0, agreed: 0 },
  realworld: { cases: 0, agreed: 0 },
};

function record(id: string, ok: boolean, detail: string): void {
  const divergence = DIVERGENCES.get(id);
  const suite = id.startsWith('validator/')
    ? suiteTotals.validator
    : id.startsWith('realworld/')
      ? suiteTotals.realworld
      : suiteTotals.matcher;
  suite.cases++;
  if (ok) {
    suite.agreed++;
    passed++;
    if (divergence) failures.push(`STALE divergence entry (case now agrees with the reference): ${id}`);
    return;
  }
  if (divergence) {
    diverged++;
    return;
  }
  failed++;
  failures.push(`FAIL ${id}\n     ${detail}`);
}

type Outcome =
  | { kind: 'compile-error'; message: string }
  | { kind: 'match-error'; message: string }
  | { kind: 'result'; matched: boolean; ids: (string | undefined)[] };

function run(c: MatcherCase): Outcome {
  let pattern;
  try {
    pattern = compilePattern(c.pattern, { stixVersion: c.stix_version });
  } catch (error) {
    if (error instanceof PatternError) return { kind: 'compile-error', message: error.message };
    throw error;
  }
  try {
    const result = pattern.match(c.observed_data);
    return { kind: 'result', matched: result.matched, ids: result.observedDataIds ?? [] };
  } catch (error) {
    if (error instanceof StixflowError) return { kind: 'match-error', message: error.message };
    throw error;
  }
}

// Errors the reference raises while matching but that lie in the pattern alone (a mixed-type IN
// list, WITHIN 0, a malformed START/STOP bound): stixflow reports them when the pattern is
// compiled, which the issue asks for. They count as passes, reported apart.
let earlier = 0;

for (const c of readJsonl<MatcherCase>('reference-matcher-cases.jsonl')) {
  let outcome: Outcome;
  try {
    outcome = run(c);
  } catch (error) {
    record(c.id, false, `crashed: ${error instanceof Error ? error.stack : String(error)}`);
    continue;
  }
  const describe = (): string =>
    `pattern ${c.pattern} → ${JSON.stringify(outcome)}; expected ${c.expected_error ?? `matched=${c.expected_matched}`}`;
  if (c.expected_error === 'ParseException') {
    record(c.id, outcome.kind === 'compile-error', describe());
  } else if (c.expected_error === 'MatcherException') {
    if (outcome.kind === 'compile-error') earlier++;
    record(c.id, outcome.kind === 'match-error' || outcome.kind === 'compile-error', describe());
  } else if (outcome.kind !== 'result') {
    record(c.id, false, describe());
  } else {
    let ok = outcome.matched === c.expected_matched;
    if (ok && c.checks.includes('matched_sdo_ids') && c.expected_matched_sdo_ids) {
      const expectedIds = c.expected_matched_sdo_ids.map((id) => id ?? undefined);
      ok = JSON.stringify([...expectedIds].sort()) === JSON.stringify([...outcome.ids].sort());
    }
    if (ok && c.checks.includes('matched_sdo_count') && c.expected_matched_sdo_count !== undefined) {
      ok = outcome.ids.length === c.expected_matched_sdo_count;
    }
    record(c.id, ok, describe());
  }
}

for (const c of readJsonl<ValidatorCase>('reference-validator-cases.jsonl')) {
  const { pattern, diagnostics } = checkPattern(c.pattern, { stixVersion: c.stix_version });
  const valid = pattern !== undefined;
  const errors = diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column} ${d.message}`);
  record(
    c.id,
    valid === c.valid,
    `pattern ${c.pattern} → ${valid ? 'valid' : `invalid: ${errors.join('; ')}`}; expected ${c.valid ? 'valid' : 'invalid'}`,
  );
}

// Satisfiable real-world patterns (when the file is there): each must load as a rule without
// an error (the verdict every shell uses), be found satisfiable, and yield generated events
// that the batch matcher accepts.
const REALWORLD = 'realworld-satisfiable.jsonl';
if (existsSync(join(folder, REALWORLD))) {
  for (const c of readJsonl<SatisfiableCase>(REALWORLD)) {
    const id = `realworld/${c.id}`;
    try {
      const stixVersion = c.spec_version === '2.0' ? '2.0' : '2.1';
      const rule = {
        id: c.id,
        name: c.id,
        description: 'conformance',
        severity: 'low',
        pattern: c.pattern,
        ...(stixVersion === '2.0' ? { stix_version: '2.0' } : {}),
      };
      const loaded = loadRules([{ file: `${c.id}.json`, text: JSON.stringify([rule]) }]);
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
      if (loaded.rules.length !== 1 || errors.length > 0) {
        record(
          id,
          false,
          `pattern ${c.pattern} → not loaded: ${errors.map((d) => `[${d.code}] ${d.message}`).join('; ')}`,
        );
        continue;
      }
      const compiled = compilePattern(c.pattern, { stixVersion });
      const unsat = findUnsatisfiable(compiled);
      if (unsat.length > 0) {
        record(id, false, `pattern ${c.pattern} → called unsatisfiable: ${unsat.map((d) => d.message).join('; ')}`);
        continue;
      }
      const sets = generateEvents(compiled, { seed: 1, count: 2 });
      record(
        id,
        sets.every((set) => compiled.match(set).matched),
        `pattern ${c.pattern} → generated events do not match`,
      );
    } catch (error) {
      record(id, false, `pattern ${c.pattern} → ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

for (const line of failures) console.log(line);
const { matcher, validator, realworld } = suiteTotals;
const matcherShare = matcher.cases ? matcher.agreed / matcher.cases : 1;
console.log(
  `matcher cases:   ${matcher.agreed}/${matcher.cases} agree with the reference (${(matcherShare * 100).toFixed(2)}%; ${earlier} errors reported already at compile time)`,
);
console.log(`validator cases: ${validator.agreed}/${validator.cases} agree with the reference`);
if (realworld.cases > 0)
  console.log(
    `satisfiable real-world patterns: ${realworld.agreed}/${realworld.cases} load, are satisfiable and generate matching events`,
  );
console.log(`documented divergences (docs/conformance.md, counted apart): ${diverged}`);
// The acceptance bar: every validator case, and at least 99% of the matcher cases.
const belowBar = validator.agreed < validator.cases || realworld.agreed < realworld.cases || matcherShare < 0.99;
if (belowBar)
  console.log(
    'BELOW THE ACCEPTANCE BAR: all validator cases, all satisfiable real-world patterns and at least 99% of matcher cases must agree',
  );
console.log(`${passed} passed, ${failed + (belowBar ? 1 : 0)} failed`);
process.exit(failed > 0 || belowBar ? 1 : 0);
