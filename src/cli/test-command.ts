/** `stixflow test`: run rule unit tests (and generated checks), print a summary, write JUnit. */
import { writeFileSync } from 'node:fs';
import { formatDiagnostic } from '../errors.js';
import { loadRulesFromPaths } from '../rules/load.js';
import { runRuleTests, toJUnit } from '../testing/rule-tests.js';
import { writeLine, parseCommandArgs, type CliIo } from './io.js';

const HELP = `Usage: stixflow test [options] <rule file | dir>...

Runs the tests kept beside each rule (\`tests:\` — events and the expected outcome, 'alert' or
'no-alert' or \`alerts: N\`) through the real pipeline, and for every rule without tests a
generated positive check and generated near misses. Prints a summary with each failure
explained: which observation expressions the events satisfy, and what then stood in the way
(a part of the pattern no event satisfies, timing or repetitions, filters, group_by…).

Options:
  --junit <file>     also write JUnit XML (for CI systems)
  --no-generated     skip the generated checks
  --seed <n>         seed for generated events (default 1)
  --allow-unsatisfiable  keep rules whose pattern can never match (a warning, not a load error)
  -h, --help         show this help

Exit status: 0 all passed, 1 a test failed or a rule did not load, 2 usage error.`;

export async function testCommand(argv: string[], io: CliIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      junit: { type: 'string' },
      'no-generated': { type: 'boolean' },
      seed: { type: 'string' },
      'allow-unsatisfiable': { type: 'boolean' },
    },
    HELP,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  if (parsed.positionals.length === 0) {
    writeLine(io.stderr, HELP);
    return 2;
  }
  const { rules, diagnostics } = loadRulesFromPaths(parsed.positionals, {
    allowUnsatisfiable: parsed.values['allow-unsatisfiable'] === true,
  });
  const loadErrors = diagnostics.filter((d) => d.severity === 'error');
  for (const d of diagnostics) writeLine(io.stderr, formatDiagnostic(d));
  const results = await runRuleTests(rules, {
    seed: Number(parsed.values.seed ?? 1),
    generated: !parsed.values['no-generated'],
  });
  for (const r of results) {
    const mark = r.outcome === 'passed' ? 'PASS' : r.outcome === 'failed' ? 'FAIL' : 'SKIP';
    writeLine(io.stdout, `${mark} ${r.ruleId} › ${r.name}`);
    if (r.outcome !== 'passed' && r.message) writeLine(io.stdout, r.message.replace(/^/gm, '     '));
  }
  if (parsed.values.junit) writeFileSync(parsed.values.junit, toJUnit(results));
  const passed = results.filter((r) => r.outcome === 'passed').length;
  const failed = results.filter((r) => r.outcome === 'failed').length;
  const skipped = results.filter((r) => r.outcome === 'skipped').length;
  writeLine(
    io.stdout,
    `\n${rules.length} rules: ${passed} passed, ${failed} failed, ${skipped} skipped${loadErrors.length ? `; ${loadErrors.length} load errors` : ''}`,
  );
  return failed > 0 || loadErrors.length > 0 ? 1 : 0;
}
