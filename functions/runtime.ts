/**
 * Per-container setup shared by the Lambda handlers: configuration from the environment
 * (validated at init), the rules shipped with the bundle (loaded and compiled once), the AWS
 * clients, the stores and the Detector. Handlers stay thin: they adapt their event to
 * `HandlerRuntime.ingestText` and its outcome to their response.
 *
 * Logging: counts, codes, tenants, message and request ids. Never event bodies, alert contents
 * or credentials.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Diagnostic } from '../src/errors.js';
import { BUILT_IN_MAPPING_FILES, setBuiltInMappingTexts } from '../src/normalise/index.js';
import { setMappingSchemaText } from '../src/normalise/loader.js';
import { Detector, type ProcessResult } from '../src/pipeline/detector.js';
import { SqsMessageSink } from '../src/queue/sqs-sink.js';
import type { MessageSink } from '../src/queue/types.js';
import type { IndicatorSet } from '../src/rules/indicators.js';
import type { Rule } from '../src/rules/model.js';
import {
  AggregatingCounterStore,
  DynamoDbCounterStore,
  type CounterDeltas,
  type CounterStore,
  type CounterValues,
} from '../src/state/counters.js';
import { DynamoDbStateStore } from '../src/state/dynamodb-store.js';
import type { StateStore } from '../src/state/types.js';
import { countByCode, parseEvents, type ErrorReport, type LateReport, type Rejection } from './body.js';
import { ConfigError, readConfig, type FunctionRole, type RuntimeConfig } from './config.js';
import { DynamoDbRuleOverrideStore, type RuleOverride, type RuleOverrideStore } from '../src/state/rule-overrides.js';
import { DynamoDbRuleStore, type StoredRule } from '../src/state/rule-store.js';
import type { DynamoDbAlertStore } from '../src/state/alert-store.js';
import { isStoreFile, RuleLayers, type LayeredRules } from './rule-layers.js';

/** One logger and one metrics object per container, as the Powertools middlewares expect. */
export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'stixflow' });
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Stixflow',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'stixflow',
});

export interface RuntimeDeps {
  dynamo?: DynamoDBClient;
  sqs?: SQSClient;
  store?: StateStore;
  counters?: CounterStore;
  sink?: MessageSink;
  overrides?: RuleOverrideStore;
  /** The alert store (#17); by default the ALERT_TABLE_NAME table, when there is one. */
  alerts?: DynamoDbAlertStore;
  /** The runtime rule store (#17); by default in the state table. */
  ruleStore?: RuleStoreReader;
  now?: () => number;
  logger?: Logger;
}

export interface IngestOutcome {
  /** Events in the input, good and bad. */
  total: number;
  accepted: number;
  /** Every event not accepted: not JSON, or refused by the normaliser; by input index. */
  rejections: Rejection[];
  /** Events too late for a rule's correlation window (counted, not correlated); by input index. */
  late: LateReport[];
  /** Events a rule could not be evaluated on or whose state update failed; by input index. */
  errors: ErrorReport[];
  /** Ids of the alerts the alert queue took. */
  alertIds: string[];
  /** Alerts the alert queue did not take: the input must be retried (the outbox re-sends them). */
  undelivered: { id: string; reason: string }[];
  /** Errors after which a retry of the same input can succeed (concurrent state updates). */
  retryable: Diagnostic[];
  /** The pipeline result, when any event reached it. */
  result: ProcessResult | undefined;
}

/** What a running function reads of the rule store: its change counter, and its rules when that moved. */
export interface RuleStoreReader {
  storeVersion(): Promise<number>;
  list(): Promise<StoredRule[]>;
}

/** Counters are health signals: a failed increment is logged and counted, never fails detection. */
class TolerantCounterStore implements CounterStore {
  constructor(
    private readonly inner: CounterStore,
    private readonly log: Logger,
  ) {}

  async increment(tenant: string, ruleId: string, day: string, deltas: CounterDeltas): Promise<void> {
    try {
      await this.inner.increment(tenant, ruleId, day, deltas);
    } catch (error) {
      this.log.warn('rule counter update failed', {
        ruleId,
        day,
        error: error instanceof Error ? error.name : 'unknown',
      });
      metrics.addMetric('CounterWriteFailures', MetricUnit.Count, 1);
    }
  }

