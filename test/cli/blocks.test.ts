/**
 * Lists, macros (#14.2) and shared exceptions (#14.5) through the shells: `stixflow run` and the
 * local stack on a Sysmon event as Winlogbeat ships it (WINWORD.EXE opening invoice.docm starts
 * an encoded powershell.exe), `stixflow validate` with positions for unknown and cyclic names,
 * `--expand`, and the rule-health listing (GET /rules, `stixflow rules status`).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { auth, stackClient } from '../e2e/helpers.js';
import { runCli } from './run-cli.js';

const RULES = 'test/e2e/fixtures/blocks/rules';
const BROKEN = 'test/e2e/fixtures/blocks/broken';
const SYSMON = JSON.stringify(JSON.parse(readFileSync('test/fixtures/windows/sysmon-1-winlogbeat.json', 'utf8')));

function ruleIdsOf(ndjson: string): string[] {
  return ndjson
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { ruleId: string }).ruleId)
    .sort();
}

/** `file:line:column` of `needle` on line `line` of a fixture. */
function placeOf(file: string, line: number, needle: string): string {
  const text = readFileSync(file, 'utf8').split('\n')[line - 1] ?? '';
  const column = text.indexOf(needle);
  if (column < 0) throw new Error(`'${needle}' is not on line ${line} of ${file}`);
  return `${file}:${line}:${column + 1}`;
}

