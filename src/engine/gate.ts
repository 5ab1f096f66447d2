/**
 * The alert gate, between matching and the alert queue: suppression (no second alert for the
 * same rule and group key within a period, by event time) and rate limiting (a rule raising more
 * than N distinct alerts within a period of wall-clock time is throttled for a while, and that
 * fact is itself reported once as an alert of its own kind: the notice is committed with the
 * throttle, in the rate item's outbox, and sent again until it is acknowledged as delivered, so it
 * is raised at least once and exactly once per throttle). Its small state lives in the same
 * store as the correlation state, under key kinds of their own (`suppression`, `rate`), and is
 * updated through the state repository's read–modify–write, so that concurrent workers agree.
 * Only alerts reach the gate, so events that raise none cost no store call here.
 */
import type { Rule } from '../rules/model.js';
import { StateCorruptError } from '../state/errors.js';
import type { StateKey, StateStore } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import { deterministicUuid, type Alert } from './alert.js';
import type { StateCodec } from './rule-kind.js';
import { StateRepository, stateKeyOf, type StateKind } from './state-repository.js';

/** The gate's items are small JSON documents, stored as they have always been (format 1, unnumbered). */
function jsonCodec<T>(what: string): StateCodec<T> {
  return {
    format: 1,
    empty: () => {
      throw new Error(`a ${what} item is never created empty`);
    },
    encode: (state) => JSON.stringify(state),
    decode: (text) => {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new StateCorruptError(`a stored ${what} item is not valid JSON`);
      }
    },
  };
}

interface SuppressState {
  /** event time (ms) until which further alerts of this group are suppressed */
  until: number;
  /** the alert that opened the window: a re-send of it is not a second alert */
  alertId: string;
}

/** A throttle notice committed with its throttle and not yet confirmed delivered. */
interface PendingNotice {
  notice: Alert;
  /** the alert whose arrival started the throttle */
  triggerId: string;
}

interface RateState {
  /** wall-clock ms of the distinct alerts admitted within the period */
  recent: [string, number][];
  /** wall-clock ms until which the rule is throttled */
  throttledUntil: number;
  /** id of the throttle notice for the current throttle, so it is raised once */
  noticeId?: string;
  /** the alert that started the current throttle: a re-send of it stays throttled */
  triggerId?: string;
  /** notices not yet acknowledged: sent again whenever the item is touched (an outbox) */
  outbox?: PendingNotice[];
}

interface Decisions {
  pass: Alert[];
  /** re-sends among `pass`, `throttled` and `notices` */
  resent: Alert[];
  suppressed: Alert[];
  throttled: Alert[];
  notices: Alert[];
  /** (throttled alert id, its throttle notice id) for the triggers among `throttled` */
  noticeOf: [string, string][];
}

function noDecisions(): Decisions {
  return { pass: [], resent: [], suppressed: [], throttled: [], notices: [], noticeOf: [] };
}

export interface GateResult {
  /** Alerts to send: new ones that passed, and re-sends (listed in `resent` too). */
  admitted: Alert[];
  /**
   * Alerts decided before (same id): re-sends after a failed delivery or a redelivered input.
   * Admitted ones are sent again, a throttle's trigger is throttled again, pending notices go out
   * again; none of them is a new decision, so none is counted.
   */
  resent: Alert[];
  suppressed: Alert[];
  throttled: Alert[];
  /**
   * Alerts of kind `rate-limited`, one per throttle episode: new ones, and earlier ones not yet
   * acknowledged (`acknowledgeNotices`), which are sent again until they are.
   */
  notices: Alert[];
  /**
   * Throttled alerts that started a throttle, with the id of its notice (among `notices`): such an
   * alert must stay unsettled (in its outbox or ledger) until the notice is delivered, so that
   * the retry of its input comes back here and sends the notice again.
   */
  noticeOf: Map<string, string>;
}

const suppressionCodec = jsonCodec<SuppressState>('suppression');
const rateCodec = jsonCodec<RateState>('rate');

export class AlertGate {
  private readonly rules: Map<string, Rule>;
  private readonly repository: StateRepository;

  constructor(
    rules: Rule[],
    store: StateStore | StateRepository,
    private readonly now: () => number = Date.now,
  ) {
    this.rules = new Map(rules.map((r) => [r.id, r]));
    this.repository = store instanceof StateRepository ? store : new StateRepository(store);
  }

