/**
 * The console in a real browser (#17.4): headless Chromium (Debian's package, driven by playwright-core) against
 * the real local stack started in process. One walk through the console, in order: sign in, list the rules,
 * disable a rule and see the next event raise nothing, enable it and see the alert, store an invalid rule and see
 * it red with its error and position, create a valid rule and edit it (a diff between its versions), see its tests
 * and their last result (a failing one with its reason, a draft's tests run before saving), send events,
 * open the alert, reject it as a false positive and see the rejected count on the rule list.
 *
 * STIXFLOW_SCREENSHOTS=<dir> also saves a screenshot of each page there (`npm run console:screenshots` writes
 * docs/console/*.png). Skipped, saying so, only when /usr/bin/chromium is absent (CI installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, type LocalStack } from '../../src/local/server.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(
    `test/browser: ${CHROMIUM} is missing, the console browser tests are skipped (apt-get install -y chromium)`,
  );
const SCREENSHOTS = process.env.STIXFLOW_SCREENSHOTS;

const SHELL_RULE = 'web-server-spawns-shell';
const NEW_RULE = 'console-test-tool';
const INVALID_RULE = 'console-broken-rule';
/** Its pattern's comparison has no value: the error is on line 5. */
const INVALID_SOURCE = `id: ${INVALID_RULE}
name: A rule that does not compile
description: Its pattern is cut short.
severity: low
pattern: "[process:name = ]"
`;
const VALID_SOURCE = `id: ${NEW_RULE}
name: Console test tool started
description: The console test tool ran.
severity: high
tags: [console-test]
pattern: "[process:name = 'console-test-tool']"
group_by: x-oca-asset:hostname
tests:
  - name: the tool alerts
    events:
      - { event_type: process_create, process_name: console-test-tool, parent_process_name: bash, host: desk-1, timestamp: "2026-01-01T10:00:00Z", event_id: ct-1 }
    expect: alert
  - name: another process is quiet
    events:
      - { event_type: process_create, process_name: ls, parent_process_name: bash, host: desk-1, timestamp: "2026-01-01T10:00:00Z", event_id: ct-2 }
    expect: no-alert
`;

let stack: LocalStack;
let browser: Browser;
let page: Page;
const REFRESH_SETTINGS = ['RULE_OVERRIDES_REFRESH_SECONDS', 'RULE_STORE_REFRESH_SECONDS'];
const saved: Record<string, string | undefined> = {};
let eventNumber = 0;

/** One event posted as the local admin's tenant, now (the counters count by processing day); returns its alerts. */
async function sendEvent(processName: string, parent: string, host: string): Promise<string[]> {
  eventNumber += 1;
  const event = {
    event_type: 'process_create',
    process_name: processName,
    parent_process_name: parent,
    host,
    timestamp: new Date().toISOString(),
    event_id: `console-${eventNumber}`,
  };
  const response = await fetch(`${stack.url}/events`, {
    method: 'POST',
    headers: { authorization: 'Bearer local-dev', 'content-type': 'application/x-ndjson' },
    body: JSON.stringify(event),
  });
  const body = (await response.json()) as { alertIds?: string[] };
  expect(response.status).toBe(202);
  return body.alertIds ?? [];
}