  read(tenant: string, ruleIds: string[], days: string[]): Promise<Map<string, Map<string, CounterValues>>> {
    return this.inner.read(tenant, ruleIds, days);
  }
}

/** The mapping JSON Schema's file name inside MAPPINGS_DIR (schemas/mapping.schema.json in the repository). */
export const MAPPING_SCHEMA_FILE = 'mapping.schema.json';

/**
 * Reads the built-in mappings and the mapping schema from a directory shipped with the bundle:
 * bundled code has no `mappings/` or `schemas/` beside it for the normaliser to find.
 */
function useMappingsFrom(dir: string): void {
  try {
    setMappingSchemaText(readFileSync(join(dir, MAPPING_SCHEMA_FILE), 'utf8'));
  } catch (error) {
    throw new ConfigError([`MAPPINGS_DIR ${dir} has no readable ${MAPPING_SCHEMA_FILE}`], { cause: error });
  }
  const texts = {} as Record<(typeof BUILT_IN_MAPPING_FILES)[number], string>;
  for (const file of BUILT_IN_MAPPING_FILES) {
    try {
      texts[file] = readFileSync(join(dir, file), 'utf8');
    } catch (error) {
      throw new ConfigError([`MAPPINGS_DIR ${dir} has no readable ${file}`], { cause: error });
    }
  }
  setBuiltInMappingTexts(texts);
}

export class HandlerRuntime {
  readonly config: RuntimeConfig;
  /** The bundle (read once) and the store layer on top of it. */
  readonly layers: RuleLayers;
  readonly counters: CounterStore;
  private readonly aggregatedCounters: AggregatingCounterStore;
  readonly overrides: RuleOverrideStore;
  readonly ruleStore: RuleStoreReader;
  /** An alert store given by the caller (tests); the alerts API builds its own from `dynamo` otherwise. */
  readonly alerts: DynamoDbAlertStore | undefined;
  /** The DynamoDB client of this runtime's stores, for a handler that adds a store of its own. */
  readonly dynamo: DynamoDBClient | undefined;
  readonly log: Logger;
  private readonly store: StateStore | undefined;
  private readonly sink: MessageSink | undefined;
  private readonly now: () => number;
  private current: { detector: Detector; signature: string } | undefined;
  private overrideState = new Map<string, RuleOverride>();
  private lastRefresh = Number.NEGATIVE_INFINITY;
  private refreshing: Promise<void> | undefined;
  private layered: LayeredRules;
  /** The store version the rules were last built from; -1 before the first read. */
  private loadedStoreVersion = -1;
  private lastStoreCheck = Number.NEGATIVE_INFINITY;
  private storeRefreshing: Promise<void> | undefined;

  constructor(config: RuntimeConfig, deps: RuntimeDeps = {}) {
    this.config = config;
    this.log = deps.logger ?? logger;
    this.now = deps.now ?? Date.now;
    if (config.mappingsDir) useMappingsFrom(config.mappingsDir);

    this.layers = new RuleLayers(config.rulesDir);
    const missing = this.layers.bundleReadDiagnostics.filter((d) => d.code === 'rule-file-missing');
    if (missing.length > 0) throw new ConfigError([`RULES_DIR ${config.rulesDir} does not exist`]);
    this.layered = this.layers.load([], this.now());
    const errors = this.layered.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0) {
      // The CDK construct refuses to synthesise invalid rules, so this means a hand-made deployment.
      this.log.error('invalid rules skipped', {
        count: errors.length,
        rules: errors.map((d) => ({ ruleId: d.ruleId, code: d.code, file: d.file, line: d.line })),
      });
    }
    if (this.rules.length === 0 && this.indicators.size === 0)
      this.log.warn('no rules loaded', { rulesDir: config.rulesDir });

