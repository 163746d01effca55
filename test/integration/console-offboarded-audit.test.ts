// An offboarded tenant's audit trail, as the console's two reads of a trail answer for it: the view
// (/api/tenants/<id>/audit) and the export (/audit.jsonl) agree, and both refuse tenant_not_found
// once the record is gone, saying where the trail is kept. Before, the export refused while the view
// answered 200 with a chain "intact" over whatever Redis still held under the id: with sealing, only
// the entries appended after the trail was ended (the segments were moved aside); without, the
// whole trail under its expiry, bound to no tenant of the id. The real console, development IdP and
// Redis, the supervisor's sealer; the record's delete, the trail's expiry and the sealer's offboard
// are the steps offboardTenant takes on them (tenants/control-plane/offboard.ts; its supervisor's
// purge of the container and volume has nothing to do with the trail).
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../kernel/audit/audit-trail.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { planByName, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { AuditSealer } from '../../supervisor/audit/audit-sealer.ts';
import { callEvent } from '../support/audit-harness.ts';
import { signInByFetch, startConsoleAlone, type ConsoleAlone } from '../support/console-alone.ts';

let auditDir: string;
let privateKey: KeyObject;
let running: ConsoleAlone;
let redis: Redis;
let registry: TenantRegistry;
let audit: AuditTrail;
let cookie: string;

beforeAll(async () => {
  auditDir = await mkdtemp(join(tmpdir(), 'bulkhead-console-offboarded-'));
  const keys = generateKeyPairSync('ed25519');
  privateKey = keys.privateKey;
  const publicKeyFile = join(auditDir, 'audit-signing.pub');
  await writeFile(publicKeyFile, keys.publicKey.export({ type: 'spki', format: 'pem' }));
  running = await startConsoleAlone({
    name: 'console-offboarded',
    users: [{ id: 'aldo', roles: ['auditor'] }],
    audit: { dir: auditDir, publicKeyFile },
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
  if (auditDir) await rm(auditDir, { recursive: true, force: true });
});

/** The view's or the export's answer for `tenant`: its status, and the error when refused. */
async function read(
  tenant: string,
  path: 'audit' | 'audit.jsonl',
): Promise<{ status: number; error?: string; message?: string }> {
  const res = await fetch(`${running.origin}/api/tenants/${tenant}/${path}`, { headers: { cookie } });
  if (res.ok) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const body = (await res.json()) as { error: string; message: string };
  return { status: res.status, error: body.error, message: body.message };
}

/** A tenant onboarded with three calls on its trail. */
async function withTrail(tenant: string): Promise<TenantRecord> {
  const record = await registry.create({ id: tenant, plan: planByName('small'), isolation: 'runc' });
  for (const tool of ['records_read', 'records_write', 'records_read'])
    await audit.append(callEvent(tenant, tool));
  expect(await read(tenant, 'audit')).toEqual({ status: 200 });
  expect(await read(tenant, 'audit.jsonl')).toEqual({ status: 200 });
  return record;
}

/** What offboarding does to the record and to the trail in Redis, after the sealer's part. */
async function offboarded(record: TenantRecord): Promise<void> {
  await registry.delete(
    record.id,
    { actor: 'test', reason: 'offboard' },
    { expectedGeneration: record.generation, expectedUid: record.uid },
  );
  await audit.expireAfter(record.id, record.retention.auditDays);
}

/** The view and the export of an offboarded tenant: the same refusal, whose message it answers. */
async function refusedAlike(tenant: string): Promise<string> {
  const view = await read(tenant, 'audit');
  expect(view).toEqual(await read(tenant, 'audit.jsonl'));
  expect(view).toMatchObject({ status: 404, error: 'tenant_not_found' });
  expect(view.message).toContain(`no tenant "${tenant}"`);
  expect(view.message).toContain("an offboarded tenant's is kept under its retention");
  return view.message!;
}

describe("an offboarded tenant's audit trail", () => {
  it('is refused alike by the view and the export when Redis still holds it (nothing sealed)', async () => {
    const record = await withTrail('acme');
    await offboarded(record);
    // The trail is still in Redis, under its retention: what the view used to show as intact.
    expect(await audit.entries('acme')).toHaveLength(3);
    await refusedAlike('acme');
  }, 30_000);

  it('is refused alike when sealed, naming the directory offboarding moved its segments to', async () => {
    const record = await withTrail('globex');
    const sealer = new AuditSealer({
      trail: audit,
      tenants: registry,
      dir: auditDir,
      privateKey,
      maxEntries: 100,
      logger: pino({ level: 'silent' }),
    });
    expect(await sealer.seal('globex')).toMatchObject({ segments: 1 });
    const moved = await sealer.offboard(record);
    await offboarded(record);
    // Before: the view read the id's directory, moved away, and Redis, emptied: an intact trail of none.
    const message = await refusedAlike('globex');
    expect(message).toContain(`its sealed segments are in ${moved!.slice(auditDir.length + 1)}`);
  }, 30_000);
});
