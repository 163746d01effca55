// A sign-out the console does not confirm is shown to the person signing out, who can try again:
// before, the page went on to the sign-in whatever the answer, so a person whose sign-out failed
// (here: the console's Redis down, the session untouched) believed they had signed out while their
// session stayed open. A redis-server of the test's own (private-redis.ts), kept on disk across the
// stop; the real console, the real development IdP and Debian's chromium. Signed out at the console,
// the browser signs out at the IdP too (RP-initiated logout): before, the IdP's session answered a
// sign-in again for the person without asking.
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { sessionStatus, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { until } from '../support/until.ts';

let server: PrivateRedis;
let running: ConsoleAlone;
let browser: Browser;
let olivia: BrowserUser;

beforeAll(async () => {
  const password = randomBytes(12).toString('hex');
  server = await startPrivateRedis({
    name: 'console-sign-out',
    password,
    unixSocket: true,
    persistent: true,
  });
  running = await startConsoleAlone({
    name: 'console-sign-out',
    users: [{ id: 'olivia', roles: ['operator'] }],
    redisUrl: `unix://:${password}@localhost${server.socketPath!}`,
  });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await running?.close();
  await server?.stop();
}, 60_000);

/** The session cookie's answer at /api/me, presented outside the browser: 200 while it is open. */
const sessionAnswers = (cookie: string): Promise<number> => sessionStatus(running.origin, cookie);

describe('a sign-out that fails', () => {
  it('is shown, the person stays on the page, and signing out again ends the session', async () => {
    olivia = await signIn(browser, running.origin, 'olivia');
    const { page, context } = olivia;
    const held = (await context.cookies()).find((c) => c.name === 'bulkhead_console')!;
    const cookie = `${held.name}=${held.value}`;
    await server.halt();
    try {
      await page.getByRole('button', { name: 'Sign out' }).click();
      // Before: the page went to the sign-in, with no word that the session was still open.
      await expect(page.getByRole('alert').textContent({ timeout: 20_000 })).resolves.toMatch(
        /^Sign-out failed: .+\. Your session may still be open: sign out again\.$/,
      );
      expect(await page.getByText('Signed in as').count()).toBe(1);
    } finally {
      await server.resume();
    }
    await until(async () => (await sessionAnswers(cookie)) === 200, 'the session to answer');
    // Signing out again, once the console's session store answers, ends the session; the page then
    // goes on to sign out at the IdP too (below).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((url) => url.href.startsWith(`${running.idp.issuer}/session/end?`));
    expect(await sessionAnswers(cookie)).toBe(401);
    expect(olivia.problems).toEqual([]);
  }, 90_000);
});

describe('a sign-out, where the IdP offers RP-initiated logout', () => {
  it('signs out at the IdP too, so signing in again asks the IdP for the person', async () => {
    const { page } = olivia;
    // The IdP's end-session page, which the console's sign-out sent the browser to (the test above):
    // it asks first, so a link to it from anywhere else signs nobody out.
    await page.getByRole('button', { name: 'Yes, sign me out' }).click();
    await page.getByText('Sign-out Success').waitFor();
    await page.goto(running.origin);
    await page.getByRole('link', { name: 'Sign in' }).click();
    // Before: the IdP's own session answered for olivia, straight back to the console signed in.
    await page.locator('input[name="login"]').waitFor({ timeout: 10_000 });
    expect(new URL(page.url()).origin).toBe(new URL(running.idp.issuer).origin);
  }, 60_000);
});
