/**
 * The three Lambda functions (ingest-http, ingest-sqs, rules-api), each with its own log group
 * and role, and the least-privilege grants on the table and queues they use.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type ISecurityGroup, type IVpc, type SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Effect, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { COUNTER_PK_PREFIX, STATE_PK_PREFIX } from '../../src/state/table-schema.js';
import { OVERRIDE_PARTITION } from '../../src/state/rule-overrides.js';
import { RULE_STORE_PARTITION, RULE_STORE_PK_PREFIX } from '../../src/state/rule-store.js';
import {
  BUNDLED_MAPPINGS_DIR,
  BUNDLED_RULES_DIR,
  ESBUILD_TARGET,
  EXTERNAL_MODULES,
  FUNCTION_ENTRIES,
  MAIN_FIELDS,
  REPO_ROOT,
  REQUIRE_SHIM_BANNER,
  type FunctionName,
} from '../bundling.js';
import type { PipelineQueues } from './queues.js';

export type PipelineFunctions = Record<FunctionName, NodejsFunction>;

export interface PipelineFunctionsProps {
  /** Environment every function gets (table, rules and mappings directories, engine settings). */
  environment: Record<string, string>;
  alertQueue: Queue;
  /** RULES_ADMIN_SCOPE for the rules API under JWT authorisation. */
  rulesAdminScope: string | undefined;
  /** A staging directory of the validated rules as JSON; removed once the last function is bundled. */
  stagedRules: string;
  timeout: Duration;
  memorySize?: number;
  logRetention: RetentionDays;
  /** Runs every function in these subnets (docs/operations.md: the VPC needs endpoints or NAT for the AWS APIs). */
  vpc?: FunctionVpcProps;
}

export interface FunctionVpcProps {
  vpc: IVpc;
  /** Default: the VPC's private subnets (with egress, else isolated). */
  subnets?: SubnetSelection;
  /** Default: one security group per function, outbound only. */
  securityGroups?: ISecurityGroup[];
}

/**
 * One pipeline function: its own log group and role (only its log group, and the grants its caller adds; no
 * managed policies), bundled locally with esbuild, with the validated rules, the built-in mappings and their
 * schema shipped beside index.mjs.
 */
export function definePipelineFunction(
  scope: Construct,
  props: PipelineFunctionsProps,
  name: string,
  entry: string,
  description: string,
  extraEnv: Record<string, string>,
): NodejsFunction {
  const mappingsDir = join(REPO_ROOT, 'mappings');
  const { stagedRules } = props;
  const { role, logGroup } = functionRoleAndLogs(scope, name, props.logRetention, props.vpc);
  const base = bundledFunctionBase(entry);
  return new NodejsFunction(scope, name, {
    ...base,
    description,
    memorySize: props.memorySize ?? 512,
    timeout: props.timeout,
    role,
    logGroup,
    environment: { ...props.environment, ...extraEnv },
    ...vpcPlacement(props.vpc),
    bundling: {
      ...base.bundling,
      banner: REQUIRE_SHIM_BANNER,
      externalModules: EXTERNAL_MODULES,
      commandHooks: {
        beforeBundling: () => [],
        beforeInstall: () => [],
        // Ship the validated rules, the built-in mappings and their schema next to index.mjs.
        afterBundling: (_inputDir: string, outputDir: string) => [
          `cp -R "${stagedRules}" "${join(outputDir, BUNDLED_RULES_DIR)}"`,
          `mkdir -p "${join(outputDir, BUNDLED_MAPPINGS_DIR)}"`,
          `cp "${mappingsDir}"/*.yaml "${join(outputDir, BUNDLED_MAPPINGS_DIR)}/"`,
          `cp "${join(REPO_ROOT, 'schemas', 'mapping.schema.json')}" "${join(outputDir, BUNDLED_MAPPINGS_DIR)}/"`,
        ],
      },
    },
  });
}

/**
 * Defines the functions in `scope` (the pipeline), under the ids deployed stacks already have. The staged rules
 * stay until the caller removes them (the channel functions are bundled after these).
 */
export function defineFunctions(scope: Construct, props: PipelineFunctionsProps): PipelineFunctions {
  const makeFunction = (name: FunctionName, description: string, extraEnv: Record<string, string>): NodejsFunction =>
    definePipelineFunction(scope, props, name, FUNCTION_ENTRIES[name], description, extraEnv);
  const alertEnv = { ALERT_QUEUE_URL: props.alertQueue.queueUrl };
  return {
    IngestHttp: makeFunction('IngestHttp', 'stixflow: POST /events → detection pipeline → alert queue', alertEnv),
    IngestSqs: makeFunction('IngestSqs', 'stixflow: ingest queue → detection pipeline → alert queue', alertEnv),
    RulesApi: makeFunction(
      'RulesApi',
      'stixflow: /rules (list, read, validate, create, replace, delete, enable/disable), /audit',
      props.rulesAdminScope !== undefined ? { RULES_ADMIN_SCOPE: props.rulesAdminScope } : {},
    ),
  };
}

/** Removes the staged rules once the last function is bundled (bundling runs while each function is constructed). */
export function removeStagedRules(stagedRules: string): void {
  rmSync(stagedRules, { recursive: true, force: true });
}

export interface PipelineAccessProps {
  table: Table;
  queues: PipelineQueues;
  /** SQS batch size for the ingest function; default 10. */
  ingestBatchSize?: number;
}

