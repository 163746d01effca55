import { TenantRecordSchema, type TenantRecord } from '../../kernel/tenant/tenant-spec.ts';
import type { Principal } from '../../router/identity/principal.ts';

/** A valid tenant record for tests; defaults filled by the schema itself. */
export function tenantRecord(id: string, overrides: Partial<TenantRecord> = {}): TenantRecord {
  return TenantRecordSchema.parse({
    id,
    displayName: id,
    uid: 100_100,
    plan: { name: 'small', memoryMb: 128, cpus: 0.5, pids: 64, tmpMb: 16 },
    isolation: 'runc',
    status: 'active',
    createdAt: new Date().toISOString(),
    generation: 1,
    ...overrides,
  });
}

/**
 * The principal of an agent acting alone (no user) in `tenant`, as the router derives it from a
 * verified token; the fields a test cares about in `overrides`.
 */
export function agentPrincipal(tenant: string, overrides: Partial<Principal> = {}): Principal {
  return {
    tenant,
    user: null,
    agent: 'agent-1',
    actors: [],
    scopes: [],
    roles: [],
    issuer: 'test',
    tokenId: undefined,
    expiresAt: 0,
    ...overrides,
  };
}
