// A sign-out the console does not confirm is shown to the person signing out, who can try again:
// before, the page went on to the sign-in whatever the answer, so a person whose sign-out failed
// (here: the console's Redis down, the session untouched) believed they had signed out while their
// session stayed open. A redis-server of the test's own (private-redis.ts), kept on disk across the
// stop; the real console, the real development IdP and Debian's chromium.
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';

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
  olivia = await signIn(browser, running.origin, 'olivia');
}, 60_000);

afterAll(async () => {
  await olivia?.context.close();
  await browser?.close();
  await running?.close();
  await server?.stop();
}, 60_000);

/** The session cookie's answer at /api/me, presented outside the browser: 200 while it is open. */
async function sessionAnswers(cookie: string): Promise<number> {
  const res = await fetch(`${running.origin}/api/me`, { headers: { cookie } });
  await res.body?.cancel();
  return res.status;
}

describe('a sign-out that fails', () => {
  it('is shown, the person stays on the page, and signing out again ends the session', async () => {
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
    await expect.poll(() => sessionAnswers(cookie), { timeout: 15_000 }).toBe(200);
    // Signing out again, once the console's session store answers, ends the session.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    expect(await sessionAnswers(cookie)).toBe(401);
    expect(olivia.problems).toEqual([]);
  }, 90_000);
});