const leadingKeys = (...patterns: string[]) => ({
  'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': patterns },
});

/** What every function that runs the pipeline may do: its state and counters, read rule overrides, send alerts. */
export function grantIngest(fn: NodejsFunction, table: Table, alertQueue: Queue): void {
  const tableArn = table.tableArn;
  // Correlation state (S#…) and rule-health counters (C#…): batch reads, conditional writes, atomic counters.
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'StateAndCounters',
      effect: Effect.ALLOW,
      actions: ['dynamodb:BatchGetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:UpdateItem'],
      resources: [tableArn],
      conditions: leadingKeys(`${STATE_PK_PREFIX}*`, `${COUNTER_PK_PREFIX}*`),
    }),
  );
  // Rule overrides: read only.
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'ReadRuleOverrides',
      effect: Effect.ALLOW,
      actions: ['dynamodb:Query'],
      resources: [tableArn],
      conditions: leadingKeys(OVERRIDE_PARTITION),
    }),
  );
  // The runtime rule store (#17): its version item and rule heads, read only.
  fn.addToRolePolicy(
    new PolicyStatement({
      sid: 'ReadRuleStore',
      effect: Effect.ALLOW,
      actions: ['dynamodb:GetItem', 'dynamodb:Query'],
      resources: [tableArn],
      conditions: leadingKeys(RULE_STORE_PARTITION),
    }),
  );
  // SendMessageBatch is authorised by sqs:SendMessage.
  fn.addToRolePolicy(
    new PolicyStatement({ sid: 'SendAlerts', actions: ['sqs:SendMessage'], resources: [alertQueue.queueArn] }),
  );
}

/** Least privilege: each function may touch only its own key prefixes and queues. */
export function grantPipelineAccess(functions: PipelineFunctions, props: PipelineAccessProps): void {
  const tableArn = props.table.tableArn;
  for (const fn of [functions.IngestHttp, functions.IngestSqs]) grantIngest(fn, props.table, props.queues.alertQueue);
  functions.IngestSqs.addEventSource(
    new SqsEventSource(props.queues.ingestQueue, {
      batchSize: props.ingestBatchSize ?? 10,
      maxBatchingWindow: Duration.seconds(1),
      reportBatchItemFailures: true,
    }),
  );
  functions.RulesApi.addToRolePolicy(
    new PolicyStatement({
      sid: 'ReadCounters',
      actions: ['dynamodb:BatchGetItem'],
      resources: [tableArn],
      conditions: leadingKeys(`${COUNTER_PK_PREFIX}*`),
    }),
  );
  functions.RulesApi.addToRolePolicy(
    new PolicyStatement({
      sid: 'RuleOverrides',
      actions: ['dynamodb:Query', 'dynamodb:PutItem'],
      resources: [tableArn],
      conditions: leadingKeys(OVERRIDE_PARTITION),
    }),
  );
  // The runtime rule store (#17): rules, versions, audit (R#…); conditional puts and updates, never a delete.
  functions.RulesApi.addToRolePolicy(
    new PolicyStatement({
      sid: 'RuleStore',
      actions: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resources: [tableArn],
      conditions: leadingKeys(`${RULE_STORE_PK_PREFIX}*`),
    }),
  );
}

/** Lets a function's role manage the network interfaces of its VPC placement. */
export function grantVpcAccess(role: Role): void {
  // What AWSLambdaVPCAccessExecutionRole grants, inline (the role has no managed policies).
  role.addToPolicy(
    new PolicyStatement({
      sid: 'VpcNetworkInterfaces',
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
  Validations.of(role).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Lambda creates and deletes the network interfaces of a VPC function itself; the EC2 network-interface actions do not support resource-level permissions (as AWSLambdaVPCAccessExecutionRole)',
  });
}

/** A function's VPC placement props (none without a VPC). */
export function vpcPlacement(vpc: FunctionVpcProps | undefined): {
  vpc?: IVpc;
  vpcSubnets?: SubnetSelection;
  securityGroups?: ISecurityGroup[];
} {
  if (!vpc) return {};
  return {
    vpc: vpc.vpc,
    ...(vpc.subnets ? { vpcSubnets: vpc.subnets } : {}),
    ...(vpc.securityGroups ? { securityGroups: vpc.securityGroups } : {}),
  };
}

/**
 * A function's log group and its own role, which may write to that log group only (and manage its VPC network
 * interfaces when it has a VPC placement); the ids are `<name>Logs` and `<name>Role`.
 */
export function functionRoleAndLogs(
  scope: Construct,
  name: string,
  retention: RetentionDays,
  vpc: FunctionVpcProps | undefined,
): { role: Role; logGroup: LogGroup } {
  const logGroup = new LogGroup(scope, `${name}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });
  const role = new Role(scope, `${name}Role`, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: `stixflow ${name} function`,
  });
  role.addToPolicy(
    new PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  if (vpc) grantVpcAccess(role);
  return { role, logGroup };
}

/** What every stixflow function shares: Node 24 on arm64, bundled locally by esbuild as minified ESM. */
export function bundledFunctionBase(entry: string) {
  return {
    entry: join(REPO_ROOT, entry),
    handler: 'handler',
    runtime: Runtime.NODEJS_24_X,
    architecture: Architecture.ARM_64,
    projectRoot: REPO_ROOT,
    depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
    bundling: {
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      target: ESBUILD_TARGET,
      minify: true,
      sourceMap: false,
      mainFields: MAIN_FIELDS,
    },
  };
}
