/**
 * The rules API on the HTTP API (authenticated like every route):
 *
 *   GET   /rules        every deployed rule: enabled or not (and why), load errors and warnings,
 *                       and the caller's tenant's counters for the last 7 UTC days; the STIX
 *                       indicator bundles loaded beside the rules, with their indicator counts
 *   PATCH /rules/{id}   { "enabled": false } stores an override in the state table; running
 *                       ingest functions pick it up within RULE_OVERRIDES_REFRESH_SECONDS (60 s)
 *
 * Overrides apply to every tenant of the deployment: a token caller (JWT or Lambda authoriser)
 * needs the admin scope (RULES_ADMIN_SCOPE, default stixflow/rules.admin; under JWT checked on
 * the route too); with IAM, grant execute-api:Invoke on `PATCH/rules/*` to operators only. Each
 * override records who set it (the caller's principal) and is logged with it.
 */
import { relative } from 'node:path';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Diagnostic } from '../src/errors.js';
import { COUNTER_NAMES, utcDay, zeroCounts, type CounterValues } from '../src/state/counters.js';
import { callerOf, hasAdminScope, type HttpApiEvent } from './auth.js';
import { decodeBody } from './body.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

export const COUNTER_DAYS = 7;

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function json(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The last `n` UTC days, oldest first, ending today. */
export function lastDays(now: number, n = COUNTER_DAYS): string[] {
  return Array.from({ length: n }, (_, i) => utcDay(now - (n - 1 - i) * 86_400_000));
}

function publicDiagnostic(d: Diagnostic, rulesDir: string): Record<string, unknown> {
  return {
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.ruleId !== undefined ? { ruleId: d.ruleId } : {}),
    ...(d.file !== undefined ? { file: relative(rulesDir, d.file) || d.file } : {}),
    ...(d.line !== undefined ? { line: d.line } : {}),
    ...(d.column !== undefined ? { column: d.column } : {}),
  };
}

async function listRules(
  runtime: HandlerRuntime,
  tenant: string,
  now: number,
): Promise<APIGatewayProxyStructuredResultV2> {
  await runtime.refreshOverrides(true);
  const days = lastDays(now);
  const ids = runtime.rules.map((r) => r.id);
  const counters =
    ids.length > 0 ? await runtime.counters.read(tenant, ids, days) : new Map<string, Map<string, CounterValues>>();
  const dir = runtime.config.rulesDir;
  const byRule = new Map<string, Diagnostic[]>();
  for (const d of runtime.ruleDiagnostics) {
    if (d.ruleId === undefined) continue;
    byRule.set(d.ruleId, [...(byRule.get(d.ruleId) ?? []), d]);
  }
  const rules: Record<string, unknown>[] = runtime.rules.map((rule) => {
    const override = runtime.ruleOverrides.get(rule.id);
    const perDay = days.map((day) => ({ day, ...(counters.get(rule.id)?.get(day) ?? zeroCounts()) }));
    const totals = zeroCounts();
    for (const d of perDay) for (const name of COUNTER_NAMES) totals[name] += d[name];
    return {
      id: rule.id,
      name: rule.name,
      severity: rule.severity,
      ...(rule.category !== undefined ? { category: rule.category } : {}),
      tags: rule.tags,
      ...(rule.sigma ? { sigma: rule.sigma } : {}),
      status: 'loaded',
      enabled: runtime.isEnabled(rule),
      enabledInRuleFile: rule.enabled,
      ...(override
        ? { override: { enabled: override.enabled, updatedAt: override.updatedAt, updatedBy: override.updatedBy } }
        : {}),
      source: { file: rule.source?.file ? relative(dir, rule.source.file) : undefined, line: rule.source?.line },
      // What the rule is built from and muted by (#14.2, #14.5): its lists and macros, and the
      // shared exceptions it takes (each counted in its filtered counter).
      uses: { lists: rule.uses?.lists ?? [], macros: rule.uses?.macros ?? [] },
      exceptions: rule.filters.flatMap((f) =>
        f.exception === undefined
          ? []
          : [
              {
                id: f.exception,
                ...(f.reason !== undefined ? { reason: f.reason } : {}),
                ...(f.expires !== undefined ? { expires: new Date(f.expires).toISOString() } : {}),
              },
            ],
      ),
      errors: [],
      warnings: (byRule.get(rule.id) ?? []).map((d) => publicDiagnostic(d, dir)),
      counters: { days: perDay, totals },
    };
  });
  // Rules that did not compile: listed, disabled, with their errors.
  const loaded = new Set(ids);
  for (const [ruleId, diagnostics] of byRule) {
    if (loaded.has(ruleId)) continue;
    rules.push({
      id: ruleId,
      status: 'invalid',
      enabled: false,
      errors: diagnostics.filter((d) => d.severity === 'error').map((d) => publicDiagnostic(d, dir)),
      warnings: diagnostics.filter((d) => d.severity !== 'error').map((d) => publicDiagnostic(d, dir)),
    });
  }
  const fileDiagnostics = runtime.ruleDiagnostics
    .filter((d) => d.ruleId === undefined)
    .map((d) => publicDiagnostic(d, dir));
  // Indicators are listed by source file, not one by one: a feed may hold millions.
  const indicators = {
    total: runtime.indicators.size,
    sources: runtime.indicatorSources.map((s) => ({ file: relative(dir, s.file) || s.file, indicators: s.indicators })),
  };
  return json(200, { tenant, days, rules, indicators, diagnostics: fileDiagnostics });
}

