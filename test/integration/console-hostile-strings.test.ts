// What a hostile tenant can put in front of an operator: a tool name its agent sends, a user name
// its own IdP signs (the dev IdP plays that part here), a file name its code leaves where the
// verify probe looks. Each reaches the console's pages through the real router, rate limiter and
// audit trail (the report through the evidence store verify saves to), and Debian's chromium shows
// them: no markup runs, no bidi control or invisible character acts unseen, and no long name widens
// a page past the window. The tenant page's listing budgets are a table of their own.
import type { Browser } from 'playwright-core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvidenceStore } from '../../tenants/control-plane/evidence.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { launchChromium, signIn, startTestConsole, type BrowserUser } from '../support/console-harness.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'acme';
/** Shown as "records_delete" by the right-to-left override, a name no tool has. */
const REVERSED_TOOL = '\u202Eeteled_sdrocer';
/** Markup, a zero-width space, a word joiner and a Hangul filler (a letter drawn as nothing). */
const MARKUP_TOOL = '<img src=x onerror="window.pwned=1">records\u200B_list\u2060\u3164';
/** A user whose name is markup, then text its right-to-left override turns round, and long (the dev IdP's longest). */
const HOSTILE_USER = `<b id="bold">olivia</b>\u202Enimda-${'x'.repeat(150)}`;
/** What the verify probe would quote of a socket directory the tenant's code wrote a file into. */
const PROBE_WHY = 'present: mcp.sock, \u202Essap :si tluser eht\u2066';

let stack: TestStack;
let app: Awaited<ReturnType<typeof startTestConsole>>;
let browser: Browser;
let aldo: BrowserUser;
let redis: Redis;

beforeAll(async () => {
  stack = await startTestStack('console-hostile', {
    users: [
      { id: 'aldo', roles: ['auditor'] },
      { id: HOSTILE_USER, tenant: TENANT, roles: ['viewer'] },
    ],
  });
  const tenant = await stack.registry.create({ id: TENANT, plan: planByName('small'), isolation: 'runc' });
  const agent = await bearerClient(stack.mcpUrl, await stack.agentToken(TENANT));
  // Refused as unknown tools; each refusal is in the trail under the name the agent sent.
  for (const name of [REVERSED_TOOL, MARKUP_TOOL, 'L'.repeat(4_000)])
    await agent.callTool({ name, arguments: {} }).catch(() => undefined);
  const user = await bearerClient(stack.mcpUrl, await stack.userToken(HOSTILE_USER, { tenant: TENANT }));
  // Each refusal is charged to the user's share (router/pipeline/refusal-charge.ts): 25 of its 30 a
  // minute keep its layer on the tenant page for the 50 s it takes to replenish.
  for (let i = 0; i < 25; i++)
    await user.callTool({ name: REVERSED_TOOL, arguments: {} }).catch(() => undefined);
  await user.close();
  // 25 listings of the 30 an agent has a minute keep its listing layer there for 50 s as well.
  for (let i = 0; i < 25; i++) await agent.listTools();
  await agent.close();
  redis = new Redis(stack.ns.installation.redis);
  await new EvidenceStore({ redis, prefix: stack.ns.installation.registryPrefix }).save(
    {
      tenantId: TENANT,
      runtimeId: null,
      isolation: 'runc',
      checkedAt: new Date().toISOString(),
      pass: false,
      checks: [
        { id: 'probe.socket-dir', control: 'socket directory', source: 'probe', pass: false, why: PROBE_WHY },
      ],
    },
    tenant.createdAt,
  );
  app = await startTestConsole(stack);
  browser = await launchChromium();
  aldo = await signIn(browser, app.origin, 'aldo');
}, 120_000);

afterAll(async () => {
  await aldo?.context.close();
  await browser?.close();
  await app?.close();
  redis?.disconnect();
  await stack?.close();
});

/** What the page shows in `selector` (rendered text), and whether it fits the window's width. */
async function shown(selector: string): Promise<{ text: string; fits: boolean; pwned: boolean }> {
  // A string, run in the page: this test's own code has no DOM types.
  return aldo.page.evaluate(`({
    text: document.querySelector(${JSON.stringify(selector)}).innerText,
    fits: document.documentElement.scrollWidth <= window.innerWidth,
    pwned: window.pwned !== undefined || document.querySelector('main img, #bold') !== null,
  })`);
}

/** Bidi controls, zero-width and other invisible characters: none may reach the page as such. */
const INVISIBLE = /[\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|(?![\t\n])\p{Cc}/u;

describe('tenant-controlled strings in the console', () => {
  it('shows the tenant page (recent refusals, quota layers) the same way', async () => {
    await aldo.page.goto(`${app.origin}/#/tenants/${TENANT}`);
    await aldo.page.getByRole('heading', { name: 'Recent errors and refusals' }).waitFor();
    await aldo.page.locator('section[aria-labelledby="errors"] tbody tr').nth(2).waitFor();
    const page = await shown('main');
    expect(page.pwned).toBe(false);
    // The user's own layer names them, markup as text, the override named.
    expect(page.text).toContain('user <b id="bold">olivia</b>[U+202E]nimda-');
    expect(page.text).toContain('[U+202E]eteled_sdrocer');
    expect(page.text).not.toMatch(INVISIBLE);
    expect(page.fits).toBe(true);
    expect(aldo.problems).toEqual([]);
  });
  it('shows the listing budgets in a table of their own, labelled as listings', async () => {
    await aldo.page.goto(`${app.origin}/#/tenants/${TENANT}`);
    const listing = aldo.page.getByTestId('listing-budgets');
    await listing.locator('tbody tr').nth(1).waitFor();
    expect(await listing.locator('caption').innerText()).toContain('Listing budgets (tools/list only');
    const rows = await listing.locator('tbody tr').allInnerTexts();
    expect(rows[0]).toMatch(/^tenant, listings per minute\s+\d+ \/ 60\s/);
    expect(rows[1]).toMatch(/^agent \S+, listings per minute\s+\d+ \/ 30\s/);
    // The call budgets' table names calls only.
    const calls = await aldo.page.getByTestId('call-budgets').innerText();
    expect(calls).toContain('calls per minute');
    expect(calls).not.toContain('listings');
    expect(aldo.problems).toEqual([]);
  });
  it('shows the audit trail with every character visible, no markup run, within the window', async () => {
    await aldo.page.goto(`${app.origin}/#/tenants/${TENANT}/evidence`);
    await aldo.page.getByTestId('audit-table').locator('tbody tr').nth(3).waitFor();
    const table = await shown('[data-testid="audit-table"]');
    expect(table.pwned).toBe(false);
    expect(table.text).toContain('<img src=x onerror="window.pwned=1">records');
    expect(table.text).not.toMatch(INVISIBLE);
    // The override, the zero-width space and the word joiner are named where they stand.
    expect(table.text).toContain('U+202E');
    expect(table.text).toContain('records[U+200B]_list[U+2060][U+3164]');
    expect(table.text).toContain('<b id="bold">olivia</b>');
    expect(table.fits).toBe(true);
    // The report's reason quotes what the probe saw: the override is named there too.
    const report = await shown('main section');
    expect(report.text).toContain('[U+202E]ssap :si tluser eht[U+2066]');
    expect(report.text).not.toMatch(INVISIBLE);
  });
});
