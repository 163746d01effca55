// The console end to end: the real stack (Redis, the Docker engine, the development IdP, a router
// and a supervisor), the console signing people in through the IdP's own pages in Debian's chromium
// (playwright-core), a real MCP client as the tenant's agent. Each page is checked with axe-core and
// photographed for docs/console.md; the browser must report no Content-Security-Policy violation.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client } from '@modelcontextprotocol/client';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../console/http/http-kit.ts';
import { EvidenceStore } from '../../tenants/control-plane/evidence.ts';
import { verifyTenant } from '../../tenants/control-plane/verify.ts';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { PLAN_QUOTAS } from '../../kernel/tenant/tenant-spec.ts';
import { Redis } from 'ioredis';
import pino from 'pino';
import { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { ensureAuditKeys } from '../../tenants/control-plane/audit-segments.ts';
import { readTrail, type SealedSource } from '../../tenants/control-plane/audit-history.ts';
import { callEvent } from '../support/audit-harness.ts';
import { agentClient, write } from '../support/mcp-client.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';
import {
  axeViolations,
  launchChromium,
  signIn,
  startTestConsole,
  type BrowserUser,
} from '../support/console-harness.ts';
import { withholdTool } from '../support/withheld-tools.ts';
import { until } from '../support/until.ts';

const TENANT = 'acme';
const IMG = (name: string): string => fileURLToPath(new URL(`../../docs/img/${name}.png`, import.meta.url));

let stack: TestStack;
let consoleApp: Awaited<ReturnType<typeof startTestConsole>>;
let browser: Browser;
let agent: Client;
let redis: Redis;
let audit: AuditTrail;
let sealed: SealedSource;
/** The tenant's whole trail, its sealed segments and what Redis still holds, as the console reads it. */
const wholeTrail = () => readTrail({ trail: audit, tenant: TENANT, sealed });

/** No serious or critical axe violations on the page as shown now. */
async function expectAccessible(user: BrowserUser): Promise<void> {
  const violations = await axeViolations(user.page);
  expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
}

beforeAll(async () => {
  stack = await startTestStack('console', {
    users: [
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
    ],
    router: { metricsPort: 0 },
    supervisor: { metricsPort: 0 },
    routeFreshnessMs: 0,
  });
  await stack.onboard(TENANT);
  // globex keeps its plan's quotas (the others get budgets no test reaches): its use shows.
  await stack.onboard('globex', { quotas: PLAN_QUOTAS.small });
  redis = new Redis(stack.ns.installation.redis);
  audit = new AuditTrail({ redis, prefix: stack.ns.installation.registryPrefix });
  const evidence = new EvidenceStore({ redis, prefix: stack.ns.installation.registryPrefix });
  await verifyTenant({ registry: stack.registry, runtimes: stack.runtimes, evidence }, TENANT);
  const keys = await ensureAuditKeys(join(stack.ns.runDir, 'audit-keys'));
  const auditDir = join(stack.ns.runDir, 'audit');
  sealed = { root: auditDir, publicKey: createPublicKey(await readFile(keys.publicKeyFile, 'utf8')) };
  consoleApp = await startTestConsole(stack, {
    metricsTargets: [stack.router.metricsUrl!, stack.supervisor.metricsUrl!],
    scrapeIntervalMs: 3_600_000,
    audit: { dir: auditDir, publicKeyFile: keys.publicKeyFile },
  });
  agent = await agentClient(stack, TENANT);
  // Traffic for the charts and the audit trail, between scrapes: writes, reads, a failing read.
  await consoleApp.scrape();
  for (let round = 0; round < 3; round++) {
    const writes = round === 1 ? 3 : 1;
    for (let i = 0; i < writes; i++) {
      expect((await write(agent, `r${round}-${i}`)).ok).toBe(true);
    }
    expect((await agent.callTool({ name: 'records_list', arguments: {} })).isError).toBeFalsy();
    const missing = await agent.callTool({ name: 'records_get', arguments: { id: 'no-such-record' } });
    expect(missing.isError).toBe(true);
    await consoleApp.scrape();
  }
  // The supervisor's sealer moves what the trail holds so far into signed segments, four entries each.
  await new AuditSealer({
    trail: audit,
    tenants: stack.registry,
    dir: auditDir,
    privateKey: createPrivateKey(await readFile(keys.signingKeyFile, 'utf8')),
    maxEntries: 4,
    logger: pino({ level: 'silent' }),
  }).seal(TENANT);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await agent?.close();
  await consoleApp?.close();
  redis?.disconnect();
  await stack?.close();
});

describe('console', () => {
  it('serves a strict Content-Security-Policy and refuses the API without a session', async () => {
    const page = await fetch(consoleApp.url);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect((await fetch(`${consoleApp.url}/api/tenants`)).status).toBe(401);
  });

  describe('an auditor', () => {
    let aldo: BrowserUser;
    beforeAll(async () => {
      aldo = await signIn(browser, consoleApp.url, 'aldo');
    }, 60_000);
    afterAll(() => aldo?.context.close());

    it('signs in and sees every tenant', async () => {
      expect(await aldo.page.getByTestId('role').textContent()).toBe('auditor');
      const table = aldo.page.getByRole('table');
      await table.getByRole('link', { name: TENANT }).waitFor();
      expect(await table.getByRole('link', { name: 'globex' }).count()).toBe(1);
      await expectAccessible(aldo);
      await aldo.page.screenshot({ path: IMG('console-tenants') });
      // The page runs with nothing blocked; an inline script (added here through the DevTools
      // protocol) is blocked by the served policy, and the harness sees that violation.
      expect(aldo.problems).toEqual([]);
      await aldo.page.evaluate(
        "const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.body.append(s)",
      );
      await until(() => aldo.problems.length > 0, 'the browser to report the injected script');
      expect(await aldo.page.evaluate('window.injected')).toBeUndefined();
      aldo.problems.length = 0;
    });

    it("opens a tenant's evidence: the verify report control by control, and the audit chain verified", async () => {
      await aldo.page.goto(`${consoleApp.url}/#/tenants/${TENANT}/evidence`);
      const summary = aldo.page.getByTestId('report-summary');
      await summary.waitFor();
      expect(await summary.textContent()).toMatch(/pass\s+\d+ of \d+ checks pass/);
      const controls = aldo.page.getByRole('table', { name: 'Controls' }).getByRole('row');
      expect(await controls.count()).toBeGreaterThan(10);
      expect(
        await aldo.page
          .getByRole('row', { name: /no network/i })
          .first()
          .textContent(),
      ).toMatch(/pass/);
      const chain = aldo.page.getByTestId('chain-status');
      await chain.getByText('intact').waitFor();
      const { chain: check } = await wholeTrail();
      const { entries, segments } = check.sealed!;
      expect(segments).toBeGreaterThan(1);
      expect(await chain.textContent()).toContain(
        `${check.entries} entries (${entries} sealed in ${segments} signed segments, the rest still in Redis)`,
      );
      const table = aldo.page.getByTestId('audit-table');
      expect(await table.getByRole('row').count()).toBe(check.entries + 1);
      expect(await table.getByRole('cell', { name: 'segment 1', exact: true }).count()).toBe(4);
      expect(await table.getByRole('cell', { name: 'Redis', exact: true }).count()).toBe(
        check.entries - entries,
      );
      await expectAccessible(aldo);
      await aldo.page.screenshot({ path: IMG('console-evidence') });
    });

    it('filters the audit trail and exports it as JSON lines', async () => {
      await aldo.page.getByLabel('Decision').selectOption('permit');
      await aldo.page.getByLabel('Tool').fill('records_create');
      await aldo.page.getByLabel('Tool').press('Tab');
      await aldo.page.getByText(/^5 of \d+ entries$/).waitFor();
      const href = await aldo.page.getByRole('link', { name: 'Export JSON lines' }).getAttribute('href');
      expect(href).toBe(`/api/tenants/${TENANT}/audit.jsonl?decision=permit&tool=records_create`);
      const exported = await aldo.page.evaluate(async (path) => {
        const response = await fetch(path);
        return { chain: response.headers.get('x-audit-chain'), text: await response.text() };
      }, href!);
      const lines = exported.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { decision: string; tool: string; hash: string });
      expect(lines.map((e) => [e.tool, e.decision])).toEqual(new Array(5).fill(['records_create', 'permit']));
      const stored = (await wholeTrail()).entries.filter((e) => e.tool === 'records_create');
      expect(stored.some((e) => e.segment !== undefined)).toBe(true);
      expect(lines.map((e) => e.hash)).toEqual(stored.map((e) => e.hash));
      expect(exported.chain).toMatch(/^intact; \d+ entries; head [0-9a-f]{64}$/);
    });

    it('is offered no action, a forged POST with a valid CSRF token is refused and audited, and a malformed link shown as such', async () => {
      await aldo.page.goto(`${consoleApp.url}/#/tenants/${TENANT}`);
      await aldo.page.getByTestId('read-only').waitFor();
      // The failing reads of the setup (a malformed id) are among the recent errors, with their code.
      await aldo.page
        .getByRole('cell', { name: /^invalid_arguments: / })
        .first()
        .waitFor();
      expect(await aldo.page.getByRole('button', { name: 'Suspend' }).count()).toBe(0);
      await expectAccessible(aldo);
      await aldo.page.screenshot({ path: IMG('console-auditor') });
      const answer = await aldo.page.evaluate(async (tenant) => {
        const me = (await (await fetch('/api/me')).json()) as { csrf: string };
        const response = await fetch(`/api/tenants/${tenant}/actions/suspend`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf },
          body: JSON.stringify({ reason: 'I would like to' }),
        });
        return { status: response.status, body: (await response.json()) as { error: string } };
      }, TENANT);
      expect(answer).toEqual({ status: 403, body: expect.objectContaining({ error: 'role_required' }) });
      expect((await stack.registry.require(TENANT)).status).toBe('active');
      const last = (await audit.entries(TENANT)).at(-1);
      expect(last).toMatchObject({ user: 'console:aldo', tool: 'operator/suspend', decision: 'deny' });
      // A link anyone can send, its tenant a malformed escape: followed, then opened afresh.
      await aldo.page.goto(`${consoleApp.url}/#/tenants/%E0%A4%A`);
      await aldo.page.reload();
      await aldo.page.getByText('not a tenant id').waitFor();
      expect(aldo.problems).toEqual([]);
    });
  });

  describe('an operator', () => {
    let olivia: BrowserUser;
    beforeAll(async () => {
      olivia = await signIn(browser, consoleApp.url, 'olivia');
    }, 60_000);
    afterAll(() => olivia?.context.close());

    it('is refused an action without the CSRF token, or from another origin', async () => {
      const refused = await olivia.page.evaluate(async (tenant) => {
        const response = await fetch(`/api/tenants/${tenant}/actions/recycle`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'no token' }),
        });
        return { status: response.status, body: (await response.json()) as { error: string } };
      }, TENANT);
      expect(refused).toEqual({ status: 403, body: expect.objectContaining({ error: 'csrf_rejected' }) });
      const cookies = await olivia.context.cookies(consoleApp.url);
      const session = cookies.find((c) => c.name === 'bulkhead_console');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      const me = (await olivia.page.evaluate(async () => (await fetch('/api/me')).json())) as {
        csrf: string;
      };
      const crossSite = await fetch(`${consoleApp.url}/api/tenants/${TENANT}/actions/recycle`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          cookie: `bulkhead_console=${session!.value}`,
          'x-csrf-token': me.csrf,
          origin: 'http://evil.example',
        },
        body: JSON.stringify({ reason: 'cross-site' }),
      });
      expect(crossSite.status).toBe(403);
      expect(((await crossSite.json()) as { error: string }).error).toBe('csrf_rejected');
    });

    it("shows a tenant's live use of its quotas", async () => {
      const globex = await agentClient(stack, 'globex');
      for (let i = 0; i < 5; i++) expect((await write(globex, `g${i}`)).ok).toBe(true);
      await globex.close();
      const { tenants } = (await olivia.page.evaluate(async () => (await fetch('/api/tenants')).json())) as {
        tenants: { id: string; usage: { layer: string; used: number; limit: number }[] }[];
      };
      const usage = tenants.find((t) => t.id === 'globex')?.usage;
      // Per day, a call takes 8.6 s to replenish (GCRA): all five are still in use.
      expect(usage?.find((u) => u.layer === 'tenant_day')).toMatchObject({ used: 5, limit: 10_000 });
      expect(usage?.find((u) => u.layer === 'tenant_minute')).toMatchObject({ limit: 60 });
      // In full: every layer in use, the agent's share among them.
      const detail = (await olivia.page.evaluate(async () =>
        (await fetch('/api/tenants/globex')).json(),
      )) as {
        quotaLayers: { layer: string; limit: number }[];
      };
      expect(detail.quotaLayers.map((l) => l.layer)).toEqual(
        expect.arrayContaining(['tenant_minute', 'tenant_day', 'agent']),
      );
      // A router's drift check withholds one of its tools (its entry in the routers' shared set).
      const undo = await withholdTool(
        redis,
        stack.ns.installation.registryPrefix,
        'globex',
        'records_update',
      );
      await olivia.page.goto(`${consoleApp.url}/#/tenants/globex`);
      const withheld = olivia.page.getByRole('region', { name: 'Withheld for drift' });
      expect(await withheld.getByRole('row', { name: /records_update/ }).textContent()).toContain('changed');
      await undo();
    });

    it('sees the charts drawn from the scraped metrics', async () => {
      await olivia.page.goto(`${consoleApp.url}/#/charts`);
      await olivia.page.locator('figure canvas').first().waitFor();
      expect(await olivia.page.locator('figure canvas').count()).toBe(4);
      const legends = olivia.page.locator('.u-legend');
      for (const tool of ['records_create', 'records_list', 'records_get'])
        expect(await legends.nth(0).textContent()).toContain(tool);
      // Only the failing reads were errors.
      expect(await legends.nth(1).textContent()).toContain('records_get');
      expect(await legends.nth(1).textContent()).not.toContain('records_create');
      expect(await legends.nth(3).textContent()).toContain(TENANT);
      await expectAccessible(olivia);
      await olivia.page.screenshot({ path: IMG('console-charts') });
    });

    it("suspends a tenant with a reason, and the agent's next call is refused", async () => {
      await olivia.page.goto(`${consoleApp.url}/#/tenants/${TENANT}`);
      await olivia.page.getByRole('button', { name: 'Suspend' }).click();
      expect(await olivia.page.getByTestId('action-status').textContent()).toContain('Give a reason');
      expect((await stack.registry.require(TENANT)).status).toBe('active');
      await olivia.page
        .getByLabel('Reason (recorded in the audit trail)')
        .fill('ticket SEC-42: leaked agent key');
      await olivia.page.getByRole('button', { name: 'Suspend' }).click();
      await olivia.page.getByTestId('action-status').getByText('suspend: done').waitFor({ timeout: 60_000 });
      await olivia.page.getByTestId('status').getByText('suspended').waitFor();
      expect((await stack.registry.require(TENANT)).status).toBe('suspended');
      const entry = (await audit.entries(TENANT)).find(
        (e) => e.tool === 'operator/suspend' && e.decision === 'permit',
      );
      expect(entry).toMatchObject({ user: 'console:olivia', reason: 'ticket SEC-42: leaked agent key' });
      const change = (await stack.registry.history(TENANT)).at(-1);
      expect(change).toMatchObject({
        actor: 'console:olivia',
        reason: 'suspend: ticket SEC-42: leaked agent key',
      });
      await expectAccessible(olivia);
      await olivia.page.screenshot({ path: IMG('console-tenant') });
      // The router caches a tenant's record for up to 2 s: the refusal comes within that.
      let result = await agent.callTool({ name: 'records_list', arguments: {} });
      for (let i = 0; i < 30 && !result.isError; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        result = await agent.callTool({ name: 'records_list', arguments: {} });
      }
      expect(result.isError).toBe(true);
      expect(result.structuredContent).toMatchObject({
        error: { error_class: 'authorization', code: 'tenant_suspended' },
      });
      expect(olivia.problems).toEqual([]);
    });

    it('resumes, recycles the runtime and runs verify again, each audited with who and why', async () => {
      const act = async (button: string, reason: string, done: string): Promise<void> => {
        await olivia.page.getByLabel('Reason (recorded in the audit trail)').fill(reason);
        await olivia.page.getByRole('button', { name: button }).click();
        await olivia.page.getByTestId('action-status').getByText(done).waitFor({ timeout: 90_000 });
      };
      await act('Resume', 'SEC-42 closed', 'resume: done');
      expect((await stack.registry.require(TENANT)).status).toBe('active');
      const before = await stack.runtimes.inspect(TENANT);
      await act('Recycle runtime', 'rotate after the incident', 'recycle: done');
      const after = await stack.runtimes.inspect(TENANT);
      expect(after?.runtimeId).toBeDefined();
      expect(after?.runtimeId).not.toBe(before?.runtimeId);
      await olivia.page.goto(`${consoleApp.url}/#/tenants/${TENANT}/evidence`);
      const checkedBefore = await olivia.page.getByTestId('report-summary').textContent();
      await act('Run verify again', 'quarterly review', 'verify: done');
      await expect
        .poll(() => olivia.page.getByTestId('report-summary').textContent())
        .not.toBe(checkedBefore);
      const operations = (await audit.entries(TENANT))
        .filter((e) => e.tool.startsWith('operator/') && e.decision === 'permit')
        .map((e) => [e.user, e.tool, e.reason]);
      expect(operations).toEqual([
        ['console:olivia', 'operator/suspend', 'ticket SEC-42: leaked agent key'],
        ['console:olivia', 'operator/resume', 'SEC-42 closed'],
        ['console:olivia', 'operator/recycle', 'rotate after the incident'],
        ['console:olivia', 'operator/verify', 'quarterly review'],
      ]);
      expect((await audit.verify(TENANT)).ok).toBe(true);
      expect(olivia.problems).toEqual([]);
    });

    it('pages a long audit trail back from the newest entries it shows', async () => {
      await Promise.all(Array.from({ length: 205 }, () => audit.append(callEvent(TENANT, 'paging_probe'))));
      await olivia.page.goto(`${consoleApp.url}/#/tenants/${TENANT}/evidence`);
      await olivia.page.getByLabel('Tool').fill('paging_probe');
      await olivia.page.getByLabel('Tool').press('Tab');
      const table = olivia.page.getByTestId('audit-table');
      await olivia.page.getByText(/^205 of \d+ entries, 200 shown \(seq \d+ to \d+\)$/).waitFor();
      await olivia.page.getByRole('button', { name: 'Older entries (5)' }).click();
      await olivia.page.getByText(/^205 of \d+ entries, 5 shown \(seq \d+ to \d+\)$/).waitFor();
      expect(await table.getByRole('row').count()).toBe(6);
      await expectAccessible(olivia);
      await olivia.page.getByRole('button', { name: 'Newest entries' }).click();
      await olivia.page.getByText(/, 200 shown /).waitFor();
      expect(olivia.problems).toEqual([]);
    });
  });
});
