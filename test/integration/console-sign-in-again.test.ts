// A browser that signs in again to the console gets a new session cookie in place of its old one,
// and the old session ends on the server: a copy of the old cookie taken before opens nothing. The
// console is opened at localhost, another site than the IdP's 127.0.0.1 (as a provider of its own
// domain is), so Debian's chromium sends its SameSite=Strict session cookie to /auth/login but not
// on the provider's redirect to /auth/callback. The real console and development IdP.
import type { Browser, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

const SESSION_COOKIE = 'bulkhead_console';

let running: ConsoleAlone;
let browser: Browser;
let olivia: BrowserUser;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-sign-in-again',
    users: [{ id: 'olivia', roles: ['operator'] }],
    host: 'localhost',
  });
  browser = await launchChromium();
  olivia = await signIn(browser, running.origin, 'olivia');
}, 60_000);

afterAll(async () => {
  await olivia?.context.close();
  await browser?.close();
  await running?.close();
});

async function sessionCookie(): Promise<string> {
  const cookies = await olivia.context.cookies(running.origin);
  return cookies.find((c) => c.name === SESSION_COOKIE)!.value;
}

/**
 * Signs olivia in again in her browser, from the console's /auth/login: through the IdP's login and
 * consent pages when it has forgotten her (`atTheIdp`), else sent straight back. The cookie the
 * provider's redirect brought to /auth/callback.
 */
async function signInAgain(atTheIdp: boolean): Promise<string> {
  const { page } = olivia;
  const sent: Promise<string>[] = [];
  const onRequest = (request: Request): void => {
    if (new URL(request.url()).pathname === '/auth/callback')
      sent.push(request.allHeaders().then((h) => h['cookie'] ?? ''));
  };
  page.on('request', onRequest);
  await page.goto(`${running.origin}/auth/login`);
  if (atTheIdp) {
    // As signIn (console-harness.ts) does: the login form (any password), then consent.
    await page.locator('input[name="login"]').fill('olivia');
    await page.locator('input[name="password"]').fill('development');
    await page.locator('button[type="submit"]').click();
    await page.locator('button[type="submit"]').click();
  }
  await page.waitForURL(`${running.origin}/`);
  await page.getByText('Signed in as').waitFor();
  page.off('request', onRequest);
  expect(sent).toHaveLength(1);
  return sent[0]!;
}

/** /api/me's answer to a copy of the session cookie `id`, sent from elsewhere. */
async function meWith(id: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${running.app.url}/api/me`, { headers: { cookie: `${SESSION_COOKIE}=${id}` } });
  return { status: res.status, body: await res.json() };
}

const SIGNED_OUT = { status: 401, body: { error: 'sign_in_required' } };

describe('signing in again in the same browser', () => {
  it('ends the old session when the provider sends the browser straight back', async () => {
    const old = await sessionCookie();
    expect((await meWith(old)).status).toBe(200);
    // A redirect chain the console's own page began: the old cookie reaches the callback.
    expect(await signInAgain(false)).toContain(`${SESSION_COOKIE}=${old}`);
    const renewed = await sessionCookie();
    expect(renewed).not.toBe(old);
    expect((await meWith(renewed)).status).toBe(200);
    expect(await meWith(old)).toMatchObject(SIGNED_OUT);
  });

  it("ends the old session when she signs in on the provider's page, whose redirect brings no cookie", async () => {
    const old = await sessionCookie();
    // The IdP has forgotten her (its own session ended): she submits its login form, on its site.
    await olivia.context.clearCookies({ domain: '127.0.0.1' });
    expect(await signInAgain(true)).not.toContain(`${SESSION_COOKIE}=`);
    const renewed = await sessionCookie();
    expect(renewed).not.toBe(old);
    expect((await meWith(renewed)).status).toBe(200);
    expect(await meWith(old)).toMatchObject(SIGNED_OUT);
  });
});
