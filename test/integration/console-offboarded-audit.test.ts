// An offboarded tenant's audit trail, as the console's two reads of a trail answer for it: the view
// (/api/tenants/<id>/audit) and the export (/audit.jsonl) agree, and both refuse tenant_not_found
// once the record is gone, saying where the trail is kept. Before, the export refused while the view
// answered 200 with a chain "intact" over whatever Redis still held under the id: with sealing, only
// the entries appended after the trail was ended (the segments were moved aside); without, the
// whole trail under its expiry, bound to no tenant of the id. The real console, development IdP and
// Redis; the record's delete and the trail's expiry are the two steps offboardTenant takes on them
// (tenants/control-plane/offboard.ts; its supervisor's purge has nothing to do with the trail here).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName } from '../../kernel/tenant/tenant-spec.ts';
import { callEvent } from '../support/audit-harness.ts';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

const TENANT = 'acme';

let running: ConsoleAlone;
let redis: Redis;
let registry: TenantRegistry;
let audit: AuditTrail;
let cookie: string;

beforeAll(async () => {
  running = await startConsoleAlone({
    name: 'console-offboarded',
    users: [{ id: 'aldo', roles: ['auditor'] }],
  });
  redis = new Redis(running.ns.installation.redis);
  const prefix = running.ns.installation.registryPrefix;
  registry = new TenantRegistry({ redis, prefix });
  audit = new AuditTrail({ redis, prefix });
  cookie = (await signInByFetch(running.origin, 'aldo')).split(';')[0]!;
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await running?.close();
});

async function read(path: string): Promise<{ status: number; error?: string; message?: string }> {
  const res = await fetch(`${running.origin}/api/tenants/${TENANT}/${path}`, { headers: { cookie } });
  if (res.ok) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const body = (await res.json()) as { error: string; message: string };
  return { status: res.status, error: body.error, message: body.message };
}

describe("an offboarded tenant's audit trail", () => {
  it('is refused alike by the view and the export, which say where it is kept', async () => {
    const record = await registry.create({ id: TENANT, plan: planByName('small'), isolation: 'runc' });
    for (const tool of ['records_read', 'records_write', 'records_read'])
      await audit.append(callEvent(TENANT, tool));
    expect(await read('audit')).toEqual({ status: 200 });
    expect(await read('audit.jsonl')).toEqual({ status: 200 });

    await registry.delete(
      TENANT,
      { actor: 'test', reason: 'offboard' },
      { expectedGeneration: record.generation, expectedUid: record.uid },
    );
    await audit.expireAfter(TENANT, record.retention.auditDays);
    // The trail is still in Redis, under its retention: what the view used to show as intact.
    expect(await audit.entries(TENANT)).toHaveLength(3);

    const view = await read('audit');
    const exported = await read('audit.jsonl');
    expect(view).toEqual(exported);
    expect(view).toMatchObject({ status: 404, error: 'tenant_not_found' });
    expect(view.message).toContain(`no tenant "${TENANT}"`);
    expect(view.message).toContain("an offboarded tenant's is kept under its retention");
  }, 30_000);
});
