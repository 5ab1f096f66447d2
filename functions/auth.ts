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

export type HttpApiEvent = APIGatewayProxyEventV2WithRequestContext<
  APIGatewayEventRequestContextV2 & { authorizer?: AuthorizerContext | null }
>;

/** How the caller was authorised: by an IAM policy on the route, or by a token (JWT or Lambda authoriser) and its scopes. */
export type AuthorisedBy = 'iam' | 'jwt' | 'lambda';

export type Caller =
  | { ok: true; tenant: string; principal: string; authorisedBy: AuthorisedBy; scopes: string[] }
  | { ok: false; status: 401 | 403; reason: string };

/** Scopes as a list (`["a", "b"]`) or as an OAuth `scope` string (`"a b"`); anything else is none. */
function scopeList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(' ').filter((s) => s.length > 0);
  if (Array.isArray(value)) return value.filter((s): s is string => typeof s === 'string');
  return undefined;
}

/**
 * Whether the caller may change what applies to every tenant (rule overrides). IAM callers got
 * through an IAM policy on the route (grant `PATCH/rules/*` to operators only); token callers
 * (JWT or Lambda authoriser) need the admin scope in their token or authoriser context.
 */
export function hasAdminScope(caller: Extract<Caller, { ok: true }>, adminScope: string): boolean {
  return caller.authorisedBy === 'iam' || caller.scopes.includes(adminScope);
}

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
  let scopes: string[] = [];
  let authorisedBy: AuthorisedBy;
  if (authorizer.jwt) {
    authorisedBy = 'jwt';
    const claims = authorizer.jwt.claims ?? {};
    tenant = claims.tenant ?? claims['custom:tenant'];
    principal = typeof claims.sub === 'string' ? claims.sub : principal;
    // API Gateway passes the token's scopes parsed, or only the raw `scope` claim.
    scopes = authorizer.jwt.scopes ?? scopeList(claims.scope) ?? [];
  } else if (authorizer.iam) {
    authorisedBy = 'iam';
    const iam = authorizer.iam;
    principal = iam.userArn ?? iam.callerId ?? principal;
    tenant = iamTenantSource === 'role' ? (iam.userArn ? principalName(iam.userArn) : undefined) : iam.accountId;
  } else {
    authorisedBy = 'lambda';
    // A Lambda authoriser grants scopes through its context: `scopes` (list or string) or `scope`.
    const context = authorizer.lambda ?? {};
    tenant = context.tenant;
    principal = typeof context.principal === 'string' ? context.principal : principal;
    scopes = scopeList(context.scopes) ?? scopeList(context.scope) ?? [];
  }
  if (typeof tenant !== 'string' || !isValidTenant(tenant)) {
    return { ok: false, status: 403, reason: 'the authorised principal has no tenant' };
  }
  return { ok: true, tenant, principal, authorisedBy, scopes };
}

/**
 * The mapping a request names for its events (an explicit choice beats detection): the `source` query parameter
 * first, else the `x-stixflow-source` header.
 */
export function requestedSource(event: HttpApiEvent): string | undefined {
  return event.queryStringParameters?.source ?? event.headers?.['x-stixflow-source'];
}
