// A tenant cannot make a row of its audit trail pass for an operator's action in the console. Its
// own IdP may sign any user, `console:aldo` among them, and its agent may ask for a tool named
// `operator/suspend`: the router records that refused call as it came, user and tool alike, next to
// the rows the console writes for an action asked in it (`console:<sub>`, `operator/<action>`).
// Only the control plane writes `kind: "operator"`, which the chain's hash covers; the page marks
// those rows "console action", and the look-alike has kind "call". The real router, IdP (signing the
// tenant's `console:aldo`), console and audit trail; Debian's chromium reads the pages.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { launchChromium, signIn, startTestConsole, type BrowserUser } from '../support/console-harness.ts';
import { signInByFetch } from '../support/console-alone.ts';
import { bearerClient } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

const TENANT = 'acme';
/** The console's auditor, and the tenant's user its IdP signs under the name the console gives aldo. */
const LOOK_ALIKE = 'console:aldo';
const MARK = 'console action';

let stack: TestStack;
let app: Awaited<ReturnType<typeof startTestConsole>>;
let browser: Browser;
let aldo: BrowserUser;

beforeAll(async () => {
  stack = await startTestStack('console-operator-rows', {
    users: [
      { id: 'aldo', roles: ['auditor'] },
      { id: 'olivia', roles: ['operator'] },
      { id: LOOK_ALIKE, tenant: TENANT, roles: ['viewer'] },
    ],
  });
  await stack.registry.create({ id: TENANT, plan: planByName('small'), isolation: 'runc' });
  // The tenant's own user, named as the console names aldo, asks for the console's action's name.
  const user = await bearerClient(stack.mcpUrl, await stack.userToken(LOOK_ALIKE, { tenant: TENANT }));
  await user
    .callTool({ name: 'operator/suspend', arguments: { reason: 'I would like to' } })
    .catch(() => undefined);
  await user.close();
  app = await startTestConsole(stack);
  browser = await launchChromium();
  aldo = await signIn(browser, app.origin, 'aldo');
  // The auditor asks for the same action (refused, recorded), then the operator does it.
  const refused = await aldo.page.evaluate(async (tenant) => {
    const me = (await (await fetch('/api/me')).json()) as { csrf: string };
    const response = await fetch(`/api/tenants/${tenant}/actions/suspend`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf },
      body: JSON.stringify({ reason: 'I would like to' }),
    });
    return response.status;
  }, TENANT);
  expect(refused).toBe(403);
  const cookie = (await signInByFetch(app.origin, 'olivia')).split(';')[0]!;
  const me = (await (await fetch(`${app.url}/api/me`, { headers: { cookie } })).json()) as { csrf: string };
  const done = await fetch(`${app.url}/api/tenants/${TENANT}/actions/suspend`, {
    method: 'POST',
    headers: { cookie, origin: app.origin, 'x-csrf-token': me.csrf, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'ticket SEC-7' }),
  });
  expect(done.status).toBe(200);
}, 120_000);

afterAll(async () => {
  await aldo?.context.close();
  await browser?.close();
  await app?.close();
  await stack?.close();
});

/** The text of each row of the table in `selector` that names `operator/suspend`, oldest first. */
async function rowsNaming(selector: string): Promise<string[]> {
  const rows = await aldo.page.locator(`${selector} tbody tr`).allInnerTexts();
  return rows.filter((text) => text.includes('operator/suspend')).map((text) => text.replace(/\s+/g, ' '));
}

describe("a tenant's look-alike of an operator's row", () => {
  it('is recorded as a call, and the console records its own rows as operator actions', async () => {
    const exported = await aldo.page.evaluate(async (tenant) => {
      const text = await (await fetch(`/api/tenants/${tenant}/audit.jsonl`)).text();
      return text.trim().split('\n');
    }, TENANT);
    const entries = exported
      .map(
        (line) =>
          JSON.parse(line) as { user: string; tool: string; decision: string; reason: string; kind?: string },
      )
      .filter((e) => e.tool === 'operator/suspend');
    // The router refused the tenant's call as a tool it does not have, and recorded it as it came.
    expect(entries[0]?.reason).toBe('unknown_tool');
    const rows = entries.map(({ user, decision, kind }) => ({ user, decision, kind }));
    expect(rows).toEqual([
      { user: LOOK_ALIKE, decision: 'deny', kind: 'call' },
      { user: LOOK_ALIKE, decision: 'deny', kind: 'operator' },
      { user: 'console:olivia', decision: 'permit', kind: 'operator' },
    ]);
  });

  it("is not marked as the console's in the audit trail the page shows", async () => {
    await aldo.page.goto(`${app.origin}/#/tenants/${TENANT}/evidence`);
    await aldo.page.getByTestId('audit-table').locator('tbody tr').nth(2).waitFor();
    const rows = await rowsNaming('[data-testid="audit-table"]');
    // Newest first: the operator's suspend, the auditor's refused one, the tenant's call.
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain(`${MARK} console:olivia`);
    expect(rows[1]).toContain(`${MARK} ${LOOK_ALIKE}`);
    expect(rows[1]).toContain('refused: role auditor may not act');
    expect(rows[2]).toContain(LOOK_ALIKE);
    expect(rows[2]).not.toContain(MARK);
    // The kind is in every entry's hash: the chain with it checks as before.
    expect(await aldo.page.getByTestId('chain-status').innerText()).toMatch(
      /^Chain:\s*intact 3 entries .*every hash and link checked/,
    );
    expect(aldo.problems).toEqual([]);
  });

  it("is not marked as the console's among the tenant's recent refusals", async () => {
    await aldo.page.goto(`${app.origin}/#/tenants/${TENANT}`);
    await aldo.page.getByRole('heading', { name: 'Recent errors and refusals' }).waitFor();
    await aldo.page.locator('section[aria-labelledby="errors"] tbody tr').nth(1).waitFor();
    const rows = await rowsNaming('section[aria-labelledby="errors"]');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain(`${MARK} ${LOOK_ALIKE}`);
    expect(rows[1]).toContain(LOOK_ALIKE);
    expect(rows[1]).not.toContain(MARK);
  });
});
