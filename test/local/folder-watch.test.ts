/** `npm start` with a watched folder: drop a CloudTrail file in it, see its alerts on the local alert queue. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';
import { cloudRulesDir, cloudTrailFile } from '../functions/channel-fixtures.js';
import { stackClient } from '../e2e/helpers.js';

let stack: LocalStack;
let watched: string;
const printed: string[] = [];
const client = stackClient(() => stack);

beforeAll(async () => {
  watched = mkdtempSync(join(tmpdir(), 'stixflow-watched-'));
  stack = await startLocalStack({
    port: 0,
    rulesDir: cloudRulesDir(),
    printAlerts: false,
    print: (line) => printed.push(line),
    watch: { dir: watched, source: 'aws-cloudtrail', tenant: 'watched' },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(watched, { recursive: true, force: true });
});

describe('the local stack watching a folder as a bucket prefix', () => {
  it('reads a CloudTrail file dropped in the folder (gzip, in a subfolder) once, and its alerts reach the alert queue', async () => {
    const dir = join(watched, 'AWSLogs', '444455556666', 'CloudTrail');
    mkdirSync(dir, { recursive: true });
    // 25 records, every tenth a CreateAccessKey: records 0, 10 and 20.
    writeFileSync(join(dir, 'trail_20240602T1120Z.json.gz'), gzipSync(cloudTrailFile(25)));
    const alerts = await client.alertsFor('watched', 3);
    expect(alerts.map((a) => a.ruleId)).toEqual([
      'ct-create-access-key',
      'ct-create-access-key',
      'ct-create-access-key',
    ]);
    expect(printed.some((l) => l.includes('read AWSLogs/444455556666/CloudTrail/trail_20240602T1120Z.json.gz'))).toBe(
      true,
    );
    // A second file: only its own alerts (the first is not read again).
    writeFileSync(join(dir, 'second.json'), cloudTrailFile(1, 30));
    expect((await client.alertsFor('watched', 1)).map((a) => a.sourceEventIds[0]?.split('|')[0])).toEqual([
      '00000000-0000-4000-8000-000000000030',
    ]);
  }, 60_000);
});
