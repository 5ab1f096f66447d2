import { describe, expect, it } from 'vitest';
import { parseEvents, bodyBytes } from '../../functions/body.js';
import { principalName } from '../../functions/auth.js';
import { ConfigError, readConfig } from '../../functions/config.js';
import { InMemoryRuleOverrideStore } from '../../src/state/rule-overrides.js';
import { HandlerRuntime } from '../../functions/runtime.js';
import { InMemoryCounterStore, InMemoryStateStore } from '../../src/state/index.js';
import { RecordingSink, RULES_DIR, testRuntime } from './helpers.js';

describe('function configuration', () => {
  it('names every missing or invalid variable at once', () => {
    expect(() => readConfig({}, 'ingest')).toThrow(ConfigError);
    try {
      readConfig({ MAX_BODY_BYTES: 'lots', IAM_TENANT_SOURCE: 'header' }, 'ingest');
    } catch (error) {
      const message = (error as Error).message;
      for (const name of [
        'TABLE_NAME is required',
        'ALERT_QUEUE_URL is required',
        'RULES_DIR is required',
        'MAX_BODY_BYTES must be an integer',
        'IAM_TENANT_SOURCE must be',
      ])
        expect(message).toContain(name);
    }
  });

  it('needs no alert queue for the rules API, and applies defaults', () => {
    const config = readConfig({ TABLE_NAME: 't', RULES_DIR: 'rules', LAMBDA_TASK_ROOT: '/var/task' }, 'rules-api');
    expect(config).toMatchObject({
      tableName: 't',
      rulesDir: '/var/task/rules',
      maxBodyBytes: 1024 * 1024,
      defaultTenant: 'default',
      overridesRefreshSeconds: 60,
      iamTenantSource: 'account',
    });
  });

  it('fails at init when the rules directory is missing', () => {
    const config = readConfig({ TABLE_NAME: 't', ALERT_QUEUE_URL: 'q', RULES_DIR: '/nonexistent/rules' }, 'ingest');
    expect(
      () =>
        new HandlerRuntime(config, {
          store: new InMemoryStateStore(),
          counters: new InMemoryCounterStore(),
          sink: new RecordingSink(),
          overrides: new InMemoryRuleOverrideStore(),
        }),
    ).toThrow(/RULES_DIR \/nonexistent\/rules does not exist/);
  });

  it('loads and compiles the shipped rules once', () => {
    const { runtime } = testRuntime();
    expect(runtime.rules.map((r) => r.id)).toHaveLength(5);
    expect(runtime.ruleDiagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(runtime.config.rulesDir).toBe(RULES_DIR.replace(/\/$/, ''));
  });
});

describe('event payload parsing', () => {
  it('reads one event, an array, or NDJSON with blank lines, CRLF and a BOM', () => {
    expect(parseEvents('{"a":1}')).toEqual({ events: [{ index: 0, value: { a: 1 } }], rejections: [], total: 1 });
    expect(parseEvents('[{"a":1},{"b":2}]').events.map((e) => e.index)).toEqual([0, 1]);
    const nd = parseEvents('\uFEFF{"a":1}\r\n\r\n{"b":2}\r\nnope\n');
    expect(nd.events).toEqual([
      { index: 0, value: { a: 1 } },
      { index: 1, value: { b: 2 } },
    ]);
    expect(nd.rejections).toEqual([{ index: 2, code: 'invalid-json', reason: 'line 4 is not valid JSON' }]);
    expect(nd.total).toBe(3);
  });

  it('reports empty bodies and arrays', () => {
    expect(parseEvents('').rejections[0]?.code).toBe('empty-body');
    expect(parseEvents('[]').rejections[0]?.code).toBe('empty-body');
  });

  it('measures base64 bodies decoded', () => {
    expect(bodyBytes(Buffer.from('hello world').toString('base64'), true)).toBe(11);
    expect(bodyBytes('héllo', false)).toBe(6);
  });

  it('maps IAM principals to role or user names', () => {
    expect(principalName('arn:aws:sts::123456789012:assumed-role/Writer/session-1')).toBe('Writer');
    expect(principalName('arn:aws:iam::123456789012:user/team/alice')).toBe('alice');
    expect(principalName('not-an-arn')).toBeUndefined();
  });
});

describe('rule overrides in the runtime', () => {
  it('re-reads overrides at most once per refresh interval and rebuilds the detector only on change', async () => {
    let now = 0;
    const { runtime, overrides } = testRuntime({ RULE_OVERRIDES_REFRESH_SECONDS: '60' }, { now: () => now });
    const first = await runtime.detector();
    await runtime.detector();
    expect(overrides.reads).toBe(1);
    await overrides.set({ ruleId: 'credential-file-read', enabled: false, updatedAt: '', updatedBy: '' });
    now = 59_000;
    expect(await runtime.detector()).toBe(first);
    expect(overrides.reads).toBe(1);
    now = 60_000;
    const second = await runtime.detector();
    expect(overrides.reads).toBe(2);
    expect(second).not.toBe(first);
    expect(runtime.isEnabled(runtime.rules.find((r) => r.id === 'credential-file-read')!)).toBe(false);
  });

  it('keeps the previous overrides when they cannot be read', async () => {
    const failing = { list: () => Promise.reject(new Error('throttled')), set: () => Promise.resolve() };
    const { runtime } = testRuntime({}, { overrides: failing });
    await expect(runtime.detector()).resolves.toBeDefined();
    expect(runtime.ruleOverrides.size).toBe(0);
  });
});
