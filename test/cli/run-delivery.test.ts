/**
 * `stixflow run` and delivery (#11.2, #11.17): events given twice print the alerts of giving
 * them once, and an alert the sink cannot take is never dropped silently.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-run-delivery-'));
const uuid = (n: number): string => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

// An indicator feed next to the example rules: stateless, stateful and indicator rules all fire.
const intel = join(dir, 'intel.json');
writeFileSync(
  intel,
  JSON.stringify({
    type: 'bundle',
    id: `bundle--${uuid(1)}`,
    objects: [
      {
        type: 'indicator',
        spec_version: '2.1',
        id: `indicator--${uuid(2)}`,
        created: '2025-01-01T00:00:00.000Z',
        modified: '2025-01-01T00:00:00.000Z',
        name: 'Evil tool',
        pattern_type: 'stix',
        pattern: "[process:name = 'evil.exe']",
        valid_from: '2025-01-01T00:00:00Z',
      },
    ],
  }),
);
const evil = {
  process_name: 'evil.exe',
  parent_process_name: 'explorer.exe',
  host: 'desk-9',
  timestamp: '2026-01-01T10:03:00Z',
  event_id: 'evt-evil',
};
const lines = [...readFileSync('examples/events.ndjson', 'utf8').trim().split('\n'), JSON.stringify(evil)];
const events = join(dir, 'events.ndjson');
writeFileSync(events, `${lines.join('\n')}\n`);
const doubled = join(dir, 'doubled.ndjson');
writeFileSync(doubled, `${lines.flatMap((l) => [l, l]).join('\n')}\n`);

/** The alert lines printed, without the wall-clock fields (`created`), which differ between runs. */
function alertLines(out: string): string[] {
  return out
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      const {
        created: _created,
        sighting,
        ...rest
      } = JSON.parse(l) as { created: string; sighting: Record<string, unknown> };
      const { created: _c, modified: _m, ...stableSighting } = sighting;
      return JSON.stringify({ ...rest, sighting: stableSighting });
    })
    .sort();
}

describe('stixflow run with every event given twice', () => {
  for (const batch of ['1', '4']) {
    it(`prints exactly the alert lines of giving them once (batch size ${batch})`, async () => {
      const once = await runCli(['run', '--rules', 'rules', '--rules', intel, '--batch-size', batch, events]);
      expect(once.code).toBe(0);
      const expected = alertLines(once.out);
      const ruleIds = expected.map((l) => (JSON.parse(l) as { ruleId: string }).ruleId);
      // Stateless, stateful (web-shell-then-callback) and indicator rules are all in it.
      expect(ruleIds).toEqual(
        expect.arrayContaining(['web-server-spawns-shell', 'web-shell-then-callback', `indicator--${uuid(2)}`]),
      );

      const fileTwice = await runCli([
        'run',
        '--rules',
        'rules',
        '--rules',
        intel,
        '--batch-size',
        batch,
        events,
        events,
      ]);
      expect(fileTwice.code).toBe(0);
      expect(alertLines(fileTwice.out)).toEqual(expected);
      expect(fileTwice.err).toContain(`${lines.length * 2} events, ${expected.length} alerts`);

      const eachTwice = await runCli(['run', '--rules', 'rules', '--rules', intel, '--batch-size', batch, doubled]);
      expect(alertLines(eachTwice.out)).toEqual(expected);
    });
  }
});

describe('stixflow run with an alert too large for the alert queue', () => {
  it('never drops it silently: the alert is printed, or reported as an error naming it (#11.17)', async () => {
    const rules = join(dir, 'big.yaml');
    writeFileSync(rules, `id: big-shell\nname: Big shell\nseverity: high\npattern: "[process:name = 'bash']"\n`);
    // A 300 KB command line fits a 1 MiB request, but an alert copying it does not fit 256 KiB.
    const big = join(dir, 'big.ndjson');
    const event = {
      process_name: 'bash',
      command_line: `bash -c '${'A'.repeat(300_000)}'`,
      host: 'web-1',
      timestamp: '2026-01-01T10:00:00Z',
      event_id: 'evt-big',
    };
    writeFileSync(
      big,
      `${JSON.stringify(event)}\n${JSON.stringify({ ...event, command_line: 'bash -i', event_id: 'evt-small' })}\n`,
    );
    const { code, out, err } = await runCli(['run', '--rules', rules, big]);
    const printed = out
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { sourceEventIds: string[] });
    // The small event's alert goes out whatever happens to the big one.
    expect(printed.map((a) => a.sourceEventIds)).toContainEqual(['evt-small']);
    const bigPrinted = printed.some((a) => a.sourceEventIds.includes('evt-big'));
    if (!bigPrinted) {
      // It used to vanish: no line, no error, exit 0, "2 events, 1 alert".
      expect(err).toMatch(
        /event 0: error \[alert-undeliverable\] alert alert--\S+ of rule big-shell cannot be delivered and is not retried: message-too-large/,
      );
      expect(err).toContain('2 events, 1 alert, 1 not delivered');
      expect(code).toBe(1);
    }
  });
});
