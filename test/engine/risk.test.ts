/**
 * Risk rules (#16.5) in the streaming engine: the alerts of rules carrying a `risk` add it to
 * their entity, once per rule per window; a window alerts when the sum meets the condition,
 * listing its contributors. Correlation alerts contribute like stateless ones; redelivered
 * alerts (an unacknowledged outbox, a batch processed again) never count twice; shuffles within
 * the lateness give the same alert ids (seeded property test); the rule's fields are checked.
 */
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/engine/alert.js';
import { StreamingEngine, type EventInput } from '../../src/engine/streaming.js';
import { Prng } from '../../src/generate/prng.js';
import { loadRules } from '../../src/rules/load.js';
import type { Rule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { observed } from './helpers.js';

const NOW = Date.UTC(2026, 0, 3);

function rulesOf(yaml: string): Rule[] {
  const loaded = loadRules([{ file: 'risk.yaml', text: yaml }]);
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return loaded.rules;
}

function engineFor(rules: Rule[], store = new InMemoryStateStore({ now: () => NOW }), latenessSeconds = 60) {
  return new StreamingEngine({ rules, store, latenessSeconds, now: () => NOW });
}

function proc(id: string, second: number, name: string, host: string): EventInput {
  return observed(id, second, { type: 'process', name, x_host: host }).input;
}

async function run(engine: StreamingEngine, batches: EventInput[][], acknowledge = true): Promise<Alert[]> {
  const sent: Alert[] = [];
  for (const batch of batches) {
    const result = await engine.processBatch(batch);
    expect(result.errors.filter((e) => e.severity === 'error')).toEqual([]);
    sent.push(...result.alerts);
    if (acknowledge) await engine.acknowledge(result.alerts);
  }
  return sent;
}

const RULES = `
- id: office-shell
  name: Office spawns a shell
  severity: low
  risk: 40
  pattern: "[process:name = 'powershell.exe']"
- id: discovery
  name: Discovery command
  severity: informational
  risk: 20
  pattern: "[process:name IN ('whoami.exe', 'net.exe')]"
- id: dump-then-exfil
  name: A dump followed by an archive on one host
  severity: medium
  risk: 50
  group_by: process:x_host
  pattern: "[process:name = 'procdump.exe'] FOLLOWEDBY [process:name = 'rar.exe'] WITHIN 600 SECONDS"
- id: no-risk
  name: A rule without risk
  severity: high
  pattern: "[process:name = 'rar.exe']"
- id: host-risk
  name: Risk of a host
  severity: high
  kind: risk
  select: "[x-stixflow-alert:risk > 0]"
  group_by: process:x_host
  window: 1h
  condition: { gte: 100 }
`;

const riskAlerts = (alerts: Alert[]): Alert[] => alerts.filter((a) => a.ruleId === 'host-risk');

describe('risk rules', () => {
  it('sums the risk of the distinct rules that fired for an entity in a window, with their alerts', async () => {
    const engine = engineFor(rulesOf(RULES));
    const sent = await run(engine, [
      [proc('a1', 0, 'powershell.exe', 'h1'), proc('a2', 10, 'whoami.exe', 'h1'), proc('a3', 20, 'net.exe', 'h1')],
      // h2 gets the same three detections but below the threshold: 40 + 20.
      [proc('b1', 30, 'powershell.exe', 'h2'), proc('b2', 40, 'whoami.exe', 'h2')],
      // The correlation alert completes h1's risk: 40 + 20 (once, though discovery fired twice) + 50.
      [proc('a4', 100, 'procdump.exe', 'h1'), proc('a5', 200, 'rar.exe', 'h1')],
    ]);
    const risk = riskAlerts(sent);
    // Windows of 1 h starting every 30 min that hold all of it: 23:30 and 00:00.
    expect(risk.map((a) => a.groupKey)).toEqual(['["h1"]', '["h1"]']);
    const aggregate = risk[0]?.aggregate as Record<string, unknown>;
    expect(aggregate).toMatchObject({ kind: 'risk', value: 110, condition: '>= 100' });
    const contributors = aggregate.contributors as { ruleId: string; risk: number; alerts: string[] }[];
    expect(contributors.map((c) => [c.ruleId, c.risk, c.alerts.length])).toEqual([
      ['dump-then-exfil', 50, 1],
      ['office-shell', 40, 1],
      ['discovery', 20, 2],
    ]);
    // The contributors name the alerts that were sent.
    const sentIds = new Set(sent.map((a) => a.id));
    for (const c of contributors) for (const id of c.alerts) expect(sentIds.has(id)).toBe(true);
    // A rule without risk contributes nothing; the risk alert carries the completing alert's objects.
    expect(contributors.some((c) => c.ruleId === 'no-risk')).toBe(false);
    expect(risk[0]?.objects.some((o) => o.type === 'process')).toBe(true);
  });

  it('never counts a redelivered alert twice, and sends its own unacknowledged alert again with the same id', async () => {
    const engine = engineFor(rulesOf(RULES));
    const batch = [
      proc('a1', 0, 'powershell.exe', 'h1'),
      proc('a2', 10, 'whoami.exe', 'h1'),
      proc('a4', 100, 'procdump.exe', 'h1'),
    ];
    expect(riskAlerts(await run(engine, [batch], false))).toEqual([]);
    // The same batch again (its alerts were never acknowledged): 40 + 20 + nothing new is still 60.
    expect(riskAlerts(await run(engine, [batch], false))).toEqual([]);
    const first = riskAlerts(await run(engine, [[proc('a5', 200, 'rar.exe', 'h1')]], false));
    expect(first.map((a) => a.aggregate?.value)).toEqual([110, 110]);
    // Not acknowledged: the next touch of the group sends the same alerts again, nothing more.
    const again = riskAlerts(await run(engine, [[proc('a5', 200, 'rar.exe', 'h1')]]));
    expect(again.map((a) => a.id).sort()).toEqual(first.map((a) => a.id).sort());
    expect(riskAlerts(await run(engine, [[proc('a6', 300, 'whoami.exe', 'h1')]]))).toEqual([]);
  });

  for (const seed of [1, 2, 3]) {
    it(`gives the same alerts under redelivery and shuffles within the lateness (seed ${seed})`, async () => {
      const prng = new Prng(seed);
      const names = ['powershell.exe', 'whoami.exe', 'net.exe', 'notepad.exe', 'procdump.exe', 'rar.exe'];
      const events: { t: number; input: EventInput }[] = [];
      let t = 0;
      for (let i = 0; i < 150; i++) {
        t += Math.floor(prng.next() * 90);
        const name = names[Math.floor(prng.next() * names.length)] as string;
        events.push({ t, input: proc(`e${i}`, t, name, `h${Math.floor(prng.next() * 3)}`) });
      }
      const ordered = await run(engineFor(rulesOf(RULES), undefined, 30), [events.map((e) => e.input)]);
      const jittered = events
        .map((e) => ({ ...e, key: e.t + prng.next() * 29 }))
        .sort((a, b) => a.key - b.key)
        .map((e) => e.input);
      const delivered = [...jittered];
      for (const input of jittered.filter(() => prng.next() < 0.2)) {
        const after = delivered.indexOf(input) + 1;
        delivered.splice(after + Math.floor(prng.next() * (delivered.length - after + 1)), 0, input);
      }
      const batches: EventInput[][] = [];
      for (let i = 0; i < delivered.length;) {
        const size = 1 + Math.floor(prng.next() * 12);
        batches.push(delivered.slice(i, i + size));
        i += size;
      }
      const shuffled = await run(engineFor(rulesOf(RULES), undefined, 30), batches);
      const ids = (alerts: Alert[]): string[] => riskAlerts(alerts).map((a) => `${a.groupKey} ${a.id}`);
      expect(ids(ordered).length).toBeGreaterThan(0);
      // Redelivered events re-raise stateless alerts (the alert ledger drops them downstream); the risk
      // rule takes each alert once, so its alerts are the same set, each sent once.
      expect(new Set(ids(shuffled))).toEqual(new Set(ids(ordered)));
      expect(ids(shuffled).length).toBe(new Set(ids(shuffled)).size);
    });
  }

  it('reports a risk rule without an entity, and a risk on a risk rule', () => {
    const loaded = loadRules([
      {
        file: 'bad.yaml',
        text: `
- id: no-entity
  name: no entity
  severity: high
  kind: risk
  select: "[x-stixflow-alert:risk > 0]"
  window: 1h
  condition: 50
- id: risky-risk
  name: risky risk
  severity: high
  kind: risk
  risk: 5
  select: "[x-stixflow-alert:risk > 0]"
  group_by: process:x_host
  window: 1h
  condition: 50
`,
      },
    ]);
    const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.ruleId, d.code])).toEqual([
      ['no-entity', 'aggregation-field'],
      ['risky-risk', 'aggregation-field'],
    ]);
    expect(errors[0]?.message).toMatch(/group_by/);
    expect(errors[1]?.line).toBe(13);
    expect(loaded.rules).toEqual([]);
  });
});