  /**
   * `redelivered`: ids of alerts the engine committed in an earlier batch and sends again
   * (their delivery failed or was not confirmed). They passed the gate when first raised, or
   * never reached it (a crash in between); either way they go out again ungated, as an extra
   * alert beats a lost one.
   */
  async admit(alerts: Alert[], redelivered: ReadonlySet<string> = new Set()): Promise<GateResult> {
    const result: GateResult = {
      admitted: [],
      resent: [],
      suppressed: [],
      throttled: [],
      notices: [],
      noticeOf: new Map(),
    };
    const gated: Alert[] = [];
    // Re-sends of rate-limited rules still meet the rate item: the alert that started a throttle
    // stays throttled, and the throttle's notice, if not yet delivered, goes out again.
    const resends: Alert[] = [];
    for (const alert of alerts) {
      const rule = this.rules.get(alert.ruleId);
      if (redelivered.has(alert.id)) {
        if (rule?.rateLimit) resends.push(alert);
        else {
          result.admitted.push(alert);
          result.resent.push(alert);
        }
      } else if (rule && (rule.suppressSeconds !== undefined || rule.rateLimit)) gated.push(alert);
      else result.admitted.push(alert);
    }
    if (gated.length === 0 && resends.length === 0) return result;

    // Suppression first (per group), then rate limiting (per rule) on what survives.
    const afterSuppression: Alert[] = [];
    const bySuppressKey = groupBy(
      gated.filter((a) => this.rules.get(a.ruleId)?.suppressSeconds !== undefined),
      (a) => stateKeyOf('suppression', a.tenant, a.ruleId, a.groupKey),
    );
    afterSuppression.push(...gated.filter((a) => this.rules.get(a.ruleId)?.suppressSeconds === undefined));
    await this.update<SuppressState>(
      suppressionCodec,
      bySuppressKey,
      (alerts, state) => {
        const rule = this.rules.get(alerts[0]!.ruleId) as Rule;
        const decided = noDecisions();
        let current = state;
        const ordered = [...alerts].sort(
          (a, b) => Date.parse(a.lastObserved) - Date.parse(b.lastObserved) || a.id.localeCompare(b.id),
        );
        for (const alert of ordered) {
          const at = Date.parse(alert.lastObserved);
          if (current && (alert.id === current.alertId || at < current.until)) {
            if (alert.id === current.alertId) {
              decided.pass.push(alert);
              decided.resent.push(alert);
            } else decided.suppressed.push(alert);
            continue;
          }
          current = { until: at + (rule.suppressSeconds as number) * 1000, alertId: alert.id };
          decided.pass.push(alert);
        }
        return {
          state: current,
          expiresAt: Math.ceil((this.now() + (rule.suppressSeconds as number) * 1000) / 1000) + 86_400,
          decided,
        };
      },
      (decided) => {
        afterSuppression.push(...decided.pass);
        result.resent.push(...decided.resent);
        result.suppressed.push(...decided.suppressed);
      },
    );

    const limited = [...afterSuppression.filter((a) => this.rules.get(a.ruleId)?.rateLimit), ...resends];
    const isResend = new Set([...result.resent, ...resends]);
    result.admitted.push(...afterSuppression.filter((a) => !this.rules.get(a.ruleId)?.rateLimit));
    const byRateKey = groupBy(limited, (a) => rateKey(a.tenant, a.ruleId));
    await this.update<RateState>(
      rateCodec,
      byRateKey,
      (alerts, state) => {
        const rule = this.rules.get(alerts[0]!.ruleId) as Rule;
        const limit = rule.rateLimit as NonNullable<Rule['rateLimit']>;
        const decided = noDecisions();
        const now = this.now();
        const current: RateState = state
          ? {
              ...state,
              recent: state.recent.filter(([, t]) => t > now - limit.periodSeconds * 1000),
              outbox: [...(state.outbox ?? [])],
            }
          : { recent: [], throttledUntil: 0, outbox: [] };
        const outbox = current.outbox as PendingNotice[];
        // Notices committed earlier and not acknowledged: sent again (the same ids).
        for (const pending of outbox) {
          decided.notices.push(pending.notice);
          decided.resent.push(pending.notice);
          decided.noticeOf.push([pending.triggerId, pending.notice.id]);
        }
        for (const alert of alerts) {
          const listed = result.resent.includes(alert);
          if (alert.id === current.triggerId || outbox.some((p) => p.triggerId === alert.id)) {
            // The alert that started a throttle, again: throttled when first decided, so it still is.
            decided.throttled.push(alert);
            if (!listed) decided.resent.push(alert);
            continue;
          }
          if (isResend.has(alert) || current.recent.some(([id]) => id === alert.id)) {
            // A re-send of an admitted alert: it was counted against the limit when it passed.
            // One this item does not know (it was never gated, or the period is over) goes out
            // ungated too: an extra alert beats a lost one.
            decided.pass.push(alert);
            if (!listed) decided.resent.push(alert);
            continue;
          }
          if (now < current.throttledUntil) {
            decided.throttled.push(alert);
            continue;
          }
          if (current.recent.length >= limit.maxAlerts) {
            current.throttledUntil = now + limit.throttleSeconds * 1000;
            current.noticeId = `alert--${deterministicUuid(['stixflow-rate-limited', alert.tenant, rule.id, String(current.throttledUntil)])}`;
            current.triggerId = alert.id;
            const notice = rateLimitedNotice(rule, alert, current.noticeId, now, current.throttledUntil);
            // Committed with the throttle: if its send fails, the retry finds it here.
            outbox.push({ notice, triggerId: alert.id });
            decided.notices.push(notice);
            decided.noticeOf.push([alert.id, notice.id]);
            decided.throttled.push(alert);
            continue;
          }
          current.recent.push([alert.id, now]);
          decided.pass.push(alert);
        }
        if (outbox.length === 0) delete current.outbox;
        // A pending notice keeps the item for at least a day, so a stuck delivery is not forgotten.
        const keepUntil = Math.max(
          current.throttledUntil,
          now + limit.periodSeconds * 1000,
          outbox.length > 0 ? now + 86_400_000 : 0,
        );
        return { state: current, expiresAt: Math.ceil(keepUntil / 1000) + 60, decided };
      },
      (decided) => {
        result.admitted.push(...decided.pass);
        result.resent.push(...decided.resent);
        result.throttled.push(...decided.throttled);
        result.notices.push(...decided.notices);
        for (const [alertId, noticeId] of decided.noticeOf) result.noticeOf.set(alertId, noticeId);
      },
    );
    return result;
  }

