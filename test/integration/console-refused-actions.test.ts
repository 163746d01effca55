// The `deny` entries an auditor's refused actions append to a tenant's audit trail
// (console/refused-actions.ts, console/api-routes.ts): every refusal is answered role_required, but
// only the first of each auditor, tenant and action a minute is on record, whichever console process
// answers it, so an auditor looping on POSTs spread over consoles cannot grow a tenant's trail
// without bound. Two real consoles on one Redis, behind one development IdP.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { REFUSED_ACTION_INTERVAL_MS, RefusedActionBound } from '../../console/refused-actions.ts';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';
import { until } from '../support/until.ts';

let running: ConsoleAlone;
let redis: Redis;
let audit: AuditTrail;
/** The two consoles' origins. */
let origins: string[];

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-refused',
    users: ['aldo', 'alice'].map((id) => ({ id, roles: ['auditor'] })),
  });
  origins = [running.origin, (await running.another()).origin];
  redis = new Redis(running.ns.installation.redis);
  const prefix = running.ns.installation.registryPrefix;
  const registry = new TenantRegistry({ redis, prefix });
  for (const id of ['acme', 'globex'])
    await registry.create({ id, plan: planByName('small'), isolation: 'runc' });
  audit = new AuditTrail({ redis, prefix });
});

afterAll(async () => {
  redis?.disconnect();
  await running?.close();
});

/** `login` signed in at each console: a POST of an action at console `n` (0 or 1), its error code. */
async function auditorAtBoth(
  login: string,
): Promise<(n: number, tenant: string, action: string) => Promise<string>> {
  const sessions = await Promise.all(
    origins.map(async (origin) => {
      const cookie = (await signInByFetch(origin, login)).split(';')[0]!;
      const me = (await (await fetch(`${origin}/api/me`, { headers: { cookie } })).json()) as {
        csrf: string;
      };
      return { origin, cookie, csrf: me.csrf };
    }),
  );
  return async (n, tenant, action) => {
    const { origin, cookie, csrf } = sessions[n]!;
    const res = await fetch(`${origin}/api/tenants/${tenant}/actions/${action}`, {
      method: 'POST',
      headers: { cookie, origin, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'looping' }),
    });
    expect(res.status).toBe(403);
    return ((await res.json()) as { error: string }).error;
  };
}

const denies = async (tenant: string): Promise<string[][]> =>
  (await audit.entries(tenant)).filter((e) => e.decision === 'deny').map((e) => [e.user ?? '', e.tool]);

describe("an auditor's refused actions, over two consoles", () => {
  it('are each refused, and on record once per auditor, tenant and action, whichever console answered', async () => {
    const aldo = await auditorAtBoth('aldo');
    for (let i = 0; i < 100; i++) expect(await aldo(i % 2, 'acme', 'suspend')).toBe('role_required');
    expect(await denies('acme')).toEqual([['console:aldo', 'operator/suspend']]);
    // Another action, another tenant, another auditor: each its own first refusal.
    expect(await aldo(1, 'acme', 'recycle')).toBe('role_required');
    expect(await aldo(0, 'globex', 'suspend')).toBe('role_required');
    const alice = await auditorAtBoth('alice');
    expect(await alice(1, 'acme', 'suspend')).toBe('role_required');
    expect(await alice(0, 'acme', 'suspend')).toBe('role_required');
    expect(await denies('acme')).toEqual([
      ['console:aldo', 'operator/suspend'],
      ['console:aldo', 'operator/recycle'],
      ['console:alice', 'operator/suspend'],
    ]);
    expect(await denies('globex')).toEqual([['console:aldo', 'operator/suspend']]);
  });

  it("keeps its mark in the installation's keys, for one interval at most", async () => {
    const bound = new RefusedActionBound({ redis, prefix: running.ns.installation.registryPrefix });
    const key = bound.key({ actor: 'console:aldo', tenant: 'acme', action: 'suspend' });
    expect(key.startsWith(`${running.ns.installation.registryPrefix}:`)).toBe(true);
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(REFUSED_ACTION_INTERVAL_MS);
  });

  it('records the next refusal once the interval is over', async () => {
    const bound = new RefusedActionBound({
      redis,
      prefix: running.ns.installation.registryPrefix,
      intervalMs: 100,
    });
    const refusal = { actor: 'console:olga', tenant: 'acme', action: 'verify' };
    expect(await bound.admit(refusal)).toBe(true);
    expect(await bound.admit(refusal)).toBe(false);
    await until(() => bound.admit(refusal), 'the refusal to be admitted again', 50);
  });
});