    const dynamo =
      deps.dynamo ??
      (deps.store && deps.counters && deps.overrides && deps.ruleStore ? undefined : new DynamoDBClient({}));
    const table = { client: dynamo as DynamoDBClient, tableName: config.tableName };
    this.store = deps.store ?? (config.role === 'ingest' ? new DynamoDbStateStore(table) : undefined);
    // Counters are aggregated per container-minute: one write per (tenant, rule, day) a minute, not one per batch.
    this.aggregatedCounters = new AggregatingCounterStore(deps.counters ?? new DynamoDbCounterStore(table), {
      now: this.now,
    });
    this.counters = new TolerantCounterStore(this.aggregatedCounters, this.log);
    this.overrides = deps.overrides ?? new DynamoDbRuleOverrideStore(table);
    this.ruleStore = deps.ruleStore ?? new DynamoDbRuleStore(table);
    // Only the alerts API keeps alerts: the store is built there, so the other bundles stay small.
    this.alerts = deps.alerts;
    this.dynamo = dynamo;
    if (config.role === 'ingest') {
      this.sink =
        deps.sink ??
        new SqsMessageSink({ client: deps.sqs ?? new SQSClient({}), queueUrl: config.alertQueueUrl as string });
    }
  }

  /** Rules in force: the bundle's (their own `enabled` flags) with the store's on top, compiled. */
  get rules(): Rule[] {
    return this.layered.rules;
  }

  /** Single-observation STIX indicators from the bundles in RULES_DIR, matched beside the rules. */
  get indicators(): IndicatorSet {
    return this.layered.indicators;
  }

  /** The bundle files those indicators came from, with how many each. */
  get indicatorSources(): { file: string; indicators: number }[] {
    return this.layered.indicatorSources;
  }

  get ruleDiagnostics(): Diagnostic[] {
    return this.layered.diagnostics;
  }

  /** Whether a rule comes from the bundle or the store. */
  originOf(ruleId: string): 'bundle' | 'store' {
    const loaded = this.layered.origins.get(ruleId);
    if (loaded) return loaded;
    // A rule that did not compile has no origin entry: its diagnostics say which layer it is in.
    return this.layered.diagnostics.some((d) => d.ruleId === ruleId && isStoreFile(d.file)) ? 'store' : 'bundle';
  }

  /**
   * Re-reads the store version when the last check is older than RULE_STORE_REFRESH_SECONDS (or
   * when forced), and only when it moved the store's rules, rebuilding the rules and re-reading
   * the overrides (a PATCH moves the version too). A failed read keeps the rules in force.
   */
  async refreshRules(force = false): Promise<void> {
    const due = this.now() - this.lastStoreCheck >= this.config.ruleStoreRefreshSeconds * 1000;
    if (!force && !due) return;
    this.storeRefreshing ??= (async () => {
      this.lastStoreCheck = this.now();
      try {
        const version = await this.ruleStore.storeVersion();
        if (version === this.loadedStoreVersion) return;
        const stored = version === 0 ? [] : await this.ruleStore.list();
        this.layered = this.layers.load(stored, this.now());
        if (this.loadedStoreVersion !== -1 || version !== 0) await this.refreshOverrides(true);
        this.loadedStoreVersion = version;
      } catch (error) {
        this.log.warn('rule store could not be read; keeping the rules in force', {
          error: error instanceof Error ? error.name : 'unknown',
        });
      } finally {
        this.storeRefreshing = undefined;
      }
    })();
    await this.storeRefreshing;
  }

  /** Writes the rule-health counts still aggregated in memory (a failure is logged: they stay pending). */
  async flushCounters(): Promise<void> {
    try {
      await this.aggregatedCounters.flush();
    } catch (error) {
      this.log.warn('rule counter update failed', { error: error instanceof Error ? error.name : 'unknown' });
    }
  }

  /** Overrides as last read, by rule id. */
  get ruleOverrides(): ReadonlyMap<string, RuleOverride> {
    return this.overrideState;
  }

  /** Whether a rule runs: its override when there is one, else its own flag. */
  isEnabled(rule: Rule): boolean {
    return this.overrideState.get(rule.id)?.enabled ?? rule.enabled;
  }

  /**
   * Re-reads the overrides when the last read is older than the refresh interval (or when
   * forced). A failed read keeps the previous overrides: detection must not stop because the
   * override partition could not be read.
   */
  async refreshOverrides(force = false): Promise<void> {
    const due = this.now() - this.lastRefresh >= this.config.overridesRefreshSeconds * 1000;
    if (!force && !due) return;
    this.refreshing ??= (async () => {
      try {
        this.overrideState = await this.overrides.list();
        this.lastRefresh = this.now();
      } catch (error) {
        // Retry on the next call rather than hammering: count this attempt as a refresh.
        this.lastRefresh = this.now();
        this.log.warn('rule overrides could not be read; keeping the previous ones', {
          error: error instanceof Error ? error.name : 'unknown',
        });
      } finally {
        this.refreshing = undefined;
      }
    })();
    await this.refreshing;
  }

  /** The Detector for the current overrides, rebuilt only when the set of enabled rules changes. */
  async detector(): Promise<Detector> {
    if (!this.store || !this.sink) throw new ConfigError(['the rules API runtime does not run the detector']);
    await this.refreshRules();
    await this.refreshOverrides();
    const rules = this.rules.map((rule) => {
      const enabled = this.isEnabled(rule);
      return enabled === rule.enabled ? rule : { ...rule, enabled };
    });
    // The rule list itself changes with the store: its identity is part of the signature.
    const signature = `${this.generationOf(this.layered)}:${rules.map((r) => (r.enabled ? '1' : '0')).join('')}`;
    if (this.current?.signature !== signature) {
      this.current = {
        signature,
        detector: new Detector({
          rules,
          indicators: this.indicators,
          store: this.store,
          sink: this.sink,
          counters: this.counters,
          now: this.now,
          engine: {
            ...(this.config.latenessSeconds !== undefined ? { latenessSeconds: this.config.latenessSeconds } : {}),
            ...(this.config.maxPartialsPerGroup !== undefined
              ? { maxPartialsPerGroup: this.config.maxPartialsPerGroup }
              : {}),
          },
        }),
      };
    }
    return this.current.detector;
  }

  private readonly generations = new WeakMap<LayeredRules, number>();
  private nextGeneration = 0;
  private generationOf(layered: LayeredRules): number {
    let generation = this.generations.get(layered);
    if (generation === undefined) {
      generation = this.nextGeneration++;
      this.generations.set(layered, generation);
    }
    return generation;
  }

  /**
   * Runs parsed events for one tenant through the pipeline: `Detector.process`, the tenant path
   * every shell shares. The normaliser records the caller's tenant on every observed-data, which
   * also overwrites any `x_tenant` a STIX event carries, so a sender cannot write into another
   * tenant's state.
   */
  async ingest(rawEvents: readonly unknown[], tenant: string, source?: string): Promise<ProcessResult> {
    const detector = await this.detector();
    return detector.process(rawEvents, tenant, source);
  }

  /**
   * Parses a payload (JSON event, JSON array or NDJSON) and ingests its events for the tenant; `source`, when
   * given, names the mapping of every event instead of detection.
   */
  async ingestText(text: string, tenant: string, source?: string): Promise<IngestOutcome> {
    return (await this.ingestTexts([text], tenant, source))[0] as IngestOutcome;
  }

  /**
   * Several payloads of one tenant and source as one pipeline batch (one state read and write per
   * touched group for all of them), with one outcome per payload: its rejections, late events and
   * errors by its own indices (the batch's alert ids are listed with the first). What concerns the whole batch
   * (alerts not delivered, errors a retry can cure: a state conflict fails every event of its group,
   * whichever payloads they came in) is in every outcome: the caller retries the payloads alone.
   * `accepted` of a payload counts its events with no refused observed-data when there are several.
   */
  async ingestTexts(texts: readonly string[], tenant: string, source?: string): Promise<IngestOutcome[]> {
    const parsed = texts.map(parseEvents);
    // Event k of the batch is event `at[k].index` of payload `at[k].text`.
    const at: { text: number; index: number }[] = [];
    parsed.forEach((p, text) => {
      for (const e of p.events) at.push({ text, index: e.index });
    });
    const outcomes: IngestOutcome[] = parsed.map((p) => ({
      total: p.total,
      accepted: 0,
      rejections: [...p.rejections],
      late: [],
      errors: [],
      alertIds: [],
      undelivered: [],
      retryable: [],
      result: undefined,
    }));
    if (at.length === 0) return outcomes;
    const result = await this.ingest(
      parsed.flatMap((p) => p.events.map((e) => e.value)),
      tenant,
      source,
    );
    const place = (eventIndex: number | undefined): { outcome: IngestOutcome; index: number } => {
      const where = eventIndex !== undefined ? at[eventIndex] : undefined;
      // The pipeline indexes the parsed events; the sender counts the events of its body.
      return { outcome: outcomes[where?.text ?? 0] as IngestOutcome, index: where?.index ?? -1 };
    };
    const refused = new Set<number>();
    for (const d of result.rejected) {
      const { outcome, index } = place(d.eventIndex);
      outcome.rejections.push({ index, code: d.code, reason: d.message });
      if (d.eventIndex !== undefined) refused.add(d.eventIndex);
    }
    for (const l of result.late) {
      const { outcome, index } = place(l.eventIndex);
      outcome.late.push({ index, ruleId: l.ruleId, groupKey: l.groupKey, lagSeconds: l.lagSeconds });
    }
    for (const e of result.errors) {
      const { outcome, index } = place(e.eventIndex);
      outcome.errors.push({ index, ruleId: e.ruleId, code: e.code });
    }
    // An alert is completed by events the pipeline has normalised (their observed-data ids are its
    // own): the batch's alerts are listed once, with the first payload, so that totals add up.
    (outcomes[0] as IngestOutcome).alertIds.push(...result.alerts.map((a) => a.id));
    const retryable = result.errors.filter((e) => e.retryable === true);
    outcomes.forEach((outcome, text) => {
      outcome.rejections.sort((a, b) => a.index - b.index);
      outcome.accepted =
        texts.length === 1 ? result.accepted : at.filter((where, k) => where.text === text && !refused.has(k)).length;
      // The engine marks what a retry can cure (contention, a store that failed or throttled).
      outcome.undelivered = result.undelivered;
      outcome.retryable = retryable;
      outcome.result = result;
    });
    return outcomes;
  }
}

