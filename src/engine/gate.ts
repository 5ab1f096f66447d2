/**
 * The alert gate, between matching and the alert queue: suppression (no second alert for the
 * same rule and group key within a period, by event time) and rate limiting (a rule raising more
 * than N distinct alerts within a period of wall-clock time is throttled for a while, and that
 * fact is itself reported once as an alert of its own kind). Its small state lives in the same
 * store as the correlation state, under keys that cannot collide with correlation groups
 * (those are '' or JSON arrays), with conditional writes so that concurrent workers agree.
 * Only alerts reach the gate, so events that raise none cost no store call here.
 */
import type { Rule } from '../rules/model.js';
import type { StateKey, StateStore } from '../state/types.js';
import { stateKeyId } from '../state/types.js';
import { deterministicUuid, type Alert } from './alert.js';

interface SuppressState {
  /** event time (ms) until which further alerts of this group are suppressed */
  until: number;
  /** the alert that opened the window: a re-send of it is not a second alert */
  alertId: string;
}

interface RateState {
  /** wall-clock ms of the distinct alerts admitted within the period */
  recent: [string, number][];
  /** wall-clock ms until which the rule is throttled */
  throttledUntil: number;
  /** id of the throttle notice for the current throttle, so it is raised once */
  noticeId?: string;
}

interface Decisions {
  pass: Alert[];
  /** re-sends among `pass` */
  resent: Alert[];
  suppressed: Alert[];
  throttled: Alert[];
  notices: Alert[];
}

export interface GateResult {
  /** Alerts to send: new ones that passed, and re-sends (listed in `resent` too). */
  admitted: Alert[];
  /**
   * Admitted alerts that were admitted before (same id): re-sends after a failed delivery or a
   * redelivered input. They are sent again but are not new alerts, so they are not counted.
   */
  resent: Alert[];
  suppressed: Alert[];
  throttled: Alert[];
  /** Alerts of kind `rate-limited`, one per throttle episode. */
  notices: Alert[];
}

export class AlertGate {
  private readonly rules: Map<string, Rule>;

  constructor(
    rules: Rule[],
    private readonly store: StateStore,
    private readonly now: () => number = Date.now,
  ) {
    this.rules = new Map(rules.map((r) => [r.id, r]));
  }

