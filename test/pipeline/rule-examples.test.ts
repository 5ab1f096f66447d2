import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRulesFromPaths } from '../../src/rules/load.js';
import { harness } from './harness.js';

const rulesPath = fileURLToPath(new URL('../../rules/examples.yaml', import.meta.url));
const eventsPath = fileURLToPath(new URL('../../examples/events.ndjson', import.meta.url));

describe('rules/examples.yaml on examples/events.ndjson', () => {
  const loaded = loadRulesFromPaths([rulesPath]);
  const events = readFileSync(eventsPath, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as unknown);

  it('loads the five example rules without diagnostics', () => {
    expect(loaded.diagnostics).toEqual([]);
    expect(loaded.rules.map((r) => r.id)).toEqual([
      'web-server-spawns-shell',
      'credential-file-read',
      'outbound-unusual-port',
      'word-launches-powershell',
      'web-shell-then-callback',
    ]);
    expect(events).toHaveLength(5);
  });

  it('raises exactly the expected alerts', async () => {
    const h = harness(loaded.rules, '2026-01-01T10:05:00Z', { indicators: loaded.indicators });
    const result = await h.detector.process(events);
    expect(result.rejected).toEqual([]);
    expect(result.errors).toEqual([]);
    expect(result.accepted).toBe(5);

    const byRule = (id: string) => result.alerts.filter((a) => a.ruleId === id);
    expect(result.alerts.map((a) => a.ruleId).sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);

    expect(byRule('web-server-spawns-shell')[0]).toMatchObject({
      groupKey: '["web-1"]',
      sourceEventIds: ['evt-1'],
      severity: 'high',
    });

    // python3 reading /etc/shadow alerts; sshd doing the same is filtered.
    const credential = byRule('credential-file-read');
    expect(credential).toHaveLength(1);
    expect(credential[0]!.sourceEventIds).toEqual(['evt-2']);
    expect(
      credential[0]!.objects.filter((o) => o.type === 'process').map((o) => (o as { name?: string }).name),
    ).toEqual(['python3']);
    expect(result.filtered).toBe(1);

    expect(byRule('outbound-unusual-port')[0]).toMatchObject({ groupKey: '["web-1"]', sourceEventIds: ['evt-4'] });
    const sequence = byRule('web-shell-then-callback')[0]!;
    expect(sequence).toMatchObject({
      groupKey: '["web-1"]',
      severity: 'critical',
      firstObserved: '2026-01-01T10:00:00Z',
      lastObserved: '2026-01-01T10:01:00Z',
    });
    expect([...sequence.sourceEventIds].sort()).toEqual(['evt-1', 'evt-4']);
    expect(sequence.observedDataIds).toHaveLength(2);
    const word = byRule('word-launches-powershell')[0]!;
    expect(
      word.objects
        .filter((o) => o.type === 'process')
        .map((o) => (o as { name?: string }).name)
        .sort(),
    ).toEqual(['powershell.exe', 'winword.exe']);

    expect(result.suppressed).toBe(0);
    expect(result.throttled).toBe(0);
    const documents = await h.drain();
    expect(documents.map((d) => d.ruleId).sort()).toEqual(result.alerts.map((a) => a.ruleId).sort());
    expect(await h.countersOf('credential-file-read')).toMatchObject({ matches: 1, alerts: 1, filtered: 1 });
    expect(await h.countersOf('web-shell-then-callback')).toMatchObject({ matches: 2, alerts: 1 });
  });

  it('processing the events one at a time raises the same alerts (the sequence correlates across batches)', async () => {
    const h = harness(loaded.rules, '2026-01-01T10:05:00Z', { indicators: loaded.indicators });
    const ids: string[] = [];
    for (const event of events) ids.push(...(await h.detector.process([event])).alerts.map((a) => a.ruleId));
    expect(ids.sort()).toEqual([
      'credential-file-read',
      'outbound-unusual-port',
      'web-server-spawns-shell',
      'web-shell-then-callback',
      'word-launches-powershell',
    ]);
  });
});
