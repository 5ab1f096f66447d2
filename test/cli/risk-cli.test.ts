/**
 * A risk score through `stixflow run` on real-shaped data (test/fixtures/risk): Windows 4688
 * process creations on two hosts. Three rules that carry a risk fire on fin-ws-07 (an encoded
 * PowerShell, whoami twice, an LSASS MiniDump through comsvcs.dll) and two on hr-ws-02; the risk
 * rule alerts for the host whose distinct rules reach 80 within an hour, listing them; `stixflow
 * test` runs the risk rule's written tests with the rules that carry a risk.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

const FIXTURES = 'test/fixtures/risk';

interface AlertLine {
  id: string;
  ruleId: string;
  groupKey: string;
  description: string;
  aggregate?: Record<string, unknown>;
}

describe('stixflow run with a risk rule', () => {
  it('alerts for the host whose detections add up, listing the contributing alerts', async () => {
    const { code, out, err } = await runCli([
      'run',
      '--rules',
      `${FIXTURES}/attack-chain.rules.yaml`,
      `${FIXTURES}/windows-4688-attack-chain.ndjson`,
    ]);
    expect(err).toMatch(/7 events, 7 alerts/);
    expect(code).toBe(0);
    const alerts = out
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AlertLine);
    expect(alerts.filter((a) => a.ruleId !== 'host-risk').map((a) => a.ruleId)).toEqual([
      'encoded-powershell',
      'whoami-discovery',
      'whoami-discovery',
      'whoami-discovery',
      'lsass-minidump',
    ]);
    const risk = alerts.filter((a) => a.ruleId === 'host-risk');
    // hr-ws-02 has whoami (20) and an encoded PowerShell (30): 50, below 80.
    expect(risk.map((a) => [a.groupKey, (a.aggregate?.window as { start: string }).start])).toEqual([
      ['["fin-ws-07.corp.example"]', '2024-03-05T09:30:00Z'],
      ['["fin-ws-07.corp.example"]', '2024-03-05T10:00:00Z'],
    ]);
    expect(risk[0]?.description).toBe('fin-ws-07.corp.example collected the risk of several detections within an hour');
    expect(risk[0]?.aggregate).toMatchObject({ kind: 'risk', value: 100, condition: '>= 80' });
    const contributors = risk[0]?.aggregate?.contributors as { ruleId: string; risk: number; alerts: string[] }[];
    const byId = new Map(alerts.map((a) => [a.id, a]));
    expect(contributors.map((c) => [c.ruleId, c.risk, c.alerts.map((id) => byId.get(id)?.ruleId)])).toEqual([
      ['lsass-minidump', 50, ['lsass-minidump']],
      ['encoded-powershell', 30, ['encoded-powershell']],
      ['whoami-discovery', 20, ['whoami-discovery', 'whoami-discovery']],
    ]);
  });

  it("runs a risk rule's written tests with the rules that carry a risk beside it", async () => {
    const { code, out } = await runCli(['test', `${FIXTURES}/attack-chain.rules.yaml`]);
    expect(out).toMatch(/PASS host-risk › three detections on one host within the hour reach 80/);
    expect(out).toMatch(/PASS host-risk › whoami and an encoded PowerShell \(50\) stay below 80/);
    expect(out).toMatch(/4 rules: 10 passed, 0 failed/);
    expect(code).toBe(0);
  });
});