  /**
   * Removes delivered throttle notices from their rate items' outboxes. A failure here only
   * means a notice is sent again (same id) the next time its rule is gated.
   */
  async acknowledgeNotices(notices: Alert[]): Promise<void> {
    const byKey = new Map<string, { key: StateKey; ids: Set<string> }>();
    for (const notice of notices) {
      const key = rateKey(notice.tenant, notice.ruleId);
      const id = stateKeyId(key);
      const entry = byKey.get(id) ?? { key, ids: new Set<string>() };
      entry.ids.add(notice.id);
      byKey.set(id, entry);
    }
    const entries = [...byKey.values()].map((e) => ({ ...e, codec: rateCodec }));
    await this.repository.acknowledge(
      entries,
      (_index, state, ids) => {
        const outbox = state.outbox ?? [];
        const kept = outbox.filter((p) => !ids.has(p.notice.id));
        if (kept.length === outbox.length) return false;
        if (kept.length === 0) delete state.outbox;
        else state.outbox = kept;
        return true;
      },
      (_index, current) => current.expiresAt,
    );
  }

  /**
   * Read-modify-conditional-write of gate items, retried on conflict; decisions take effect
   * (commit) only once their write succeeded, so a retry never counts an alert twice.
   */
  private async update<T>(
    codec: StateCodec<T>,
    groups: Map<string, { key: StateKey; alerts: Alert[] }>,
    apply: (alerts: Alert[], state: T | undefined) => { state: T | undefined; expiresAt: number; decided: Decisions },
    commit: (decided: Decisions) => void,
  ): Promise<void> {
    const entries = [...groups.values()];
    const report = await this.repository.update<T, Decisions>(
      entries.map((e) => ({ key: e.key, codec })),
      (index, current) => {
        // Results are only final once the write commits: an attempt that conflicts is dropped.
        const next = apply((entries[index] as { alerts: Alert[] }).alerts, current?.state);
        if (next.state === undefined) return { write: false, result: next.decided };
        return {
          write: true,
          state: next.state,
          expiresAt: next.expiresAt,
          settle: (outcome) =>
            outcome === 'written'
              ? next.decided
              : // too-large cannot happen for these small items; if it did, fail open (send the alerts)
                {
                  ...next.decided,
                  pass: [...next.decided.pass, ...next.decided.suppressed, ...next.decided.throttled],
                  suppressed: [],
                  throttled: [],
                  noticeOf: [],
                },
        };
      },
    );
    report.outcomes.forEach((outcome, index) => {
      if (outcome.status === 'done') commit(outcome.result);
      // A store failure fails the call, as it always has: the input is retried.
      else if (outcome.status === 'failed') throw outcome.error;
      // Still conflicting after every retry: fail open, an extra alert beats a lost one.
      else commit({ ...noDecisions(), pass: (entries[index] as { alerts: Alert[] }).alerts });
    });
  }
}

function rateKey(tenant: string, ruleId: string): StateKey {
  return stateKeyOf('rate' satisfies StateKind, tenant, ruleId);
}

function groupBy(alerts: Alert[], keyOf: (a: Alert) => StateKey): Map<string, { key: StateKey; alerts: Alert[] }> {
  const out = new Map<string, { key: StateKey; alerts: Alert[] }>();
  for (const alert of alerts) {
    const key = keyOf(alert);
    const id = stateKeyId(key);
    const entry = out.get(id) ?? { key, alerts: [] };
    entry.alerts.push(alert);
    out.set(id, entry);
  }
  return out;
}

function rateLimitedNotice(rule: Rule, trigger: Alert, id: string, now: number, until: number): Alert {
  return {
    id,
    ruleId: rule.id,
    ruleName: rule.name,
    severity: 'high',
    description: `rule ${rule.id} raised more than ${rule.rateLimit?.maxAlerts} distinct alerts within ${rule.rateLimit?.periodSeconds} s and is throttled until ${new Date(until).toISOString()}; its alerts in that time are counted, not sent`,
    category: 'rate-limited',
    tags: ['stixflow:rate-limited'],
    tenant: trigger.tenant,
    groupKey: '',
    firstObserved: trigger.firstObserved,
    lastObserved: trigger.lastObserved,
    observedDataIds: [],
    sourceEventIds: [],
    objects: [],
    created: new Date(now).toISOString(),
  };
}
