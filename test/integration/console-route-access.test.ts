// Every route of the console's API, tried by each who may not use it: a browser with no session or
// a session id the console never handed out gets nothing but `sign_in_required`; an auditor's
// action, with a valid CSRF token and the console's origin, is refused `role_required`; an
// operator's action from another origin, without an origin or with another token is refused
// `csrf_rejected`; and the tenant is left as it was. The real console, development IdP and Redis.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

const TENANT = 'acme';
const READS = [
  '/api/me',
  '/api/tenants',
  '/api/metrics',
  `/api/tenants/${TENANT}`,
  `/api/tenants/${TENANT}/evidence`,
  `/api/tenants/${TENANT}/audit`,
  `/api/tenants/${TENANT}/audit.jsonl`,
];
const ACTIONS = ['suspend', 'resume', 'recycle', 'verify'].map((a) => `/api/tenants/${TENANT}/actions/${a}`);

let running: ConsoleAlone;
let redis: Redis;
let registry: TenantRegistry;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-route-access',
    users: [
      { id: 'olivia', roles: ['operator'] },
      { id: 'aldo', roles: ['auditor'] },
    ],
  });
  redis = new Redis(running.ns.installation.redis);
  registry = new TenantRegistry({ redis, prefix: running.ns.installation.registryPrefix });
  await registry.create({ id: TENANT, plan: planByName('small'), isolation: 'runc' });
});

afterAll(async () => {
  redis?.disconnect();
  await running?.close();
});

async function send(
  path: string,
  options: { cookie?: string; post?: boolean; origin?: string; csrf?: string } = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.cookie) headers['cookie'] = options.cookie;
  if (options.origin) headers['origin'] = options.origin;
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  const res = await fetch(`${running.origin}${path}`, {
    method: options.post ? 'POST' : 'GET',
    headers,
    ...(options.post ? { body: JSON.stringify({ reason: 'trying' }) } : {}),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

async function signedIn(login: string): Promise<{ cookie: string; csrf: string }> {
  const cookie = (await signInByFetch(running.origin, login)).split(';')[0]!;
  const me = await send('/api/me', { cookie });
  return { cookie, csrf: String(me.body['csrf']) };
}

const signInRequired = { status: 401, body: { error: 'sign_in_required' } };

describe("the console's routes", () => {
  it('give a browser without a session, or with an id never handed out, nothing', async () => {
    for (const cookie of [undefined, `bulkhead_console=${'A'.repeat(43)}`, 'bulkhead_console=']) {
      for (const path of READS) {
        const answer = await send(path, { ...(cookie ? { cookie } : {}) });
        expect(answer).toMatchObject(signInRequired);
        expect(Object.keys(answer.body).sort()).toEqual(['error', 'message']);
      }
      for (const path of [...ACTIONS, '/auth/logout'])
        expect(
          await send(path, { ...(cookie ? { cookie } : {}), post: true, origin: running.origin }),
        ).toMatchObject(signInRequired);
    }
  });

  it("refuse an auditor's every action, with a valid CSRF token and origin", async () => {
    const aldo = await signedIn('aldo');
    // Reading is theirs: the routes that ask no supervisor (none runs here) answer.
    for (const path of READS.filter((p) => !/^\/api\/tenants(\/acme)?$/.test(p)))
      expect((await send(path, { cookie: aldo.cookie })).status).toBe(200);
    for (const path of ACTIONS)
      expect(await send(path, { ...aldo, post: true, origin: running.origin })).toMatchObject({
        status: 403,
        body: { error: 'role_required' },
      });
    expect(await registry.get(TENANT)).toMatchObject({ status: 'active', generation: 1 });
  });

  it("refuse an operator's action from another origin, without one, or with another token", async () => {
    const olivia = await signedIn('olivia');
    const tries = [
      { origin: 'http://evil.example', csrf: olivia.csrf },
      { csrf: olivia.csrf },
      { origin: running.origin },
      { origin: running.origin, csrf: `${olivia.csrf.slice(0, -1)}x` },
      { origin: running.origin, csrf: (await signedIn('olivia')).csrf },
    ];
    for (const attempt of tries)
      for (const path of [ACTIONS[0]!, '/auth/logout'])
        expect(await send(path, { cookie: olivia.cookie, post: true, ...attempt })).toMatchObject({
          status: 403,
          body: { error: 'csrf_rejected' },
        });
    expect(await registry.get(TENANT)).toMatchObject({ status: 'active', generation: 1 });
    expect((await send('/api/me', { cookie: olivia.cookie })).status).toBe(200);
  });
});
