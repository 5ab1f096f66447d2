/**
 * The request each output kind sends, in its receiver's published format:
 * - webhook: the alert document as JSON, signed: `x-stixflow-signature: sha256=<hex HMAC-SHA256 of
 *   "<timestamp>.<body>">` with the output's key, `x-stixflow-timestamp` (epoch seconds, so a receiver can refuse
 *   replays), and `x-stixflow-alert-id` (the receiver's deduplication key);
 * - slack: an incoming webhook message (https://api.slack.com/messaging/webhooks): `text` (the notification's
 *   fallback) and Block Kit blocks (header, fields, context);
 * - pagerduty: an Events API v2 trigger (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/), the
 *   dedup_key being the alert id, so that a redelivered alert stays one incident;
 * - thehive: a TheHive 5 alert (POST /api/v1/alert) whose `sourceRef` is the alert id, so that TheHive, which
 *   keeps (type, source, sourceRef) unique, refuses a redelivered alert as one it already has; its observables are
 *   those of the alert's STIX objects (observables.ts).
 */
import { createHmac } from 'node:crypto';
import { alertObservables } from './observables.js';
import type { AlertDocument, OutputRequest } from './types.js';

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue';

/** Settings a secret holds, by kind (its JSON value). */
export interface WebhookSettings {
  url: string;
  /** HMAC-SHA256 key of the signature header. */
  signingKey: string;
}
export interface SlackSettings {
  url: string;
}
export interface PagerDutySettings {
  routingKey: string;
  /** The Events API endpoint; PagerDuty's by default (tests point it at a loopback receiver). */
  url?: string;
}

export function webhookSignature(signingKey: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', signingKey).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function webhookRequest(alert: AlertDocument, settings: WebhookSettings, nowSeconds: number): OutputRequest {
  const body = JSON.stringify(alert);
  const timestamp = String(Math.floor(nowSeconds));
  return {
    url: settings.url,
    headers: {
      'content-type': 'application/json',
      'x-stixflow-alert-id': alert.id,
      'x-stixflow-timestamp': timestamp,
      'x-stixflow-signature': webhookSignature(settings.signingKey, timestamp, body),
    },
    body,
  };
}

const SEVERITY_EMOJI: Record<AlertDocument['severity'], string> = {
  informational: ':white_circle:',
  low: ':large_blue_circle:',
  medium: ':large_yellow_circle:',
  high: ':large_orange_circle:',
  critical: ':red_circle:',
};

/** Cuts a text to `max` characters, marking the cut (Slack: 150 in a header, 3000 in a section or field). */
export const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
/** Slack mrkdwn escapes (https://api.slack.com/reference/surfaces/formatting#escaping). */
const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function slackRequest(alert: AlertDocument, settings: SlackSettings): OutputRequest {
  const title = `${alert.severity.toUpperCase()}: ${alert.ruleName}`;
  const fields = [
    `*Severity*\n${SEVERITY_EMOJI[alert.severity]} ${alert.severity}`,
    `*Tenant*\n${escape(alert.tenant)}`,
    `*Rule*\n\`${escape(alert.ruleId)}\``,
    `*Seen*\n${alert.firstObserved}${alert.lastObserved !== alert.firstObserved ? ` → ${alert.lastObserved}` : ''}`,
    ...(alert.groupKey !== '' ? [`*Group*\n${escape(cut(alert.groupKey, 500))}`] : []),
    ...(alert.tags.length > 0 ? [`*Tags*\n${escape(cut(alert.tags.join(', '), 500))}`] : []),
  ];
  const body = {
    text: cut(`${title} (tenant ${alert.tenant})`, 3000),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(title, 150), emoji: true } },
      ...(alert.description !== ''
        ? [{ type: 'section', text: { type: 'mrkdwn', text: escape(cut(alert.description, 3000)) } }]
        : []),
      // A section holds at most 10 fields.
      { type: 'section', fields: fields.slice(0, 10).map((text) => ({ type: 'mrkdwn', text })) },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `stixflow alert \`${alert.id}\`` }] },
    ],
  };
  return { url: settings.url, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

const PAGERDUTY_SEVERITY: Record<AlertDocument['severity'], 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  high: 'error',
  medium: 'warning',
  low: 'info',
  informational: 'info',
};

