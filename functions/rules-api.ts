/**
 * The rules API on the HTTP API (authenticated like every route; docs/api.md):
 *
 *   GET    /rules                            every rule in force, bundle and store (origin, kind, status,
 *                                            enabled, scope, last change), the caller's tenant's counters for
 *                                            the last 7 UTC days, load errors and warnings, indicator bundles
 *   GET    /rules/{id}                       one rule: its source, diagnostics, tests with their last run
 *                                            (run now when none is current), and versions
 *   GET    /rules/{id}/versions/{version}    one version with its source
 *   POST   /rules/validate                   { source, tests? } → { valid, diagnostics, tests? }, never stored
 *   POST   /rules                            { source } → a new store rule (422 invalid, 409 id taken;
 *                                            ?allowInvalid=true stores it red); its tests run and are kept
 *   PUT    /rules/{id}                       { source } → the store rule replaced (or a bundle rule shadowed);
 *                                            its tests run and are kept
 *   DELETE /rules/{id}                       removes a store rule (a bundle rule cannot be: 409)
 *   PATCH  /rules/{id}                       { "enabled": bool } stores an override
 *   GET    /audit?ruleId=&limit=             every change, newest first
 *
 * Rules and overrides apply to every tenant of the deployment: a write needs the admin scope
 * (RULES_ADMIN_SCOPE, default stixflow/rules.admin; under JWT checked on the route too; with IAM,
 * grant the write routes to operators only). Every write is a version of the rule and an audit
 * entry naming the caller's principal. Running ingest functions see a change within
 * RULE_STORE_REFRESH_SECONDS (60 s): they poll the store's version, not its rules.
 */
import { relative } from 'node:path';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { stringify } from 'yaml';
import type { Diagnostic } from '../src/errors.js';
import { collectDocuments } from '../src/rules/collect.js';
import { readDocuments } from '../src/rules/read.js';
import type { Rule } from '../src/rules/model.js';
import { COUNTER_NAMES, utcDay, zeroCounts, type CounterValues } from '../src/state/counters.js';
import {
  RuleVersionConflictError,
  type RuleAction,
  type RuleHead,
  type RuleStore,
  type RuleTestRun,
} from '../src/state/rule-store.js';
import { callerOf, hasAdminScope, type HttpApiEvent } from './auth.js';
import { decodeBody } from './body.js';
import { isStoreFile, ruleKind } from './rule-layers.js';
import { runTestsOf, sourceSha256, testsView } from './rules-tests.js';
import { inLambda, logger, metrics, sharedRuntime, type HandlerRuntime } from './runtime.js';

export const COUNTER_DAYS = 7;
/** The name a submitted source has in its diagnostics. */
export const SUBMITTED_FILE = 'source.yaml';

