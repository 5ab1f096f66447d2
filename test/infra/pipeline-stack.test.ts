import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { pathToFileURL } from 'node:url';
import { interceptLocalhostDns } from 'fauxqs';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ensureQueue, ensureStateTable, startDynamo, startSqs } from '../../src/emulators/emulators.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StixflowStack } from '../../infra/stack.js';
import { MAX_BUNDLE_BYTES, REPO_ROOT as REPO, RULES_COMPILED } from '../../infra/bundling.js';
import { loadRulesFromPaths } from '../../src/rules/load.js';
import { BUILT_IN_MAPPING_FILES } from '../../src/normalise/index.js';

/** One synth (with esbuild bundling, three functions) shared by every test in this file. */
let app: App;
let stack: StixflowStack;
let template: Template;
let outdir: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'stixflow-cdk-'));
  app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  stack = new StixflowStack(app, 'StixflowTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  template = Template.fromStack(stack);
  app.synth();
}, 120_000);

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };
const resources = (type: string): [string, Resource][] =>
  Object.entries(template.findResources(type) as Record<string, Resource>);
/** The console function serves the page (#17.3); the others run the pipeline. */
const isConsole = (id: string): boolean => id.startsWith('PipelineConsole');
const pipelineFunctions = (): [string, Resource][] =>
  resources('AWS::Lambda::Function').filter(([id]) => !isConsole(id));
const logicalId = (prefix: string, type: string): string => {
  const found = resources(type).filter(([id]) => id.startsWith(prefix));
  expect(found, `${prefix} (${type})`).toHaveLength(1);
  return found[0]![0];
};