export function pagerDutyRequest(alert: AlertDocument, settings: PagerDutySettings): OutputRequest {
  const body = {
    routing_key: settings.routingKey,
    event_action: 'trigger',
    dedup_key: alert.id,
    payload: {
      summary: cut(`${alert.ruleName} (${alert.tenant})`, 1024),
      source: `stixflow/${alert.tenant}`,
      severity: PAGERDUTY_SEVERITY[alert.severity],
      timestamp: alert.lastObserved,
      component: alert.groupKey !== '' ? cut(alert.groupKey, 255) : undefined,
      group: alert.tenant,
      class: alert.category ?? alert.ruleId,
      custom_details: {
        ruleId: alert.ruleId,
        description: alert.description,
        tags: alert.tags,
        firstObserved: alert.firstObserved,
        observedDataIds: alert.observedDataIds.slice(0, 20),
        sourceEventIds: alert.sourceEventIds.slice(0, 20),
      },
    },
    client: 'stixflow',
  };
  return {
    url: settings.url ?? PAGERDUTY_EVENTS_URL,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

export interface TheHiveSettings {
  /** TheHive's base URL, e.g. https://thehive.example.org (the request goes to <url>/api/v1/alert). */
  url: string;
  apiKey: string;
  /** The organisation to create the alert in, when the key's user belongs to several. */
  organisation?: string;
  /** TLP 2.0 as TheHive numbers it: 0 clear, 1 green, 2 amber (default), 3 amber+strict, 4 red. */
  tlp?: number;
  /** PAP: 0 clear, 1 green, 2 amber (default), 3 red. */
  pap?: number;
  /** The alert `type` (with `source` and `sourceRef`, what TheHive keeps unique); `stixflow` by default. */
  type?: string;
  source?: string;
}

const THEHIVE_SEVERITY: Record<AlertDocument['severity'], 1 | 2 | 3 | 4> = {
  informational: 1,
  low: 1,
  medium: 2,
  high: 3,
  critical: 4,
};

export function theHiveRequest(alert: AlertDocument, settings: TheHiveSettings): OutputRequest {
  const tlp = settings.tlp ?? 2;
  const pap = settings.pap ?? 2;
  const facts = [
    `| rule | \`${alert.ruleId}\` |`,
    `| tenant | ${alert.tenant} |`,
    `| severity | ${alert.severity} |`,
    `| observed | ${alert.firstObserved} → ${alert.lastObserved} |`,
    ...(alert.groupKey !== '' ? [`| group | ${alert.groupKey.replace(/\|/g, '\\|')} |`] : []),
    `| stixflow alert | \`${alert.id}\` |`,
  ];
  const body = {
    type: settings.type ?? 'stixflow',
    source: settings.source ?? 'stixflow',
    sourceRef: alert.id,
    title: cut(alert.title ?? alert.ruleName, 512),
    description: `${alert.description}\n\n| | |\n|---|---|\n${facts.join('\n')}`,
    severity: THEHIVE_SEVERITY[alert.severity],
    date: Date.parse(alert.lastObserved),
    tags: [...alert.tags, `stixflow:rule=${alert.ruleId}`, `stixflow:tenant=${alert.tenant}`],
    tlp,
    pap,
    observables: alertObservables(alert).map((o) => ({
      dataType: o.dataType,
      data: o.data,
      message: `from ${o.source}`,
      tlp,
      pap,
      ioc: false,
      tags: [`stixflow:${o.source}`],
    })),
  };
  return {
    url: `${settings.url.replace(/\/+$/, '')}/api/v1/alert`,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${settings.apiKey}`,
      ...(settings.organisation !== undefined ? { 'x-organisation': settings.organisation } : {}),
    },
    body: JSON.stringify(body),
  };
}

export type HttpOutputKind = 'webhook' | 'slack' | 'pagerduty' | 'thehive';
export type HttpFormatter = (alert: AlertDocument, nowSeconds: number) => OutputRequest;

/** The formatter of an HTTP output kind from its settings; throws, naming the setting, on settings it cannot use. */
export function httpFormatter(kind: HttpOutputKind, settings: Record<string, unknown>): HttpFormatter {
  const s = settings;
  const need = (key: string): string => {
    const value = s[key];
    if (typeof value !== 'string' || value === '') throw new Error(`the ${kind} output's secret has no "${key}"`);
    return value;
  };
  const level = (key: string, max: number): number | undefined => {
    const value = s[key];
    if (value === undefined) return undefined;
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > max)
      throw new Error(`the ${kind} output's "${key}" must be an integer from 0 to ${max}`);
    return value as number;
  };
  const optional = (key: string) => (typeof s[key] === 'string' ? { [key]: s[key] as string } : {});
  switch (kind) {
    case 'webhook': {
      const webhook = { url: need('url'), signingKey: need('signingKey') };
      return (alert, nowSeconds) => webhookRequest(alert, webhook, nowSeconds);
    }
    case 'slack': {
      const slack = { url: need('url') };
      return (alert) => slackRequest(alert, slack);
    }
    case 'pagerduty': {
      const pagerDuty = { routingKey: need('routingKey'), ...optional('url') };
      return (alert) => pagerDutyRequest(alert, pagerDuty);
    }
    case 'thehive': {
      const tlp = level('tlp', 4);
      const pap = level('pap', 3);
      const theHive: TheHiveSettings = {
        url: need('url'),
        apiKey: need('apiKey'),
        ...optional('organisation'),
        ...optional('type'),
        ...optional('source'),
        ...(tlp !== undefined ? { tlp } : {}),
        ...(pap !== undefined ? { pap } : {}),
      };
      return (alert) => theHiveRequest(alert, theHive);
    }
  }
}

/**
 * Whether an answer that is not 2xx still means the alert is there: TheHive refuses an alert whose (type, source,
 * sourceRef) it already has, with 400 (409 in some versions) and "already exists" (TheHive issues #203, #1094).
 */
export function alreadyDelivered(kind: HttpOutputKind, status: number, body: string): boolean {
  return kind === 'thehive' && (status === 400 || status === 409) && /already exists/i.test(body);
}
