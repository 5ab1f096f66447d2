/**
 * The CDK app (`cdk.json`: `npx tsx infra/app.ts`). Context:
 *   -c rulesDir=path        rules to deploy (default: rules/)
 *   -c stackName=Name       stack name (default: Stixflow)
 *   -c auth=jwt -c jwtIssuer=https://… -c jwtAudience=aud1,aud2   JWT instead of IAM
 *   -c jwtRulesAdminScope=…   scope PATCH /rules/{id} needs under JWT (default stixflow/rules.admin)
 * cdk-nag's AwsSolutions and Serverless checks run on every synth; an unacknowledged finding fails it.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { StixflowStack } from './stack.js';
import type { PipelineAuth } from './pipeline-construct.js';

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === 'string' && value !== '' ? value : undefined;
};

let auth: PipelineAuth = { type: 'iam', tenantSource: context('iamTenantSource') === 'role' ? 'role' : 'account' };
if (context('auth') === 'jwt') {
  const issuer = context('jwtIssuer');
  const audience = context('jwtAudience')?.split(',').filter(Boolean) ?? [];
  if (!issuer || audience.length === 0) throw new Error('auth=jwt needs -c jwtIssuer=… and -c jwtAudience=…');
  const rulesAdminScope = context('jwtRulesAdminScope');
  auth = { type: 'jwt', issuer, audience, ...(rulesAdminScope ? { rulesAdminScope } : {}) };
}
const rulesDir = context('rulesDir');

new StixflowStack(app, context('stackName') ?? 'Stixflow', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  pipeline: { auth, ...(rulesDir ? { rulesDir } : {}) },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
app.synth();