type Result = APIGatewayProxyStructuredResultV2;

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function json(statusCode: number, body: unknown): Result {
  return { statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

/** The last `n` UTC days, oldest first, ending today. */
export function lastDays(now: number, n = COUNTER_DAYS): string[] {
  return Array.from({ length: n }, (_, i) => utcDay(now - (n - 1 - i) * 86_400_000));
}

function publicDiagnostic(d: Diagnostic, rulesDir: string): Record<string, unknown> {
  const file =
    d.file === undefined || isStoreFile(d.file) || d.file === SUBMITTED_FILE
      ? d.file
      : relative(rulesDir, d.file) || d.file;
  return {
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.ruleId !== undefined ? { ruleId: d.ruleId } : {}),
    ...(file !== undefined ? { file } : {}),
    ...(d.line !== undefined ? { line: d.line } : {}),
    ...(d.column !== undefined ? { column: d.column } : {}),
  };
}

/** The store the API writes; the runtime's reader is the DynamoDB store outside tests of the ingest path. */
function writableStore(runtime: HandlerRuntime): RuleStore {
  const store = runtime.ruleStore as Partial<RuleStore>;
  if (typeof store.write !== 'function') throw new Error('the rule store of this runtime is read-only');
  return store as RuleStore;
}

interface ListContext {
  runtime: HandlerRuntime;
  days: string[];
  counters: Map<string, Map<string, CounterValues>>;
  heads: Map<string, RuleHead>;
  byRule: Map<string, Diagnostic[]>;
}

async function listContext(runtime: HandlerRuntime, tenant: string, now: number): Promise<ListContext> {
  await runtime.refreshRules(true);
  await runtime.refreshOverrides(true);
  const days = lastDays(now);
  const byRule = new Map<string, Diagnostic[]>();
  for (const d of runtime.ruleDiagnostics) {
    if (d.ruleId === undefined) continue;
    byRule.set(d.ruleId, [...(byRule.get(d.ruleId) ?? []), d]);
  }
  const ids = [...new Set([...runtime.rules.map((r) => r.id), ...byRule.keys()])];
  const [counters, heads] = await Promise.all([
    ids.length > 0 ? runtime.counters.read(tenant, ids, days) : new Map<string, Map<string, CounterValues>>(),
    writableStore(runtime).heads(),
  ]);
  return { runtime, days, counters, byRule, heads: new Map(heads.map((h) => [h.id, h])) };
}

function countersOf(ctx: ListContext, ruleId: string) {
  const perDay = ctx.days.map((day) => ({ day, ...(ctx.counters.get(ruleId)?.get(day) ?? zeroCounts()) }));
  const totals = zeroCounts();
  for (const d of perDay) for (const name of COUNTER_NAMES) totals[name] += d[name];
  return { days: perDay, totals };
}

function lastChangeOf(ctx: ListContext, ruleId: string) {
  const head = ctx.heads.get(ruleId);
  return head ? { lastChange: { by: head.by, at: head.at, version: head.version, action: head.action } } : {};
}

function ruleView(ctx: ListContext, rule: Rule): Record<string, unknown> {
  const { runtime } = ctx;
  const dir = runtime.config.rulesDir;
  const override = runtime.ruleOverrides.get(rule.id);
  const file = rule.source?.file;
  return {
    id: rule.id,
    name: rule.name,
    severity: rule.severity,
    ...(rule.category !== undefined ? { category: rule.category } : {}),
    tags: rule.tags,
    ...(rule.sigma ? { sigma: rule.sigma } : {}),
    origin: runtime.originOf(rule.id),
    kind: ruleKind(rule),
    status: 'loaded',
    enabled: runtime.isEnabled(rule),
    enabledInRuleFile: rule.enabled,
    // Scope: the tenants (entities) and hosts (assets) the rule is limited to, or all.
    scope: rule.scope ? { entities: rule.scope.tenants?.length ?? 0, assets: rule.scope.hosts?.length ?? 0 } : 'all',
    ...lastChangeOf(ctx, rule.id),
    ...(override
      ? { override: { enabled: override.enabled, updatedAt: override.updatedAt, updatedBy: override.updatedBy } }
      : {}),
    source: { file: file && !isStoreFile(file) ? relative(dir, file) : file, line: rule.source?.line },
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
    warnings: (ctx.byRule.get(rule.id) ?? []).map((d) => publicDiagnostic(d, dir)),
    counters: countersOf(ctx, rule.id),
  };
}

/** A rule that did not compile: listed, disabled, with its errors. */
function invalidRuleView(ctx: ListContext, ruleId: string): Record<string, unknown> {
  const dir = ctx.runtime.config.rulesDir;
  const diagnostics = ctx.byRule.get(ruleId) ?? [];
  return {
    id: ruleId,
    origin: ctx.runtime.originOf(ruleId),
    status: 'invalid',
    enabled: false,
    scope: 'all',
    ...lastChangeOf(ctx, ruleId),
    errors: diagnostics.filter((d) => d.severity === 'error').map((d) => publicDiagnostic(d, dir)),
    warnings: diagnostics.filter((d) => d.severity !== 'error').map((d) => publicDiagnostic(d, dir)),
    counters: countersOf(ctx, ruleId),
  };
}

function viewOf(ctx: ListContext, ruleId: string): Record<string, unknown> | undefined {
  const rule = ctx.runtime.rules.find((r) => r.id === ruleId);
  if (rule) return ruleView(ctx, rule);
  return ctx.byRule.get(ruleId)?.some((d) => d.severity === 'error') ? invalidRuleView(ctx, ruleId) : undefined;
}

async function listRules(runtime: HandlerRuntime, tenant: string, now: number): Promise<Result> {
  const ctx = await listContext(runtime, tenant, now);
  const dir = runtime.config.rulesDir;
  const rules = runtime.rules.map((rule) => ruleView(ctx, rule));
  const loaded = new Set(runtime.rules.map((r) => r.id));
  for (const ruleId of ctx.byRule.keys()) if (!loaded.has(ruleId)) rules.push(invalidRuleView(ctx, ruleId));
  const fileDiagnostics = runtime.ruleDiagnostics
    .filter((d) => d.ruleId === undefined)
    .map((d) => publicDiagnostic(d, dir));
  // Indicators are listed by source file, not one by one: a feed may hold millions.
  const indicators = {
    total: runtime.indicators.size,
    sources: runtime.indicatorSources.map((s) => ({ file: relative(dir, s.file) || s.file, indicators: s.indicators })),
  };
  return json(200, { tenant, days: ctx.days, rules, indicators, diagnostics: fileDiagnostics });
}

/** The YAML of a bundle rule: its own entry of the file it is defined in. */
function bundleSourceOf(runtime: HandlerRuntime, ruleId: string): string | undefined {
  for (const source of runtime.layers.bundle) {
    if (!source.text.includes(ruleId)) continue;
    const candidate = collectDocuments(readDocuments(source)).candidates.find((c) => c.id === ruleId);
    if (candidate) return stringify(candidate.value);
  }
  return undefined;
}

const NOT_COMPILED = 'the rule does not compile: its tests run once it does';

/**
 * Runs the tests of a rule in force and keeps the run. A run that could not be kept is still
 * answered: the result is the rule's either way, and the next read runs them again.
 */
async function runAndKeep(
  w: Writer,
  rule: Rule,
  source: string,
  trigger: RuleTestRun['trigger'],
  version: number | undefined,
): Promise<RuleTestRun> {
  const run: RuleTestRun = {
    ruleId: rule.id,
    at: new Date(w.now).toISOString(),
    by: w.principal,
    trigger,
    sourceSha256: sourceSha256(source),
    ...(version !== undefined ? { version } : {}),
    results: await runTestsOf(rule, w.runtime.rules),
  };
  try {
    await writableStore(w.runtime).putTestRun(run);
  } catch (error) {
    logger.warn('test run not kept', { ruleId: rule.id, error: error instanceof Error ? error.name : 'unknown' });
  }
  metrics.addMetric('RuleTestRuns', MetricUnit.Count, 1);
  return run;
}

/** A rule's tests and their last run; run now when the kept run is not of the rule's current source. */
async function testsOfRule(
  w: Writer,
  ruleId: string,
  source: string,
  head: RuleHead | undefined,
): Promise<Record<string, unknown>> {
  const rule = w.runtime.rules.find((r) => r.id === ruleId);
  const sha = sourceSha256(source);
  const kept = await writableStore(w.runtime).lastTestRun(ruleId);
  if (!rule) return testsView(0, kept, sha, NOT_COMPILED);
  if (rule.tests.length === 0) return testsView(0, undefined, sha);
  if (kept && kept.sourceSha256 === sha) return testsView(rule.tests.length, kept, sha);
  const version = head && !head.deleted && head.source !== undefined ? head.version : undefined;
  return testsView(rule.tests.length, await runAndKeep(w, rule, source, 'read', version), sha);
}

async function getRule(w: Writer, ruleId: string): Promise<Result> {
  const { runtime } = w;
  const ctx = await listContext(runtime, w.tenant, w.now);
  const view = viewOf(ctx, ruleId);
  const head = ctx.heads.get(ruleId);
  const storeSource = head && !head.deleted ? head.source : undefined;
  if (!view && storeSource === undefined) return json(404, { error: 'no rule has this id' });
  const dir = runtime.config.rulesDir;
  const source = storeSource ?? bundleSourceOf(runtime, ruleId) ?? '';
  return json(200, {
    rule: view,
    source,
    diagnostics: (ctx.byRule.get(ruleId) ?? []).map((d) => publicDiagnostic(d, dir)),
    tests: await testsOfRule(w, ruleId, source, head),
    versions: (await writableStore(runtime).versions(ruleId)).map((v) => ({
      version: v.version,
      by: v.by,
      at: v.at,
      action: v.action,
      summary: v.summary,
    })),
  });
}

async function getVersion(runtime: HandlerRuntime, ruleId: string, raw: string): Promise<Result> {
  const number = Number(raw);
  const version =
    Number.isSafeInteger(number) && number > 0 ? await writableStore(runtime).version(ruleId, number) : undefined;
  if (!version) return json(404, { error: `rule ${ruleId} has no version ${raw}` });
  return json(200, {
    version: version.version,
    by: version.by,
    at: version.at,
    action: version.action,
    source: version.source ?? '',
  });
}

function parseBody(event: HttpApiEvent): { ok: true; value: Record<string, unknown> } | { ok: false; result: Result } {
  let body: unknown;
  try {
    body = JSON.parse(decodeBody(event.body ?? '', event.isBase64Encoded));
  } catch {
    return { ok: false, result: json(400, { error: 'the body must be JSON' }) };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, result: json(400, { error: 'the body must be a JSON object' }) };
  return { ok: true, value: body as Record<string, unknown> };
}

function sourceOf(event: HttpApiEvent): { ok: true; source: string } | { ok: false; result: Result } {
  const body = parseBody(event);
  if (!body.ok) return body;
  const source = body.value.source;
  if (typeof source !== 'string' || source.trim() === '')
    return { ok: false, result: json(400, { error: 'the body must be { "source": "<rule YAML>" }' }) };
  return { ok: true, source };
}

interface Checked {
  id: string | undefined;
  valid: boolean;
  diagnostics: Record<string, unknown>[];
  /** Why the source cannot be a store rule at all, beside its diagnostics. */
  problem?: string;
  /** The rule compiled as the store would load it (valid sources only), and the rules beside it. */
  rule?: Rule;
  context: Rule[];
}

/** Validates a source as the store would load it, beside the other store rules (`replacing` left out). */
async function checkSource(runtime: HandlerRuntime, source: string, replacing?: string): Promise<Checked> {
  const others = (await runtime.ruleStore.list()).filter((r) => r.id !== replacing);
  const check = runtime.layers.check(source, SUBMITTED_FILE, others);
  const diagnostics = check.diagnostics.map((d) => publicDiagnostic(d, runtime.config.rulesDir));
  const problem =
    check.ids.length === 1
      ? undefined
      : `a source holds exactly one rule with an id; this one holds ${check.ids.length}`;
  const valid = check.valid && problem === undefined;
  const rule = valid ? check.rules.find((r) => r.id === check.ids[0]) : undefined;
  return {
    id: check.ids[0],
    valid,
    diagnostics,
    ...(problem ? { problem } : {}),
    ...(rule ? { rule } : {}),
    context: check.context,
  };
}

/** Validates a source; with `"tests": true` also runs its tests (a draft's: nothing is kept). */
async function validate(runtime: HandlerRuntime, event: HttpApiEvent): Promise<Result> {
  const body = sourceOf(event);
  if (!body.ok) return body.result;
  const withTests = parseBody(event);
  const runTests = withTests.ok && withTests.value.tests === true;
  const checked = await checkSource(runtime, body.source);
  let tests: Record<string, unknown> | undefined;
  if (runTests) {
    const { rule } = checked;
    if (!rule) tests = testsView(0, undefined, undefined, NOT_COMPILED);
    else {
      const results = rule.tests.length > 0 ? await runTestsOf(rule, checked.context) : [];
      const count = (outcome: string) => results.filter((r) => r.outcome === outcome).length;
      tests = {
        cases: rule.tests.length,
        passed: count('passed'),
        failed: count('failed'),
        skipped: count('skipped'),
        results,
      };
    }
  }
  return json(200, {
    valid: checked.valid,
    diagnostics: checked.diagnostics,
    ...(checked.problem ? { error: checked.problem } : {}),
    ...(tests ? { tests } : {}),
  });
}

/** What a new source changes, for the audit entry: fields added, removed or changed at the top level. */
function summarise(before: string | undefined, after: string): string {
  const top = (text: string | undefined): Record<string, unknown> => {
    if (text === undefined) return {};
    const value = collectDocuments(readDocuments({ file: SUBMITTED_FILE, text })).candidates[0]?.value;
    return value ?? {};
  };
  const a = top(before);
  const b = top(after);
  const changed = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter(
    (k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]),
  );
  return changed.length === 0 ? 'no field changed' : `changed ${changed.join(', ')}`;
}

