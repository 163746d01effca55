// The console on a test stack, and a real browser to use it: the console process's parts in this
// test process (like the router in stack.ts), its client registered at the development IdP, and
// Debian's chromium driven by playwright-core, signing people in on the IdP's own pages.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { registerConsoleClient } from '../../dev/cli/dev-console.ts';
import { consoleConfig } from '../../console/config.ts';
import { startConsole, type RunningConsole } from '../../console/console-server.ts';
import { freePort, INITIAL_ACCESS_TOKEN, type TestStack } from './stack.ts';

/** Debian's package (setup installs it); CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A free port for a console, its origin, and the console's client registered at the stack's IdP. */
export async function consoleClient(
  stack: TestStack,
  clientName: string,
): Promise<{ port: number; origin: string; client: { clientId: string; clientSecret: string } }> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const client = await registerConsoleClient({
    issuer: stack.idp.issuer,
    initialAccessToken: INITIAL_ACCESS_TOKEN,
    consoleUrl: origin,
    clientName,
  });
  return { port, origin, client };
}

export async function startTestConsole(
  stack: TestStack,
  options: {
    metricsTargets?: string[];
    scrapeIntervalMs?: number;
    /** The sealed audit segments and their public key: the console shows each whole trail. */
    audit?: { dir: string; publicKeyFile: string };
    tenantsPageSize?: number;
  } = {},
): Promise<RunningConsole & { origin: string }> {
  const { port, origin, client } = await consoleClient(stack, 'Bulkhead console (test)');
  const running = await startConsole({
    ...consoleConfig.resolve({
      port,
      issuer: stack.idp.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      metricsTargets: options.metricsTargets ?? [],
      ...(options.scrapeIntervalMs === undefined ? {} : { scrapeIntervalMs: options.scrapeIntervalMs }),
      ...(options.tenantsPageSize === undefined ? {} : { tenantsPageSize: options.tenantsPageSize }),
      ...(options.audit && { auditDir: options.audit.dir, auditPublicKeyFile: options.audit.publicKeyFile }),
    }),
    installation: stack.ns.installation,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  });
  return { ...running, origin };
}

export interface BrowserUser {
  context: BrowserContext;
  page: Page;
  /** Content-Security-Policy violations and uncaught errors seen by this page so far. */
  problems: string[];
}

export async function launchChromium(): Promise<Browser> {
  // --no-sandbox: the tests run as root in a container, where chromium's sandbox cannot start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
}

/** A fresh browser profile that signs `login` in through the console's "Sign in" and the IdP's pages. */
export async function signIn(
  browser: Browser,
  consoleUrl: string,
  login: string,
  /** A console behind TLS with the test's own certificate authority, which chromium does not know. */
  options: { ignoreHTTPSErrors?: boolean } = {},
): Promise<BrowserUser> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 }, ...options });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    // Chromium reports a blocked script, style or eval as a console message naming the policy.
    if (/Content.Security.Policy|CSP violation/i.test(message.text()))
      problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Runs before any page script (not subject to the page's CSP): records every violation report.
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (event) => {
    console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI);
  });`);
  await page.goto(consoleUrl);
  await page.getByRole('link', { name: 'Sign in' }).click();
  // oidc-provider's development pages: a login form (any password), then consent.
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('development');
  await page.locator('button[type="submit"]').click();
  await page.locator('button[type="submit"]').click();
  await page.waitForURL(`${consoleUrl}/`);
  await page.getByText('Signed in as').waitFor();
  return { context, page, problems };
}

const require = createRequire(import.meta.url);

/**
 * axe-core's verdict on the page as it is now. Evaluated through the DevTools protocol, which the
 * page's CSP does not govern, so the policy stays as strict as it is served.
 */
export async function axeViolations(page: Page): Promise<{ id: string; impact: string; nodes: string[] }[]> {
  const source = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const results = await page.evaluate<AxeResults>('axe.run(document)');
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact ?? 'unknown',
    nodes: v.nodes.map((n) => n.html.slice(0, 160)),
  }));
}

interface AxeResults {
  violations: { id: string; impact?: string | null; nodes: { html: string }[] }[];
}
