/**
 * Who is calling, from the API Gateway authoriser context only. The API itself requires IAM
 * (SigV4) or JWT authorisation on every route; this is defence in depth for a route deployed
 * without one. The tenant is never read from the request body or headers.
 */
import type { APIGatewayProxyEventV2WithRequestContext, APIGatewayEventRequestContextV2 } from 'aws-lambda';
import { isValidTenant, type IamTenantSource } from './config.js';

/** The authoriser part of an HTTP API (payload v2) request context: IAM, JWT or Lambda authoriser. */
export interface AuthorizerContext {
  iam?: { accountId?: string; userArn?: string; callerId?: string; userId?: string } | null;
  jwt?: { claims?: Record<string, unknown>; scopes?: string[] | null } | null;
  lambda?: Record<string, unknown> | null;
}

export type HttpApiEvent = APIGatewayProxyEventV2WithRequestContext<APIGatewayEventRequestContextV2 & { authorizer?: AuthorizerContext | null }>;

export type Caller = { ok: true; tenant: string; principal: string; scopes?: string[] } | { ok: false; status: 401 | 403; reason: string };

/** Role or user name of an IAM principal ARN (assumed-role sessions map to their role). */
export function principalName(arn: string): string | undefined {
  const assumed = /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/([^/]+)\//.exec(arn);
  if (assumed) return assumed[1];
  const iam = /^arn:aws[\w-]*:iam::\d{12}:(?:user|role)\/(?:.*\/)?([^/]+)$/.exec(arn);
  return iam?.[1];
}

export function callerOf(event: HttpApiEvent, iamTenantSource: IamTenantSource): Caller {
  const authorizer = event.requestContext?.authorizer;
  if (!authorizer || (!authorizer.iam && !authorizer.jwt && !authorizer.lambda)) {
    return { ok: false, status: 401, reason: 'the request carries no authoriser context' };
  }
  let tenant: unknown;
  let principal = 'unknown';
  let scopes: string[] | undefined;
  if (authorizer.jwt) {
    const claims = authorizer.jwt.claims ?? {};
    tenant = claims.tenant ?? claims['custom:tenant'];
    principal = typeof claims.sub === 'string' ? claims.sub : principal;
    // API Gateway passes the token's scopes parsed, or only the raw `scope` claim.
    scopes = authorizer.jwt.scopes ?? (typeof claims.scope === 'string' ? claims.scope.split(' ').filter((s) => s.length > 0) : []);
  } else if (authorizer.iam) {
    const iam = authorizer.iam;
    principal = iam.userArn ?? iam.callerId ?? principal;
    tenant = iamTenantSource === 'role' ? (iam.userArn ? principalName(iam.userArn) : undefined) : iam.accountId;
  } else if (authorizer.lambda) {
    tenant = authorizer.lambda.tenant;
    principal = typeof authorizer.lambda.principal === 'string' ? authorizer.lambda.principal : principal;
  }
  if (typeof tenant !== 'string' || !isValidTenant(tenant)) {
    return { ok: false, status: 403, reason: 'the authorised principal has no tenant' };
  }
  return { ok: true, tenant, principal, ...(scopes ? { scopes } : {}) };
}