interface Writer {
  runtime: HandlerRuntime;
  principal: string;
  tenant: string;
  now: number;
}

async function afterWrite(
  w: Writer,
  ruleId: string,
  action: RuleAction,
  version: number,
): Promise<Record<string, unknown> | undefined> {
  logger.info('rule store changed', { ruleId, action, version, by: w.principal });
  metrics.addMetric('RuleStoreWrites', MetricUnit.Count, 1);
  const ctx = await listContext(w.runtime, w.tenant, w.now);
  return viewOf(ctx, ruleId);
}

async function writeSource(w: Writer, event: HttpApiEvent, pathId: string | undefined): Promise<Result> {
  const body = sourceOf(event);
  if (!body.ok) return body.result;
  const store = writableStore(w.runtime);
  const checked = await checkSource(w.runtime, body.source, pathId);
  if (checked.id === undefined || checked.problem)
    return json(422, { error: checked.problem ?? 'the rule has no id', diagnostics: checked.diagnostics });
  const id = checked.id;
  if (pathId !== undefined && id !== pathId)
    return json(400, { error: `the source defines rule ${id}, not ${pathId}`, diagnostics: checked.diagnostics });
  const allowInvalid = event.queryStringParameters?.allowInvalid === 'true';
  if (!checked.valid && !allowInvalid)
    return json(422, { error: `rule ${id} is invalid`, diagnostics: checked.diagnostics });
  const head = await store.head(id);
  const inStore = head !== undefined && head.source !== undefined && !head.deleted;
  const inBundle = bundleSourceOf(w.runtime, id) !== undefined;
  if (pathId === undefined && (inStore || inBundle))
    return json(409, { error: `a rule with id ${id} exists; PUT /rules/${encodeURIComponent(id)} replaces it` });
  if (pathId !== undefined && !inStore && !inBundle)
    return json(404, { error: `no rule has id ${id}; POST /rules creates it` });
  const action: RuleAction = pathId === undefined ? 'create' : 'update';
  const version = await store.write(
    {
      ruleId: id,
      action,
      by: w.principal,
      at: new Date(w.now).toISOString(),
      summary:
        action === 'create'
          ? 'created'
          : summarise(inStore ? head?.source : bundleSourceOf(w.runtime, id), body.source) +
            (inStore ? '' : ' (now replaces the bundle rule)'),
      source: body.source,
      status: checked.valid ? 'loaded' : 'invalid',
    },
    action === 'create' ? 'absent' : undefined,
  );
  const rule = await afterWrite(w, id, action, version);
  // The tests run on every save, on the rule as now in force, and the run is kept with this version.
  const inForce = w.runtime.rules.find((r) => r.id === id && w.runtime.originOf(id) === 'store');
  const sha = sourceSha256(body.source);
  const tests = !inForce
    ? testsView(0, undefined, sha, NOT_COMPILED)
    : inForce.tests.length === 0
      ? testsView(0, undefined, sha)
      : testsView(inForce.tests.length, await runAndKeep(w, inForce, body.source, 'save', version), sha);
  return json(action === 'create' ? 201 : 200, { rule, version, diagnostics: checked.diagnostics, tests });
}

