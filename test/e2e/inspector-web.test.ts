// The MCP Inspector's web interface, unmodified, in headless Chromium: a user points it at the
// router's /mcp, switches the connection on, signs in on the development IdP's pages, lists the
// tools, calls a write tool from its form and sees the structured result. The Inspector registers
// itself (open Dynamic Client Registration, its loopback callback) with nothing handed to it. The
// legacy run saves the screenshots docs/clients.md shows, under docs/img.
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, startInspectorWeb } from '../support/inspector-web.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const SCREENSHOTS = join(import.meta.dirname, '../../docs/img');
const BROWSER_FLOW_TIMEOUT_MS = 150_000;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack('inspector', { users: [{ id: 'alice', tenant: 'alpha', roles: ['editor'] }] });
  await stack.onboard('alpha');
});

afterAll(async () => {
  await stack?.close();
});

describe('MCP Inspector web interface in Chromium', () => {
  it.each(['legacy', 'modern'] as const)(
    '%s era: signs in on the IdP pages, lists tools, calls a write tool, shows the structured result',
    async (era) => {
      const inspector = await startInspectorWeb({ serverUrl: stack.mcpUrl, era });
      const browser = await launchChromium();
      try {
        const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
        const shoot = async (name: string) => {
          if (era === 'legacy') await page.screenshot({ path: join(SCREENSHOTS, `inspector-${name}.png`) });
        };
        await page.goto(inspector.url);
        // The switch as a user clicks it: its label (the track drawn over the hidden input), after
        // Playwright's checks that it is visible and stable. A forced click on the input skipped
        // those checks, and once in a CI run found the input not visible (not reproduced since; most
        // likely the page was still rendering).
        const connect = page.getByRole('switch', { name: /Connect or disconnect/ });
        await page.locator('label', { has: connect }).click();

        // The Inspector discovered the IdP, registered and sent the browser to the IdP's sign-in page.
        await page.getByPlaceholder('Enter any login').waitFor();
        expect(new URL(page.url()).origin).toBe(stack.idp.issuer);
        await page.getByPlaceholder('Enter any login').fill('alice');
        await page.getByPlaceholder('and password').fill('development');
        await shoot('1-sign-in');
        await page.getByRole('button', { name: 'Sign-in' }).click();

        await page.getByRole('button', { name: 'Continue' }).waitFor();
        expect(await page.locator('body').innerText()).toContain(stack.mcpUrl);
        await shoot('2-consent');
        await page.getByRole('button', { name: 'Continue' }).click();

        // Back in the Inspector: connected, in the era asked for.
        await page.getByText('Connected', { exact: true }).waitFor();
        expect(new URL(page.url()).origin).not.toBe(stack.idp.issuer);
        await page
          .getByText(era === 'legacy' ? 'MCP 2025-11-25' : 'MCP 2026-07-28', { exact: true })
          .waitFor();
        await shoot('3-connected');

        await page.getByText('Tools', { exact: true }).first().click();
        for (const tool of ['whoami', 'records_list', 'records_create']) {
          await page.getByText(tool, { exact: true }).first().waitFor();
        }
        const title = `from the Inspector (${era})`;
        await page.getByText('records_create', { exact: true }).first().click();
        await page.getByRole('textbox', { name: 'title', exact: true }).fill(title);
        await page
          .getByRole('textbox', { name: 'idempotency_key', exact: true })
          .fill(`inspector-web-${era}`);
        await page.getByRole('button', { name: 'Execute Tool' }).click();

        const structured = await structuredOutput(page);
        expect(structured).toContain(`"title": "${title}"`);
        // The user signed in, not an agent: the write is attributed to alice.
        expect(structured).toContain('"createdBy": "alice"');
        await shoot('4-structured-result');
      } finally {
        await browser.close();
        await inspector.close();
      }
    },
    // A browser, the Inspector's server and a sign-in on a 2-core machine shared with other files.
    BROWSER_FLOW_TIMEOUT_MS,
  );
});

/** The text of the Inspector's "Structured Output" panel once the call's result is shown. */
async function structuredOutput(page: Page): Promise<string> {
  const heading = page.getByText('Structured Output', { exact: true });
  await heading.waitFor();
  const panel = page.locator('div').filter({ has: heading }).filter({ hasText: '"record"' }).last();
  return panel.innerText();
}
