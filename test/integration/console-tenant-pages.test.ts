// The console's tenant list a page at a time: a page inspects the runtimes of its own tenants only
// (each inspection a supervisor job on the Docker engine), and the page walks the list with the
// cursors the server hands out. The real console, supervisor, Docker engine, Redis and development
// IdP, and Debian's chromium.
import { Queue } from 'bullmq';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { RUNTIME_QUEUE } from '../../supervisor/client/runtime-jobs.ts';
import type { RunningConsole } from '../../console/console-server.ts';
import { launchChromium, signIn, startTestConsole, type BrowserUser } from '../support/console-harness.ts';
import { startTestStack, type TestStack } from '../support/stack.ts';

/** Seven tenants, `acme` with a runtime; pages of three. */
const IDS = ['acme', 'beta', 'cosmo', 'delta', 'echo', 'foxtrot', 'gamma'];
const PAGE = 3;

interface Page {
  tenants: { id: string; runtime: { state: string } | null }[];
  total: number;
  from: number;
  next: string | null;
  previous: string | null;
}

let stack: TestStack;
let app: RunningConsole & { origin: string };
let browser: Browser;
let aldo: BrowserUser;
let jobs: Queue;

beforeAll(async () => {
  stack = await startTestStack('console-pages', { users: [{ id: 'aldo', roles: ['auditor'] }] });
  await stack.onboard('acme');
  for (const id of IDS.slice(1))
    await stack.registry.create({ id, plan: planByName('small'), isolation: 'runc' });
  app = await startTestConsole(stack, { tenantsPageSize: PAGE });
  jobs = new Queue(RUNTIME_QUEUE, {
    connection: { ...stack.ns.installation.redis, maxRetriesPerRequest: null },
    prefix: stack.ns.installation.jobsPrefix,
  });
  browser = await launchChromium();
  aldo = await signIn(browser, app.origin, 'aldo');
  // The page the sign-in lands on has loaded its list: its inspections are done before a test counts.
  await aldo.page.getByRole('table').locator('caption').waitFor();
}, 120_000);

afterAll(async () => {
  await aldo?.context.close();
  await browser?.close();
  await jobs?.close();
  await app?.close();
  await stack?.close();
});

/** The tenants of every inspect job the supervisor has done so far, by job id. */
async function inspections(): Promise<Map<string, string>> {
  const done = await jobs.getJobs(['completed', 'failed']);
  return new Map(
    done.filter((j) => j.name === 'inspect').map((j) => [j.id!, (j.data as { tenantId: string }).tenantId]),
  );
}

/** GET `path` of the API in aldo's signed-in page: its status and body. */
async function api(path: string): Promise<{ status: number; body: unknown }> {
  return aldo.page.evaluate(async (p) => {
    const response = await fetch(p);
    return { status: response.status, body: await response.json() };
  }, path);
}

describe("the console's tenant list", () => {
  it('answers a page and inspects the runtimes of its tenants only', async () => {
    const before = await inspections();
    const { status, body } = await api('/api/tenants');
    expect(status).toBe(200);
    const page = body as Page;
    expect(page).toMatchObject({ total: IDS.length, from: 1, previous: null });
    expect(page.tenants.map((t) => t.id)).toEqual(IDS.slice(0, PAGE));
    // Looked at on the engine: acme's container runs, the others have none.
    expect(page.tenants.map((t) => t.runtime?.state ?? 'none')).toEqual(['running', 'none', 'none']);
    const asked = [...(await inspections())].filter(([id]) => !before.has(id)).map(([, t]) => t);
    expect(asked.sort()).toEqual(IDS.slice(0, PAGE));

    const last = (await api(`/api/tenants?cursor=${encodeURIComponent(page.next!)}&limit=3`)).body as Page;
    expect(last.tenants.map((t) => t.id)).toEqual(IDS.slice(PAGE, 2 * PAGE));
    expect(last.from).toBe(PAGE + 1);
  });

  it('refuses a page larger than its bound and a cursor it did not hand out', async () => {
    for (const query of [`limit=${PAGE + 1}`, 'limit=0', 'cursor=bm90LWEtY3Vyc29y', 'cursor=%7B%7D'])
      expect(await api(`/api/tenants?${query}`)).toMatchObject({
        status: 400,
        body: { error: 'invalid_input' },
      });
  });

  it('walks the pages forward and back in the browser', async () => {
    const { page } = aldo;
    const table = page.getByRole('table');
    const caption = async (): Promise<string> => (await table.locator('caption').textContent())!.trim();
    const rows = async (): Promise<string[]> => table.locator('tbody th').allTextContents();
    const shows = async (text: string): Promise<void> =>
      table.locator('caption', { hasText: text }).waitFor();
    const next = page.getByRole('button', { name: 'Next tenants' });
    const previous = page.getByRole('button', { name: 'Previous tenants' });

    await shows('Tenants 1 to 3 of 7');
    expect(await rows()).toEqual(IDS.slice(0, 3));
    expect(await previous.count()).toBe(0);
    await next.click();
    await shows('Tenants 4 to 6 of 7');
    expect(await rows()).toEqual(IDS.slice(3, 6));
    await next.click();
    await shows('Tenants 7 to 7 of 7');
    expect(await rows()).toEqual(['gamma']);
    expect(await next.count()).toBe(0);
    await previous.click();
    await shows('Tenants 4 to 6 of 7');
    await previous.click();
    await shows('Tenants 1 to 3 of 7');
    expect([await caption(), await previous.count()]).toEqual(['Tenants 1 to 3 of 7', 0]);
    expect(await rows()).toEqual(IDS.slice(0, 3));
    expect(aldo.problems).toEqual([]);
  });
});