describe('stixflow run with lists, macros and a shared exception', () => {
  it('the exception mutes the two execution rules, once for both; the rule it does not select alerts', async () => {
    const { code, out } = await runCli(['run', '--rules', RULES, '--tenant', 'blocks-cli', '-'], `${SYSMON}\n`);
    expect(code).toBe(0);
    expect(ruleIdsOf(out)).toEqual(['spawned-by-word-exact-case']);
  });

  it('without the exceptions file every rule alerts: the macros expanded to patterns that match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stixflow-blocks-'));
    try {
      cpSync(RULES, dir, { recursive: true, filter: (path) => !path.endsWith('exceptions.yaml') });
      const { code, out } = await runCli(['run', '--rules', dir, '--tenant', 'blocks-cli-2', '-'], `${SYSMON}\n`);
      expect(code).toBe(0);
      expect(ruleIdsOf(out)).toEqual([
        'encoded-powershell',
        'office-launches-powershell',
        'spawned-by-word-exact-case',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stixflow validate', () => {
  it('reports unknown and cyclic names, misused macros and expired or unused exceptions with positions', async () => {
    const { code, out } = await runCli(['validate', BROKEN]);
    expect(code).toBe(1);
    const rules = `${BROKEN}/rules.yaml`;
    const exceptions = `${BROKEN}/exceptions.yaml`;
    const lines = out.split('\n');
    const line = (prefix: string) => lines.find((l) => l.startsWith(prefix));
    expect(line(placeOf(rules, 13, '$offce_apps'))).toBe(
      `${placeOf(rules, 13, '$offce_apps')}: error [unknown-block] ` +
        'pattern: $offce_apps is no list or macro of the loaded rule files; did you mean $office_apps?',
    );
    // The cycle: at the reference that closes it, with every definition of the chain.
    const cycle = lines.findIndex((l) => l.startsWith(`${placeOf(rules, 5, '$loop_a')}: error [block-cycle]`));
    expect(cycle).toBeGreaterThanOrEqual(0);
    expect(lines[cycle]).toContain("macro 'loop_a' uses itself: loop_a → loop_b → loop_a");
    expect(lines.slice(cycle + 1, cycle + 3)).toEqual([`  see: ${rules}:4:3`, `  see: ${rules}:5:3`]);
    expect(line(`${placeOf(rules, 17, '$loop_a')}: error [block-invalid]`)).toBeDefined();
    // A type error inside a macro: at the use, and at the comparison in the macro.
    const typed = lines.findIndex((l) => l.startsWith(`${placeOf(rules, 21, '$child_of(42)')}: error [type-mismatch]`));
    expect(lines[typed]).toContain(`(in macro 'child_of', defined at ${rules}:6:3)`);
    expect(lines[typed + 1]).toBe(`  see: ${placeOf(rules, 8, 'process:parent_ref.name')}`);
    // A type error written after a list: its column is the one written, not the expanded one.
    expect(line(`${placeOf(rules, 25, "process:pid = '80'")}: error [type-mismatch]`)).toBeDefined();
    expect(line(`${placeOf(exceptions, 6, '2021-06-30')}: warning [exception-expired]`)).toBeDefined();
    expect(line(`${placeOf(exceptions, 9, '{ tags')}: warning [exception-unused]`)).toBeDefined();
  });

  it('--expand prints each rule in standard STIX, with the lists, macros and exceptions it uses', async () => {
    const { code, out } = await runCli(['validate', '--expand', RULES]);
    expect(code).toBe(0);
    const block = out.slice(out.indexOf('rule office-launches-powershell'), out.indexOf('rule encoded-powershell'));
    expect(block.trim().split('\n')).toEqual([
      `rule office-launches-powershell (${RULES}/detections.yaml:2)`,
      '  written:  [$word_launching_powershell]',
      "  pattern:  [((process:parent_ref.name IN ('winword.exe', 'excel.exe', 'powerpnt.exe')) AND process:name IN ('powershell.exe', 'pwsh.exe'))]",
      "  exception finance-invoice-macro: [(process:parent_ref.name = 'WINWORD.EXE') AND process:parent_ref.command_line LIKE '%invoice.docm%'] (the finance invoice macro starts PowerShell; known good (ticket FIN-1234))",
      '  uses:     lists office_apps, powershell_names; macros office_parent, word_launching_powershell',
    ]);
    expect(out).toContain('3 rules loaded (0 indicators), 0 with errors');
    // Without --expand, only the verdict.
    expect((await runCli(['validate', RULES])).out).not.toContain('pattern:');
  });

  it('--expand --json gives the same, as data', async () => {
    const { code, out } = await runCli(['validate', '--expand', '--json', RULES]);
    expect(code).toBe(0);
    const answer = JSON.parse(out) as { expanded: Record<string, unknown>[] };
    expect(answer.expanded.find((r) => r.id === 'spawned-by-word-exact-case')).toEqual({
      id: 'spawned-by-word-exact-case',
      file: `${RULES}/detections.yaml`,
      line: 13,
      pattern: "[(process:parent_ref.name = 'WINWORD.EXE') AND process:command_line LIKE '%-enc%']",
      written: "[$spawned_by('WINWORD.EXE') AND process:command_line LIKE '%-enc%']",
      filters: [],
      lists: [],
      macros: ['spawned_by'],
    });
    expect(answer.expanded.find((r) => r.id === 'encoded-powershell')?.filters).toEqual([
      {
        pattern:
          "[(process:parent_ref.name = 'WINWORD.EXE') AND process:parent_ref.command_line LIKE '%invoice.docm%']",
        exception: 'finance-invoice-macro',
        reason: 'the finance invoice macro starts PowerShell; known good (ticket FIN-1234)',
      },
    ]);
  });
});

describe('the local stack', () => {
  let stack: LocalStack;
  const client = stackClient(() => stack);

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, quiet: true, rulesDir: RULES });
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('alerts as stixflow run does, and counts the muted events as filtered for each rule the exception selects', async () => {
    const { status, body } = await client.post('/events', SYSMON, auth('blocks-http'));
    expect(status).toBe(202);
    expect(body).toMatchObject({ accepted: 1, alerts: 1 });
    expect((await client.alertsFor('blocks-http', 1)).map((a) => a.ruleId)).toEqual(['spawned-by-word-exact-case']);

    const listed = await client.request('GET', '/rules', undefined, auth('blocks-http'));
    expect(listed.status).toBe(200);
    const rules = listed.body.rules as {
      id: string;
      uses?: { lists: string[]; macros: string[] };
      exceptions?: { id: string; reason?: string; expires?: string }[];
      counters?: { totals: { matches: number; alerts: number; filtered: number } };
    }[];
    const byId = Object.fromEntries(rules.map((r) => [r.id, r]));
    expect(byId['office-launches-powershell']).toMatchObject({
      uses: {
        lists: ['office_apps', 'powershell_names'],
        macros: ['office_parent', 'word_launching_powershell'],
      },
      exceptions: [
        {
          id: 'finance-invoice-macro',
          reason: 'the finance invoice macro starts PowerShell; known good (ticket FIN-1234)',
          expires: '2100-01-01T00:00:00.000Z',
        },
      ],
      counters: { totals: { alerts: 0, filtered: 1 } },
    });
    expect(byId['encoded-powershell']?.counters?.totals).toMatchObject({ alerts: 0, filtered: 1 });
    expect(byId['spawned-by-word-exact-case']).toMatchObject({
      uses: { lists: [], macros: ['spawned_by'] },
      exceptions: [],
      counters: { totals: { alerts: 1, filtered: 0 } },
    });
  });

  it('stixflow rules status names what each rule is built from and muted by', async () => {
    const { code, out } = await runCli(['rules', 'status', '--url', stack.url]);
    expect(code).toBe(0);
    expect(out.split('\n')).toEqual(
      expect.arrayContaining([
        'office-launches-powershell: uses lists office_apps, powershell_names; macros office_parent, word_launching_powershell; shared exceptions finance-invoice-macro',
        'encoded-powershell: uses lists powershell_names; shared exceptions finance-invoice-macro',
        'spawned-by-word-exact-case: uses macros spawned_by',
      ]),
    );
  });
});
