// `secret` on real Redis: the value is stored by the script that writes the record's new
// generation, so a set refused with generation_conflict (another change landed between its read and
// its write) leaves the value that was there, and a set whose tenant was offboarded in between
// stores nothing.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBulkheadError } from '../../kernel/errors/bulkhead-error.ts';
import { TenantRegistry } from '../../kernel/registry/tenant-registry.ts';
import { SecretStore } from '../../kernel/secrets/secret-store.ts';
import { planByName, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import { setSecret } from '../../tenants/control-plane/secrets.ts';
import { testNamespace, type TestNamespace } from '../support/namespace.ts';

let ns: TestNamespace;
let redis: Redis;
let registry: TenantRegistry;
let secrets: SecretStore;

beforeAll(async () => {
  ns = await testNamespace('secret');
  redis = new Redis(ns.installation.redis);
  const prefix = ns.installation.registryPrefix;
  registry = new TenantRegistry({ redis, prefix });
  secrets = new SecretStore({ redis, prefix, key: randomBytes(32) });
});

afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

/** The control plane of `secret`, whose record read is followed at once by `meanwhile`. */
function racedBy(meanwhile: (read: TenantRecord) => Promise<void>) {
  const raced = Object.assign(Object.create(registry) as TenantRegistry, {
    require: async (id: string) => {
      const read = await registry.require(id);
      await meanwhile(read);
      return read;
    },
  });
  return { registry: raced, secrets, actor: 'test:secret' };
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error,
  );
}

describe('secret', () => {
  it('keeps the earlier value when another change lands between its read and its write', async () => {
    await registry.create({ id: 'sierra', plan: planByName('small'), isolation: 'runc' });
    await setSecret({ registry, secrets, actor: 'test:secret' }, 'sierra', 'CRM_TOKEN', 'first');
    const other = racedBy(async (read) => {
      await registry.update('sierra', {
        expectedGeneration: read.generation,
        changes: { displayName: 'Sierra AG' },
        author: { actor: 'other-operator' },
      });
    });
    const refused = await failure(setSecret(other, 'sierra', 'CRM_TOKEN', 'second'));
    expect(isBulkheadError(refused, 'generation_conflict')).toBe(true);
    expect(await secrets.get('sierra', 'CRM_TOKEN')).toBe('first');
    // A name the record never referenced is not stored either.
    const unreferenced = await failure(setSecret(other, 'sierra', 'NEW_TOKEN', 'never'));
    expect(isBulkheadError(unreferenced, 'generation_conflict')).toBe(true);
    expect(await secrets.names('sierra')).toEqual(['CRM_TOKEN']);
    expect((await registry.require('sierra')).secrets.map((s) => s.name)).toEqual(['CRM_TOKEN']);
  });

  it('stores nothing when the tenant is offboarded between its read and its write', async () => {
    await registry.create({ id: 'tango', plan: planByName('small'), isolation: 'runc' });
    const offboarding = racedBy(async () => {
      await secrets.destroyAll('tango');
      await registry.delete('tango', { actor: 'test', reason: 'offboard' });
    });
    const refused = await failure(setSecret(offboarding, 'tango', 'CRM_TOKEN', 'value-of-a-gone-tenant'));
    expect(isBulkheadError(refused, 'tenant_not_found')).toBe(true);
    expect(await secrets.names('tango')).toEqual([]);
  });
});
