/**
 * The request each output kind sends, in its receiver's published format:
 * - webhook: the alert document as JSON, signed: `x-stixflow-signature: sha256=<hex HMAC-SHA256 of
 *   "<timestamp>.<body>">` with the output's key, `x-stixflow-timestamp` (epoch seconds, so a receiver can refuse
 *   replays), and `x-stixflow-alert-id` (the receiver's deduplication key);
 * - slack: an incoming webhook message (https://api.slack.com/messaging/webhooks): `text` (the notification's
 *   fallback) and Block Kit blocks (header, fields, context);
 * - pagerduty: an Events API v2 trigger (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/), the
 *   dedup_key being the alert id, so that a redelivered alert stays one incident.
 */
import { createHmac } from 'node:crypto';
import type { AlertDocument, OutputKind, OutputRequest } from './types.js';

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
  low: ':large_blue_circle:',
  medium: ':large_yellow_circle:',
  high: ':large_orange_circle:',
  critical: ':red_circle:',
};

/** Slack's text limits: 150 characters in a header, 3000 in a section or field. */
const cut = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
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

/** The request of an output kind from its settings (the secret's JSON value); throws on settings it cannot use. */
export function requestFor(
  kind: OutputKind,
  alert: AlertDocument,
  settings: unknown,
  nowSeconds: number,
): OutputRequest {
  const s = (settings ?? {}) as Record<string, unknown>;
  const need = (key: string): string => {
    const value = s[key];
    if (typeof value !== 'string' || value === '') throw new Error(`the ${kind} output's secret has no "${key}"`);
    return value;
  };
  switch (kind) {
    case 'webhook':
      return webhookRequest(alert, { url: need('url'), signingKey: need('signingKey') }, nowSeconds);
    case 'slack':
      return slackRequest(alert, { url: need('url') });
    case 'pagerduty':
      return pagerDutyRequest(alert, {
        routingKey: need('routingKey'),
        ...(typeof s.url === 'string' ? { url: s.url } : {}),
      });
  }
}