describe('StixflowStack template', () => {
  it("defines the state table from the engine's key constants, with TTL, PITR and encryption", () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          // The outbox index's keys (src/state/pending-index.ts; test/infra/operations.test.ts).
          { AttributeName: 'pending', AttributeType: 'S' },
          { AttributeName: 'pendingAt', AttributeType: 'N' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });

  it('encrypts every queue, wires the DLQs, and makes the alert queue FIFO with id deduplication', () => {
    template.resourceCountIs('AWS::SQS::Queue', 4);
    for (const [, queue] of resources('AWS::SQS::Queue')) expect(queue.Properties.SqsManagedSseEnabled).toBe(true);
    const ingestDlq = logicalId('PipelineIngestDlq', 'AWS::SQS::Queue');
    const alertDlq = logicalId('PipelineAlertDlq', 'AWS::SQS::Queue');
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [ingestDlq, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [alertDlq, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, RedrivePolicy: Match.absent() });
  });

  it('denies non-TLS access on every queue', () => {
    const policies = resources('AWS::SQS::QueuePolicy');
    expect(policies).toHaveLength(4);
    const covered = new Set<string>();
    for (const [, policy] of policies) {
      const statements = (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement;
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 'sqs:*',
          Principal: { AWS: '*' },
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      for (const q of policy.Properties.Queues as { Ref: string }[]) covered.add(q.Ref);
    }
    expect(covered.size).toBe(4);
  });

  it('runs four functions beside the console (three and the outbox sweeper) on the newest Node runtime, arm64, ESM bundles with the rules directory', () => {
    const functions = pipelineFunctions();
    expect(functions).toHaveLength(4);
    for (const [, fn] of functions) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        Timeout: 30,
      });
      expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        RULES_DIR: 'rules',
        MAPPINGS_DIR: 'mappings',
        TABLE_NAME: { Ref: expect.stringMatching(/^PipelineStateTable/) },
      });
    }
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId('PipelineIngestQueue', 'AWS::SQS::Queue'), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
    });
  });

  it('grants each function only the table keys and queue actions it uses', () => {
    const table = { 'Fn::GetAtt': [logicalId('PipelineStateTable', 'AWS::DynamoDB::Table'), 'Arn'] };
    const alertQueue = { 'Fn::GetAtt': [logicalId('PipelineAlertQueue', 'AWS::SQS::Queue'), 'Arn'] };
    const ingestQueue = { 'Fn::GetAtt': [logicalId('PipelineIngestQueue', 'AWS::SQS::Queue'), 'Arn'] };
    const statementsOf = (prefix: string) => {
      const [, policy] = resources('AWS::IAM::Policy').find(([id]) => id.startsWith(prefix))!;
      // Action order depends on the @aws-cdk/aws-iam:minimizePolicies flag: compare them sorted.
      return (policy.Properties.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement.map((st) => ({
        ...st,
        Action: Array.isArray(st.Action) ? [...(st.Action as string[])].sort() : st.Action,
      }));
    };
    const logs = (fn: string) => ({
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::GetAtt': [logicalId(`Pipeline${fn}Logs`, 'AWS::Logs::LogGroup'), 'Arn'] },
    });
    const state = {
      Sid: 'StateAndCounters',
      Effect: 'Allow',
      Action: ['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      Resource: table,
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['S#*', 'C#*'] } },
    };
    const overridesRead = {
      Sid: 'ReadRuleOverrides',
      Effect: 'Allow',
      Action: 'dynamodb:Query',
      Resource: table,
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['O#rules'] } },
    };
    // The runtime rule store (#17): ingest reads its version item and rule heads only.
    const ruleStoreRead = {
      Sid: 'ReadRuleStore',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:Query'],
      Resource: table,
      Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['R#rules'] } },
    };
    const send = { Sid: 'SendAlerts', Effect: 'Allow', Action: 'sqs:SendMessage', Resource: alertQueue };
    expect(statementsOf('PipelineIngestHttpRole')).toEqual([
      logs('IngestHttp'),
      state,
      overridesRead,
      ruleStoreRead,
      send,
    ]);
    expect(statementsOf('PipelineIngestSqsRole')).toEqual([
      logs('IngestSqs'),
      state,
      overridesRead,
      ruleStoreRead,
      send,
      {
        Effect: 'Allow',
        Action: [
          'sqs:ChangeMessageVisibility',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
          'sqs:GetQueueUrl',
          'sqs:ReceiveMessage',
        ],
        Resource: ingestQueue,
      },
    ]);
    // The console function may write its logs, nothing else.
    expect(statementsOf('PipelineConsoleRole')).toEqual([logs('Console')]);
    expect(statementsOf('PipelineRulesApiRole')).toEqual([
      logs('RulesApi'),
      {
        Sid: 'ReadCounters',
        Effect: 'Allow',
        Action: 'dynamodb:BatchGetItem',
        Resource: table,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['C#*'] } },
      },
      {
        Sid: 'RuleOverrides',
        Effect: 'Allow',
        Action: ['dynamodb:PutItem', 'dynamodb:Query'],
        Resource: table,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['O#rules'] } },
      },
      {
        Sid: 'RuleStore',
        Effect: 'Allow',
        Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        Resource: table,
        Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['R#*'] } },
      },
    ]);
    // No managed policies, no wildcard resources or actions anywhere in the identity policies.
    for (const [, role] of resources('AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    const text = JSON.stringify(resources('AWS::IAM::Policy'));
    expect(text).not.toMatch(/"Resource":"\*"|"Action":"[a-z]+:\*"/);
  });

  it('puts the IAM authoriser on every data route (the console page alone is public), with access logs and throttling on the stage', () => {
    const routes = resources('AWS::ApiGatewayV2::Route');
    const consoleRoutes = ['GET /', 'GET /console/{proxy+}'];
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual(
      [
        ...consoleRoutes,
        'GET /audit',
        'GET /rules',
        'GET /rules/{id}',
        'GET /rules/{id}/versions/{version}',
        'DELETE /rules/{id}',
        'PATCH /rules/{id}',
        'POST /rules',
        'PUT /rules/{id}',
        'POST /rules/validate',
        'POST /events',
      ].sort(),
    );
    for (const [, route] of routes)
      expect(route.Properties.AuthorizationType).toBe(
        consoleRoutes.includes(route.Properties.RouteKey as string) ? 'NONE' : 'AWS_IAM',
      );
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId('PipelineApiAccessLogs', 'AWS::Logs::LogGroup'), 'Arn'] },
        Format: Match.stringLikeRegexp('requestId'),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
    });
  });

  it("alarms on DLQ depth, queue age, and every function's errors and throttles", () => {
    const alarms = resources('AWS::CloudWatch::Alarm');
    // 10 pipeline alarms, and errors, throttles and near-timeout for each of the 5 functions, the console's
    // included (test/infra/operations.test.ts).
    expect(alarms).toHaveLength(25);
    const dlqDepth = (queuePrefix: string) =>
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Namespace: 'AWS/SQS',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Dimensions: [
          { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(queuePrefix, 'AWS::SQS::Queue'), 'QueueName'] } },
        ],
      });
    dlqDepth('PipelineIngestDlq');
    dlqDepth('PipelineAlertDlq');
    for (const metric of ['Errors', 'Throttles']) {
      for (const fn of ['IngestHttp', 'IngestSqs', 'RulesApi', 'OutboxSweeper']) {
        const fnId = resources('AWS::Lambda::Function').find(
          ([id]) => id.startsWith(`Pipeline${fn}`) && !id.includes('Role'),
        )![0];
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Namespace: 'AWS/Lambda',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
          Threshold: 1,
        });
      }
    }
  });

  it('outputs the API URL, queue URLs and table name', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).sort()).toEqual([
      'AlarmTopicArn',
      'AlertDlqUrl',
      'AlertQueueUrl',
      'ApiUrl',
      'DashboardName',
      'EventsEndpoint',
      'IngestDlqUrl',
      'IngestQueueUrl',
      'StateTableName',
    ]);
    expect(outputs.StateTableName?.Value).toEqual({ Ref: logicalId('PipelineStateTable', 'AWS::DynamoDB::Table') });
  });

  it('passes cdk-nag AwsSolutions with nothing left unacknowledged', () => {
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(
      report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`),
    ).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('ships rules and mappings inside each pipeline bundle, each within the bundle budget', () => {
    for (const [, fn] of pipelineFunctions()) {
      const dir = join(outdir, fn.Metadata?.['aws:asset:path'] as string);
      expect(readdirSync(dir).sort()).toEqual(['index.mjs', 'mappings', 'rules']);
      // Rules ship as JSON (converted at synth after validation) and precompiled: cheaper to load at cold start.
      expect(readdirSync(join(dir, 'rules'))).toEqual(['examples.json', RULES_COMPILED]);
      const shipped = loadRulesFromPaths([join(dir, 'rules')]);
      expect(shipped.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(shipped.diagnostics.map((d) => d.code)).not.toContain('rules-compiled-stale');
      expect(shipped.rules.map((r) => r.id)).toEqual(loadRulesFromPaths([join(REPO, 'rules')]).rules.map((r) => r.id));
      // Every built-in mapping (issue #13 added the source mappings) and the schema.
      expect(readdirSync(join(dir, 'mappings')).sort()).toEqual(
        [...BUILT_IN_MAPPING_FILES, 'mapping.schema.json'].sort(),
      );
      expect(statSync(join(dir, 'index.mjs')).size).toBeLessThan(MAX_BUNDLE_BYTES);
      expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toMatch(
        /^import\{createRequire as __stixflowCreateRequire\}|^import \{ createRequire as __stixflowCreateRequire \}/,
      );
    }
  });

  it('ships the built console in its own bundle within the bundle budget, and that bundle serves the page, its assets and a 404', async () => {
    const [, fn] = resources('AWS::Lambda::Function').find(([id]) => isConsole(id))!;
    expect(fn.Properties).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
    const dir = join(outdir, fn.Metadata?.['aws:asset:path'] as string);
    expect(readdirSync(dir).sort()).toEqual(['console', 'index.mjs']);
    expect(readdirSync(join(dir, 'console')).sort()).toEqual(['console.css', 'console.js', 'index.html']);
    expect(statSync(join(dir, 'index.mjs')).size).toBeLessThan(MAX_BUNDLE_BYTES);
    const page = readdirSync(join(dir, 'console')).reduce((n, f) => n + statSync(join(dir, 'console', f)).size, 0);
    expect(page).toBeLessThan(200 * 1024);
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { LAMBDA_TASK_ROOT: dir, CONSOLE_ASSETS_DIR: 'console' });
      const bundle = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as {
        handler: (event: unknown) => Promise<{ statusCode: number; headers: Record<string, string>; body: string }>;
      };
      const get = (path: string, method = 'GET') =>
        bundle.handler({ rawPath: path, requestContext: { http: { method } } });
      const home = await get('/');
      expect(home.statusCode).toBe(200);
      expect(home.headers['content-type']).toMatch(/^text\/html/);
      expect(home.headers['content-security-policy']).toContain("script-src 'self'");
      expect(home.body).toContain('/console/console.js');
      expect((await get('/console/console.js')).body).toContain('stixflow.console.token');
      expect((await get('/console/console.css')).headers['content-type']).toMatch(/^text\/css/);
      expect((await get('/console/../rules')).statusCode).toBe(404);
      expect((await get('/', 'POST')).statusCode).toBe(405);
    } finally {
      process.env = saved;
    }
  });

  it('runs the deployed ingest-http bundle itself: rules and mappings load from the bundle, alerts reach the queue', async () => {
    const [, fn] = resources('AWS::Lambda::Function').find(([id]) => id.startsWith('PipelineIngestHttp'))!;
    const dir = join(outdir, fn.Metadata?.['aws:asset:path'] as string);
    const dynamo = await startDynamo();
    const sqs = await startSqs();
    const saved = { ...process.env };
    // fauxqs queue URLs name the host sqs.<region>.localhost, which the SDK follows: resolve it to loopback.
    const restoreDns = interceptLocalhostDns();
    try {
      await ensureStateTable(dynamo.client, 'bundle-state');
      const queueUrl = await ensureQueue(sqs.client, 'bundle-alerts.fifo', { fifo: true });
      Object.assign(process.env, {
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        AWS_ENDPOINT_URL_SQS: sqs.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        TABLE_NAME: 'bundle-state',
        ALERT_QUEUE_URL: queueUrl,
        RULES_DIR: 'rules',
        MAPPINGS_DIR: 'mappings',
        LAMBDA_TASK_ROOT: dir,
        AWS_LAMBDA_FUNCTION_NAME: 'bundle-smoke',
        POWERTOOLS_METRICS_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'ERROR',
      });
      const bundle = (await import(pathToFileURL(join(dir, 'index.mjs')).href)) as {
        handler: (event: unknown, context: unknown) => Promise<{ statusCode: number; body: string }>;
      };
      const body = readFileSync(new URL('../../examples/events.ndjson', import.meta.url), 'utf8');
      const event = {
        version: '2.0',
        routeKey: 'POST /events',
        rawPath: '/events',
        rawQueryString: '',
        headers: {},
        isBase64Encoded: false,
        body,
        requestContext: {
          http: { method: 'POST', path: '/events' },
          authorizer: { iam: { accountId: '111122223333' } },
        },
      };
      const response = await bundle.handler(event, { functionName: 'bundle-smoke', awsRequestId: 'smoke-1' });
      expect(response.statusCode).toBe(202);
      expect(JSON.parse(response.body)).toMatchObject({ accepted: 5, alerts: 5 });
      const received: string[] = [];
      for (let i = 0; i < 10 && received.length < 5; i++) {
        const { Messages = [] } = await sqs.client.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
        );
        received.push(...Messages.map((m) => (JSON.parse(m.Body ?? '{}') as { tenant: string }).tenant));
      }
      expect(received).toEqual(['111122223333', '111122223333', '111122223333', '111122223333', '111122223333']);
    } finally {
      process.env = saved;
      restoreDns();
      await Promise.all([dynamo.stop(), sqs.stop()]);
    }
  });
});
