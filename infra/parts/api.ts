/** The HTTP API: an authoriser on every route, access logs without bodies, stage throttling. */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  type IHttpRouteAuthorizer,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer, HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { PipelineAuth } from '../pipeline-construct.js';
import type { PipelineFunctions } from './functions.js';

export interface PipelineApiProps {
  auth: PipelineAuth;
  /** The scope PATCH /rules/{id} requires under JWT authorisation. */
  rulesAdminScope: string | undefined;
  functions: PipelineFunctions;
  /** The alerts API function, when the alert store is on (#17). */
  alertsApi?: NodejsFunction;
  logRetention: RetentionDays;
  throttle?: { rateLimit: number; burstLimit: number };
}

export interface PipelineApi {
  api: HttpApi;
  stage: HttpStage;
}

/** Defines the API in `scope` (the pipeline), under the ids deployed stacks already have. */
export function defineApi(scope: Construct, props: PipelineApiProps): PipelineApi {
  const { auth, functions } = props;
  const authorizer: IHttpRouteAuthorizer =
    auth.type === 'jwt'
      ? new HttpJwtAuthorizer('JwtAuthorizer', auth.issuer, { jwtAudience: auth.audience })
      : new HttpIamAuthorizer();
  const api = new HttpApi(scope, 'Api', {
    description: 'stixflow detection pipeline',
    createDefaultStage: false,
    defaultAuthorizer: authorizer,
  });
  const accessLogs = new LogGroup(scope, 'ApiAccessLogs', {
    retention: props.logRetention,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  const stage = new HttpStage(scope, 'DefaultStage', {
    httpApi: api,
    stageName: '$default',
    autoDeploy: true,
    throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
    accessLogSettings: {
      destination: new LogGroupLogDestination(accessLogs),
      // Who and what, never the body.
      format: AccessLogFormat.custom(
        JSON.stringify({
          requestId: '$context.requestId',
          ip: '$context.identity.sourceIp',
          caller: '$context.identity.caller',
          user: '$context.identity.user',
          requestTime: '$context.requestTime',
          routeKey: '$context.routeKey',
          status: '$context.status',
          responseLength: '$context.responseLength',
          integrationError: '$context.integrationErrorMessage',
        }),
      ),
    },
  });
  const route = (
    path: string,
    method: HttpMethod,
    fn: NodejsFunction,
    integrationId: string,
    scopes?: string[],
  ): void => {
    api.addRoutes({
      path,
      methods: [method],
      integration: new HttpLambdaIntegration(integrationId, fn),
      authorizer,
      ...(scopes ? { authorizationScopes: scopes } : {}),
    });
  };
  route('/events', HttpMethod.POST, functions.IngestHttp, 'IngestHttpIntegration');
  const admin = props.rulesAdminScope !== undefined ? [props.rulesAdminScope] : undefined;
  route('/rules', HttpMethod.GET, functions.RulesApi, 'RulesListIntegration');
  // Overrides and store rules apply to every tenant: under JWT, only tokens with the admin scope may write them.
  route('/rules/{id}', HttpMethod.PATCH, functions.RulesApi, 'RulesPatchIntegration', admin);
  // The runtime rule store (#17).
  route('/rules', HttpMethod.POST, functions.RulesApi, 'RulesCreateIntegration', admin);
  route('/rules/{id}', HttpMethod.PUT, functions.RulesApi, 'RulesReplaceIntegration', admin);
  route('/rules/{id}', HttpMethod.DELETE, functions.RulesApi, 'RulesDeleteIntegration', admin);
  route('/rules/{id}', HttpMethod.GET, functions.RulesApi, 'RulesReadIntegration');
  route('/rules/{id}/versions/{version}', HttpMethod.GET, functions.RulesApi, 'RulesVersionIntegration');
  // Validating stores nothing: any caller may check a rule.
  route('/rules/validate', HttpMethod.POST, functions.RulesApi, 'RulesValidateIntegration');
  route('/audit', HttpMethod.GET, functions.RulesApi, 'AuditIntegration');
  if (props.alertsApi) {
    // Triage is per tenant: any authenticated caller of the tenant (no admin scope).
    route('/alerts', HttpMethod.GET, props.alertsApi, 'AlertsListIntegration');
    route('/alerts/{id}', HttpMethod.GET, props.alertsApi, 'AlertsReadIntegration');
    route('/alerts/{id}', HttpMethod.PATCH, props.alertsApi, 'AlertsTriageIntegration');
  }
  return { api, stage };
}