/** EMF metrics of one ingest call; the logMetrics middleware publishes them at the end of the invocation. */
export function addIngestMetrics(outcome: IngestOutcome): void {
  const r = outcome.result;
  metrics.addMetric('EventsAccepted', MetricUnit.Count, outcome.accepted);
  metrics.addMetric('EventsRejected', MetricUnit.Count, outcome.rejections.length);
  metrics.addMetric('Alerts', MetricUnit.Count, outcome.alertIds.length);
  metrics.addMetric('AlertsUndelivered', MetricUnit.Count, outcome.undelivered.length);
  metrics.addMetric('Suppressed', MetricUnit.Count, r?.suppressed ?? 0);
  metrics.addMetric('Throttled', MetricUnit.Count, r?.throttled ?? 0);
  metrics.addMetric('Filtered', MetricUnit.Count, r?.filtered ?? 0);
  metrics.addMetric('LateEvents', MetricUnit.Count, r?.late.length ?? 0);
  metrics.addMetric('PipelineErrors', MetricUnit.Count, r?.errors.length ?? 0);
  metrics.addMetric('ValuesCut', MetricUnit.Count, r?.valuesCut ?? 0);
}

/** Codes and counts of a rejection list, for logs (never the reasons: they may quote the payload). */
export function rejectionSummary(rejections: Rejection[]): Record<string, number> {
  return countByCode(rejections);
}