async function deleteRule(w: Writer, id: string): Promise<Result> {
  const store = writableStore(w.runtime);
  const head = await store.head(id);
  if (!head || head.source === undefined || head.deleted) {
    return bundleSourceOf(w.runtime, id) !== undefined
      ? json(409, { error: `rule ${id} ships with the bundle and cannot be deleted; disable it instead` })
      : json(404, { error: `no store rule has id ${id}` });
  }
  const version = await store.write(
    { ruleId: id, action: 'delete', by: w.principal, at: new Date(w.now).toISOString(), summary: 'deleted' },
    'present',
  );
  await afterWrite(w, id, 'delete', version);
  return json(200, { id, version });
}

async function patchRule(w: Writer, event: HttpApiEvent, id: string): Promise<Result> {
  const { runtime, principal, now } = w;
  await runtime.refreshRules(true);
  const rule = runtime.rules.find((r) => r.id === id);
  if (!rule) return json(404, { error: 'not-found', message: 'no rule in force has this id' });
  const body = parseBody(event);
  if (!body.ok) return body.result;
  const enabled = body.value.enabled;
  if (typeof enabled !== 'boolean' || Object.keys(body.value).length !== 1) {
    return json(400, { error: 'invalid-body', message: 'the body must be exactly { "enabled": true | false }' });
  }
  const override = { ruleId: rule.id, enabled, updatedAt: new Date(now).toISOString(), updatedBy: principal };
  // Audited first: a change that could not be audited is not made (503). The audit entry also moves the store
  // version, so running functions re-read the overrides with it; one that re-reads them before the override below
  // is stored still sees it on its next override refresh (RULE_OVERRIDES_REFRESH_SECONDS), within the minute.
  const action: RuleAction = enabled ? 'enable' : 'disable';
  const version = await writableStore(runtime).write({
    ruleId: rule.id,
    action,
    by: principal,
    at: override.updatedAt,
    summary: enabled ? 'enabled' : 'disabled',
  });
  await runtime.overrides.set(override);
  logger.info('rule override stored', { ruleId: rule.id, enabled, updatedBy: principal });
  metrics.addMetric('RuleOverrides', MetricUnit.Count, 1);
  return json(200, {
    id: rule.id,
    enabled,
    version,
    override: { enabled, updatedAt: override.updatedAt, updatedBy: principal },
    appliesWithinSeconds: Math.max(runtime.config.overridesRefreshSeconds, runtime.config.ruleStoreRefreshSeconds),
  });
}

