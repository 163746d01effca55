// A console whose Redis is down (stopped, its socket gone, as in a restart or an outage; not frozen,
// which console-export-deadline.test.ts covers) answers every API route, the sign-out and an action
// state_unavailable (HTTP 503, retry), never internal (500), and serves again once Redis is back. A
// redis-server of the test's own (private-redis.ts), kept on disk across the stop; the real console
// and development IdP.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { UNAVAILABLE } from '../../console/auth/auth-routes.ts';
import { escapeHtml } from '../../console/http/http-kit.ts';
import { signInAtAuthorizationUrl } from '../../dev/idp/dev-user-login.ts';
import {
  actionHeaders,
  signInByFetch,
  startConsoleAlone,
  type ConsoleAlone,
} from '../support/console-alone.ts';
import { startPrivateRedis, type PrivateRedis } from '../support/private-redis.ts';
import { until } from '../support/until.ts';

const TENANT = 'acme';

let server: PrivateRedis;
let running: ConsoleAlone;
let redis: Redis;
let registry: TenantRegistry;
/** The operator's signed-in request headers: session cookie, CSRF token, the console's origin. */
let headers: Record<string, string>;

beforeAll(async () => {
  const password = randomBytes(12).toString('hex');
  server = await startPrivateRedis({
    name: 'console-redis-down',
    password,
    unixSocket: true,
    persistent: true,
  });
  running = await startConsoleAlone({
    name: 'console-redis-down',
    users: [{ id: 'olivia', roles: ['operator'] }],
    redisUrl: `unix://:${password}@localhost${server.socketPath!}`,
  });
  redis = new Redis(running.ns.installation.redis);
  redis.on('error', () => undefined);
  registry = new TenantRegistry({ redis, prefix: running.ns.installation.registryPrefix });
  await registry.create({ id: TENANT, plan: planByName('small'), isolation: 'runc' });
  ({ headers } = await actionHeaders(running, 'olivia'));
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await running?.close();
  await server?.stop();
}, 60_000);

/** Every route the console serves under /api, an action, and the sign-out. */
const ROUTES: [method: string, path: string][] = [
  ['GET', '/api/me'],
  ['GET', '/api/tenants'],
  ['GET', `/api/tenants/${TENANT}`],
  ['GET', `/api/tenants/${TENANT}/evidence`],
  ['GET', `/api/tenants/${TENANT}/audit`],
  ['GET', `/api/tenants/${TENANT}/audit.jsonl`],
  ['GET', '/api/metrics'],
  ['POST', `/api/tenants/${TENANT}/actions/suspend`],
  ['POST', '/auth/logout'],
];

async function answer(
  method: string,
  path: string,
): Promise<{ route: string; status: number; error: unknown }> {
  const res = await fetch(`${running.app.url}${path}`, {
    method,
    headers,
    ...(method === 'POST' ? { body: JSON.stringify({ reason: 'while Redis is down' }) } : {}),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { error?: unknown };
  return { route: `${method} ${path}`, status: res.status, error: body.error };
}

describe('the console while its Redis is down', () => {
  it('answers every route state_unavailable, and serves the same session once Redis is back', async () => {
    await server.halt();
    try {
      const answers = await Promise.all(ROUTES.map(([method, path]) => answer(method, path)));
      expect(answers).toEqual(
        ROUTES.map(([method, path]) => ({
          route: `${method} ${path}`,
          status: 503,
          error: 'state_unavailable',
        })),
      );
    } finally {
      await server.resume();
    }
    // Nothing was done meanwhile: the session is open, the tenant not suspended.
    await until(async () => (await answer('GET', '/api/me')).status === 200, 'the console to answer /api/me');
    expect((await registry.require(TENANT)).status).toBe('active');
  }, 90_000);
});

describe('a sign-in whose callback meets Redis down', () => {
  it('answers 503 with a page that says to try again, and a new sign-in succeeds once Redis is back', async () => {
    const { origin } = running;
    const start = await fetch(`${origin}/auth/login`, { redirect: 'manual' });
    const pending = start.headers.getSetCookie()[0]!.split(';')[0]!;
    const back = await signInAtAuthorizationUrl(new URL(start.headers.get('location')!), {
      redirectUri: `${origin}/auth/callback`,
      login: 'olivia',
    });
    await server.halt();
    let done: Response;
    try {
      done = await fetch(back, { headers: { cookie: pending }, signal: AbortSignal.timeout(30_000) });
    } finally {
      await server.resume();
    }
    expect(done.status).toBe(503);
    expect(done.headers.get('content-type')).toMatch(/^text\/html/);
    expect(done.headers.get('retry-after')).toBe('5');
    const page = await done.text();
    expect(page).toContain(escapeHtml(UNAVAILABLE));
    expect(page).toContain('href="/auth/login"');
    // No session cookie was handed out.
    expect(done.headers.getSetCookie().some((c) => /^bulkhead_console=[^;]/.test(c))).toBe(false);
    // Once the console's client is connected again (its own back-off), a new sign-in opens a session.
    await expect
      .poll(() => signInByFetch(origin, 'olivia').catch(() => 'failed'), { timeout: 15_000 })
      .toMatch(/^bulkhead_console=/);
  }, 90_000);
});
