/** `cdk synth` of the outputs stage with every output kind: each kind's grant on its own resources only, cdk-nag at 0. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Domain } from 'aws-cdk-lib/aws-opensearchservice';
import { Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { StixDetectionPipeline } from '../../infra/pipeline-construct.js';

const dir = mkdtempSync(join(tmpdir(), 'stixflow-outputs-infra-'));
writeFileSync(
  join(dir, 'a.yaml'),
  `- id: good\n  name: Good\n  description: d\n  severity: low\n  outputs: [archive]\n  pattern: "[process:name = 'x']"\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function synthAllKinds() {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Outputs', { env: { account: '444455556666', region: 'eu-west-1' } });
  const topic = new Topic(stack, 'AlertTopic', {
    masterKey: new Key(stack, 'TopicKey', { enableKeyRotation: true }),
    enforceSSL: true,
  });
  const bucket = new Bucket(stack, 'Archive', {
    encryption: BucketEncryption.S3_MANAGED,
    enforceSSL: true,
    serverAccessLogsPrefix: 'access/',
  });
  const domain = Domain.fromDomainEndpoint(stack, 'Search', 'https://search-alerts-abc123.eu-west-1.es.amazonaws.com');
  new StixDetectionPipeline(stack, 'P', {
    rulesDir: dir,
    outputs: {
      outputs: [
        { name: 'hive', kind: 'thehive', secret: new Secret(stack, 'HiveSecret'), settings: { tlp: 2 } },
        { name: 'topic', kind: 'sns', topic },
        { name: 'archive', kind: 's3', bucket, prefix: 'alerts/' },
        { name: 'search', kind: 'opensearch', domain, indexPrefix: 'alerts' },
        {
          name: 'elastic',
          kind: 'opensearch',
          endpoint: 'https://es.example.org:9200',
          secret: new Secret(stack, 'EsSecret'),
        },
        { name: 'hub', kind: 'securityhub' },
      ],
      routes: [{ outputs: ['topic', 'search', 'hub'] }, { outputs: ['hive'], minSeverity: 'high' }],
    },
  });
  return { app, stack, template: Template.fromStack(stack) };
}

describe('outputs stage in the construct', () => {
  const { app, stack, template } = synthAllKinds();
  const fn = Object.values(
    template.findResources('AWS::Lambda::Function') as Record<
      string,
      { Properties: { Description?: string; Environment?: { Variables: Record<string, unknown> } } }
    >,
  ).find((f) => f.Properties.Description === 'stixflow: alert queue → outputs')!;
  const statements: Statement[] = Object.values(
    template.findResources('AWS::IAM::Policy') as Record<
      string,
      { Properties: { PolicyDocument: { Statement: Statement[] } } }
    >,
  ).flatMap((p) => p.Properties.PolicyDocument.Statement);
  const actions = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
  const resolved = (value: unknown) => JSON.stringify(stack.resolve(value));

  it('configures every kind for the function, secrets by ARN and the rest as settings', () => {
    expect(fn).toBeDefined();
    const outputs = resolved(fn.Properties.Environment!.Variables.OUTPUTS);
    for (const needle of [
      '\\"kind\\":\\"sns\\"',
      '\\"kind\\":\\"s3\\"',
      '\\"prefix\\":\\"alerts/\\"',
      '\\"auth\\":\\"sigv4\\"',
      '\\"auth\\":\\"basic\\"',
      '\\"kind\\":\\"securityhub\\"',
      '\\"accountId\\":\\"444455556666\\"',
      'search-alerts-abc123.eu-west-1.es.amazonaws.com',
    ])
      expect(outputs).toContain(needle);
  });

  it('grants each output the least it needs: Publish on the topic, PutObject under the prefix, the two domain paths, the product', () => {
    const publish = statements.filter((s) => actions(s).includes('sns:Publish'));
    expect(publish).toHaveLength(1);
    expect(resolved(publish[0]!.Resource)).toContain('AlertTopic');
    expect(actions(publish[0]!)).toEqual(['sns:Publish']);
    const put = statements.filter((s) => actions(s).some((a) => a.startsWith('s3:')));
    expect(put.map(actions)).toEqual([['s3:PutObject']]);
    expect(resolved(put[0]!.Resource)).toContain('/alerts/*');
    const es = statements.filter((s) => actions(s).some((a) => a.startsWith('es:')));
    expect(es.map(actions)).toEqual([['es:ESHttpPost']]);
    expect(resolved(es[0]!.Resource)).toContain('domain/search-alerts/_bulk');
    expect(resolved(es[0]!.Resource)).toContain('domain/search-alerts/_index_template/alerts');
    const hub = statements.filter((s) => actions(s).some((a) => a.startsWith('securityhub:')));
    expect(hub.map(actions)).toEqual([['securityhub:BatchImportFindings']]);
    expect(resolved(hub[0]!.Resource)).toContain(':securityhub:eu-west-1:444455556666:product/444455556666/default');
    // Two secrets (TheHive, Elasticsearch basic auth) and nothing wider.
    const secrets = statements.filter((s) => actions(s).includes('secretsmanager:GetSecretValue'));
    expect(secrets).toHaveLength(2);
    expect(statements.every((s) => s.Resource !== '*')).toBe(true);
  });

  it("lets the function read the runtime rule store's rules, for their outputs: read only, that partition only", () => {
    const policyOf = Object.values(
      template.findResources('AWS::IAM::Policy') as Record<
        string,
        { Properties: { Roles: unknown[]; PolicyDocument: { Statement: (Statement & { Sid?: string })[] } } }
      >,
    ).filter((p) => resolved(p.Properties.Roles).includes('Outputs'));
    const dynamo = policyOf
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((s) => actions(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.map((s) => [s.Sid, actions(s)])).toContainEqual([
      'ReadRuleStore',
      ['dynamodb:GetItem', 'dynamodb:Query'],
    ]);
    const store = dynamo.find((s) => s.Sid === 'ReadRuleStore') as unknown as { Condition: unknown };
    expect(store.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['R#rules'] } });
  });

  it('stays at 0 cdk-nag findings', () => {
    const violations = new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
    // The test's own secrets (rotation is their owner's choice) and its log bucket are not the construct's.
    expect(violations.filter((v) => !v.startsWith('AwsSolutions-SMG4'))).toEqual([]);
  });
});