async function screenshot(name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Polls until the value matches; generous, for a loaded machine (vitest's default is one second). */
const eventually = <T>(value: () => T | Promise<T>) => expect.poll(value, { timeout: 20_000, interval: 100 });

const row = (id: string) => page.locator(`tr[data-rule-id="${id}"]`);
const navLink = (name: string) => page.getByRole('navigation').getByRole('link', { name, exact: true });
const announced = () => page.locator('#announcer');
/** The rule page's tests section, and one test in it by name. */
const testsOnPage = () => page.locator('section.tests');
const testNamed = (scope: ReturnType<Page['locator']>, name: string) => scope.locator(`li[data-test-name="${name}"]`);

describe('the console as the local stack serves it (no browser needed)', () => {
  let served: LocalStack;
  beforeAll(async () => {
    served = await startLocalStack({ port: 0, quiet: true, printAlerts: false });
  }, 60_000);
  afterAll(async () => {
    await served?.stop();
  });

  it('serves the page at / and /console/, its script and style, with a strict CSP; nothing else', async () => {
    const fetchText = async (path: string, method = 'GET') => {
      const response = await fetch(`${served.url}${path}`, { method });
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        headers: response.headers,
        body: await response.text(),
      };
    };
    const page = await fetchText('/');
    expect(page.status).toBe(200);
    expect(page.type).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="/console/console.js">');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetchText('/console/')).body).toBe(page.body);
    const script = await fetchText('/console/console.js');
    expect(script.type).toMatch(/^text\/javascript/);
    const style = await fetchText('/console/console.css');
    expect(style.type).toMatch(/^text\/css/);
    // The whole page stays small: well under a few hundred KB.
    expect(Buffer.byteLength(page.body) + Buffer.byteLength(script.body) + Buffer.byteLength(style.body)).toBeLessThan(
      100 * 1024,
    );
    expect((await fetchText('/console/secrets.json')).status).toBe(404);
    expect((await fetchText('/console/%2e%2e/package.json')).status).toBe(404);
    // The page is public; the data is not.
    expect((await fetchText('/rules')).status).toBe(401);
  });
});

describe.skipIf(!HAVE_CHROMIUM)('the detection console in Chromium', () => {
  beforeAll(async () => {
    // Overrides and the rule store re-read on every event, so that "the next event" is what the test checks.
    for (const name of REFRESH_SETTINGS) {
      saved[name] = process.env[name];
      process.env[name] = '0';
    }
    // The alert poller keeps each alert for triage (as the deployed outputs function does); nothing printed.
    stack = await startLocalStack({ port: 0, quiet: true, printAlerts: true, print: () => undefined });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    for (const name of REFRESH_SETTINGS) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  it('asks for a token once, then lists the rules with their status, switch, counts and chart', async () => {
    await page.goto(`${stack.url}/`);
    await page.getByLabel('Bearer token').waitFor();
    await screenshot('login');
    await page.getByLabel('Bearer token').fill('local-dev');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await row(SHELL_RULE).waitFor();
    expect(await row(SHELL_RULE).locator('[data-state]').textContent()).toBe('enabled');
    expect(await row(SHELL_RULE).getByRole('switch').isChecked()).toBe(true);
    expect(await row(SHELL_RULE).locator('svg.week-chart').count()).toBe(1);
    expect(
      await page.evaluate(() =>
        (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }).sessionStorage.getItem(
          'stixflow.console.token',
        ),
      ),
    ).toBe('local-dev');
    // The search box narrows the list.
    await page.getByLabel('Search').fill('credential');
    await eventually(() => row(SHELL_RULE).count()).toBe(0);
    await page.getByLabel('Search').fill('');
    await row(SHELL_RULE).waitFor();
  });

  it('disables a rule from its switch: the next event raises nothing; enabled again, it alerts', async () => {
    await row(SHELL_RULE).getByRole('switch').click();
    await eventually(() => announced().textContent()).toContain('disabled');
    expect(await row(SHELL_RULE).locator('[data-state]').textContent()).toBe('disabled');
    expect(await sendEvent('bash', 'nginx', 'web-off')).toEqual([]);

    await row(SHELL_RULE).getByRole('switch').click();
    await eventually(() => announced().textContent()).toContain('enabled');
    expect(await sendEvent('bash', 'nginx', 'web-on')).toHaveLength(1);
  });

  it('stores an invalid rule and shows it red, with its error and position', async () => {
    await navLink('New rule').click();
    const editor = page.getByLabel('Rule source (YAML)');
    await editor.fill(INVALID_SOURCE);
    // Validated as typed: the error, with its line and column, without storing anything.
    await eventually(() => page.locator('#rule-validation').textContent()).toMatch(/error/);
    const diagnostic = page.locator('.editor-diagnostics .diagnostic.error').first();
    expect(await diagnostic.textContent()).toMatch(/^5:\d+ error /);
    await screenshot('editor-invalid');
    await page.getByLabel(/Store even if invalid/).check();
    await page.getByRole('button', { name: 'Create rule' }).click();
    // A rule that does not compile has no name in force: its page is titled with its id.
    await page.locator('h1', { hasText: INVALID_RULE }).waitFor();
    expect(await page.locator('.page-head [data-state]').textContent()).toBe('invalid');
    await navLink('Rules').click();
    await row(INVALID_RULE).waitFor();
    expect(await row(INVALID_RULE).getAttribute('class')).toContain('invalid');
    expect(await row(INVALID_RULE).locator('[data-state]').textContent()).toBe('invalid');
    expect(await row(INVALID_RULE).locator('.rule-errors').textContent()).toMatch(/^5:\d+ error /);
    const background = await row(INVALID_RULE)
      .locator('td')
      .first()
      .evaluate(
        (td) =>
          (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(td)
            .backgroundColor,
      );
    expect(background).toBe('rgb(255, 227, 227)');
    await screenshot('rules');
  });

  it('creates a valid rule, edits it and shows the diff between its versions', async () => {
    await navLink('New rule').click();
    await page.getByLabel('Rule source (YAML)').fill(VALID_SOURCE);
    await eventually(() => page.locator('#rule-validation').textContent()).toMatch(/^Valid/);
    await page.getByRole('button', { name: 'Create rule' }).click();
    await page.locator('h1', { hasText: 'Console test tool started' }).waitFor();
    expect(await page.locator('.page-head [data-state]').textContent()).toBe('enabled');
    // Its tests ran when it was saved: each with its outcome, the run with when, why, by whom and the version.
    expect(await testNamed(testsOnPage(), 'the tool alerts').getAttribute('data-outcome')).toBe('passed');
    expect(await testNamed(testsOnPage(), 'another process is quiet').getAttribute('data-outcome')).toBe('passed');
    expect(await testsOnPage().locator('.test-summary').textContent()).toMatch(
      /^2 tests, last run .* when saved by local-dev \(v1\): 2 passed, 0 failed\.$/,
    );

    const editor = page.getByLabel('Rule source (YAML)');
    await editor.fill(VALID_SOURCE.replace('The console test tool ran.', 'The console test tool ran again.'));
    await eventually(() => page.locator('#rule-validation').textContent()).toMatch(/^Valid/);
    await page.getByRole('button', { name: 'Save new version' }).click();
    await eventually(() => page.locator('table.versions tbody tr').count()).toBe(2);
    await page.getByRole('button', { name: 'Show differences' }).click();
    await page.locator('.diff ins').first().waitFor();
    expect(await page.locator('.diff ins').textContent()).toContain('The console test tool ran again.');
    expect(await page.locator('.diff del').textContent()).toContain('The console test tool ran.');
    await screenshot('rule');
  });

  it("runs a draft's tests before saving, and shows a failing test with its reason once saved", async () => {
    const failing = VALID_SOURCE.replace('The console test tool ran.', 'The console test tool ran again.').replace(
      'expect: no-alert',
      'expect: alert',
    );
    await page.getByLabel('Rule source (YAML)').fill(failing);
    await page.getByRole('button', { name: 'Run tests' }).click();
    const draft = page.locator('.editor-tests');
    await eventually(() => draft.locator('.test-summary').textContent()).toBe('Draft, not saved: 1 passed, 1 failed.');
    expect(await testNamed(draft, 'another process is quiet').locator('.test-message').textContent()).toMatch(
      /^expected an alert, got 0\n/,
    );
    // Nothing stored yet: the page still shows the saved version's run.
    expect(await testNamed(testsOnPage(), 'another process is quiet').getAttribute('data-outcome')).toBe('passed');

    await page.getByRole('button', { name: 'Save new version' }).click();
    await eventually(() => testsOnPage().locator('.test-summary').textContent()).toMatch(
      /when saved by local-dev \(v3\): 1 passed, 1 failed\.$/,
    );
    const failed = testNamed(testsOnPage(), 'another process is quiet');
    expect(await failed.getAttribute('data-outcome')).toBe('failed');
    const reason = await failed.locator('.test-message').textContent();
    expect(reason).toMatch(/^expected an alert, got 0\n/);
    expect(reason).toContain("[process:name = 'console-test-tool'] is satisfied by no event");
    expect(await testNamed(testsOnPage(), 'the tool alerts').getAttribute('data-outcome')).toBe('passed');
    await testsOnPage().scrollIntoViewIfNeeded();
    await screenshot('rule-tests');
  });

  it('opens the alert the new rule raised, rejects it as a false positive, and the rule list counts it', async () => {
    const [alertId] = await sendEvent('console-test-tool', 'bash', 'desk-7');
    expect(alertId).toBeDefined();
    // The alert poller keeps the alert once it leaves the alert queue: wait for the store to have it.
    await eventually(async () => {
      const response = await fetch(`${stack.url}/alerts?ruleId=${NEW_RULE}`, {
        headers: { authorization: 'Bearer local-dev' },
      });
      return ((await response.json()) as { alerts?: { id: string }[] }).alerts?.map((a) => a.id) ?? [];
    }).toContain(alertId);
    await navLink('Alerts').click();
    await page.getByLabel('Rule').selectOption(NEW_RULE);
    const alertRow = page.locator(`tr[data-alert-id="${alertId}"]`);
    await alertRow.waitFor();
    expect(await alertRow.locator('[data-status]').textContent()).toBe('new');
    await screenshot('alerts');
    await alertRow.getByRole('link').first().click();
    await page.getByText('desk-7').first().waitFor();
    expect(await page.locator('section', { hasText: 'STIX sighting' }).textContent()).toContain('sighting--');
    await page.getByRole('button', { name: 'Reject as false positive' }).click();
    await eventually(() => page.locator('.page-head [data-status]').textContent()).toBe('rejected');
    expect(await page.locator('ol.history').textContent()).toContain('rejected by local-dev');
    await screenshot('alert');

    await navLink('Rules').click();
    await row(NEW_RULE).waitFor();
    expect(await row(NEW_RULE).locator('[data-counter="rejected"]').textContent()).toBe('1');
    expect(await row(NEW_RULE).locator('[data-counter="raised"]').textContent()).toBe('1');
  });
});
