import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StixDetectionPipeline, validateRulesDir } from '../../infra/pipeline-construct.js';
import { REPO_ROOT } from '../../infra/bundling.js';

/** Apps in this file skip asset bundling (the bundled synth is covered once in pipeline-stack.test.ts). */
const unbundledApp = (): App => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stixflow-rules-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rulesDir(name: string, files: Record<string, string>): string {
  const path = join(dir, name);
  mkdirSync(path, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(path, file), text);
  return path;
}

const GOOD_RULE = `- id: good\n  name: Good\n  description: d\n  severity: low\n  pattern: "[process:name = 'x']"\n`;

describe('StixDetectionPipeline construct', () => {
  it('refuses to synthesise when a rule is invalid, naming file, line and problem', () => {
    const broken = rulesDir('broken', {
      'a.yaml': GOOD_RULE,
      'b.yaml': `- id: broken\n  name: Broken\n  description: d\n  severity: low\n  pattern: "[process:name = 'x' AND]"\n`,
    });
    const stack = new Stack(unbundledApp(), 'S');
    expect(() => new StixDetectionPipeline(stack, 'P', { rulesDir: broken })).toThrow(
      /problem\(s\) in the rules[\s\S]*b\.yaml:5:\d+: error \[/,
    );
    // Nothing was defined: the check runs before any resource.
    expect(stack.node.tryFindChild('P')?.node.children.length ?? 0).toBe(0);
  });

  it('refuses an unknown severity, a missing directory and a directory without rules', () => {
    const badSeverity = rulesDir('severity', { 'a.yaml': GOOD_RULE.replace('severity: low', 'severity: urgent') });
    expect(() => validateRulesDir(badSeverity)).toThrow(/a\.yaml:4/);
    expect(() => validateRulesDir(join(dir, 'missing'))).toThrow(/does not exist/);
    expect(() => validateRulesDir(rulesDir('empty', {}))).toThrow(/no rules/);
    expect(validateRulesDir(rulesDir('good', { 'a.yaml': GOOD_RULE })).ruleIds).toEqual(['good']);
  });

  it('supports a JWT authoriser and a standard alert queue, still clean under cdk-nag', () => {
    const app = unbundledApp();
    const stack = new Stack(app, 'Custom', { env: { account: '123456789012', region: 'eu-west-1' } });
    const pipeline = new StixDetectionPipeline(stack, 'P', {
      rulesDir: rulesDir('jwt', { 'a.yaml': GOOD_RULE }),
      auth: { type: 'jwt', issuer: 'https://issuer.example.com/', audience: ['stixflow'] },
      alertQueueFifo: false,
      latenessSeconds: 60,
      maxPartialsPerGroup: 20,
      maxBodyBytes: 65536,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: 'https://issuer.example.com/', Audience: ['stixflow'] },
    });
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as {
      Properties: { AuthorizationType: string; RouteKey: string; AuthorizationScopes?: string[] };
    }[];
    // The console page (GET /, GET /console/*) is public code; every data route takes the JWT.
    const dataRoutes = routes.filter(
      (r) => r.Properties.RouteKey !== 'GET /' && !r.Properties.RouteKey.startsWith('GET /console/'),
    );
    expect(routes).toHaveLength(dataRoutes.length + 2);
    for (const route of dataRoutes) expect(route.Properties.AuthorizationType).toBe('JWT');
    // Rules and overrides apply to every tenant: only the admin scope may write; the handler checks it too.
    const admin = ['stixflow/rules.admin'];
    expect(
      Object.fromEntries(dataRoutes.map((r) => [r.Properties.RouteKey, r.Properties.AuthorizationScopes])),
    ).toEqual({
      'POST /events': undefined,
      'GET /rules': undefined,
      'GET /rules/{id}': undefined,
      'GET /rules/{id}/versions/{version}': undefined,
      'POST /rules/validate': undefined,
      'GET /audit': undefined,
      'PATCH /rules/{id}': admin,
      'POST /rules': admin,
      'PUT /rules/{id}': admin,
      'DELETE /rules/{id}': admin,
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'stixflow: /rules (list, read, validate, create, replace, delete, enable/disable), /audit',
      Environment: { Variables: { RULES_ADMIN_SCOPE: 'stixflow/rules.admin' } },
    });
    for (const queue of Object.values(template.findResources('AWS::SQS::Queue')) as {
      Properties: Record<string, unknown>;
    }[])
      expect(queue.Properties.FifoQueue).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { LATENESS_SECONDS: '60', MAX_PARTIALS_PER_GROUP: '20', MAX_BODY_BYTES: '65536' } },
    });
    expect(pipeline.ruleIds).toEqual(['good']);
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.violations.map((v) => v.ruleName)).toEqual([]);
  }, 120_000);
});

describe('the CDK app (cdk.json)', () => {
  it('synthesises offline with cdk-nag registered, and fails on a broken rules directory', async () => {
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).app).toBe('npx tsx infra/app.ts');
    const run = promisify(execFile);
    const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
    const outdir = join(dir, 'cdk.out');
    // What `cdk synth` runs, without the CLI: skip bundling to stay quick (bundling is covered above).
    const env = {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [] }),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    await run(tsx, ['infra/app.ts'], { cwd: REPO_ROOT, env });
    const template = JSON.parse(readFileSync(join(outdir, 'Stixflow.template.json'), 'utf8')) as {
      Outputs: Record<string, unknown>;
    };
    expect(Object.keys(template.Outputs)).toContain('ApiUrl');
    const broken = rulesDir('app-broken', {
      'bad.yaml': `- id: x\n  name: X\n  description: d\n  severity: low\n  pattern: "[nope"\n`,
    });
    const failed = run(tsx, ['infra/app.ts'], {
      cwd: REPO_ROOT,
      env: { ...env, CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], rulesDir: broken }) },
    });
    await expect(failed).rejects.toMatchObject({
      stderr: expect.stringMatching(/refusing to synthesise[\s\S]*bad\.yaml:5/),
    });
  }, 240_000);
});
