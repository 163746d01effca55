// A console page shows only what was read for the tenant it names. The page is one document whose
// hash names the tenant (#/tenants/<id>/evidence): going from one tenant's page to another's (a link
// opened in the same tab, the address bar) keeps the page and gives it the new id, and it used to
// keep the previous tenant's answer on screen under the new tenant's name until the new one came
// (a trail's check takes seconds on a long trail), and for good when the new one failed. The real
// console, development IdP and Redis, and Debian's chromium.
import { Redis } from 'ioredis';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { EvidenceStore } from '../../tenants/control-plane/evidence.ts';
import { launchChromium, signIn, type BrowserUser } from '../support/console-harness.ts';
import { startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

let running: ConsoleAlone;
let redis: Redis;
let browser: Browser;
let aldo: BrowserUser;

beforeAll(async () => {
  running = await startConsoleAlone({ name: 'console-stale', users: [{ id: 'aldo', roles: ['auditor'] }] });
  redis = new Redis(running.ns.installation.redis);
  const prefix = running.ns.installation.registryPrefix;
  const acme = await new TenantRegistry({ redis, prefix }).create({
    id: 'acme',
    plan: planByName('small'),
    isolation: 'runc',
  });
  await new EvidenceStore({ redis, prefix }).save(
    {
      tenantId: 'acme',
      runtimeId: null,
      isolation: 'runc',
      checkedAt: new Date().toISOString(),
      pass: false,
      checks: [
        { id: 'probe.socket-dir', control: 'socket directory', source: 'probe', pass: false, why: 'acme' },
      ],
    },
    acme.createdAt,
  );
  browser = await launchChromium();
  aldo = await signIn(browser, running.origin, 'aldo');
}, 60_000);

afterAll(async () => {
  await aldo?.context.close();
  await browser?.close();
  redis?.disconnect();
  await running?.close();
});

describe("a tenant's page opened from another's", () => {
  it("shows the new tenant's answer, never the previous tenant's under its name", async () => {
    const { page } = aldo;
    await page.goto(`${running.origin}/#/tenants/acme/evidence`);
    await expect(page.getByTestId('report-summary').textContent()).resolves.toContain('0 of 1 checks pass');
    // No tenant `ghost`: its evidence is refused (404), and nothing of acme's may stand in for it.
    await page.evaluate(`location.hash = '#/tenants/ghost/evidence'`);
    await page.getByRole('heading', { name: 'Evidence for ghost' }).waitFor();
    // Both of the page's sections are refused, each saying so: the report, and the audit trail
    // (docs/console.md: a tenant without a record has no trail the console reads).
    await page.getByRole('alert').nth(1).waitFor();
    const alerts = await page.getByRole('alert').allTextContents();
    expect(alerts).toHaveLength(2);
    for (const alert of alerts) expect(alert).toContain('no tenant "ghost"');
    // Before: acme's report ("FAIL 0 of 1 checks pass" and its controls) stayed under ghost's name.
    expect(await page.getByTestId('report-summary').count()).toBe(0);
    expect(await page.getByRole('table', { name: 'Controls' }).count()).toBe(0);
    expect(aldo.problems).toEqual([]);
  });
});