  /**
   * `redelivered`: ids of alerts the engine committed in an earlier batch and sends again
   * (their delivery failed or was not confirmed). They passed the gate when first raised, or
   * never reached it (a crash in between); either way they go out again ungated, as an extra
   * alert beats a lost one.
   */
  async admit(alerts: Alert[], redelivered: ReadonlySet<string> = new Set()): Promise<GateResult> {
    const result: GateResult = { admitted: [], resent: [], suppressed: [], throttled: [], notices: [] };
    const gated: Alert[] = [];
    for (const alert of alerts) {
      const rule = this.rules.get(alert.ruleId);
      if (redelivered.has(alert.id)) {
        result.admitted.push(alert);
        result.resent.push(alert);
      } else if (rule && (rule.suppressSeconds !== undefined || rule.rateLimit)) gated.push(alert);
      else result.admitted.push(alert);
    }
    if (gated.length === 0) return result;

    // Suppression first (per group), then rate limiting (per rule) on what survives.
    const afterSuppression: Alert[] = [];
    const bySuppressKey = groupBy(gated.filter((a) => this.rules.get(a.ruleId)?.suppressSeconds !== undefined), (a) => ({ tenant: a.tenant, ruleId: a.ruleId, group: `#suppress ${a.groupKey}` }));
    afterSuppression.push(...gated.filter((a) => this.rules.get(a.ruleId)?.suppressSeconds === undefined));
    await this.update<SuppressState>(bySuppressKey, (alerts, state) => {
      const rule = this.rules.get(alerts[0]!.ruleId) as Rule;
      const decided: Decisions = { pass: [], resent: [], suppressed: [], throttled: [], notices: [] };
      let current = state;
      const ordered = [...alerts].sort((a, b) => Date.parse(a.lastObserved) - Date.parse(b.lastObserved) || a.id.localeCompare(b.id));
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
      return { state: current, expiresAt: Math.ceil((this.now() + (rule.suppressSeconds as number) * 1000) / 1000) + 86_400, decided };
    }, (decided) => {
      afterSuppression.push(...decided.pass);
      result.resent.push(...decided.resent);
      result.suppressed.push(...decided.suppressed);
    });

    const limited = afterSuppression.filter((a) => this.rules.get(a.ruleId)?.rateLimit);
    result.admitted.push(...afterSuppression.filter((a) => !this.rules.get(a.ruleId)?.rateLimit));
    const byRateKey = groupBy(limited, (a) => ({ tenant: a.tenant, ruleId: a.ruleId, group: '#rate' }));
    await this.update<RateState>(byRateKey, (alerts, state) => {
      const rule = this.rules.get(alerts[0]!.ruleId) as Rule;
      const limit = rule.rateLimit as NonNullable<Rule['rateLimit']>;
      const decided: Decisions = { pass: [], resent: [], suppressed: [], throttled: [], notices: [] };
      const now = this.now();
      const current: RateState = state ? { ...state, recent: state.recent.filter(([, t]) => t > now - limit.periodSeconds * 1000) } : { recent: [], throttledUntil: 0 };
      for (const alert of alerts) {
        const resentThroughSuppression = result.resent.includes(alert);
        if (resentThroughSuppression || current.recent.some(([id]) => id === alert.id)) {
          // A re-send of an admitted alert: it was counted against the limit when it passed.
          decided.pass.push(alert);
          if (!resentThroughSuppression) decided.resent.push(alert);
          continue;
        }
        if (now < current.throttledUntil) {
          decided.throttled.push(alert);
          continue;
        }
        if (current.recent.length >= limit.maxAlerts) {
          current.throttledUntil = now + limit.throttleSeconds * 1000;
          current.noticeId = `alert--${deterministicUuid(['stixflow-rate-limited', alert.tenant, rule.id, String(current.throttledUntil)])}`;
          decided.notices.push(rateLimitedNotice(rule, alert, current.noticeId, now, current.throttledUntil));
          decided.throttled.push(alert);
          continue;
        }
        current.recent.push([alert.id, now]);
        decided.pass.push(alert);
      }
      return { state: current, expiresAt: Math.ceil(Math.max(current.throttledUntil, now + limit.periodSeconds * 1000) / 1000) + 60, decided };
    }, (decided) => {
      result.admitted.push(...decided.pass);
      result.resent.push(...decided.resent);
      result.throttled.push(...decided.throttled);
      result.notices.push(...decided.notices);
    });
    return result;
  }

  /**
   * Read-modify-conditional-write of gate items, retried on conflict; decisions take effect
   * (commit) only once their write succeeded, so a retry never counts an alert twice.
   */
  private async update<T>(
    groups: Map<string, { key: StateKey; alerts: Alert[] }>,
    apply: (alerts: Alert[], state: T | undefined) => { state: T | undefined; expiresAt: number; decided: Decisions },
    commit: (decided: Decisions) => void,
  ): Promise<void> {
    let pending = [...groups.values()];
    for (let attempt = 0; pending.length > 0 && attempt < 20; attempt++) {
      const current = await this.store.getMany(pending.map((p) => p.key));
      const retry: typeof pending = [];
      for (const entry of pending) {
        const stored = current.get(stateKeyId(entry.key));
        // Results are only final once the write commits: apply to a scratch result on retry.
        const next = apply(entry.alerts, stored ? (JSON.parse(stored.value) as T) : undefined);
        if (next.state === undefined) {
          commit(next.decided);
          continue;
        }
        const outcome = await this.store.put({ key: entry.key, value: JSON.stringify(next.state), expiresAt: next.expiresAt }, stored ? stored.version : null);
        if (outcome.ok) commit(next.decided);
        else if (outcome.reason === 'conflict') retry.push(entry);
        // too-large cannot happen for these small items; if it did, fail open (send the alerts)
        else commit({ ...next.decided, pass: [...next.decided.pass, ...next.decided.suppressed, ...next.decided.throttled], suppressed: [], throttled: [] });
      }
      pending = retry;
    }
    // Still conflicting after 20 rounds: fail open, an extra alert beats a lost one.
    for (const entry of pending) commit({ pass: entry.alerts, resent: [], suppressed: [], throttled: [], notices: [] });
  }
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