// ---------------------------------------------------------------- the per-container runtime

let sharedOptions: { env?: Record<string, string | undefined>; deps?: RuntimeDeps } = {};
const shared = new Map<FunctionRole, HandlerRuntime>();

/**
 * The container's runtime for a function role, built on first use from the environment (or
 * from `configureSharedRuntime`). Lambda handlers build it during init, so a bad configuration
 * fails the init with a ConfigError naming every problem.
 */
export function sharedRuntime(role: FunctionRole): HandlerRuntime {
  let runtime = shared.get(role);
  if (!runtime) {
    runtime = new HandlerRuntime(readConfig(sharedOptions.env ?? process.env, role), sharedOptions.deps);
    shared.set(role, runtime);
  }
  return runtime;
}

/**
 * Replaces the configuration source and injected clients of the shared runtimes and drops the
 * ones built so far. The local stack uses it to point the very same handlers at the emulators.
 */
export function configureSharedRuntime(
  options: { env?: Record<string, string | undefined>; deps?: RuntimeDeps } = {},
): Promise<void> {
  sharedOptions = options;
  const dropped = [...shared.values()];
  shared.clear();
  // The counts the dropped runtimes still aggregate are written (the local stack awaits this when it stops).
  return Promise.all(dropped.map((runtime) => runtime.flushCounters())).then(() => undefined);
}

/** True inside a Lambda execution environment. */
export function inLambda(): boolean {
  return process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined && process.env.AWS_LAMBDA_FUNCTION_NAME !== '';
}