async function patchRule(
  runtime: HandlerRuntime,
  event: HttpApiEvent,
  principal: string,
  now: number,
): Promise<APIGatewayProxyStructuredResultV2> {
  const raw = event.pathParameters?.id ?? /^\/rules\/([^/]+)$/.exec(event.rawPath)?.[1];
  const id = raw !== undefined ? safeDecode(raw) : undefined;
  const rule = id !== undefined ? runtime.rules.find((r) => r.id === id) : undefined;
  if (!rule) return json(404, { error: 'not-found', message: 'no deployed rule has this id' });
  let body: unknown;
  try {
    body = JSON.parse(decodeBody(event.body ?? '', event.isBase64Encoded));
  } catch {
    return json(400, { error: 'invalid-json', message: 'the body must be JSON: { "enabled": true | false }' });
  }
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? Object.keys(body) : [];
  const enabled = (body as { enabled?: unknown } | null)?.enabled;
  if (typeof enabled !== 'boolean' || fields.length !== 1) {
    return json(400, { error: 'invalid-body', message: 'the body must be exactly { "enabled": true | false }' });
  }
  const override = { ruleId: rule.id, enabled, updatedAt: new Date(now).toISOString(), updatedBy: principal };
  await runtime.overrides.set(override);
  logger.info('rule override stored', { ruleId: rule.id, enabled, updatedBy: principal });
  metrics.addMetric('RuleOverrides', MetricUnit.Count, 1);
  return json(200, {
    id: rule.id,
    enabled,
    override: { enabled, updatedAt: override.updatedAt, updatedBy: principal },
    appliesWithinSeconds: runtime.config.overridesRefreshSeconds,
  });
}

export function createRulesApiHandler(getRuntime: () => HandlerRuntime, now: () => number = Date.now) {
  return middy<HttpApiEvent, APIGatewayProxyStructuredResultV2, Error, Context>()
    .use(injectLambdaContext(logger, { logEvent: false, resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const runtime = getRuntime();
      metrics.addMetric('RulesApiRequests', MetricUnit.Count, 1);
      const caller = callerOf(event, runtime.config.iamTenantSource);
      if (!caller.ok) {
        logger.warn('request refused', { status: caller.status, reason: caller.reason });
        metrics.addMetric('RequestsRefused', MetricUnit.Count, 1);
        return json(caller.status, {
          error: caller.status === 401 ? 'unauthorized' : 'forbidden',
          message: caller.reason,
        });
      }
      const method = event.requestContext.http.method.toUpperCase();
      const route = event.routeKey && event.routeKey !== '$default' ? event.routeKey.split(' ')[1] : event.rawPath;
      try {
        if (route === '/rules' && method === 'GET') return await listRules(runtime, caller.tenant, now());
        if ((route === '/rules/{id}' || /^\/rules\/[^/]+$/.test(route ?? '')) && method === 'PATCH') {
          // Overrides apply to every tenant: a token caller needs the admin scope (under JWT API
          // Gateway checks it on the route too; this holds if the route is ever deployed without it).
          const scope = runtime.config.rulesAdminScope;
          if (!hasAdminScope(caller, scope)) {
            logger.warn('request refused', { status: 403, reason: 'missing rules admin scope' });
            metrics.addMetric('RequestsRefused', MetricUnit.Count, 1);
            return json(403, { error: 'forbidden', message: `changing a rule needs the ${scope} scope` });
          }
          return await patchRule(runtime, event, caller.principal, now());
        }
      } catch (error) {
        logger.error('rules API request failed', {
          error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
        });
        return json(503, { error: 'unavailable', message: 'the state table could not be reached; retry' });
      }
      return json(404, { error: 'not-found', message: 'routes: GET /rules, PATCH /rules/{id}' });
    });
}

export const handler = createRulesApiHandler(() => sharedRuntime('rules-api'));

if (inLambda()) sharedRuntime('rules-api');
