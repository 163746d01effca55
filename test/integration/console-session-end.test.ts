// A console page whose session ends under it (its 15 minutes are up, or the person signed out in
// another tab) offers the sign-in again, saying why, instead of showing each request's refusal: the
// real console, the real development IdP and Debian's chromium. A first visit shows the sign-in
// without that word.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

const ENDED = 'Your session has ended. Sign in again to continue.';

let running: ConsoleAlone;
let origin: string;
let browser: Browser;
let aldo: BrowserUser;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-session-end',
    users: [{ id: 'aldo', roles: ['auditor'] }],
  });
  ({ origin } = running);
  browser = await launchChromium();
  aldo = await signIn(browser, origin, 'aldo');
}, 60_000);

afterAll(async () => {
  await aldo?.context.close();
  await browser?.close();
  await running?.close();
});

describe('a console page whose session ends', () => {
  it('offers the sign-in again, saying the session ended', async () => {
    const { page } = aldo;
    await expect(page.getByTestId('role').textContent()).resolves.toBe('auditor');
    // The same person signs out in another tab of the same browser: the session ends at the console.
    const other = await aldo.context.newPage();
    await other.goto(origin);
    await other.getByRole('button', { name: 'Sign out' }).click();
    // Signed out at the console, the tab goes on to the IdP's end-session page (RP-initiated logout).
    await other.waitForURL((url) => url.href.startsWith(`${running.idp.issuer}/session/end?`));

    // The first tab's next request is refused: it shows the sign-in, not the refusal's text.
    await page.getByRole('link', { name: 'Charts' }).click();
    await page.getByRole('link', { name: 'Sign in' }).waitFor();
    await expect(page.getByRole('alert').textContent()).resolves.toBe(ENDED);
    expect(await page.getByText('sign in first').count()).toBe(0);
    expect(aldo.problems).toEqual([]);
  });

  it('shows a first visit the sign-in without saying a session ended', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(origin);
      await page.getByRole('link', { name: 'Sign in' }).waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