async function audit(runtime: HandlerRuntime, event: HttpApiEvent): Promise<Result> {
  const q = event.queryStringParameters ?? {};
  const limit = q.limit !== undefined ? Number(q.limit) : undefined;
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
    return json(400, { error: 'limit must be a positive integer' });
  const entries = await writableStore(runtime).audit({
    ...(q.ruleId ? { ruleId: q.ruleId } : {}),
    ...(limit !== undefined ? { limit } : {}),
  });
  return json(200, {
    entries: entries.map((e) => ({
      at: e.at,
      by: e.by,
      ruleId: e.ruleId,
      action: e.action,
      version: e.version,
      summary: e.summary,
    })),
  });
}

/** Route of a request: from the path, so the same handler serves API Gateway routes and `$default`. */
function routeOf(event: HttpApiEvent): { method: string; parts: string[] } {
  const method = event.requestContext.http.method.toUpperCase();
  const parts = (event.rawPath ?? '')
    .split('/')
    .filter((p) => p.length > 0)
    .map(safeDecode);
  return { method, parts };
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

export function createRulesApiHandler(getRuntime: () => HandlerRuntime, now: () => number = Date.now) {
  return middy<HttpApiEvent, Result, Error, Context>()
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
      const { method, parts } = routeOf(event);
      const [root, id, sub, version] = parts;
      const validating = root === 'rules' && id === 'validate' && parts.length === 2 && method === 'POST';
      // Rules apply to every tenant: a token caller needs the admin scope to change them (under JWT API
      // Gateway checks it on the route too; this holds if a route is ever deployed without it).
      if (WRITE_METHODS.has(method) && !validating) {
        const scope = runtime.config.rulesAdminScope;
        if (!hasAdminScope(caller, scope)) {
          logger.warn('request refused', { status: 403, reason: 'missing rules admin scope' });
          metrics.addMetric('RequestsRefused', MetricUnit.Count, 1);
          return json(403, { error: 'forbidden', message: `changing a rule needs the ${scope} scope` });
        }
      }
      const writer: Writer = { runtime, principal: caller.principal, tenant: caller.tenant, now: now() };
      try {
        if (root === 'audit' && parts.length === 1 && method === 'GET') return await audit(runtime, event);
        if (root === 'rules') {
          if (parts.length === 1 && method === 'GET') return await listRules(runtime, caller.tenant, now());
          if (parts.length === 1 && method === 'POST') return await writeSource(writer, event, undefined);
          if (validating) return await validate(runtime, event);
          if (id !== undefined && parts.length === 2) {
            if (method === 'GET') return await getRule(writer, id);
            if (method === 'PUT') return await writeSource(writer, event, id);
            if (method === 'DELETE') return await deleteRule(writer, id);
            if (method === 'PATCH') return await patchRule(writer, event, id);
          }
          if (id !== undefined && sub === 'versions' && version !== undefined && parts.length === 4 && method === 'GET')
            return await getVersion(runtime, id, version);
        }
      } catch (error) {
        if (error instanceof RuleVersionConflictError) return json(409, { error: error.message });
        logger.error('rules API request failed', {
          error: error instanceof Error ? { name: error.name, message: error.message } : 'unknown',
        });
        return json(503, { error: 'unavailable', message: 'the state table could not be reached; retry' });
      }
      return json(404, { error: 'not-found', message: 'see docs/api.md for the routes' });
    });
}

export const handler = createRulesApiHandler(() => sharedRuntime('rules-api'));

if (inLambda()) sharedRuntime('rules-api');
