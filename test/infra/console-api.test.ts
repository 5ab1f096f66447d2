/** `cdk synth` of the console API (#17): rule store routes and grants always, the alert store with its prop. */
// Template resources are checked by shape: typed loosely on purpose.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks } from 'cdk-nag';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { CHANNEL_ENTRIES, esbuildOptions, FUNCTION_ENTRIES, MAX_BUNDLE_BYTES } from '../../infra/bundling.js';
import { StixDetectionPipeline, type StixDetectionPipelineProps } from '../../infra/pipeline-construct.js';
import { ALERT_INDEXES } from '../../src/state/alert-store.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-console-rules-'));
writeFileSync(
  join(dir, 'a.yaml'),
  `- id: good\n  name: Good\n  description: d\n  severity: low\n  pattern: "[process:name = 'x']"\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function synth(props: (stack: Stack) => Partial<StixDetectionPipelineProps>) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Console', { env: { account: '444455556666', region: 'us-east-1' } });
  const pipeline = new StixDetectionPipeline(stack, 'P', {
    rulesDir: dir,
    auth: { type: 'jwt', issuer: 'https://issuer.example', audience: ['stixflow'] },
    ...props(stack),
  });
  return { app, pipeline, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, any> };
const routes = (template: Template) =>
  Object.values(template.findResources('AWS::ApiGatewayV2::Route') as Record<string, Resource>)
    .map((r) => `${r.Properties.RouteKey as string} ${JSON.stringify(r.Properties.AuthorizationScopes ?? [])}`)
    .sort();
/** Every statement of the role policies, with the function description its role belongs to. */
const statements = (template: Template) =>
  JSON.stringify(Object.values(template.findResources('AWS::IAM::Policy') as Record<string, Resource>));
const nag = (app: App) => new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
const outputs = (stack: Stack): StixDetectionPipelineProps['outputs'] => ({
  outputs: [{ name: 'soc', kind: 'webhook', secret: new Secret(stack, 'SocSecret') }],
});

describe('console API in the construct', () => {
  it('routes the rule store through the rules API, writes behind the admin scope, and grants it R#… only', () => {
    const { template, app } = synth(() => ({}));
    const admin = '["stixflow/rules.admin"]';
    expect(routes(template)).toEqual(
      [
        'GET /audit []',
        'GET /rules []',
        'GET /rules/{id} []',
        'GET /rules/{id}/versions/{version} []',
        `DELETE /rules/{id} ${admin}`,
        `PATCH /rules/{id} ${admin}`,
        `POST /rules ${admin}`,
        `PUT /rules/{id} ${admin}`,
        'POST /rules/validate []',
        'POST /events []',
        // The console page (#17.3): public, no scope.
        'GET / []',
        'GET /console/{proxy+} []',
      ].sort(),
    );
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const policies = statements(template);
    expect(policies).toContain('"Sid":"RuleStore"');
    expect(policies).toContain('"dynamodb:LeadingKeys":["R#*"]');
    // Ingest reads the store's own partition only.
    expect(policies).toContain('"Sid":"ReadRuleStore"');
    expect(policies).toContain('"dynamodb:LeadingKeys":["R#rules"]');
    expect(nag(app)).toEqual([]);
  }, 120_000);

  it('defines the alert table, its indexes and API with alertStore, and the outputs function keeps alerts', () => {
    const { template, app, pipeline } = synth((stack) => ({
      outputs: outputs(stack),
      alertStore: { retentionDays: 30 },
    }));
    template.resourceCountIs('AWS::DynamoDB::Table', 2);
    const table = Object.values(template.findResources('AWS::DynamoDB::Table') as Record<string, Resource>).find(
      // The alert table: the state table's only index is the outbox index.
      (t) => t.Properties.GlobalSecondaryIndexes?.some((i: { IndexName: string }) => i.IndexName in ALERT_INDEXES),
    );
    expect(table?.Properties.GlobalSecondaryIndexes.map((i: { IndexName: string }) => i.IndexName).sort()).toEqual(
      Object.keys(ALERT_INDEXES).sort(),
    );
    expect(table?.Properties).toMatchObject({
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(routes(template)).toEqual(
      expect.arrayContaining(['GET /alerts []', 'GET /alerts/{id} []', 'PATCH /alerts/{id} []']),
    );
    const fns = Object.values(template.findResources('AWS::Lambda::Function') as Record<string, Resource>);
    const alertsApi = fns.find((f) => (f.Properties.Description as string)?.startsWith('stixflow: GET /alerts'));
    expect(alertsApi?.Properties.Environment.Variables).toMatchObject({ ALERT_RETENTION_DAYS: '30' });
    const outputsFn = fns.find((f) => (f.Properties.Description as string)?.startsWith('stixflow: alert queue'));
    expect(Object.keys(outputsFn?.Properties.Environment.Variables)).toContain('ALERT_TABLE_NAME');
    const policies = statements(template);
    expect(policies).toContain('"Sid":"KeepAlerts"');
    expect(policies).toContain('"Sid":"ReadAndTriageAlerts"');
    expect(policies).not.toContain('dynamodb:Scan');
    expect(pipeline.alertStore?.table).toBeDefined();
    expect(nag(app).filter((v) => !v.startsWith('AwsSolutions-SMG4'))).toEqual([]);
    // The alert store is fed by the outputs function: without it, the synth says so.
    expect(() => synth(() => ({ alertStore: {} }))).toThrow(/alertStore needs outputs/);
  }, 120_000);

  it('keeps the console functions each within the bundle budget', async () => {
    for (const entry of [FUNCTION_ENTRIES.RulesApi, CHANNEL_ENTRIES.AlertsApi, CHANNEL_ENTRIES.Outputs]) {
      const result = await build({ ...esbuildOptions(entry), write: false, logLevel: 'silent' });
      expect(result.outputFiles[0]!.contents.byteLength, entry).toBeLessThan(MAX_BUNDLE_BYTES);
    }
  }, 120_000);
});
